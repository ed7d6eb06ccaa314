"""fs_carry_race's rounds: a write behind the mount's back (BACKING/data,
same size) during a storm of chmods through the mount (MNT/data), then
direct reads of MNT/data, which must all return the write's bytes.

Usage: it_carry_race.py BACKING MNT ROUNDS. Prints one line per round
that read old bytes and a summary; exit status 1 if any round did, 2 if
no copy served."""
import mmap
import os
import random
import sys
import threading
import time

backing, mnt, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
bf, mf = os.path.join(backing, 'data'), os.path.join(mnt, 'data')


def state():
    try:
        return os.getxattr(mf, 'user.shadow.state').decode()
    except OSError:
        return ''


def serving_now():
    s = state()
    if 'version=' not in s:
        return False
    v = s.split('version=')[1].split()[0]
    return (':%s:serving' % v) in s


def first_byte():
    fd = os.open(mf, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    try:
        os.readv(fd, [buf])
    finally:
        os.close(fd)
    return buf[0:1]


stale = 0
letters = b'BCDEFGHIJKLMNOPQRSTUVWXYZ'
for n in range(rounds):
    t0 = time.time()
    while not serving_now():
        if time.time() - t0 > 15:
            print('no serving copy: %s' % state())
            sys.exit(2)
        time.sleep(0.02)
    stop = threading.Event()

    def chmods():
        m = 0o644
        while not stop.is_set():
            os.chmod(mf, m)
            m ^= 0o004

    th = threading.Thread(target=chmods)
    th.start()
    time.sleep(random.uniform(0.005, 0.03))
    want = letters[n % len(letters):][:1]
    fd = os.open(bf, os.O_WRONLY)
    os.pwrite(fd, want * 4096, 0)
    os.close(fd)
    stop.set()
    th.join()
    time.sleep(0.5)  # the checks (reads, passes) had their chance
    bad = sum(first_byte() != want for _ in range(40))
    if bad:
        stale += 1
        print('round %d: %d of 40 reads returned old bytes; %s' % (n, bad, state()), flush=True)
        fd = os.open(mf, os.O_WRONLY)  # through the mount: the copy goes
        os.pwrite(fd, want, 0)
        os.close(fd)
print('rounds that read old bytes: %d of %d' % (stale, rounds))
sys.exit(1 if stale else 0)
