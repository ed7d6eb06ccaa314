#!/usr/bin/env bash
# shadowfs works as a mount(8) type: `mount -t fuse.shadowfs BACKING MNT -o
# opts` and an fstab line `BACKING MNT fuse.shadowfs defaults 0 0` (read
# with mount -T from a private fstab file). mount(8) runs mount.fuse3 with
# no PATH, so /bin/sh's default PATH finds `shadowfs` (installed in
# /usr/local/sbin by `meson install`). The test runs in a private mount
# namespace where a temporary directory holding a symlink to the build is
# bind-mounted on /usr/local/sbin: nothing outside the test changes.
# usage: fs_mount_helper.sh SHADOWFS
if [ -z "${FS_MOUNT_HELPER_NS:-}" ]; then
  FS_MOUNT_HELPER_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
shadowfs=$(realpath "$1")
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
bin=$(it_tmpdir bin)
ln -s "$shadowfs" "$bin/shadowfs"
mount --bind "$bin" /usr/local/sbin || it_fail "cannot bind-mount over /usr/local/sbin"
[ "$(command -v shadowfs)" = /usr/local/sbin/shadowfs ] || it_fail "shadowfs not found in /usr/local/sbin"
echo hello > "$backing/f"

daemon_pid() { pgrep -f -x -- "shadowfs $backing $mnt.*"; }

check_mounted() { # DESC
  mountpoint -q "$mnt" || it_fail "$1: not mounted"
  IT_MOUNTS+=("$mnt")
  local pid; pid=$(daemon_pid)
  [ -n "$pid" ] || it_fail "$1: no shadowfs process"
  IT_PIDS+=("$pid")
  [ "$(findmnt -n -o FSTYPE "$mnt")" = fuse.shadowfs ] || it_fail "$1: type $(findmnt -n -o FSTYPE "$mnt")"
  [ "$(findmnt -n -o SOURCE "$mnt")" = "$backing" ] || it_fail "$1: source $(findmnt -n -o SOURCE "$mnt")"
  [ "$(cat "$mnt/f")" = hello ] || it_fail "$1: file not served"
  umount "$mnt" || it_fail "$1: umount failed"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$pid" 2>/dev/null && it_fail "$1: shadowfs still running after umount"
  it_in_mount_table "$mnt" && it_fail "$1: still mounted"
  echo "ok $1"
}

mount -t fuse.shadowfs "$backing" "$mnt" -o cache=auto,threads=2 || it_fail "mount -t failed"
check_mounted "mount -t fuse.shadowfs"

echo "$backing $mnt fuse.shadowfs defaults 0 0" > "$IT_ROOT/fstab"
mount -T "$IT_ROOT/fstab" "$mnt" || it_fail "mount from fstab failed"
check_mounted "fstab defaults"

echo "$backing $mnt fuse.shadowfs rw,nosuid,nodev,noauto,allow_other,timeout=5 0 0" > "$IT_ROOT/fstab"
mount -T "$IT_ROOT/fstab" "$mnt" || it_fail "mount from fstab with options failed"
findmnt -n -o OPTIONS "$mnt" | grep -q nosuid || it_fail "nosuid not applied"
check_mounted "fstab with options"

# Access-time flags of an fstab line (libfuse 3.14 refused all but
# atime/noatime, and the mount failed).
echo "$backing $mnt fuse.shadowfs defaults,noatime,nodiratime,relatime,lazytime 0 0" > "$IT_ROOT/fstab"
mount -T "$IT_ROOT/fstab" "$mnt" || it_fail "mount from fstab with atime flags failed"
check_mounted "fstab with atime flags"

# A bad option through mount(8) fails with shadowfs's message.
mount -t fuse.shadowfs "$backing" "$mnt" -o cache=bogus 2>"$IT_ROOT/err" && it_fail "bad option mounted"
grep -q "cache=bogus" "$IT_ROOT/err" || it_fail "no message for a bad option: $(cat "$IT_ROOT/err")"
it_in_mount_table "$mnt" && it_fail "bad option left a mount"
echo "PASS fs_mount_helper"
