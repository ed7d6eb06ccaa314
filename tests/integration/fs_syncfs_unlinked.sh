#!/usr/bin/env bash
# syncfs(2) on a mount after an rm -r of entries the kernel had forgotten
# and listed again (readdirplus): the kernel flushes each removed file's
# times (writeback cache) as it evicts it, and the daemon, which knows it
# by its handle only, cannot reopen a file no longer there (ESTALE). That
# error was recorded against the whole mount: syncfs of any other file of
# it then failed with ESTALE (29 of 30 runs before). Runs alone:
# drop_caches drops every filesystem's caches.
# Usage: fs_syncfs_unlinked.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord"
cd / || it_fail "cd /"
for round in 1 2 3; do
  python3 - "$mnt" <<'PY' || it_fail "round $round: syncfs after rm -r failed"
import ctypes, os, shutil, sys
mnt = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
d = os.path.join(mnt, "dir")
os.mkdir(d)
for k in range(20):
    with open(os.path.join(d, "a%d" % k), "w") as f:
        f.write("x" * 100)
with open(os.path.join(mnt, "keep"), "w") as f:
    f.write("kept")
fd = os.open(os.path.join(mnt, "keep"), os.O_RDONLY)
os.sync()
with open("/proc/sys/vm/drop_caches", "w") as f:
    f.write("2")
shutil.rmtree(d)
if libc.syncfs(fd) != 0:
    print("syncfs:", os.strerror(ctypes.get_errno()), file=sys.stderr)
    sys.exit(1)
os.close(fd)
PY
  [ -e "$backing/dir" ] && it_fail "round $round: dir still in BACKING"
  [ "$(cat "$mnt/keep")" = kept ] || it_fail "round $round: keep"
  rm -f "$mnt/keep"
done
echo ok
