#!/usr/bin/env bash
# A shadowd slow to commit an upload (as a big copy is: a ranged update's
# commit re-hashes the whole new copy, 20 s for a 12 GiB file) still gets
# its copies. The mount waited one frame's timeout (5 s) for the answer
# to END, gave up ("cannot copy ...: Connection timed out"), deleted the
# host's versions of the file and, next time, sent the whole file again,
# which timed out the same way if its commit was slow too. Now the wait
# goes on while the host's heartbeats come. Here the commit is made slow
# (test-only --test-inject-commit-ms 7000: a sleep before each commit).
#  - a pinned file gets its copy (a full one) with no failed attempt;
#  - a small write then re-syncs it by ranges, no failed attempt either;
#  - the shadowd stopped (SIGSTOP) during such a commit: the mount gives
#    up (copy_error in the state) within a few seconds of the heartbeats
#    stopping, as before (no endless wait), and the copy is made once the
#    shadowd is back;
#  - the mount exits cleanly (status 0; sanitizer reports fail it).
# Usage: fs_remote_commit_wait.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_remote_commit_wait)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)

it_ca "$CTL" "$T/ca" sd1 origin
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0 --test-inject-commit-ms 7000
H1=127.0.0.1:$IT_SD_PORT PID1=$IT_SD_PID
trap 'kill -CONT $PID1 2>/dev/null; it_cleanup' EXIT

head -c $((1024 * 1024)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,remote_timeout=3000"

IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
serving_by() { state_of | grep -q "copy=$H1:v[0-9]*:serving:.*:sync=$1:"; }
failed() { grep -q "cannot copy data" "$T/mount.log"; }

t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
IT_WAIT_SHOW="grep -v 'is up' '$T/mount.log'" it_wait_for "no copy after a 7 s commit" 20 serving_by full
echo "first copy serving after $((($(date +%s%N) - t0) / 1000000)) ms (commit 7000 ms)"
failed && it_fail "the copy failed before it served: $(cat "$T/mount.log")"

t0=$(date +%s%N)
printf 'changed!' | dd of="$mnt/data" bs=1 seek=1000 conv=notrunc status=none
printf 'changed!' | dd of="$T/expect" bs=1 seek=1000 conv=notrunc status=none
IT_WAIT_SHOW="grep -v 'is up' '$T/mount.log'" it_wait_for "no re-sync by ranges after a 7 s commit" 20 serving_by ranges
echo "re-synced by ranges after $((($(date +%s%N) - t0) / 1000000)) ms"
failed && it_fail "the re-sync failed: $(cat "$T/mount.log")"
cmp "$mnt/data" "$T/expect" || it_fail "read after the re-sync"

# Stopped during a commit: given up once the heartbeats stop, not waited
# for without end; made once the shadowd is back.
printf 'again' | dd of="$mnt/data" bs=1 seek=2000 conv=notrunc status=none
printf 'again' | dd of="$T/expect" bs=1 seek=2000 conv=notrunc status=none
uploading() { [ -n "$(find "$T/store1" -name 'tmp.*')" ]; }
it_wait_for "no upload started" 10 uploading
sleep 1 # not a wait for a state: lands the stop inside the 7 s commit (either way it must give up)
kill -STOP "$PID1"
t0=$(date +%s%N)
gave_up() { state_of | grep -q "copy_error="; }
it_wait_for "the mount waited on a stopped shadowd" 15 gave_up
echo "gave up $((($(date +%s%N) - t0) / 1000000)) ms after SIGSTOP: $(state_of | grep -o 'copy_error=[A-Z]*')"
kill -CONT "$PID1"
serving_now() { state_of | grep -q "copy=$H1:v[0-9]*:serving" && cmp -s "$mnt/data" "$T/expect"; }
it_wait_for "no copy after SIGCONT" 30 serving_now
cmp "$mnt/data" "$T/expect" || it_fail "read at the end"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc: $(tail -5 "$T/mount.log")"
grep -l "Sanitizer" "$T/mount.log" "$T/sd1.log" && it_fail "sanitizer report"
echo "PASS fs_remote_commit_wait"
