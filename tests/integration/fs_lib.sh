# Helpers of the fs_* integration tests, on top of lib.sh (source after it).
#
#   fs_umount MNT   unmounts the mount made by the last it_mount and checks
#                   that shadowfs exited with status 0 (under ASan this is
#                   where LeakSanitizer reports leaks, with exit status 23)

fs_umount() { # MNT
  it_umount "$1"
  wait "$IT_PID"
  local rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc after unmounting $1"
}
