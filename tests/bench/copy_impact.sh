#!/usr/bin/env bash
# tests/bench/copy_impact.sh: what a copy costs the foreground reads, and
# what -o copy_rate buys back. Run by hand as root; NOT a meson test.
#
# One run, the configurations side by side on the same disk, each on a
# fresh mount (own state and store dirs) after echo 3 > drop_caches:
#   nocopy     foreground reads alone
#   unlimited  foreground reads while FILE_MB of another file is copied to
#              a local host store (copy_rate=0)
#   rate=R     the same with copy_rate=R MB/s, for each R in RATES
# Foreground: fio, psync engine, 4 KiB random reads, 1 job, O_DIRECT (so
# that every read reaches the disk through the mount, never a page cache),
# of a FG_MB file through the mount, time based (long enough for the paced
# copy plus margins). The copy starts PIN_AT_S seconds into the run (a
# user.shadow.pin) and ends when its copy serves (polled every 50 ms). The
# foreground's latencies are taken from fio's per-I/O latency log over the
# copy's window (nocopy: from PIN_AT_S to the end minus 1 s) and over the
# seconds before it. shadow_tick is
# 0.2 s: with the writeback cache the kernel follows the pin's setxattr with
# a SETATTR of the ctime, which stops a copy that started before it (at its
# first chunk); it is retried at the next tick.
#
# Output: a table, one row per configuration: copy duration (s) and MB/s,
# foreground reads/s, p50 and p99 latency (us) during the copy, their ratios
# to the PIN_AT_S seconds before the copy in the same run (so that the
# shared machine's load drifting between runs cancels), reads/s against
# nocopy's, and the 1-min load average at the start of each run. The store is on
# the same disk as BACKING (this machine has one): its writes load the disk
# too, which copy_rate paces only through the reads that feed them.
#
# Environment: BENCH_DIR (default /var/tmp), BUILD (default <repo>/build),
# FILE_MB (512), FG_MB (1024), RATES ("25 10", MB/s), PIN_AT_S (8),
# CONFIGS (default "nocopy unlimited rate=R..."; the first must be nocopy).
# Everything mounted is unmounted and the scratch dir removed on exit.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
FILE_MB=${FILE_MB:-512} FG_MB=${FG_MB:-1024} RATES=${RATES:-25 10} PIN_AT_S=${PIN_AT_S:-8}
CONFIGS=${CONFIGS:-nocopy unlimited $(for r in $RATES; do printf 'rate=%s ' "$r"; done)}
SHADOWFS=$BUILD/fs/shadowfs
[ "$(id -u)" = 0 ] || { echo "copy_impact.sh: run as root (drop_caches, mounts)" >&2; exit 1; }
command -v fio >/dev/null || { echo "copy_impact.sh: fio is needed" >&2; exit 1; }
[ -x "$SHADOWFS" ] || ninja -C "$BUILD" >/dev/null

# The slowest paced copy's duration, plus the start and margins.
MIN_RATE=$(printf '%s\n' $RATES | sort -g | head -1)
RUNTIME=$(awk -v f="$FILE_MB" -v r="$MIN_RATE" -v p="$PIN_AT_S" \
	'BEGIN { printf "%d", f * 1048576 / (r * 1e6) + p + 5 }')
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

