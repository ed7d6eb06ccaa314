#!/usr/bin/env bash
# Recording, bounded memory: 1,000,000 distinct files looked up through the
# mount (each lookup is an event of that file) with track=10000 leave the
# recorder's active set full (10000 files) and its accounted memory exactly
# what it was before the scan, below the bound of 1 KiB per tracked file;
# every lookup was counted (events + dropped >= 1,000,000). Prints the RSS
# of shadowfs (most of it is the passthrough's inode table, not recording).
# BACKING is a private tmpfs; files are made by fs_mkfiles (fs tests).
# usage: rec_million.sh SHADOWFS FS_MKFILES
. "$(dirname "$0")/lib.sh"
shadowfs=$1 mkfiles=$2
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
state=$(it_tmpdir state)
NDIRS=${REC_MILLION_DIRS:-1000} NFILES=${REC_MILLION_FILES:-1000}
total=$((NDIRS * NFILES)) track=10000

mount -t tmpfs -o size=2g,nr_inodes=$((total + 10000)) rec-million "$backing" ||
  it_fail "cannot mount a tmpfs for BACKING"
IT_TMPFS+=("$backing") # unmounted by lib.sh's cleanup after the mount, before IT_ROOT goes
made=$("$mkfiles" create "$backing" "$NDIRS" "$NFILES" 2) || it_fail "creating files failed"
[ "$made" = "$total" ] || it_fail "created $made files, expected $total"

stat_of() { sed -n "s/^$1=//p" "$state/recorder.stats"; }
# Waits until the recorder has written its stats file after time $1.
wait_stats() {
  for _ in $(seq 200); do
    [ -f "$state/recorder.stats" ] && [ "$(stat -c %Y "$state/recorder.stats")" -gt "$1" ] && return 0
    sleep 0.1
  done
  it_fail "the recorder wrote no stats after $1"
}

ulimit -n 20000
it_mount "$shadowfs" "$backing" "$mnt" "state=$state,bucket=2,track=$track"
t0=$(date +%s)
wait_stats "$t0"
before=$(stat_of tracked_bytes)
seen=$("$mkfiles" stat "$mnt" "$NDIRS" "$NFILES" 4) || it_fail "stat through the mount failed"
[ "$seen" = "$total" ] || it_fail "stat'ed $seen files, expected $total"
t1=$(date +%s)
sleep 1
wait_stats "$((t1 + 1))"
tracked=$(stat_of tracked) after=$(stat_of tracked_bytes) events=$(stat_of events)
dropped=$(stat_of dropped) per=$(stat_of bytes_per_file)
rss=$(awk '/VmRSS/ {print $2}' /proc/"$IT_PID"/status)
echo "looked up $total files in $((t1 - t0)) s: tracked $tracked of $track," \
  "recorder memory $before -> $after bytes ($per per tracked file), events $events," \
  "dropped $dropped; shadowfs RSS $((rss / 1024)) MiB"
[ "$tracked" = "$track" ] || it_fail "tracked $tracked files, expected $track"
[ "$after" = "$before" ] || it_fail "recorder memory grew from $before to $after bytes"
[ "$after" -le $((track * 1024)) ] || it_fail "recorder memory $after above $((track * 1024))"
[ $((events + dropped)) -ge "$total" ] || it_fail "only $events events (+$dropped dropped) for $total lookups"
it_umount "$mnt"
echo "PASS rec_million"
