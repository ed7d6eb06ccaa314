#!/usr/bin/env bash
# Runs posix_compare: "plain" compares two plain directories (the suite's own
# sanity check: they must not differ); "mount" compares a plain directory with
# a shadowfs mount of a fresh backing directory (-o allow_other so the
# non-root scenarios can enter it), with the user.shadow.* reserved-namespace
# check against the backing directory; "private" does the same on a mount
# without allow_other (private to root: no kernel permission checks), with
# the scenarios that run as other users left out (--root-only).
#   posix_compare.sh POSIX_COMPARE plain
#   posix_compare.sh POSIX_COMPARE mount SHADOWFS [EXTRA_MOUNT_OPTS [SKIP,...]]
#   posix_compare.sh POSIX_COMPARE private SHADOWFS [EXTRA_MOUNT_OPTS [SKIP,...]]
# SKIP names scenarios left out (posix_compare --skip): a mount mode's
# documented divergence. With PC_FSTYPE=ramfs both the plain directory and
# BACKING are ramfs mounts: a BACKING without file handles (shadowfs knows
# objects by name) and without extended attributes.
. "$(dirname "$0")/lib.sh"
pc=$1 mode=$2
native=$(it_tmpdir native)
reserved_check=1 # the user.shadow.* check plants user xattrs in BACKING
if [ -n "${PC_FSTYPE:-}" ]; then
  it_tmpfs "$native" 0 "$PC_FSTYPE"
  it_tmpfs "$(it_tmpdir backing)" 0 "$PC_FSTYPE"
  [ "$PC_FSTYPE" = ramfs ] && reserved_check=0 # no xattrs there
fi
case $mode in
plain)
  other=$(it_tmpdir other)
  "$pc" "$native" "$other" || it_fail "posix_compare found divergences between two plain directories"
  ;;
mount | private)
  shadowfs=$3 extra=${4:-} skip=()
  [ -n "${5:-}" ] && skip=(--skip "$5")
  extra=${extra//%T/$(it_tmpdir hosts)} # %T: a scratch dir (hosts=%T/h for shadowing)
  backing=$(it_tmpdir backing)
  mnt=$(it_tmpdir mnt)
  bargs=()
  [ "$reserved_check" = 1 ] && bargs=(--backing "$backing")
  if [ "$mode" = mount ]; then
    it_mount "$shadowfs" "$backing" "$mnt" "allow_other${extra:+,$extra}"
    "$pc" "${skip[@]}" "${bargs[@]}" "$native" "$mnt" || it_fail "posix_compare: the mount diverges from a plain directory"
  else
    it_mount "$shadowfs" "$backing" "$mnt" "$extra"
    "$pc" "${skip[@]}" --root-only "${bargs[@]}" "$native" "$mnt" ||
      it_fail "posix_compare: the private mount diverges from a plain directory"
  fi
  it_umount "$mnt"
  wait "$IT_PID"; rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc after unmount (sanitizer report above?)"
  it_uring_check
  ;;
*) it_fail "unknown mode $mode" ;;
esac
echo "PASS"
