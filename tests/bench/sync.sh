#!/usr/bin/env bash
# Benchmark of the sync/ delta half against Debian's rsync (not a meson test).
#
# One run, side by side, interleaved, on a 256 MiB random file with
#   (a) "scat": 1% of its 4 KiB blocks rewritten in place,
#   (b) "ins":  1 MiB inserted in the middle (the application rewrites the tail),
# each timed as the whole update of the destination copy (delta computation +
# patch/apply + rename), as separate processes, REPS times; medians reported:
#   rsync          rsync -I --no-whole-file --stats SRC/f DST/f (local dirs; it
#                  forks a sender and a receiver joined by pipes)
#   rsync-pipe     the same through -e (a remote-shell command that execs the
#                  server locally: client and server over a pipe)
#   rsync-daemon   the same to an rsync daemon on 127.0.0.1 (TCP loopback)
#   lib-kept       librsync path, signature kept from the last sync
#   lib-kept+next  the same, also emitting the next signature in the delta pass
#   lib-nosig      librsync path, nothing kept (signature of the copy first)
#   known-inplace  ranged delta from the writes the mount recorded, validated
#                  through a spool then applied in place
#   known-copy     the same applied into a clone of the copy + rename
# Files live in SYNC_BENCH_DIR (default /dev/shm: tmpfs keeps the disk
# writeback of other users of this shared machine out of the timings; both
# sides see the same filesystem). Last line:
#   sync: known_bytes_vs_changed=A known_time_vs_rsync=B bytes_vs_rsync=X time_vs_rsync=Y tls_copy_vs_cp=Z
# where each ratio is the worse of the two cases. Time ratios are the median
# over the runs of (ours / rsync's) wall-clock time, each pair run back to
# back so that both see the same load (this machine is shared); the table also
# shows median and minimum wall time and median CPU time (user + sys, children
# included) of each method.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MIB=${SYNC_BENCH_MIB:-256}
REPS=${SYNC_BENCH_REPS:-5}
DIR=${SYNC_BENCH_DIR:-/dev/shm}
[ -d "$DIR" ] || DIR=/tmp

if [ ! -x "$BUILD/tools/sync-bench" ]; then
  [ -d "$BUILD" ] || meson setup "$BUILD" "$ROOT" >/dev/null
  ninja -C "$BUILD" -j2 tools/sync-bench >/dev/null
fi
BENCH=$BUILD/tools/sync-bench
command -v rsync >/dev/null || { echo "sync.sh: rsync is not installed" >&2; exit 1; }

