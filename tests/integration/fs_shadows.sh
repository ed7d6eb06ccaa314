#!/usr/bin/env bash
# Shadowing on local hosts, end to end through a real mount (cache=never so
# every read reaches the router):
#  - user.shadow.pin: bad values EINVAL; XATTR_CREATE on a pinned file
#    EEXIST, XATTR_REPLACE on an unpinned one ENODATA;
#  - a pinned file gets a copy on the cheaper of two local hosts within a few
#    seconds, byte-identical to the origin (shadowctl shadows, the store dir);
#  - concurrent reads are served partly by the copy (its counter grows) and
#    return the right bytes;
#  - write then read at once, in a loop: the new data every time; the copy
#    goes stale and is re-synced at the new version;
#  - O_DIRECT reads with the writeback cache see each write at once; an
#    unaligned one gets BACKING's EINVAL every time, never a copy's bytes;
#  - a change in BACKING behind the mount's back: the next open marks the
#    copy stale and reads return the new data;
#  - a byte flipped in the copy file on disk: the copy is never served again
#    (stale at the next open), reads stay right, a fresh copy replaces it;
#  - bad user.shadow.* values: EINVAL, nothing changes;
#  - copies re-hashed every 0.3 s (shadow_verify) keep serving (no false alarm);
#  - pin changes recorded only in STATE/pins.log are replayed at mount;
#  - pins survive a remount; the copies the earlier mount left in the local
#    stores (here also one of a file no longer shadowed) are deleted at
#    start, and a second mount cannot open a store the first one holds;
#    unpin: the copy is removed after shadow_idle;
#  - a file held open for writing is copied and served; a write through
#    it is never read stale; the copy is re-made with the writer open and
#    kept when the writer closes;
#  - a file forecast far over capacity gets as many copies as its replica
#    count (capped by shadow_copies), on the cheapest hosts; lowering its
#    user.shadow.copies drops the dearer copy after shadow_idle.
# Usage: fs_shadows.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_shadows)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
OPTS="norecord,cache=never,state=$state,hosts=$T/expensive:cost=3;$T/cheap:cost=1:budget=64m,shadow_tick=0.2,shadow_idle=2,shadow_quiet=0.3,shadow_verify=0.3"

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"

state_of() { it_shadow_state "$mnt/data"; }
# wait_for DESC SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local d=$1 s=$2; shift 2
  for _ in $(seq $((s * 20))); do "$@" && return 0; sleep 0.05; done
  it_fail "$d after $s s: state: $(state_of)"
}
serving_at() { state_of | grep -q "copy=$T/cheap:v$1:serving"; }
copy_reads() { state_of | sed -n "s/.*copy=[^ ]*:serving:reads=\([0-9]*\).*/\1/p"; }
copy_file() { ls "$T/cheap" | grep -v '^unsynced\.\|^tmp\.' | head -1; }
copy_matches() { local f; f=$(copy_file); [ -n "$f" ] && cmp -s "$T/cheap/$f" "$T/expect"; }
resynced() { state_of | grep -q "copy=$T/cheap:v[0-9]*:serving" && ! state_of | grep -q ':v1:'; }
no_copies() { [ -z "$(ls "$T/cheap")" ]; }

# Bad values: EINVAL, nothing pinned.
for v in 2 yes "" 11; do
  setfattr -n user.shadow.pin -v "$v" "$mnt/data" 2>"$T/err" && it_fail "pin=$v accepted"
  grep -q "Invalid argument" "$T/err" || it_fail "pin=$v: $(cat "$T/err")"
done
setfattr -n user.shadow.state -v x "$mnt/data" 2>/dev/null && it_fail "state is writable"
setfattr -n user.shadow.bogus -v 1 "$mnt/data" 2>/dev/null && it_fail "unknown attribute accepted"
mkdir "$mnt/dir"
setfattr -n user.shadow.pin -v 1 "$mnt/dir" 2>/dev/null && it_fail "a directory was pinned"
# ... and the log says why (setfattr says only "Invalid argument").
it_log_has "$T/mount.log" "user.shadow.pin refused (EINVAL): the value must be 1 (pin) or 0 (unpin)" ||
  it_fail "no log of why a bad pin value was refused"
it_log_has "$T/mount.log" "user.shadow.pin refused (EINVAL): only a regular file can be pinned" ||
  it_fail "no log of why a directory's pin was refused"
