#!/usr/bin/env bash
# FUSE over io_uring (-o io_uring): data through the rings (buffered,
# O_DIRECT, many small files), with kernel passthrough beside it, SIGTERM
# and an outside unmount during a read loop (the workers stop, the process
# exits 0), and the fallback to /dev/fuse, with a warning, when the kernel
# does not offer it (enable_uring off; the parameter is restored after).
# Run alone (is_parallel: false): it turns the parameter off for a moment.
# usage: fs_io_uring.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
shadowfs=$(realpath "$1")
param=/sys/module/fuse/parameters/enable_uring
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)

wait_gone() { # PID
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  return 1
}

# 1. Data: a 32 MiB file written and read back (buffered and O_DIRECT),
#    500 small files created, listed, checked and removed.
it_mount "$shadowfs" "$backing" "$mnt" io_uring
head -c $((32 << 20)) /dev/urandom >"$IT_ROOT/ref"
dd if="$IT_ROOT/ref" of="$mnt/big" bs=1M status=none || it_fail "write through the rings"
cmp "$IT_ROOT/ref" "$backing/big" || it_fail "BACKING differs from what was written"
cmp "$IT_ROOT/ref" "$mnt/big" || it_fail "buffered read differs"
dd if="$mnt/big" of="$IT_ROOT/direct" bs=64k iflag=direct status=none || it_fail "O_DIRECT read"
cmp "$IT_ROOT/ref" "$IT_ROOT/direct" || it_fail "O_DIRECT read differs"
# O_DIRECT writes straight from the (page-aligned) ring payload
dd if="$IT_ROOT/ref" of="$mnt/direct" bs=256k oflag=direct status=none || it_fail "O_DIRECT write"
cmp "$IT_ROOT/ref" "$backing/direct" || it_fail "O_DIRECT write differs in BACKING"
dd if=/dev/zero of="$mnt/unaligned" bs=1000 count=1 oflag=direct status=none 2>/dev/null &&
  it_fail "an unaligned O_DIRECT write succeeded (natively EINVAL)"
mkdir "$mnt/d"
for i in $(seq 500); do echo "$i" >"$mnt/d/f$i"; done
[ "$(ls "$mnt/d" | wc -l)" -eq 500 ] || it_fail "listing of 500 files"
[ "$(cat "$mnt/d/f321")" = 321 ] || it_fail "small file content"
rm -r "$mnt/d" || it_fail "rm -r through the rings"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "exit status $rc after unmount"
it_uring_check
grep -q "io_uring: serving requests through [0-9]* rings on [0-9]* CPU queues" "$IT_URING_LOG" ||
  it_fail "no start line for the rings in the log"

# 2. With kernel passthrough: opens through the rings, data by the kernel.
it_mount "$shadowfs" "$backing" "$mnt" io_uring,passthrough
cmp "$IT_ROOT/ref" "$mnt/big" || it_fail "read with passthrough differs"
echo appended >>"$mnt/big"
tail -c 9 "$backing/big" | grep -q appended || it_fail "append with passthrough"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "exit status $rc after unmount (passthrough)"
it_uring_check

# 3. SIGTERM during a read loop, then an outside unmount during one.
for how in term umount; do
  it_mount "$shadowfs" "$backing" "$mnt" io_uring
  (while cat "$mnt/big" >/dev/null 2>&1; do :; done) &
  loop=$!
  IT_PIDS+=("$loop")
  sleep 1
  if [ $how = term ]; then
    kill -TERM "$IT_PID"
  else
    umount -l "$mnt" || it_fail "umount -l"
  fi
  wait_gone "$IT_PID" || it_fail "shadowfs still running 5 s after $how during reads"
  wait "$IT_PID"; rc=$?
  [ "$rc" -eq 0 ] || it_fail "exit status $rc after $how during reads"
  wait_gone "$loop" || it_fail "the reader hangs after $how"
  it_in_mount_table "$mnt" && it_fail "mount left behind after $how"
  it_uring_check
  IT_URING_LOG=
done

# 4. The kernel does not offer it: a warning, and the mount works.
old=$(cat "$param")
restore() { echo "$old" >"$param"; }
trap 'restore; it_cleanup' EXIT
echo N >"$param"
log=$IT_ROOT/fallback.log
"$shadowfs" "$backing" "$mnt" -f -o io_uring 2>"$log" &
IT_PID=$!
IT_PIDS+=("$IT_PID")
IT_MOUNTS+=("$mnt")
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
mountpoint -q "$mnt" || it_fail "no mount with enable_uring off"
cmp "$IT_ROOT/ref" <(head -c $((32 << 20)) "$mnt/big") || it_fail "read with enable_uring off"
fusermount3 -u "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "exit status $rc with enable_uring off"
grep -q "does not offer FUSE over io_uring" "$log" || it_fail "no warning when the kernel does not offer io_uring: $(cat "$log")"
grep -q "served" "$log" && it_fail "io_uring workers claim to have served requests with it off"
restore
echo "PASS fs_io_uring"
