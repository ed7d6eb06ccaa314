#!/usr/bin/env bash
# Runs the data-integrity exerciser (a seed, or "random": it prints the seed
# it picks, so a failure can be replayed with --seed).
#   exerciser.sh EXERCISER plain SEED [OPS PROCS]
#   exerciser.sh EXERCISER mount SHADOWFS SEED [OPS PROCS [MOUNT_OPTS]]   (through a
#                            fresh mount, final content also checked in the backing directory)
#   exerciser.sh EXERCISER remote SHADOWFS SHADOWD SHADOWCTL SEED [OPS PROCS [MOUNT_OPTS]]
#                            (every file shadowed on two real shadowd over mutual
#                            TLS and a local host: the shadowds must serve reads,
#                            and a copy that fails only because its file changed
#                            under it must not be logged as a host's failure)
#   exerciser.sh EXERCISER selftest   (a byte flipped behind the model's back
#                            must be reported: the checker itself can fail)
. "$(dirname "$0")/lib.sh"
ex=$1 mode=$2
seed_args() { [ "$1" = random ] || echo "--seed $1"; }
# run_through_mount SEED OPS PROCS: the exerciser on $mnt (final content
# also checked in $backing), then the unmount and a clean exit of shadowfs.
run_through_mount() {
  # shellcheck disable=SC2046
  "$ex" $(seed_args "$1") --ops "$2" --procs "$3" --backing "$backing" "$mnt" \
    || it_fail "exerciser found a data mismatch through the mount"
  it_umount "$mnt"
  wait "$IT_PID"; local rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc after unmount (sanitizer report above?)"
  it_uring_check
}
case $mode in
plain)
  dir=$(it_tmpdir plain)
  # shellcheck disable=SC2046
  "$ex" $(seed_args "$3") --ops "${4:-2000}" --procs "${5:-4}" "$dir" || it_fail "exerciser failed on a plain directory"
  ;;
mount)
  shadowfs=$3
  backing=$(it_tmpdir backing)
  # EX_FSTYPE=ramfs: a BACKING without file handles (files known by name).
  if [ -n "${EX_FSTYPE:-}" ]; then
    it_tmpfs "$backing" 0 "$EX_FSTYPE"
    [ "$(stat -f -c %T "$backing")" = "$EX_FSTYPE" ] || it_fail "BACKING is not $EX_FSTYPE"
  fi
  mnt=$(it_tmpdir mnt)
  opts=${7:-}
  opts=${opts//%T/$(it_tmpdir hosts)} # %T: a scratch dir (hosts=%T/h for shadowing)
  it_mount "$shadowfs" "$backing" "$mnt" "$opts"
  run_through_mount "$4" "${5:-2000}" "${6:-4}"
  ;;
remote)
  shadowfs=$3 shadowd=$4 ctl=$5
  T=$(it_tmpdir remote)
  backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
  it_ca "$ctl" "$T/ca" "sd1 sd2" "origin operator"
  it_shadowd "$shadowd" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0
  h1=127.0.0.1:$IT_SD_PORT
  it_shadowd "$shadowd" "$T/store2" "$T/ca" sd2 "$T/sd2.log" 0
  h2=127.0.0.1:$IT_SD_PORT
  opts="cache=auto,state=$T/state,hosts=$h1:cost=1;$h2:cost=2;$T/h3:cost=3,tls=$T/ca"
  opts+=",tls_name=origin,shadow_all,shadow_tick=0.05,shadow_quiet=0,shadow_idle=0.5"
  opts+=",remote_timeout=2000${9:+,$9}"
  IT_MOUNT_LOG=$T/shadowfs.log it_mount "$shadowfs" "$backing" "$mnt" "$opts"
  run_through_mount "$6" "${7:-2000}" "${8:-4}"
  served=0
  for h in "$h1" "$h2"; do
    n=$("$ctl" host status "$h" --certs "$T/ca" --name operator --json |
      sed -n 's/.*"reads":\([0-9]*\).*/\1/p')
    echo "shadowd $h served $n reads"
    served=$((served + ${n:-0}))
  done
  [ "$served" -gt 0 ] || it_fail "no read was served by a shadowd: the remote copies were not exercised"
  echo "copies made after a failed attempt: $(grep -c 'shadow: .* copied after' "$T/shadowfs.log")"
  echo "copies the shadowds refused (a file changed while copied): $(cat "$T"/sd*.log | grep -c refused)"
  cat "$T"/sd*.log | grep refused | sort | uniq -c | head -5
  # The errors a change of the file during its copy causes (a timeout on
  # a loaded machine would be a real failure of the host, and is allowed).
  ! grep -E 'warning: shadow: cannot copy .*: (Input/output error|Bad message|Numerical result out of range|Stale file handle|No such file or directory)' "$T/shadowfs.log" ||
    it_fail "a copy that failed because its file changed under it was reported as a failure"
  ;;
selftest)
  dir=$(it_tmpdir selftest)
  out=$("$ex" --seed 7 --ops 400 --procs 2 --self-test-corrupt "$dir")
  rc=$?
  echo "$out"
  [ "$rc" -eq 1 ] || it_fail "exerciser did not fail on an injected corruption (exit $rc)"
  grep -q "FAIL seed=7 proc=0 .*self-test read: .*first difference" <<<"$out" \
    || it_fail "exerciser did not name the corrupted byte"
  ;;
*) it_fail "unknown mode $mode" ;;
esac
echo "PASS"
