#!/usr/bin/env bash
# A copy on a shadowd whose reads fail now and then is rolled back for its
# read errors, as a local copy is (daemon/rollout.h: "any read error ->
# rolled back"), and not re-made over and over: a real mount, a real
# shadowd on loopback failing 5 % of its requests with EIO
# (--test-inject-error-rate), the origin made 3 ms slower a read
# (-o fault_origin_delay_file) so that the copy's speed alone would keep it,
# rollout=100 (full share at once), three readers.
#  - the copy is rolled back with the reason N_read_errors (log and
#    user.shadow.state), share 0, still kept (serving, not re-synced);
#  - once rolled back it serves no more reads; every read returns the
#    right bytes.
# Before, the router marked a remote copy stale at any refused read: it was
# re-synced at once (nothing to send) and published again at its share
# with its error count reset, so the rollout never saw an error: no
# rollback in 20 s at a 2 % error rate, the copy re-made about once a
# second. Now only "no such copy" (ENOENT) and "changed on disk" (EBADMSG)
# make it stale (fs_copy_damage, fs_remote_store_edited).
# Usage: fs_rollout_remote_errors.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=
trap 'rc=$?; [ "$rc" -ne 0 ] && [ -n "$T" ] && cat "$T/mount.log" >&2; it_cleanup' EXIT
T=$(it_tmpdir fs_rollout_remote_errors)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd "$T/sd.log" 0 --test-inject-error-rate 0.05
H=127.0.0.1:$IT_SD_PORT
head -c $((256 * 1024 + 77)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
echo 3000 >"$T/origin_delay"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_quiet=0.2,rollout=100,rollout_cooldown=600,fault_origin_delay_file=$T/origin_delay" 2>/dev/null
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
copy_reads() { state_of | sed -n 's/.*copy=[^ ]*:reads=\([0-9]*\):.*/\1/p'; }
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
rm -f "$T/bad"
it_readers_start 3 sh -c 'cmp -s "$1" "$2" || touch "$3"' reader "$mnt/data" "$T/expect" "$T/bad"
rolled_back() { grep -q "rollback: copy of data on $H 100% -> 0%: [0-9]*_read_errors" "$T/mount.log"; }
it_wait_for "the copy failing reads was not rolled back" 20 rolled_back
rolled_back_state() { state_of | grep -q "copy=$H:v[0-9]*:serving:.*:share=0:.*rollout=rolled-back:why=[0-9]*_read_errors"; }
it_wait_for "user.shadow.state does not show the rollback" 5 rolled_back_state
r0=$(copy_reads)
sleep 1 # a rolled-back copy serves nothing: its count stays
r1=$(copy_reads)
rolled_back_state || it_fail "the copy did not stay rolled back: $(state_of)"
[ "$r0" = "$r1" ] || it_fail "the rolled-back copy served reads ($r0 -> $r1)"
it_readers_stop
[ ! -e "$T/bad" ] || it_fail "a read returned wrong bytes"
echo "rolled back: $(grep -c 'rollback:' "$T/mount.log") rollback line(s); now: $(state_of)"
fusermount3 -u "$mnt" || it_fail "fusermount3 -u"
wait "$IT_PID" || it_fail "shadowfs exited with status $?"
echo "fs_rollout_remote_errors: ok"