# XATTR_CREATE and XATTR_REPLACE as for any attribute, the pin present
# when pinned (listed then): they were ignored.
pin_flagged() { # create|replace VALUE: prints ok or the errno's name
  python3 -c 'import errno, os, sys
try:
    os.setxattr(sys.argv[3], "user.shadow.pin", sys.argv[2].encode(),
                os.XATTR_CREATE if sys.argv[1] == "create" else os.XATTR_REPLACE)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])' "$1" "$2" "$mnt/data"
}
[ "$(pin_flagged replace 1)" = ENODATA ] || it_fail "XATTR_REPLACE pinned an unpinned file: $(state_of)"
state_of | grep -q "^pinned=0 copies=0$" || it_fail "bad values changed something: $(state_of)"
[ -z "$(ls -A "$T/cheap")$(ls -A "$T/expensive")" ] || it_fail "copies made without a pin"

# Pin: a copy on the cheaper host, byte-identical.
t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/data" 2>/dev/null)" = 1 ] || it_fail "pin reads back"
[ "$(pin_flagged create 1)" = EEXIST ] || it_fail "XATTR_CREATE on a pinned file not refused"
[ "$(pin_flagged replace 1)" = ok ] || it_fail "XATTR_REPLACE on a pinned file refused"
wait_for "no serving copy on the cheap host" 5 serving_at 1
echo "copy serving after $((($(date +%s%N) - t0) / 1000000)) ms"
[ -z "$(ls "$T/expensive")" ] || it_fail "a copy went to the expensive host"
cmp "$T/cheap/$(copy_file)" "$T/expect" || it_fail "the copy differs from the origin"
"$CTL" shadows "$mnt" | tee "$T/shadows"
grep -q "^data  *1  *1  *v1 .*$T/cheap:v1:serving" "$T/shadows" || it_fail "shadowctl shadows"
"$CTL" shadows "$mnt" --json | grep -q "\"path\":\"data\",\"pinned\":1" || it_fail "shadows --json"

# Concurrent reads: right bytes, some from the copy.
for p in 1 2 3 4; do
  (for _ in 1 2 3 4 5; do cmp "$mnt/data" "$T/expect" || exit 1; done) &
done
for p in 1 2 3 4; do wait -n || it_fail "a concurrent read returned wrong bytes"; done
r=$(copy_reads)
echo "copy served $r reads: $(state_of)"
[ -n "$r" ] && [ "$r" -gt 0 ] || it_fail "the copy served no read"

# Write then read at once, every time the new data (never the copy's).
for i in $(seq 40); do
  printf 'round %04d' "$i" | dd of="$mnt/data" bs=10 seek=$((i * 7)) conv=notrunc status=none
  printf 'round %04d' "$i" | dd of="$T/expect" bs=10 seek=$((i * 7)) conv=notrunc status=none
  got=$(dd if="$mnt/data" bs=10 skip=$((i * 7)) count=1 status=none)
  [ "$got" = "$(printf 'round %04d' "$i")" ] || it_fail "stale read in round $i: '$got'"
  [ $((i % 10)) = 0 ] && { cmp "$mnt/data" "$T/expect" || it_fail "whole file differs in round $i"; }
done
wait_for "no re-synced copy" 5 resynced
cmp "$T/cheap/$(copy_file)" "$T/expect" || it_fail "the re-synced copy differs"
echo "re-synced: $(state_of)"

# Behind the mount's back: the next open marks the copy stale.
v=$(state_of | sed -n 's/.*version=v\([0-9]*\).*/\1/p')
printf 'BEHIND' | dd of="$backing/data" bs=1 seek=1000 conv=notrunc status=none
printf 'BEHIND' | dd of="$T/expect" bs=1 seek=1000 conv=notrunc status=none
cmp "$mnt/data" "$T/expect" || it_fail "read after a change behind the mount's back"
wait_for "no copy at the changed content" 5 copy_matches
# (the version moves: no copy made before is taken for one of the new bytes)
serving_after() { local n; n=$(state_of | sed -n "s|.*copy=$T/cheap:v\([0-9]*\):serving.*|\1|p"); [ -n "$n" ] && [ "$n" -gt "$1" ]; }
wait_for "no serving copy at a new version after the change" 5 serving_after "$v"

