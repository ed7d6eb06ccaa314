#!/usr/bin/env bash
# A stale copy left on a shadowd that was down is deleted once it is back,
# when the file no longer needs it:
#  - two shadowds of equal cost; a pinned file's copy goes to one (X);
#  - X is killed: its copy goes stale (slot kept, X unreachable) and the
#    file gets a copy on the other one (Y);
#  - X comes back (same port, same store): X is no cheaper, so the file
#    stays on Y, and the stale copy on X is dropped: gone from the file's
#    user.shadow.state and from X's store, with a log line. Before (review,
#    2026-11-30) it was kept for good (the mount's slot, and the copy file
#    on X against its space budget until --expire-hours, a week).
#  - reads return the right bytes throughout.
# Usage: fs_remote_stale_dropped.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_remote_stale_dropped)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd "$T/sd1.log" 0
P1=$IT_SD_PORT PID1=$IT_SD_PID
it_shadowd "$SHADOWD" "$T/store2" "$T/ca" sd "$T/sd2.log" 0
P2=$IT_SD_PORT PID2=$IT_SD_PID
head -c $((256 * 1024 + 77)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=127.0.0.1:$P1;127.0.0.1:$P2,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_idle=1,shadow_quiet=0.2,rollout=100"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
serving_on() { state_of | grep -q "copy=127.0.0.1:$1:v[0-9]*:serving"; }
any_serving() { state_of | grep -q "copy=[^ ]*:serving"; }
store_files() { ls "$1" 2>/dev/null | grep -cE '^(unsynced\.)?[0-9a-f]{32}-'; }
# Both hosts up (their first heartbeats) before the pin.
up2() { [ "$("$CTL" hosts "$mnt" | grep -c ' up ')" = 2 ]; }
it_wait_for "the two shadowds are not up" 10 up2

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy" 10 any_serving
if serving_on "$P1"; then X=$P1 XPID=$PID1 XS=1 Y=$P2; else X=$P2 XPID=$PID2 XS=2 Y=$P1; fi
serving_on "$X" || it_fail "no copy on either shadowd: $(state_of)"

kill -9 "$XPID"; wait "$XPID" 2>/dev/null
y_serves() { serving_on "$Y"; }
it_wait_for "no copy on the other shadowd while the first is down" 15 y_serves
state_of | grep -q "copy=127.0.0.1:$X:v[0-9]*:stale" || it_fail "no stale copy kept for the host that is down: $(state_of)"
[ "$(store_files "$T/store$XS")" = 1 ] || it_fail "the stale copy file is not in the store of the host that is down"

it_shadowd "$SHADOWD" "$T/store$XS" "$T/ca" sd "$T/sd${XS}b.log" "$X"
stale_gone() { ! state_of | grep -q "copy=127.0.0.1:$X:" && [ "$(store_files "$T/store$XS")" = 0 ]; }
it_wait_for "the stale copy on the shadowd that came back was not dropped" 20 stale_gone
serving_on "$Y" || it_fail "the copy that serves was dropped: $(state_of)"
[ "$(state_of | grep -o 'copy=' | wc -l)" = 1 ] || it_fail "not one copy in the end: $(state_of)"
grep -q "stale copy of data on 127.0.0.1:$X dropped" "$T/mount.log" || it_fail "the drop was not logged: $(cat "$T/mount.log")"
cmp -s "$mnt/data" "$T/expect" || it_fail "read"
echo "fs_remote_stale_dropped: ok ($(state_of))"
