#!/usr/bin/env bash
# Scale: with RLIMIT_NOFILE=20000 (this machine's hard limit), the mount
# keeps working after 1,000,000 distinct files were looked up through it,
# and shadowfs holds far fewer than 20,000 fds (inodes keep file handles,
# not fds; only a bounded LRU of O_PATH fds stays open).
# BACKING is a private tmpfs so that creating and dropping a million files
# takes seconds; 1000 dirs x 1000 empty files are made directly in it.
# usage: fs_million.sh SHADOWFS FS_MKFILES
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1 mkfiles=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
NDIRS=${FS_MILLION_DIRS:-1000} NFILES=${FS_MILLION_FILES:-1000}
total=$((NDIRS * NFILES))

mount -t tmpfs -o size=2g,nr_inodes=$((total + 10000)) shadowfs-million "$backing" ||
  it_fail "cannot mount a tmpfs for BACKING"
IT_TMPFS+=("$backing") # unmounted by lib.sh's cleanup after the mount, before IT_ROOT goes
t0=$(date +%s)
made=$("$mkfiles" create "$backing" "$NDIRS" "$NFILES" 2) || it_fail "creating files failed"
[ "$made" = "$total" ] || it_fail "created $made files, expected $total"
t1=$(date +%s)

ulimit -n 20000
it_mount "$shadowfs" "$backing" "$mnt"
seen=$("$mkfiles" stat "$mnt" "$NDIRS" "$NFILES" 4) || it_fail "stat through the mount failed after $seen"
[ "$seen" = "$total" ] || it_fail "stat'ed $seen files, expected $total"
t2=$(date +%s)

fds=$(ls /proc/"$IT_PID"/fd | wc -l)
rss=$(awk '/VmRSS/ {print $2}' /proc/"$IT_PID"/status)
echo "created $total files in $((t1 - t0)) s, looked up all through the mount in $((t2 - t1)) s;" \
  "shadowfs has $fds fds open, RSS $((rss / 1024)) MiB"
[ "$fds" -lt 5000 ] || it_fail "shadowfs holds $fds fds after $total lookups"

# Everything still works, including inodes whose cached fd was evicted long ago.
[ "$(cat "$mnt/d0/f0")" = "" ] || it_fail "cannot read an early file"
echo new > "$mnt/d0/f0" && [ "$(cat "$backing/d0/f0")" = new ] || it_fail "cannot write an early file"
touch -d 2001-01-01 "$mnt/d1/f1" && [ "$(stat -c %Y "$backing/d1/f1")" = 978307200 ] ||
  it_fail "setattr on an early file"
setfattr -n user.k -v v "$mnt/d2/f2" && [ "$(getfattr --only-values -n user.k "$mnt/d2/f2")" = v ] ||
  it_fail "xattr on an early file"
[ "$(ls "$mnt/d3" | wc -l)" = "$NFILES" ] || it_fail "readdir of an early directory"
echo x > "$mnt/d$((NDIRS - 1))/new" && mv "$mnt/d$((NDIRS - 1))/new" "$mnt/d0/moved" &&
  [ "$(cat "$backing/d0/moved")" = x ] || it_fail "create/rename after the scan"
rm "$mnt/d0/moved" "$mnt/d4/f4" && [ ! -e "$backing/d4/f4" ] || it_fail "unlink after the scan"
mkdir "$mnt/newdir" && rmdir "$mnt/newdir" || it_fail "mkdir/rmdir after the scan"
fds=$(ls /proc/"$IT_PID"/fd | wc -l)
[ "$fds" -lt 5000 ] || it_fail "shadowfs holds $fds fds at the end"
fs_umount "$mnt"
umount "$backing" || it_fail "cannot unmount the tmpfs"
echo "PASS fs_million ($(( $(date +%s) - t0 )) s)"