# A corrupted copy is never served: flip a byte in the store.
c="$T/cheap/$(copy_file)"
b=$(od -An -tu1 -j 5000 -N1 "$c" | tr -d ' ')
printf "$(printf '\\%03o' $(((b + 1) % 256)))" | dd of="$c" bs=1 seek=5000 conv=notrunc status=none
# Concurrent readers (a lone reader ties to the origin): any read from the
# corrupted copy would show in cmp.
for p in 1 2 3 4; do
  (for _ in 1 2 3 4 5; do cmp "$mnt/data" "$T/expect" || exit 1; done) &
done
for p in 1 2 3 4; do wait -n || it_fail "a corrupted copy was served"; done
wait_for "the corrupted copy was not replaced" 5 copy_matches
for _ in 1 2 3; do cmp "$mnt/data" "$T/expect" || it_fail "wrong bytes after the re-copy"; done

# Pins persist across a remount.
it_umount "$mnt"
grep -qx data "$state/pins" || it_fail "pin not persisted: $(cat "$state/pins")"
old_copy=$(copy_file)
[ -n "$old_copy" ] || it_fail "no copy in the store after the unmount"
orphan=0123456789abcdef0123456789abcdef-0000000000000001 # a file shadowed no more
printf 'orphan' >"$T/cheap/$orphan"
IT_MOUNT_LOG=$T/remount.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
wait_for "no copy after the remount" 5 serving_at 1
[ -e "$T/cheap/$old_copy" ] && it_fail "the earlier mount's copy $old_copy is still there"
[ -e "$T/cheap/$orphan" ] && it_fail "the copy of a file no longer shadowed is still there"
it_log_has "$T/remount.log" "host $T/cheap: 2 copies (.* KiB) an earlier mount left deleted" ||
  it_fail "the sweep was not logged: $(cat "$T/remount.log")"
# The stores are this mount's: a second mount (or a shadowd) cannot use them.
mnt2=$(it_tmpdir mnt2)
"$SHADOWFS" "$backing" "$mnt2" -o "norecord,state=$(it_tmpdir state2),hosts=$T/cheap" 2>"$T/err2" &&
  it_fail "a second mount opened a store in use"
grep -q "cannot open the store in $T/cheap: in use by another mount or a shadowd" "$T/err2" ||
  it_fail "second mount: $(cat "$T/err2")"
it_in_mount_table "$mnt2" && it_fail "the second mount is mounted"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/data" 2>/dev/null)" = 1 ] || it_fail "pin lost by the remount"
cmp "$mnt/data" "$T/expect" || it_fail "read after the remount"

# Unpin: the copy goes after shadow_idle (2 s), not at once.
setfattr -x user.shadow.pin "$mnt/data" || it_fail "unpin"
sleep 0.5
[ -n "$(copy_file)" ] || it_fail "the copy was removed before the hysteresis"
# why says what ended: the pin (it said "no longer forecast hot" of a file
# never forecast, on a mount that records nothing)
"$CTL" why "$mnt/data" | grep -q '^decision: wanted no longer (neither pinned nor forecast hot; no forecast), copies kept until' ||
  it_fail "why during the hysteresis: $("$CTL" why "$mnt/data")"
wait_for "the copy was not removed after unpinning" 6 no_copies
state_of | grep -q "pinned=0 .*copies=0" || it_fail "state after unpin: $(state_of)"
[ -s "$state/pins" ] && it_fail "unpinned file still in STATE/pins"
cmp "$mnt/data" "$T/expect" || it_fail "read after the demotion"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"

# Pin changes recorded only in STATE/pins.log (a crash before the control
# thread folded them into STATE/pins) are replayed at the next mount, in
# order, and folded in at once.
state_log=$(it_tmpdir state_log)
printf 'cold\n' >"$state_log/pins"
printf '+data\n-cold\n+gone\n+cold\n-cold\n+cut' >"$state_log/pins.log"
touch "$backing/cold"
IT_MOUNT_LOG=$T/pinlog.log it_mount "$SHADOWFS" "$backing" "$mnt" "${OPTS/state=$state/state=$state_log}"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/data" 2>/dev/null)" = 1 ] ||
  it_fail "a pin recorded in STATE/pins.log only was lost"
