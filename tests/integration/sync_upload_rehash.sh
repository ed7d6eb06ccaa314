#!/usr/bin/env bash
# An upload's commit must not re-hash a declared size nobody sent, nor go
# on re-hashing for a peer that has gone:
# - a PUT that ends (END) before its size's bytes came is refused at once:
#   a thin PUT_BEGIN of 1 TiB holding no data followed by END (152 bytes)
#   made the commit hash 1 TiB of zeros, ~12 minutes of a core in the
#   connection's thread, before it answered BADSUM;
# - an UPDATE's commit (which re-hashes the whole new copy, holes too)
#   stops when its peer hangs up, and when shadowd is stopped: one of
#   1 TiB whose client had left held its --max-conns slot and kept SIGTERM
#   waiting for the whole re-hash;
# - a delta is applied only for a peer still there: a delta of ~270 KB
#   (COPY commands of a 64 MiB basis, again and again) expands to 1000 GiB;
#   its peer gone, shadowd went on writing and hashing it for minutes (a
#   core; SIGTERM waited 35 s and more).
# Usage: sync_upload_rehash.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir upload_rehash)
it_ca "$CTL" "$T/ca" server client
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0 --max-conns 2 \
  --max-copy-size $((2 << 20)) # 2 TiB: its 1 TiB uploads are taken
PORT=$IT_SD_PORT PID=$IT_SD_PID
CLIA=(--cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt")
ID=0123456789abcdef0123456789abcdef

# peer.py MODE: raw frames over TLS with the client certificate (it_peer).
#   shortput: thin PUT_BEGIN (size 1 TiB, data 0) then END with a made-up
#     digest; prints "type=T status=N secs=S" of the END answer, or "none"
#     after 8 s.
#   update: UPDATE_BEGIN (base 1 -> version 2, size 1 TiB), one RANGE of a
#     byte, END with a made-up digest; closes at once without the answer.
#   updatewait: the same to version 3, then waits up to 30 s for the answer.
#   bomb: a thin PUT of 64 MiB of zeros (id 000102...0f, version 1), then a
#     DELTA_BEGIN to version 2 of 1000 GiB: ~270 KB of SFDL stream (no
#     trailer: the output is made before it is checked) holding a librsync
#     delta of 16000 COPY_N8_N8 (0x54) commands of the whole basis; closes
#     once it is sent.
cat >"$T/peer.py" <<'PY'
import hashlib, socket, struct, sys, time
from it_peer import connect, frame, recv_header
mode, port, certs, idhex = sys.argv[1:5]
s = connect(port, certs)
fid = bytes.fromhex(idhex)
TIB = 1 << 40
def update(ver):
    s.sendall(frame(4, fid + struct.pack(">QQQ", 1, ver, TIB) + b"\0" * 32) +
              frame(7, struct.pack(">Q", 0) + b"x") + frame(8, b"\x5a" * 32))
if mode == "shortput":
    s.sendall(frame(3, fid + struct.pack(">QQ", 1, TIB) + b"\0" * 32 + struct.pack(">Q", 0)) +
              frame(8, b"\x5a" * 32))
    s.settimeout(8)
    t0 = time.time()
    try:
        typ, st = recv_header(s)
    except socket.timeout:
        print("none"); sys.exit(0)
    print("type=%d status=%d secs=%.2f" % (typ, st, time.time() - t0))
elif mode == "update":
    update(2)
    time.sleep(0.3)
    s.close()
elif mode == "updatewait":
    update(3)
    s.settimeout(30)
    try:
        s.recv(1)
    except Exception:
        pass
else:
    fid = bytes(range(16))
    B, N = 64 << 20, 16000
    s.sendall(frame(3, fid + struct.pack(">QQ", 1, B) + hashlib.sha256(bytes(B)).digest() +
                    struct.pack(">Q", 0)) + frame(17, struct.pack(">Q", B)) + frame(8, b""))
    assert recv_header(s)[1] == 0, "basis refused"
    rs = struct.pack(">I", 0x72730236) + (b"\x54" + struct.pack(">QQ", 0, B)) * N + b"\0"
    hdr = struct.pack("<QQII", B, B * N, 0, 0)
    stream = (b"SFDL" + struct.pack("<HH", 1, len(hdr)) + hdr + b"\1" +
              struct.pack("<I", len(rs)) + rs)
    s.sendall(frame(5, fid + struct.pack(">QQQ", 1, 2, B * N) + b"\x11" * 32))
    for i in range(0, len(stream), 1 << 20):
        s.sendall(frame(6, stream[i:i + (1 << 20)]))
    s.close()
PY
peer() { python3 "$T/peer.py" "$1" "$PORT" "$T/ca" "$ID"; }

# 1. A short PUT: answered at once (BADSUM, 7), nothing re-hashed.
out=$(peer shortput) || it_fail "shortput peer: $out"
echo "short PUT: $out"
[[ $out == "type=8 status=7 "* ]] ||
  it_fail "a PUT of 1 TiB ended with no byte sent was not refused within 8 s: $out"
ls "$T/store" | grep -q '^tmp\.' && it_fail "temporary file left: $(ls "$T/store")"

# 2. An UPDATE of 1 TiB whose peer leaves during the commit: its thread
#    stops, the slot frees, and SIGTERM is prompt.
head -c 4096 /dev/urandom >"$T/base"
"$CLI" "${CLIA[@]}" put "127.0.0.1:$PORT" "$ID" 1 "$T/base" >/dev/null 2>&1 || it_fail "base put"
peer update || it_fail "update peer"
for _ in $(seq 50); do
  grep -q "gone (or the server stopping) during the commit" "$T/sd.log" && break
  sleep 0.1
done
grep -q "gone (or the server stopping) during the commit" "$T/sd.log" ||
  it_fail "the commit of an UPDATE whose peer left went on: $(tail -5 "$T/sd.log")"
# both slots must serve again (the re-hash held one)
for i in 1 2; do "$CLI" "${CLIA[@]}" hold "127.0.0.1:$PORT" 1500 >/dev/null 2>&1 & eval "h$i=\$!"; done
wait "$h1" || it_fail "a connection was refused after the UPDATE's peer left (slot still held?)"
wait "$h2" || it_fail "a connection was refused after the UPDATE's peer left (slot still held?)"

# 2b. A delta bomb whose peer leaves once it is sent: the patch stops, the
#    temporary file goes, the slots serve again.
peer bomb || it_fail "delta bomb peer"
it_log_has "$T/sd.log" "gone (or the server stopping) while a delta was applied" ||
  it_fail "the delta of a peer that left was still applied 10 s on: $(ls -l "$T/store" | grep tmp)"
tmp_left() { ls "$T/store" | grep -q '^tmp\.'; }
IT_WAIT_SHOW='ls -l "$T/store"' it_wait_for "temporary file of the delta left" 5 eval '! tmp_left'
for i in 1 2; do "$CLI" "${CLIA[@]}" hold "127.0.0.1:$PORT" 500 >/dev/null 2>&1 & eval "h$i=\$!"; done
wait "$h1" && wait "$h2" || it_fail "a connection was refused after the delta's peer left"

# 3. The same UPDATE with its peer waiting; SIGTERM ends it promptly.
peer updatewait &
WAITER=$!
sleep 1
kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && { kill -9 "$WAITER" 2>/dev/null; it_fail "shadowd still running 5 s after SIGTERM (a commit's re-hash)"; }
wait "$WAITER" 2>/dev/null
grep -l "Sanitizer" "$T/sd.log" && it_fail "sanitizer report: $(cat "$T/sd.log")"
echo "PASS sync_upload_rehash"
