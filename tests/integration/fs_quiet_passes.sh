#!/usr/bin/env bash
# The control loop leaves settled, unread entries alone (fs/shadow_quiet.c),
# and that costs no stale read:
# 1. 300 files under shadow_all on a local host, all copied and serving,
#    then nothing read: a pass looks at about one in 16 of them
#    (STATE/control.stats), the others are left alone; before, every pass
#    looked at all of them (a stat of the origin and of the copy each, the
#    decision, the rollout);
# 2. a file changed in BACKING behind the mount's back while its entry is
#    quiet, read through an fd opened before the change, with 99% of the
#    reads going to the copy: every read returns the new bytes at once
#    (the first read compares the stamps no pass compared lately); without
#    that the copy served the old bytes until a pass reached the entry;
# 3. the copy of that file is then made again, of the new bytes;
# 4. a tuning change (user.shadow.never) makes the next pass look at every
#    entry: the copy is dropped within a pass or two, not when the slicing
#    reaches the file (up to 16 ticks of 1 s here).
# Usage: fs_quiet_passes.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
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

# 1. Settled and unread: most entries left alone by each pass.
mostly_quiet() { local q; q=$(field quiet_left); [ -n "$q" ] && [ "$q" -ge 250 ]; }
it_wait_for "passes still look at every entry: $(stats)" 10 mostly_quiet
line=$(stats)
looked=$(field looked)
[ -n "$looked" ] && [ "$looked" -le 40 ] || it_fail "a pass looked at $looked of 300 quiet entries: $line"
echo "1: $line"

# 2. Changed behind the mount's back while quiet: read right at once.
f=d3/f3
python3 - "$mnt/$f" "$backing/$f" <<'PY' || it_fail "a copy served bytes the origin no longer holds"
import os, sys, time
mnt, back = sys.argv[1], sys.argv[2]
fd = os.open(mnt, os.O_RDONLY)
before = os.pread(fd, 64, 0)
time.sleep(0.6)  # six passes: the entry is quiet, its stamps not compared lately
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
it_wait_for "passes still look at every entry after the remount: $(stats)" 20 mostly_quiet
g=d7/f77
setfattr -n user.shadow.never -v 1 "$mnt/$g" || it_fail "setfattr user.shadow.never"
dropped() { it_shadow_state "$mnt/$g" | grep -q 'copies=0'; }
it_wait_for "the copy of $g kept after user.shadow.never: $(it_shadow_state "$mnt/$g")" 3 dropped
echo "4: $(it_shadow_state "$mnt/$g")"
it_umount "$mnt"
echo "fs_quiet_passes: ok"
