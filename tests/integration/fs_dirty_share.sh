#!/usr/bin/env bash
# -o dirty_share=PERCENT, the mount's share of the dirty-page limit
# (/sys/class/bdi/MAJ:MIN/max_ratio of the FUSE mount), through real mounts:
#  - by default it is 40 (the kernel gives a FUSE mount 1), and 64 MiB
#    written buffered through the mount reach BACKING intact;
#  - dirty_share=0 leaves the kernel's 1; dirty_share=75 gives 75, also on a
#    mount point whose name has a blank (escaped in the mount table);
#  - with /sys read-only (a private mount namespace), an explicit
#    dirty_share is a warning naming it, the default is silent, and the
#    mount serves either way;
#  - bad values stop the mount with one line naming the option.
# Usage: fs_dirty_share.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) data=$(it_tmpdir data)

# share_of MNT: the max_ratio of the FUSE mount on MNT (the latest mount
# there), found in the mount table as shadowfs does.
share_of() {
  local dev
  dev=$(M=$(sed 's/ /\\040/g' <<<"$1") awk '$5 == ENVIRON["M"] { d = $3 } END { print d }' /proc/self/mountinfo)
  [ -n "$dev" ] || it_fail "no mount on $1 in the mount table"
  cat "/sys/class/bdi/$dev/max_ratio"
}

head -c $((64 << 20)) /dev/urandom >"$data/src"

it_mount "$SHADOWFS" "$backing" "$mnt" norecord
ls "$mnt" >/dev/null # served: the share was set before the first request
[ "$(share_of "$mnt")" = 40 ] || it_fail "default share is $(share_of "$mnt"), want 40"
dd if="$data/src" of="$mnt/big" bs=1M status=none || it_fail "buffered write through the mount"
cmp -s "$data/src" "$mnt/big" || it_fail "64 MiB written through the mount read back wrong"
fs_umount "$mnt"
cmp -s "$data/src" "$backing/big" || it_fail "64 MiB written through the mount differ in BACKING"
echo "default: share 40, 64 MiB written buffered, intact in BACKING"

it_mount "$SHADOWFS" "$backing" "$mnt" norecord,dirty_share=0
ls "$mnt" >/dev/null
[ "$(share_of "$mnt")" = 1 ] || it_fail "dirty_share=0 changed the kernel's share: $(share_of "$mnt")"
fs_umount "$mnt"

blank="$(it_tmpdir 'with blank') mnt"
mkdir -p "$blank"
it_mount "$SHADOWFS" "$backing" "$blank" norecord,dirty_share=75
ls "$blank" >/dev/null
[ "$(share_of "$blank")" = 75 ] || it_fail "dirty_share=75 on '$blank' gave $(share_of "$blank")"
cmp -s "$data/src" "$blank/big" || it_fail "data read back wrong on '$blank'"
fs_umount "$blank"
echo "dirty_share=0 keeps 1; dirty_share=75 gives 75 (mount point with a blank)"

# /sys read-only in a private mount namespace: nothing can be set there.
log=$(it_tmpdir ro)/log
timeout 60 unshare -m --propagation private bash -c '
  set -u
  SHADOWFS=$1 backing=$2 mnt=$3 log=$4
  trap "fusermount3 -u \"\$mnt\" 2>/dev/null" EXIT
  mount -o bind,remount,ro /sys || mount -o remount,ro /sys || { echo "cannot make /sys read-only"; exit 1; }
  for opts in norecord,dirty_share=60 norecord; do
    "$SHADOWFS" "$backing" "$mnt" -f -o "$opts" 2>"$log.$opts" &
    pid=$!
    for i in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
    mountpoint -q "$mnt" || { echo "no mount with -o $opts"; exit 1; }
    cmp -s "$backing/big" "$mnt/big" || { echo "data wrong with -o $opts"; exit 1; }
    fusermount3 -u "$mnt" || exit 1
    wait "$pid" || { echo "shadowfs -o $opts exited $?"; exit 1; }
  done
' _ "$SHADOWFS" "$backing" "$mnt" "$log" || it_fail "read-only /sys run failed"
grep -q 'warning: cannot set dirty_share=60 .*Read-only file system' "$log.norecord,dirty_share=60" ||
  it_fail "no warning for an explicit dirty_share on a read-only /sys: $(cat "$log.norecord,dirty_share=60")"
[ ! -s "$log.norecord" ] || it_fail "the default share on a read-only /sys was not silent: $(cat "$log.norecord")"
echo "read-only /sys: explicit share warned ($(grep -o 'cannot set.*' "$log.norecord,dirty_share=60" | head -c 120)...), default silent"

for bad in dirty_share=101 dirty_share=-5 dirty_share=half dirty_share=; do
  out=$("$SHADOWFS" "$backing" "$mnt" -f -o "$bad" 2>&1) && it_fail "-o $bad accepted"
  [ "$(wc -l <<<"$out")" = 1 ] && grep -q "bad option '$bad'" <<<"$out" ||
    it_fail "-o $bad: want one line naming it, got: $out"
  it_in_mount_table "$mnt" && it_fail "-o $bad mounted"
done
echo "bad values refused with one line each"
echo "PASS"