[ "$(getfattr --only-values -n user.shadow.pin "$mnt/cold" 2>/dev/null)" = 0 ] ||
  it_fail "an unpin recorded in STATE/pins.log was not replayed"
[ "$(cat "$state_log/pins")" = data ] || it_fail "STATE/pins after the replay: $(cat "$state_log/pins")"
[ -s "$state_log/pins.log" ] && it_fail "STATE/pins.log not emptied: $(cat "$state_log/pins.log")"
it_log_has "$T/pinlog.log" "pinned file gone is gone: pin dropped" || it_fail "gone: $(cat "$T/pinlog.log")"
wait_for "no copy of a pin replayed from the log" 10 serving_at 1
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (pins.log)"
rm -f "$backing/cold"

# A pinned file gone while no mount ran (STATE/pins alone, no log): its
# line leaves STATE/pins at the start. Before, it stayed until some pin
# changed, so a file made later at that name was pinned by a later mount.
state_gone=$(it_tmpdir state_gone)
printf 'data\ngone\n' >"$state_gone/pins"
IT_MOUNT_LOG=$T/pingone.log it_mount "$SHADOWFS" "$backing" "$mnt" "${OPTS/state=$state/state=$state_gone}"
it_log_has "$T/pingone.log" "pinned file gone is gone: pin dropped" || it_fail "gone: $(cat "$T/pingone.log")"
[ "$(cat "$state_gone/pins")" = data ] || it_fail "STATE/pins kept a gone file's pin: $(cat "$state_gone/pins")"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (gone pin)"
[ "$(cat "$state_gone/pins")" = data ] || it_fail "STATE/pins at the unmount: $(cat "$state_gone/pins")"

# The forecast: with recording on (1 s buckets), a file read well above
# shadow_capacity reads per bucket is forecast hot and shadowed without a
# pin; a file read once is not. Its demand is many times the capacity, so
# it wants more than one copy: shadow_copies=2 of the three hosts, the two
# cheapest, never the third.
state2=$(it_tmpdir state2)
head -c 300000 /dev/urandom >"$backing/hot"
head -c 3000 /dev/urandom >"$backing/cold"
it_mount "$SHADOWFS" "$backing" "$mnt" "cache=never,bucket=1,state=$state2,hosts=$T/fc;$T/fc2:cost=2;$T/fc3:cost=3,shadow_copies=2,shadow_capacity=5,shadow_threshold=0.5,shadow_window=3,shadow_tick=0.2,shadow_idle=3"
cat "$mnt/cold" >/dev/null
hot_state() { it_shadow_state "$mnt/hot"; }
hot_copy() { "$CTL" shadows --state "$state2" 2>/dev/null | grep -q "^hot  *0  *[12] .*$T/fc:v1:serving"; }
two_copies() { [ "$(hot_state | grep -o ' copy=[^ ]*:serving:' | wc -l)" -eq 2 ]; }
# The file is read flat out until $stop exists (a kill could leave a cat
# holding the mount busy); the checks poll beside it. The forecast is redone
# every bucket and may dip on a loaded machine: the count is checked while
# the file is hot, and shadow_idle=3 rides out a dip.
stop=$T/stop-hot
(while [ ! -e "$stop" ]; do cat "$mnt/hot" >/dev/null || exit 1; done) &
loader=$!
IT_PIDS+=("$loader")
two_wanted() { hot_state | grep -q " hot=1 reactive=[01] replicas=2 "; }
seen2=0
for _ in $(seq 300); do
  two_wanted && seen2=1
  hot_copy && two_copies && [ $seen2 = 1 ] && break
  sleep 0.1
done
hot_copy || it_fail "a hot file was not shadowed: $("$CTL" shadows --state "$state2")"
two_copies || it_fail "a file far over capacity did not get two copies: $(hot_state)"
[ $seen2 = 1 ] || it_fail "replicas of the hot file never 2: $(hot_state)"
hot_state | grep -q "copy=$T/fc2:v1:serving" || it_fail "second copy not on the next cheapest host: $(hot_state)"
sleep 0.5
hot_state | grep -q "copy=$T/fc3:" && it_fail "a third copy beyond shadow_copies=2: $(hot_state)"
# user.shadow.copies=1 on the file: its surplus copy (the dearer host's)
# goes after shadow_idle while the file stays hot.
setfattr -n user.shadow.copies -v 1 "$mnt/hot" || it_fail "set user.shadow.copies"
setfattr -n user.shadow.copies -v 5 "$mnt/hot" 2>/dev/null && it_fail "user.shadow.copies=5 accepted"
trimmed() { hot_state | grep -q " replicas=1 .*copy=$T/fc:v1:serving" && ! hot_state | grep -q "copy=$T/fc2:"; }
for _ in $(seq 300); do
  trimmed && break
  sleep 0.1
