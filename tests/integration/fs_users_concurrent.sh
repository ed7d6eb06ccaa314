#!/usr/bin/env bash
# Many users at once on one shared mount (worker threads switch credentials
# per request, fs/creds.c): 16 users (uids 3000-3015, each with its own
# umask) and root, 4 of each user's operations at a time for 100 rounds:
# create, mkdir, mkfifo, symlink, a 64 KiB write (the writer's credentials,
# fs_creds_enter_writer) and fallocate of their own files; reads, unlinks
# and chmods of another user's 0600 file. Nothing may run with another
# caller's credentials: every new object belongs to its maker with its
# umask, no other user's file is read, removed or changed, and root's
# objects (made meanwhile) are root's. Run with 4 threads, then through
# FUSE over io_uring where the kernel offers it.
# Usage: fs_users_concurrent.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1 backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
chmod 755 "$backing" "$mnt" # the users walk into both

run() { # OPTS
  rm -rf "${backing:?}"/*
  it_mount "$shadowfs" "$backing" "$mnt" "allow_other,norecord,$1"
  python3 - "$mnt" "$backing" <<'PY' || it_fail "-o $1: a request ran with another caller's credentials (above)"
import os, stat, sys
mnt, back = sys.argv[1], sys.argv[2]
users, rounds, d = 16, 100, "shared"
os.mkdir(os.path.join(back, d)); os.chmod(os.path.join(back, d), 0o1777)
for u in range(users):
    p = os.path.join(back, d, "priv%d" % (3000 + u))
    with open(p, "w") as f:
        f.write("secret of %d" % (3000 + u))
    os.chown(p, 3000 + u, 3000 + u); os.chmod(p, 0o600)

def fail(*a):
    print("FAIL", *a, flush=True)
    return 1

def user(u):
    uid = 3000 + u
    os.setgroups([5000 + u]); os.setresgid(uid, uid, uid); os.setresuid(uid, uid, uid)
    mask = (0o022, 0o077, 0o002, 0o027, 0)[u % 5]
    os.umask(mask)
    bad = 0
    for i in range(rounds):
        base = os.path.join(mnt, d, "u%d_%d" % (uid, i))
        fd = os.open(base + "f", os.O_CREAT | os.O_WRONLY, 0o666)
        os.write(fd, b"x" * 65536)
        os.posix_fallocate(fd, 0, 131072)
        os.close(fd)
        os.mkdir(base + "d", 0o777)
        os.mkfifo(base + "n", 0o666)
        os.symlink("x", base + "l")
        with open(os.path.join(mnt, d, "priv%d" % uid)) as f:
            if f.read() != "secret of %d" % uid:
                bad += fail(uid, "cannot read its own file")
        other = 3000 + (u + 1 + i % (users - 1)) % users  # never uid
        victim = os.path.join(mnt, d, "priv%d" % other)
        for what, op in (("read", lambda: open(victim).read()),
                         ("chmod", lambda: os.chmod(victim, 0o666)),
                         ("unlink", lambda: os.unlink(victim))):
            try:
                op()
                bad += fail(uid, what, "the file of", other)
            except PermissionError:
                pass
        for suf, want in (("f", 0o666), ("d", 0o777), ("n", 0o666)):
            st = os.lstat(os.path.join(back, d, "u%d_%d%s" % (uid, i, suf)))
            if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, uid, want & ~mask):
                bad += fail(uid, suf, i, st.st_uid, st.st_gid, oct(st.st_mode))
        st = os.lstat(os.path.join(back, d, "u%d_%dl" % (uid, i)))
        if st.st_uid != uid:
            bad += fail(uid, "symlink", i, st.st_uid)
    return bad

def root():
    bad = 0
    os.umask(0o022)
    for i in range(rounds * 2):
        p = os.path.join(mnt, d, "root_%d" % i)
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"r" * 4096)
        os.close(fd)
        os.mkdir(p + "d")
        for q in (p, p + "d"):
            st = os.lstat(os.path.join(back, d, os.path.basename(q)))
            if (st.st_uid, st.st_gid) != (0, 0):
                bad += fail("root's", q, "belongs to", st.st_uid, st.st_gid)
    return bad

pids = []
for who in list(range(users)) + ["root"]:
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(1 if (root() if who == "root" else user(who)) else 0)
        except Exception as e:
            print("FAIL", who, repr(e), flush=True)
            os._exit(1)
    pids.append(pid)
failed = sum(1 for p in pids if os.waitpid(p, 0)[1] != 0)
for u in range(users):
    st = os.stat(os.path.join(back, d, "priv%d" % (3000 + u)))
    if (st.st_uid, st.st_mode & 0o7777) != (3000 + u, 0o600):
        failed += fail("priv%d changed" % (3000 + u), st.st_uid, oct(st.st_mode))
print("%d users and root, %d rounds: %d failed" % (users, rounds, failed))
sys.exit(1 if failed else 0)
PY
  fs_umount "$mnt"
}

run threads=4
if [ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" = Y ]; then
  run io_uring,threads=4
fi
echo "PASS fs_users_concurrent"
