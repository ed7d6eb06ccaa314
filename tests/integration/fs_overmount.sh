#!/usr/bin/env bash
# A mount over BACKING itself (shadowfs DIR DIR), and over a directory that
# holds BACKING (shadowfs DIR/sub DIR), with recording and a local host:
# it starts (before, the recorder opened BACKING by its path once mounted,
# which waited for the mount itself: a start that hung for ever), serves
# reads and writes, records the reads (shadowctl stats), copies a pinned
# file and serves it, and leaves the new file in the directory underneath
# once unmounted.
# usage: fs_overmount.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
shadowfs=$1 ctl=$2
hosts=$(it_tmpdir hosts)

# Sleeps until 0.2 s into the next 2-second bucket.
next_bucket() {
  local now; now=$(date +%s.%N)
  sleep "$(awk -v t="$now" 'BEGIN { b = (int(t / 2) + 1) * 2; printf "%.3f", b + 0.2 - t }')"
}

recorded() { "$ctl" stats "$1" --json >/dev/null 2>&1; }
serving() { it_shadow_state "$1" | grep -q 'copy=[^ ]*:serving'; }

check_overmount() { # DESC BACKING MNT
  local desc=$1 backing=$2 mnt=$3 state json reads
  state=$(it_tmpdir "state-${desc// /_}")
  head -c 65536 /dev/urandom >"$backing/A"
  cp "$backing/A" "$IT_ROOT/A.want"
  # shadowfs returns once the daemon serves: bounded, so a regression
  # (a start waiting for itself) fails here instead of hanging the test.
  timeout -s KILL 20 "$shadowfs" "$backing" "$mnt" \
    -o "state=$state,bucket=2,cache=never,hosts=$hosts/${desc// /_},shadow_tick=0.2" ||
    it_fail "$desc: shadowfs did not start (status $?)"
  IT_MOUNTS+=("$mnt")
  grep -q " $mnt fuse.shadowfs " /proc/mounts || it_fail "$desc: not mounted"
  cmp "$mnt/A" "$IT_ROOT/A.want" || it_fail "$desc: A read through the mount differs"
  echo "new file" >"$mnt/B" || it_fail "$desc: cannot write B"
  next_bucket
  for _ in $(seq 20); do cat "$mnt/A" >/dev/null; done
  next_bucket
  # The bucket closes, plus the grace, then the recorder's next flush:
  # waited for (a loaded machine, ASan, flushes late), not slept.
  it_wait_for "$desc: shadowctl stats finds no recorded read of A" 15 recorded "$mnt/A"
  json=$("$ctl" stats "$mnt/A" --json) || it_fail "$desc: shadowctl stats failed"
  reads=$(grep -o '"reads": [0-9]*' <<<"$json" | awk '{s += $2} END {print s + 0}')
  [ "$reads" -gt 0 ] || { echo "$json"; it_fail "$desc: no read of A recorded"; }
  setfattr -n user.shadow.pin -v 1 "$mnt/A" || it_fail "$desc: cannot pin A"
  IT_WATCH=$mnt/A it_wait_for "$desc: A is not served by a copy" 15 serving "$mnt/A"
  cmp "$mnt/A" "$IT_ROOT/A.want" || it_fail "$desc: A read with a copy differs"
  fusermount3 -u "$mnt" || it_fail "$desc: cannot unmount"
  for _ in $(seq 100); do grep -q " $mnt fuse" /proc/mounts || break; sleep 0.05; done
  [ "$(cat "$backing/B" 2>/dev/null)" = "new file" ] || it_fail "$desc: B is not in BACKING"
  cmp "$backing/A" "$IT_ROOT/A.want" || it_fail "$desc: A changed in BACKING"
  echo "ok $desc: $reads reads recorded, A served by a copy, B in BACKING"
}

self=$(it_tmpdir self)
check_overmount "BACKING is MOUNTPOINT" "$self" "$self"
above=$(it_tmpdir above)
mkdir -p "$above/sub"
check_overmount "BACKING inside MOUNTPOINT" "$above/sub" "$above"
