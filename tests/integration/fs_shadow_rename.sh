#!/usr/bin/env bash
# Shadowed files keep their names through renames made through the mount
# (fs/shadow_paths.c); before, an entry kept the path it was made with:
# shadowctl listed a renamed file under its old name and, at the next
# start, its pin was dropped ("pinned file ... is gone") or given to
# whatever file had taken the old name.
# 1. pinned files renamed (a file, a directory holding two, and a
#    RENAME_EXCHANGE of a pinned file with an unpinned one): STATE/pins and
#    STATE/shadows.status name them by their new paths, and the copies keep
#    serving the right bytes;
# 2. the daemon killed (-9) right after further renames, so only
#    STATE/pins.log holds them: the next mount pins the files at their new
#    names, not the old ones (none is said to be gone), and copies them
#    again;
# 3. a file renamed behind the mount's back and pinned again through the
#    mount is recorded under its new name;
# 4. RENAME_EXCHANGE of a symlink with a pinned file and with a directory
#    holding one: the pins follow (the symlink's side stopped the rename
#    being followed).
# Usage: fs_shadow_rename.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_shadow_rename)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$backing/d1/sub" "$T/h"
for f in d1/a d1/sub/b c x; do head -c 8192 /dev/urandom >"$backing/$f"; done
OPTS="norecord,cache=never,state=$state,hosts=$T/h,shadow_tick=0.1,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in d1/a d1/sub/b c; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
serving() { it_shadow_state "$mnt/$1" | grep -q ":serving"; }
for f in d1/a d1/sub/b c; do IT_WATCH=$mnt/$f it_wait_for "$f not copied" 30 serving "$f"; done

# 1. Renames through the mount.
mv "$mnt/c" "$mnt/c2" || it_fail "mv c"
mv "$mnt/d1" "$mnt/d2" || it_fail "mv d1"
python3 - "$mnt/c2" "$mnt/x" <<'PY' || it_fail "RENAME_EXCHANGE"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_EXCHANGE):
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
PY
# c's bytes are at x now, the unpinned file's at c2.
want_pins=$(printf 'd2/a\nd2/sub/b\nx\n')
pins_now() { sort "$state/pins"; }
pins_right() { [ "$(pins_now)" = "$want_pins" ]; }
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins after the renames" 10 pins_right
status_paths() { sed -n 's/^path="\([^"]*\)".*/\1/p' "$state/shadows.status" | sort; }
status_right() { [ "$(status_paths)" = "$want_pins" ]; }
IT_WAIT_SHOW='status_paths' it_wait_for "STATE/shadows.status after the renames" 10 status_right
"$CTL" shadows "$mnt" | grep -q "d2/sub/b" || it_fail "shadowctl shadows: $("$CTL" shadows "$mnt")"
for f in d2/a d2/sub/b x; do
  IT_WATCH=$mnt/$f it_wait_for "$f not serving after the renames" 30 serving "$f"
  for _ in $(seq 10); do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$f reads wrong"; done
done
echo "1: STATE/pins: $(pins_now | tr '\n' ' ')"

# 2. More renames, then the daemon killed: STATE/pins.log carries them.
mv "$mnt/d2/sub" "$mnt/sub3" || it_fail "mv d2/sub"
mv "$mnt/x" "$mnt/d2/y" || it_fail "mv x"
cat "$state/pins.log" >"$T/log" 2>/dev/null
kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
echo "2: STATE/pins.log at the kill: $(tr '\n' ' ' <"$T/log")"
IT_MOUNT_LOG=$T/mount2.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
want_pins=$(printf 'd2/a\nd2/y\nsub3/b\n')
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins after the restart" 10 pins_right
for f in d2/a d2/y sub3/b; do
  it_shadow_state "$mnt/$f" | grep -q "pinned=1" || it_fail "$f not pinned after the restart"
  IT_WATCH=$mnt/$f it_wait_for "$f not copied after the restart" 30 serving "$f"
done
[ "$(it_shadow_state "$mnt/c2" | grep -o 'pinned=[01]')" = pinned=0 ] || it_fail "c2 (the old name's new file) got a pin"
grep -q "is gone" "$T/mount2.log" && it_fail "a moved pin was taken for a gone file: $(cat "$T/mount2.log")"
echo "2: after the restart: $(pins_now | tr '\n' ' ')"

# 3. Renamed behind the mount's back, then unpinned and pinned again
# through the mount: recorded under the name it has now.
mv "$backing/d2/a" "$backing/d2/a-behind"
sleep 0.3 # the kernel's entry for d2/a may stay cached: look it up anew
ls "$mnt/d2" >/dev/null
setfattr -n user.shadow.pin -v 0 "$mnt/d2/a-behind" || it_fail "unpin a-behind"
setfattr -n user.shadow.pin -v 1 "$mnt/d2/a-behind" || it_fail "pin a-behind"
want_pins=$(printf 'd2/a-behind\nd2/y\nsub3/b\n')
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins after a rename behind the mount's back" 10 pins_right
echo "3: $(pins_now | tr '\n' ' ')"

# 4. RENAME_EXCHANGE of a symlink with a pinned file, and of a symlink with
# a directory holding one: the pins follow the files (before, a symlink's
# side made the rename unfollowed, and the pin stayed on the path the
# symlink took).
ln -s nowhere "$mnt/sl" && ln -s nowhere "$mnt/sl2" || it_fail "symlinks"
python3 - "$mnt" <<'PY' || it_fail "RENAME_EXCHANGE with symlinks"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for a, b in (("sl", "d2/y"), ("sl2", "sub3")):
    if libc.renameat2(-100, os.path.join(sys.argv[1], a).encode(), -100,
                      os.path.join(sys.argv[1], b).encode(), 2):
        sys.exit("renameat2 %s %s: %s" % (a, b, os.strerror(ctypes.get_errno())))
PY
[ -L "$mnt/d2/y" ] && [ -f "$mnt/sl" ] && [ -f "$mnt/sl2/b" ] || it_fail "the exchanges did not swap"
want_pins=$(printf 'd2/a-behind\nsl\nsl2/b\n')
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins after exchanges with symlinks" 10 pins_right
echo "4: $(pins_now | tr '\n' ' ')"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
