#!/usr/bin/env bash
# tests/bench/recording.sh: what access recording costs (issue 3).
#
# Two shadowfs mounts of two backing dirs on the same disk filesystem, in
# ONE run: "on" records (state in a scratch dir, default bucket and track),
# "off" has -o norecord (the plain passthrough table). Workloads:
#   randread  fio random 4 KiB O_DIRECT reads (psync, JOBS jobs, time based):
#             O_DIRECT so every read reaches FUSE (and the recorder)
#   meta      create + write 1 KiB + close + stat + unlink, META_FILES times
#             (shadowfs-rec-bench meta), on mounts of backing dirs in META_DIR
#             (default /dev/shm: tmpfs, so the disk's journal commits do not
#             drown the cost of FUSE and recording in noise)
# Each workload runs as REPS short runs per configuration, interleaved
# on/off/off/on/... (ABBA), so that slow drifts of this shared machine's load
# and of the disk (journal commits) hit both alike; the overhead is the
# median over the REPS pairs of (off - on) / off * 100 of throughput. Also
# printed (stderr): the CPU time shadowfs spends per operation (all its
# threads, from /proc/PID/stat) on and off, a figure that load on the rest
# of the machine disturbs much less than throughput.
# ns_per_event and bytes_per_file come from shadowfs-rec-bench (the hot path
# alone; memory per tracked file with typical paths).
# The LAST line of stdout is
#   recording: overhead_pct_randread=X overhead_pct_meta=Y ns_per_event=Z bytes_per_file=W
#
# Run as root. Environment: BENCH_DIR (parent of the scratch dir, default
# /var/tmp, a disk filesystem: O_DIRECT), META_DIR (default /dev/shm),
# BUILD (default <repo>/build),
# REPS (runs per configuration, 30: with pairs spread over +-20 % on a
# shared VM, 12 pairs left the median several points from run to run), RUNTIME (seconds per fio run, 2),
# JOBS (4), SIZE_MB (256), META_FILES (files per meta run, 1000),
# WORKLOADS (default "randread meta"; a subset prints n/a for the other),
# QUICK=1 (4 runs, 1 s, 64 MiB, 500 files).
# Everything mounted is unmounted and the scratch dir removed on exit.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
META_DIR=${META_DIR:-/dev/shm}
if [ "${QUICK:-0}" = 1 ]; then
	REPS=${REPS:-4} RUNTIME=${RUNTIME:-1} SIZE_MB=${SIZE_MB:-64} META_FILES=${META_FILES:-500}
else
	REPS=${REPS:-30} RUNTIME=${RUNTIME:-2} SIZE_MB=${SIZE_MB:-256} META_FILES=${META_FILES:-1000}
fi
JOBS=${JOBS:-4}
[ -x "$BUILD/fs/shadowfs" ] && [ -x "$BUILD/tools/shadowfs-rec-bench" ] || ninja -C "$BUILD" >&2
SHADOWFS=$BUILD/fs/shadowfs
RECBENCH=$BUILD/tools/shadowfs-rec-bench
command -v fio >/dev/null || { echo "recording.sh: fio is missing (scripts/install-deps.sh)" >&2; exit 1; }

SCRATCH=$(mktemp -d "$BENCH_DIR/rec-bench.XXXXXX")
MSCRATCH=$(mktemp -d "$META_DIR/rec-bench-meta.XXXXXX")
PIDS=()
MOUNTS=()
declare -A PID_OF
cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$SCRATCH" "$MSCRATCH"
}
trap cleanup EXIT INT TERM
export SHADOWFS_RUN_DIR=$SCRATCH/run

mount_one() { # PARENT NAME OPTS
	local dir=$1/$2 opts=$3
	mkdir -p "$dir/backing" "$dir/mnt"
	"$SHADOWFS" "$dir/backing" "$dir/mnt" -f -o "$opts" 2>"$dir.log" &
	PIDS+=($!)
	PID_OF[$dir]=$!
	MOUNTS+=("$dir/mnt")
	for _ in $(seq 100); do mountpoint -q "$dir/mnt" && return 0; sleep 0.05; done
	echo "recording.sh: cannot mount $dir: $(cat "$dir.log")" >&2
	exit 1
}
mount_one "$SCRATCH" on "state=$SCRATCH/state,bucket=10"
mount_one "$SCRATCH" off "norecord"
mount_one "$MSCRATCH" on "state=$MSCRATCH/state,bucket=10"
mount_one "$MSCRATCH" off "norecord"
for c in on off; do
	dd if=/dev/urandom of="$SCRATCH/$c/backing/data" bs=1M count="$SIZE_MB" status=none
