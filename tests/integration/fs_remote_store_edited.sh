#!/usr/bin/env bash
# A copy's file in a shadowd's store changed while the shadowd was stopped
# (a byte flipped, its mtime put back), then the shadowd started again on
# the same store: the copy must not serve the changed byte. The mount takes
# a host that went down or came back (a restart between two looks too) as
# a reason to re-sync its copies, quiet files' included, and a re-sync the
# host answers with "I hold that version" has the host re-hash it against
# the origin's digest (VERIFY): the changed copy is deleted there and made
# again. Before, the copy of a file nobody read while the host was down
# stayed serving, and about half the reads (its share) returned the changed
# byte until the next re-hash (shadow_verify, 1 h by default); a re-sync
# answered CURRENT was published without a look at the bytes.
# Usage: fs_remote_store_edited.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir t) backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin"
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0
P1=$IT_SD_PORT PID1=$IT_SD_PID H1=127.0.0.1:$P1
head -c 65536 /dev/zero | tr '\0' A >"$backing/data"
# rollout: the copy takes half of the reads at once and keeps that share
IT_MOUNT_LOG=$T/shadowfs.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=5,shadow_quiet=0.3,rollout=50/100,rollout_interval=600"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
serving() { state_of | grep -q "copy=$H1:v[0-9]*:serving"; }
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy" 10 serving
sleep 1 # unread: the entry goes quiet
kill "$PID1"
wait "$PID1" 2>/dev/null
f=$(find "$T/store1" -maxdepth 1 -type f ! -name 'tmp.*' ! -name '.*' ! -name 'unsynced.*' | head -1)
[ -n "$f" ] || it_fail "no copy file in the store: $(ls -a "$T/store1")"
touch -r "$f" "$T/ref"
printf 'Z' | dd of="$f" bs=1 seek=0 conv=notrunc status=none
touch -r "$T/ref" "$f"
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1b.log" "$P1"
found() { grep -q "held this version of it with other bytes" "$T/shadowfs.log"; }
it_wait_for "the changed copy not found by a re-sync after the restart" 20 found
it_wait_for "no serving copy after the restart" 20 serving
n=0
for _ in $(seq 100); do
  c=$(dd if="$mnt/data" bs=4096 count=1 iflag=direct status=none | head -c 1)
  [ "$c" = A ] || n=$((n + 1))
done
[ "$n" -eq 0 ] || it_fail "$n of 100 reads returned the byte changed in the store while the shadowd was stopped: $(state_of)"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc"
echo "fs_remote_store_edited: ok"
