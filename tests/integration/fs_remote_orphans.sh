#!/usr/bin/env bash
# A copy the mount drops while its shadowd does not answer (SIGSTOP: the
# delete times out before the heartbeats say the host is down), and whose
# delete request is then lost (the stopped shadowd is killed, so it never
# reads it), is deleted there once a shadowd serves that store again, not
# left for the shadowd's expiry; the other file's copy stays and serves.
# Usage: fs_remote_orphans.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_remote_orphans)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin operator"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0
H=127.0.0.1:$IT_SD_PORT PID=$IT_SD_PID PORT=$IT_SD_PORT
trap 'kill -CONT $PID 2>/dev/null; it_cleanup' EXIT
head -c $((1 << 20)) /dev/urandom >"$backing/a"
head -c $((1 << 20)) /dev/urandom >"$backing/b"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.05,shadow_quiet=0,shadow_idle=0.2"
listed() { "$CTL" host list "$H" --certs "$T/ca" --name operator | awk 'NR > 1' | wc -l; }
serving() { it_shadow_state "$mnt/$1" | grep -q "copy=$H:v[0-9]*:serving"; }
setfattr -n user.shadow.pin -v 1 "$mnt/a" && setfattr -n user.shadow.pin -v 1 "$mnt/b" || it_fail "pin"
it_wait_for "a not copied" 20 serving a
it_wait_for "b not copied" 20 serving b
[ "$(listed)" -eq 2 ] || it_fail "expected 2 copies on the shadowd, got $(listed)"

# Stopped: a's copy is dropped (unpinned), its delete times out.
kill -STOP "$PID"
setfattr -x user.shadow.pin "$mnt/a" || it_fail "unpin a"
dropped() { grep -q "cannot delete the copy of a on $H now" "$T/mount.log"; }
it_wait_for "a's delete did not fail while the shadowd was stopped" 10 dropped
kill -KILL "$PID" # the request it never read is lost with it
wait "$PID" 2>/dev/null
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1b.log" "$PORT"
PID=$IT_SD_PID
t0=$(date +%s%N)
one_left() { [ "$(listed 2>/dev/null)" = 1 ]; }
it_wait_for "a's copy was not deleted once the shadowd was back" 20 one_left
echo "a's copy deleted $((($(date +%s%N) - t0) / 1000000)) ms after the restart"
it_log_has "$T/mount.log" "shadow: $H is back: 1 copy deleted there now, 0 left" ||
  it_fail "no log line for the late delete: $(grep "$H" "$T/mount.log")"
cmp "$mnt/a" "$backing/a" && cmp "$mnt/b" "$backing/b" || it_fail "reads after the late delete"
it_wait_for "b's copy does not serve again" 20 serving b
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
