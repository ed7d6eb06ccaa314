#!/usr/bin/env bash
# tests/bench/passthrough.sh: the passthrough benchmark of shadowfs (issue 2).
#
# Runs, side by side in ONE run and on the same disk, five configurations:
#   native       a plain directory on the scratch filesystem
#   shadowfs     build/fs/shadowfs BACKING MNT with its default options
#   shadowfs@io_uring  the same with -o io_uring (FUSE over io_uring; the
#                fuse module's enable_uring is set to Y for the run)
#   pll_cache    libfuse's passthrough_ll example, -o cache=always,writeback
#   pll_default  libfuse's passthrough_ll example with its defaults
# passthrough_ll is compiled at benchmark time from Debian's libfuse3-dev
# examples into a temp dir (never committed). Workloads (fio, psync engine):
#   write_fsync  sequential 1 MiB writes of a new SIZE file, fsync at the end
#   write_buf    the same without the fsync
#   read_cold    sequential 1 MiB reads after echo 3 > /proc/sys/vm/drop_caches
#   read_warm    sequential read of a cached file (read twice, second measured)
#   rand_buf     random 4 KiB buffered reads, 1 job, time based
#   rand_direct  random 4 KiB O_DIRECT reads, 1 job, time based
#   rand_direct4 random 4 KiB O_DIRECT reads, 4 jobs, time based
#   meta         create + write 1 KiB + stat + unlink of META_FILES files
#                (tests/bench/metacycle.c)
# Every workload runs for every configuration REPS times; the order of the
# configurations is rotated from one repetition to the next, and the median is
# reported. The table gives MB/s (sequential) or ops/s (random, meta) and the
# ratio to native (the median over repetitions of config/native measured in the
# same repetition, seconds apart, so that load changes on a shared machine
# cancel out as far as possible); the LAST line of stdout is
#   passthrough: min_ratio_vs_passthrough_ll=X write_fsync=R ... meta=R
# where each R is shadowfs/native and X is the minimum over workloads of
# (shadowfs ratio / best passthrough_ll ratio). Progress goes to stderr.
#
# Run as root (drop_caches, FUSE mounts). Environment:
#   BENCH_DIR      parent of the scratch dir holding every backing dir
#                  (default /var/tmp; must be a disk filesystem, not tmpfs)
#   BUILD          meson build dir (default <repo>/build; built if needed)
#   SHADOWFS       shadowfs binary (default $BUILD/fs/shadowfs); the special
#                  value "passthrough_ll" puts the compiled example with its
#                  defaults in the shadowfs column (a stand-in for development)
#   SHADOWFS_OPTS  extra -o options for shadowfs (default: none)
#   QUICK=1        development mode: 128 MiB, 1 repetition, 2 s, 2000 files
#   SIZE_MB REPS RUNTIME META_FILES  override the sizes (defaults 1024 3 6 20000)
#   CONFIGS        subset/order of configurations (default: native shadowfs
#                  shadowfs@io_uring pll_cache pll_default); an entry
#                  shadowfs@OPTS adds a shadowfs mounted with -o OPTS, to
#                  compare options side by side (e.g. shadowfs@threads=1),
#                  with its own ratios line before the last one
#   WORKLOADS      subset of the workloads, for investigations (default all;
#                  rand_buf relies on read_warm having cached the file)
#   RAW            if set, the raw results (WORKLOAD CONFIG REP VALUE) are
#                  copied to this file
# Everything mounted is unmounted, every process started is stopped and the
# scratch and temp dirs are removed on exit, including on error or Ctrl-C.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SIZE_MB=${SIZE_MB:-128} REPS=${REPS:-1} RUNTIME=${RUNTIME:-2} META_FILES=${META_FILES:-2000}
else
	SIZE_MB=${SIZE_MB:-1024} REPS=${REPS:-3} RUNTIME=${RUNTIME:-6} META_FILES=${META_FILES:-20000}
