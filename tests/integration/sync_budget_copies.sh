#!/usr/bin/env bash
# Every copy costs the space budget something, an empty one too: with
# --space-budget 1 (MiB) an authenticated peer stored 71,297 empty copies of
# distinct ids (only the 1,024 versions per id bounded one id, the number of
# ids nothing but the filesystem's inodes) and STATS said 0 bytes used. Now
# each copy counts 4 KiB more than its data: 256 empty copies fit in 1 MiB,
# the next is refused with NOSPC, and STATS (shadowctl host status) shows
# the 256 copies using the whole MiB.
# Usage: sync_budget_copies.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2
T=$(it_tmpdir budget_copies)
it_ca "$CTL" "$T/ca" server client
mkdir -p "$T/store"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0 --space-budget 1
PORT=$IT_SD_PORT

# peer.py N: N empty PUTs of distinct ids on one connection (PUT_BEGIN of
# size 0 with the SHA-256 of nothing, END); prints how many were stored
# before the first refusal and that refusal's status.
cat >"$T/peer.py" <<'PY'
import hashlib, struct, sys
from it_peer import connect, frame, recv_header
n, port, certs = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = connect(port, certs)
empty = hashlib.sha256(b"").digest()
for i in range(n):
    fid = struct.pack(">QQ", 0x5eed, i)
    s.sendall(frame(3, fid + struct.pack(">QQ", 1, 0) + empty, req_id=i + 1) +
              frame(8, b"", req_id=i + 1))
    h = recv_header(s)
    if h is None:
        print("closed after", i); sys.exit(1)
    if h[1] != 0:
        print("stored", i, "then status", h[1]); sys.exit(0)
print("stored", n)
PY
out=$(python3 "$T/peer.py" 400 "$PORT" "$T/ca") || it_fail "peer: $out"
echo "400 empty PUTs under a 1 MiB budget: $out"
[ "$out" = "stored 256 then status 5" ] ||
  it_fail "empty copies not bounded by the budget (want 256 stored, then NOSPC): $out"
st=$("$CTL" host status "127.0.0.1:$PORT" --json --cert "$T/ca/client.crt" --key "$T/ca/client.key" \
  --ca "$T/ca/ca.crt" 2>&1) || it_fail "host status: $st"
grep -q '"used_bytes":1048576,"copies":256,"budget_bytes":1048576' <<<"$st" ||
  it_fail "STATS does not count the copies' overhead: $st"
n=$(ls "$T/store" | grep -vc '^tmp\.')
[ "$n" -le 257 ] || it_fail "$n files in the store"
grep -l "Sanitizer" "$T"/sd*.log && it_fail "sanitizer report"
echo "PASS sync_budget_copies"
