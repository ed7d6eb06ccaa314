#!/usr/bin/env bash
# A copy rolled back for its latency stays out when a write makes it stale
# and it is made again on the same host: the new copy resumes rolled back
# (daemon_rollout_resume) and serves no read meanwhile. A real mount, one
# local host, every copy read 3 ms slower (-o fault_copy_delay_us),
# rollout=100, a cool-down of 600 s, three readers; two rounds of a
# one-byte write and the copy re-made: its reads stay 0 for 2 s after it
# serves, and the file reads right.
# Before, the re-made copy was published at the first step's share
# (rollout=100: every read) until the next tick resumed it rolled back:
# 94 to 181 reads at 3.4 ms (the origin's p50: 53 us) after each write,
# at the default shadow_tick of 1 s.
# Usage: fs_rollout_back_write.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=
trap 'rc=$?; [ "$rc" -ne 0 ] && [ -n "$T" ] && cat "$T/mount.log" >&2; it_cleanup' EXIT
T=$(it_tmpdir fs_rollout_back_write)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
head -c $((1024 * 1024 + 77)) /dev/urandom >"$backing/data"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$T/host,shadow_tick=1,shadow_quiet=0.2,rollout=100,rollout_interval=0.5,rollout_min_reads=30,rollout_cooldown=600,fault_copy_delay_us=3000" 2>/dev/null
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
copy_field() { state_of | sed -n "s/.*copy=[^ ]*:v\([0-9]*\):serving:reads=\([0-9]*\):.*/\\$1/p"; }
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_readers_start 3 sh -c 'cat "$1" >/dev/null' reader "$mnt/data"
rolled_back() { state_of | grep -q ":share=0:.*rollout=rolled-back:why=p50_"; }
it_wait_for "the slow copy was not rolled back" 30 rolled_back
for round in 1 2; do
  v0=$(copy_field 1)
  printf 'x' | dd of="$mnt/data" bs=1 seek=$((round * 100)) conv=notrunc status=none || it_fail "write"
  remade() { v=$(copy_field 1); [ -n "$v" ] && [ "$v" != "$v0" ]; }
  it_wait_for "round $round: the copy was not made again" 10 remade
  sleep 2
  reads=$(copy_field 2)
  [ "$reads" = 0 ] || it_fail "round $round: the re-made copy of a rolled-back host served $reads reads: $(state_of)"
  rolled_back || it_fail "round $round: not rolled back: $(state_of)"
  cmp -s "$mnt/data" "$backing/data" || it_fail "round $round: the file read wrong"
done
it_readers_stop
[ "$(grep -c 'rollback:' "$T/mount.log")" = 1 ] || it_fail "not one rollback line: $(grep 'rollback:' "$T/mount.log")"
it_umount "$mnt"
echo "fs_rollout_back_write: ok"
