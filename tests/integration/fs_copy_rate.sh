#!/usr/bin/env bash
# -o copy_rate=MB/s, end to end through real mounts:
#  - bad values (abc, -1, empty, nan, 10MB) stop the mount with one line
#    naming the option and exit status 1;
#  - a local copy of S bytes at N MB/s takes at least 0.7 S/N, reads the
#    origin once (the process reads at most 2.5 S in all: the origin once,
#    the commit's check of the copy once), is byte-identical and serves;
#  - an origin changed behind the mount's back during a copy paced to
#    1 MB/s stops that copy at its next chunk (its temporary file goes
#    within 2 s, not after the 32 s the copy had left);
#  - an unmount during a copy paced to 1 MB/s returns within seconds (the
#    wait is cancelled), the mount exits 0 and leaves no temporary file;
#  - a remote copy (a real shadowd) at N MB/s takes at least 0.7 S/N, reads
#    the origin once (at most 1.5 S: its digest is computed while it
#    uploads), is shipped whole (sync=full) and serves the right bytes.
# Usage: fs_copy_rate.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_copy_rate)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
RATE=6                   # MB/s
SIZE=$((12 * 1024 * 1024)) # S/N = 2.1 s
MIN_MS=$((SIZE * 7 / 10 / (RATE * 1000)))
# Each mount its own state (pins are kept there): one pinned file each.
COMMON="norecord,cache=never,shadow_tick=0.1,shadow_quiet=0,shadow_idle=600"

state_of() { it_shadow_state "$mnt/$1"; }
wait_for() { # DESC SECONDS CMD...
  local d=$1 s=$2; shift 2
  for _ in $(seq $((s * 20))); do "$@" && return 0; sleep 0.05; done
  it_fail "$d after $s s"
}
serving() { state_of "$1" | grep -q ":serving"; }
rchar() { sed -n 's/^rchar: //p' "/proc/$IT_PID/io"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# timed_copy FILE: pins FILE, waits until its copy serves; sets DT_MS and
# READ (bytes the mount process read meanwhile).
timed_copy() {
  local r0 t0
  r0=$(rchar) t0=$(now_ms)
  setfattr -n user.shadow.pin -v 1 "$mnt/$1" || it_fail "pin $1"
  wait_for "no serving copy of $1 ($(state_of "$1"))" 60 serving "$1"
  DT_MS=$(($(now_ms) - t0)) READ=$(($(rchar) - r0))
  echo "$1: $SIZE bytes copied in $DT_MS ms at copy_rate=$RATE (S/N = $((SIZE / (RATE * 1000))) ms)," \
    "$READ bytes read by the mount: $(state_of "$1")"
}
# concurrent_reads FILE: four readers compare FILE with $T/expect; the
# copy must have served some of the reads.
concurrent_reads() {
  for _ in 1 2 3 4; do
    (for _ in 1 2 3; do cmp -s "$mnt/$1" "$T/expect" || exit 1; done) &
  done
  for _ in 1 2 3 4; do wait -n || it_fail "a read of $1 returned wrong bytes"; done
  local r
  r=$(state_of "$1" | sed -n 's/.*:serving:reads=\([0-9]*\).*/\1/p')
  [ -n "$r" ] && [ "$r" -gt 0 ] || it_fail "the copy of $1 served no read: $(state_of "$1")"
}

# Bad values: one line naming the option, status 1, nothing mounted.
for v in abc -1 "" nan 10MB; do
  fs_expect_error "$mnt" "copy_rate=$v" "bad option 'copy_rate=$v': expected MB/s" \
    "$SHADOWFS" "$backing" "$mnt" -o "copy_rate=$v"
done

head -c "$SIZE" /dev/urandom >"$T/expect"
cp "$T/expect" "$backing/local"
cp "$T/expect" "$backing/remote"
head -c $((32 * 1024 * 1024)) /dev/urandom >"$backing/slow"

# Local host: paced, one read of the origin, verified, serving.
it_mount "$SHADOWFS" "$backing" "$mnt" "$COMMON,state=$(it_tmpdir state1),hosts=$T/store:cost=1,copy_rate=$RATE"
timed_copy local
[ "$DT_MS" -ge "$MIN_MS" ] || it_fail "local copy took $DT_MS ms, expected >= $MIN_MS ms"
[ "$READ" -le $((SIZE * 5 / 2)) ] || it_fail "local copy: $READ bytes read, expected <= 2.5 S"
copy=$(ls "$T/store" | grep -v '^tmp\.' | head -1)
cmp "$T/store/$copy" "$T/expect" || it_fail "the local copy differs from the origin"
concurrent_reads local
fs_umount "$mnt"

# Unmount during a copy paced to 1 MB/s (32 s to go): cancelled at once.
it_mount "$SHADOWFS" "$backing" "$mnt" "$COMMON,state=$(it_tmpdir state2),hosts=$T/store2:cost=1,copy_rate=1"
setfattr -n user.shadow.pin -v 1 "$mnt/slow" || it_fail "pin slow"
tmp_of() { ls "$T/store2" 2>/dev/null | grep '^tmp\.'; }
wait_for "the copy of slow did not start" 10 sh -c "ls '$T/store2' 2>/dev/null | grep -q '^tmp\.'"
first=$(tmp_of)
sleep 0.5
touch -m "$backing/slow" # behind the mount's back: its mtime and ctime move
t0=$(now_ms)
wait_for "the copy of a changed origin went on" 2 sh -c "[ ! -e '$T/store2/$first' ]"
echo "a copy of a changed origin stopped $(($(now_ms) - t0)) ms after the change"
wait_for "the copy of slow did not start again" 10 sh -c "ls '$T/store2' 2>/dev/null | grep -q '^tmp\.'"
sleep 0.5
fs_umount_within "$mnt" 5000
[ -z "$(ls "$T/store2" | grep '^tmp\.')" ] || it_fail "a temporary copy was left: $(ls "$T/store2")"

# Remote host (shadowd over mutual TLS): paced, one read of the origin.
it_check "ca init" "$CTL" ca init "$T/ca" >/dev/null
it_check "ca issue sd" "$CTL" ca issue "$T/ca" sd --ip 127.0.0.1 >/dev/null
it_check "ca issue origin" "$CTL" ca issue "$T/ca" origin >/dev/null
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd.log" 0
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "$COMMON,state=$(it_tmpdir state3),hosts=127.0.0.1:$IT_SD_PORT:cost=1,tls=$T/ca,tls_name=origin,copy_rate=$RATE,remote_timeout=1000"
timed_copy remote
[ "$DT_MS" -ge "$MIN_MS" ] || it_fail "remote copy took $DT_MS ms, expected >= $MIN_MS ms"
[ "$READ" -le $((SIZE * 3 / 2)) ] || it_fail "remote copy: $READ bytes read, expected <= 1.5 S"
state_of remote | grep -q ":sync=full:sent=$SIZE" || it_fail "remote copy not shipped whole: $(state_of remote)"
concurrent_reads remote
fs_umount "$mnt"
echo "ok"
