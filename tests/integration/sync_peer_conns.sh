#!/usr/bin/env bash
# One peer cannot take every connection of a shadowd. A peer with a valid
# certificate opened 64 HEARTBEAT streams (600,000 ms apart) and filled the
# default --max-conns 64: any other mount was then refused ("too many
# connections (64)"), and 64 idle connections would have held the slots for
# the 10 min idle deadline alike. Now, once its handshake tells who it is,
# a connection whose certificate holds --max-conns-per-peer connections
# already (default 16; a mount holds up to 6) is closed, logged within the
# budget of refusals, and the other peers keep the rest.
# Usage: sync_peer_conns.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir peer_conns)
it_ca "$CTL" "$T/ca" server "client other"
as() { local n=$1; shift; "$CLI" --cert "$T/ca/$n.crt" --key "$T/ca/$n.key" --ca "$T/ca/ca.crt" "$@"; }

# peer.py N NAME: N connections as NAME, each asking HEARTBEAT every
# 600,000 ms; prints how many streams started and how many connections
# were closed instead, then holds the streams until its stdin closes.
cat >"$T/peer.py" <<'PY'
import struct, sys
from it_peer import connect, frame, recv_header
n, name, port, certs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
held, closed = [], 0
for i in range(n):
    try:
        s = connect(port, certs, name)
        s.sendall(frame(14, struct.pack(">I", 600000)))
        h = recv_header(s)
    except OSError:
        h = None
    if h is not None and h[0] == 14 and h[1] == 0:
        held.append(s)
    else:
        closed += 1
print("streams", len(held), "closed", closed, flush=True)
sys.stdin.read()
PY
hold() { # N NAME OUT
  coproc PEER { python3 "$T/peer.py" "$1" "$2" "$PORT" "$T/ca" >"$3" 2>&1; }
  IT_PIDS+=("$PEER_PID")
}

# 1. Default --max-conns (64): 64 streams of "client", 16 of them taken;
#    "other" is served.
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0
PORT=$IT_SD_PORT
hold 64 client "$T/peer1"
it_wait_for "the peer's connections were not answered" 20 grep -q streams "$T/peer1"
echo "64 HEARTBEAT streams of one certificate: $(cat "$T/peer1")"
as other --timeout 2000 ping "127.0.0.1:$PORT" 2>"$T/err" ||
  it_fail "another peer locked out by one peer's streams ($(cat "$T/peer1")): $(cat "$T/err") $(tail -3 "$T/sd.log")"
[ "$(cat "$T/peer1")" = "streams 16 closed 48" ] || it_fail "one peer's connections not bounded: $(cat "$T/peer1")"
grep -q "refused connection from 127.0.0.1:[0-9]* (client): its certificate holds 16 connections already (--max-conns-per-peer 16)" "$T/sd.log" ||
  it_fail "the refusal was not logged: $(tail -5 "$T/sd.log")"
n=$(grep -c "refused connection" "$T/sd.log")
echo "48 refusals: $n log lines"
[ "$n" -le 11 ] || it_fail "48 refusals logged $n lines"
# Its streams go on: the refusals cost the others nothing.
eval "exec ${PEER[1]}>&-"
wait "$PEER_PID"
kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null

# 2. --max-conns-per-peer 2 in --max-conns 4: the third connection of
#    "client" is refused; "other" takes the two slots left; a slot of
#    "client" frees when one of its connections ends.
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd2.log" 0 --max-conns 4 --max-conns-per-peer 2
PORT=$IT_SD_PORT
hold 3 client "$T/peer2"
it_wait_for "the peer's connections were not answered" 10 grep -q streams "$T/peer2"
[ "$(cat "$T/peer2")" = "streams 2 closed 1" ] || it_fail "--max-conns-per-peer 2: $(cat "$T/peer2")"
for k in 1 2; do
  as other hold "127.0.0.1:$PORT" 3000 >"$T/other$k" 2>/dev/null &
  IT_PIDS+=($!)
done
holding() { grep -q holding "$T/other1" && grep -q holding "$T/other2"; }
it_wait_for "the other peer's connections were not served" 5 holding
eval "exec ${PEER[1]}>&-"
wait "$PEER_PID"
as client --timeout 2000 ping "127.0.0.1:$PORT" 2>/dev/null || it_fail "client refused once its connections ended"
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c --max-conns-per-peer 1.5 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "whole number" "$T/err" || it_fail "--max-conns-per-peer 1.5: rc=$rc $(cat "$T/err")"
grep -l "Sanitizer" "$T"/sd*.log && it_fail "sanitizer report"
echo "PASS sync_peer_conns"
