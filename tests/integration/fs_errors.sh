#!/usr/bin/env bash
# Errors a user can act on: each makes shadowfs exit with status 1 and one
# line on stderr naming the problem, and leaves nothing mounted.
# usage: fs_errors.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
out=$IT_ROOT/stderr

# expect_error DESC PATTERN ARGS...: shadowfs ARGS fails with one line matching PATTERN.
expect_error() {
  local desc=$1 pattern=$2; shift 2
  timeout 10 "$@" 2>"$out" >/dev/null
  local rc=$?
  [ "$rc" -eq 1 ] || it_fail "$desc: exit status $rc, expected 1 ($(cat "$out"))"
  [ "$(wc -l < "$out")" -eq 1 ] || it_fail "$desc: expected one line, got: $(cat "$out")"
  grep -q -- "$pattern" "$out" || it_fail "$desc: message '$(cat "$out")' lacks '$pattern'"
  mountpoint -q "$mnt" && it_fail "$desc: left a mount behind"
  echo "ok $desc: $(cat "$out")"
}

expect_error "missing backing" "backing directory $IT_ROOT/nope: No such file or directory" \
  "$shadowfs" "$IT_ROOT/nope" "$mnt" -f
touch "$IT_ROOT/file"
expect_error "backing not a directory" "not a directory" "$shadowfs" "$IT_ROOT/file" "$mnt" -f
expect_error "missing mount point" "mount point $IT_ROOT/nomnt: No such file" \
  "$shadowfs" "$backing" "$IT_ROOT/nomnt" -f
expect_error "unknown option" "unknown option 'bogus'" "$shadowfs" "$backing" "$mnt" -f -o bogus
expect_error "bad cache value" "cache=sometimes" "$shadowfs" "$backing" "$mnt" -o cache=sometimes
expect_error "bad number" "max_write=huge" "$shadowfs" "$backing" "$mnt" -o max_write=huge
expect_error "unknown flag" "unknown option '-z'" "$shadowfs" "$backing" "$mnt" -z
expect_error "missing mount point argument" "usage:" "$shadowfs" "$backing"
# /dev/fuse missing: an empty /dev in a private mount namespace.
expect_error "no /dev/fuse" "/dev/fuse is missing" \
  unshare -m sh -c "mount -t tmpfs none /dev && exec '$shadowfs' '$backing' '$mnt' -f"

# A busy mount point: already mounted by a first shadowfs.
it_mount "$shadowfs" "$backing" "$mnt"
timeout 10 "$shadowfs" "$backing" "$mnt" -f 2>"$out"
rc=$?
[ "$rc" -eq 1 ] || it_fail "busy mount point: exit status $rc"
[ "$(wc -l < "$out")" -eq 1 ] && grep -q "is busy" "$out" || it_fail "busy: $(cat "$out")"
echo "ok busy mount point: $(cat "$out")"
# The first mount still works.
echo ok > "$mnt/still" && [ "$(cat "$backing/still")" = ok ] || it_fail "first mount broken"
fs_umount "$mnt"
echo "PASS fs_errors"