done
trimmed || it_fail "the surplus copy was not dropped after user.shadow.copies=1: $(hot_state)"
[ -z "$(ls "$T/fc2" | grep -v '^unsynced\.\|^tmp\.')" ] || it_fail "the trimmed copy's file is left: $(ls "$T/fc2")"
touch "$stop"
wait "$loader" || it_fail "reading the hot file through the mount failed"
"$CTL" shadows --state "$state2" | grep -q "^cold " && it_fail "a cold file was shadowed"
cmp "$mnt/hot" "$backing/hot" || it_fail "reads of the forecast-hot file"
it_umount "$mnt"

# The writeback cache (default cache=always): buffered writes reach the
# mount late; O_DIRECT reads right after each write (while other O_DIRECT
# readers keep the copy busy) must see the new bytes every time.
state3=$(it_tmpdir state3)
cp "$T/expect" "$backing/wb"
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state3,hosts=$T/wb,shadow_tick=0.1,shadow_quiet=0"
setfattr -n user.shadow.pin -v 1 "$mnt/wb" || it_fail "pin wb"
wb_serving() { it_shadow_state "$mnt/wb" | grep -q ":serving"; }
wait_for "no copy of wb" 5 wb_serving
(while :; do dd if="$mnt/wb" of=/dev/null bs=64k iflag=direct status=none; done) &
bg=$!
for i in $(seq 60); do
  want=$(printf 'wb %06d' "$i")
  printf '%s' "$want" | dd of="$mnt/wb" bs=9 seek=$((i * 3)) conv=notrunc status=none
  got=$(dd if="$mnt/wb" bs=4096 skip=0 count=1 iflag=direct status=none | dd bs=9 skip=$((i * 3)) count=1 status=none)
  [ "$got" = "$want" ] || { kill "$bg"; it_fail "stale read with the writeback cache in round $i: '$got'"; }
  [ $((i % 20)) = 0 ] && sleep 0.3 # let the copy be re-made now and then
done
kill "$bg"; wait "$bg" 2>/dev/null
wait_for "no copy of wb after the writes" 5 wb_serving
pids=()
for p in 1 2 3 4; do
  (for _ in $(seq 10); do dd if="$mnt/wb" of=/dev/null bs=64k iflag=direct status=none; done) &
  pids+=($!)
done
wait "${pids[@]}"
it_shadow_state "$mnt/wb" | grep -q "reads=[1-9]" ||
  it_fail "the copy of wb never served: $(it_shadow_state "$mnt/wb")"
# An unaligned O_DIRECT read gets BACKING's answer (EINVAL here) every
# time: a copy, read through a buffered fd, answered those it was picked
# for (8 of 50 read 1000 bytes at 123).
unaligned_direct() { # FILE: the outcome of 100 reads of 1000 bytes at 123
  python3 - "$1" <<'PY'
import collections, errno, mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buf, seen = mmap.mmap(-1, 4096), collections.Counter()
for _ in range(100):
    try:
        seen["read %d" % os.preadv(fd, [memoryview(buf)[:1000]], 123)] += 1
    except OSError as e:
        seen[errno.errorcode[e.errno]] += 1
print(" ".join("%s x%d" % kv for kv in sorted(seen.items())))
PY
}
want=$(unaligned_direct "$backing/wb")
got=$(unaligned_direct "$mnt/wb")
[ "$got" = "$want" ] ||
  it_fail "unaligned O_DIRECT reads of a file with a copy: $got, BACKING: $want"
echo "ok unaligned O_DIRECT reads of a file with a copy: $got, as BACKING"

