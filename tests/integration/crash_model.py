#!/usr/bin/env python3
"""A seeded workload through a shadowfs mount, and the check of what
survives the mount's kill -9 (used by fs_crash_loop.sh).

  crash_model.py init BACKING JOURNAL COPY   the files' first bytes kept in COPY
  crash_model.py run MNT JOURNAL SEED        ops until the mount dies
  crash_model.py check MNT BACKING JOURNAL COPY

`run` appends to JOURNAL "P <op>" before each operation, "A <op>" once
it returned 0 and "F <op>" if it failed otherwise than by the mount's
death: a block write counts once fsync returned, a setxattr, a rename or
an unlink once the call did. `check` replays the journal: every
acknowledged operation must be in effect (BACKING's bytes, pins and
tuning read through the new mount), and the one operation under way when
the mount died may or may not be (the journal then says which, for the
next run). Files are identified by the name the journal last gave them;
blocks are BLOCK bytes at block-aligned offsets (one WRITE each, so a
block is old or new, never a mixture).
"""
import errno
import hashlib
import json
import os
import random
import sys

BLOCK = 4096
NBLOCKS = 16
NAMES = ["f%d" % i for i in range(8)] + ["d/g%d" % i for i in range(4)]
DIRS = ["d", ""]  # "" is the mount root
CAPS = ["3", "7", "11", "250"]


def set_capacity(path, v):
    """user.shadow.capacity of path set to v, or removed (v None)."""
    if v is not None:
        os.setxattr(path, "user.shadow.capacity", v.encode())
        return
    try:
        os.removexattr(path, "user.shadow.capacity")
    except OSError as e:
        if e.errno != errno.ENODATA:
            raise


