#!/usr/bin/env bash
# Buckets recorded in the future (the clock was ahead for a while, then put
# right; they stay in the store until real time passes their retention) are
# not recent demand: shadowctl top ranked over [now - window, forever) and
# listed a file read a million times "tomorrow" first among the last hour's,
# and shadowctl forecast gave it a slot of its busiest files (then showed it
# from its past alone). A is read 20 times, B 5 times; B gets a bucket of
# 1,000,000 reads a day ahead: top and forecast -n 1 rank A first.
# usage: ctl_future_buckets.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
head -c $((20 * 4096)) /dev/urandom > "$backing/A"
head -c $((5 * 4096)) /dev/urandom > "$backing/B"
it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=1,cache=never"
dd if="$mnt/A" of=/dev/null bs=4096 count=20 2>/dev/null || it_fail "reading A"
dd if="$mnt/B" of=/dev/null bs=4096 count=5 2>/dev/null || it_fail "reading B"
sleep 2.5 # a complete 1 s bucket before the unmount
it_umount "$mnt"
sqlite3 "$state/series.db" "INSERT INTO file_buckets(tier, file, start, width, reads)
  SELECT 0, id, CAST(strftime('%s', 'now') AS INTEGER) + 86400, 1, 1000000
  FROM files WHERE path = 'B'" || it_fail "sqlite3 insert"
top=$("$ctl" top --state "$state") || it_fail "shadowctl top: $top"
first=$(awk '$1 == "1" { print $NF }' <<<"$top")
[ "$first" = A ] || it_fail "top ranks '$first' first, want A: $top"
grep -q 1000000 <<<"$top" && it_fail "top counts the future bucket: $top"
fc=$("$ctl" forecast --state "$state" --bucket 1s --history 1h -n 1) ||
  it_fail "shadowctl forecast: $fc"
first=$(awk '$1 == "1" { print $NF }' <<<"$fc")
[ "$first" = A ] || it_fail "forecast -n 1 shows '$first', want A: $fc"
echo "ok"
