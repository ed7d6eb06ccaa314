#!/usr/bin/env bash
# SIGTERM unmounts cleanly and the process exits, in the foreground and as
# a daemon, even with a file held open on the mount.
# usage: fs_sigterm.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
shadowfs=$(realpath "$1")
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
echo data > "$backing/f"

wait_gone() { # PID
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  return 1
}

# Foreground, with an open file.
it_mount "$shadowfs" "$backing" "$mnt"
exec 3<"$mnt/f"
kill -TERM "$IT_PID"
wait_gone "$IT_PID" || it_fail "foreground shadowfs still running 5 s after SIGTERM"
exec 3<&-
it_in_mount_table "$mnt" && it_fail "mount left behind after SIGTERM (foreground)"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "foreground exit status $rc after SIGTERM"

# Relative paths on the command line: unmounted all the same.
(cd "$IT_ROOT" && exec "$shadowfs" backing mnt -f) &
pid=$!
IT_PIDS+=("$pid")
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
mountpoint -q "$mnt" || it_fail "relative-path mount failed"
kill -TERM "$pid"
wait_gone "$pid" || it_fail "shadowfs (relative paths) still running after SIGTERM"
it_in_mount_table "$mnt" && it_fail "mount left behind after SIGTERM (relative paths)"
[ -e "$mnt" ] && ! [ -e "$mnt/f" ] || it_fail "mount point unusable after SIGTERM"

# Daemon: shadowfs returns once mounted; find the daemon by its unique mount point.
"$shadowfs" "$backing" "$mnt" || it_fail "daemon mount failed"
mountpoint -q "$mnt" || it_fail "daemon did not mount"
IT_MOUNTS+=("$mnt")
pid=$(pgrep -f -x -- "$shadowfs $backing $mnt")
[ -n "$pid" ] || it_fail "daemon process not found"
IT_PIDS+=("$pid")
[ "$(cat "$mnt/f")" = data ] || it_fail "daemon mount does not serve"
kill -TERM "$pid"
wait_gone "$pid" || it_fail "daemon still running 5 s after SIGTERM"
it_in_mount_table "$mnt" && it_fail "mount left behind after SIGTERM (daemon)"
# Written pages the kernel still holds (the writeback cache; the writer has
# not closed its file) reach BACKING before the daemon stops: libfuse's own
# handlers ended the loop at once and lost them (100 MiB written, 52 MiB in
# BACKING).
it_mount "$shadowfs" "$backing" "$mnt"
python3 - "$mnt/big" "$IT_ROOT/big.sha" "$IT_ROOT/big.ready" <<'PY' &
import hashlib, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
block = os.urandom(1 << 20)
for _ in range(64):
    os.write(fd, block)
open(sys.argv[2], "w").write(hashlib.sha256(block * 64).hexdigest())
open(sys.argv[3], "w").write("1")
time.sleep(30)  # held open: no close, no flush (killed below)
PY
writer=$!
IT_PIDS+=("$writer")
for _ in $(seq 200); do [ -e "$IT_ROOT/big.ready" ] && break; sleep 0.05; done
[ -e "$IT_ROOT/big.ready" ] || it_fail "the writer did not write its 64 MiB"
kill -TERM "$IT_PID"
wait_gone "$IT_PID" || it_fail "shadowfs still running 5 s after SIGTERM with dirty pages"
kill "$writer" 2>/dev/null
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "exit status $rc after SIGTERM with dirty pages"
it_in_mount_table "$mnt" && it_fail "mount left behind after SIGTERM with dirty pages"
got=$(sha256sum "$backing/big" | cut -c1-64)
[ "$got" = "$(cat "$IT_ROOT/big.sha")" ] ||
  it_fail "written pages lost at SIGTERM: BACKING has $(stat -c %s "$backing/big") bytes of 67108864, content differs"
echo "ok SIGTERM with 64 MiB of unwritten pages: all in BACKING"
rm -f "$backing/big"

# A write-back that cannot finish holds the stop (here BACKING is itself a
# shadowfs mount without the writeback cache whose daemon is stopped), and
# a second signal ends the wait.
lower=$(it_tmpdir lower)
stack=$(it_tmpdir stack)
top=$(it_tmpdir top)
it_mount "$shadowfs" "$lower" "$stack" no_writeback,norecord
lower_pid=$IT_PID
IT_MOUNT_LOG=$IT_ROOT/top.log it_mount "$shadowfs" "$stack" "$top" norecord
top_pid=$IT_PID
rm -f "$IT_ROOT/big.ready"
python3 - "$top/big" "$IT_ROOT/big.sha" "$IT_ROOT/big.ready" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
block = os.urandom(1 << 20)
for _ in range(64):
    os.write(fd, block)
open(sys.argv[3], "w").write("1")
time.sleep(30)
PY
writer=$!
IT_PIDS+=("$writer")
for _ in $(seq 200); do [ -e "$IT_ROOT/big.ready" ] && break; sleep 0.05; done
[ -e "$IT_ROOT/big.ready" ] || it_fail "the writer did not write its 64 MiB (stacked)"
kill -STOP "$lower_pid"
kill -TERM "$top_pid"
it_wait_for "the first signal is not logged" 5 grep -q "writing the mount's dirty pages back" "$IT_ROOT/top.log"
sleep 1
kill -0 "$top_pid" 2>/dev/null || it_fail "shadowfs stopped without waiting for its write-back"
kill -TERM "$top_pid"
it_wait_for "the second signal is not logged" 5 grep -q "again: stopping without waiting" "$IT_ROOT/top.log"
kill -CONT "$lower_pid"
kill "$writer" 2>/dev/null
wait_gone "$top_pid" || it_fail "shadowfs still running 5 s after a second SIGTERM"
wait "$top_pid"; rc=$?
[ "$rc" -eq 0 ] || it_fail "exit status $rc after a second SIGTERM"
it_in_mount_table "$top" && it_fail "mount left behind after a second SIGTERM"
it_umount "$stack"
echo "ok a write-back held by a stopped BACKING: waited for, a second SIGTERM stops"

# A start that hangs (a test option holds the daemon after mounting, before
# it serves) is given up by Ctrl-C to the waiting command: the daemon is
# killed, the mount undone, status 1. Before, the parent waited for ever,
# Ctrl-C and SIGTERM ignored, and the dead mount stayed.
"$shadowfs" "$backing" "$mnt" -o fault_start_delay_ms=60000 2>"$IT_ROOT/err" &
parent=$!
IT_PIDS+=("$parent")
for _ in $(seq 100); do grep -q " $mnt fuse" /proc/mounts && break; sleep 0.05; done
grep -q " $mnt fuse" /proc/mounts || it_fail "the held start did not mount"
sleep 0.2
kill -INT "$parent"
wait_gone "$parent" || it_fail "the waiting command ignored Ctrl-C"
wait "$parent"; rc=$?
[ "$rc" -eq 1 ] || it_fail "interrupted start: exit status $rc, $(cat "$IT_ROOT/err")"
grep -q "interrupted while the daemon was starting" "$IT_ROOT/err" ||
  it_fail "interrupted start: message $(cat "$IT_ROOT/err")"
grep -q " $mnt fuse" /proc/mounts && it_fail "interrupted start: mount left behind"
pgrep -f -- "fault_start_delay_ms=60000" | grep -qv "^$$\$" &&
  it_fail "interrupted start: the daemon is still running"
echo "ok interrupted start: $(cat "$IT_ROOT/err")"
echo "PASS fs_sigterm"
