#!/usr/bin/env bash
# An unlink, or a rename over a pinned file, that fails (the backing file
# is immutable: EPERM) leaves the file pinned, in STATE/pins, with its copy.
# Before, the pin was forgotten and the copy dropped ahead of the op,
# whether or not the file went.
# Usage: fs_pin_failed_unlink.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_failed_unlink)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
head -c 8192 /dev/urandom >"$backing/p"
echo other >"$backing/src"
if ! chattr +i "$backing/p" 2>/dev/null; then
  echo "SKIP: chattr +i not supported under $backing"
  exit 77
fi
chattr -i "$backing/p"
fail() { chattr -i "$backing/p" 2>/dev/null; it_fail "$@"; }
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,hosts=$T/h,shadow_tick=0.1,shadow_quiet=0"
setfattr -n user.shadow.pin -v 1 "$mnt/p" || fail "pin p"
serving() { it_shadow_state "$mnt/p" | grep -q ":serving"; }
it_wait_for "p not copied" 30 serving
chattr +i "$backing/p"
rm -f "$mnt/p" 2>/dev/null && fail "rm of an immutable file succeeded"
mv -f "$mnt/src" "$mnt/p" 2>/dev/null && fail "mv over an immutable file succeeded"
chattr -i "$backing/p"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/p")" = 1 ] || fail "p unpinned by a failed unlink"
sleep 0.5 # a tick or more: STATE/pins rewritten
grep -qx p "$state/pins" || fail "STATE/pins lost p: $(cat "$state/pins")"
IT_WATCH=$mnt/p it_wait_for "p has no serving copy after the failed unlink" 10 serving
cmp -s "$mnt/p" "$backing/p" || fail "p reads wrong"
rm "$mnt/p" || fail "rm p"
gone() { ! grep -q . "$state/pins"; }
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins after rm" 10 gone
fs_umount "$mnt"
echo "ok: a failed unlink and rename keep the pin"
