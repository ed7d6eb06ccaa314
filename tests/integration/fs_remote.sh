#!/usr/bin/env bash
# Copies on remote shadowd hosts, end to end: two real shadowd on loopback
# (mutual TLS, certificates from shadowctl ca) are the hosts of a real mount
# (cache=never: every read reaches the router).
#  - a pinned file gets a copy on the cheaper shadowd, listed by its store
#    with the file's size; the other shadowd holds nothing;
#  - concurrent reads return the right bytes and the shadowd served some of
#    them (its STATS reads counter and the mount's per-copy counter grow);
#  - write then read at once, N rounds: the new bytes every time;
#  - a small change re-syncs the stale copy by shipping about the changed
#    bytes (sync=ranges in user.shadow.state, the shadowd's received bytes);
#  - the shadowd stopped (SIGSTOP): reads stay right and each whole-file
#    read completes within a bound tied to remote_timeout; the pinned file
#    gets a copy on the other shadowd meanwhile;
#  - that shadowd restarts (the first still stopped): the copy serves
#    again, no read fails on the connections the restart broke; SIGCONT;
#  - user.shadow.hosts=H1 (a remote host by its ADDR:PORT): the copy ends
#    on H1 alone, H2 deletes its copy;
#  - unpin: after shadow_idle the copies are deleted on both hosts;
#  - the mount exits cleanly (status 0; sanitizer reports fail it).
# Usage: fs_remote.sh SHADOWFS SHADOWD SHADOWCTL [EXTRA_MOUNT_OPTS]
# (EXTRA_MOUNT_OPTS: io_uring runs it all with requests through the rings,
# remote reads landing in a ring entry's payload.)
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3 EXTRA=${4:-}
T=$(it_tmpdir fs_remote)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
TIMEOUT_MS=500 # above the 300 ms default: ASan builds on a loaded machine

it_ca "$CTL" "$T/ca" "sd1 sd2" "origin operator"
TLS=(--certs "$T/ca" --name operator)

it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0
P1=$IT_SD_PORT PID1=$IT_SD_PID
it_shadowd "$SHADOWD" "$T/store2" "$T/ca" sd2 "$T/sd2.log" 0
P2=$IT_SD_PORT PID2=$IT_SD_PID
H1=127.0.0.1:$P1 H2=127.0.0.1:$P2
# A stopped shadowd must not outlive a failed run stopped: continue it
# before lib.sh's cleanup kills it.
trap 'kill -CONT $PID1 $PID2 2>/dev/null; it_cleanup' EXIT

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
SIZE=$(stat -c %s "$T/expect")
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1:cost=1;$H2:cost=2,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,shadow_verify=0.5,remote_timeout=$TIMEOUT_MS${EXTRA:+,$EXTRA}"

IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
wait_for() { it_wait_for "$@"; }
host_up() { "$CTL" hosts "$mnt" 2>/dev/null | awk -v h="$1" '$1 == h { print $3 }' | grep -qx up; }
serving_on() { state_of | grep -q "copy=$1:v[0-9]*:serving"; }
stat_of() { # HOST FIELD: a number from shadowctl host status --json
  "$CTL" host status "$1" "${TLS[@]}" --json | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}
listed() { "$CTL" host list "$1" "${TLS[@]}" | awk 'NR > 1' | wc -l; }
copy_reads() { state_of | sed -n "s/.*copy=$H1:v[0-9]*:serving:reads=\([0-9]*\).*/\1/p"; }
readers() { # N ROUNDS: concurrent whole-file compares, each timed (ms to $T/times)
  local pids=() p
  for p in $(seq "$1"); do
    (for _ in $(seq "$2"); do
       t0=$(date +%s%N)
       cmp -s "$mnt/data" "$T/expect" || exit 1
       echo $((($(date +%s%N) - t0) / 1000000)) >>"$T/times"
     done) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
}

wait_for "hosts not up" 5 host_up "$H1"
wait_for "hosts not up" 5 host_up "$H2"

