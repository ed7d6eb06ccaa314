#!/usr/bin/env bash
# The mover (fs/mover.c): copies run on a thread of their own, so the
# control loop goes on ticking during a copy paced by -o copy_rate. With
# copy_rate=2 a 16 MiB copy takes ~8 s; during it, with a real mount:
#  - STATE/shadows.status is rewritten (its mtime moves, again and again);
#  - a pinned file unlinked meanwhile leaves STATE/pins and loses its copy
#    within a second or two (the control loop rewrites the pins then);
#  - a file unpinned meanwhile loses its copy after shadow_idle (1 s) while
#    the big copy is still under way;
# the big copy then serves, byte-identical, and the file pinned meanwhile
# is copied next (one copy at a time). A copy under way is cancelled by an
# unpin (after shadow_idle: the demotion; before, such a copy ran to its
# end) and by an unlink: its temporary file goes within 2 s, no copy is
# published, and the mover takes the next copy at once. The unmount during
# a paced copy is quick. A copy under way shows how far it is (read=N:of=SIZE
# in user.shadow.state and shadowctl shadows), and that moves. A remote upload (a real shadowd) cancelled by an
# unpin stops early: the mount reads well under the file's size, and the
# host keeps neither a copy nor a temporary file.
# Usage: fs_mover.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_mover)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
store=$T/store
RATE=2                     # MB/s
BIG=$((16 * 1024 * 1024))  # 8.4 s at RATE
OPTS="norecord,cache=never,shadow_tick=0.1,shadow_quiet=0,shadow_idle=1,copy_rate=$RATE"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
state_of() { it_shadow_state "$mnt/$1"; }
serving() { state_of "$1" | grep -q ":serving"; }
no_copy() { state_of "$1" | grep -q "copies=0"; }
tmp_count() { ls "$store" 2>/dev/null | grep -c '^tmp\.'; }
copy_count() { ls "$store" 2>/dev/null | grep -vc '^tmp\.'; }
copying() { [ "$(tmp_count)" -gt 0 ]; }
not_copying() { [ "$(tmp_count)" -eq 0 ]; }
mtime_ns() { date -r "$1" +%s%N 2>/dev/null || echo 0; }
pin() { setfattr -n user.shadow.pin -v 1 "$mnt/$1" || it_fail "pin $1"; }
unpin() { setfattr -x user.shadow.pin "$mnt/$1" || it_fail "unpin $1"; }

head -c "$BIG" /dev/urandom >"$T/big"
cp "$T/big" "$backing/big"
for f in big2 big3; do head -c "$BIG" /dev/urandom >"$backing/$f"; done
for f in small doomed late again; do head -c $((256 * 1024)) /dev/urandom >"$backing/$f"; done

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS,state=$state,hosts=$store:cost=1"
IT_WATCH=$mnt/big
pin small
pin doomed
it_wait_for "no serving copy of small" 10 serving small
it_wait_for "no serving copy of doomed" 10 serving doomed

# The big copy: ~8 s on the mover.
t0=$(now_ms)
pin big
it_wait_for "the copy of big did not start" 10 copying
st0=$(mtime_ns "$state/shadows.status")
# STATE/shadows.status is rewritten during the copy (every tick).
status_moved() { [ "$(mtime_ns "$state/shadows.status")" -gt "$st0" ]; }
it_wait_for "STATE/shadows.status not rewritten during the copy" 2 status_moved
st0=$(mtime_ns "$state/shadows.status")
it_wait_for "STATE/shadows.status not rewritten again during the copy" 2 status_moved
# A pinned file unlinked meanwhile: its pin and its copy go.
n=$(copy_count)
rm "$mnt/doomed" || it_fail "rm doomed"
unpinned() { ! grep -q '^doomed$' "$state/pins"; }
it_wait_for "the unlinked doomed still in STATE/pins during the copy" 2 unpinned
one_less() { [ "$(copy_count)" -lt "$n" ]; }
it_wait_for "the copy of the unlinked doomed still in the store during the copy" 2 one_less
# A pin set meanwhile is recorded (by the setxattr itself, in
# STATE/pins.log; the control thread folds it into STATE/pins); its copy
# waits for the mover.
t_late=$(now_ms)
pin late
grep -qx '+late' "$state/pins.log" || grep -qx late "$state/pins" ||
  it_fail "the pin of late not recorded: $(cat "$state/pins.log" "$state/pins")"
folded() { grep -qx late "$state/pins" && ! grep -q late "$state/pins.log"; }
it_wait_for "the pin of late not folded into STATE/pins during the copy" 2 folded
# A file unpinned meanwhile is demoted after shadow_idle.
unpin small
it_wait_for "small not demoted during the copy" 4 no_copy small
t_demoted=$(now_ms)
copying || it_fail "the big copy was over before the demotion: nothing shown"
state_of big | grep -q ":syncing" || it_fail "big not shown syncing: $(state_of big)"
# Its progress: the origin bytes read so far, of the file's size, moving.
progress() { state_of big | sed -n 's/.*:syncing:.*:read=\([0-9]*\):of=\([0-9]*\).*/\1 \2/p'; }
read -r r1 of1 <<<"$(progress)"
sleep 1
read -r r2 _ <<<"$(progress)"
echo "copy of big under way: read=$r1 then read=$r2 a second later, of=$of1"
[ -n "$r1" ] && [ "$of1" = "$BIG" ] || it_fail "no progress shown for the copy under way: $(state_of big)"
[ -n "$r2" ] && [ "$r2" -gt "$r1" ] && [ "$r2" -le "$BIG" ] ||
  it_fail "the copy's progress did not move: read=$r1 then '$r2' of $BIG: $(state_of big)"
