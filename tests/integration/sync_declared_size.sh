#!/usr/bin/env bash
# An upload's declared size is bounded before any work is done for it
# (--max-copy-size, by default the size of the store's filesystem): an
# authenticated peer's UPDATE_BEGIN declaring more than that, with one
# RANGE byte, made the commit re-hash the whole declared size (holes too)
# while the peer waited: ~12 minutes of a core per TiB, up to the
# protocol's 1 PiB. Such an upload (UPDATE, DELTA, thin PUT) is answered
# NOSPC at once, logged, nothing left in the store; one within the limit
# is stored. Refused uploads are logged at most 10 per 10 s: a peer whose
# uploads were refused one after another logged a line each, ~13,600 a
# second from one connection.
# Usage: sync_declared_size.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir declared_size)
it_ca "$CTL" "$T/ca" server client
mkdir -p "$T/store"
FS_SIZE=$(df -B1 --output=size "$T/store" | tail -1 | tr -d ' ')
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0
PORT=$IT_SD_PORT
CLIA=(--cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt")
ID=0123456789abcdef0123456789abcdef

# peer.py MODE SIZE: one upload over TLS with the client certificate
# (it_peer), declaring SIZE bytes, then END with a made-up digest; prints
# "status=N" of the END answer, or "none" after 8 s.
#   update: UPDATE_BEGIN base 1 -> 2, one RANGE of a byte
#   delta:  DELTA_BEGIN base 1 -> 3, one DATA frame of 4 bytes
#   thin:   thin PUT_BEGIN of version 4 holding no data, one ZEROS of 4 KiB
#   flood:  2000 PUT_BEGIN of SIZE + END in a row, prints the statuses seen
cat >"$T/peer.py" <<'PY'
import socket, struct, sys
from it_peer import connect, frame, recv_header
mode, size, port, certs, idhex = sys.argv[1:6]
size = int(size)
s = connect(port, certs)
fid = bytes.fromhex(idhex)
if mode == "update":
    req = frame(4, fid + struct.pack(">QQQ", 1, 2, size) + b"\0" * 32) + \
          frame(7, struct.pack(">Q", 0) + b"x")
elif mode == "delta":
    req = frame(5, fid + struct.pack(">QQQ", 1, 3, size) + b"\0" * 32) + \
          frame(6, b"rs\x026")
elif mode == "flood":
    seen = set()
    for i in range(2000):
        s.sendall(frame(3, fid + struct.pack(">QQ", 8, size) + b"\1" * 32) + frame(8, b""))
        h = recv_header(s)
        if h is None:
            print("closed after", i); sys.exit(1)
        seen.add(h[1])
    print("statuses", sorted(seen)); sys.exit(0)
else:
    req = frame(3, fid + struct.pack(">QQ", 4, size) + b"\0" * 32 + struct.pack(">Q", 0)) + \
          frame(17, struct.pack(">Q", 4096))
s.sendall(req + frame(8, b"\x5a" * 32))
s.settimeout(8)
try:
    h = recv_header(s)
except socket.timeout:
    h = None
print("none" if h is None else "status=%d" % h[1])
PY
peer() { python3 "$T/peer.py" "$1" "$2" "$PORT" "$T/ca" "$ID"; }

head -c 4096 /dev/urandom >"$T/base"
"$CLI" "${CLIA[@]}" put "127.0.0.1:$PORT" "$ID" 1 "$T/base" >/dev/null 2>&1 || it_fail "base put"

# 1. Each kind of upload declaring 1 MiB more than the store's filesystem
#    holds: NOSPC (5) at once, logged with the limit, nothing left behind.
BIG=$((FS_SIZE + 1048576))
for mode in update delta thin; do
  out=$(peer $mode $BIG) || it_fail "$mode peer: $out"
  echo "$mode of $BIG bytes (filesystem $FS_SIZE): $out"
  [ "$out" = status=5 ] ||
    it_fail "a $mode declaring $BIG bytes (filesystem $FS_SIZE) was not refused with NOSPC within 8 s: $out"
done
it_log_has "$T/sd.log" "UPDATE_BEGIN of a copy of $BIG bytes refused: above --max-copy-size ($FS_SIZE bytes)" ||
  it_fail "no log line for the refused UPDATE: $(tail -5 "$T/sd.log")"
ls "$T/store" | grep -q '^tmp\.' && it_fail "temporary file left: $(ls "$T/store")"
out=$("$CLI" "${CLIA[@]}" list "127.0.0.1:$PORT" 2>&1)
[ "$(grep -c "$ID" <<<"$out")" = 1 ] || it_fail "copies other than the base stored: $out"

# 2. At the limit given by --max-copy-size (MiB): a PUT of 1 MiB is stored,
#    one of 1 MiB and a byte refused (NOSPC), the connection still serving.
kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd2.log" 0 --max-copy-size 1
PORT=$IT_SD_PORT
head -c 1048576 /dev/urandom >"$T/mib"
"$CLI" "${CLIA[@]}" put "127.0.0.1:$PORT" "$ID" 5 "$T/mib" >/dev/null 2>&1 ||
  it_fail "a PUT of exactly --max-copy-size refused"
head -c 1 /dev/urandom >>"$T/mib"
err=$("$CLI" "${CLIA[@]}" put "127.0.0.1:$PORT" "$ID" 6 "$T/mib" 2>&1) &&
  it_fail "a PUT of --max-copy-size and a byte accepted"
grep -q "No space left" <<<"$err" || it_fail "the refused PUT did not say ENOSPC: $err"
"$CLI" "${CLIA[@]}" ping "127.0.0.1:$PORT" >/dev/null 2>&1 || it_fail "shadowd not serving after a refusal"
"$SHADOWD" --store "$T/store" --listen 127.0.0.1:0 --cert x --key x --ca x --max-copy-size 1e12 \
  2>"$T/opt.err" && it_fail "--max-copy-size above 1 PiB taken"
grep -q "invalid value '1e12' for --max-copy-size" "$T/opt.err" || it_fail "bad option: $(cat "$T/opt.err")"

# 3. 2000 uploads refused in a row: each answered NOSPC, at most 10 lines.
out=$(peer flood $((2 << 20))) || it_fail "flood peer: $out"
[ "$out" = "statuses [5]" ] || it_fail "the refused uploads were answered: $out"
n=$(grep -c "PUT_BEGIN of a copy.*refused" "$T/sd2.log")
echo "2000 refused uploads: $n log lines"
[ "$n" -le 11 ] || it_fail "2000 refused uploads logged $n lines"
grep -l "Sanitizer" "$T"/sd*.log && it_fail "sanitizer report"
echo "PASS sync_declared_size"
