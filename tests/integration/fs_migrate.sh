#!/usr/bin/env bash
# Migration to a cheaper host (daemon/control.h), with a real mount and a
# real shadowd on loopback (mutual TLS, certificates from shadowctl ca):
#  - hosts: a local store (cost 2) and the shadowd (cost 1), which is down
#    when the file is pinned: its copy goes to the local store;
#  - the shadowd comes back (same port): the file gets a copy there (the
#    mount logs the migration), and once both serve, the dearer local copy
#    is dropped after shadow_idle; the local store keeps no copy file;
#  - reads return the right bytes throughout; the mount exits with status 0;
#  - a flap guard, with a second mount (rollout steps 10/50/100 %, readers
#    reading all along): the local copy climbs to full share, the shadowd
#    comes back 3 ms slower a request (--test-inject-latency-ms), the file
#    migrates, the new copy loses its rollout (rolled back) and it, not the
#    local copy that serves, is dropped (the drop of the dearer copy waits
#    for the new copy's verdict, and user.shadow.state says so meanwhile);
#    the file is not migrated there again.
# Usage: fs_migrate.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_migrate)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
# The shadowd down when the file is pinned.
it_shadowd_port_down "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd.log"
P=$IT_SD_PORT
H=127.0.0.1:$P LOCAL=$T/local
head -c $((1024 * 1024 + 77)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=2,shadow_quiet=0.3,rollout=100"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
on_local() { state_of | grep -q "copy=$LOCAL:v[0-9]*:serving"; }
on_remote() { state_of | grep -q "copy=$H:v[0-9]*:serving"; }
local_files() { ls "$LOCAL" 2>/dev/null | grep -cE '^(unsynced\.)?[0-9a-f]{32}-'; }

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy on the local host" 10 on_local
on_remote && it_fail "a copy on the shadowd that is down: $(state_of)"
cmp -s "$mnt/data" "$T/expect" || it_fail "read from the local copy"
sleep 1 # a few ticks with the cheaper host down: nothing moves
[ "$(state_of | grep -o 'copy=' | wc -l)" = 1 ] || it_fail "more than one copy while the shadowd is down: $(state_of)"

t0=$(date +%s%N)
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd2.log" "$P"
it_wait_for "no copy on the cheaper shadowd once it is back" 20 on_remote
el=$((($(date +%s%N) - t0) / 1000000))
grep -q "copied to a cheaper host" "$T/mount.log" || it_fail "the migration was not logged: $(cat "$T/mount.log")"
cmp -s "$mnt/data" "$T/expect" || it_fail "read during the migration"
local_gone() { ! on_local && [ "$(local_files)" = 0 ]; }
it_wait_for "the local copy was not dropped after shadow_idle" 10 local_gone
echo "migrated: a copy on $H $el ms after it came back; now: $(state_of)"
grep -q "copy on $LOCAL dropped (more copies than its 1 wanted)" "$T/mount.log" ||
  it_fail "the drop of the dearer copy was not logged: $(cat "$T/mount.log")"
on_remote || it_fail "the copy on the shadowd does not serve after the trim: $(state_of)"
[ "$(state_of | grep -o 'copy=' | wc -l)" = 1 ] || it_fail "not one copy in the end: $(state_of)"
sd_reads() { "$CTL" host status "$H" --certs "$T/ca" --name origin --json | sed -n 's/.*"reads":\([0-9]*\).*/\1/p'; }
# At full share a copy takes a read only while the origin has more in
# flight (ties to the origin): readers four at a time, until the shadowd
# served some (one reader alone may never make the origin busy).
r0=$(sd_reads) deadline=$(($(date +%s) + 10))
while :; do
  pids=()
  for _ in 1 2 3 4; do cmp -s "$mnt/data" "$T/expect" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || it_fail "read from the migrated copy"; done
  r1=$(sd_reads)
  [ "$r1" -gt "$r0" ] && break
  [ "$(date +%s)" -lt "$deadline" ] || it_fail "the shadowd served no read after the migration ($r0 -> $r1)"
done
sleep 1.5 # stable: no migration back and forth
[ "$(grep -c "copied to a cheaper host" "$T/mount.log")" = 1 ] || it_fail "more than one migration: $(cat "$T/mount.log")"
umount_clean() { # LOG
  fusermount3 -u "$mnt" || it_fail "fusermount3 -u"
  wait "$IT_PID"; local rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc: $(cat "$1")"
}
umount_clean "$T/mount.log"

# The flap guard. Readers stopped by their flag (a kill could leave one
# holding the mount busy) before the unmount, on failure too.
READERS=()
stop_readers() {
  touch "$T/stop"
  local p
  for p in "${READERS[@]}"; do wait "$p"; done
  READERS=()
}
trap 'stop_readers; it_cleanup' EXIT
kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
LOCAL=$T/local2
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount2.log" >"$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=0.5,shadow_quiet=0.3,rollout=10/50/100,rollout_interval=1,rollout_min_reads=16,rollout_cooldown=60"
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin (second mount)"
rm -f "$T/stop" "$T/bad"
for _ in 1 2; do
  (while [ ! -e "$T/stop" ]; do cmp -s "$mnt/data" "$T/expect" || touch "$T/bad"; done) &
  READERS+=($!)
done
local_full() { state_of | grep -q "copy=$LOCAL:v[0-9]*:serving.*:share=100:"; }
it_wait_for "the local copy did not reach full share" 20 local_full
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd3.log" "$P" --test-inject-latency-ms 3
migrated() { grep -q "copied to a cheaper host" "$T/mount2.log"; }
it_wait_for "no migration to the slow shadowd" 20 migrated
dropped() { grep -q "copy on $H dropped (rolled back" "$T/mount2.log"; }
# Two bad windows of 1 s roll the new copy back; meanwhile (shadow_idle is
# 0.5 s) the surplus local copy is kept, and the state says so.
kept=
for _ in $(seq 300); do
  dropped && break
  state_of | grep -q " surplus=kept_until_rollout_ends" && kept=1
  sleep 0.1
done
dropped || it_fail "the slow shadowd's copy was not dropped after 30 s: $(state_of)"
[ -n "$kept" ] || it_fail "the state never showed the surplus copy kept for the rollout"
grep -q "copy on $LOCAL dropped" "$T/mount2.log" && it_fail "the local copy that serves was dropped: $(cat "$T/mount2.log")"
on_local || it_fail "the local copy does not serve: $(state_of)"
on_remote && it_fail "the rolled-back copy still serves: $(state_of)"
grep -q "not migrated there again for 60 min" "$T/mount2.log" || it_fail "the block was not logged: $(cat "$T/mount2.log")"
state_of | grep -Eq " migrate_blocked=$H:for_s=(3[0-9]{3}|[0-9]{1,3}) " || it_fail "the block is not in user.shadow.state: $(state_of)"
"$CTL" why "$mnt/data" | grep -q "^migration: not to $H for [0-9]* s more" || it_fail "shadowctl why does not show the block: $("$CTL" why "$mnt/data")"
"$CTL" why "$mnt/data" --json | grep -q "\"migrate_blocked\": \[{\"host\": \"$H\", \"for_s\": [0-9]*}\]" ||
  it_fail "shadowctl why --json does not show the block: $("$CTL" why "$mnt/data" --json)"
sleep 2 # ten ticks, the mover idle: no second migration
[ "$(grep -c "copied to a cheaper host" "$T/mount2.log")" = 1 ] || it_fail "migrated again: $(cat "$T/mount2.log")"
[ "$(state_of | grep -o 'copy=' | wc -l)" = 1 ] || it_fail "not one copy in the end: $(state_of)"
stop_readers
[ ! -e "$T/bad" ] || it_fail "a read returned wrong bytes during the migration and its rollback"

echo "flap guard: $(grep -c "rollout: " "$T/mount2.log") rollout lines; now: $(state_of)"
umount_clean "$T/mount2.log"
grep -l "Sanitizer" "$T"/mount*.log "$T"/sd*.log && it_fail "sanitizer report: $(cat "$T"/mount*.log)"
echo "fs_migrate: ok"
