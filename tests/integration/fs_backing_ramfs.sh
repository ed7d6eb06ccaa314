#!/usr/bin/env bash
# shadowfs over a BACKING on ramfs: no file handles (the inode table knows
# objects by name) and no extended attributes (no user.shadow.id, so
# files have no stable id; no ACLs). Through a mount with recording, a local
# host and allow_other:
#  - a file created through the mount opens again by its name (it failed
#    with ELOOP until a remount: the fd kept for it was the /proc link);
#    one whose O_DIRECT open ramfs refuses after making it opens by name
#    once negative_timeout has passed;
#  - a non-root user lists, reads and creates (every one was refused with
#    EOPNOTSUPP: the kernel's ACL checks over a BACKING without ACLs), and
#    mode bits still stop it (the kernel's checks are default_permissions);
#  - recording names the files it saw (shadowctl top lists them by path);
#  - a pin copies the file, into a host store on ramfs too (which reports
#    no free space: every copy was refused with ENOSPC), and is kept across
#    a remount;
#  - a file setting is refused with EOPNOTSUPP and the log says why; the
#    same setting on its directory is taken and reaches the file;
#  - a times-only setattr (utimensat) of a file renamed behind the mount's
#    back, out of the fd cache, fails (ENOENT, as natively): it succeeded
#    as if the file were gone for good, set nothing, and the mount showed
#    the old name with the new times.
# Usage: fs_backing_ramfs.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_backing_ramfs)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_tmpfs "$backing" 0 ramfs
mkdir -p "$T/h" "$backing/d"
it_tmpfs "$T/h" 0 ramfs # the host store too: ramfs reports no size nor free space
chmod 755 "$backing/d"
head -c 65536 /dev/urandom >"$backing/d/old"
OPTS="allow_other,state=$state,hosts=$T/h,shadow_tick=0.1,bucket=1"
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
it_log_has "$T/mount.log" "no file handles" || it_fail "ramfs gave file handles? $(cat "$T/mount.log")"

# Created through the mount, opened again by name, by another process.
echo created >"$mnt/d/new" || it_fail "create through the mount"
[ "$(cat "$mnt/d/new")" = created ] || it_fail "a file created through the mount does not open again: $(cat "$mnt/d/new" 2>&1)"
cmp -s "$mnt/d/old" "$backing/d/old" || it_fail "d/old reads other bytes through the mount"
# O_DIRECT, which ramfs refuses after making the file (EINVAL, as natively):
# the name opens once the kernel's negative entry for it has timed out
# (negative_timeout, 1 s; docs/ARCHITECTURE.md).
python3 - "$mnt/d/direct" <<'PY' || it_fail "a create refused by BACKING after making the file"
import errno, os, sys, time
p = sys.argv[1]
try:
    os.close(os.open(p, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644))
    sys.exit("O_DIRECT create on ramfs succeeded")
except OSError as e:
    if e.errno != errno.EINVAL:
        sys.exit("O_DIRECT create: %s" % e)
time.sleep(1.2)
os.close(os.open(p, os.O_RDWR))
PY

# A non-root user: list, read, create in a directory it may write; refused
# by the mode bits where it may not.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(as_nobody ls "$mnt/d" 2>&1) || it_fail "ls as nobody: $out"
[ "$(printf '%s\n' "$out" | sort | tr '\n' ' ')" = "direct new old " ] || it_fail "ls as nobody lists: $out"
as_nobody cat "$mnt/d/old" >/dev/null || it_fail "read as nobody"
mkdir "$mnt/open"; chmod 777 "$mnt/open"
out=$(as_nobody sh -c "echo mine >'$mnt/open/f' && cat '$mnt/open/f'" 2>&1)
[ "$out" = mine ] || it_fail "create and read as nobody: $out"
[ "$(stat -c %u "$backing/open/f")" = 65534 ] || it_fail "nobody's file is owned by $(stat -c %u "$backing/open/f")"
out=$(as_nobody sh -c "echo x >'$mnt/d/theirs'" 2>&1) && it_fail "nobody created a file in root's 755 directory"
case $out in *"Permission denied"*) ;; *) it_fail "nobody's create in d: $out (want Permission denied)" ;; esac

# A pin copies the file. A file setting is refused, and said why.
setfattr -n user.shadow.pin -v 1 "$mnt/d/old" || it_fail "pin d/old"
copied() { it_shadow_state "$mnt/d/old" | grep -q 'copy=[^ ]*:serving'; }
IT_WATCH=$mnt/d/old it_wait_for "no copy of the pinned d/old" 15 copied
setfattr -n user.shadow.threshold -v 0.5 "$mnt/d/old" 2>"$T/err" && it_fail "a file setting without a stable id was taken"
grep -q "Operation not supported" "$T/err" || it_fail "file setting refused with: $(cat "$T/err")"
it_log_has "$T/mount.log" "tuning d/old: the file cannot be given the stable id" ||
  it_fail "the log does not say why the file setting was refused: $(cat "$T/mount.log")"
setfattr -n user.shadow.threshold -v 0.5 "$mnt/d" || it_fail "directory setting"
"$CTL" why "$mnt/d/old" >"$T/why" 2>&1 || it_fail "shadowctl why: $(cat "$T/why")"
grep -Eq '^  threshold +0.5 +from directory /d ' "$T/why" || it_fail "why: $(cat "$T/why")"

# Recording named the files it saw, by path.
top_has() { "$CTL" top --state "$state" >"$T/top" 2>&1 && grep -q ' d/old$' "$T/top"; }
IT_WAIT_SHOW='cat "$T/top" 2>/dev/null' it_wait_for "d/old not in shadowctl top" 10 top_has

# The pin and the directory setting are kept across a remount.
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/d/old" 2>/dev/null)" = 1 ] || it_fail "d/old not pinned after the remount"
[ "$(getfattr --only-values -n user.shadow.threshold "$mnt/d" 2>/dev/null)" = 0.5 ] || it_fail "d's threshold lost at the remount"
IT_WATCH=$mnt/d/old it_wait_for "no copy of d/old after the remount" 15 copied
[ "$(cat "$mnt/d/new")" = created ] || it_fail "d/new after the remount"
it_umount "$mnt"

# Renamed behind the back, its fd out of a cache of 16: a setattr cannot
# reach it by its old name; the file is not taken for deleted.
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,fd_cache=16"
echo hello >"$mnt/d/renamed"
for k in $(seq 40); do echo "$k" >"$mnt/d/o$k"; done
cat "$mnt"/d/o* >/dev/null
mv "$backing/d/renamed" "$backing/d/renamed2"
# utimensat by name (touch would make a new file at the name on ENOENT)
python3 -c 'import os, sys; os.utime(sys.argv[1], (1000000000, 1000000000))' "$mnt/d/renamed" 2>/dev/null &&
  it_fail "utimensat of a file renamed behind the back succeeded, set nothing (BACKING's mtime $(stat -c %Y "$backing/d/renamed2"), the mount's $(stat -c %Y "$mnt/d/renamed" 2>&1))"
[ "$(cat "$mnt/d/renamed2")" = hello ] || it_fail "renamed2 through the mount"
it_umount "$mnt"
echo "PASS: create/reopen, non-root access, pin and directory setting kept, times of a renamed file over a ramfs BACKING"
