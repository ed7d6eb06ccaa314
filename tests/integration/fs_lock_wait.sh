#!/usr/bin/env bash
# With -o locks=backing a process waiting for a lock held through the mount
# can give up (a signal: the kernel sends FUSE_INTERRUPT; SIGKILL), and the
# mount stops on SIGTERM while one waits. Before, the wait parked a worker
# thread in F_OFD_SETLKW/flock until the holder let go: the interrupted
# waiter stayed blocked, a killed one stayed in D state, and the stop never
# completed (libfuse joins every worker).
# usage: fs_lock_wait.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
shadowfs=$(realpath "$1")
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
T=$(it_tmpdir t)
echo data > "$backing/f"
it_mount "$shadowfs" "$backing" "$mnt" locks=backing

# locker.py KIND FILE OUT hold|wait: KIND fcntl (lockf: F_SETLKW) or flock.
# Writes "ready" to OUT once it holds the lock (hold) or is about to wait
# for it (wait), then what the wait ended with: got, interrupted, or the
# errno's name.
cat > "$T/locker.py" <<'PY'
import errno, fcntl, os, signal, sys, time
kind, path, out, role = sys.argv[1:5]
def note(s):
    with open(out, "a") as f:
        f.write(s + "\n")
class Interrupted(Exception):
    pass
def on_usr1(sig, frame):
    raise Interrupted()
signal.signal(signal.SIGUSR1, on_usr1)
fd = os.open(path, os.O_RDWR)
lock = fcntl.lockf if kind == "fcntl" else fcntl.flock
if role == "hold":
    lock(fd, fcntl.LOCK_EX)
    note("ready")
    time.sleep(300)
    sys.exit(0)
note("ready")
try:
    lock(fd, fcntl.LOCK_EX)
    note("got")
except Interrupted:
    note("interrupted")
except OSError as e:
    note(errno.errorcode.get(e.errno, str(e.errno)))
PY

start() { # KIND ROLE OUT: starts a locker on $mnt/f, waits until ready; sets PID
  python3 "$T/locker.py" "$1" "$mnt/f" "$3" "$2" &
  PID=$!
  IT_PIDS+=("$PID")
  it_wait_for "$1 $2er not ready" 10 grep -qs ready "$3"
}
ended() { # PID: exited (a zombie counts), not blocked
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
  [ -z "$st" ] || [ "$st" = Z ]
}

for kind in fcntl flock; do
  rm -f "$T"/*.out
  start "$kind" hold "$T/hold.out"; holder=$PID
  start "$kind" wait "$T/wait.out"; waiter=$PID
  sleep 0.5 # in its lock wait
  ended "$waiter" && it_fail "$kind: the waiter did not wait: $(cat "$T/wait.out")"
  kill -USR1 "$waiter"
  it_wait_for "$kind: a waiter sent SIGUSR1 still waits 5 s later" 5 ended "$waiter"
  grep -q '^interrupted$' "$T/wait.out" ||
    it_fail "$kind: the interrupted waiter says: $(tr '\n' ' ' < "$T/wait.out")"
  echo "ok $kind: a waiter interrupted by a signal returns at once"

  start "$kind" wait "$T/kill.out"; victim=$PID
  sleep 0.5
  kill -KILL "$victim"
  it_wait_for "$kind: a waiter sent SIGKILL still there 5 s later (state $(awk '{ print $3 }' "/proc/$victim/stat" 2>/dev/null))" 5 ended "$victim"
  echo "ok $kind: a killed waiter goes"

  # The lock still works: the holder lets go, the next waiter gets it.
  start "$kind" wait "$T/next.out"; next=$PID
  sleep 0.3
  kill "$holder"
  it_wait_for "$kind: the lock was not handed on within 5 s: $(tr '\n' ' ' < "$T/next.out")" 5 grep -qs "^got$" "$T/next.out"
  wait "$next" "$holder" 2>/dev/null
  echo "ok $kind: the lock is handed on after the interrupted waits"
done

# A lock granted after another thread of the waiting process closed an fd
# of the file during the wait stays held (POSIX: the close dropped the
# locks held then, not the one granted later): the mount dropped it with
# the description the close had let go.
cat > "$T/close_during_wait.py" <<'PY'
import fcntl, os, sys, threading, time
path, out = sys.argv[1:3]
fd = os.open(path, os.O_RDWR)
got = []
def wait_for_lock():
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
    got.append(1)
t = threading.Thread(target=wait_for_lock)
t.start()
time.sleep(0.5)  # in its wait
os.close(os.open(path, os.O_RDONLY))  # a close by this process (FLUSH)
with open(out, "a") as f:
    f.write("closed\n")
t.join()
with open(out, "a") as f:
    f.write("locked\n")
time.sleep(300)
PY
rm -f "$T"/*.out
start fcntl hold "$T/hold.out"; holder=$PID
python3 "$T/close_during_wait.py" "$mnt/f" "$T/cdw.out" &
cdw=$!
IT_PIDS+=("$cdw")
it_wait_for "the waiter did not close its second fd" 10 grep -qs closed "$T/cdw.out"
kill "$holder"
it_wait_for "the waiter did not get the lock within 5 s of its release" 5 grep -qs locked "$T/cdw.out"
probe=$(python3 - "$mnt/f" <<'PY'
import fcntl, os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
r = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 10, 0))
t, w, start, ln, pid = struct.unpack("hhqqi", r)
print("held" if t == fcntl.F_WRLCK else "free", pid)
PY
)
[ "$probe" = "held $cdw" ] ||
  it_fail "a lock granted after a close during its wait: F_GETLK says '$probe', want 'held $cdw'"
kill "$cdw"
wait "$cdw" "$holder" 2>/dev/null # gone before the unmount below (EBUSY)
echo "ok a lock granted after a close during the wait stays held (F_GETLK: $probe)"

# SIGTERM while a process waits for a lock: the mount stops, the waiter
# gets an error (the mount is gone), nothing hangs. With threads=1 the
# waiter's worker is the only one: the stop's own write-back needs it.
stop_with_waiter() { # OPTS
  IT_MOUNT_LOG=$T/mount.log it_mount "$shadowfs" "$backing" "$mnt" "$1"
  if [[ ",$1," == *,threads=1,* ]]; then
    it_log_has "$T/mount.log" "locks=backing with threads=1: while a process waits" ||
      it_fail "$1: no warning that one thread serves the lock waits: $(cat "$T/mount.log")"
  fi
  rm -f "$T"/*.out
  start fcntl hold "$T/hold.out"; holder=$PID
  start fcntl wait "$T/wait.out"; waiter=$PID
  sleep 0.5
  kill -TERM "$IT_PID"
  it_wait_for "$1: shadowfs still running 10 s after SIGTERM with a process waiting for a lock" 10 ended "$IT_PID"
  it_wait_for "$1: the waiter still waits 5 s after the mount stopped" 5 ended "$waiter"
  grep -q '^got$' "$T/wait.out" && it_fail "$1: the waiter got the lock the holder still held"
  kill "$holder" 2>/dev/null
  wait "$IT_PID"; rc=$?
  [ "$rc" -eq 0 ] || it_fail "$1: exit status $rc after SIGTERM with a lock waiter"
  it_in_mount_table "$mnt" && it_fail "$1: mount left behind after SIGTERM with a lock waiter"
  echo "ok $1: SIGTERM with a lock waiter: stopped, the waiter got $(grep -v ready "$T/wait.out")"
}
it_umount "$mnt"
stop_with_waiter locks=backing
stop_with_waiter locks=backing,threads=1
