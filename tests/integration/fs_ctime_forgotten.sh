#!/usr/bin/env bash
# The ctime of a file seen through the mount stays what it was when the
# kernel forgets the inode and looks the file up again (drop_caches here;
# memory pressure in life), after each kind of setattr the writeback cache
# stamps itself: chmod, chown, utimensat (explicit and now), truncate, and
# a write (its times flushed at the close). The kernel takes that ctime
# from its clock before the request reaches us, earlier than BACKING's;
# before fs/ctime_kept.c the lookup brought BACKING's, so the ctime moved
# forward with nothing done to the file (posix_compare's times_ops saw an
# open and close "advance" it when a test beside it dropped the caches).
# Runs alone: drop_caches drops every filesystem's caches.
# Usage: fs_ctime_forgotten.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
ctime() { stat -c %.9Z "$1"; }
forget() { sync; echo 2 >/proc/sys/vm/drop_caches; }
it_mount "$SHADOWFS" "$backing" "$mnt"
cd / || it_fail "cd /"
ops=(
  "chmod 600"
  "chown 1234:1234"
  "touch -d @1000000000.123456789"
  "touch"
  "truncate -s 3"
  "append"
)
append() { echo more >>"$1"; }
declare -A before
n=0
for op in "${ops[@]}"; do
  f="$mnt/f$n"
  echo 0123456789 >"$f" || it_fail "create $f"
  $op "$f" || it_fail "$op $f"
  before[$n]=$(ctime "$f")
  n=$((n + 1))
done
differ=0
for i in $(seq 0 $((n - 1))); do
  [ "${before[$i]}" = "$(ctime "$backing/f$i")" ] || differ=$((differ + 1))
done
forget
bad=0
for i in $(seq 0 $((n - 1))); do
  after=$(ctime "$mnt/f$i")
  if [ "$after" != "${before[$i]}" ]; then
    echo "after ${ops[$i]}: ctime ${before[$i]} became $after once the kernel forgot the inode" >&2
    bad=$((bad + 1))
  fi
done
[ "$bad" = 0 ] || it_fail "$bad of $n files changed ctime through the mount with nothing done to them"
echo "ctime of $n files unchanged across drop_caches ($differ of them differ from BACKING's)"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo PASS
