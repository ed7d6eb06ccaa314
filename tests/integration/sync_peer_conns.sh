#!/usr/bin/env bash
# One peer cannot take every connection of a shadowd. A peer with a valid
# certificate opened 64 HEARTBEAT streams (600,000 ms apart) and filled the
# default --max-conns 64: any other mount was then refused ("too many
# connections (64)"), and 64 idle connections would have held the slots for
# the 10 min idle deadline alike. Now, once its handshake tells who it is,
# a connection whose certificate holds --max-conns-per-peer connections
# already (default 16; a mount holds up to 6) is closed, logged within the
# budget of refusals, and the other peers keep the rest. When every slot
# is taken, a newcomer whose peer holds fewer than the largest share less
# one takes the slot of that peer's connection idle longest.
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
# A shadowd (FLAGS) and N streams of "client" held by peer.py, which must
# say WANT; ended by unheld.
held() { # LOG N WANT FLAGS...
  local log=$1 n=$2 want=$3
  shift 3
  it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$log" 0 "$@"
  PORT=$IT_SD_PORT
  coproc PEER { python3 "$T/peer.py" "$n" client "$PORT" "$T/ca" >"$log.peer" 2>&1; }
  IT_PIDS+=("$PEER_PID")
  it_wait_for "the peer's connections were not answered" 20 grep -q streams "$log.peer"
  echo "$n HEARTBEAT streams of one certificate (${*:-defaults}): $(cat "$log.peer")"
  [ "$(cat "$log.peer")" = "$want" ] || it_fail "$n streams of one certificate (${*:-defaults}): $(cat "$log.peer")"
}
unheld() {
  eval "exec ${PEER[1]}>&-"
  wait "$PEER_PID"
  kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
}

# 1. Default --max-conns (64): 64 streams of "client", 16 of them taken;
#    "other" is served.
held "$T/sd.log" 64 "streams 16 closed 48"
as other --timeout 2000 ping "127.0.0.1:$PORT" 2>"$T/err" ||
  it_fail "another peer locked out by one peer's streams: $(cat "$T/err") $(tail -3 "$T/sd.log")"
grep -q "refused connection from 127.0.0.1:[0-9]* (client): its certificate holds 16 connections already (--max-conns-per-peer 16)" "$T/sd.log" ||
  it_fail "the refusal was not logged: $(tail -5 "$T/sd.log")"
n=$(grep -c "refused connection" "$T/sd.log")
echo "48 refusals: $n log lines"
[ "$n" -le 11 ] || it_fail "48 refusals logged $n lines"
unheld

# 2. --max-conns-per-peer 2 in --max-conns 4: the third connection of
#    "client" is refused; "other" takes the two slots left; a slot of
#    "client" frees when one of its connections ends.
held "$T/sd2.log" 3 "streams 2 closed 1" --max-conns 4 --max-conns-per-peer 2
for k in 1 2; do
  as other hold "127.0.0.1:$PORT" 3000 >"$T/other$k" 2>/dev/null &
  IT_PIDS+=($!)
done
holding() { grep -q holding "$T/other1" && grep -q holding "$T/other2"; }
it_wait_for "the other peer's connections were not served" 5 holding
eval "exec ${PEER[1]}>&-"
wait "$PEER_PID"
as client --timeout 2000 ping "127.0.0.1:$PORT" 2>/dev/null || it_fail "client refused once its connections ended"
kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null

# 3. Every slot taken by one peer within its bound (--max-conns 4
#    --max-conns-per-peer 4, 4 HEARTBEAT streams of "client"): "other",
#    holding none, is served all the same, the stream of "client" idle
#    longest closed for it (logged); "client", holding the most, is
#    refused a fifth: shares only even out.
held "$T/sd3.log" 4 "streams 4 closed 0" --max-conns 4 --max-conns-per-peer 4
as other --timeout 2000 ping "127.0.0.1:$PORT" 2>"$T/err" ||
  it_fail "a peer holding no slot was refused while one peer held them all: $(cat "$T/err") $(tail -3 "$T/sd3.log")"
grep -q "closed a connection of client idle for [0-9]* ms: its slot given to 127.0.0.1:[0-9]* (other) (every one of --max-conns 4 taken, client holding 4 of them, the most" "$T/sd3.log" ||
  it_fail "the reclaim was not logged: $(tail -3 "$T/sd3.log")"
echo "reclaimed: $(grep -o "closed a connection of client idle for [0-9]* ms" "$T/sd3.log")"
python3 "$T/peer.py" 2 client "$PORT" "$T/ca" </dev/null >"$T/peer3b" 2>&1
[ "$(cat "$T/peer3b")" = "streams 1 closed 1" ] || it_fail "client, holding the most, got: $(cat "$T/peer3b")"
grep -q "refused connection from 127.0.0.1:[0-9]* (client): too many connections (4), its certificate holding 4, none more than 4" "$T/sd3.log" ||
  it_fail "the refusal of the peer holding the most was not logged: $(tail -3 "$T/sd3.log")"
unheld
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c --max-conns-per-peer 1.5 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "whole number" "$T/err" || it_fail "--max-conns-per-peer 1.5: rc=$rc $(cat "$T/err")"
grep -l "Sanitizer" "$T"/sd*.log && it_fail "sanitizer report"
echo "PASS sync_peer_conns"
