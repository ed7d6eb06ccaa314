#!/usr/bin/env bash
# Smoke test of every passthrough operation through a real mount: fs_opcheck
# runs each operation and checks its result (first in a plain directory, to
# prove the checker itself, then through shadowfs in three configurations),
# and the results must be visible in BACKING.
# usage: fs_smoke.sh SHADOWFS FS_OPCHECK
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1 opcheck=$2

native=$(it_tmpdir native)
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)

# The checker agrees with Linux on a plain directory.
it_check "fs_opcheck on a plain directory" "$opcheck" "$native" native

# Default options: every operation behaves as natively.
it_mount "$shadowfs" "$backing" "$mnt"
OPCHECK_BACKING_F=$backing/f it_check "fs_opcheck through the mount (defaults)" "$opcheck" "$mnt"
# What was done through the mount is in BACKING.
[ "$(cat "$backing/c")" = A ] || it_fail "renamed file content not in backing"
[ "$(ls "$backing/many" | wc -l)" = 300 ] || it_fail "300 created files not in backing"
[ -L "$backing/sl" ] && [ "$(readlink "$backing/sl")" = f ] || it_fail "symlink not in backing"
[ -p "$backing/fifo" ] || it_fail "fifo not in backing"
cmp -s "$backing/direct" "$mnt/direct" || it_fail "O_DIRECT file differs in backing"
# A change made in BACKING to a file not cached yet is seen through the mount.
echo fresh > "$backing/fresh"
[ "$(cat "$mnt/fresh")" = fresh ] || it_fail "file created in backing not visible"

# A filesystem mounted inside BACKING (other st_dev: inodes there keep an
# O_PATH fd instead of a handle) is served too.
mkdir "$backing/sub"
mount -t tmpfs -o size=16m shadowfs-sub "$backing/sub" || it_fail "cannot mount a tmpfs in backing"
IT_MOUNTS+=("$backing/sub")
echo inner > "$backing/sub/inner"
[ "$(cat "$mnt/sub/inner")" = inner ] || it_fail "file on a submount not served"
echo new > "$mnt/sub/new" && [ "$(cat "$backing/sub/new")" = new ] || it_fail "create on a submount"
mv "$mnt/sub/new" "$mnt/sub/new2" && rm "$mnt/sub/new2" || it_fail "rename/unlink on a submount"
fs_umount "$mnt"
umount "$backing/sub" || it_fail "cannot unmount the submount"
rmdir "$backing/sub"

# POSIX locks forwarded to BACKING as OFD locks.
rm -rf "${backing:?}"/*
it_mount "$shadowfs" "$backing" "$mnt" locks=backing
it_check "fs_opcheck locks (locks=backing)" "$opcheck" "$mnt" locks
fs_umount "$mnt"

# No page cache, no writeback, single-threaded loop, no splice.
rm -rf "${backing:?}"/*
it_mount "$shadowfs" "$backing" "$mnt" cache=never,no_writeback,threads=1,no_splice,no_readdirplus
OPCHECK_BACKING_F=$backing/f it_check "fs_opcheck (cache=never,threads=1)" "$opcheck" "$mnt"
fs_umount "$mnt"

# cache=auto with a small fd cache and short timeouts.
rm -rf "${backing:?}"/*
it_mount "$shadowfs" "$backing" "$mnt" cache=auto,fd_cache=16,timeout=0.1,splice,max_read=64k,max_write=128k
OPCHECK_BACKING_F=$backing/f it_check "fs_opcheck (cache=auto,fd_cache=16)" "$opcheck" "$mnt"
# An inode number BACKING hands out again while the kernel still holds the
# deleted object: a process's cwd keeps the removed directory's entry, whose
# fd has left the small cache; the new directory (ext4 gives it the same
# number at once) must be served as itself. Before the fix the file below
# could not be created (ENOENT: the mount answered with the old entry).
mkdir "$mnt/held"
held_ino=$(stat -c %i "$backing/held")
(cd "$mnt/held" && exec sleep 30) &
holder=$!
IT_PIDS+=("$holder")
for k in $(seq 40); do touch "$mnt/ev$k" && stat "$mnt/ev$k" >/dev/null || it_fail "touch ev$k"; done
rmdir "$mnt/held" || it_fail "rmdir of a directory that is a cwd"
mkdir "$mnt/again" || it_fail "mkdir after the rmdir"
[ "$(stat -c %i "$backing/again")" = "$held_ino" ] && echo "inode number $held_ino reused by BACKING"
echo hello >"$mnt/again/f" || it_fail "create in a directory with a reused inode number"
[ "$(cat "$mnt/again/f")" = hello ] || it_fail "read in a directory with a reused inode number"
[ "$(ls "$mnt/again")" = f ] || it_fail "listing of a directory with a reused inode number"
kill "$holder"; wait "$holder" 2>/dev/null
fs_umount "$mnt"
echo "PASS fs_smoke"