# Pin: a copy on the cheaper shadowd, listed there at the file's size.
t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
wait_for "no serving copy on $H1" 10 serving_on "$H1"
echo "remote copy serving after $((($(date +%s%N) - t0) / 1000000)) ms: $(state_of)"
state_of | grep -q "copy=$H1:v1:serving:.*:sync=full:sent=$SIZE" || it_fail "first sync: $(state_of)"
"$CTL" host list "$H1" "${TLS[@]}" | tee "$T/list1"
grep -q " $SIZE\$" "$T/list1" || it_fail "$H1 does not list a copy of $SIZE bytes"
[ "$(listed "$H2")" = 0 ] || it_fail "the expensive host got a copy"
"$CTL" shadows "$mnt" | grep -q "^data  *1 .*$H1:v1:serving" || it_fail "shadowctl shadows"

# Concurrent reads: right bytes, some served by the shadowd.
r0=$(stat_of "$H1" reads)
readers 4 5 || it_fail "a concurrent read returned wrong bytes"
r1=$(stat_of "$H1" reads)
echo "reads: shadowd $H1 served $((r1 - r0)), the mount counted $(copy_reads); state: $(state_of)"
[ "$r1" -gt "$r0" ] || it_fail "the shadowd served no read ($r0 -> $r1)"
[ "$(copy_reads)" -gt 0 ] || it_fail "the mount counted no remote read"

# Write then read at once: never the copy's stale bytes (writers busy the
# copy too: concurrent readers in the background).
(while [ ! -e "$T/stop" ]; do dd if="$mnt/data" of=/dev/null bs=128k status=none; done) &
bg=$!
for i in $(seq 30); do
  want=$(printf 'round %04d' "$i")
  printf '%s' "$want" | dd of="$mnt/data" bs=10 seek=$((i * 7)) conv=notrunc status=none
  printf '%s' "$want" | dd of="$T/expect" bs=10 seek=$((i * 7)) conv=notrunc status=none
  got=$(dd if="$mnt/data" bs=10 skip=$((i * 7)) count=1 status=none)
  [ "$got" = "$want" ] || { touch "$T/stop"; it_fail "stale read in round $i: '$got'"; }
  [ $((i % 10)) = 0 ] && sleep 0.5 # let the copy be re-synced now and then
done
touch "$T/stop"; wait "$bg"
cmp "$mnt/data" "$T/expect" || it_fail "the file differs after the writes"

# A small change: the stale copy is brought up to date with the written
# bytes only (RANGE frames), and verified by the shadowd's SHA-256.
wait_for "no re-synced copy" 10 serving_on "$H1"
sleep 0.5
b0=$(stat_of "$H1" received_bytes)
head -c 100 /dev/urandom >"$T/patch"
dd if="$T/patch" of="$mnt/data" bs=100 seek=10000 conv=notrunc status=none
dd if="$T/patch" of="$T/expect" bs=100 seek=10000 conv=notrunc status=none
resynced() { state_of | grep -q "copy=$H1:v[0-9]*:serving:.*:sync=ranges:sent=100\b"; }
wait_for "the small change was not shipped as ranges" 10 resynced
b1=$(stat_of "$H1" received_bytes)
echo "resync after a 100-byte change: shadowd received $((b1 - b0)) bytes; $(state_of)"
[ $((b1 - b0)) -ge 100 ] && [ $((b1 - b0)) -le 4096 ] || it_fail "resync shipped $((b1 - b0)) bytes"
"$CTL" host list "$H1" "${TLS[@]}" | awk 'NR > 1' | grep -c . | grep -qx 1 || it_fail "old versions kept on $H1"
readers 4 3 || it_fail "wrong bytes after the resync"

# Changed in BACKING behind the mount's back: the file's version moves and
# the copy is brought over by a librsync delta; reads are right once it
# serves again (before, the re-sync found the shadowd holding "this
# version" already, published its old bytes, and reads it took got them).
vnum() { state_of | sed -n "s/.*copy=$H1:v\([0-9]*\):serving.*/\1/p"; }
v0=$(vnum)
head -c 100 /dev/urandom >"$T/patch2"
dd if="$T/patch2" of="$backing/data" bs=100 seek=20000 conv=notrunc status=none
dd if="$T/patch2" of="$T/expect" bs=100 seek=20000 conv=notrunc status=none
cat "$mnt/data" >/dev/null # the first read compares the stamps (the entry may be quiet)
behind_synced() { state_of | grep -q "copy=$H1:v[0-9]*:serving:.*:sync=delta" && [ "$(vnum)" -gt "$v0" ]; }
wait_for "no delta after a change behind the mount's back: $(state_of)" 20 behind_synced
readers 4 3 || it_fail "old bytes read after a change behind the mount's back"
echo "changed behind the mount's back: v$v0 -> $(state_of)"

