#!/usr/bin/env bash
# Shadowing holds no fd for files it no longer wants: 100 files pinned,
# copied, then unpinned and demoted leave the daemon with as many open fds
# as before the pins (each entry kept an fd on its origin for as long as
# the mount ran: every file ever pinned or forecast hot, towards
# RLIMIT_NOFILE). A file pinned again is copied and served again.
# Usage: fs_shadow_fds.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_shadow_fds)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
N=100
for i in $(seq $N); do head -c 4096 /dev/urandom >"$backing/f$i"; done
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$T/h,shadow_tick=0.05,shadow_quiet=0,shadow_idle=0.2"
fds() { ls "/proc/$IT_PID/fd" | wc -l; }
for i in $(seq $N); do cat "$mnt/f$i" >/dev/null; done # every inode looked up and cached
before=$(fds)
for i in $(seq $N); do setfattr -n user.shadow.pin -v 1 "$mnt/f$i" || it_fail "pin f$i"; done
copies() { it_copies_in "$T/h"; }
all_copied() { [ "$(copies)" -eq "$N" ]; }
it_wait_for "not every pinned file was copied" 60 all_copied
pinned=$(fds)
for i in $(seq $N); do setfattr -x user.shadow.pin "$mnt/f$i" || it_fail "unpin f$i"; done
none_left() { [ "$(copies)" -eq 0 ]; }
it_wait_for "the copies were not dropped" 30 none_left
sleep 0.5 # a tick or two: the entries are parked
after=$(fds)
echo "open fds: $before before the pins, $pinned with $N files pinned and copied, $after after the demotion"
[ "$pinned" -ge $((before + N)) ] || it_fail "pinned files hold fewer fds than expected ($pinned)"
[ "$after" -le $((before + 5)) ] || it_fail "$((after - before)) fds still held for files no longer shadowed"
# Wanted again: the fd comes back, the file is copied and served.
setfattr -n user.shadow.pin -v 1 "$mnt/f7" || it_fail "pin f7 again"
serving() { it_shadow_state "$mnt/f7" | grep -q "copy=$T/h:v[0-9]*:serving"; }
IT_WATCH=$mnt/f7 it_wait_for "f7 not copied again" 20 serving
for _ in $(seq 20); do cmp -s "$mnt/f7" "$backing/f7" || it_fail "f7 read wrong"; done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