def block_data(seed, n):
    return hashlib.sha256(b"%d:%d" % (seed, n)).digest() * (BLOCK // 32)


def initial_model(names):
    files = {}
    for name in names:
        files[name] = {"blocks": [None] * NBLOCKS, "pin": False, "cap": None}
    return {"files": files, "dirs": {d: None for d in DIRS}}


def apply(model, op):
    """The model after op (a copy: the caller keeps the one before)."""
    m = json.loads(json.dumps(model))
    f = m["files"]
    k = op["k"]
    if k == "write":
        f[op["name"]]["blocks"][op["blk"]] = op["h"]
    elif k == "pin":
        f[op["name"]]["pin"] = op["v"]
    elif k == "cap":
        f[op["name"]]["cap"] = op["v"]
    elif k == "dircap":
        m["dirs"][op["dir"]] = op["v"]
    elif k == "rename":
        f[op["to"]] = f.pop(op["name"])
    elif k == "unlink":
        f.pop(op["name"])
    elif k == "create":
        f[op["name"]] = {"blocks": [None] * NBLOCKS, "pin": False, "cap": None}
        f[op["name"]]["blocks"] = [op["h"]] * NBLOCKS
    return m


def run(mnt, journal, seed):
    rnd = random.Random(seed)
    model = replay(journal)[0]
    out = open(journal, "a", buffering=1)
    n = 0
    while True:
        files = sorted(model["files"])
        free = [x for x in NAMES if x not in model["files"]]
        r = rnd.random()
        if r < 0.45 and files:
            op = {"k": "write", "name": rnd.choice(files), "blk": rnd.randrange(NBLOCKS)}
        elif r < 0.62 and files:
            op = {"k": "pin", "name": rnd.choice(files), "v": rnd.random() < 0.6}
        elif r < 0.72 and files:
            op = {"k": "cap", "name": rnd.choice(files), "v": rnd.choice(CAPS + [None])}
        elif r < 0.77:
            op = {"k": "dircap", "dir": rnd.choice(DIRS), "v": rnd.choice(CAPS + [None])}
        elif r < 0.89 and files and free:
            src = rnd.choice(files)
            same_dir = [x for x in free if os.path.dirname(x) == os.path.dirname(src)]
            op = {"k": "rename", "name": src, "to": rnd.choice(same_dir or free)}
        elif r < 0.94 and files:
            op = {"k": "unlink", "name": rnd.choice(files)}
        elif free:
            op = {"k": "create", "name": rnd.choice(free)}
        else:
            continue
        if op["k"] in ("write", "create"):
            op["h"] = "%d-%d" % (seed, n)
        n += 1
        out.write("P " + json.dumps(op) + "\n")
        try:
            do(mnt, op, seed, n)
        except OSError as e:
            if e.errno in (errno.ENOTCONN, errno.ECONNABORTED):
                return 0  # the mount died under us
            # Refused: not applied (an error the test then looks at).
            out.write("F " + json.dumps(op) + "\n")
            print("op %s failed: %s" % (json.dumps(op), e), file=sys.stderr)
            continue
        out.write("A " + json.dumps(op) + "\n")
        model = apply(model, op)


def data_of(h):
    return hashlib.sha256(h.encode()).digest() * (BLOCK // 32)


def do(mnt, op, seed, n):
    k = op["k"]
    p = os.path.join(mnt, op.get("name", ""))
    if k == "write":
        fd = os.open(p, os.O_WRONLY)
        try:
            os.pwrite(fd, data_of(op["h"]), op["blk"] * BLOCK)
            os.fsync(fd)
        finally:
            os.close(fd)
    elif k == "create":
        fd = os.open(p + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data_of(op["h"]) * NBLOCKS)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(p + ".tmp", p)
    elif k == "pin":
        os.setxattr(p, "user.shadow.pin", b"1" if op["v"] else b"0")
    elif k == "cap":
        set_capacity(p, op["v"])
    elif k == "dircap":
        set_capacity(os.path.join(mnt, op["dir"]), op["v"])
    elif k == "rename":
        os.rename(p, os.path.join(mnt, op["to"]))
    elif k == "unlink":
        os.unlink(p)


def replay(journal):
    """(model with every acknowledged op, the op under way or None)."""
    model = None
    pending = None
    try:
        lines = open(journal).read().splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        if line.startswith("I "):
            model = json.loads(line[2:])
        elif line.startswith("P "):
            pending = json.loads(line[2:])
        elif line.startswith("A "):
            model = apply(model, json.loads(line[2:]))
            pending = None
        elif line.startswith("F "):
            pending = None
    return model, pending


def observe(mnt, backing, model):
    """What the disk and the new mount hold, for the names of model."""
    seen = {"files": {}, "dirs": {}}
    for name in sorted(set(NAMES) | set(model["files"])):
        bp = os.path.join(backing, name)
        if not os.path.exists(bp):
            continue
        data = open(bp, "rb").read()
        mp = os.path.join(mnt, name)
        try:
            pin = os.getxattr(mp, "user.shadow.pin") == b"1"
        except OSError:
            pin = None
        try:
            cap = os.getxattr(mp, "user.shadow.capacity").decode()
        except OSError:
            cap = None
        seen["files"][name] = {"data": data, "pin": pin, "cap": cap}
    for d in DIRS:
        try:
            seen["dirs"][d] = os.getxattr(os.path.join(mnt, d), "user.shadow.capacity").decode()
        except OSError:
            seen["dirs"][d] = None
    return seen


def differences(model, seen, init):
    diffs = []
    if sorted(model["files"]) != sorted(seen["files"]):
        diffs.append("names: model %s, BACKING %s" % (sorted(model["files"]), sorted(seen["files"])))
        return diffs
    for name, f in model["files"].items():
        s = seen["files"][name]
        want = b"".join(data_of(h) if h else init[f.get("origin", name)][i * BLOCK:(i + 1) * BLOCK]
                        for i, h in enumerate(f["blocks"]))
        if s["data"] != want:
            bad = [i for i in range(NBLOCKS) if s["data"][i * BLOCK:(i + 1) * BLOCK] != want[i * BLOCK:(i + 1) * BLOCK]]
            diffs.append("%s: blocks %s differ" % (name, bad))
        if s["pin"] != f["pin"]:
            diffs.append("%s: pin %s, model %s" % (name, s["pin"], f["pin"]))
        if s["cap"] != f["cap"]:
            diffs.append("%s: capacity %s, model %s" % (name, s["cap"], f["cap"]))
    for d, v in model["dirs"].items():
        if seen["dirs"][d] != v:
            diffs.append("dir '%s': capacity %s, model %s" % (d, seen["dirs"][d], v))
    return diffs


def check(mnt, backing, journal, init_dir):
    model, pending = replay(journal)
    init = {}
    for name in NAMES:
        p = os.path.join(init_dir, name)
        if os.path.exists(p):
            init[name] = open(p, "rb").read()
    # A file's unwritten blocks hold its first bytes: follow renames by
    # carrying the original name along in the model.
    # The operation under way is settled in the journal ("A": it took
    # effect, "F": it did not), so that the next run goes on from the
    # state the disk holds.
    seen = observe(mnt, backing, model)
    d0 = differences(with_origins(journal, model), seen, init)
    if not d0:
        if pending is not None:
            open(journal, "a").write("F " + json.dumps(pending) + "\n")
        return 0
    if pending is not None:
        after = with_origins(journal, model, pending)
        d1 = differences(after, seen, init)
        if not d1:
            open(journal, "a").write("A " + json.dumps(pending) + "\n")
            return 0
    print("MISMATCH after the crash:\n  " + "\n  ".join(d0), file=sys.stderr)
    if pending is not None:
        print("  (op under way: %s; with it: %s)" % (json.dumps(pending), "; ".join(d1)), file=sys.stderr)
    return 1


def with_origins(journal, model, pending=None):
    """model with each file's original name (its unwritten blocks' source),
    replayed from the journal; with pending applied if given."""
    origin = {name: name for name in NAMES}
    for line in open(journal).read().splitlines():
        if line.startswith("A "):
            op = json.loads(line[2:])
            if op["k"] == "rename":
                origin[op["to"]] = origin.get(op["name"], op["name"])
    m = json.loads(json.dumps(model))
    if pending is not None:
        if pending["k"] == "rename":
            origin[pending["to"]] = origin.get(pending["name"], pending["name"])
        m = apply(m, pending)
    for name, f in m["files"].items():
        f["origin"] = origin.get(name, name)
    return m


def init(backing, journal, init_dir):
    names = [n for n in NAMES if os.path.exists(os.path.join(backing, n))]
    os.makedirs(os.path.join(init_dir, "d"), exist_ok=True)
    for n in names:
        data = open(os.path.join(backing, n), "rb").read()
        assert len(data) == BLOCK * NBLOCKS
        open(os.path.join(init_dir, n), "wb").write(data)
    with open(journal, "w") as out:
        out.write("I " + json.dumps(initial_model(names)) + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "init":
        init(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "run":
        sys.exit(run(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif cmd == "check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]))
