#!/usr/bin/env bash
# STATE/pins and STATE/tuning lines longer than a path can be (a pinned
# file, or a directory with settings, whose path grew past PATH_MAX as
# directories above it were renamed through the mount) are skipped whole
# at the next mount. Before, such a line was read as two: the tail of the
# path pinned the file it happened to name ("victim"), and a tail shaped
# like a line ("d copies 4 /victimdir") gave a setting to another
# directory.
# Usage: fs_state_long_paths.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_state_long_paths)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/victimdir"
echo victim >"$backing/victim"
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
# Paths built with *at calls (below PATH_MAX for the kernel at every step),
# then five one-character directories renamed to 255 characters. Pins are
# read in chunks of PATH_MAX + 1 characters, tuning lines in chunks of
# PATH_MAX + 1024 + 127: each path is sized so that the second chunk is
# the bait.
python3 - "$mnt" <<'PY' || it_fail "building the long paths"
import os, sys
os.chdir(sys.argv[1])
GROW = 5 * 254  # each of a/b/c/d/e renamed to 255 characters
def build(top, length, last):
    """Makes top/a/b/c/d/e/DIRS.../NAME, NAME ending with last, its path
    length characters long once a..e are renamed; returns the fd of
    NAME's directory and NAME."""
    rem = length - GROW - len(top) - 5 * 2 - 1  # k "/DIR"s and NAME
    k = rem // 201
    comp = rem - 201 * k
    if comp < len(last) + 1:
        k, comp = k - 1, comp + 201
    fd = os.open(".", os.O_RDONLY)
    for n in [top, "a", "b", "c", "d", "e"] + ["d" * 200] * k:
        os.mkdir(n, dir_fd=fd)
        nfd = os.open(n, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd, "x" * (comp - len(last)) + last
def grow(top):
    path = top
    for n in ("a", "b", "c", "d", "e"):
        os.rename(path + "/" + n, path + "/" + n.upper() * 255)
        path += "/" + n.upper() * 255
# pins: "PATH\n" read in chunks of PATH_MAX + 1 = 4097 characters
fd, name = build("p", 4097 + len("victim"), "victim")
f = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
os.write(f, b"deep")
os.setxattr(f, "user.shadow.pin", b"1")
os.close(f)
os.close(fd)
grow("p")
# tuning: "d copies 2 /PATH\n" read in chunks of 4096 + 1024 + 127 = 5247
bait = "d copies 4 "  # the name's end; then /victimdir
fd, name = build("t", 5247 - len("d copies 2 /") + len(bait), bait)
os.mkdir(name, dir_fd=fd)
nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
os.mkdir("victimdir", dir_fd=nfd)
v = os.open("victimdir", os.O_RDONLY, dir_fd=nfd)
os.setxattr(v, "user.shadow.copies", b"2")
for x in (v, nfd, fd):
    os.close(x)
grow("t")
PY
fs_umount "$mnt"
awk 'length($0) == 4097 + 6' "$state/pins" | grep -q 'victim$' || it_fail "no long line in STATE/pins"
grep -q 'd copies 4 /victimdir$' "$state/tuning" || it_fail "no long line in STATE/tuning"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/victim")" = 0 ] ||
  it_fail "victim pinned by the tail of a long STATE/pins line"
getfattr -n user.shadow.copies "$mnt/victimdir" >/dev/null 2>&1 &&
  it_fail "victimdir has copies=$(getfattr --only-values -n user.shadow.copies "$mnt/victimdir") from the tail of a long STATE/tuning line"
fs_umount "$mnt"
echo "ok: over-long STATE lines skipped whole"
