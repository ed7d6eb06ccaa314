#!/usr/bin/env bash
# Recording, exact counts: with 3-second buckets and cache=never (every read
# reaches FUSE), file A read 100 times and B 10 times in one bucket, then
# again in a later bucket, are recorded exactly, per bucket, as shadowctl
# stats --json shows them (while mounted and after unmounting); the file id
# is the uuid in A's user.shadow.id xattr and survives a rename; top ranks A
# first; a file with a damaged user.shadow.id is recorded by its path;
# files created and deleted through the mount are dropped at their
# deletion, never named; a file whose dentry the kernel dropped before its
# bucket's flush is named by its directory, or without a path when it left
# that directory behind the mount's back (name_unknown); stats
# of a directory says it wants a file.
# usage: rec_counts.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
T=$(it_tmpdir rec_counts)
head -c $((100 * 4096)) /dev/urandom > "$backing/A"
head -c $((10 * 4096)) /dev/urandom > "$backing/B"
# C's user.shadow.id is damaged: it is still recorded, by its path.
head -c $((5 * 4096)) /dev/urandom > "$backing/C"
setfattr -n user.shadow.id -v not-a-uuid "$backing/C"
mkdir "$backing/sub"

# Sleeps until 0.1 s into the next 3-second bucket.
next_bucket() {
  local now; now=$(date +%s.%N)
  sleep "$(awk -v t="$now" 'BEGIN { b = (int(t / 3) + 1) * 3; printf "%.3f", b + 0.1 - t }')"
}
# bucket_field NAME JSON: per-bucket values only (the "total" object is last).
bucket_field() { sed -n '/"buckets"/,/"total"/p' <<<"$2" | grep -v '"total"' | grep -o "\"$1\": [0-9]*" | awk '{printf "%s ", $2}' | sed 's/ $//'; }
# Reads per bucket, leaving out buckets without reads: looking a file up
# (shadowctl stats PATH does) is a metadata op that may open a later bucket.
read_buckets() { bucket_field reads "$1" | tr ' ' '\n' | grep -v '^0$' | paste -sd' '; }

it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=3,cache=never"
for round in 1 2; do
  next_bucket
  dd if="$mnt/A" of=/dev/null bs=4096 count=100 2>/dev/null || it_fail "reading A"
  dd if="$mnt/B" of=/dev/null bs=4096 count=10 2>/dev/null || it_fail "reading B"
  dd if="$mnt/C" of=/dev/null bs=4096 count=5 2>/dev/null || it_fail "reading C"
done
next_bucket
sleep 0.5 # the second bucket closes 3 s after it began, plus the grace

json=$("$ctl" stats "$mnt/A" --json) || it_fail "shadowctl stats A failed"
echo "$json"
[ "$(bucket_field reads "$json")" = "100 100" ] || it_fail "A: reads per bucket $(bucket_field reads "$json"), expected 100 100"
[ "$(bucket_field read_bytes "$json")" = "409600 409600" ] || it_fail "A: read_bytes per bucket"
[ "$(bucket_field opens "$json")" = "1 1" ] || it_fail "A: opens per bucket $(bucket_field opens "$json")"
[ "$(bucket_field clients "$json")" = "1 1" ] || { echo "$json"; it_fail "A: clients per bucket"; }
starts=($(bucket_field start "$json"))
[ $((starts[1] - starts[0])) -eq 3 ] && [ $((starts[0] % 3)) -eq 0 ] || it_fail "A: bucket starts ${starts[*]}"
json=$("$ctl" stats "$mnt/B" --json) || it_fail "shadowctl stats B failed"
[ "$(read_buckets "$json")" = "10 10" ] || it_fail "B: reads per bucket $(bucket_field reads "$json")"
[ "$(bucket_field read_bytes "$json")" = "40960 40960" ] || it_fail "B: read_bytes per bucket"
json=$("$ctl" stats "$mnt/C" --json) || it_fail "shadowctl stats C (damaged id) failed"
[ "$(read_buckets "$json")" = "5 5" ] || it_fail "C (damaged id): reads per bucket $(bucket_field reads "$json")"
[ "$(getfattr --only-values -n user.shadow.id "$backing/C")" = not-a-uuid ] || it_fail "C's damaged id was changed"

id=$(getfattr --only-values -n user.shadow.id "$backing/A" 2>/dev/null) || it_fail "A has no user.shadow.id"
grep -q "\"id\": \"$id\"" <<<"$json" && it_fail "B has A's id"
grep -q "\"id\": \"$id\"" <<<"$("$ctl" stats "$mnt/A" --json)" || it_fail "A's id is not its xattr"

top=$("$ctl" top "$mnt" --json -n 2) || it_fail "shadowctl top failed"
echo "$top"
first=$(grep -o '"path": "[^"]*"' <<<"$top" | sed -n 1p)
[ "$first" = '"path": "A"' ] || it_fail "top: first is $first, expected A"
"$ctl" top --state "$state" | grep -q ' A$' || it_fail "top --state: no table row for A"

