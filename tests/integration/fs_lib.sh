# Helpers of the fs_* integration tests, on top of lib.sh (source after it).
#
#   fs_umount MNT   unmounts the mount made by the last it_mount and checks
#                   that shadowfs exited with status 0 (under ASan this is
#                   where LeakSanitizer reports leaks, with exit status 23)
#   fs_umount_within MNT MAX_MS
#                   fs_umount, which must take less than MAX_MS (an unmount
#                   during a paced copy: the copy is cancelled); prints it
#   fs_expect_error MNT DESC PATTERN CMD...
#                   CMD (a shadowfs start) exits with status 1 and one line on
#                   stderr matching PATTERN, and leaves nothing mounted on MNT

fs_umount() { # MNT
  it_umount "$1"
  wait "$IT_PID"
  local rc=$?
  [ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc after unmounting $1"
}

fs_umount_within() { # MNT MAX_MS
  local t0 dt
  t0=$(date +%s%N)
  fs_umount "$1"
  dt=$((($(date +%s%N) - t0) / 1000000))
  echo "unmounted during a paced copy in $dt ms"
  [ "$dt" -lt "$2" ] || it_fail "unmount during a paced copy took $dt ms"
}

fs_expect_error() { # MNT DESC PATTERN CMD...
  local mnt=$1 desc=$2 pattern=$3 out="$IT_ROOT/expect_error.stderr"; shift 3
  timeout 10 "$@" 2>"$out" >/dev/null
  local rc=$?
  [ "$rc" -eq 1 ] || it_fail "$desc: exit status $rc, expected 1 ($(cat "$out"))"
  [ "$(wc -l < "$out")" -eq 1 ] || it_fail "$desc: expected one line, got: $(cat "$out")"
  grep -q -- "$pattern" "$out" || it_fail "$desc: message '$(cat "$out")' lacks '$pattern'"
  it_in_mount_table "$mnt" && it_fail "$desc: left a mount behind"
  echo "ok $desc: $(cat "$out")"
}
