#!/usr/bin/env bash
# A BACKING without file handles (ramfs; a user's mount is the same) over
# more files than the mount may hold fds (RLIMIT_NOFILE 1024 here): files
# and directories are known by their names and reopened by name.
#  - 8,000 files in 20 directories all stat through the mount (each its own
#    lookup), and read back; with an fd per inode, lookups failed with
#    EMFILE from about the 1,000th; shadowfs stays under 600 fds;
#  - 3,000 directories (more than the limit) all stat, with a file in each;
#  - a file renamed through the mount, after its fd left the cache, reads
#    under its new name, and its old name is gone;
#  - a file open through the mount and unlinked through it: fchmod and fstat
#    on it still work (its fd is kept when its name goes);
#  - a file renamed behind the mount's back: the old path says ENOENT (the
#    kernel retries a reopen that failed with ESTALE), never another file's
#    bytes; the new path reads its bytes.
#  - shadowctl status counts the inodes known by name;
#  - a file made at the bottom of a tree 20,000 directories deep, after
#    the cache evicted every directory in it (the reopen of that chain
#    overflowed a worker thread's stack).
# Usage: fs_names_many.sh SHADOWFS FS_MKFILES SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 MKFILES=$2 CTL=$3
NDIRS=20 NFILES=400 TOTAL=8000
T=$(it_tmpdir fs_names_many)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
it_tmpfs "$backing" 0 ramfs
made=$("$MKFILES" create "$backing" $NDIRS $NFILES 2) || it_fail "creating files in BACKING"
mkdir "$backing/dirs" && [ "$("$MKFILES" create "$backing/dirs" 3000 1 2)" = 3000 ] ||
  it_fail "creating 3,000 directories in BACKING"
[ "$made" = $TOTAL ] || it_fail "created $made files, expected $TOTAL"
for d in 0 1 2; do echo "content of d$d/f7" >"$backing/d$d/f7"; done

ulimit -n 1024 # soft and hard: shadowfs cannot raise it
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "fd_cache=64,bucket=1,state=$T/state"
it_log_has "$T/mount.log" "files and directories are reopened by the name" || it_fail "ramfs gave file handles? $(cat "$T/mount.log")"

seen=$("$MKFILES" stat "$mnt" $NDIRS $NFILES 2) || it_fail "stat through the mount failed after $seen files"
[ "$seen" = $TOTAL ] || it_fail "stat'ed $seen files, expected $TOTAL"
find "$mnt" -type f -exec cat {} + >/dev/null || it_fail "reading every file through the mount"
fds=$(ls /proc/"$IT_PID"/fd | wc -l)
echo "looked up and read $TOTAL files with RLIMIT_NOFILE 1024; shadowfs holds $fds fds"
[ "$fds" -lt 600 ] || it_fail "shadowfs holds $fds fds (an fd per file?)"
# shadowctl status says so (the recorder writes its figures each bucket).
inodes_line() {
  "$CTL" status "$mnt" >"$T/status" 2>&1 &&
    grep -Eq "^inodes     [1-9][0-9]{4} known to the kernel, [1-9][0-9]{4} of them by name \(no file handles\); [0-9]+ O_PATH fds open \(cache bound 64\), [1-9][0-9]* reopens$" "$T/status"
}
IT_WAIT_SHOW='cat "$T/status" 2>/dev/null' it_wait_for "shadowctl status" 10 inodes_line
grep "^inodes" "$T/status"

# More directories than fds: each keyed by name too (with an fd each, the
# lookups failed with EMFILE past about 1,000 of them).
seen=$("$MKFILES" stat "$mnt/dirs" 3000 1 2) || it_fail "stat of 3,000 directories failed after $seen"
[ "$seen" = 3000 ] || it_fail "stat'ed $seen files in 3,000 directories"
fds=$(ls /proc/"$IT_PID"/fd | wc -l)
echo "and 3,000 directories; shadowfs holds $fds fds"
[ "$fds" -lt 600 ] || it_fail "shadowfs holds $fds fds after 3,000 directories (an fd per directory?)"

# Renamed through the mount, read after its fd was evicted (the find above
# read 8,000 files through a cache of 64).
mv "$mnt/d0/f7" "$mnt/d1/moved" || it_fail "rename through the mount"
find "$mnt/d5" -type f -exec cat {} + >/dev/null
[ "$(cat "$mnt/d1/moved")" = "content of d0/f7" ] || it_fail "the renamed file reads: $(cat "$mnt/d1/moved" 2>&1)"
[ -e "$mnt/d0/f7" ] && it_fail "the old name is still there"

# Open, unlinked through the mount, used by its fd after churn.
python3 - "$mnt/d2/f7" "$mnt/d6" <<'PY' || it_fail "a file unlinked while open"
import os, stat, sys
path, churn = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR)
os.unlink(path)
for name in os.listdir(churn):  # evicts cached fds
    with open(os.path.join(churn, name), "rb") as f:
        f.read()
os.fchmod(fd, 0o600)
st = os.fstat(fd)
if stat.S_IMODE(st.st_mode) != 0o600 or st.st_nlink != 0:
    sys.exit("fstat after unlink: mode %o nlink %d" % (st.st_mode, st.st_nlink))
if os.pread(fd, 64, 0) != b"content of d2/f7\n":
    sys.exit("read after unlink")
os.close(fd)
PY

# Renamed behind the mount's back (after its fd was evicted), another file
# put under the old name too: the old path opens the other file or nothing,
# never the renamed file's entry with the other's bytes, and the new path
# reads what it should.
[ "$(cat "$mnt/d1/f7")" = "content of d1/f7" ] || it_fail "d1/f7 before"
find "$mnt/d7" -type f -exec cat {} + >/dev/null
mv "$backing/d1/f7" "$backing/d1/behind" && echo "a newcomer" >"$backing/d1/f7"
out=$(cat "$mnt/d1/f7" 2>&1)
case $out in
"a newcomer" | *"No such file"*) ;;
*) it_fail "the old path after a rename behind the mount's back: $out" ;;
esac
[ "$(cat "$mnt/d1/behind")" = "content of d1/f7" ] || it_fail "the new path: $(cat "$mnt/d1/behind" 2>&1)"
# A tree 20,000 directories deep, made through the mount (mkdir and chdir,
# relative): once the cache has evicted every directory in it, a file made
# at the bottom reopens the whole chain. One stack frame set per level
# overflowed the worker thread's 8 MiB stack and killed the mount.
python3 - "$mnt/deep" "$mnt/d8" 20000 <<'PY' || it_fail "a file at the bottom of a 20,000-deep tree"
import os, sys
top, churn, depth = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.mkdir(top)
os.chdir(top)
for _ in range(depth):
    os.mkdir("d")
    os.chdir("d")
bottom = os.open(".", os.O_RDONLY)
for name in os.listdir(churn):  # evicts cached fds
    with open(os.path.join(churn, name), "rb") as f:
        f.read()
os.fchdir(bottom)
with open("at_the_bottom", "w") as f:
    f.write("deep\n")
with open("at_the_bottom") as f:
    if f.read() != "deep\n":
        sys.exit("the file at the bottom reads other bytes")
PY
kill -0 "$IT_PID" 2>/dev/null || it_fail "shadowfs died on the deep tree: $(tail -5 "$T/mount.log")"
echo "a file made and read 20,000 directories down; shadowfs holds $(ls /proc/"$IT_PID"/fd | wc -l) fds"

grep -Eiq "error|assert|sanitizer" "$T/mount.log" && it_fail "the mount logged: $(cat "$T/mount.log")"
it_umount "$mnt"
echo PASS
