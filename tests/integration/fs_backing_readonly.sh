#!/usr/bin/env bash
# shadowfs over a read-only BACKING (a data set served read-only: what
# shadowing is for), a read-only bind mount here. Pins and directory
# settings live in STATE, so root may set them (every user.shadow.* set
# failed with EROFS: the permission probe in BACKING could not write);
# a non-root user is refused as before; a file setting is refused with
# EOPNOTSUPP and the log says why (no stable id can be stored). Reads are
# served, copies made and read from, writes fail with EROFS, and the pin
# and the setting survive a remount.
# Usage: fs_backing_readonly.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_backing_readonly)
src=$(it_tmpdir src) backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$src/d"
for f in a b; do head -c 131072 /dev/urandom >"$src/d/$f"; done
mount --bind "$src" "$backing" || it_fail "bind mount"
IT_TMPFS+=("$backing") # unmounted at exit
mount -o remount,bind,ro "$backing" || it_fail "read-only remount of the bind mount"
touch "$backing/x" 2>/dev/null && it_fail "the bind mount is writable"
OPTS="allow_other,state=$state,hosts=$T/h,shadow_tick=0.1,bucket=1"
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"

cmp -s "$mnt/d/a" "$src/d/a" || it_fail "d/a reads other bytes through the mount"
out=$(echo x 2>&1 >"$mnt/d/new") && it_fail "a write to a read-only BACKING succeeded"
out=$(touch "$mnt/d/a" 2>&1) && it_fail "touch on a read-only BACKING succeeded"
case $out in *"Read-only file system"*) ;; *) it_fail "touch: $out (want EROFS)" ;; esac

# Root pins; the copy serves reads.
setfattr -n user.shadow.pin -v 1 "$mnt/d/a" 2>"$T/err" || it_fail "root's pin on a read-only BACKING: $(cat "$T/err")"
copied() { it_shadow_state "$mnt/d/a" | grep -q 'copy=[^ ]*:serving'; }
IT_WATCH=$mnt/d/a it_wait_for "no copy of the pinned d/a" 15 copied
# O_DIRECT: plain re-reads would be answered by the page cache.
served() {
  dd if="$mnt/d/a" of="$T/read" bs=4096 iflag=direct status=none && cmp -s "$T/read" "$src/d/a" &&
    it_shadow_state "$mnt/d/a" | grep -q 'copy=[^ ]*:serving:reads=[1-9]'
}
IT_WATCH=$mnt/d/a it_wait_for "the copy of d/a serves no read" 15 served
# A directory setting is taken; a file setting is refused and said why.
setfattr -n user.shadow.threshold -v 0.5 "$mnt/d" 2>"$T/err" || it_fail "directory setting: $(cat "$T/err")"
setfattr -n user.shadow.threshold -v 0.5 "$mnt/d/b" 2>"$T/err" && it_fail "a file setting without a stable id was taken"
grep -q "Operation not supported" "$T/err" || it_fail "file setting refused with: $(cat "$T/err")"
it_log_has "$T/mount.log" "tuning d/b: the file cannot be given the stable id .*Read-only file system" ||
  it_fail "the log does not say why the file setting was refused: $(cat "$T/mount.log")"
"$CTL" why "$mnt/d/b" >"$T/why" 2>&1 || it_fail "shadowctl why: $(cat "$T/why")"
grep -Eq '^  threshold +0.5 +from directory /d ' "$T/why" || it_fail "why: $(cat "$T/why")"
# Another user may not (the kernel's permission check, as for any user.* name).
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups setfattr -n user.shadow.pin -v 1 "$mnt/d/b" 2>&1) &&
  it_fail "nobody pinned a file of root's"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/d/b" 2>/dev/null)" = 1 ] && it_fail "d/b pinned by nobody"

# Kept across a remount.
it_umount "$mnt"
[ "$(cat "$state/pins")" = d/a ] || it_fail "STATE/pins after the unmount: $(cat "$state/pins")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/d/a" 2>/dev/null)" = 1 ] || it_fail "d/a not pinned after the remount"
[ "$(getfattr --only-values -n user.shadow.threshold "$mnt/d" 2>/dev/null)" = 0.5 ] || it_fail "d's threshold lost at the remount"
IT_WATCH=$mnt/d/a it_wait_for "no copy of d/a after the remount" 15 copied
it_umount "$mnt"
echo "PASS: root pins and tunes a read-only BACKING (copy made and read), non-root refused, kept across a remount"
