#!/usr/bin/env bash
# SQLite in WAL mode through the mount, four writer processes at once: every
# row there and the database intact, through the mount and in BACKING after
# the unmount. WAL maps its -shm file MAP_SHARED: on a cache=never mount
# (every open direct I/O) that failed with ENODEV until the mount asked for
# FUSE_DIRECT_IO_ALLOW_MMAP, and SQLite said "disk I/O error".
# usage: fs_sqlite_wal.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
shadowfs=$(realpath "$1")
T=$(it_tmpdir t)
cat > "$T/wal.py" <<'PY'
import multiprocessing, sqlite3, sys
db = sys.argv[1]
def writer(i):
    c = sqlite3.connect(db, timeout=60)
    for j in range(150):
        with c:
            c.execute("insert into t values (?, ?)", (i, j))
    c.close()
c = sqlite3.connect(db)
mode = c.execute("pragma journal_mode=wal").fetchone()[0]
if mode != "wal":
    sys.exit("journal_mode is %s, not wal" % mode)
c.execute("create table t (w, n)")
c.commit()
ps = [multiprocessing.Process(target=writer, args=(i,)) for i in range(4)]
for p in ps:
    p.start()
for p in ps:
    p.join()
bad = [p.exitcode for p in ps if p.exitcode != 0]
if bad:
    sys.exit("writers failed: %s" % bad)
print(c.execute("select count(*), count(distinct w * 1000 + n) from t").fetchone(),
      c.execute("pragma integrity_check").fetchone()[0])
c.close()
PY
cat > "$T/check.py" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("select count(*), count(distinct w * 1000 + n) from t").fetchone(),
      c.execute("pragma integrity_check").fetchone()[0])
PY
want="(600, 600) ok"
for opts in "" cache=never locks=backing; do
  backing=$(it_tmpdir "backing${opts:+-$opts}")
  mnt=$(it_tmpdir "mnt${opts:+-$opts}")
  it_mount "$shadowfs" "$backing" "$mnt" "$opts"
  got=$(python3 "$T/wal.py" "$mnt/db" 2>&1) || it_fail "${opts:-default}: SQLite WAL through the mount: $got"
  [ "$got" = "$want" ] || it_fail "${opts:-default}: through the mount: $got (want $want)"
  it_umount "$mnt"
  got=$(python3 "$T/check.py" "$backing/db" 2>&1)
  [ "$got" = "$want" ] || it_fail "${opts:-default}: in BACKING after the unmount: $got (want $want)"
  echo "ok ${opts:-default}: SQLite WAL, 4 writers x 150 rows: $got"
done
