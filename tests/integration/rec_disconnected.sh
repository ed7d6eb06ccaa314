#!/usr/bin/env bash
# Recording under memory pressure: while the kernel's dentry cache is
# dropped over and over (a drop_caches loop), files created in BACKING and
# read through the mount, at its root and in a subdirectory, are all
# recorded with their paths. A file whose backing dentry was dropped
# reopens from its handle disconnected (/proc shows "/"); the recorder names
# it by the directory it was seen in through the mount, kept by its handle
# when the kernel forgot that directory too (it recorded no path:
# shadowctl top listed it nameless).
# usage: rec_disconnected.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
N=40
mkdir "$backing/sub"
# f1 f3 ... at the root, f2 f4 ... in sub/.
name_of() { if [ $(($1 % 2)) -eq 1 ]; then echo "f$1"; else echo "sub/f$1"; fi; }

dropper=
stop_dropper() { [ -n "$dropper" ] && kill "$dropper" 2>/dev/null && wait "$dropper" 2>/dev/null; dropper=; }
trap 'stop_dropper; it_cleanup' EXIT

it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=1,cache=never"
(while :; do echo 2 >/proc/sys/vm/drop_caches; sleep 0.2; done) &
dropper=$!
for k in $(seq $N); do
  head -c 4096 /dev/urandom >"$backing/$(name_of $k)"
  cat "$mnt/$(name_of $k)" >/dev/null || it_fail "reading $(name_of $k)"
  sleep 0.1
done
# The last bucket closes 1 s after it began (plus the grace): the files'
# buckets are written while the dentries are still being dropped.
sleep 1.5
stop_dropper
it_umount "$mnt"

grep -E '^name' "$state/recorder.stats"
# top names each file by its path (its last column).
names=$("$ctl" top --state "$state" -n 1000 | awk '{ print $NF }') || it_fail "shadowctl top failed"
missing=()
for k in $(seq $N); do
  grep -qx "$(name_of $k)" <<<"$names" || missing+=("$(name_of $k)")
done
[ ${#missing[@]} -eq 0 ] ||
  it_fail "${#missing[@]} of $N files read are not named by shadowctl top: ${missing[*]}"
empty=$(sqlite3 "$state/series.db" "select count(*) from files where path is null or path = ''")
[ "$empty" = 0 ] || it_fail "$empty files recorded without a path"
echo "all $N files recorded by path"
