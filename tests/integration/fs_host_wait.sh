#!/usr/bin/env bash
# Files that want a copy while none of their hosts is up wait for one, with
# no back-off: three files pinned while the only host (a shadowd) is down
# for 10 s show copy_error=EHOSTDOWN with copy_failures=0 and no retry
# delay, the log says "waits for a host" once for all of them, and once the
# shadowd is back they are all copied (within the watcher's reconnect
# back-off, at most 5 s, and a pass; the test allows 15 s). Before, each
# pass counted a failure: the back-off grew (1, 2, 4, 8 s... up to 5 min)
# and a file could wait that long after the host was back; each file
# logged its wait and then "copied after N failed attempts".
# Then a shadowd killed during a run of 200 copies (see below).
# Usage: fs_host_wait.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_host_wait)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0
PORT=$IT_SD_PORT H=127.0.0.1:$IT_SD_PORT
for f in a b c; do head -c 65536 /dev/urandom >"$backing/$f"; done
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_quiet=0,remote_timeout=2000"
kill "$IT_SD_PID"
wait "$IT_SD_PID" 2>/dev/null
down() { grep -q "host $H is down" "$T/mount.log"; }
it_wait_for "the mount did not see the shadowd go down" 10 down
for f in a b c; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
sleep 10 # many passes with no host up
for f in a b c; do
  st=$(it_shadow_state "$mnt/$f")
  echo "$f: $st"
  echo "$st" | grep -q "copies=0 copy_error=EHOSTDOWN copy_failures=0 retry_in_s=0" ||
    it_fail "$f backed off while no host was up: $st"
done
n=$(grep -c "waits for a host" "$T/mount.log")
[ "$n" -eq 1 ] || it_fail "$n 'waits for a host' lines for one wait: $(cat "$T/mount.log")"
t0=$(date +%s%N)
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1b.log" "$PORT"
all_serving() {
  local f
  for f in a b c; do it_shadow_state "$mnt/$f" | grep -q "copy=$H:v[0-9]*:serving" || return 1; done
}
it_wait_for "not every file was copied once the shadowd was back" 15 all_serving
echo "all copied $((($(date +%s%N) - t0) / 1000000)) ms after the shadowd restarted"
! grep -q "failed attempt" "$T/mount.log" || it_fail "waits counted as failures: $(cat "$T/mount.log")"
for f in a b c; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$f read wrong"; done

# A shadowd killed during a run of copies: the copy under way may fail,
# but the files lined up behind it wait for the host (EHOSTDOWN, no
# failure counted, no back-off) rather than each failing on it in turn,
# and the run finishes once the shadowd is back. (Two things keep them
# waiting: the failed copy marks the host suspect, and the watcher sees
# its connection reset; here the watcher alone is quick enough, so this
# does not isolate the first.) Copies are slowed by the shadowd's injected
# latency so that the kill falls in the run.
kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1c.log" "$PORT" --test-inject-latency-ms 20
N=200
mkdir "$backing/run"
for i in $(seq $N); do head -c 4096 /dev/urandom >"$backing/run/f$i"; done
stored() { it_copies_in "$T/store"; }
base=$(stored)
for i in $(seq $N); do setfattr -n user.shadow.pin -v 1 "$mnt/run/f$i" || it_fail "pin run/f$i"; done
some_copied() { [ "$(stored)" -ge $((base + 10)) ]; }
it_wait_for "the run of copies did not start" 30 some_copied
kill -9 "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
copied=$(($(stored) - base))
[ "$copied" -lt "$N" ] || it_fail "all $N copied before the kill: the run was too fast to test"
downs() { [ "$(grep -c "host $H is down" "$T/mount.log")" -ge 2 ]; }
it_wait_for "the mount did not see the killed shadowd go down" 15 downs
sleep 2 # passes with the host down
failed=0 waiting=0
for i in $(seq $N); do
  st=$(it_shadow_state "$mnt/run/f$i")
  [[ "$st" == *copy_failures=0* || "$st" != *copy_failures=* ]] || failed=$((failed + 1))
  [[ "$st" == *"copy_error=EHOSTDOWN copy_failures=0"* ]] && waiting=$((waiting + 1))
done
echo "killed after $copied of $N copies: $failed files counted a failure, $waiting wait for the host"
[ "$failed" -le 2 ] || it_fail "$failed files failed on the dead host (the copy under way at most)"
[ "$waiting" -ge 1 ] || it_fail "no file waits for the host"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1d.log" "$PORT"
run_copied() { [ "$(stored)" -ge $((base + N)) ]; }
it_wait_for "the run was not finished once the shadowd was back" 60 run_copied
for i in 1 $N; do cmp -s "$mnt/run/f$i" "$backing/run/f$i" || it_fail "run/f$i read wrong"; done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
