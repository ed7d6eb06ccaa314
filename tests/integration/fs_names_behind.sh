#!/usr/bin/env bash
# Objects known by name (a ramfs BACKING: no file handles), a cache of 16
# fds, and changes made behind the mount's back or to trees of hard links:
#  - a directory moved into one that was below it, in BACKING (A/B -> B,
#    then A -> B/A), and looked up there from a process whose cwd is B:
#    the mount keeps serving (the lookup keyed A under B, whose key was
#    still A/B: a loop of keys that every later reopen walked for ever,
#    holding the table lock, and every request of every process hung), and
#    both directories work again once looked up by their new names;
#  - a file open through the mount whose directory is renamed behind its
#    back: fstat and fchmod on the open file still work;
#  - one copy of a tree of hard links made and removed through the mount
#    (cp -al, rm -r): the daemon's fds stay near the cache's bound (each
#    file whose name went kept an fd for good until the kernel forgot it:
#    one fd per file), and the other copy still reads right, also after
#    the kernel's caches are dropped.
# Usage: fs_names_behind.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_names_behind)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_tmpfs "$backing" 0 ramfs
mkdir -p "$backing/A/B" "$backing/churn" "$backing/snap"
for k in $(seq 40); do echo "$k" >"$backing/churn/c$k"; done
for k in $(seq 500); do echo "file $k" >"$backing/snap/f$k"; done
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,fd_cache=16"

# In the background: if it hangs, the daemon is killed (the hung requests
# then fail) and the test fails at once, not at its timeout.
python3 - "$mnt" "$backing" >"$T/loop.out" 2>&1 <<'PY' &
import os, sys
mnt, backing = sys.argv[1], sys.argv[2]
os.chdir(os.path.join(mnt, "A", "B"))
os.listdir(".")
os.rename(os.path.join(backing, "A", "B"), os.path.join(backing, "B"))
os.rename(os.path.join(backing, "A"), os.path.join(backing, "B", "A"))
try:
    os.stat("A")  # B/A, looked up from B by its stale key
except OSError:
    pass
def churn():
    for k in range(1, 41):
        with open(os.path.join(mnt, "churn", "c%d" % k)) as f:
            f.read()
churn()
for _ in range(3):
    try:
        os.listdir(".")
        os.stat("A")
    except OSError:
        pass  # ESTALE or ENOENT while the names are stale: fine; a hang is not
churn()
os.chdir("/")
os.listdir(os.path.join(mnt, "B", "A"))
churn()
if sorted(os.listdir(os.path.join(mnt, "B"))) != ["A"]:
    sys.exit("B lists %r" % os.listdir(os.path.join(mnt, "B")))
os.mkdir(os.path.join(mnt, "B", "A", "new"))
if not os.path.isdir(os.path.join(backing, "B", "A", "new")):
    sys.exit("a directory made in B/A through the mount is not in BACKING")
PY
py=$!
for _ in $(seq 300); do kill -0 "$py" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$py" 2>/dev/null; then
  kill -9 "$IT_PID"
  wait "$py"
  it_fail "the mount hung after a loop of directories made behind its back (30 s)"
fi
wait "$py" || it_fail "a loop of directories made behind the mount's back: $(cat "$T/loop.out")"

# A file open through the mount, its directory renamed behind the mount's
# back once the cache has evicted the file's fd: fstat and fchmod on the
# open file still work (they come as requests on the inode, without the
# file, and failed with ESTALE: the kernel does not retry calls on an fd).
mkdir -p "$backing/od/sub"; echo open >"$backing/od/sub/file"
python3 - "$mnt" "$backing" <<'PY' || it_fail "an open file whose directory was renamed behind the mount's back"
import os, sys
mnt, backing = sys.argv[1], sys.argv[2]
fd = os.open(os.path.join(mnt, "od", "sub", "file"), os.O_RDWR)
for k in range(1, 41):
    with open(os.path.join(mnt, "churn", "c%d" % k)) as f:
        f.read()
os.rename(os.path.join(backing, "od"), os.path.join(backing, "od2"))
for k in range(1, 41):
    with open(os.path.join(mnt, "churn", "c%d" % k)) as f:
        f.read()
try:
    os.fstat(fd)
    os.fchmod(fd, 0o600)
except OSError as e:
    sys.exit("on the open file: %s" % e)
if os.stat(os.path.join(backing, "od2", "sub", "file")).st_mode & 0o777 != 0o600:
    sys.exit("fchmod did not reach the file")
os.close(fd)
PY

fds() { ls "/proc/$IT_PID/fd" | wc -l; }
before=$(fds)
cp -al "$mnt/snap" "$mnt/snap2" || it_fail "cp -al through the mount"
for k in 1 250 500; do cat "$mnt/snap2/f$k" >/dev/null; done
rm -r "$mnt/snap" || it_fail "rm -r through the mount"
after=$(fds)
echo "daemon fds: $before before cp -al, $after after rm -r of 500 files with another link each"
[ "$after" -le $((before + 40)) ] || it_fail "the daemon holds $after fds after removing one copy of 500 linked files (was $before; cache 16)"
sync; echo 2 >/proc/sys/vm/drop_caches
for k in $(seq 500); do
  [ "$(cat "$mnt/snap2/f$k")" = "file $k" ] || it_fail "snap2/f$k reads '$(cat "$mnt/snap2/f$k" 2>&1)'"
done
grep -Eiq "sanitizer|assert" "$T/mount.log" && it_fail "the mount logged: $(cat "$T/mount.log")"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo PASS