S=$(mktemp -d "$BENCH_DIR/copy-impact.XXXXXX")
MNT=$S/mnt PID=
cleanup() {
	mountpoint -q "$MNT" 2>/dev/null && fusermount3 -u "$MNT"
	[ -n "$PID" ] && { wait "$PID" 2>/dev/null || true; }
	rm -rf "$S"
}
trap cleanup EXIT
mkdir -p "$S/backing" "$MNT"
echo "making $FG_MB MiB and $FILE_MB MiB files in $S ..." >&2
head -c $((FG_MB << 20)) /dev/urandom >"$S/backing/fg"
head -c $((FILE_MB << 20)) /dev/urandom >"$S/backing/big"
sync

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# run CONFIG: prints "CONFIG copy_s BEFORE DURING load1", BEFORE and DURING
# each "iops p50_us p99_us"
run() {
	local cfg=$1 rate=0 tag=${1//=/}
	local st=$S/state.$tag store=$S/store.$tag
	case $cfg in rate=*) rate=${cfg#rate=} ;; esac
	mkdir -p "$st"
	"$SHADOWFS" "$S/backing" "$MNT" -f -o \
		"norecord,state=$st,hosts=$store:cost=1,shadow_tick=0.2,copy_rate=$rate" &
	PID=$!
	for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.05; done
	mountpoint -q "$MNT" || { echo "copy_impact.sh: mount failed" >&2; exit 1; }
	sync
	echo 3 >/proc/sys/vm/drop_caches
	local t0 tpin tdone=0 load1
	load1=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(now_ms)
	fio --name=fg --filename="$MNT/fg" --rw=randread --bs=4k --ioengine=psync --direct=1 \
		--time_based --runtime="$RUNTIME" --write_lat_log="$S/lat.$tag" --log_avg_msec=0 \
		--output="$S/fio.$tag" >/dev/null &
	local fio=$!
	sleep "$PIN_AT_S"
	tpin=$(now_ms)
	if [ "$cfg" != nocopy ]; then
		setfattr -n user.shadow.pin -v 1 "$MNT/big"
		while kill -0 "$fio" 2>/dev/null; do
			getfattr --only-values -n user.shadow.state "$MNT/big" 2>/dev/null |
				grep -q ":serving" && { tdone=$(now_ms); break; }
			sleep 0.05
		done
		[ "$tdone" -gt 0 ] || echo "copy_impact.sh: $cfg: the copy did not finish within the run" >&2
	fi
	wait "$fio"
	fusermount3 -u "$MNT"
	wait "$PID" || true
	PID=
	local lo=$((tpin - t0)) hi copy_s=-
	if [ "$tdone" -gt 0 ]; then
		hi=$((tdone - t0))
		copy_s=$(awk -v d=$((tdone - tpin)) 'BEGIN { printf "%.2f", d / 1000 }')
	else
		hi=$((RUNTIME * 1000 - 1000))
	fi
	echo "  $cfg: copy ${copy_s} s, load $load1 -> $(cut -d' ' -f1 /proc/loadavg)" >&2
	# fio lat log: time_ms, latency_ns, dir, bs, offset. Two windows of the
	# same run: before the copy (from 1 s, past fio's start) and during it.
	local lat="$S/lat.${tag}_clat.1.log" before during
	before=$(window "$lat" 1000 "$lo")
	during=$(window "$lat" "$lo" "$hi")
	echo "$cfg $copy_s $before $during $load1"
}

# window LOG LO_MS HI_MS: "iops p50_us p99_us" of the reads done in [LO, HI).
window() {
	awk -F', *' -v lo="$2" -v hi="$3" '$1 >= lo && $1 < hi { print $2 }' "$1" | sort -n |
		awk -v ms=$(($3 - $2)) '
		{ v[NR] = $1 }
		END {
			if (NR == 0 || ms <= 0) { print 0, 0, 0; exit }
			printf "%.0f %.0f %.0f\n", NR / (ms / 1000), v[int(NR * 0.50) + 1] / 1000,
				v[int(NR * 0.99) + 1] / 1000
		}'
}

results=()
for c in $CONFIGS; do
	echo "running $c ($RUNTIME s) ..." >&2
	results+=("$(run "$c")")
done

# Columns: the copy; the foreground during it (reads/s, p50, p99); the same
# over the seconds before it in the same run (d/b: drifts of the shared
# machine's load cancel); reads/s against nocopy's; 1-min load at the start.
printf '%-9s %7s %7s | %6s %6s %7s | %6s %6s %6s | %6s | %5s\n' config copy_s MB/s \
	iops p50us p99us 'iops' 'p50' 'p99' iops_nc load1
printf '%-9s %7s %7s | %6s %6s %7s | %6s %6s %6s | %6s | %5s\n' '' '' '' during during during \
	d/b d/b d/b 'd/nc' ''
base=$(printf '%s\n' "${results[@]}" | awk '$1 == "nocopy"')
printf '%s\n' "${results[@]}" | awk -v base="$base" -v mb="$FILE_MB" '
	function r(a, b) { return b ? sprintf("%.2f", a / b) : "-" }
	BEGIN { split(base, n, " ") }
	{
		# cfg copy_s iops_b p50_b p99_b iops_d p50_d p99_d load1
		mbs = $2 == "-" ? "-" : sprintf("%.1f", mb * 1048576 / 1e6 / $2)
		printf "%-9s %7s %7s | %6s %6s %7s | %6s %6s %6s | %6s | %5s\n", $1, $2, mbs,
			$6, $7, $8, r($6, $3), r($7, $4), r($8, $5), r($6, n[6]), $9
	}'
echo "file ${FILE_MB} MiB, foreground file ${FG_MB} MiB, copy_rate=R rows at R MB/s," \
	"runtime ${RUNTIME} s; load average before the run: $LOAD"
