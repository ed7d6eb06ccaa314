#!/usr/bin/env bash
# A copy dropped because its file changed while it was made is made again
# as soon as the file is quiet, not a whole shadow_tick later. A pin's
# setxattr does this by itself now and then: the kernel's deferred ctime
# SETATTR lands during the copy (fs_pin_gone_kill9 waited 60 s for its
# fourth file, one run in ten with two tests at once). Here the change is
# made on purpose: a copy paced to 4 MB/s (about 1 s for 4 MiB), the origin
# touched in BACKING meanwhile; shadow_tick=60, so only the early pass can
# make the copy in time.
# Usage: fs_copy_changed.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_copy_changed)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$backing/f"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,state=$state,hosts=$T/h,shadow_tick=60,shadow_quiet=0,copy_rate=4"
syncing() { it_shadow_state "$mnt/f" | grep -q ':syncing:'; }
serving() { it_shadow_state "$mnt/f" | grep -q ':serving:'; }

setfattr -n user.shadow.pin -v 1 "$mnt/f" || it_fail "pin"
IT_WATCH=$mnt/f it_wait_for "the copy did not start" 10 syncing
touch "$backing/f" # behind the mount's back, during the copy
t0=$(date +%s%N)
IT_WATCH=$mnt/f it_wait_for "the copy dropped for the change was not made again within 15 s" 15 serving
echo "copy made again $((($(date +%s%N) - t0) / 1000000)) ms after the change"
cmp -s <(cat "$mnt/f") "$backing/f" || it_fail "the copy reads other bytes"

fs_umount "$mnt"
echo "PASS"