# A renamed file keeps its id and its history.
mv "$mnt/A" "$mnt/A2" || it_fail "rename"
json=$("$ctl" stats "$mnt/A2" --json) || it_fail "stats after rename"
[ "$(read_buckets "$json")" = "100 100" ] || { echo "A2 JSON: $json"; it_fail "history lost by the rename"; }
# A directory is said to be one (it was "no recorded data for 'sub'", and
# for the mount itself "for ''").
"$ctl" stats "$mnt/sub" >/dev/null 2>"$T/err" && it_fail "stats of a directory succeeded"
grep -q "^shadowctl stats: $mnt/sub is a directory: stats shows one file" "$T/err" ||
  it_fail "stats of a directory: $(cat "$T/err")"

# Files created, written and deleted through the mount are dropped when
# they are deleted: counted (unlinked), never named (no failed naming at
# the bucket's flush: name_gone stays 0), not in the store.
# Done just after a bucket's flush (3 s buckets, epoch-aligned, flushed 30 ms
# after their end), so no flush can name a file while it is still alive: a
# file alive at a flush is recorded under its name, as it should be.
for _ in $(seq 200); do
  ms=$(( $(date +%s%3N) % 3000 ))
  [ "$ms" -ge 150 ] && [ "$ms" -le 900 ] && break
  sleep 0.02
done
for k in 1 2 3; do
  echo data > "$mnt/short$k" || it_fail "create short$k"
  sleep 0.1
  rm "$mnt/short$k" || it_fail "rm short$k"
done

# A file whose directory entry the kernel drops before its bucket is
# written (drop_caches; memory pressure does the same) reopens from its
# handle disconnected: D is named by the directory it was seen in through
# the mount (it was recorded without a path); E, moved out of it in
# BACKING behind the mount's back, is named by its id alone: counted as
# name_unknown (it was counted as named, with no path).
head -c 4096 /dev/urandom >"$backing/D"
head -c 4096 /dev/urandom >"$backing/E"
next_bucket
cat "$mnt/D" >/dev/null || it_fail "reading D"
cat "$mnt/E" >/dev/null || it_fail "reading E"
mv "$backing/E" "$backing/sub/E2"
for _ in 1 2; do sync; echo 2 >/proc/sys/vm/drop_caches; sleep 0.3; done
unknown_counted() { grep -Eq '^name_unknown=[1-9]' "$state/recorder.stats"; }
IT_WAIT_SHOW="grep -E '^name' '$state/recorder.stats'" it_wait_for "D's dentry dropped before its flush" 10 unknown_counted

it_umount "$mnt"
stats=$(cat "$state/recorder.stats")
grep -qx 'unlinked=3' <<<"$stats" || it_fail "recorder.stats: $(grep unlinked <<<"$stats"), expected unlinked=3"
grep -qx 'name_gone=0' <<<"$stats" || it_fail "recorder.stats: $(grep name_gone <<<"$stats"), expected 0"
"$ctl" stats --state "$state" short1 >/dev/null 2>&1 && it_fail "a deleted short-lived file is in the store"
"$ctl" top --state "$state" -n 100 | grep -q ' D$' || it_fail "D (dentry dropped) recorded without its path"
# A stopped mount's store is still readable.
json=$("$ctl" stats --state "$state" B --json) || it_fail "stats of a stopped mount"
[ "$(read_buckets "$json")" = "10 10" ] || it_fail "B after unmount: reads per bucket $(bucket_field reads "$json")"
"$ctl" stats "$mnt/nope" >/dev/null 2>&1 && it_fail "stats of an unknown file succeeded"
"$ctl" stats "$mnt" >/dev/null 2>"$T/err" && it_fail "stats of the mount itself succeeded"
grep -q "^shadowctl stats: $mnt is a directory" "$T/err" || it_fail "stats of the mount: $(cat "$T/err")"
"$ctl" top --state "$backing" >/dev/null 2>&1 && it_fail "top on a non-store succeeded"
"$ctl" top --state "$state" --window 5x >/dev/null 2>&1 && it_fail "a bad --window was accepted"
sqlite3 "$state/series.db" 'PRAGMA integrity_check' | grep -qx ok || it_fail "integrity check"

# A state directory that cannot be made: no mount, one clear line, status 1.
out=$(timeout 20 "$shadowfs" "$backing" "$mnt" -f -o state=/proc/no/such 2>&1); rc=$?
[ "$rc" = 1 ] || it_fail "unusable state dir: exit status $rc"
grep -q "cannot create the state directory /proc/no/such" <<<"$out" || it_fail "unusable state dir: '$out'"
mountpoint -q "$mnt" && it_fail "mounted without a recorder"
echo "PASS rec_counts"
