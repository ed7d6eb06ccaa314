#!/usr/bin/env bash
# Runs the data-integrity exerciser (a seed, or "random": it prints the seed
# it picks, so a failure can be replayed with --seed).
#   exerciser.sh EXERCISER plain SEED [OPS PROCS]
#   exerciser.sh EXERCISER mount SHADOWFS SEED [OPS PROCS [MOUNT_OPTS]]   (through a
#                            fresh mount, final content also checked in the backing directory)
#   exerciser.sh EXERCISER selftest   (a byte flipped behind the model's back
#                            must be reported: the checker itself can fail)
. "$(dirname "$0")/lib.sh"
ex=$1 mode=$2
seed_args() { [ "$1" = random ] || echo "--seed $1"; }
case $mode in
plain)
  dir=$(it_tmpdir plain)
  # shellcheck disable=SC2046
  "$ex" $(seed_args "$3") --ops "${4:-2000}" --procs "${5:-4}" "$dir" || it_fail "exerciser failed on a plain directory"
  ;;
mount)
  shadowfs=$3
  backing=$(it_tmpdir backing)
  mnt=$(it_tmpdir mnt)
  opts=${7:-}
  opts=${opts//%T/$(it_tmpdir hosts)} # %T: a scratch dir (hosts=%T/h for shadowing)
  it_mount "$shadowfs" "$backing" "$mnt" "$opts"
  # shellcheck disable=SC2046
  "$ex" $(seed_args "$4") --ops "${5:-2000}" --procs "${6:-4}" --backing "$backing" "$mnt" \
    || it_fail "exerciser found a data mismatch through the mount"
  it_umount "$mnt"
  wait "$IT_PID"; rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc after unmount (sanitizer report above?)"
  it_uring_check
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