fi
SHADOWFS=${SHADOWFS:-$BUILD/fs/shadowfs}
SHADOWFS_OPTS=${SHADOWFS_OPTS:-}
read -r -a CONFIGS <<<"${CONFIGS:-native shadowfs shadowfs@io_uring pll_cache pll_default}"
ALL_WORKLOADS="write_fsync write_buf read_cold read_warm rand_buf rand_direct rand_direct4 meta"
read -r -a WORKLOADS <<<"${WORKLOADS:-$ALL_WORKLOADS}"
PLL_SRC=/usr/share/doc/libfuse3-dev/examples

die() { echo "passthrough.sh: $*" >&2; exit 1; }
say() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ "$(id -u)" -eq 0 ] || die "run as root (needs drop_caches and FUSE mounts)"
for v in SIZE_MB REPS RUNTIME META_FILES; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
for c in "${CONFIGS[@]}"; do
	case $c in native | shadowfs | shadowfs@?* | pll_cache | pll_default) ;;
	*) die "unknown configuration '$c' in CONFIGS" ;; esac
	[[ $c != *[[:space:]]* ]] || die "configuration names cannot contain spaces"
done
[ "${CONFIGS[0]}" = native ] || die "CONFIGS must start with native (ratios are to native)"
for w in "${WORKLOADS[@]}"; do
	[[ " $ALL_WORKLOADS " == *" $w "* ]] || die "unknown workload '$w' in WORKLOADS"
done
if ! command -v fio >/dev/null || ! command -v pkg-config >/dev/null || [ ! -f "$PLL_SRC/passthrough_ll.c" ]; then
	say "fio, pkg-config or the libfuse3-dev examples are missing: running scripts/install-deps.sh"
	"$REPO/scripts/install-deps.sh" >&2 || die "scripts/install-deps.sh failed"
fi
[ -e /dev/fuse ] || die "/dev/fuse is missing"
[ -d "$BENCH_DIR" ] || die "BENCH_DIR $BENCH_DIR is not a directory"
fstype=$(df --output=fstype "$BENCH_DIR" | tail -1)
[ "$fstype" != tmpfs ] || die "BENCH_DIR $BENCH_DIR is on tmpfs; use a disk filesystem"

# --- temp dirs, mounts and cleanup -------------------------------------------
TMP=$(mktemp -d /tmp/bench-passthrough.XXXXXX)
SCRATCH=$(mktemp -d "$BENCH_DIR/bench-passthrough.XXXXXX")
# shadowfs records by default: its state directory and mount registry go to
# the scratch dir (removed at the end), not to /var/lib/shadowfs and /run.
export SHADOWFS_STATE_ROOT=$SCRATCH/state-root SHADOWFS_RUN_DIR=$SCRATCH/run
MOUNTS=() PIDS=()
cleanup() {
	local m p
	set +e
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" && { fusermount3 -u "$m" || umount -l "$m"; }
	done >/dev/null 2>&1
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill "$p" 2>/dev/null && sleep 0.5 && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$SCRATCH" "$TMP"
	[ -n "${URING_OLD:-}" ] && [ "$URING_OLD" != Y ] && echo "$URING_OLD" >"$URING_PARAM"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mount_fs MNT CMD...: starts CMD (a foreground FUSE daemon) in the background
# and waits until MNT is a mount point.
mount_fs() {
	local mnt=$1 pid i
	shift
	mkdir -p "$mnt"
	"$@" >"$mnt.log" 2>&1 &
	pid=$!
	PIDS+=("$pid") MOUNTS+=("$mnt")
	for i in $(seq 100); do
		mountpoint -q "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$mnt.log" >&2; die "$1 exited before mounting $mnt"; }
		sleep 0.1
	done
	die "$1 did not mount $mnt within 10 s"
}

