#!/usr/bin/env bash
# Peers that connect and never finish a TLS handshake (no certificate
# needed: a port scanner, a stuck client, a flood) must not lock the
# cluster's mounts out of a shadowd. Each took one of --max-conns' slots
# for its whole 5 s handshake deadline, so --max-conns such peers,
# renewed every 5 s, had every mount refused ("too many connections").
# Now a connection that finds every slot taken cuts the oldest one still
# in its handshake (logged) and takes its slot; connections past their
# handshake are never cut. A flood of refusals is logged within a budget.
# Usage: sync_preauth_slots.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir preauth_slots)
it_ca "$CTL" "$T/ca" server client
cli() { "$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" "$@"; }
sockets() { find "/proc/$PID/fd" -lname 'socket:*' 2>/dev/null | wc -l; }

it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0 --max-conns 2
PID=$IT_SD_PID PORT=$IT_SD_PORT
base=$(sockets) # the listening socket

# Two silent peers take both slots (2 sockets each once accepted).
exec {s1}<>"/dev/tcp/127.0.0.1/$PORT" || it_fail "connect 1"
exec {s2}<>"/dev/tcp/127.0.0.1/$PORT" || it_fail "connect 2"
both_accepted() { [ "$(sockets)" -ge $((base + 4)) ]; }
it_wait_for "the silent peers were not accepted" 3 both_accepted
# A mount's connection is served all the same, well within their deadline.
cli --timeout 2000 ping "127.0.0.1:$PORT" 2>"$T/err" ||
  it_fail "a client was locked out by two silent peers: $(cat "$T/err") $(cat "$T/sd.log")"
echo "served past 2 silent peers: $(grep -o 'elapsed_ms=[0-9]*' "$T/err")"
grep -q "dropped connection from 127.0.0.1:[0-9]*: TLS handshake not done after [0-9]* ms, its slot given to a new connection (--max-conns 2)" "$T/sd.log" ||
  it_fail "the cut was not logged: $(cat "$T/sd.log")"
grep -q "too many connections" "$T/sd.log" && it_fail "refused while a slot could be freed: $(cat "$T/sd.log")"
exec {s1}>&- {s2}>&-

# Authenticated connections keep their slots: with 2 holding, a third is
# refused, and both holders' connections still answer at the end.
cli hold "127.0.0.1:$PORT" 2000 >"$T/hold1" 2>/dev/null &
h1=$!
cli hold "127.0.0.1:$PORT" 2000 >"$T/hold2" 2>/dev/null &
h2=$!
holding() { grep -q holding "$T/hold1" && grep -q holding "$T/hold2"; }
it_wait_for "holders did not connect" 5 holding
cli --timeout 1000 ping "127.0.0.1:$PORT" 2>/dev/null && it_fail "a connection over --max-conns was accepted"
grep -q "refused connection from .*: too many connections (2)" "$T/sd.log" || it_fail "refusal not logged: $(cat "$T/sd.log")"
# A flood of refused connections is logged within a budget (10 lines per
# 10 s for refusals and cuts together; a flood wrote ~150 lines a second).
for _ in $(seq 40); do
  exec {x}<>"/dev/tcp/127.0.0.1/$PORT" && exec {x}>&-
done
refusals() { grep -c -e "refused connection" -e "dropped connection" "$T/sd.log"; }
sleep 0.3 # the last refusals logged (or held back)
[ "$(refusals)" -le 10 ] || it_fail "a flood logged $(refusals) refusals in a few seconds"
[ "$(refusals)" -ge 3 ] || it_fail "only $(refusals) refusals logged: $(cat "$T/sd.log")"
wait "$h1" || it_fail "an authenticated connection was cut"
wait "$h2" || it_fail "an authenticated connection was cut"
it_check "ping after the holders" cli ping "127.0.0.1:$PORT" 2>/dev/null
kill -0 "$PID" || it_fail "shadowd died"
grep -l "Sanitizer" "$T/sd.log" && it_fail "sanitizer report: $(cat "$T/sd.log")"
echo "PASS sync_preauth_slots"
