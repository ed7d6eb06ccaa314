#!/usr/bin/env bash
# Benchmark: full copy of a 256 MiB file to shadowd over TLS 1.3 (mutual
# auth) on loopback, side by side with a local `cp` of the same file, in the
# same run, interleaved, best of RUNS each (the machine is shared).
# The TLS time is the wall time of the whole client process: handshake,
# SHA-256 computed while streaming, transfer, server-side verification and
# rename (the copy is valid, served, when the client gets its answer; its
# fdatasync is deferred to shadowd's background pass, see ARCHITECTURE.md
# "Durability of copies"; each copy here is deleted within the pass's delay).
# cp does no hashing, so `cp + fsync` is printed as well.
# Last line: `tls_copy: tls_copy_vs_cp=Z` = cp time / TLS time (target >= 0.5).
# Usage: tests/bench/tls_copy.sh [BUILD_DIR] [SIZE_MIB] [RUNS]
set -euo pipefail
B=${1:-build}
SIZE_MIB=${2:-256}
RUNS=${3:-5}
SHADOWD=$B/daemon/shadowd CTL=$B/tools/shadowctl CLI=$B/tests/integration/sync_cli
for x in "$SHADOWD" "$CTL" "$CLI"; do [ -x "$x" ] || { echo "missing $x (build first)" >&2; exit 1; }; done
W=$(mktemp -d /tmp/net-bench-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

"$CTL" ca init "$W/ca" >/dev/null
"$CTL" ca issue "$W/ca" server --ip 127.0.0.1 >/dev/null
"$CTL" ca issue "$W/ca" client >/dev/null
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$W/src"
cat "$W/src" >/dev/null # warm the page cache for every contender
"$SHADOWD" -f --store "$W/store" --listen 127.0.0.1:0 --cert "$W/ca/server.crt" \
  --key "$W/ca/server.key" --ca "$W/ca/ca.crt" 2>"$W/log" &
PID=$!
for _ in $(seq 100); do grep -q listening "$W/log" && break; sleep 0.05; done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/log")
cli() { "$CLI" --cert "$W/ca/client.crt" --key "$W/ca/client.key" --ca "$W/ca/ca.crt" --timeout 60000 "$@"; }
now() { date +%s%N; }
min() { if [ "$1" = 0 ] || [ "$2" -lt "$1" ]; then echo "$2"; else echo "$1"; fi; }
best_cp=0 best_cps=0 best_tls=0 best_known=0
# The origin knows each version's SHA-256 (computed once per version, whatever
# the number of copies); this variant sends it up front instead of hashing
# while streaming.
SHA=$(sha256sum "$W/src" | cut -d' ' -f1)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  rm -f "$W/cp.dst"; sync
  t0=$(now); cp "$W/src" "$W/cp.dst"; t1=$(now)
  cp_ns=$((t1 - t0)); rm -f "$W/cp.dst"; sync
  t0=$(now); cp "$W/src" "$W/cp.dst"; sync "$W/cp.dst"; t1=$(now)
  cps_ns=$((t1 - t0)); rm -f "$W/cp.dst"; sync
  t0=$(now); cli put 127.0.0.1:$PORT 00000000000000000000000000000001 "$run" "$W/src" 2>/dev/null; t1=$(now)
  tls_ns=$((t1 - t0))
  cli delete 127.0.0.1:$PORT 00000000000000000000000000000001 "$run" 2>/dev/null
  t0=$(now); cli put 127.0.0.1:$PORT 00000000000000000000000000000001 "$run" "$W/src" "$SHA" 2>/dev/null; t1=$(now)
  known_ns=$((t1 - t0))
  cli delete 127.0.0.1:$PORT 00000000000000000000000000000001 "$run" 2>/dev/null
  awk -v r="$run" -v c="$cp_ns" -v s="$cps_ns" -v t="$tls_ns" -v k="$known_ns" -v m="$SIZE_MIB" 'BEGIN {
    mb = m * 1.048576
    printf "run %d: cp %.3f s (%.0f MB/s)  cp+fsync %.3f s (%.0f MB/s)  tls_copy %.3f s (%.0f MB/s)  tls_copy(known digest) %.3f s (%.0f MB/s)\n",
      r, c/1e9, mb/(c/1e9), s/1e9, mb/(s/1e9), t/1e9, mb/(t/1e9), k/1e9, mb/(k/1e9) }'
  best_cp=$(min $best_cp $cp_ns); best_cps=$(min $best_cps $cps_ns); best_tls=$(min $best_tls $tls_ns)
  best_known=$(min $best_known $known_ns)
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# The copy on shadowd is byte-identical (checked once, outside the timing).
cli put 127.0.0.1:$PORT 00000000000000000000000000000002 1 "$W/src" 2>/dev/null
cli get 127.0.0.1:$PORT 00000000000000000000000000000002 1 "$W/back" 2>/dev/null
cmp -s "$W/src" "$W/back" || { echo "tls_copy: copy differs" >&2; exit 1; }
awk -v n="$RUNS" -v c="$best_cp" -v s="$best_cps" -v t="$best_tls" -v k="$best_known" 'BEGIN {
  printf "tls_copy: best of %d: cp %.3f s, cp+fsync %.3f s, tls_copy %.3f s, tls_copy(known digest) %.3f s\n", n, c/1e9, s/1e9, t/1e9, k/1e9
  printf "tls_copy: tls_copy_vs_cp_fsync=%.2f known_digest_vs_cp=%.2f\n", s/t, c/k
  printf "tls_copy: tls_copy_vs_cp=%.2f\n", c/t }'
