#!/usr/bin/env bash
# A shadowd whose commits hang (heartbeats still coming) is given up on for
# the copy, and the file gets its copy on the next host. Hosts: a local
# store (cost 2) and a shadowd (cost 1) whose every commit sleeps an hour
# (test-only --test-inject-commit-ms 3600000). Before, the mount waited for
# the commit while the heartbeats came, up to 30 min: the pinned file sat
# at "syncing" on the shadowd and the local host, up with room, was never
# used. Now the commit wait is bounded by the copy's size
# (fs/remote_copies.c: 15 s plus 1 s per 16 MiB):
#  - the copy there is abandoned with a warning naming the host and the
#    bound, the file's state says why (copy_error=ETIMEDOUT);
#  - the host is marked suspect for copies (a warning);
#  - the file's copy is made on the local host, and reads right;
#  - the mount exits cleanly (status 0; sanitizer reports fail it).
# Usage: fs_remote_commit_stuck.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_remote_commit_stuck)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)

it_ca "$CTL" "$T/ca" sd origin
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd "$T/sd.log" 0 --test-inject-commit-ms 3600000
H=127.0.0.1:$IT_SD_PORT LOCAL=$T/local

head -c $((1024 * 1024)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,remote_timeout=3000"

IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
syncing_remote() { state_of | grep -q "copy=$H:v[0-9]*:syncing"; }
# The reason shows between the abandoned copy and the next attempt (the
# file's 1 s back-off): noted when seen.
on_local() {
  local s
  s=$(state_of)
  [[ $s == *copy_error=ETIMEDOUT* ]] && : >"$T/reason_seen"
  [[ $s =~ copy=$LOCAL:v[0-9]*:serving ]]
}

t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no copy under way on the cheaper shadowd" 10 syncing_remote
IT_WAIT_SHOW="grep -v 'is up' '$T/mount.log'" it_wait_for "no copy on the local host" 45 on_local
echo "copy on the local host $((($(date +%s%N) - t0) / 1000000)) ms after the pin (commit hung on $H)"
grep "did not commit" "$T/mount.log" | grep -q "$H" ||
  it_fail "the abandoned commit was not logged: $(cat "$T/mount.log")"
grep -q "host $H: .*suspect" "$T/mount.log" ||
  it_fail "the host was not marked suspect: $(cat "$T/mount.log")"
[ -e "$T/reason_seen" ] || it_fail "the state never said copy_error=ETIMEDOUT"
state_of | grep -q "copy=$H:v[0-9]*:syncing" && it_fail "a copy under way on $H still: $(state_of)"
cmp "$mnt/data" "$T/expect" || it_fail "read from the local copy"
grep -E "did not commit|suspect" "$T/mount.log"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc: $(tail -5 "$T/mount.log")"
grep -l "Sanitizer" "$T/mount.log" "$T/sd.log" && it_fail "sanitizer report"
echo "PASS fs_remote_commit_stuck"
