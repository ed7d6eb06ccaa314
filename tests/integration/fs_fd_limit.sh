#!/usr/bin/env bash
# The mount stays within its open-file limit (RLIMIT_NOFILE), whatever the
# number of files it knows or shadows:
# 1. a soft limit below the hard one (1,024 is the default for shells and
#    services) is raised at start: 2,000 files read through a mount
#    started with a soft limit of 256 (its inode cache alone wants 4,096
#    fds) all read right; before, opens and lookups failed with EMFILE;
# 2. with a hard limit of 1,000 the limit is split (inode cache 250, the
#    shadowing layer 250): 600 files under shadow_all on a local host are
#    all copied and read right by four concurrent readers, half of the
#    reads from their copies, with the daemon under 650 fds; before, each wanted file held an fd on its
#    origin and each local copy one more, and the mount ran out of fds and
#    failed every application with EMFILE;
# 3. same limit, a shadowd: every one of the 600 files is copied (an
#    origin is reopened by its file handle when needed, not held).
# Usage: fs_fd_limit.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_fd_limit)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
it_small_files "$backing" 2000 10 512 1500
file_of() { echo "d$(($1 % 10))/f$1"; }
read_all() { # N WHAT: the first N files read through the mount, and the last one compared
  local i
  for i in $(seq 0 $(($1 - 1))); do echo "$mnt/$(file_of "$i")"; done | xargs cat >/dev/null ||
    it_fail "reading $1 files through the mount ($2)"
  cmp -s "$mnt/$(file_of $(($1 - 1)))" "$backing/$(file_of $(($1 - 1)))" || it_fail "read wrong ($2)"
}
fds() { ls "/proc/$IT_PID/fd" | wc -l; }

# 1. The soft limit raised.
hard=$(ulimit -Hn)
ulimit -Sn 256
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord"
ulimit -Sn "$hard"
soft=$(awk '/^Max open files/ {print $4}' "/proc/$IT_PID/limits")
[ "$soft" = "$hard" ] || it_fail "soft limit $soft, not raised to the hard limit $hard"
read_all 2000 "soft limit 256"
echo "1: soft limit raised from 256 to $soft; 2,000 files read, $(fds) fds open"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"

# 2. Hard limit 1,000, local host: every file copied, the copies read with
# their fds opened on demand and closed when idle.
ulimit -n 1000
log=$T/local.log
mkdir "$T/h"
IT_MOUNT_LOG=$log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,shadow_all,shadow_quiet=0,shadow_tick=0.2,rollout=50/100,rollout_interval=86400,state=$(it_tmpdir state),hosts=$T/h"
read_all 600 "hard limit 1000, shadow_all"
all_local() { [ "$(it_copies_in "$T/h")" -ge 600 ]; }
it_wait_for "not all 600 files copied to the local host" 90 all_local
max=$(fds)
# Half the reads go to the copy (the rollout's first step, held): four
# readers at once, each through all 600 files twice in an order of its
# own, all compared; the copies open their fds as they are read, share
# them, and give idle ones back meanwhile.
reader() { # K
  local round i j
  for round in 1 2; do
    for i in $(seq 0 599); do
      j=$(((i * 7 + $1 * 150) % 600))
      cmp -s "$mnt/$(file_of "$j")" "$backing/$(file_of "$j")" || echo "$(file_of "$j")" >>"$T/wrong"
    done
  done
}
readers=()
for k in 0 1 2 3; do reader "$k" & readers+=($!); done
running() { local p; for p in "${readers[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
while running; do
  n=$(fds); [ "$n" -gt "$max" ] && max=$n
  sleep 0.2
done
wait "${readers[@]}" # not the mount's daemon, also a child
[ ! -s "$T/wrong" ] || it_fail "read wrong by concurrent readers: $(head -3 "$T/wrong")"
served=0 copied_reads=0
for i in $(seq 0 599); do
  r=$(it_shadow_state "$mnt/$(file_of "$i")" | sed -n 's/.*:serving:reads=\([0-9]*\).*/\1/p')
  [ -n "$r" ] && [ "$r" -gt 0 ] && served=$((served + 1)) && copied_reads=$((copied_reads + r))
done
echo "2: 600 local copies, $served of them served $copied_reads reads; at most $max fds open of 1000"
[ "$served" -ge 400 ] || it_fail "only $served copies served reads"
[ "$max" -le 650 ] || it_fail "$max fds open: inode cache 250 + shadowing 250 + a few expected"
echo new >"$mnt/new" && [ "$(cat "$mnt/new")" = new ] && rm "$mnt/new" ||
  it_fail "create, read, unlink"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"

# 3. Same limit, a shadowd: all 600 copied, origins reopened by handle.
it_ca "$CTL" "$T/ca" sd1 origin
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,shadow_all,shadow_quiet=0,state=$(it_tmpdir state2),hosts=127.0.0.1:$IT_SD_PORT,tls=$T/ca,tls_name=origin"
read_all 600 "hard limit 1000, shadowd"
all_copied() { [ "$(it_copies_in "$T/store")" -ge 600 ]; }
it_wait_for "not all 600 files copied to the shadowd" 90 all_copied
held=$(fds)
echo "3: 600 copies on the shadowd, $held fds open of 1000"
[ "$held" -le 450 ] || it_fail "$held fds open with 600 remote copies (the origins' fds held?)"
for i in 1 300 598; do
  for _ in 1 2; do
    cmp -s "$mnt/$(file_of "$i")" "$backing/$(file_of "$i")" || it_fail "$(file_of "$i") read wrong"
  done
done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
echo PASS
