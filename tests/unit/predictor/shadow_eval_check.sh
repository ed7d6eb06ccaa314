#!/usr/bin/env bash
# Runs shadow-eval on a small slice of the CloudPhysics VM trace (tests/data)
# and checks the machine-readable last line: its format, sane values (the
# predictor beats seasonal naive, coverages ordered and plausible), and that
# bad input gets a clear error and a non-zero status.
set -euo pipefail
EVAL=$1 DATA=$2
tmp=$(mktemp -d /tmp/pred-eval-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --steps 300 \
	--min-steps 300 >"$tmp/out"
last=$(tail -n 1 "$tmp/out")
echo "$last"
num='[0-9]+\.[0-9]+'
re="^eval: mase=($num) mase_median=($num) snaive_mase=($num) cover80=($num) cover95=($num) precision=($num) recall=($num) anticipated=($num) lead=($num) seconds=($num)$"
[[ $last =~ $re ]] || { echo "bad last line format"; exit 1; }
m=${BASH_REMATCH[1]} sn=${BASH_REMATCH[3]} c80=${BASH_REMATCH[4]}
c95=${BASH_REMATCH[5]} sec=${BASH_REMATCH[10]}
awk -v m="$m" -v sn="$sn" -v c80="$c80" -v c95="$c95" -v s="$sec" 'BEGIN {
	ok = m > 0 && m < sn && c80 > 0.6 && c80 < 0.95 && c95 > c80 &&
	     c95 <= 1 && s < 10
	exit ok ? 0 : 1 }' || { echo "implausible values"; exit 1; }

# The classifier's probability (--exceed classifier) and the PR table: same
# last-line format, one "pr" row per threshold; an unknown method is refused.
"$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --steps 300 \
	--min-steps 300 --exceed classifier --pr-table >"$tmp/cls"
[[ $(tail -n 1 "$tmp/cls") =~ $re ]] || { echo "classifier last line"; exit 1; }
[[ $(grep -c '^pr ' "$tmp/cls") -eq 15 ]] || { echo "pr table rows"; exit 1; }
# The joint path probabilities (--exceed joint / joint-file): same format;
# the point forecasts and intervals do not depend on the alarm probability.
for j in joint joint-file; do
	"$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --steps 300 \
		--min-steps 300 --exceed $j >"$tmp/$j"
	l=$(tail -n 1 "$tmp/$j")
	[[ $l =~ $re ]] || { echo "$j last line"; exit 1; }
	[[ ${l%% precision=*} == "${last%% precision=*}" ]] ||
		{ echo "$j changed the forecasts"; exit 1; }
done
# The simulator (--simulate): the control loop replayed on simulated hosts.
# The `sim:` line comes before the eval line; the forecasts are not
# changed by it; the oracle (alarms at the truth, lag 0) leaves the least
# excess; every avoided fraction is in [0, 1]; bad host lists are refused.
"$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --steps 300 \
	--min-steps 300 --simulate 1,2:3 --sim-idle 2 >"$tmp/sim"
[[ $(tail -n 1 "$tmp/sim") == "${last% seconds=*}"* ]] || { echo "sim changed the eval"; exit 1; }
simline=$(grep "^sim: " "$tmp/sim")
echo "$simline"
fr='([0-9]+\.[0-9]+)'
sre="^sim: excess_none=[0-9]+ excess_avoided_reactive=(-?$fr) excess_avoided_snaive=(-?$fr) excess_avoided_predictor=(-?$fr) excess_avoided_both=(-?$fr) excess_avoided_oracle=$fr covered_predictor=$fr copy_buckets_predictor=[0-9]+ copy_buckets_oracle=[0-9]+$"
[[ $simline =~ $sre ]] || { echo "bad sim line format"; exit 1; }
awk -v r="${BASH_REMATCH[1]}" -v s="${BASH_REMATCH[3]}" -v p="${BASH_REMATCH[5]}" \
	-v b="${BASH_REMATCH[7]}" -v o="${BASH_REMATCH[9]}" 'BEGIN {
	ok = o <= 1 && o > 0 && r >= 0 && s >= 0 && p >= 0 && b >= 0 &&
	     r <= o && s <= o && p <= o && b <= o && b >= p
	exit ok ? 0 : 1 }' || { echo "implausible sim values"; exit 1; }
grep -q '^oracle (hindsight) ' "$tmp/sim" || { echo "no oracle row"; exit 1; }
for bad in "" x 1: -1 "1,,2"; do
	if "$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --simulate "$bad" \
		2>"$tmp/err"; then
		echo "bad --simulate '$bad' accepted"; exit 1
	fi
	grep -q "bad value '$bad' for --simulate" "$tmp/err" || { echo "no message for '$bad'"; exit 1; }
