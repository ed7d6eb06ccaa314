#!/usr/bin/env bash
# Pins are kept by path (STATE/pins), and a path deeper than PATH_MAX below
# BACKING cannot be had (a tree 2,100 directories deep here):
#  - a pin of a file down there is refused with ENAMETOOLONG, as a setting
#    is (before, it was taken, never recorded, and lost at the unmount);
#  - a pinned file renamed down there stays pinned while mounted, and its
#    old path leaves STATE/pins (before, STATE/pins kept it, and the next
#    mount pinned whatever file took the name), said in the log;
#  - a pinned file renamed down there and back up takes its new path
#    (before, STATE/pins kept the path it had before it went down);
#  - a directory with settings (and one below it with its own) renamed down
#    there: their settings leave STATE/tuning, said in the log (before,
#    they stayed on the old path, for whatever directory took the name);
#  - a directory holding a pinned file renamed down there and back up: the
#    file takes its path below the directory's new name (before, it kept
#    none and lost its pin at the unmount);
#  - RENAME_EXCHANGE of a pinned file with one down there, and of a
#    directory holding a pinned file with one down there and back: each
#    side followed as a plain rename is (before, such an exchange was not
#    followed: STATE/pins kept the pinned file's old path, now another
#    file's);
#  - directories with settings exchanged with one down there (either side
#    named first): their settings go, said in the log (before, they stayed
#    on the path the other directory took); one without settings moved
#    down is not said to lose any;
#  - after a remount: the files back up are pinned, the newcomers that
#    took the old names are not.
# Usage: fs_pin_deep.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_deep)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
mkdir -p "$backing/dp" "$backing/ez"
for f in f g e dp/inner ez/in; do head -c 8192 /dev/urandom >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in f g e dp/inner ez/in; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
mkdir -p "$mnt/tuned/sub" "$mnt/kept"
setfattr -n user.shadow.threshold -v 0.5 "$mnt/tuned" || it_fail "threshold on tuned"
setfattr -n user.shadow.never -v 1 "$mnt/tuned/sub" || it_fail "never on tuned/sub"
setfattr -n user.shadow.threshold -v 0.7 "$mnt/kept" || it_fail "threshold on kept"
mkdir "$mnt/up"
for d in ez up; do setfattr -n user.shadow.capacity -v 5 "$mnt/$d" || it_fail "capacity on $d"; done

python3 - "$mnt" 2100 <<'PY' || it_fail "pins and a tree deeper than PATH_MAX"
import errno, os, sys
mnt, depth = sys.argv[1], int(sys.argv[2])
top = os.open(mnt, os.O_RDONLY)
os.chdir(mnt)
for _ in range(depth):
    os.mkdir("d")
    os.chdir("d")
bottom = os.open(".", os.O_RDONLY)
with open("x", "w") as f:
    f.write("deep")
try:
    os.setxattr("x", "user.shadow.pin", b"1")
    sys.exit("a pin 2,100 directories down was taken (it cannot be kept by path)")
except OSError as e:
    if e.errno != errno.ENAMETOOLONG:
        sys.exit("a pin 2,100 directories down: %s (want ENAMETOOLONG)" % e)
if os.getxattr("x", "user.shadow.pin") != b"0":
    sys.exit("the refused pin reads %r" % os.getxattr("x", "user.shadow.pin"))
os.rename("f", "f", src_dir_fd=top, dst_dir_fd=bottom)
if os.getxattr("f", "user.shadow.pin") != b"1":
    sys.exit("f lost its pin on the way down while mounted")
os.rename("g", "g", src_dir_fd=top, dst_dir_fd=bottom)
os.rename("g", "back", src_dir_fd=bottom, dst_dir_fd=top)
with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=top), "w") as f:
    f.write("a newcomer")
os.rename("tuned", "tuned", src_dir_fd=top, dst_dir_fd=bottom)
os.mkdir("tuned", dir_fd=top)
os.rename("dp", "dp", src_dir_fd=top, dst_dir_fd=bottom)
os.rename("dp", "dq", src_dir_fd=bottom, dst_dir_fd=top)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def exchange(a, b, adir=top, bdir=bottom):
    if libc.renameat2(adir, a.encode(), bdir, b.encode(), 2):
        sys.exit("renameat2 %s %s: %s" % (a, b, os.strerror(ctypes.get_errno())))
exchange("e", "x")  # the pinned e down, the unpinned x up
up = os.open("e", os.O_RDONLY, dir_fd=top)
if os.getxattr("x", "user.shadow.pin") != b"1" or os.getxattr(up, "user.shadow.pin") != b"0":
    sys.exit("the exchanged files' pins did not stay with them")
os.mkdir("w")
exchange("ez", "w")  # down
exchange("ez", "w")  # and back up
os.mkdir("w2")
exchange("w2", "up", bottom, top)  # the deep side first: up goes down
PY
for f in e dp/inner ez/in; do
  it_log_has "$T/mount.log" "pinned $f moved deeper than PATH_MAX" || it_fail "the log does not say $f went down: $(cat "$T/mount.log")"
done
for d in ez up; do
  it_log_has "$T/mount.log" "directory $d moved deeper than PATH_MAX" || it_fail "the log does not say $d's settings went: $(cat "$T/mount.log")"
  grep -q " /$d$" "$state/tuning" && it_fail "STATE/tuning keeps the settings of $d, exchanged down: $(cat "$state/tuning")"
done
grep -q "directory dp moved" "$T/mount.log" && it_fail "the log says dp's settings went (it had none)"
it_log_has "$T/mount.log" "directory tuned moved deeper than PATH_MAX" || it_fail "the log does not say tuned's settings went: $(cat "$T/mount.log")"
grep -q "/tuned" "$state/tuning" && it_fail "STATE/tuning keeps the settings of the moved tuned: $(cat "$state/tuning")"
grep -q "/kept$" "$state/tuning" || it_fail "STATE/tuning lost kept's setting: $(cat "$state/tuning")"
it_log_has "$T/mount.log" "pinned f moved deeper than PATH_MAX" || it_fail "the log does not say f's pin is not kept: $(cat "$T/mount.log")"
fs_umount "$mnt"
pins=$(sort "$state/pins" | tr '\n' ' ')
[ "$pins" = "back dq/inner ez/in " ] || it_fail "STATE/pins after the unmount: '$pins' (want: back dq/inner ez/in)"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in back dq/inner ez/in; do
  [ "$(getfattr --only-values -n user.shadow.pin "$mnt/$f")" = 1 ] || it_fail "$f lost its pin across the remount"
done
for f in f e; do
  [ "$(getfattr --only-values -n user.shadow.pin "$mnt/$f")" = 0 ] || it_fail "the newcomer named $f was pinned by the remount"
done
grep -Eiq "sanitizer|assert" "$T/mount.log" && it_fail "the mount logged: $(cat "$T/mount.log")"
fs_umount "$mnt"
echo PASS
