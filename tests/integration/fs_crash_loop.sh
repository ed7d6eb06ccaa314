#!/usr/bin/env bash
# A crash loop: shadowfs killed with SIGKILL at seeded random moments while
# a workload writes blocks (each acknowledged by fsync), pins, unpins and
# tunes files and directories, renames, unlinks and re-creates pinned
# files, while copies are made to a local host and to a shadowd and the
# recorder flushes every second. After each crash the dead mount is
# unmounted (fusermount3 -u, what an operator must do) and mounted again:
#  - BACKING holds every acknowledged write, and every setxattr, rename and
#    unlink that returned 0 is in effect (crash_model.py check; the one
#    operation under way at the kill may or may not be);
#  - the series store passes sqlite's integrity check and its recorded
#    history never shrinks;
#  - STATE holds only its own files (each with at most one temporary file
#    a crash left), and the host stores do not pile up temporary files
#    and after a clean unmount the local store holds none;
#  - nothing is written outside BACKING, STATE and the stores (the current
#    directory stays empty).
# A pinned file's rename under way at the kill keeps its pin whether it was
# made or not (its intent is in STATE/pins.log before it is made; before,
# its pin could stay on the old name and be dropped as gone).
# Usage: fs_crash_loop.sh SHADOWFS SHADOWD SHADOWCTL [SEED [ITERATIONS]]
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
# (absolute: the test runs from a directory of its own, below)
SHADOWFS=$(readlink -f "$1") SHADOWD=$(readlink -f "$2") CTL=$(readlink -f "$3")
SEED=${4:-1729} N=${5:-12}
MODEL="$(cd "$(dirname "$0")" && pwd)/crash_model.py"
T=$(it_tmpdir fs_crash_loop)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0
H=127.0.0.1:$IT_SD_PORT
mkdir -p "$T/h1" "$backing/d"
python3 - "$backing" <<'PY'
import os, sys
for n in ["f%d" % i for i in range(6)] + ["d/g%d" % i for i in range(3)]:
    open(os.path.join(sys.argv[1], n), "wb").write(os.urandom(16 * 4096))
PY
head -c $((6 << 20)) /dev/urandom >"$backing/big"
python3 "$MODEL" init "$backing" "$T/journal" "$T/first" || it_fail "model init"
OPTS="state=$state,bucket=1,hosts=$T/h1:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin"
OPTS+=",shadow_tick=0.1,shadow_quiet=0,shadow_idle=0.5,copy_rate=8,remote_timeout=2000"
# Everything runs from an empty directory, which must stay empty (a
# path resolved against the current directory instead of BACKING).
mkdir "$T/cwd" && cd "$T/cwd" || it_fail "cd"
RANDOM=$SEED
rows_before=0
in_store() { find "$1" -maxdepth 1 -type f -name "$2" | wc -l; }
state_names='(control\.stats|hosts\.status|mount\.info|origin\.id|pins|pins\.log|recorder\.stats'
state_names+='|series\.db(-wal|-shm)?|shadows\.status|tuning|versions)(\.tmp[0-9]*)?'
for i in $(seq "$N"); do
  IT_MOUNT_LOG=$T/mount$i.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
  pid=$IT_PID
  if [ "$i" -gt 1 ]; then
    python3 "$MODEL" check "$mnt" "$backing" "$T/journal" "$T/first" ||
      it_fail "iteration $i: the state after crash $((i - 1)) differs from the acknowledged operations"
    [ "$(getfattr --only-values -n user.shadow.pin "$mnt/big")" = 1 ] ||
      it_fail "iteration $i: big lost its pin"
    for f in big d; do
      [ "$(getfattr --only-values -n user.shadow.hosts "$mnt/$f")" = "$T/h1" ] ||
        it_fail "iteration $i: $f lost its hosts setting"
    done
  else
    # big (a paced copy of ~0.8 s) and d/* go to the local host, the
    # others to the cheaper shadowd.
    setfattr -n user.shadow.hosts -v "$T/h1" "$mnt/big" || it_fail "hosts on big"
    setfattr -n user.shadow.hosts -v "$T/h1" "$mnt/d" || it_fail "hosts on d"
    setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin big"
  fi
  python3 "$MODEL" run "$mnt" "$T/journal" "$((SEED * 1000 + i))" 2>"$T/run$i.err" &
  work=$!
  IT_PIDS+=("$work")
  delay=$(printf '0.%03d' $((300 + RANDOM % 700)))
  sleep "$((RANDOM % 2)).${delay#0.}"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  wait "$work"
  rc=$?
  fusermount3 -u "$mnt" || it_fail "iteration $i: fusermount3 -u of the dead mount failed"
  [ "$rc" -eq 0 ] || it_fail "iteration $i: the workload failed ($rc): $(cat "$T/run$i.err")"
  grep -v "Errno 11\]" "$T/run$i.err" | grep -q . && it_fail "iteration $i: an operation failed: $(cat "$T/run$i.err")"
  ops=$(grep -c '^A ' "$T/journal")
  [ "$(sqlite3 "$state/series.db" 'PRAGMA integrity_check')" = ok ] ||
    it_fail "iteration $i: series.db fails its integrity check"
  rows=$(sqlite3 "$state/series.db" 'SELECT count(*) FROM file_buckets')
  [ "$rows" -ge "$rows_before" ] || it_fail "iteration $i: recorded buckets went from $rows_before to $rows"
  rows_before=$rows
  [ "$(in_store "$T/h1" 'tmp.*')" -le 1 ] && [ "$(in_store "$T/store" 'tmp.*')" -le 1 ] ||
    it_fail "iteration $i: temporary files pile up: $(ls "$T/h1" "$T/store")"
  # STATE's files, each at most with the temporary file of its last
  # replacement (one name each: bounded however often the mount dies).
  nstate=$(ls "$state" | wc -l)
  other=$(ls "$state" | grep -Evx "$state_names")
  [ -z "$other" ] || it_fail "iteration $i: unexpected files in STATE: $other"
  echo "crash $i after ${delay}s+: $ops ops acknowledged so far; h1: $(in_store "$T/h1" 'tmp.*') tmp," \
    "$(in_store "$T/h1" 'unsynced.*') unsynced, $(it_copies_in "$T/h1") copies;" \
    "shadowd: $(in_store "$T/store" 'tmp.*') tmp, $(in_store "$T/store" 'unsynced.*') unsynced," \
    "$(it_copies_in "$T/store") copies; $rows buckets recorded; $nstate names in STATE"
done
IT_MOUNT_LOG=$T/mount-last.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
python3 "$MODEL" check "$mnt" "$backing" "$T/journal" "$T/first" ||
  it_fail "the state after the last crash differs from the acknowledged operations"
fs_umount "$mnt"
ls -la "$T/h1" "$T/store"
[ "$(in_store "$T/h1" 'tmp.*')" -eq 0 ] || it_fail "temporary files left in the local store"
[ -z "$(ls -A "$T/cwd")" ] || it_fail "files made in the current directory: $(ls -lA "$T/cwd")"
echo "ok: $N crashes, nothing acknowledged lost"