W=$(mktemp -d "$DIR/delta-bench.XXXXXX")
DAEMON_PID=
cleanup() {
  [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/src" "$W/dst" "$W/dd"

echo "sync bench: ${MIB} MiB file, $REPS runs each, in $DIR, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
read -r _ _ scat_changed _ ins_written < <("$BENCH" gen "$W/old" "$W/scat" "$W/ins" "$MIB" 1 |
  sed 's/[a-z_]*=//g')
ins_inserted=$((1 << 20))
"$BENCH" sig "$W/old" "$W/old.sig" >/dev/null # kept from "the last sync"

# remote-shell command for rsync -e: drop the host name, run the server here
printf '#!/bin/sh\nshift\nexec "$@"\n' >"$W/rsh"
chmod +x "$W/rsh"
# rsync daemon on loopback
PORT=$((20000 + RANDOM % 20000))
cat >"$W/rsyncd.conf" <<EOF
use chroot = no
uid = root
gid = root
[dd]
path = $W/dd
read only = no
EOF
rsync --daemon --no-detach --config="$W/rsyncd.conf" --address=127.0.0.1 --port="$PORT" \
  --log-file="$W/rsyncd.log" &
DAEMON_PID=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done

# run LABEL CMD...: time one run, append "LABEL REP wall cpu" to $W/times.
run() {
  local label=$1
  shift
  if ! /usr/bin/time -f "%e %U %S" -o "$W/t" "$@" >"$W/o" 2>"$W/e"; then
    echo "sync.sh: $label failed:" >&2
    cat "$W/e" "$W/o" >&2
    exit 1
  fi
  read -r e u s <"$W/t"
  echo "$label $rep $e $(echo "$u + $s" | bc)" >>"$W/times"
}
same() { cmp -s "$1" "$2" || { echo "sync.sh: $3: copy differs from the source" >&2; exit 1; }; }
rsync_sent() { sed -n 's/^Total bytes sent: //p' "$W/o" | tr -d ','; }
ours_bytes() { sed -n 's/.* bytes=\([0-9]*\).*/\1/p' "$W/o"; }

declare -A BYTES
for rep in $(seq "$REPS"); do
  for c in scat ins; do
    cp "$W/$c" "$W/src/f"
    # the three headline methods back to back, then the others
    cp "$W/old" "$W/dst/f"; sync
    run "rsync.$c" rsync -I --no-whole-file --stats "$W/src/f" "$W/dst/f"
    BYTES[rsync.$c]=$(rsync_sent); same "$W/dst/f" "$W/$c" rsync
    cp "$W/old" "$W/copy"; sync
    run "lib-kept.$c" "$BENCH" rsync "$W/old.sig" "$W/$c" "$W/copy" "$W/copy"
    BYTES[lib-kept.$c]=$(ours_bytes); same "$W/copy" "$W/$c" lib-kept
    cp "$W/old" "$W/copy"; sync
    run "known-inplace.$c" "$BENCH" known "$W/$c.writes" "$W/$c" "$W/copy" "$W/copy" --in-place
    BYTES[known-inplace.$c]=$(ours_bytes); same "$W/copy" "$W/$c" known-inplace

    cp "$W/old" "$W/dst/f"; sync
    run "rsync-pipe.$c" rsync -I --no-whole-file --stats -e "$W/rsh" "$W/src/f" "localhost:$W/dst/f"
    BYTES[rsync-pipe.$c]=$(rsync_sent); same "$W/dst/f" "$W/$c" rsync-pipe
    cp "$W/old" "$W/dd/f"; sync
    run "rsync-daemon.$c" rsync -I --no-whole-file --stats "$W/src/f" "rsync://127.0.0.1:$PORT/dd/f"
    BYTES[rsync-daemon.$c]=$(rsync_sent); same "$W/dd/f" "$W/$c" rsync-daemon
    cp "$W/old" "$W/copy"; sync
    run "lib-kept+next.$c" "$BENCH" rsync "$W/old.sig" "$W/$c" "$W/copy" "$W/copy" --next-sig "$W/next.sig"
    BYTES[lib-kept+next.$c]=$(ours_bytes); same "$W/copy" "$W/$c" lib-kept+next
    cp "$W/old" "$W/copy"; sync
    run "lib-nosig.$c" "$BENCH" rsync - "$W/$c" "$W/copy" "$W/copy"
    BYTES[lib-nosig.$c]=$(ours_bytes); same "$W/copy" "$W/$c" lib-nosig
    cp "$W/old" "$W/copy"; sync
    run "known-copy.$c" "$BENCH" known "$W/$c.writes" "$W/$c" "$W/copy" "$W/copy"
    BYTES[known-copy.$c]=$(ours_bytes); same "$W/copy" "$W/$c" known-copy
  done
done

# stat FN COLUMN LABEL: FN = med|min over the runs (column 3 = wall, 4 = cpu)
stat() { awk -v l="$3" -v c="$2" '$1 == l { print $c }' "$W/times" | sort -g |
  awk -v fn="$1" '{ v[NR] = $1 } END { print (fn == "min" ? v[1] : v[int((NR + 1) / 2)]) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
# paired LABEL CASE: median over runs of wall(LABEL)/wall(rsync) in the same run
paired() { awk -v l="$1.$2" -v r="rsync.$2" '$1 == l { a[$2] = $3 } $1 == r { b[$2] = $3 }
  END { for (k in a) if (b[k] > 0) print a[k] / b[k] }' "$W/times" | sort -g |
  awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] }'; }

printf '\n%-14s %-4s %11s %7s %7s %6s %9s %8s %8s\n' method case bytes_sent wall_md wall_mn cpu_md paired/rs wallmd/rs cpumd/rs
for c in scat ins; do
  rw=$(stat med 3 "rsync.$c"); rc=$(stat med 4 "rsync.$c")
  for m in rsync rsync-pipe rsync-daemon lib-kept lib-kept+next lib-nosig known-inplace known-copy; do
    w=$(stat med 3 "$m.$c"); wm=$(stat min 3 "$m.$c"); u=$(stat med 4 "$m.$c")
    printf '%-14s %-4s %11s %7s %7s %6s %9s %8s %8s\n' "$m" "$c" "${BYTES[$m.$c]}" "$w" "$wm" "$u" \
      "$(paired "$m" "$c")" "$(ratio "$w" "$rw")" "$(ratio "$u" "$rc")"
  done
done
echo
echo "changed bytes: scat ${scat_changed} (1% of 4 KiB blocks); ins ${ins_inserted} inserted, ${ins_written} written through the mount (the tail from the middle)"
kb_s=$(ratio "${BYTES[known-inplace.scat]}" "$scat_changed")
kb_i=$(ratio "${BYTES[known-inplace.ins]}" "$ins_written")
kt_s=$(paired known-inplace scat)
kt_i=$(paired known-inplace ins)
lb_s=$(ratio "${BYTES[lib-kept.scat]}" "${BYTES[rsync.scat]}")
lb_i=$(ratio "${BYTES[lib-kept.ins]}" "${BYTES[rsync.ins]}")
lt_s=$(paired lib-kept scat)
lt_i=$(paired lib-kept ins)
echo "known: bytes/changed scat=$kb_s ins=$kb_i (target <= 1.05); time/rsync scat=$kt_s ins=$kt_i (target <= 0.5)"
echo "librsync kept sig: bytes/rsync scat=$lb_s ins=$lb_i (target <= 1.1); time/rsync scat=$lt_s ins=$lt_i (target <= 1.5)"

tls=NA
# Full copy over TLS vs cp (tls_copy.sh, same size and runs, this build);
# its lines are shown on stderr; NA if it cannot run.
if [ -x "$ROOT/tests/bench/tls_copy.sh" ]; then
  ninja -C "$BUILD" -j2 daemon/shadowd tools/shadowctl tests/integration/sync_cli >/dev/null || true
  # Shown through fd 2 itself: `tee /dev/stderr` reopened the file stderr
  # went to (sync.sh >out 2>&1) with O_TRUNC, and the table above was lost.
  tls_out=$("$ROOT/tests/bench/tls_copy.sh" "$BUILD" "$MIB" "$REPS") || tls_out=
  printf '%s\n' "$tls_out" >&2
  tls=$(sed -n 's/.*tls_copy_vs_cp=\([^ ]*\).*/\1/p' <<<"$tls_out" | tail -1)
  [ -n "$tls" ] || tls=NA
fi
echo "sync: known_bytes_vs_changed=$(max "$kb_s" "$kb_i") known_time_vs_rsync=$(max "$kt_s" "$kt_i") bytes_vs_rsync=$(max "$lb_s" "$lb_i") time_vs_rsync=$(max "$lt_s" "$lt_i") tls_copy_vs_cp=$tls"