# --- build what is needed -----------------------------------------------------
say "building passthrough_ll from $PLL_SRC into $TMP"
mkdir -p "$TMP/pll"
cat >"$TMP/pll/config.h" <<'EOF'
/* Minimal config.h for libfuse's examples, generated by passthrough.sh. */
#define HAVE_UTIMENSAT 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_FALLOCATE 1
#define HAVE_SETXATTR 1
#define HAVE_COPY_FILE_RANGE 1
#define HAVE_FDATASYNC 1
#define HAVE_FSTATAT 1
EOF
# shellcheck disable=SC2046
cc -O2 -Wall -I"$TMP/pll" -I"$PLL_SRC" \
	-DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE -DHAVE_FALLOCATE -DHAVE_SETXATTR \
	-DHAVE_COPY_FILE_RANGE -DHAVE_FDATASYNC -DHAVE_FSTATAT \
	$(pkg-config --cflags fuse3) "$PLL_SRC/passthrough_ll.c" -o "$TMP/pll/passthrough_ll" \
	$(pkg-config --libs fuse3) -lpthread >&2 || die "compiling passthrough_ll failed"
PLL=$TMP/pll/passthrough_ll

say "building the project in $BUILD"
if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "$REPO" >&2 || die "meson setup $BUILD failed"
fi
ninja -C "$BUILD" -j2 >&2 || die "ninja -C $BUILD failed"
METACYCLE=$BUILD/tests/bench/metacycle
[ -x "$METACYCLE" ] || die "$METACYCLE was not built"
SHADOWFS_LABEL=shadowfs
if [ "$SHADOWFS" = passthrough_ll ]; then
	SHADOWFS_LABEL="shadowfs(stand-in: passthrough_ll defaults)"
	say "WARNING: SHADOWFS=passthrough_ll: the shadowfs column measures passthrough_ll"
elif [[ " ${CONFIGS[*]} " == *" shadowfs "* ]]; then
	[ -x "$SHADOWFS" ] || die "shadowfs binary $SHADOWFS not found (set SHADOWFS=path, or SHADOWFS=passthrough_ll for a stand-in)"
fi

# --- mount the configurations -------------------------------------------------
# FUSE over io_uring needs the fuse module's enable_uring parameter; it only
# lets a daemon opt in at INIT (passthrough_ll does not), so it is turned on
# for the run and put back afterwards.
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_OLD=
if [[ " ${CONFIGS[*]} ${SHADOWFS_OPTS:-} " == *io_uring* ]]; then
	[ -w "$URING_PARAM" ] || die "$URING_PARAM missing or read-only: no FUSE over io_uring here (drop shadowfs@io_uring from CONFIGS)"
	URING_OLD=$(cat "$URING_PARAM")
	[ "$URING_OLD" = Y ] || { echo Y >"$URING_PARAM" && say "set $URING_PARAM to Y for the run (was $URING_OLD)"; }
fi
declare -A DIR LOG
idx=0
for c in "${CONFIGS[@]}"; do
	idx=$((idx + 1))
	b=$SCRATCH/b$idx m=$TMP/mnt$idx # names free of the characters of $c
	mkdir -p "$b"
	LOG[$c]=$TMP/mnt$idx.log
	DIR[$c]=$m
	case $c in
	native) DIR[$c]=$b ;;
	shadowfs)
		if [ "$SHADOWFS" = passthrough_ll ]; then
			mount_fs "$m" "$PLL" -f -o "source=$b${SHADOWFS_OPTS:+,$SHADOWFS_OPTS}" "$m"
		else
			mount_fs "$m" "$SHADOWFS" "$b" "$m" -f ${SHADOWFS_OPTS:+-o "$SHADOWFS_OPTS"}
		fi ;;
	shadowfs@*) mount_fs "$m" "$SHADOWFS" "$b" "$m" -f -o "${c#shadowfs@}" ;;
	pll_cache) mount_fs "$m" "$PLL" -f -o "source=$b,cache=always,writeback" "$m" ;;
	pll_default) mount_fs "$m" "$PLL" -f -o "source=$b" "$m" ;;
	esac
done
say "mounted: $(for c in "${CONFIGS[@]}"; do printf '%s=%s ' "$c" "${DIR[$c]}"; done)"

