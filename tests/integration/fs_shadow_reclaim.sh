#!/usr/bin/env bash
# The shadowing layer frees the entries of files it no longer wants
# (fs/shadow_reclaim.c); before, every file ever pinned, forecast hot or
# deleted kept its entry (3.4 KB and more) until the unmount:
# 1. 200 files pinned and copied, then unpinned: their copies go, and once
#    the kernel forgets their inodes (drop_caches) the control loop frees
#    their entries (STATE/control.stats: entries 0, freed 200);
# 2. a file pinned again gets a new entry, copied and served right, shown
#    from v1 again;
# 3. a pinned file deleted through the mount: its copy goes and, its inode
#    forgotten, its entry is freed; 3b. one deleted in BACKING behind the
#    mount's back: the same (its pin leaves STATE/pins, its origin fd is
#    closed, its entry freed);
# 4. a race meant to catch a freed entry in use (run under ASan in the
#    sanitizer suite): readers keep reading files through fds opened on
#    the mount, while pins come and go, files are renamed over and
#    unlinked, and the kernel's caches are dropped, for 8 s; every read
#    returns the right bytes, every pin answers 0 or ENOENT (one racing
#    a rename over its file answered EAGAIN, which reached the caller as
#    EOPNOTSUPP), and the mount survives.
# Usage: fs_shadow_reclaim.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_shadow_reclaim)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
N=200
for i in $(seq $N); do head -c 4096 /dev/urandom >"$backing/f$i"; done
mkdir "$T/h"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,state=$state,hosts=$T/h,shadow_tick=0.05,shadow_quiet=0,shadow_idle=0.2"
stats() { cat "$state/control.stats" 2>/dev/null; }
field() { stats | sed -n "s/.*\<$1=\([0-9]*\).*/\1/p"; }
forget() { sync; echo 2 >/proc/sys/vm/drop_caches; }

# 1. Pinned, copied, unpinned, forgotten: freed.
for i in $(seq $N); do setfattr -n user.shadow.pin -v 1 "$mnt/f$i" || it_fail "pin f$i"; done
all_copied() { [ "$(it_copies_in "$T/h")" -eq "$N" ]; }
it_wait_for "not every pinned file was copied" 60 all_copied
[ "$(field entries)" -eq $N ] || it_fail "expected $N entries: $(stats)"
for i in $(seq $N); do setfattr -n user.shadow.pin -v 0 "$mnt/f$i" || it_fail "unpin f$i"; done
none_left() { [ "$(it_copies_in "$T/h")" -eq 0 ]; }
it_wait_for "the copies were not dropped" 30 none_left
sleep 0.3
held=$(field entries)
echo "1: after the unpins, the kernel still holding the inodes: $(stats)"
# The inodes are still known to the kernel (a reader may come): their
# entries stay. (Some may be forgotten already under memory pressure.)
forget
all_freed() { forget; [ "$(field entries)" -eq 0 ] && [ "$(field freed)" -ge $N ]; }
IT_WAIT_SHOW='stats' it_wait_for "the unpinned files' entries were not freed" 20 all_freed
echo "1: after drop_caches: $(stats) (entries before: $held)"

# 2. Wanted again: a new entry, copied and served right.
setfattr -n user.shadow.pin -v 1 "$mnt/f7" || it_fail "pin f7 again"
serving() { it_shadow_state "$mnt/f7" | grep -q "version=v1 .*copy=$T/h:v1:serving"; }
IT_WATCH=$mnt/f7 it_wait_for "f7 not copied again from v1" 20 serving
for _ in $(seq 20); do cmp -s "$mnt/f7" "$backing/f7" || it_fail "f7 read wrong"; done
[ "$(field entries)" -eq 1 ] || it_fail "expected 1 entry: $(stats)"

# 3. A pinned file deleted through the mount: freed once forgotten.
before=$(field freed)
rm "$mnt/f7" || it_fail "rm f7"
gone_freed() { forget; [ "$(field entries)" -eq 0 ] && [ "$(field freed)" -gt "$before" ]; }
IT_WAIT_SHOW='stats' it_wait_for "the deleted file's entry was not freed" 20 gone_freed
none_left || it_fail "the deleted file's copy is still in the store"
echo "3: $(stats)"

