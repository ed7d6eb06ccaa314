#!/usr/bin/env bash
# Fault: a local host store whose filesystem is full (a real 1 MiB tmpfs).
#  - a pinned 3 MiB file cannot be copied: no copy, no temporary file left
#    in the store, the error shown in user.shadow.state (copy_error=ENOSPC),
#    one warning in the log (not one per tick), and attempts backed off
#    (1 s, 2 s, ...: at most 4 in 4 s where ticks of 0.1 s would make 40);
#  - reads of it through the mount stay right (served by the origin);
#  - a small file still gets its copy on the same host;
#  - once the filesystem has room (remounted larger) and the file is pinned
#    again, it is copied at once, byte-identical, and the log says so.
# Usage: fault_store_full.sh SHADOWFS
. "$(dirname "$0")/../integration/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir store_full)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_tmpfs "$T/host" 1m
head -c 3M /dev/urandom >"$backing/big"
head -c 100K /dev/urandom >"$backing/small"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$T/host,shadow_tick=0.1,shadow_quiet=0" 2>"$T/log"

state_of() { it_shadow_state "$mnt/$1"; }
wait_for() { # DESC SECONDS CMD...
  local d=$1 s=$2; shift 2
  for _ in $(seq $((s * 20))); do "$@" && return 0; sleep 0.05; done
  it_fail "$d after $s s: big: $(state_of big) small: $(state_of small)"
}
failed() { state_of big | grep -q "copies=0 copy_error=ENOSPC copy_failures=[0-9]* retry_in_s="; }
serving() { state_of "$1" | grep -q ":serving:"; }

setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin big"
wait_for "no ENOSPC shown for big" 3 failed
sleep 4
echo "after 4 s: $(state_of big)"
n=$(state_of big | sed -n 's/.*copy_failures=\([0-9]*\).*/\1/p')
[ "$n" -ge 1 ] && [ "$n" -le 4 ] || it_fail "$n copy attempts in about 4 s (no back-off?)"
w=$(grep -c "cannot copy big: No space left on device" "$T/log")
[ "$w" -eq 1 ] || it_fail "$w warnings for the same failure: $(cat "$T/log")"
[ -z "$(ls -A "$T/host")" ] || it_fail "the store kept something: $(ls -la "$T/host")"
cmp -s "$mnt/big" "$backing/big" || it_fail "big reads wrong through the mount"

setfattr -n user.shadow.pin -v 1 "$mnt/small" || it_fail "pin small"
wait_for "small not copied" 3 serving small
cmp -s "$mnt/small" "$backing/small" || it_fail "small reads wrong"

mount -o remount,size=8m "$T/host" || it_fail "cannot grow the tmpfs"
setfattr -n user.shadow.pin -v 0 "$mnt/big" && setfattr -n user.shadow.pin -v 1 "$mnt/big" ||
  it_fail "pin big again"
wait_for "big not copied once there is room" 3 serving big
state_of big | grep -q "copy_error" && it_fail "the error stays after a success: $(state_of big)"
copy=$(ls "$T/host" | grep -v '^unsynced\.' | while read -r f; do
  [ "$(stat -c %s "$T/host/$f")" = 3145728 ] && echo "$f"; done | head -1)
[ -n "$copy" ] || copy=$(ls "$T/host" | while read -r f; do
  [ "$(stat -c %s "$T/host/$f")" = 3145728 ] && echo "$f"; done | head -1)
[ -n "$copy" ] && cmp -s "$T/host/$copy" "$backing/big" || it_fail "big's copy differs or is missing"
grep -q "shadow: big copied after [0-9]* failed attempt" "$T/log" || it_fail "no recovery line: $(cat "$T/log")"
cmp -s "$mnt/big" "$backing/big" || it_fail "big reads wrong after the copy"
echo "ok: $(state_of big)"