# A file held open for writing (a VM image, a database): its copy serves
# while the writer stays open; a write through that open file stops the
# copy serving before the new bytes can be read, the copy is re-made at
# the new version with the writer still open, and closing the writer, a
# chmod and a touch (metadata only) leave that copy serving.
wb_state() { it_shadow_state "$mnt/wb"; }
wb_version() { wb_state | sed -n 's/.* version=v\([0-9]*\) .*/\1/p'; }
wb_current() { local v; v=$(wb_version); [ -n "$v" ] && wb_state | grep -q "copy=$T/wb:v$v:serving"; }
wb_copy_reads() { wb_state | sed -n 's/.*copy=[^ ]*:serving:reads=\([0-9]*\).*/\1/p'; }
direct_reads() { for _ in $(seq "$1"); do dd if="$mnt/wb" of=/dev/null bs=64k iflag=direct status=none; done; }
exec 3<>"$mnt/wb"
wb_state | grep -q " writers=1 " || it_fail "the writer is not counted: $(wb_state)"
wait_for "no copy of wb with a writer open" 5 wb_current
r0=$(wb_copy_reads)
direct_reads 20 & direct_reads 20; wait $!
r1=$(wb_copy_reads)
[ "${r1:-0}" -gt "${r0:-0}" ] || it_fail "the copy of wb does not serve with a writer open: $(wb_state)"
v0=$(wb_version)
printf 'held 000001' >&3 # at offset 0, into the kernel's dirty pages
got=$(dd if="$mnt/wb" bs=4096 count=1 iflag=direct status=none | head -c 11)
[ "$got" = "held 000001" ] || it_fail "stale read after a write through a held open file: '$got'"
[ "$(wb_version)" -gt "$v0" ] || it_fail "the write did not move the version: $(wb_state)"
wait_for "copy of wb not re-made with the writer open" 5 wb_current
v1=$(wb_version)
copy1=$(ls "$T/wb" | grep -v '^unsynced\.\|^tmp\.')
ino1=$(stat -c %i "$T/wb/$copy1")
exec 3>&-
# Metadata through the mount moves the origin's ctime, not its bytes.
chmod 600 "$mnt/wb" && touch -m -d '2020-01-02 03:04:05' "$mnt/wb" || it_fail "chmod/touch wb"
sleep 1 # five ticks: each checks the stamps of the serving copies
[ "$(wb_version)" = "$v1" ] || it_fail "the version moved at close: $(wb_state)"
wb_current || it_fail "the copy stopped serving after close, chmod, touch: $(wb_state)"
[ "$(ls "$T/wb" | grep -v '^unsynced\.\|^tmp\.')" = "$copy1" ] &&
  [ "$(stat -c %i "$T/wb/$copy1")" = "$ino1" ] ||
  it_fail "the copy was re-made after close, chmod, touch: $(ls "$T/wb") (was $copy1)"
cmp <(head -c 11 "$mnt/wb") <(printf 'held 000001') || it_fail "wb lost the held write"
echo "ok a file held open for writing: copy serves, re-made at v$v1 with the writer open, kept through close, chmod, touch"
it_umount "$mnt"

# Unlinked pinned files whose inode numbers come back for new files: the
# new files are shadowed under their own names with their own bytes, the
# old pins are gone from STATE/pins.
state4=$(it_tmpdir state4)
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,cache=never,state=$state4,hosts=$T/reuse,shadow_tick=0.2,shadow_quiet=0"
for i in $(seq 10); do
  head -c 5000 /dev/urandom >"$mnt/old$i"
  setfattr -n user.shadow.pin -v 1 "$mnt/old$i" || it_fail "pin old$i"
done
sleep 1
rm "$mnt"/old*
sleep 1 # the old files' copies and fds are dropped within a tick
for i in $(seq 10); do
  head -c 7000 /dev/urandom >"$mnt/new$i"
  setfattr -n user.shadow.pin -v 1 "$mnt/new$i" || it_fail "pin new$i"
done
all_new() { [ "$("$CTL" shadows --state "$state4" | grep -c "^new[0-9]* .*:serving")" = 10 ]; }
wait_for "new files not all shadowed: $("$CTL" shadows --state "$state4")" 5 all_new
grep -q "^old" "$state4/pins" && it_fail "unlinked files still pinned: $(cat "$state4/pins")"
[ "$(ls "$T/reuse" | wc -l)" = 10 ] || it_fail "copies left of unlinked files: $(ls "$T/reuse")"
for i in $(seq 10); do cmp "$mnt/new$i" "$backing/new$i" || it_fail "new$i"; done
it_umount "$mnt"
echo "fs_shadows: ok"
