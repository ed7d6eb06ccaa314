#!/usr/bin/env bash
# Fault: the state directory's filesystem fills up (a real tmpfs filled by
# a filler file) while the mount records.
#  - the mount keeps serving: reads and writes through it stay right;
#  - the recorder says so once in the log and counts the failed flushes,
#    and `shadowctl status` shows them (the status file is rewritten in
#    place when a new one cannot be created);
#  - once space is freed, flushes succeed again and the store stays
#    readable (`shadowctl top` lists the files read after the recovery).
# Usage: fault_state_full.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/../integration/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir state_full)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
state=$T/state
it_tmpfs "$state" 2m
mkdir -p "$backing/many"
for i in $(seq 200); do echo "file $i" >"$backing/many/f$i"; done
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state,bucket=1" 2>"$T/log"

field() { "$CTL" status --state "$state" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['recorder']['$1'])"; }
touch_all() { for i in $(seq "$1" "$2"); do cat "$mnt/many/f$i" >/dev/null || it_fail "read f$i"; done; }

touch_all 1 50
sleep 2.5
[ "$(field flushes)" -ge 1 ] || it_fail "no flush before the fault"
[ "$(field flush_errors)" -eq 0 ] || it_fail "flush errors before the fault"

# Fill the filesystem.
dd if=/dev/zero of="$state/filler" bs=64k 2>/dev/null
[ "$(df --output=avail "$state" | tail -1)" -eq 0 ] || it_fail "the tmpfs is not full"
for r in 1 2 3 4 5 6; do
  touch_all 1 200
  head -c 5000 /dev/urandom >"$T/w$r" && cp "$T/w$r" "$mnt/written$r" || it_fail "write through the mount"
  sleep 0.5
done
for r in 1 2 3 4 5 6; do
  cmp -s "$mnt/written$r" "$T/w$r" && cmp -s "$backing/written$r" "$T/w$r" ||
    it_fail "written$r differs"
done
errs=$(field flush_errors)
echo "while full: flush_errors=$errs"
[ "$errs" -ge 1 ] || it_fail "no failed flush counted while full"
w=$(grep -c "recorder: cannot write to" "$T/log")
[ "$w" -ge 1 ] && [ "$w" -le 2 ] || it_fail "$w recorder warnings (want one, not one per bucket)"
"$CTL" status --state "$state" | grep -Eq " [1-9][0-9]* failed$" || it_fail "status text: $("$CTL" status --state "$state")"

# Free the space: recording resumes.
rm -f "$state/filler"
before=$(field flushes)
touch_all 151 200
sleep 3
touch_all 151 200
sleep 2.5
after=$(field flushes)
echo "after freeing: flushes $before -> $after, flush_errors=$(field flush_errors)"
[ "$after" -gt "$before" ] || it_fail "no flush succeeded after space was freed"
"$CTL" top --state "$state" --window 1m -n 300 --json >"$T/top" || it_fail "top failed"
grep -q '"many/f17[0-9]"' "$T/top" || it_fail "files read after the recovery are not in the store"
echo ok
