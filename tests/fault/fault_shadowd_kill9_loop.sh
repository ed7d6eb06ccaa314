#!/usr/bin/env bash
# Fault: shadowd killed with SIGKILL 10 times at seeded random moments
# while a mount copies to it (a paced 8 MiB copy, and 1 MiB files rewritten
# block by block, so re-syncs by delta are under way too). After each
# restart on the same store and port:
#  - every read through the mount returns BACKING's bytes (a copy the crash
#    left unverified or half written never serves);
#  - the store holds no temporary file from before the crash, and at most
#    one copy per file once the mount has re-copied (nothing piles up);
#  - the mount copies every pinned file again (each serving).
# Usage: fault_shadowd_kill9_loop.sh SHADOWFS SHADOWD SHADOWCTL [SEED]
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/fs_lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3 SEED=${4:-42}
T=$(it_tmpdir shadowd_kill9_loop)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd1" "origin"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd0.log" 0
PORT=$IT_SD_PORT SD=$IT_SD_PID H=127.0.0.1:$IT_SD_PORT
FILES="big f0 f1 f2 f3"
for f in f0 f1 f2 f3; do head -c $((1 << 20)) /dev/urandom >"$backing/$f"; done
head -c $((8 << 20)) /dev/urandom >"$backing/big"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.1,shadow_quiet=0,copy_rate=16"
for f in $FILES; do setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"; done
# A writer: a 4 KiB block of f0..f3 at a time, each fsynced (new versions).
(
  n=0
  while :; do
    head -c 4096 /dev/urandom | dd of="$mnt/f$((n % 4))" bs=4096 seek=$((n % 256)) \
      conv=notrunc,fsync status=none 2>/dev/null || exit 0
    n=$((n + 1))
  done
) &
writer=$!
IT_PIDS+=("$writer")
reads_right() { for f in $FILES; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$1: $f read differs from BACKING"; done; }
in_store() { find "$T/store" -maxdepth 1 -type f -name "$1" | wc -l; }
RANDOM=$SEED
for i in $(seq 10); do
  sleep "0.$((200 + RANDOM % 700))"
  kill -9 "$SD"
  wait "$SD" 2>/dev/null
  left=$(find "$T/store" -maxdepth 1 -name 'tmp.*' -printf '%f\n')
  it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd$i.log" "$PORT"
  SD=$IT_SD_PID
  for f in $left; do
    [ -e "$T/store/$f" ] && it_fail "restart $i: the crash's temporary file $f is still there"
  done
  kill -STOP "$writer" # a quiet moment to compare whole files
  reads_right "restart $i"
  kill -CONT "$writer"
  echo "restart $i: $(echo $left | wc -w) temporary file(s) removed; store: $(in_store 'tmp.*') tmp," \
    "$(in_store 'unsynced.*') unsynced, $(it_copies_in "$T/store") durable"
done
kill "$writer"
wait "$writer" 2>/dev/null
serving() { it_shadow_state "$mnt/$1" | grep -q ":serving:"; }
for f in $FILES; do it_wait_for "$f copied again after the crashes" 30 serving "$f"; done
reads_right "at the end"
n=$(find "$T/store" -maxdepth 1 -type f ! -name 'tmp.*' | wc -l)
[ "$n" -le 5 ] || it_fail "$n copies in the store for 5 files: $(ls "$T/store")"
fs_umount "$mnt"
echo "ok: 10 kills of shadowd, every read right, $n copies left for 5 files"
