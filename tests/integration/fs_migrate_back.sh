#!/usr/bin/env bash
# Back to the cheaper host after it was down under the copy:
#  - hosts: a local store (cost 2) and a shadowd (cost 1); a pinned file's
#    copy goes to the shadowd;
#  - the shadowd is killed: its copy goes stale (slot kept, the host
#    unreachable) and the file gets a copy on the local store;
#  - the shadowd comes back (same port, same store): the stale copy there
#    is the basis of the file's copy on the cheaper host again (re-synced,
#    serving), and the dearer local copy is dropped after shadow_idle.
#    Before (review, 2026-11-30) the host holding the stale copy was never a
#    new home (shadow_cheaper_host_free), the stale copy was never re-synced
#    (the file had its one copy, on the dearer host) nor deleted: the file
#    stayed on the dearer host and the shadowd kept the stale copy for good.
#  - reads return the right bytes throughout.
# Usage: fs_migrate_back.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_migrate_back)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd.log" 0
P=$IT_SD_PORT SD1=$IT_SD_PID
H=127.0.0.1:$P LOCAL=$T/local
head -c $((512 * 1024 + 77)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
READER=
on_exit() {
  local rc=$?
  touch "$T/stop" 2>/dev/null
  [ -n "$READER" ] && { wait "$READER" 2>/dev/null; }
  [ "$rc" -ne 0 ] && cat "$T/mount.log" >&2 2>/dev/null
  it_cleanup
}
trap on_exit EXIT
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_idle=1,shadow_quiet=0.2,rollout=100,rollout_interval=0.3,rollout_min_reads=4,rollback_factor=1000"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
on_local() { state_of | grep -q "copy=$LOCAL:v[0-9]*:serving"; }
on_remote() { state_of | grep -q "copy=$H:v[0-9]*:serving"; }
ncopies() { state_of | grep -o 'copy=' | wc -l; }
(while [ ! -e "$T/stop" ]; do cmp -s "$mnt/data" "$T/expect" || touch "$T/bad"; sleep 0.02; done) &
READER=$!

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy on the shadowd" 10 on_remote
on_local && it_fail "a copy on the dearer local host: $(state_of)"

kill -9 "$SD1"; wait "$SD1" 2>/dev/null
it_wait_for "no copy on the local host while the shadowd is down" 15 on_local
on_remote && it_fail "the copy on the shadowd that is down still serves: $(state_of)"
echo "shadowd down: $(state_of)"

it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd2.log" "$P"
it_wait_for "the file did not go back to the cheaper shadowd once it was back" 20 on_remote
local_gone() { ! on_local && [ "$(ncopies)" = 1 ]; }
it_wait_for "the dearer local copy was not dropped after shadow_idle" 15 local_gone
echo "back on $H: $(state_of)"
[ -z "$(ls "$LOCAL" | grep -E '^(unsynced\.)?[0-9a-f]{32}-')" ] || it_fail "copy files left in the local store: $(ls "$LOCAL")"
touch "$T/stop"; wait "$READER"; READER=
[ ! -e "$T/bad" ] || it_fail "a read returned wrong bytes"
echo "fs_migrate_back: ok"
