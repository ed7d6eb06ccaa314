#!/usr/bin/env bash
# A kill -9 between a rename through the mount and its record in
# STATE/pins.log loses no pin: a pinned file renamed, a directory holding a
# pinned file renamed, and a file renamed over a pinned one are found at
# the next mount where the renames left them (the pins under the new names,
# none on the file that replaced a pinned one). Before, the record of the
# move came only after the rename, so the old name was pinned at the next
# start: "pinned file x is gone: pin dropped", and the file that took a
# pinned file's name got its pin. The fault option holds each rename
# between BACKING and its record (fault_rename_record_delay_ms); the three
# are in three directories, as a rename holds its directory's lock.
# Usage: fs_pin_rename_kill9.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_rename_kill9)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/a" "$backing/b/d" "$backing/c"
for f in a/x b/d/f c/v c/w keep; do echo "old $f" >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=60,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pin() { it_shadow_state "$mnt/$1" | grep -q "^pinned=1 "; }
for f in a/x b/d/f c/v keep; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
fs_umount "$mnt"
[ "$(sort "$state/pins" | tr '\n' ' ')" = 'a/x b/d/f c/v keep ' ] || it_fail "STATE/pins after the unmount: $(cat "$state/pins")"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS,fault_rename_record_delay_ms=20000"
for f in a/x b/d/f c/v keep; do
  pin "$f" || it_fail "$f not pinned after the remount: user.shadow.state: $(it_shadow_state "$mnt/$f")"
done
mv "$mnt/a/x" "$mnt/a/x2" 2>/dev/null & m1=$!
mv "$mnt/b/d" "$mnt/b/d2" 2>/dev/null & m2=$!
mv "$mnt/c/w" "$mnt/c/v" 2>/dev/null & m3=$!
made() { [ -e "$backing/a/x2" ] && [ -e "$backing/b/d2/f" ] && [ "$(cat "$backing/c/v")" = "old c/w" ]; }
it_wait_for "the renames not made in BACKING" 10 made
kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
wait $m1 $m2 $m3 2>/dev/null # their requests end with the daemon (ENOTCONN)
fusermount3 -u "$mnt" || it_fail "fusermount3 -u of the dead mount"
grep -q '^~' "$state/pins.log" || it_fail "no rename intent in STATE/pins.log: $(cat "$state/pins.log")"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(cat "$mnt/a/x2")" = "old a/x" ] && [ "$(cat "$mnt/b/d2/f")" = "old b/d/f" ] &&
  [ "$(cat "$mnt/c/v")" = "old c/w" ] ||
  it_fail "contents after the remount"
why="(STATE/pins: $(tr '\n' ' ' <"$state/pins"); log: $(tr '\n' ' ' <"$state/pins.log"))"
pin a/x2 || it_fail "after kill -9, a/x renamed to a/x2 lost its pin $why"
pin b/d2/f || it_fail "after kill -9, b/d/f renamed with b/d to b/d2 lost its pin $why"
pin c/v && it_fail "after kill -9, c/w renamed over pinned c/v took its pin $why"
pin keep || it_fail "after kill -9, keep lost its pin $why"
grep -q '^~' "$state/pins.log" && it_fail "the intents were not folded into STATE/pins at the start $why"
[ "$(sort "$state/pins" | tr '\n' ' ')" = 'a/x2 b/d2/f keep ' ] || it_fail "STATE/pins after the start $why"
fs_umount "$mnt"
echo "ok: pins follow renames cut short by a kill -9"
