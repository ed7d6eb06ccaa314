#!/usr/bin/env bash
# A pin set on a file whose BACKING dentry the kernel dropped after the
# lookup (drop_caches here; memory pressure in life) while the kernel kept
# the mount's own dentry (a process holding the file, here an O_PATH fd):
# the pin reopens the file from its handle, disconnected (/proc shows "/"
# for it). The pin is named by the file's directory, as the mount last saw
# it (fs/rel_path.c, fs_rel_path_of): in STATE/pins.log before setfattr
# returns, in STATE/pins after the unmount, and in effect after a remount.
# Before, it had no path: nothing was logged, and unless a rename named it
# meanwhile the pin was gone at the next mount (fs_soak lost one in 8 runs).
# Also after a rename of the file and of its directory through the mount.
# And a directory's user.shadow.never reaches such a file (by its entry's
# path): it had the defaults, and a pin copied it; and a file setting
# (user.shadow.threshold) on such a file is kept: it answered ENOENT.
# Usage: fs_pin_disconnected.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_disconnected)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/d/sub" "$backing/e"
mkdir -p "$backing/nv"
for f in top d/sub/a d/sub/b d/sub/c nv/x; do head -c 8192 /dev/urandom >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
# A directory's user.shadow.never reaches a file of it whose origin fd is
# disconnected (the control loop's settings by the entry's path); before,
# such a file got the defaults: pinned, it was copied.
setfattr -n user.shadow.never -v 1 "$mnt/nv" || it_fail "never=1 on nv"
python3 - "$mnt" "$state" <<'PY' || it_fail "a pin or a setting of a disconnected file"
import os, sys, time
mnt, state = sys.argv[1:3]
def set_disconnected(name, attr, value):
    # the lookup (no fd kept by the mount: a handle), the kernel's dentry
    # held, BACKING's dropped, then the setxattr by path (no new lookup)
    path = os.path.join(mnt, name)
    held = os.open(path, os.O_PATH)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")
    try:
        os.setxattr(path, attr, value)
    except OSError as e:
        print("%s on disconnected %s: %s" % (attr, name, e))
        sys.exit(1)
    finally:
        os.close(held)
def lines(f):
    try:
        return open(os.path.join(state, f)).read().split("\n")
    except FileNotFoundError:  # not written yet
        return []
def pin_disconnected(name):
    set_disconnected(name, "user.shadow.pin", b"1")
    # recorded before setfattr returned: in the log, or folded already
    # into STATE/pins (a pin wakes the control loop)
    log, pins = lines("pins.log"), lines("pins")
    if "+" + name not in log and name not in pins:
        print("pin of %s: not recorded: pins.log %r, pins %r" % (name, log, pins))
        sys.exit(1)
pin_disconnected("top")
pin_disconnected("d/sub/a")
# renamed through the mount (into another directory, then that directory)
os.rename(os.path.join(mnt, "d/sub/b"), os.path.join(mnt, "e/b"))
os.rename(os.path.join(mnt, "e"), os.path.join(mnt, "e2"))
pin_disconnected("e2/b")
pin_disconnected("nv/x")
# a file setting the same way (it answered ENOENT: no path, no key)
set_disconnected("d/sub/c", "user.shadow.threshold", b"0.5")
got = os.getxattr(os.path.join(mnt, "d/sub/c"), "user.shadow.threshold")
if got != b"0.5":
    print("user.shadow.threshold reads %r" % got)
    sys.exit(1)
PY
# the others are copied; nv/x, never, is not
copied() { it_shadow_state "$mnt/$1" | grep -q 'copy=[^ ]*:serving'; }
for f in top d/sub/a e2/b; do IT_WATCH=$mnt/$f it_wait_for "no copy of $f" 15 copied "$f"; done
sleep 1 # ten ticks
! it_shadow_state "$mnt/nv/x" | grep -q 'copy=' ||
  it_fail "nv/x (never=1 by its directory) was copied: $(it_shadow_state "$mnt/nv/x")"
fs_umount "$mnt"
want=$(printf 'd/sub/a\ne2/b\nnv/x\ntop\n')
[ "$(sort "$state/pins")" = "$want" ] || it_fail "STATE/pins after the unmount: $(cat "$state/pins")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in top d/sub/a e2/b nv/x; do
  [ "$(getfattr --only-values -n user.shadow.pin "$mnt/$f" 2>/dev/null)" = 1 ] ||
    it_fail "$f not pinned after the remount"
done
fs_umount "$mnt"
echo "PASS: 4 pins of disconnected files logged by their paths, kept across a remount; never=1 of a directory kept"
