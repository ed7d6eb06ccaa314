#!/usr/bin/env bash
# A pinned file removed through the mount (unlink, or another file renamed
# over it: a save by rename) loses its pin at once, and a kill -9 right
# after does not bring the pin back on the new file that took its name.
# Before, the pin was dropped from STATE/pins only by the control loop's
# next fold (this test's loop runs once a minute), so the next mount pinned
# the new x and y; a pinned file renamed over another keeps its pin under
# the new name either way.
# Usage: fs_pin_gone_kill9.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_gone_kill9)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
for f in x y z q; do echo "old $f" >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=60,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pin() { it_shadow_state "$mnt/$1" | grep -q "^pinned=1 "; }
serving() { it_shadow_state "$mnt/$1" | grep -q ":serving:"; }
for f in x y z q; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
for f in x y z q; do it_wait_for "$f not copied" 10 serving "$f"; done
it_wait_for "pins not folded into STATE/pins" 10 \
  bash -c "[ \"\$(sort '$state/pins' | tr '\n' ' ')\" = 'q x y z ' ] && [ ! -s '$state/pins.log' ]"

rm "$mnt/x" || it_fail "unlink x"
echo "new x" >"$mnt/x" || it_fail "create x"
echo "new y" >"$mnt/y.tmp" && mv "$mnt/y.tmp" "$mnt/y" || it_fail "save y by rename"
mv "$mnt/z" "$mnt/q" || it_fail "mv z q"
pin x && it_fail "the new x is pinned"
pin y && it_fail "the new y is pinned"
pin q || it_fail "q (z before) lost its pin"
kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
fusermount3 -u "$mnt" || it_fail "fusermount3 -u of the dead mount"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(cat "$mnt/x")" = "new x" ] && [ "$(cat "$mnt/y")" = "new y" ] && [ "$(cat "$mnt/q")" = "old z" ] ||
  it_fail "contents after the remount"
pin x && it_fail "after kill -9, the new x got the removed file's pin (STATE/pins: $(cat "$state/pins"), log: $(cat "$state/pins.log"))"
pin y && it_fail "after kill -9, the new y got the replaced file's pin (STATE/pins: $(cat "$state/pins"), log: $(cat "$state/pins.log"))"
pin q || it_fail "after kill -9, q (z before) lost its pin"
fs_umount "$mnt"
echo "ok: pins of removed files stay removed through a kill -9"
