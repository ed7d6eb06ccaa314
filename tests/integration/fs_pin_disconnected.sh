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
# Usage: fs_pin_disconnected.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_disconnected)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/d/sub" "$backing/e"
for f in top d/sub/a d/sub/b; do head -c 8192 /dev/urandom >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
python3 - "$mnt" "$state" <<'PY' || it_fail "a pin of a disconnected file"
import os, sys, time
mnt, state = sys.argv[1:3]
def pin_disconnected(name, shown):
    # the lookup (no fd kept by the mount: a handle), the kernel's dentry
    # held, BACKING's dropped, then the pin by path (no new lookup)
    held = os.open(os.path.join(mnt, name), os.O_PATH)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")
    os.setxattr(os.path.join(mnt, name), "user.shadow.pin", b"1")
    # recorded before setfattr returned: in the log, or folded already
    # into STATE/pins (a pin wakes the control loop)
    log = open(os.path.join(state, "pins.log")).read().split("\n")
    pins = open(os.path.join(state, "pins")).read().split("\n")
    os.close(held)
    if "+" + shown not in log and shown not in pins:
        print("pin of %s: not recorded as %s: pins.log %r, pins %r" % (name, shown, log, pins))
        sys.exit(1)
pin_disconnected("top", "top")
pin_disconnected("d/sub/a", "d/sub/a")
# renamed through the mount (into another directory, then that directory)
os.rename(os.path.join(mnt, "d/sub/b"), os.path.join(mnt, "e/b"))
os.rename(os.path.join(mnt, "e"), os.path.join(mnt, "e2"))
pin_disconnected("e2/b", "e2/b")
PY
fs_umount "$mnt"
want=$(printf 'd/sub/a\ne2/b\ntop\n')
[ "$(sort "$state/pins")" = "$want" ] || it_fail "STATE/pins after the unmount: $(cat "$state/pins")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in top d/sub/a e2/b; do
  [ "$(getfattr --only-values -n user.shadow.pin "$mnt/$f" 2>/dev/null)" = 1 ] ||
    it_fail "$f not pinned after the remount"
done
fs_umount "$mnt"
echo "PASS: 3 pins of disconnected files logged by their paths, kept across a remount"