# The shadowd stops answering: reads stay right, each bounded.
[ -n "$(copy_reads)" ] || it_fail "no serving copy before SIGSTOP"
kill -STOP "$PID1"
: >"$T/times"
readers 4 4 || { kill -CONT "$PID1"; it_fail "wrong bytes while the shadowd is stopped"; }
max=$(sort -n "$T/times" | tail -1)
echo "whole-file reads with $H1 stopped: max $max ms (remote_timeout=$TIMEOUT_MS ms); load: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$max" -le $((TIMEOUT_MS + 2500)) ] || { kill -CONT "$PID1"; it_fail "a read took $max ms with the host stopped"; }
# The pinned file finds a copy on the other shadowd meanwhile.
wait_for "no copy on $H2 while $H1 is stopped" 15 serving_on "$H2"
readers 2 2 || it_fail "wrong bytes with the copy on $H2"
# The shadowd holding the copy restarts (same port, same store; the
# other one still stopped): the copy serves again once it is back, and the
# pooled connections the restart broke are replaced without a failed read
# (errors=0).
kill "$PID2"; wait "$PID2" 2>/dev/null
t_restart=$(date +%s%N)
it_shadowd "$SHADOWD" "$T/store2" "$T/ca" sd2 "$T/sd2b.log" "$P2"
PID2=$IT_SD_PID
trap 'kill -CONT $PID1 $PID2 2>/dev/null; it_cleanup' EXIT
back_on_h2() { state_of | grep -q "copy=$H2:v[0-9]*:serving:reads=[1-9][0-9]*:errors=0"; }
# Bounded in time, not in rounds: on a quiet machine 100 rounds of reads
# from the origin took less than the restarted host's first heartbeat. The
# copy's read count in the state is the mount's, kept from before the
# restart: the restarted process's own count says it served.
served_again() { local r; back_on_h2 && r=$(stat_of "$H2" reads) && [ "${r:-0}" -gt 0 ]; }
deadline=$(($(date +%s) + 20))
while :; do
  readers 4 1 || it_fail "wrong bytes after the restart"
  served_again && break
  [ "$(date +%s)" -lt "$deadline" ] || break
done
back_on_h2 || it_fail "the copy on $H2 did not serve again without errors: $(state_of)"
[ "$(stat_of "$H2" reads)" -gt 0 ] || it_fail "the restarted shadowd served no read in 20 s"
echo "after the restart of $H2: served again $((($(date +%s%N) - t_restart) / 1000000)) ms later: $(state_of)"

kill -CONT "$PID1"
wait_for "$H1 not up again" 10 host_up "$H1"
cmp "$mnt/data" "$T/expect" || it_fail "read after SIGCONT"

# user.shadow.hosts names a remote host by its ADDR:PORT (as shadowctl
# hosts shows it): with only H1 allowed the copy ends on H1 alone, and H2
# deletes its copy; a port that is no host of the mount: EINVAL.
setfattr -n user.shadow.hosts -v 127.0.0.1:1 "$mnt/data" 2>/dev/null && it_fail "hosts=127.0.0.1:1 accepted"
setfattr -n user.shadow.hosts -v "$H1" "$mnt/data" || it_fail "set user.shadow.hosts=$H1"
only_h1() { serving_on "$H1" && ! state_of | grep -q "copy=$H2:" && [ "$(listed "$H2")" = 0 ]; }
wait_for "the copy did not move to $H1 alone (hosts=$H1)" 15 only_h1
cmp "$mnt/data" "$T/expect" || it_fail "read after the move to $H1"

# Unpin: the copies are deleted on both hosts after shadow_idle.
setfattr -x user.shadow.pin "$mnt/data" || it_fail "unpin"
gone() { [ "$(listed "$H1")" = 0 ] && [ "$(listed "$H2")" = 0 ]; }
wait_for "copies left on the hosts after unpinning" 10 gone
state_of | grep -q "copies=0" || it_fail "state after the demotion: $(state_of)"
cmp "$mnt/data" "$T/expect" || it_fail "read after the demotion"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"
it_uring_check
echo "fs_remote: ok"
