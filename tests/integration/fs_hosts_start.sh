#!/usr/bin/env bash
# Placement at mount start waits for the remote hosts' first state: a
# pinned file (pinned in an earlier mount) whose cheapest host is a shadowd
# that answers its first heartbeat only after 0.8 s (injected latency) is
# copied there, never first to the dearer local host that is up at once
# (which would copy it twice: local now, then a migration). No copy
# attempt fails meanwhile.
# Usage: fs_hosts_start.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_hosts_start)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin operator"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0 --test-inject-latency-ms 800
H=127.0.0.1:$IT_SD_PORT
head -c $((1 << 20)) /dev/urandom >"$backing/data"
OPTS="norecord,cache=never,state=$state,hosts=$T/local:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin"
OPTS+=",shadow_tick=0.05,shadow_quiet=0,remote_timeout=5000"
state_of() { it_shadow_state "$mnt/data"; }
on_remote() { state_of | grep -q "copy=$H:v[0-9]*:serving"; }
local_copies() { find "$T/local" -maxdepth 1 -type f 2>/dev/null | wc -l; }

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
IT_WATCH=$mnt/data it_wait_for "no copy on the shadowd in the first mount" 20 on_remote
it_umount "$mnt"
wait "$IT_PID" || it_fail "first mount exited with an error"

# The remount: the pin is there from the first tick on.
IT_MOUNT_LOG=$T/mount2.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
t0=$(date +%s%N)
seen_local=0
for _ in $(seq 400); do
  [ "$(local_copies)" -eq 0 ] || seen_local=1
  state_of | grep -q "copy=$T/local" && seen_local=1
  on_remote && break
  sleep 0.05
done
on_remote || it_fail "no copy on the shadowd after the remount: $(state_of)"
echo "copy on the shadowd $((($(date +%s%N) - t0) / 1000000)) ms after the remount: $(state_of)"
[ "$seen_local" -eq 0 ] || it_fail "a copy went to the dearer local host while the shadowd was not up yet"
sleep 1 # nothing moves afterwards either
[ "$(local_copies)" -eq 0 ] || it_fail "a local copy appeared: $(ls "$T/local")"
! grep -E "failed attempt|cannot copy|waits for a host|cheaper host" "$T/mount2.log" ||
  it_fail "copy attempts failed or migrated at start"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
