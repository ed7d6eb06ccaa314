#!/usr/bin/env bash
# A remote copy that stopped serving while its shadowd was down (STALE, the
# file's version unchanged), BACKING changed behind the mount's back in the
# meantime (same size: nothing compares a stale copy's stamps), then the
# host back: the re-sync must not take the host's copy of "this version"
# for current. Before, it did (sync=current, nothing sent) and the copy
# served the old bytes until its next SHA-256 re-hash (an hour by default):
# about half the reads below returned them (the copy's share is 50 %).
# Now the version moves when the stale copy's origin stamp is not the
# origin's, and the re-sync is a librsync delta at the new version.
# Usage: fs_remote_stale_behind.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir t) backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin"
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0
PID1=$IT_SD_PID H1=127.0.0.1:$IT_SD_PORT
trap 'kill -CONT $PID1 2>/dev/null; it_cleanup' EXIT
head -c 65536 /dev/zero | tr '\0' A >"$backing/data"
# rollout: the copy takes half of the reads at once and keeps that share
# (a copy at full share loses the power-of-two ties to an idle origin)
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=5,shadow_quiet=0.3,rollout=50/100,rollout_interval=600"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
host_is() { "$CTL" hosts "$mnt" 2>/dev/null | awk -v h="$H1" '$1 == h { print $3 }' | grep -qx "$1"; }
copy_is() { state_of | grep -q "copy=$H1:v[0-9]*:$1"; }
old_reads() { # how many of N direct reads of the first block return the old bytes
  local n=0 c
  for _ in $(seq "$1"); do
    c=$(dd if="$mnt/data" bs=4096 count=1 iflag=direct status=none | head -c 1)
    [ "$c" = B ] || n=$((n + 1))
  done
  echo "$n"
}

it_wait_for "host not up" 10 host_is up
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy" 10 copy_is serving
kill -STOP "$PID1"
it_wait_for "host not seen down" 20 host_is down
it_wait_for "copy not stale with its host down" 5 copy_is stale
head -c 65536 /dev/zero | tr '\0' B >"$backing/data" # behind the mount's back
kill -CONT "$PID1"
it_wait_for "host not up again" 20 host_is up
it_wait_for "no serving copy after the host came back" 20 copy_is serving
echo "after the host came back: $(state_of)"
n=$(old_reads 100)
echo "reads of the old bytes: $n of 100; $(state_of)"
[ "$n" -eq 0 ] || it_fail "$n of 100 reads returned the bytes from before the change"
state_of | grep -q "sync=current" && it_fail "re-synced as current: $(state_of)"
copy_reads=$(state_of | sed -n "s/.*copy=$H1:v[0-9]*:serving:reads=\([0-9]*\).*/\1/p")
[ "${copy_reads:-0}" -gt 0 ] || it_fail "the copy served no read: $(state_of)"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc"
echo "fs_remote_stale_behind: ok"
