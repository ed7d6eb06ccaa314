#!/usr/bin/env bash
# The control loop leaves settled, unread entries alone (fs/shadow_quiet.c),
# and that costs no stale read:
# 1. 300 files under shadow_all on a local host, all copied and serving,
#    then nothing read: a pass looks at about one in 16 of them
#    (STATE/control.stats), the others are left alone (quiet=1 in
#    user.shadow.state, a "control:" line in shadowctl why); before, every
#    pass looked at all of them (a stat of the origin and of the copy each,
#    the decision, the rollout);
# 2. a file changed in BACKING behind the mount's back while its entry is
#    quiet (user.shadow.state: quiet=1), read through an fd opened before
#    the change, with 99% of the reads going to the copy: every read
#    returns the new bytes at once (the first read of a quiet entry
#    compares its stamps); without that the copy served the old bytes until
#    a pass looked at the entry;
# 3. the copy of that file is then made again, of the new bytes;
# 4. a tuning change (user.shadow.never) makes the next pass look at every
#    entry: the copy is dropped within a pass or two, not when the slicing
#    reaches the file (up to 16 ticks of 1 s here).
# Usage: fs_quiet_passes.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_quiet_passes)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_small_files "$backing" 300 10 2048 2048
mkdir "$T/h" "$T/h2"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,shadow_all,shadow_quiet=0,shadow_tick=0.1,rollout=99/100,rollout_interval=86400,state=$state,hosts=$T/h:cost=1;$T/h2:cost=2"
stats() { cat "$state/control.stats" 2>/dev/null; }
field() { stats | sed -n "s/.*\<$1=\([0-9]*\).*/\1/p"; }

find "$mnt" -type f -exec cat {} + >/dev/null || it_fail "reading the files"
all_copied() { [ "$(it_copies_in "$T/h")" -ge 300 ]; }
it_wait_for "not all 300 files copied" 60 all_copied

# 1. Settled and unread: a pass looks at about 300 / 16 of them (each
# becomes quiet at its second look after its copy: the first passes after
# the copies look at more). Before, every pass looked at all 300.
mostly_quiet() {
  local l q
  l=$(field looked) q=$(field quiet_left)
  [ -n "$l" ] && [ -n "$q" ] && [ "$l" -le 40 ] && [ $((l + q)) -eq 300 ]
}
IT_WAIT_SHOW='stats' it_wait_for "passes still look at most entries" 20 mostly_quiet
echo "1: $(stats)"
# ... and shadowctl why says so of a file left alone.
q=d1/f1
quiet_file() { it_shadow_state "$mnt/$q" | grep -q " quiet=1 "; }
IT_WAIT_SHOW='it_shadow_state "$mnt/$q"' it_wait_for "$q is not quiet" 10 quiet_file
"$CTL" why "$mnt/$q" | grep -q "^control: settled and not read lately: the control loop looks at it one pass in 16" ||
  it_fail "shadowctl why of a quiet file: $("$CTL" why "$mnt/$q")"

# 2. Changed behind the mount's back while quiet: read right at once.
f=d3/f3
python3 - "$mnt/$f" "$backing/$f" "$state/control.stats" <<'PY' || it_fail "a copy served bytes the origin no longer holds"
import os, re, subprocess, sys, time
mnt, back, stats = sys.argv[1:4]
def passes():
    m = re.search(r"passes=(\d+)", open(stats).read())
    return int(m.group(1)) if m else 0
def quiet():
    out = subprocess.run(["getfattr", "--only-values", "-n", "user.shadow.state", mnt],
                         capture_output=True, text=True).stdout
    return " quiet=1 " in out
fd = os.open(mnt, os.O_RDONLY)
before = os.pread(fd, 64, 0)
# The read makes the next pass look at the entry (not quiet), the one after
# finds it unread: quiet again, its next read to be checked. Three passes
# begun after the read, then quiet=1.
p0 = passes()
for _ in range(400):
    if passes() >= p0 + 3 and quiet():
        break
    time.sleep(0.05)
else:
    print("the entry never went quiet again")
    sys.exit(1)
with open(back, "r+b") as w:
    w.write(bytes(b ^ 0xFF for b in before))
after = bytes(b ^ 0xFF for b in before)
for n in range(300):
    got = os.pread(fd, 64, 0)
    if got != after:
        print("read %d returned %s" % (n, "the old bytes" if got == before else "other bytes"))
        sys.exit(1)
os.close(fd)
PY
echo "2: 300 reads of $f after a change behind the mount's back: all new bytes"

# 3. Its copy made again, of the new bytes.
copy_new() { it_shadow_state "$mnt/$f" | grep -q ':serving:' && cmp -s "$mnt/$f" "$backing/$f" &&
  for c in "$T"/h/*; do cmp -s "$c" "$backing/$f" && return 0; done; return 1; }
it_wait_for "no copy of $f at its new bytes" 10 copy_new
echo "3: $(it_shadow_state "$mnt/$f")"

# 4. A tuning change: the next pass looks at every entry.
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,shadow_all,shadow_quiet=0,shadow_tick=1,rollout=99/100,rollout_interval=86400,state=$state,hosts=$T/h:cost=1;$T/h2:cost=2"
find "$mnt" -type f -exec cat {} + >/dev/null || it_fail "reading the files"
it_wait_for "not all 300 files copied after the remount" 60 all_copied
IT_WAIT_SHOW='stats' it_wait_for "passes still look at most entries after the remount" 30 mostly_quiet
g=d7/f77
setfattr -n user.shadow.never -v 1 "$mnt/$g" || it_fail "setfattr user.shadow.never"
dropped() { it_shadow_state "$mnt/$g" | grep -q 'copies=0'; }
IT_WAIT_SHOW='it_shadow_state "$mnt/$g"' it_wait_for "the copy of $g kept after user.shadow.never" 3 dropped
echo "4: $(it_shadow_state "$mnt/$g")"
it_umount "$mnt"
echo "fs_quiet_passes: ok"
