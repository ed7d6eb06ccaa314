#!/usr/bin/env bash
# tests/bench/held_open.sh: how much of a file's read load its copies take
# while the file stays open for writing and is written now and then (a VM
# image, a database). Run by hand as root; NOT a meson test.
#
# A SIZE_MB file on a fresh mount with one local host, pinned, held open
# O_RDWR by a writer that writes 4 KiB at a random offset every WINT
# seconds; fio reads it with 2 jobs of O_DIRECT random 4 KiB reads for DUR
# seconds. Each write makes the copy stale; it is re-made once the file has
# been quiet for shadow_quiet (default 2 s) and resumes its rollout.
# Prints the copy's state and the line
#   held: reads N, origin O, by copies C = P permille; load ...
# (reads by copies = fio's reads - the file's origin_reads).
# usage: tests/bench/held_open.sh [BUILD]   (BUILD defaults to build)
#   WINT DUR SIZE_MB SCRATCH  override (10 60 64 /var/tmp/shadowfs-held)
set -u
BUILD=${1:-build}
SHADOWFS=$BUILD/fs/shadowfs
WINT=${WINT:-10} DUR=${DUR:-60} SIZE_MB=${SIZE_MB:-64}
R=${SCRATCH:-/var/tmp/shadowfs-held}
die() { echo "held_open: $*" >&2; exit 1; }
[ -x "$SHADOWFS" ] || die "$SHADOWFS was not built"
command -v fio >/dev/null || die "fio is missing (apt-get install fio)"
B=$R/backing M=$R/mnt H=$R/host S=$R/state
fusermount3 -u "$M" 2>/dev/null
rm -rf "$R" && mkdir -p "$B" "$M" "$H" "$S" || die "cannot make $R"
head -c $((SIZE_MB << 20)) /dev/urandom >"$B/img"
"$SHADOWFS" "$B" "$M" -o "norecord,state=$S,hosts=$H,shadow_tick=0.5" || die "mount failed"
trap 'fusermount3 -u "$M" 2>/dev/null' EXIT
python3 - "$M/img" "$WINT" "$DUR" "$SIZE_MB" <<'PY' &
import os, random, sys, time
path, wint, dur, size = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_RDWR)
end = time.time() + dur + 2
while time.time() < end:
    time.sleep(wint)
    os.pwrite(fd, os.urandom(4096), random.randrange(0, size << 20, 4096))
os.close(fd)
PY
writer=$!
sleep 0.5
setfattr -n user.shadow.pin -v 1 "$M/img" || die "pin"
tot=$(fio --name=held --filename="$M/img" --rw=randread --bs=4k --direct=1 --numjobs=2 \
  --time_based --runtime="$DUR" --ioengine=psync --group_reporting --output-format=json |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["jobs"][0]["read"]["total_ios"])') ||
  die "fio failed"
st=$(getfattr --only-values -n user.shadow.state "$M/img" 2>/dev/null)
o=$(sed -n 's/.*origin_reads=\([0-9]*\).*/\1/p' <<<"$st")
wait "$writer"
echo "$st"
[ -n "$o" ] && [ "$tot" -gt 0 ] || die "no figures: reads '$tot', state '$st'"
echo "held: reads $tot, origin $o, by copies $((tot - o)) = $(((tot - o) * 1000 / tot)) permille; load $(cut -d' ' -f1-3 /proc/loadavg)"