done
sync

randread() { # CONFIG -> IOPS
	fio --name=rr --filename="$SCRATCH/$1/mnt/data" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --numjobs="$JOBS" --group_reporting --time_based \
		--runtime="$RUNTIME" --size="${SIZE_MB}M" --output-format=terse --terse-version=3 |
		awk -F';' '{print $8}'
}
meta() { # CONFIG -> ops/s
	"$RECBENCH" meta "$MSCRATCH/$1/mnt" "$META_FILES" | sed -n 's/^meta: ops_per_s=//p'
}
overhead() { awk -v on="$1" -v off="$2" 'BEGIN { printf "%.2f", (off - on) / off * 100 }'; }
median() { sort -g | awk '{a[NR] = $1} END {printf "%.2f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, all threads
add() { awk -v a="$1" -v b="$2" 'BEGIN {print a + b}'; }

declare -A pct
for w in ${WORKLOADS:-randread meta}; do
	if [ "$w" = meta ]; then base=$MSCRATCH; else base=$SCRATCH; fi
	pairs=() cpu_on=0 cpu_off=0 ops_on=0 ops_off=0
	for r in $(seq "$REPS"); do
		if [ $((r % 2)) = 1 ]; then order="on off"; else order="off on"; fi
		line="$w run $r:"
		for c in $order; do
			pid=${PID_OF[$base/$c]}
			t0=$(cpu_ticks "$pid")
			v=$($w "$c")
			t1=$(cpu_ticks "$pid")
			[ -n "$v" ] || { echo "recording.sh: $w on $c gave no result" >&2; exit 1; }
			if [ "$w" = meta ]; then n=$((META_FILES * 5)); else n=$(awk -v i="$v" -v t="$RUNTIME" 'BEGIN {print i * t}'); fi
			eval "val_$c=\$v"
			eval "cpu_$c=\$(add \$cpu_$c $((t1 - t0)))"
			eval "ops_$c=\$(add \$ops_$c $n)"
			line="$line $c $v"
		done
		o=$(overhead "$val_on" "$val_off")
		pairs+=("$o")
		echo "$line -> ${o}%" >&2
	done
	pct[$w]=$(printf '%s\n' "${pairs[@]}" | median)
	tick_us=$(awk -v hz="$(getconf CLK_TCK)" 'BEGIN {print 1e6 / hz}')
	echo "$w: median overhead ${pct[$w]}%; shadowfs CPU per operation:" \
		"on $(awk -v c="$cpu_on" -v n="$ops_on" -v u="$tick_us" 'BEGIN {printf "%.2f", c * u / n}') us," \
		"off $(awk -v c="$cpu_off" -v n="$ops_off" -v u="$tick_us" 'BEGIN {printf "%.2f", c * u / n}') us" \
		"(+$(awk -v a="$cpu_on" -v b="$cpu_off" -v x="$ops_on" -v y="$ops_off" 'BEGIN {printf "%.1f", (a / x - b / y) / (b / y) * 100}')%)" >&2
done

for d in "$SCRATCH" "$MSCRATCH"; do
	stats=$(cat "$d/state/recorder.stats" 2>/dev/null || true)
	echo "recorder of $d/on: $(tr '\n' ' ' <<<"$stats")" >&2
done
micro=$("$RECBENCH" 200000)
echo "$micro" >&2
ns=$(sed -n 's/.*ns_per_event=\([0-9.]*\).*/\1/p' <<<"$micro")
bpf=$(sed -n 's/.*bytes_per_file=\([0-9]*\).*/\1/p' <<<"$micro")
echo "recording: overhead_pct_randread=${pct[randread]:-n/a} overhead_pct_meta=${pct[meta]:-n/a} ns_per_event=$ns bytes_per_file=$bpf"