# --- workloads ------------------------------------------------------------------
# fio_run DIR ARGS...: runs fio on DIR/bench.dat; prints the terse v3 line.
fio_run() {
	local d=$1
	shift
	fio --name=bench --filename="$d/bench.dat" --size="${SIZE_MB}M" --ioengine=psync \
		--invalidate=0 --output-format=terse --terse-version=3 "$@" 2>"$TMP/fio.err" ||
		{ sed 's/^/  fio: /' "$TMP/fio.err" >&2; return 1; }
}
# terse v3: field 7 read KiB/s, 8 read IOPS, 48 write KiB/s.
read_mbs() { awk -F';' '{ printf "%.1f\n", $7 * 1024 / 1e6 }'; }
write_mbs() { awk -F';' '{ printf "%.1f\n", $48 * 1024 / 1e6 }'; }
read_iops() { awk -F';' '{ printf "%.0f\n", $8 }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
seqread() { fio_run "$1" --rw=read --bs=1M; }
randread() { fio_run "$1" --rw=randread --bs=4k --time_based --runtime="$RUNTIME" "${@:2}"; }

# run_workload WORKLOAD DIR: prints one number (MB/s or ops/s), or fails.
run_workload() {
	local w=$1 d=$2 out fsync=0
	case $w in
	write_fsync | write_buf)
		[ "$w" = write_fsync ] && fsync=1
		rm -f "$d/bench.dat"
		sync
		out=$(fio_run "$d" --rw=write --bs=1M --end_fsync=$fsync) || return 1
		sync # write_buf leaves dirty pages behind: flush them outside the timing
		write_mbs <<<"$out" ;;
	read_cold)
		drop_caches
		seqread "$d" | read_mbs ;;
	read_warm)
		seqread "$d" >/dev/null || return 1
		seqread "$d" | read_mbs ;;
	rand_buf) randread "$d" | read_iops ;; # read_warm has just cached the file
	rand_direct) randread "$d" --direct=1 | read_iops ;;
	rand_direct4) randread "$d" --direct=1 --numjobs=4 --group_reporting | read_iops ;;
	meta)
		rm -rf "$d/meta" && mkdir "$d/meta"
		out=$("$METACYCLE" "$d/meta" "$META_FILES") || return 1
		rmdir "$d/meta"
		sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' <<<"$out" ;;
	esac
}

unit_of() { case $1 in write_* | read_*) echo MB/s ;; *) echo ops/s ;; esac; }

