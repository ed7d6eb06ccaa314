#!/usr/bin/env bash
# shadowctl on a store edited by hand (or copied from a host with a broken
# clock): a bucket start beyond what gmtime represents is printed as its
# number by stats (it printed the fields of an unset struct tm, e.g.
# '1730806995-11-30 16:00:00'). Damaged rows (a negative count, a malformed
# file id, an infinite cpu_pct or inflight_avg: sqlite keeps REAL
# infinities) are skipped with one warning: a count of -500 was top's and
# stats' 18446744073709551116, one bad id failed top and forecast outright
# ('bad file id in store'), load printed 'inf' (and wrote it bare in its
# JSON before that), a cpu_pct of 2^32 printed as 4294967296.0% (read as
# 100 now). load's table keeps its columns with a busy disk, and escapes a
# device name with control bytes in it.
# usage: ctl_hostile_store.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
head -c 8192 /dev/urandom > "$backing/A"
head -c 8192 /dev/urandom > "$backing/B"
it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=1,cache=never"
cat "$mnt/A" > /dev/null || it_fail "reading A"
cat "$mnt/B" > /dev/null || it_fail "reading B"
sleep 2.5 # complete 1 s buckets before the unmount
it_umount "$mnt"
sqlite3 "$state/series.db" "
  INSERT INTO file_buckets(tier, file, start, width, reads)
    SELECT 0, id, 9000000000000000000, 1, 3 FROM files WHERE path = 'A';
  UPDATE host_buckets SET cpu_pct = 9e999, inflight_avg = -9e999
    WHERE start = (SELECT max(start) FROM host_buckets);
  UPDATE host_buckets SET cpu_pct = 4294967296.0
    WHERE start = (SELECT min(start) FROM host_buckets);
  INSERT INTO file_buckets(tier, file, start, width, reads)
    SELECT 0, id, CAST(strftime('%s', 'now') AS INTEGER) - 30, 1, -500 FROM files WHERE path = 'A';
  UPDATE files SET uuid = 'not-a-uuid' WHERE path = 'B'" || it_fail "sqlite3 edit"
table=$("$ctl" load --state "$state") || it_fail "shadowctl load: $table"
grep -Eqw 'inf|nan|4294967296[.]0%' <<<"$table" && it_fail "load: $table"
for view in top "forecast --bucket 1s --history 1h"; do
  out=$("$ctl" $view --state "$state" 2>"$IT_ROOT/err") || it_fail "shadowctl $view: $out $(cat "$IT_ROOT/err")"
  grep -q '18446744' <<<"$out" && it_fail "$view: a negative count read as 2^64 minus it: $out"
  awk '$1 == "1" { print $NF }' <<<"$out" | grep -qx A || it_fail "$view: A not first: $out"
  [ "$(grep -c 'warning: skipped .* damaged row' "$IT_ROOT/err")" = 1 ] ||
    it_fail "$view: not one warning: $(cat "$IT_ROOT/err")"
done
stats=$("$ctl" stats --state "$state" A) || it_fail "shadowctl stats: $stats"
grep -q '^9000000000000000000 ' <<<"$stats" || it_fail "stats: the far bucket's start: $stats"
json=$("$ctl" load --state "$state" --json) || it_fail "shadowctl load: $json"
python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["buckets"] and all(0 <= b["cpu_pct"] <= 100 and b["inflight_avg"] >= 0 for b in d["buckets"])' <<<"$json" ||
  it_fail "load --json: $json"
# The load table's columns hold their widest value: a busy disk or network
# ("nvme0n1 123.4 MiB/s 987.6 MiB/s") pushed the rest of its row right.
sqlite3 "$state/series.db" "
  INSERT OR REPLACE INTO disk_buckets(tier, start, device, width, reads, read_bytes, writes, write_bytes, io_ms)
    SELECT 0, start, 'nvme0n1', width, 1, 129394278, 1, 1035577753, 1 FROM host_buckets WHERE tier = 0
    ORDER BY start LIMIT 1;
  UPDATE host_buckets SET net_rx_bytes = 1073000000, net_tx_bytes = 1072000000
    WHERE start = (SELECT min(start) FROM host_buckets)" || it_fail "sqlite3 edit (load)"
"$ctl" load --state "$state" >"$IT_ROOT/load" || it_fail "shadowctl load: $(cat "$IT_ROOT/load")"
grep -q 'nvme0n1 123.4 MiB/s 987.6 MiB/s' "$IT_ROOT/load" || it_fail "load: the busy disk: $(cat "$IT_ROOT/load")"
[ "$(tail -n +2 "$IT_ROOT/load" | awk '{ print length($0) }' | sort -u | wc -l)" = 1 ] ||
  it_fail "load: rows of different widths: $(cat "$IT_ROOT/load")"
# A device name with a newline and a terminal escape is printed escaped, as
# file names are (it was printed as it was: the row cut in two, the escape
# sent to the terminal).
sqlite3 "$state/series.db" "
  INSERT OR REPLACE INTO disk_buckets(tier, start, device, width, reads, read_bytes, writes, write_bytes, io_ms)
    SELECT 0, start, 'sd' || char(10) || 'x' || char(27) || '[2J', width, 1, 229394278, 1, 1035577753, 1
    FROM host_buckets WHERE tier = 0 ORDER BY start LIMIT 1" || it_fail "sqlite3 edit (load device)"
"$ctl" load --state "$state" >"$IT_ROOT/load" || it_fail "shadowctl load: $(cat "$IT_ROOT/load")"
grep -qF 'sd\nx\x1b[2J 218.8 MiB/s' "$IT_ROOT/load" && ! grep -q $'\x1b' "$IT_ROOT/load" ||
  it_fail "load: the device name not escaped: $(cat -A "$IT_ROOT/load")"
[ "$(tail -n +2 "$IT_ROOT/load" | awk '{ print length($0) }' | sort -u | wc -l)" = 1 ] ||
  it_fail "load: rows of different widths with an escaped device: $(cat -A "$IT_ROOT/load")"
echo "ok"
