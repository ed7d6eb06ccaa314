#!/usr/bin/env bash
# The express lane (fs/mover.h): a file that goes over its capacity while
# the mover makes a long paced copy of another is copied at once beside
# it; the copy under way pauses meanwhile and then resumes, not restarts.
# A real mount with recording (1 s buckets), shadow_capacity=5 reads per
# bucket, copy_rate=2 MB/s, one local host:
#  - big (48 MiB, pinned: ~25 s at 2 MB/s) is copying when hot (4 MiB) is
#    read (4 KiB at a time) up to 50 times a second; hot serves within 15 s of
#    the first read, while big's copy is still under way, and the log says
#    the copy under way paused;
#  - while hot's copy runs (~2 s at 2 MB/s), big's temporary file grows by
#    at most the chunk that was in flight (1 MiB), not by the 4 MB that
#    sharing the rate would give it;
#  - big's copy then finishes in the temporary file it began with (not
#    restarted), byte-identical and serving, no copy cancelled; the mount
#    reads at most 2.5 x 48 MiB in all for it (the origin once, the
#    commit's check once) plus hot's share;
#  - reads of big through the mount, recorded and named by the recorder
#    (user.shadow.id), leave its copy serving: the file was named before
#    its copy, so the naming does not move its ctime afterwards.
# Usage: fs_mover_express.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_mover_express)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
store=$T/store
MIB=$((1024 * 1024))
BIG=$((48 * MIB)) HOT=$((4 * MIB))
OPTS="cache=never,bucket=1,shadow_capacity=5,shadow_threshold=0.99,shadow_window=1,shadow_tick=0.1,shadow_quiet=0,shadow_idle=60,copy_rate=2,shadow_verify=0"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
serving() { it_shadow_state "$mnt/$1" | grep -q ":serving"; }
tmps() { ls "$store" 2>/dev/null | grep '^tmp\.'; }
copying() { [ -n "$(tmps)" ]; }
size_of() { stat -c %s "$store/$1" 2>/dev/null || echo 0; }
rchar() { sed -n 's/^rchar: //p' "/proc/$IT_PID/io"; }

head -c "$BIG" /dev/urandom >"$backing/big"
head -c "$HOT" /dev/urandom >"$backing/hot"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS,state=$state,hosts=$store:cost=1" 2> >(tee "$T/log" >&2)
IT_WATCH=$mnt/big
r0=$(rchar)
t_pin=$(now_ms)
setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin big"
it_wait_for "big's copy did not start" 10 copying
big_tmp=$(tmps)
[ "$(wc -l <<<"$big_tmp")" = 1 ] || it_fail "more than one temporary file: $big_tmp"
sleep 1

# hot is read, 4 KiB per open, until $stop exists.
stop=$T/stop-hot
(while [ ! -e "$stop" ]; do
  dd if="$mnt/hot" of=/dev/null bs=4k count=1 status=none || exit 1
  sleep 0.02
done) &
loader=$!
IT_PIDS+=("$loader")
t0=$(now_ms)
# hot's copy: a second temporary file beside big's, for ~2 s.
second() { tmps | grep -qv "^$big_tmp\$"; }
it_wait_for "no copy of hot, over capacity, began within 15 s while big copies" 15 second
s0=$(size_of "$big_tmp")
t1=$(now_ms)
while second && [ $(($(now_ms) - t1)) -lt 10000 ]; do sleep 0.05; done
s1=$(size_of "$big_tmp")
hot_ms=$(($(now_ms) - t1))
echo "hot's copy ran ~$hot_ms ms beside big's; big's temporary file grew $((s1 - s0)) bytes meanwhile"
[ "$hot_ms" -ge 1000 ] || it_fail "hot's 4 MiB copy took $hot_ms ms: not paced?"
[ $((s1 - s0)) -le $((MIB + MIB / 4)) ] ||
  it_fail "big's copy went on ($((s1 - s0)) bytes) while hot's ran: it did not pause"
it_wait_for "hot not serving" 5 serving hot
dt=$(($(now_ms) - t0))
copying || it_fail "big's copy was no longer under way when hot served"
serving big && it_fail "big already serving when hot served"
echo "hot (over capacity) served $dt ms after its reads began, while big's copy was under way"
grep -q "hot is over capacity: copied now, the copy of .*big under way pauses" "$T/log" ||
  it_fail "no express-lane line in the log"
touch "$stop"
wait "$loader" || it_fail "reading hot through the mount failed"

# Until big serves, its temporary file is the one it began with: resumed,
# not restarted (a restart writes a new one).
for _ in $(seq 1200); do
  serving big && break
  t=$(tmps)
  [ -z "$t" ] || [ "$t" = "$big_tmp" ] || it_fail "big's copy restarted: temporary files now $t, was $big_tmp"
  sleep 0.05
done
serving big || it_fail "big not serving within 60 s of hot's copy"
took=$(($(now_ms) - t_pin))
read_bytes=$(($(rchar) - r0))
echo "big served $took ms after its pin; the mount read $read_bytes bytes in all"
[ "$read_bytes" -le $((BIG * 5 / 2 + HOT * 3)) ] ||
  it_fail "the mount read $read_bytes bytes for a $BIG-byte copy: big's copy restarted?"
cmp -s "$backing/big" "$mnt/big" || it_fail "big read through the mount differs"
# Those reads are recorded, and the recorder names big at its next flush
# (user.shadow.id in BACKING): named before its copy, big keeps serving the
# same copy (no re-copy for the moved ctime).
sleep 2.5
it_shadow_state "$mnt/big" | grep -q ":v1:serving:" ||
  it_fail "big's copy stopped serving after its reads were recorded: $(it_shadow_state "$mnt/big")"
[ "$(getfattr --only-values -n user.shadow.id "$backing/big" 2>/dev/null | wc -c)" = 36 ] ||
  it_fail "big has no user.shadow.id in BACKING"
grep "cancelled" "$T/log" && it_fail "a copy was cancelled"
fs_umount "$mnt"
echo "PASS"
