#!/usr/bin/env bash
# A copy damaged in its host store is never served (contract item 4), not
# even until the next pass of the control loop looks at it: a pinned file
# with its copy on a local host store, read flat out by four readers
# through fds opened before the damage (cache=never, rollout=100: copies
# take reads at once; shadow_tick=2 s and the default shadow_verify of an
# hour, so neither a pass nor a re-hash hides a damaged read). Each kind of
# damage in turn, made while the readers run:
#  - one byte flipped, size and mtime kept (touch -d);
#  - truncated to half its size;
#  - grown by bytes appended;
#  - replaced by a symlink to a file of the same size and other bytes;
#  - deleted;
# every read returns the origin's bytes (compared with BACKING), the copy
# served reads before the damage (so the readers did reach it), and the
# copy is made again, equal to the origin, and serves.
# Before, a local copy changed on disk kept serving until the next open or
# pass compared its stamps: tens of reads of the flipped byte or of a short
# file within a tick.
# Usage: fs_copy_damage.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_copy_damage)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
LOCAL=$T/local
SIZE=$((1024 * 1024 + 77))

head -c $SIZE /dev/urandom >"$backing/loc"
head -c $SIZE /dev/urandom >"$T/other" # what a replacing symlink points to
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL,shadow_tick=2,shadow_quiet=0.3,rollout=100"
setfattr -n user.shadow.pin -v 1 "$mnt/loc" || it_fail "pin loc"

# The copy's file in its store (a regular file or a symlink left there).
copy_in() { find "$1" -maxdepth 1 -name '*-*' ! -name 'tmp.*' | head -1; }
copy_good() { # FILE STORE: serving, and its store holds one copy equal to the origin
  local c
  it_shadow_state "$mnt/$1" | grep -q ':serving:' || return 1
  c=$(copy_in "$2")
  [ -n "$c" ] && [ ! -L "$c" ] && cmp -s "$c" "$backing/$1" &&
    [ "$(find "$2" -maxdepth 1 -name '*-*' ! -name 'tmp.*' | wc -l)" -eq 1 ]
}
copy_reads() { it_shadow_state "$mnt/$1" | sed -n 's/.*:serving:reads=\([0-9]*\).*/\1/p'; }

for how in flip truncate append symlink delete; do
  IT_WATCH=$mnt/loc it_wait_for "no good copy of loc before '$how'" 20 copy_good loc "$LOCAL"
  c=$(copy_in "$LOCAL")
  python3 - "$how" "$mnt/loc" "$backing/loc" "$c" "$T/other" <<'PY' || it_fail "'$how': a damaged copy was served"
import os, sys, threading, time
how, path, origin, copy, other = sys.argv[1:6]
good = open(origin, "rb").read()
stop = threading.Event()
count = [0, 0]  # reads, wrong reads
lock = threading.Lock()
first = []
def reader():
    fd = os.open(path, os.O_RDONLY)
    while not stop.is_set():
        got = os.pread(fd, len(good) + 10, 0)
        with lock:
            count[0] += 1
            if got != good:
                count[1] += 1
                if not first:
                    first.append("%d bytes, %s" % (len(got), "same length" if len(got) == len(good) else "not the file's length"))
    os.close(fd)
threads = [threading.Thread(target=reader) for _ in range(4)]
for t in threads:
    t.start()
time.sleep(0.3)
with lock:
    before = count[:]
# The readers reach the copy (else this proves nothing): it served some.
state = os.getxattr(path, "user.shadow.state").decode()
served = [int(w.split("reads=")[1].split(":")[0]) for w in state.split() if ":serving:reads=" in w]
if not served or served[0] == 0:
    stop.set()
    print("%s: the copy served no read before the damage: %s" % (how, state))
    sys.exit(2)
st = os.lstat(copy)
if how == "flip":
    with open(copy, "r+b") as f:
        f.seek(len(good) // 2)
        b = f.read(1)
        f.seek(len(good) // 2)
        f.write(bytes([b[0] ^ 0x5A]))
    os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
elif how == "truncate":
    os.truncate(copy, len(good) // 2)
elif how == "append":
    with open(copy, "ab") as f:
        f.write(b"appended")
elif how == "symlink":
    os.unlink(copy)
    os.symlink(other, copy)
elif how == "delete":
    os.unlink(copy)
time.sleep(1.5)
stop.set()
for t in threads:
    t.join()
print("%s: %d reads before the damage (%d wrong), %d after (%d wrong)%s" %
      (how, before[0], before[1], count[0] - before[0], count[1] - before[1],
       ": first " + first[0] if first else ""))
sys.exit(1 if count[1] else 0)
PY
  echo "  $how: $(it_shadow_state "$mnt/loc" | grep -o ' copy=.*')"
  IT_WATCH=$mnt/loc it_wait_for "the copy of loc not made again after '$how'" 20 copy_good loc "$LOCAL"
done
cmp "$mnt/loc" "$backing/loc" || it_fail "loc reads wrong at the end"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo "fs_copy_damage: ok"