done

if "$EVAL" "$DATA" --bucket 1800 --season 48 --train 192 --exceed bogus \
	2>"$tmp/err"; then
	echo "bad --exceed accepted"; exit 1
fi
grep -q "bad value 'bogus' for --exceed" "$tmp/err"

# Bucketing: 5-minute samples starting 35 minutes into an hour, 60 hours:
# the partial first and last hours are dropped (59 full hours remain), and
# each hour holds the sum of its 12 samples.
awk 'BEGIN { print "timestamp,key,count";
	for (i = 0; i < 720; i++) { t = 2100 + 300 * i;
		print t ",a," 1; print t ",b," (int(t / 3600) % 24) } }' >"$tmp/five.csv"
"$EVAL" "$tmp/five.csv" --bucket 3600 --season 24 --train 30 >"$tmp/five.out"
head -n 1 "$tmp/five.out" | grep -q \
	"59 steps of 3600s, partial first bucket dropped, partial last bucket dropped" ||
	{ echo "bucketing"; head -n 1 "$tmp/five.out"; exit 1; }
# The run over it completes with its machine-readable last line.
grep -q "^eval: " "$tmp/five.out"

# Bad input: missing file, malformed row, bad option -> non-zero + message.
if "$EVAL" "$tmp/none.csv" --bucket 60 --season 1 --train 5 2>"$tmp/err"; then
	echo "missing file accepted"; exit 1
fi
grep -q "none.csv" "$tmp/err"
printf 'timestamp,key,count\n1,a,1\n2,a,NaN\nx,b,1\n' >"$tmp/bad.csv"
if "$EVAL" "$tmp/bad.csv" --bucket 60 --season 1 --train 5 2>"$tmp/err"; then
	echo "malformed CSV accepted"; exit 1
fi
grep -q "bad.csv:3" "$tmp/err"
# Counts each finite whose sum in a bucket is not: refused at loading,
# naming the key (it went on to "cannot fit a").
awk 'BEGIN { print "timestamp,key,count";
	for (i = 0; i < 50; i++) { print 60 * i ",a,1e308"; print 60 * i ",a,1e308" } }' >"$tmp/inf.csv"
if "$EVAL" "$tmp/inf.csv" --bucket 60 --season 1 --train 5 2>"$tmp/err"; then
	echo "overflowing sums accepted"; exit 1
fi
grep -q "counts of key 'a' in the bucket at 0 add up" "$tmp/err" || { cat "$tmp/err"; exit 1; }
# A trace whose series are all zero (or constant): MASE is undefined (the
# seasonal scale is 0), every object is skipped from it and said so; the
# last line says none, and nothing prints nan or inf (was mase=nan).
awk 'BEGIN { print "timestamp,key,count";
	for (i = 0; i < 100; i++) { print 60 * i ",a,0"; print 60 * i ",b,5" } }' >"$tmp/zero.csv"
"$EVAL" "$tmp/zero.csv" --bucket 60 --season 1 --train 20 --verbose >"$tmp/zero.out"
tail -n 1 "$tmp/zero.out" | grep -q "^eval: mase=none mase_median=none snaive_mase=none cover80=[0-9]" ||
	{ echo "all-constant trace: $(tail -n 1 "$tmp/zero.out")"; exit 1; }
grep -q "over 0 objects with a non-zero seasonal scale; 2 skipped" "$tmp/zero.out" ||
	{ echo "all-constant trace: skipped objects not said"; exit 1; }
if grep -Eiw "nan|inf" "$tmp/zero.out"; then echo "nan or inf printed"; exit 1; fi
# Horizons no origin reaches (train one step short of the trace): none.
"$EVAL" "$DATA" --bucket 1800 --season 48 --train 298 --steps 300 --min-steps 300 >"$tmp/short.out"
if grep -Eiw "nan|inf" "$tmp/short.out"; then echo "nan or inf printed (short test part)"; exit 1; fi
# A header alone, an empty file: a clear error.
printf 'timestamp,key,count\n' >"$tmp/hdr.csv"
: >"$tmp/empty.csv"
for f in hdr empty; do
	if "$EVAL" "$tmp/$f.csv" --bucket 60 --season 1 --train 5 2>"$tmp/err"; then
		echo "$f trace accepted"; exit 1
	fi
	grep -q "$f.csv: no rows" "$tmp/err" || { echo "$f: $(cat "$tmp/err")"; exit 1; }
done
if "$EVAL" "$DATA" --bucket -5 --season 48 --train 192 2>"$tmp/err"; then
	echo "negative bucket accepted"; exit 1
fi
grep -q "bad value" "$tmp/err"
echo "ok"
