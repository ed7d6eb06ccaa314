#!/usr/bin/env bash
# tests/bench/entry_memory.sh: the daemon's memory on a mount whose
# shadowed files change (a hot set moving over a large tree). Run by hand
# as root; NOT a meson test.
#
# ROUNDS rounds, each of N new 4 KiB files written through the mount,
# pinned, copied to a local host, unpinned, their copies dropped, then the
# kernel's caches dropped (so it forgets their inodes); with DELETE=1 the
# files are also deleted (their inode numbers, and entries before entries
# were freed, are then reused). Prints, per round, the daemon's RSS and
# STATE/control.stats' entries and freed, for each build given (side by
# side in one run: BUILD, then OLD_BUILD if given).
# usage: tests/bench/entry_memory.sh [BUILD [OLD_BUILD]]
#   N ROUNDS DELETE SCRATCH  override (2000 4 0 /var/tmp/shadowfs-entries)
set -u
N=${N:-2000} ROUNDS=${ROUNDS:-4} DELETE=${DELETE:-0}
R=${SCRATCH:-/var/tmp/shadowfs-entries}
die() { echo "entry_memory: $*" >&2; exit 1; }
run() { # SHADOWFS LABEL
  local sfs=$1 label=$2 pid
  [ -x "$sfs" ] || die "$sfs was not built"
  fusermount3 -u "$R/m" 2>/dev/null
  rm -rf "$R" && mkdir -p "$R/b" "$R/m" "$R/s" "$R/h" || die "cannot make $R"
  "$sfs" "$R/b" "$R/m" -f -o "norecord,state=$R/s,hosts=$R/h,shadow_tick=0.1,shadow_quiet=0,shadow_idle=0.2" 2>"$R/log" &
  pid=$!
  for _ in $(seq 100); do mountpoint -q "$R/m" && break; sleep 0.05; done
  mountpoint -q "$R/m" || die "$label did not mount: $(cat "$R/log")"
  echo "$label start: rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")"
  for r in $(seq "$ROUNDS"); do
    python3 - "$R/m" "$R/h" "$N" "$r" "$DELETE" <<'PY' || die "round $r failed"
import os, sys, time
m, h, n, r, delete = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
names = [os.path.join(m, "r%s-%d" % (r, i)) for i in range(n)]
for p in names:
    with open(p, "wb") as f:
        f.write(b"x" * 4096)
for p in names:
    os.setxattr(p, "user.shadow.pin", b"1")
copies = lambda: sum(len(fs) for _, _, fs in os.walk(h))
t = time.time()
while copies() < n and time.time() - t < 300:
    time.sleep(0.5)
for p in names:
    os.setxattr(p, "user.shadow.pin", b"0")
while copies() > 0 and time.time() - t < 600:
    time.sleep(0.5)
if delete:
    for p in names:
        os.unlink(p)
PY
    sync
    echo 2 >/proc/sys/vm/drop_caches
    sleep 2
    echo "$label round $r: rss_kb=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")" \
      "$(grep -o 'entries=[0-9]*\|freed=[0-9]*' "$R/s/control.stats" | tr '\n' ' ')"
  done
  fusermount3 -u "$R/m"
  wait "$pid"
}
run "${1:-build}/fs/shadowfs" "${1:-build}"
[ -n "${2:-}" ] && run "$2/fs/shadowfs" "$2"
rm -rf "$R"
