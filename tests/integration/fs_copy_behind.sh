#!/usr/bin/env bash
# A file changed in BACKING behind the mount's back is never read from a
# copy of its old bytes (contract item 4), not even through fds opened
# before the change and before a pass of the control loop looks at it: two
# pinned files, one copied to a local host store, one to a shadowd on
# loopback, each read flat out by four readers through fds opened before
# (cache=never, rollout=100, rollback_factor=1000: copies take reads at
# once and keep them; shadow_tick=2 s). A few bytes of each are rewritten
# in BACKING, mtime put back (touch -d); every read begun after that
# returns the new bytes; the copies served reads before (so the readers
# did reach them), and are made again of the new bytes.
# Before, the origin's stamps were compared at an open, at the first read
# of a quiet entry and at each pass: for up to a tick the copies served the
# old bytes (993 of 5,003 reads in the second after the change, at
# shadow_tick=1).
# Usage: fs_copy_behind.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_copy_behind)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_mount_loc_rem "$SHADOWFS" "$SHADOWD" "$CTL" "$T" "$T/store" "$backing" "$mnt" $((1024 * 1024 + 9)) \
  "norecord,cache=never,state=$state,shadow_tick=2,shadow_quiet=0.3,rollout=100,rollback_factor=1000,remote_timeout=3000"
serving() { it_shadow_state "$mnt/$1" | grep -q ':serving:'; }

for round in 1 2; do
  for f in loc rem; do IT_WATCH=$mnt/$f it_wait_for "no copy of $f (round $round)" 20 serving $f; done
  python3 - "$round" "$mnt/loc" "$backing/loc" "$mnt/rem" "$backing/rem" <<'PY' || it_fail "round $round: a copy served bytes BACKING no longer holds, or served nothing before (above)"
import os, sys, threading, time
import it_shadow, it_threads
rnd = int(sys.argv[1])
files = [sys.argv[i:i + 2] for i in (2, 4)]  # (path, origin)
stop = threading.Event()
lock = threading.Lock()
changed = [False]
count = [0, 0]  # reads begun after the change, of them the old bytes
first = []
olds = [open(o, "rb").read() for _, o in files]
def reader(path, old):
    fd = os.open(path, os.O_RDONLY)
    while not stop.is_set():
        with lock:
            after = changed[0]
        got = os.pread(fd, len(old) + 10, 0)
        if after:
            with lock:
                count[0] += 1
                if got == old:
                    count[1] += 1
                    first or first.append(path)
    os.close(fd)
threads = [threading.Thread(target=reader, args=(p, o)) for (p, _), o in zip(files, olds) for _ in range(4)]
for t in threads:
    t.start()
try:
    late = it_shadow.wait_copies_served([p for p, _ in files])  # the readers reach each copy
    if late:
        print("round %d: a copy served no read: %s" % (rnd, late))
        sys.exit(2)
    for (_, origin), old in zip(files, olds):
        st = os.stat(origin)
        with open(origin, "r+b") as f:
            f.seek(1000 * rnd)
            f.write(bytes(b ^ 0xFF for b in old[1000 * rnd:1000 * rnd + 8]))
        os.utime(origin, ns=(st.st_atime_ns, st.st_mtime_ns))
    with lock:
        changed[0] = True
    time.sleep(1.0)
finally:
    stop.set()
    for t in threads:
        t.join()
print("round %d: %d reads begun after the change, %d of the old bytes%s" %
      (rnd, count[0], count[1], " (first: %s)" % first[0] if first else ""))
it_threads.check()
sys.exit(1 if count[1] else 0)
PY
  # The copies are made again, of the new bytes.
  for f in loc rem; do
    fresh() { serving "$1" && cmp -s "$mnt/$1" "$backing/$1"; }
    IT_WATCH=$mnt/$f it_wait_for "no copy of $f of its new bytes" 20 fresh $f
  done
done
cmp -s "$(find "$LOCAL" -maxdepth 1 -name '*-*' | head -1)" "$backing/loc" ||
  it_fail "the local copy is not of the new bytes"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo "fs_copy_behind: ok"