# 3b. A pinned file deleted in BACKING, behind the mount's back: the same.
# Before, its entry stayed pinned (STATE/pins kept it, the mover retried its
# copy) and its origin fd stayed open, so BACKING never freed its space,
# for as long as the mount ran.
setfattr -n user.shadow.pin -v 1 "$mnt/f8" || it_fail "pin f8"
serving8() { it_shadow_state "$mnt/f8" | grep -q "copy=$T/h:v[0-9]*:serving"; }
IT_WATCH=$mnt/f8 it_wait_for "f8 not copied" 20 serving8
before=$(field freed)
rm "$backing/f8" || it_fail "rm f8 in BACKING"
fd_on_f8() { ls -l "/proc/$IT_PID/fd" 2>/dev/null | grep -q "$backing/f8"; }
behind_freed() {
  forget
  [ "$(field entries)" -eq 0 ] && [ "$(field freed)" -gt "$before" ] &&
    ! grep -q 'f8$' "$state/pins" && ! fd_on_f8 && none_left
}
IT_WAIT_SHOW='echo "$(stats); pins: $(cat "$state/pins"); fd: $(fd_on_f8 && echo open)"' it_wait_for "the file deleted behind the mount's back kept its entry, pin, copy or fd" 20 behind_freed
it_check "the deletion behind the mount's back not logged" it_log_has "$T/mount.log" "f8 was deleted behind"
echo "3b: $(stats)"

# 4. The race: entries made, used and freed under readers.
python3 - "$mnt" "$backing" "$state/control.stats" <<'PY' || it_fail "the race"
import os, random, re, subprocess, sys, threading, time
import it_threads
mnt, back, stats = sys.argv[1:4]
names = ["f%d" % i for i in range(100, 160)]
# Every version each name has had, in order: an fd opened between two
# looks at it reads one of the versions in between, the same each time.
history = {n: [open(os.path.join(back, n), "rb").read()] for n in names}
lock = threading.Lock()
def freed():
    return int(re.search(r"freed=(\d+)", open(stats).read()).group(1))
freed_before = freed()
stop = time.monotonic() + 8
errors = []
def reader(seed):
    rnd = random.Random(seed)
    while time.monotonic() < stop:
        n = rnd.choice(names)
        with lock:
            first = len(history[n]) - 1
        try:
            fd = os.open(os.path.join(mnt, n), os.O_RDONLY)
        except FileNotFoundError:
            continue  # between an unlink and its re-creation
        with lock:
            valid = history[n][first:]
        try:
            got0 = None
            for _ in range(20):
                got = os.pread(fd, 4096, 0)
                if got not in valid or (got0 is not None and got != got0):
                    errors.append("%s: %d bytes, not the file that fd opened" % (n, len(got)))
                    return
                got0 = got
        finally:
            os.close(fd)
def pinner(seed):
    rnd = random.Random(seed)
    while time.monotonic() < stop:
        n = rnd.choice(names)
        try:
            os.setxattr(os.path.join(mnt, n), "user.shadow.pin", rnd.choice([b"0", b"1"]))
        except FileNotFoundError:
            pass  # between an unlink and its re-creation, or a pin of the file removed
        except OSError as e:  # anything else fails the test (a dead thread did not:
            # a pin racing a rename over the file answered EAGAIN, seen as EOPNOTSUPP)
            errors.append("pin %s: %s" % (n, e))
            return
def replacer(seed):
    rnd = random.Random(seed)
    while time.monotonic() < stop:
        n = rnd.choice(names)
        data = os.urandom(4096)
        tmp = os.path.join(mnt, "tmp-%d" % seed)
        with open(tmp, "wb") as f:
            f.write(data)
        with lock:
            if rnd.random() < 0.5:
                os.rename(tmp, os.path.join(mnt, n))  # over a file: its entry held
            else:
                os.unlink(os.path.join(mnt, n))
                os.rename(tmp, os.path.join(mnt, n))
            history[n].append(data)
        time.sleep(0.01)
def dropper():
    while time.monotonic() < stop:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2")
        time.sleep(0.05)
ts = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
ts += [threading.Thread(target=pinner, args=(10,)), threading.Thread(target=replacer, args=(20,)),
       threading.Thread(target=dropper)]
for t in ts:
    t.start()
for t in ts:
    t.join()
it_threads.check()
print("4: race done, %s; %d freed during it, %d replacements" %
      (open(stats).read().strip(), freed() - freed_before, sum(len(h) - 1 for h in history.values())))
if errors:
    print("\n".join(errors[:5]))
    sys.exit(1)
if freed() - freed_before < 10:
    print("too few entries freed during the race: it did not exercise freeing")
    sys.exit(1)
PY
kill -0 "$IT_PID" 2>/dev/null || it_fail "shadowfs died during the race"
for n in $(seq 1 6 $N); do
  [ -e "$backing/f$n" ] || continue
  cmp -s "$mnt/f$n" "$backing/f$n" || it_fail "f$n reads wrong after the race"
done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
