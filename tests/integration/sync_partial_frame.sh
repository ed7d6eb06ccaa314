#!/usr/bin/env bash
# An authenticated peer that sends the beginning of a request and stops
# must not hold its connection (a thread and a --max-conns slot) for the
# 10-minute idle deadline between requests: once a frame has begun it must
# arrive whole within the I/O deadline (--test-io-timeout-ms here, 30 s by
# default), or the connection is closed and logged. A peer idle between
# requests stays connected meanwhile, and one that finishes its frame
# slowly but within the deadline is served.
# Usage: sync_partial_frame.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir partial_frame)
it_ca "$CTL" "$T/ca" server client
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0 --test-io-timeout-ms 1000
PORT=$IT_SD_PORT

# peer.py MODE: connects with the client certificate; MODE partial sends 3
# bytes of a frame header and waits for the server to close (prints the
# seconds it took, or "open" after 8 s); MODE idle sends nothing for 2 s
# (twice the I/O deadline) and checks the connection is still open.
cat >"$T/peer.py" <<'PY'
import socket, ssl, sys, time
from it_peer import connect
mode, port, certs = sys.argv[1:4]
s = connect(port, certs)
if mode == "partial":
    s.sendall(b"\x53\x46\x00")
    s.settimeout(8)
    t0 = time.time()
    try:
        d = s.recv(1)
    except socket.timeout:
        print("open"); sys.exit(0)
    except (ssl.SSLError, OSError):
        d = b""
    print("closed %.2f %r" % (time.time() - t0, d))
else:
    s.settimeout(2)
    try:
        d = s.recv(1)
        print("closed %r" % d)
    except socket.timeout:
        print("open")
PY
peer() { python3 "$T/peer.py" "$1" "$PORT" "$T/ca"; }

out=$(peer partial) || it_fail "partial peer: $out"
echo "partial frame: $out"
[[ $out == closed* ]] || it_fail "a half-sent request held its connection past 8 s (I/O deadline 1 s): $out"
secs=${out#closed }; secs=${secs%% *}
awk -v s="$secs" 'BEGIN { exit !(s >= 0.8 && s < 5) }' || it_fail "closed after $secs s, expected about 1 s"
grep -q "closing connection from 127.0.0.1:[0-9]* (client): a request begun and not finished within 1000 ms" "$T/sd.log" ||
  it_fail "not logged: $(cat "$T/sd.log")"

out=$(peer idle) || it_fail "idle peer: $out"
[ "$out" = open ] || it_fail "a peer idle between requests for 2 s was disconnected: $out"

"$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" ping "127.0.0.1:$PORT" 2>/dev/null ||
  it_fail "ping after the partial peer"
grep -l "Sanitizer" "$T/sd.log" && it_fail "sanitizer report: $(cat "$T/sd.log")"
echo "PASS sync_partial_frame"
