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
