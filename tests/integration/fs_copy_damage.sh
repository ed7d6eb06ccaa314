#!/usr/bin/env bash
# A copy damaged in its host store is never served (contract item 4), not
# even until the control loop or a re-hash looks at it: two pinned files,
# one with its copy on a local host store, one on a shadowd on loopback,
# each read flat out by four readers through fds opened before the damage
# (cache=never, rollout=100: copies take reads at once, and are not rolled
# back for their latency (rollback_factor=1000); shadow_tick=2 s and
# the default shadow_verify of an hour, so neither a pass nor a re-hash
# hides a damaged read). Each kind of damage in turn, made to both copies
# while the readers run:
#  - one byte flipped, size and mtime kept (touch -d);
#  - truncated to half its size;
#  - grown by bytes appended;
#  - replaced by a symlink to a file of the same size and other bytes;
#  - deleted;
# every read returns the origin's bytes (compared with BACKING), each copy
# served reads before the damage (so the readers did reach it), and each
# copy is made again, equal to the origin, and serves.
# Before, a local copy changed on disk kept serving until the next open or
# pass compared its stamps, and a shadowd served a changed copy until the
# next re-hash (an hour by default): hundreds of reads of the flipped byte
# or of a short file.
# Usage: fs_copy_damage.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_copy_damage)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
LOCAL=$T/local STORE=$T/store
SIZE=$((1024 * 1024 + 77))

it_ca "$CTL" "$T/ca" "sd" "origin"
it_shadowd "$SHADOWD" "$STORE" "$T/ca" sd "$T/sd.log" 0
H=127.0.0.1:$IT_SD_PORT
head -c $SIZE /dev/urandom >"$backing/loc"
head -c $SIZE /dev/urandom >"$backing/rem"
head -c $SIZE /dev/urandom >"$T/other" # what a replacing symlink points to
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL;$H,tls=$T/ca,tls_name=origin,shadow_tick=2,shadow_quiet=0.3,rollout=100,rollback_factor=1000,remote_timeout=3000"
setfattr -n user.shadow.hosts -v "$LOCAL" "$mnt/loc" || it_fail "hosts of loc"
setfattr -n user.shadow.hosts -v "$H" "$mnt/rem" || it_fail "hosts of rem"
setfattr -n user.shadow.pin -v 1 "$mnt/loc" || it_fail "pin loc"
setfattr -n user.shadow.pin -v 1 "$mnt/rem" || it_fail "pin rem"

# The copy's file in its store under its real name (a shadowd's is
# unsynced.* for half a second after its commit; a symlink may be left).
copies_in() { find "$1" -maxdepth 1 -name '*-*' ! -name 'tmp.*' ! -name 'unsynced.*'; }
copy_good() { # FILE STORE: serving, and its store holds one copy, equal to the origin
  local c
  it_shadow_state "$mnt/$1" | grep -q ':serving:' || return 1
  c=$(copies_in "$2")
  [ -n "$c" ] && [ "$(wc -l <<<"$c")" -eq 1 ] && [ ! -L "$c" ] && cmp -s "$c" "$backing/$1" &&
    [ "$(find "$2" -maxdepth 1 -name 'unsynced.*' | wc -l)" -eq 0 ]
}

for how in flip truncate append symlink delete; do
  IT_WATCH=$mnt/loc it_wait_for "no good copy of loc before '$how'" 20 copy_good loc "$LOCAL"
  IT_WATCH=$mnt/rem it_wait_for "no good copy of rem before '$how'" 20 copy_good rem "$STORE"
  python3 - "$how" "$T/other" "$mnt/loc" "$backing/loc" "$(copies_in "$LOCAL")" \
    "$mnt/rem" "$backing/rem" "$(copies_in "$STORE")" <<'PY' || it_fail "'$how': a damaged copy was served, or a copy served nothing before (above)"
import os, sys, threading, time
import it_shadow, it_threads
how, other = sys.argv[1:3]
files = [sys.argv[i:i + 3] for i in (3, 6)]  # (path, origin, copy) each
stop = threading.Event()
count = [0, 0]  # reads, wrong reads
lock = threading.Lock()
first = []
def reader(path, good):
    fd = os.open(path, os.O_RDONLY)
    while not stop.is_set():
        got = os.pread(fd, len(good) + 10, 0)
        with lock:
            count[0] += 1
            if got != good:
                count[1] += 1
                if not first:
                    first.append("%s: %d bytes" % (path, len(got)))
    os.close(fd)
goods = [open(origin, "rb").read() for _, origin, _ in files]
threads = [threading.Thread(target=reader, args=(f[0], g)) for f, g in zip(files, goods) for _ in range(4)]
for t in threads:
    t.start()
# The readers reach each copy (else this proves nothing): it served some.
late = it_shadow.wait_copies_served([f[0] for f in files])
if late:
    stop.set()
    print("%s: a copy served no read before the damage: %s" % (how, late))
    sys.exit(2)
with lock:
    before = count[:]
def damage(copy, good):
    st = os.lstat(copy)
    if how == "flip":
        with open(copy, "r+b") as f:
            f.seek(len(good) // 2)
            b = f.read(1)
            f.seek(len(good) // 2)
            f.write(bytes([b[0] ^ 0x5A]))
        try:  # (a read may have found the change and the copy be gone)
            os.utime(copy, ns=(st.st_atime_ns, st.st_mtime_ns))
        except FileNotFoundError:
            pass
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
try:
    for (_, _, copy), good in zip(files, goods):
        damage(copy, good)
    time.sleep(1.5)
finally:
    stop.set()
    for t in threads:
        t.join()
print("%s: %d reads before the damage (%d wrong), %d after (%d wrong)%s" %
      (how, before[0], before[1], count[0] - before[0], count[1] - before[1],
       ": first " + first[0] if first else ""))
it_threads.check()
sys.exit(1 if count[1] else 0)
PY
  IT_WATCH=$mnt/loc it_wait_for "the copy of loc not made again after '$how'" 20 copy_good loc "$LOCAL"
  IT_WATCH=$mnt/rem it_wait_for "the copy of rem not made again after '$how'" 20 copy_good rem "$STORE"
done
# The shadowd said why it deleted the copy it found changed.
grep -q "changed on disk since it was stored: deleted" "$T/sd.log" ||
  it_fail "the shadowd did not log the changed copy: $(cat "$T/sd.log")"
for f in loc rem; do cmp "$mnt/$f" "$backing/$f" || it_fail "$f reads wrong at the end"; done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo "fs_copy_damage: ok"
