#!/usr/bin/env bash
# Recording, crash safety: shadowfs killed with SIGKILL while reads are being
# recorded leaves a database that passes sqlite's integrity check and holds
# every bucket that had closed (A's bucket exactly, B's closed buckets); a
# new mount on the same state directory records on top of it. Buckets of 2 s:
# A's 50 reads must fit in one, with room for a loaded machine.
# usage: rec_kill9.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
head -c $((50 * 4096)) /dev/urandom > "$backing/A"
head -c $((4 * 4096)) /dev/urandom > "$backing/B"
bucket_field() { sed -n '/"buckets"/,/"total"/p' <<<"$2" | grep -v '"total"' | grep -o "\"$1\": [0-9]*" | awk '{printf "%s ", $2}' | sed 's/ $//'; }
sleep_until() { sleep "$(awk -v t="$(date +%s.%N)" -v u="$1" 'BEGIN { d = u - t; printf "%.3f", (d > 0 ? d : 0) }')"; }

it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=2,cache=never"
pid=$IT_PID
s1=$(( ($(date +%s) / 2 + 1) * 2 ))
sleep_until "$s1.1"
dd if="$mnt/A" of=/dev/null bs=4096 count=50 2>/dev/null || it_fail "reading A"
[ $(( $(date +%s) / 2 )) = $((s1 / 2)) ] || it_fail "reading A took more than its 2 s bucket (machine too slow?)"
sleep_until "$((s1 + 2)).5" # A's bucket closed and written

# B is read in a loop across several buckets; SIGKILL in the middle of one.
( while :; do dd if="$mnt/B" of=/dev/null bs=4096 count=4 2>/dev/null || exit 0; done ) &
loop=$!
IT_PIDS+=("$loop")
sleep 4.5
killed_at=$(date +%s)
kill -9 "$pid"
wait "$pid" 2>/dev/null
kill "$loop" 2>/dev/null
wait "$loop" 2>/dev/null
fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null

[ "$(sqlite3 "$state/series.db" 'PRAGMA integrity_check')" = ok ] || it_fail "integrity check after kill -9"
json=$("$ctl" stats --state "$state" A --json) || it_fail "stats A after kill -9"
echo "$json"
[ "$(bucket_field start "$json")" = "$s1" ] || it_fail "A: buckets $(bucket_field start "$json"), expected $s1"
[ "$(bucket_field reads "$json")" = 50 ] || it_fail "A: reads $(bucket_field reads "$json"), expected 50"
json=$("$ctl" stats --state "$state" B --json) || it_fail "stats B after kill -9"
echo "$json"
closed=0
for s in $(bucket_field start "$json"); do
  [ "$s" -lt "$killed_at" ] && closed=$((closed + 1))
done
[ "$closed" -ge 1 ] || it_fail "B: no closed bucket survived"
for r in $(bucket_field reads "$json"); do [ "$r" -gt 0 ] || it_fail "B: an empty bucket"; done

# A new mount on the same state directory adds to the history.
it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=2,cache=never"
dd if="$mnt/A" of=/dev/null bs=4096 count=5 2>/dev/null || it_fail "reading A again"
it_umount "$mnt" # a clean stop writes the partial bucket
json=$("$ctl" stats --state "$state" A --json) || it_fail "stats A after remount"
grep -q '"total": {"opens": 2, "reads": 55,' <<<"$json" || it_fail "A after remount: $json"
echo "PASS rec_kill9"
