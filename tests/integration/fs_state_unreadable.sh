#!/usr/bin/env bash
# A user's mount whose STATE/pins and STATE/tuning it cannot read (restored
# from a backup made as root: root's, mode 0600): the mount says so at
# start and never replaces them. Before, the first tuning change replaced
# STATE/tuning and the first pin change's fold replaced STATE/pins (the
# user may rename over root's file in its own directory), and every
# setting and pin they held was lost for good. Now a tuning change fails
# (EIO, as with a directory in the file's place) and a pin change goes to
# STATE/pins.log only; once the operator gives the files back, the next
# mount has the old settings and pins and the new pin.
# Runs as uid 65534 in a private mount namespace (a 0666 /dev/fuse bound
# over the real one, as fs_user_mount.sh does).
# Usage: fs_state_unreadable.sh SHADOWFS
if [ -z "${FS_STATE_UNREADABLE_NS:-}" ]; then
  FS_STATE_UNREADABLE_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
T=$(it_tmpdir fs_state_unreadable)
UID_=65534
mkdir -p "$T/bin" "$T/dev" "$T/home" "$T/b" "$T/m" "$T/s" "$T/h"
cp "$1" "$T/bin/shadowfs" && chmod 755 "$T/bin/shadowfs" || it_fail "copying shadowfs"
for f in a b c; do head -c 5000 /dev/urandom >"$T/b/$f"; done
chown -R "$UID_:$UID_" "$T/home" "$T/b" "$T/m" "$T/s" "$T/h"
it_tmpfs "$T/dev" 1m
mknod -m 666 "$T/dev/fuse" c 10 229 && mount --bind "$T/dev/fuse" /dev/fuse ||
  it_fail "binding a 0666 /dev/fuse node"
IT_TMPFS=(/dev/fuse "${IT_TMPFS[@]}")

USER_ENV=(setpriv --reuid=$UID_ --regid=$UID_ --clear-groups
  env -u SHADOWFS_RUN_DIR -u SHADOWFS_STATE_ROOT HOME="$T/home")
as_user() { "${USER_ENV[@]}" "$@"; }
mounted() { awk -v m="$T/m" '$5 == m' /proc/self/mountinfo | grep -q ' - fuse.shadowfs '; }
user_mount() { # LOG
  "${USER_ENV[@]}" "$T/bin/shadowfs" "$T/b" "$T/m" -f \
    -o "state=$T/s,hosts=$T/h,norecord,shadow_tick=0.1" 2>"$1" &
  IT_PID=$!
  IT_PIDS+=("$IT_PID")
  IT_MOUNTS+=("$T/m")
  for _ in $(seq 100); do
    mounted && return 0
    kill -0 "$IT_PID" 2>/dev/null || it_fail "the user's shadowfs exited: $(cat "$1")"
    sleep 0.05
  done
  it_fail "the user's shadowfs did not mount within 5 s: $(cat "$1")"
}
user_umount() {
  as_user fusermount3 -u "$T/m" || it_fail "fusermount3 -u by the user"
  wait "$IT_PID"
  local rc=$?
  [ "$rc" -eq 0 ] || it_fail "the user's shadowfs exited with status $rc after unmount"
}
get() { as_user getfattr --only-values -n "user.shadow.$2" "$T/m/$1" 2>/dev/null; }

user_mount "$T/mount1.log"
as_user setfattr -n user.shadow.capacity -v 7 "$T/m/a" || it_fail "capacity on a"
as_user setfattr -n user.shadow.pin -v 1 "$T/m/b" || it_fail "pin b"
user_umount
grep -q 'capacity 7' "$T/s/tuning" && grep -qx b "$T/s/pins" || it_fail "not recorded: $(cat "$T/s/tuning" "$T/s/pins")"

# Restored as root: the user cannot read them.
chown root:root "$T/s/tuning" "$T/s/pins" && chmod 600 "$T/s/tuning" "$T/s/pins"
user_mount "$T/mount2.log"
grep -q "cannot read $T/s/tuning: Permission denied" "$T/mount2.log" || it_fail "tuning not said: $(cat "$T/mount2.log")"
grep -q "cannot read $T/s/pins: Permission denied" "$T/mount2.log" || it_fail "pins not said: $(cat "$T/mount2.log")"
out=$(as_user setfattr -n user.shadow.window -v 2 "$T/m/c" 2>&1) &&
  it_fail "a setting returned 0 with STATE/tuning unreadable (it replaced the file)"
grep -q "Input/output error" <<<"$out" || it_fail "setting with STATE/tuning unreadable: '$out'"
as_user setfattr -n user.shadow.pin -v 1 "$T/m/c" || it_fail "pin c (to the log)"
sleep 0.5 # a few ticks: the fold must not replace STATE/pins
user_umount
[ "$(stat -c %u "$T/s/tuning")" = 0 ] || it_fail "STATE/tuning replaced: $(ls -l "$T/s")"
[ "$(stat -c %u "$T/s/pins")" = 0 ] || it_fail "STATE/pins replaced: $(ls -l "$T/s")"

# Given back: nothing was lost, and the pin made meanwhile is kept.
chown "$UID_:$UID_" "$T/s/tuning" "$T/s/pins"
user_mount "$T/mount3.log"
[ "$(get a capacity)" = 7 ] || it_fail "a lost its capacity: '$(get a capacity)'"
[ "$(get b pin)" = 1 ] || it_fail "b lost its pin"
[ "$(get c pin)" = 1 ] || it_fail "c lost the pin made while STATE/pins was unreadable"
user_umount
echo "ok: unreadable STATE/pins and STATE/tuning said and never replaced; nothing lost"
