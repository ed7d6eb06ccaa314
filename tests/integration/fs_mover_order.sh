#!/usr/bin/env bash
# The order of the mover's jobs (fs/shadow_control.c, fs/mover.h "Order"),
# with a real mount, copy_rate=2 MB/s (a 16 MiB copy takes ~8 s),
# shadow_verify=1 (every copy re-hashed each second the mover is free) and
# -o fault_verify_delay_ms=500 (tests only: a local re-hash reads 1 MiB
# every 500 ms, so that of 16 MiB takes ~8 s too):
#  - a file pinned while a re-hash of a big copy runs is copied at once:
#    the re-hash is put off (cancelled, owed) instead of finishing first;
#    the put-off re-hash runs again later, and the big copy keeps serving;
#  - two files pinned while a big copy runs wait for it; then the one being
#    read (origin reads in the last tick) is copied before the other,
#    although it was pinned second;
#  - a touch and a chmod through the mount during a copy do not restart it
#    (no byte changed: the origin's stamps are carried, fs/shadowing.c);
#    a change behind the mount's back after such a carry still stops it.
# Usage: fs_mover_order.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_mover_order)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
store=$T/store
BIG=$((16 * 1024 * 1024))
OPTS="norecord,cache=never,shadow_tick=0.1,shadow_quiet=0,shadow_idle=30,copy_rate=2,shadow_verify=1,fault_verify_delay_ms=500"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
state_of() { it_shadow_state "$mnt/$1"; }
serving() { state_of "$1" | grep -q ":serving"; }
tmp_count() { ls "$store" 2>/dev/null | grep -c '^tmp\.'; }
copying() { [ "$(tmp_count)" -gt 0 ]; }
pin() { setfattr -n user.shadow.pin -v 1 "$mnt/$1" || it_fail "pin $1"; }
rchar() { sed -n 's/^rchar: //p' "/proc/$IT_PID/io"; }
# bytes the mount reads in 1.2 s (a slowed re-hash: 2 or 3 MiB)
read_rate() { local r0; r0=$(rchar); sleep 1.2; echo $(($(rchar) - r0)); }

for f in big big2 meta; do head -c "$BIG" /dev/urandom >"$backing/$f"; done
for f in small first second; do head -c $((256 * 1024)) /dev/urandom >"$backing/$f"; done
head -c $((4 * 1024 * 1024)) /dev/urandom >"$backing/behind"
cp "$backing/big" "$T/big"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS,state=$state,hosts=$store:cost=1" 2> >(tee "$T/log" >&2)
IT_WATCH=$mnt/big
pin big
it_wait_for "no serving copy of big" 40 serving big

# 1. A pin during the re-hash of big: copied at once.
sleep 1.5 # shadow_verify=1: the re-hash of big starts within a second
copying && it_fail "a copy runs where a re-hash was expected: $(ls "$store")"
rate=$(read_rate)
[ "$rate" -gt 1000000 ] || it_fail "no re-hash of big under way (the mount read $rate bytes in 1.2 s)"
copying && it_fail "a copy runs where a re-hash was expected: $(ls "$store")"
t0=$(now_ms)
pin small
it_wait_for "small not copied within 3 s of its pin during a re-hash" 3 serving small
dt=$(($(now_ms) - t0))
echo "pinned during an ~8 s re-hash of big: small served after $dt ms"
[ "$dt" -lt 3000 ] || it_fail "small served $dt ms after its pin: it waited for the re-hash"
grep -q "a re-hash put off" "$T/log" || it_fail "no 're-hash put off' line in the log"
# The put-off re-hash is owed: it runs again (the mount reads again, with
# no copy under way) and big still serves, byte-identical.
sleep 1.5
rate=$(read_rate)
[ "$rate" -gt 1000000 ] || it_fail "the put-off re-hash of big did not run again ($rate bytes in 1.2 s)"
serving big || it_fail "big stopped serving after its re-hash was put off: $(state_of big)"
cmp "$mnt/big" "$T/big" || it_fail "big read back differs"

# 2. Two pins during a big copy: the file being read goes first.
pin big2
it_wait_for "the copy of big2 did not start" 10 copying
pin first
pin second
fio --name=reader --filename="$mnt/second" --rw=randread --bs=4k --size=256k \
  --time_based --runtime=120 --ioengine=psync --output=/dev/null &
reader=$!
IT_PIDS+=("$reader")
it_wait_for "no serving copy of big2" 40 serving big2
it_wait_for "second never copied" 10 serving second
it_wait_for "first never copied" 10 serving first
kill "$reader"
# Which was copied first: the mtimes of their copies in the store.
copy_mtime() { # FILE: mtime (ns) of the store file holding FILE's bytes
  local c
  for c in $(ls "$store" | grep -v '^tmp\.'); do
    cmp -s "$store/$c" "$backing/$1" && { date -r "$store/$c" +%s%N; return; }
  done
  it_fail "no copy of $1 in the store: $(ls "$store")"
}
m1=$(copy_mtime first) m2=$(copy_mtime second)
echo "after big2: second (being read) copied $(((m1 - m2) / 1000000)) ms before first (pinned before it)"
[ "$m2" -lt "$m1" ] || it_fail "the file being read was not copied first (first at $m1, second at $m2)"
# 3. Metadata changed through the mount during a copy (touch, chmod: the
#    origin's ctime and mtime move, no byte does) does not restart it.
pin meta
it_wait_for "the copy of meta did not start" 10 copying
t0=$(now_ms)
sleep 5
touch "$mnt/meta" && chmod 600 "$mnt/meta" || it_fail "touch/chmod meta"
it_wait_for "no serving copy of meta" 40 serving meta
dt=$(($(now_ms) - t0))
echo "meta (touched and chmod-ed 5 s into its ~8 s copy) served $dt ms after the copy began"
[ "$dt" -lt 11500 ] || it_fail "the copy of meta was restarted by a metadata change ($dt ms)"
cmp "$mnt/meta" "$backing/meta" || it_fail "meta read back differs"
# ... but a change behind the mount's back after such a carry still stops
# the copy: what serves afterwards is BACKING's new bytes.
pin behind
it_wait_for "the copy of behind did not start" 10 copying
sleep 0.5
touch "$mnt/behind" || it_fail "touch behind"
sleep 0.3
printf 'CHANGED BEHIND THE MOUNT' | dd of="$backing/behind" bs=1 seek=1000 conv=notrunc status=none
it_wait_for "no serving copy of behind" 40 serving behind
cmp "$mnt/behind" "$backing/behind" || it_fail "a copy of the bytes before a change behind the mount serves"
# (the rollout gives a new copy 10% of the reads: the store's copy itself)
n=0
for c in $(ls "$store" | grep -v '^tmp\.'); do
  [ "$(stat -c %s "$store/$c")" -eq $((4 * 1024 * 1024)) ] || continue
  n=$((n + 1))
  cmp -s "$store/$c" "$backing/behind" || it_fail "the copy of behind holds the bytes before the change behind the mount"
done
[ "$n" -eq 1 ] || it_fail "$n copies of behind in the store"
fs_umount "$mnt"
echo "ok"
