#!/usr/bin/env bash
# A file in BACKING mapped shared and stored to behind the mount's back,
# twice: the first store moves mtime and ctime (page_mkwrite), the second,
# into the page still dirty and writable, moves nothing. A copy made in
# between (after the first store was seen) must not serve the first
# store's bytes once the second is made. Before, it did, for good (the
# stamps matched; written back, the page still had the same times): about
# half the reads below, the copy's share. Now the mover writes the origin's
# dirty pages back before it reads, so the page is write-protected again
# and the second store moves the times, which every read of a copy checks.
# Usage: fs_copy_mmap_behind.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir t) backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
head -c 65536 /dev/zero | tr '\0' A >"$backing/data"
# rollout: the copy takes half of the reads at once and keeps that share
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$T/local,shadow_tick=0.2,shadow_idle=5,shadow_quiet=0.3,rollout=50/100,rollout_interval=600"
IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
serving_at() { state_of | grep -q "version=v$1 .*copy=[^ ]*:v$1:serving"; }
not_current() { # how many of N direct reads of the first block do not return byte $2
  local n=0 c
  for _ in $(seq "$1"); do
    c=$(dd if="$mnt/data" bs=4096 count=1 iflag=direct status=none | head -c 1)
    [ "$c" = "$2" ] || n=$((n + 1))
  done
  echo "$n"
}
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy" 10 serving_at 1
python3 - "$backing/data" "$T/go" <<'PY' &
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 65536, mmap.MAP_SHARED)
m[0:1] = b'B'  # faults: the times move
open(sys.argv[2] + '.1', 'w').close()
for _ in range(400):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
m[0:1] = b'C'  # into the dirty, writable page
open(sys.argv[2] + '.2', 'w').close()
PY
py=$!
IT_PIDS+=("$py")
it_wait_for "no first store" 5 test -e "$T/go.1"
cat "$mnt/data" >/dev/null # the first store is seen: the version moves
it_wait_for "not copied again after the first store" 10 serving_at 2
touch "$T/go"
it_wait_for "no second store" 5 test -e "$T/go.2"
wait "$py"
[ "$(head -c 1 "$backing/data")" = C ] || it_fail "BACKING does not hold the second store"
n=$(not_current 100 C)
echo "reads without the second store's byte: $n of 100; $(state_of)"
[ "$n" -eq 0 ] || it_fail "$n of 100 reads returned the bytes of a copy made before the second store"
sync # written back: the times stay as they are
n=$(not_current 50 C)
[ "$n" -eq 0 ] || it_fail "$n of 50 reads after a sync returned the old bytes"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc"
echo "fs_copy_mmap_behind: ok"