"$CTL" shadows "$mnt" | grep -q "big .*:syncing:.*:read=[0-9]*:of=$BIG" ||
  it_fail "shadowctl shadows does not show the copy's progress: $("$CTL" shadows "$mnt")"
echo "during the copy of big: status rewritten, doomed's pin and copy dropped, small demoted" \
  "$((t_demoted - t0)) ms after big's pin; big: $(state_of big)"
it_wait_for "no serving copy of big" 40 serving big
t_big=$(now_ms)
echo "big ($BIG bytes) copied in $((t_big - t0)) ms at copy_rate=$RATE"
[ $((t_big - t0)) -gt $((t_demoted - t0)) ] || it_fail "big served before small was demoted"
ok=
for c in $(ls "$store" | grep -v '^tmp\.'); do cmp -s "$store/$c" "$T/big" && ok=1; done
[ -n "$ok" ] || it_fail "no copy in the store is byte-identical to big"
cmp "$mnt/big" "$T/big" || it_fail "big read back differs"
it_wait_for "no serving copy of late" 10 serving late
echo "late (pinned during the big copy) served $(($(now_ms) - t_late)) ms after its pin," \
  "$(($(now_ms) - t_big)) ms after big's copy"

# Unlink during a copy: cancelled, nothing published.
n=$(copy_count)
pin big2
it_wait_for "the copy of big2 did not start" 10 copying
sleep 0.5
rm "$mnt/big2" || it_fail "rm big2"
t1=$(now_ms)
it_wait_for "the copy of an unlinked file went on" 2 not_copying
echo "unlinked during its copy: temporary file gone after $(($(now_ms) - t1)) ms"
sleep 0.5
[ "$(copy_count)" -eq "$n" ] || it_fail "a copy of big2 was published: $(ls "$store")"

# Unpin during a copy: cancelled by the demotion after shadow_idle.
pin big3
it_wait_for "the copy of big3 did not start" 10 copying
sleep 0.5
unpin big3
t1=$(now_ms)
it_wait_for "the copy of an unpinned file went on" 4 not_copying
echo "unpinned during its copy: temporary file gone after $(($(now_ms) - t1)) ms" \
  "(shadow_idle 1 s)"
it_wait_for "big3 still shows a copy" 2 no_copy big3
sleep 0.5
[ "$(copy_count)" -eq "$n" ] || it_fail "a copy of big3 was published: $(ls "$store")"
# The mover is free again: the next copy comes at once.
t1=$(now_ms)
pin again
it_wait_for "no serving copy of again after the cancels" 3 serving again
echo "next copy served $(($(now_ms) - t1)) ms after its pin"

# Unmount during a paced copy: the mover is cancelled and joined.
pin big3
it_wait_for "the copy of big3 did not start again" 10 copying
sleep 0.3
fs_umount_within "$mnt" 3000
not_copying || it_fail "a temporary copy was left: $(ls "$store")"

# A remote upload cancelled: its source is cut, it stops early.
it_ca "$CTL" "$T/ca" sd origin
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd.log" 0
mnt2=$(it_tmpdir mnt2)
it_mount "$SHADOWFS" "$backing" "$mnt2" \
  "$OPTS,state=$(it_tmpdir state2),hosts=127.0.0.1:$IT_SD_PORT:cost=1,tls=$T/ca,tls_name=origin"
mnt=$mnt2
rchar() { sed -n 's/^rchar: //p' "/proc/$IT_PID/io"; }
r0=$(rchar)
pin big
it_wait_for "the upload of big did not start" 10 sh -c "getfattr --absolute-names --only-values -n user.shadow.state '$mnt/big' | grep -q ':syncing'"
sleep 1
read -r r1 of1 <<<"$(progress)"
echo "remote upload of big under way: read=$r1 of=$of1"
[ -n "$r1" ] && [ "$r1" -gt 0 ] && [ "$of1" = "$BIG" ] ||
  it_fail "no progress shown for the remote upload under way: $(state_of big)"
unpin big
t1=$(now_ms)
it_wait_for "big still shows a copy after its unpin" 6 no_copy big
read=$(($(rchar) - r0))
echo "remote upload cancelled: copy gone $(($(now_ms) - t1)) ms after the unpin," \
  "$read of $BIG bytes read by the mount"
[ "$read" -lt $((BIG / 2)) ] || it_fail "the cancelled upload read $read bytes: it ran to its end"
sleep 0.5
[ -z "$(ls "$T/sdstore" | grep -v '^\.' )" ] || it_fail "the host kept something: $(ls -a "$T/sdstore")"
cmp "$mnt/big" "$T/big" || it_fail "big read back differs"
fs_umount "$mnt"
echo "ok"
