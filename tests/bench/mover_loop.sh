#!/usr/bin/env bash
# What the control loop does during a paced copy, for docs/BENCHMARKS.md
# ("The mover"): during a 16 MiB copy at copy_rate=2 (local store), how
# often STATE/shadows.status is rewritten (50 ms polls), how long a file
# unpinned 1 s into the copy takes to lose its copy (shadow_idle=1), when a
# file pinned then is in STATE/pins and served. Run it with the binaries to
# compare (as root, like the integration tests).
# Usage: tests/bench/mover_loop.sh SHADOWFS
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/fs_lib.sh"
B=$1
T=$(it_tmpdir m) backing=$(it_tmpdir b) mnt=$(it_tmpdir mnt) state=$(it_tmpdir st)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
head -c $((16*1024*1024)) /dev/urandom > $backing/big
for f in small late; do head -c 262144 /dev/urandom > $backing/$f; done
it_mount "$B" "$backing" "$mnt" "norecord,cache=never,shadow_tick=0.1,shadow_quiet=0,shadow_idle=1,copy_rate=2,state=$state,hosts=$T/store:cost=1"
st() { it_shadow_state "$mnt/$1"; }
setfattr -n user.shadow.pin -v 1 $mnt/small; until st small | grep -q serving; do sleep 0.05; done
t0=$(now_ms); setfattr -n user.shadow.pin -v 1 $mnt/big
until ls $T/store | grep -q '^tmp\.'; do sleep 0.02; done
sleep 1
setfattr -x user.shadow.pin $mnt/small; tu=$(now_ms)
setfattr -n user.shadow.pin -v 1 $mnt/late
last=; rewrites=0; tdem=; tpins=; tbig=; tlate=
while :; do
  m=$(date -r $state/shadows.status +%s%N); [ "$m" != "$last" ] && { rewrites=$((rewrites+1)); last=$m; }
  [ -z "$tdem" ] && st small | grep -q copies=0 && tdem=$(now_ms)
  [ -z "$tpins" ] && grep -q '^late$' $state/pins 2>/dev/null && tpins=$(now_ms)
  [ -z "$tbig" ] && st big | grep -q serving && tbig=$(now_ms)
  [ -z "$tlate" ] && st late | grep -q serving && tlate=$(now_ms)
  [ -n "$tdem" ] && [ -n "$tlate" ] && [ -n "$tbig" ] && break
  [ $(( $(now_ms) - t0 )) -gt 40000 ] && break
  sleep 0.05
done
echo "big copied $((tbig-t0)) ms; status rewrites seen (50 ms polls) until then+: $rewrites;" \
  "unpinned small demoted $((tdem-tu)) ms after unpin; late in STATE/pins $((tpins-tu)) ms, served $((tlate-tu)) ms after its pin"
fs_umount $mnt
