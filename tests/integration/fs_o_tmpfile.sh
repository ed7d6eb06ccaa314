#!/usr/bin/env bash
# O_TMPFILE through the mount (fs/tmpfile.h) where posix_compare does not
# look: BACKING, the shadowing layer and the splice limit.
# 1. shadow_all on a mount that records: an O_TMPFILE written, opened again
#    through /proc before its link (no entry: it has no name to be
#    shadowed by) and after it, then closed. The file is in BACKING with
#    its data and its id (named at its create, as a created file is);
#    STATE/shadows.status names it by its link, sub/linked (before the fix
#    in fs/rel_path.c its entry took the path /proc read for the reopened
#    fd, the kernel's nameless "sub/#INO (deleted)", and kept it); the log
#    says no file was "deleted behind the mount's back" (what the control
#    loop took the unlinked tmpfile's entry for);
# 2. -o splice: requests are spliced past the look that turns FUSE_TMPFILE
#    into a create, so O_TMPFILE stays EOPNOTSUPP (shadowfs(8));
# 3. BACKING on ramfs (no handles: the tmpfile's inode keeps an O_PATH fd
#    through its nameless dentry), recording with 1 s buckets: the linked
#    file read by its name for 3 s is named by the recorder, never taken
#    for unlinked (before fs_proc_name_lost, every naming of it said
#    "gone" and its events went to the anonymous tail: name_gone=4,
#    tail_events=79 of 152).
# Usage: fs_o_tmpfile.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_o_tmpfile)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/sub"

# 1.
IT_MOUNT_LOG=$T/log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "state=$state,hosts=$T/h,shadow_all,shadow_tick=0.05,shadow_quiet=0"
python3 - "$mnt" <<'PY' || it_fail "O_TMPFILE, reopened and linked through the mount"
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
mnt = sys.argv[1]
fd = os.open(mnt + "/sub", os.O_TMPFILE | os.O_RDWR, 0o644)
os.write(fd, b"tmpfile data\n" * 1000)
proc = "/proc/self/fd/%d" % fd
def reopen():
    again = os.open(proc, os.O_RDONLY)
    assert os.read(again, 13) == b"tmpfile data\n"
    os.close(again)
reopen()
time.sleep(0.3) # a few of the control loop's ticks
AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
if libc.linkat(AT_FDCWD, proc.encode(), AT_FDCWD, (mnt + "/sub/linked").encode(),
               AT_SYMLINK_FOLLOW) != 0:
    sys.exit("linkat: " + os.strerror(ctypes.get_errno()))
reopen()
time.sleep(0.3)
os.close(fd)
PY
python3 -c 'import sys; sys.stdout.buffer.write(b"tmpfile data\n" * 1000)' >"$T/want"
cmp -s "$T/want" "$backing/sub/linked" || it_fail "the linked O_TMPFILE is not in BACKING with its data"
getfattr -n user.shadow.id "$backing/sub/linked" >/dev/null 2>&1 ||
  it_fail "the O_TMPFILE was not named at its create"
named() { grep -q '^path="sub/linked"' "$state/shadows.status"; }
IT_WAIT_SHOW="cat $state/shadows.status" it_wait_for "no entry named sub/linked" 10 named
grep -E '#[0-9]+|deleted' "$state/shadows.status" &&
  it_fail "an entry is named by the O_TMPFILE's nameless dentry"
grep "deleted behind the mount's back" "$T/log" &&
  it_fail "the O_TMPFILE was taken for a file deleted behind the mount's back"
echo "1: O_TMPFILE linked as sub/linked: in BACKING with its data and id, shadowed by that path"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"

# 2.
it_mount "$SHADOWFS" "$backing" "$mnt" "splice,norecord"
python3 - "$mnt" <<'PY' || it_fail "O_TMPFILE with -o splice is not the documented EOPNOTSUPP"
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o644))
except OSError as e:
    sys.exit(0 if e.errno == errno.EOPNOTSUPP else "errno %d" % e.errno)
sys.exit("O_TMPFILE worked")
PY
echo "2: -o splice: O_TMPFILE gives EOPNOTSUPP"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"

# 3.
rbacking=$(it_tmpdir rbacking) rstate=$(it_tmpdir rstate)
it_tmpfs "$rbacking" 0 ramfs
mkdir "$rbacking/sub"
it_mount "$SHADOWFS" "$rbacking" "$mnt" "state=$rstate,bucket=1"
python3 - "$mnt" <<'PY' || it_fail "O_TMPFILE linked and read on a ramfs BACKING"
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
mnt = sys.argv[1]
fd = os.open(mnt + "/sub", os.O_TMPFILE | os.O_RDWR, 0o644)
os.write(fd, b"d" * 4096)
if libc.linkat(-100, ("/proc/self/fd/%d" % fd).encode(), -100, (mnt + "/sub/linked").encode(),
               0x400) != 0:
    sys.exit("linkat: " + os.strerror(ctypes.get_errno()))
os.close(fd)
end = time.time() + 3
while time.time() < end:
    f = os.open(mnt + "/sub/linked", os.O_RDONLY)
    os.read(f, 10)
    os.close(f)
    time.sleep(0.05)
PY
stat_of() { sed -n "s/^$1=//p" "$rstate/recorder.stats"; }
flushed() { [ "$(stat_of named)" -ge 2 ] 2>/dev/null; }
IT_WAIT_SHOW="cat $rstate/recorder.stats" it_wait_for "the recorder named nothing" 10 flushed
[ "$(stat_of name_gone)" = 0 ] ||
  it_fail "the linked O_TMPFILE was taken for unlinked: $(grep -E '^(named|name_gone|tail_events)=' "$rstate/recorder.stats" | tr '\n' ' ')"
echo "3: ramfs: the linked O_TMPFILE named by the recorder ($(stat_of named) namings, none gone)"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo PASS
