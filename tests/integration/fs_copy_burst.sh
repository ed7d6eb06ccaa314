#!/usr/bin/env bash
# Many files wanting a copy at once are copied back to back, not one per
# control tick: 2,000 small files under shadow_all with the default tick
# (1 s) on a local host must all be copied within 90 s. Before, the
# control thread started one copy per pass over every entry and lost the
# mover's wake-up when the copy ended during that pass: 1.5 copies/s here
# (2,000 files: about 20 minutes). Reads are right afterwards. Then the
# same for 1,000 files on a shadowd over TLS (each copy asks the shadowd
# for the versions of its file only, not for the whole store).
# Usage: fs_copy_burst.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_copy_burst)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
it_small_files "$backing" 2000 20 1024 3000
file_of() { echo "d$(($1 % 20))/f$1"; }

# burst WHERE N STORE OPTS: the first N files read once through a mount
# with OPTS, all copied into STORE within 90 s, some read back right.
burst() {
  local where=$1 n=$2 store=$3 opts=$4 t0 ms i f
  it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,shadow_all,shadow_quiet=0,$opts"
  t0=$(date +%s%N)
  for i in $(seq 0 $((n - 1))); do echo "$mnt/$(file_of "$i")"; done | xargs cat >/dev/null ||
    it_fail "reading the files ($where)"
  all_copied() { [ "$(it_copies_in "$store")" -ge "$n" ]; }
  it_wait_for "not all $n files copied ($where)" 90 all_copied
  ms=$((($(date +%s%N) - t0) / 1000000))
  echo "$n copies ($where) in $ms ms ($((n * 1000 / (ms ? ms : 1))) copies/s)"
  [ "$(it_copies_in "$store")" -eq "$n" ] || it_fail "$(it_copies_in "$store") copies for $n files ($where)"
  for i in 5 $((n / 2 + 1)) $((n - 1)); do
    f=$(file_of "$i")
    for _ in 1 2; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$f read wrong ($where)"; done
  done
  it_umount "$mnt"
  wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
}

mkdir "$T/h"
burst "local host" 2000 "$T/h" "state=$(it_tmpdir state),hosts=$T/h"
it_ca "$CTL" "$T/ca" sd1 origin
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd1 "$T/sd1.log" 0
burst "shadowd" 1000 "$T/store" \
  "state=$(it_tmpdir state2),hosts=127.0.0.1:$IT_SD_PORT,tls=$T/ca,tls_name=origin"
echo PASS