RESULTS=$TMP/results # lines: WORKLOAD CONFIG REP VALUE
: >"$RESULTS"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
n=${#CONFIGS[@]}
for ((rep = 0; rep < REPS; rep++)); do
	order=()
	for ((i = 0; i < n; i++)); do order+=("${CONFIGS[$(((i + rep) % n))]}"); done
	say "repetition $((rep + 1))/$REPS, order: ${order[*]}"
	for w in "${WORKLOADS[@]}"; do
		for c in "${order[@]}"; do
			if v=$(run_workload "$w" "${DIR[$c]}") && [[ $v =~ ^[0-9.]+$ ]] && [ "$v" != 0.0 ]; then
				:
			else
				say "  $w on $c FAILED"
				[ "$c" = native ] || mountpoint -q "${DIR[$c]}" ||
					say "  $c is no longer mounted; its log: $(tail -5 "${LOG[$c]}")"
				v=NA
			fi
			echo "$w $c $rep $v" >>"$RESULTS"
			say "  $w $c: $v $(unit_of "$w")"
		done
	done
	for c in "${CONFIGS[@]}"; do rm -f "${DIR[$c]}/bench.dat"; done
done
t_total=$(($(date +%s) - t_start))
[ -z "${RAW:-}" ] || cp "$RESULTS" "$RAW"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -------------------------------------------------------------------------
# Median per (workload, config), the spread (max-min)/median across repetitions,
# ratios to native, and the closing line.
echo
echo "passthrough benchmark: $(date -u '+%Y-%m-%d %H:%M UTC'), nproc=$(nproc), kernel $(uname -r), $fstype on $(df --output=source "$BENCH_DIR" | tail -1)"
echo "size=${SIZE_MB}MiB reps=$REPS runtime=${RUNTIME}s meta_files=$META_FILES; shadowfs column: $SHADOWFS_LABEL ${SHADOWFS_OPTS:+-o $SHADOWFS_OPTS}"
echo "loadavg at start: $load_start, at end: $load_end; wall time ${t_total}s"
echo
awk -v configs="${CONFIGS[*]}" -v workloads="${WORKLOADS[*]}" -v reps="$REPS" '
function median(arr, k,   i, j, t) {
	for (i = 2; i <= k; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
	return (k % 2) ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2
}
{ key = $1 SUBSEP $2; if ($4 != "NA") { cnt[key]++; val[key, cnt[key]] = $4; byrep[$1, $2, $3] = $4 } else bad[key] = 1 }
END {
	nc = split(configs, C, " "); nw = split(workloads, W, " ")
	cw = 12
	for (c = 1; c <= nc; c++) if (length(C[c]) + 4 > cw) cw = length(C[c]) + 4
	printf "%-13s %-6s", "workload", "unit"
	for (c = 1; c <= nc; c++) printf " %*s", cw, C[c]
	for (c = 2; c <= nc; c++) printf " %*s", cw, C[c] "/nat"
	printf " %8s\n", "spread"
	minr = ""; last = "passthrough: min_ratio_vs_passthrough_ll="
	tail = ""
	for (w = 1; w <= nw; w++) {
		unit = (W[w] ~ /^(write|read)_/) ? "MB/s" : "ops/s"
		printf "%-13s %-6s", W[w], unit
		maxspread = 0
		for (c = 1; c <= nc; c++) {
			key = W[w] SUBSEP C[c]; k = cnt[key]
			if (k == 0 || bad[key]) { med[C[c]] = ""; printf " %*s", cw, "NA"; continue }
			lo = hi = val[key, 1]
			for (i = 1; i <= k; i++) { a[i] = val[key, i]; if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
			med[C[c]] = median(a, k)
			if (med[C[c]] > 0 && (hi - lo) / med[C[c]] > maxspread) maxspread = (hi - lo) / med[C[c]]
			printf " %*.1f", cw, med[C[c]]
		}
		for (c = 2; c <= nc; c++) {
			# paired ratio: config / native of the same repetition, median over repetitions
			k = 0
			for (rep = 0; rep < reps; rep++)
				if ((W[w], C[c], rep) in byrep && (W[w], "native", rep) in byrep && byrep[W[w], "native", rep] > 0)
					pr[++k] = byrep[W[w], C[c], rep] / byrep[W[w], "native", rep]
			r[C[c]] = (med[C[c]] != "" && k > 0) ? median(pr, k) : ""
			if (r[C[c]] == "") printf " %*s", cw, "NA"; else printf " %*.2f", cw, r[C[c]]
		}
		printf " %7.0f%%\n", 100 * maxspread
		for (c = 2; c <= nc; c++)
			if (C[c] ~ /^shadowfs@/)
				otail[C[c]] = otail[C[c]] sprintf(" %s=%s", W[w], r[C[c]] == "" ? "NA" : sprintf("%.2f", r[C[c]]))
		sr = ("shadowfs" in r) ? r["shadowfs"] : ""
		tail = tail sprintf(" %s=%s", W[w], sr == "" ? "NA" : sprintf("%.2f", sr))
		best = ""
		if (("pll_cache" in r) && r["pll_cache"] != "") best = r["pll_cache"]
		if (("pll_default" in r) && r["pll_default"] != "" && (best == "" || r["pll_default"] > best)) best = r["pll_default"]
		if (sr != "" && best != "" && best > 0) { q = sr / best; if (minr == "" || q < minr) minr = q }
		else na = 1
	}
	print ""
	print "values: median over the repetitions; X/nat: median over the repetitions of X / native"
	print "measured in the same repetition; spread: (max - min) / median of the values over the"
	print "repetitions, worst configuration of the row (a measure of the noise)"
	for (c = 2; c <= nc; c++)
		if (C[c] ~ /^shadowfs@/) print "passthrough(" C[c] "):" otail[C[c]]
	print last (na || minr == "" ? "NA" : sprintf("%.2f", minr)) tail
}' "$RESULTS"
