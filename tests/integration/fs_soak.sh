#!/usr/bin/env bash
# A soak of the shadowing layer's lifetimes: for SECONDS (20 here), three
# readers read files through fds while one thread pins and unpins them
# (and sets user.shadow.never now and then), one renames files and whole
# directories and replaces files (a new file renamed over, or unlink and
# re-create), and one drops the kernel's caches every 200 ms, on a mount
# with recording on (the forecast shadows files too), a local host and a
# remote shadowd. Entries are made, copied, moved, demoted and freed under
# the readers all the while (fs/shadow_reclaim.c, fs/shadow_paths.c).
# Checked: no read sees its fd's bytes change, every file reads its last
# version at the end, entries were freed and copies serve, STATE/pins
# names exactly the files last pinned (by their current names), and the
# daemon exits cleanly (under ASan+UBSan in the sanitizer suite: no
# use-after-free, no leak).
# Usage: fs_soak.sh SHADOWFS SHADOWD SHADOWCTL [SECONDS]
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3 SECS=${4:-20}
T=$(it_tmpdir fs_soak)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd "$T/sd.log" 0
SD=127.0.0.1:$IT_SD_PORT
mkdir -p "$T/h"
for d in 0 1 2 3; do mkdir -p "$backing/dir$d"; for i in $(seq 0 24); do head -c $((4096 + i * 512)) /dev/urandom >"$backing/dir$d/f$i"; done; done
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "state=$state,hosts=$T/h:cost=1;$SD:cost=2,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_quiet=0,shadow_idle=0.5,remote_timeout=2000,bucket=1"
T=$T python3 - "$mnt" "$SECS" <<'PY' || it_fail "soak workload"
import os, random, sys, threading, time
import it_threads
mnt, secs = sys.argv[1], float(sys.argv[2])
stop = time.monotonic() + secs
lock = threading.Lock()
# name -> list of contents (versions); names are relative paths
files = {}
for d in range(4):
    for i in range(25):
        p = "dir%d/f%d" % (d, i)
        files[p] = [open(os.path.join(mnt, p), "rb").read()]
dirs = ["dir%d" % d for d in range(4)]
pinned = {p: False for p in files}  # what STATE/pins must say at the end
errors = []
stats = {"reads": 0, "pins": 0, "renames": 0, "dirrenames": 0, "replaces": 0, "drops": 0}
def reader(seed):
    rnd = random.Random(seed)
    while time.monotonic() < stop and not errors:
        with lock:
            if not files: continue
            p = rnd.choice(list(files)); first = len(files[p]) - 1
        try:
            fd = os.open(os.path.join(mnt, p), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            continue
        with lock:
            hist = files.get(p)
            valid = hist[first:] if hist else []
        try:
            got0 = None
            for _ in range(10):
                got = os.pread(fd, 1 << 20, 0)
                if valid and (got not in valid or (got0 is not None and got != got0)):
                    # the name may have moved (rename) between the looks: only a
                    # change of bytes on one fd is an error
                    if got0 is not None and got != got0:
                        errors.append("%s: bytes changed under one fd" % p)
                    break
                got0 = got
                stats["reads"] += 1
        finally:
            os.close(fd)
def pinner(seed):
    rnd = random.Random(seed)
    while time.monotonic() < stop and not errors:
        with lock:  # ordered with the renames: pinned[] follows the names
            p = rnd.choice(list(files))
            v = rnd.choice([b"0", b"1", b"1"])
            os.setxattr(os.path.join(mnt, p), "user.shadow.pin", v)
            pinned[p] = v == b"1"
            stats["pins"] += 1
        if rnd.random() < 0.05:
            try:
                os.setxattr(os.path.join(mnt, p), "user.shadow.never", rnd.choice([b"0", b"1"]))
            except OSError:
                pass
        time.sleep(0.002)
def mover(seed):
    rnd = random.Random(seed)
    n = 0
    while time.monotonic() < stop and not errors:
        r = rnd.random()
        with lock:
            if r < 0.5:  # file rename within/between dirs
                p = rnd.choice(list(files))
                nd = rnd.choice(dirs)
                q = "%s/m%d-%d" % (nd, seed, n); n += 1
                os.rename(os.path.join(mnt, p), os.path.join(mnt, q))
                files[q] = files.pop(p)
                pinned[q] = pinned.pop(p)
                stats["renames"] += 1
            elif r < 0.6:  # directory rename
                i = rnd.randrange(len(dirs)); old = dirs[i]; new = "dirx%d-%d" % (seed, n); n += 1
                os.rename(os.path.join(mnt, old), os.path.join(mnt, new))
                dirs[i] = new
                for p in [p for p in files if p.startswith(old + "/")]:
                    files[new + p[len(old):]] = files.pop(p)
                    pinned[new + p[len(old):]] = pinned.pop(p)
                stats["dirrenames"] += 1
            else:  # replace a file's content: new file renamed over, or unlink + create
                p = rnd.choice(list(files))
                data = os.urandom(rnd.randrange(1, 65536))
                tmp = os.path.join(mnt, p + ".tmp")
                with open(tmp, "wb") as f: f.write(data)
                if rnd.random() < 0.5:
                    os.rename(tmp, os.path.join(mnt, p))
                else:
                    os.unlink(os.path.join(mnt, p)); os.rename(tmp, os.path.join(mnt, p))
                files[p].append(data)
                pinned[p] = False  # a new file: the replaced one's pin went with it
                stats["replaces"] += 1
        time.sleep(0.01)
def dropper():
    while time.monotonic() < stop and not errors:
        with open("/proc/sys/vm/drop_caches", "w") as f: f.write("2")
        stats["drops"] += 1
        time.sleep(0.2)
ts = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
ts += [threading.Thread(target=pinner, args=(10,)), threading.Thread(target=mover, args=(20,)), threading.Thread(target=dropper)]
for t in ts: t.start()
for t in ts: t.join()
it_threads.check()
# final check: every file reads its last version
for p, hist in files.items():
    got = open(os.path.join(mnt, p), "rb").read()
    if got != hist[-1]:
        errors.append("%s: final content is not the last version" % p)
print("soak:", stats, "files", len(files))
with open(os.path.join(os.environ["T"], "want_pins"), "w") as f:
    f.write("".join(p + "\n" for p in sorted(p for p, on in pinned.items() if on)))
if errors:
    print("\n".join(errors[:10])); sys.exit(1)
if stats["reads"] < 1000 or stats["renames"] < 50 or stats["pins"] < 100:
    print("the workload did too little to mean anything"); sys.exit(1)
PY
stats=$(cat "$state/control.stats")
echo "$stats"
"$CTL" status "$mnt" | tail -3
freed=$(sed -n 's/.*freed=\([0-9]*\).*/\1/p' <<<"$stats")
[ "${freed:-0}" -gt 0 ] || it_fail "no entry was freed: $stats"
serving() { "$CTL" status "$mnt" | grep -Eq "^shadows .* [1-9][0-9]* serving"; }
IT_WAIT_SHOW='"$CTL" status "$mnt"' it_wait_for "no copy serves after the soak" 20 serving
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
# STATE/pins, folded at the unmount: the files last pinned, by the names
# they have now, and nothing else.
diff <(sort "$state/pins") "$T/want_pins" >"$T/pins.diff" ||
  it_fail "STATE/pins differs from the pins set (< STATE/pins, > expected): $(cat "$T/pins.diff")"
echo "pins: $(wc -l <"$T/want_pins") files pinned at the end, STATE/pins the same"
echo PASS
