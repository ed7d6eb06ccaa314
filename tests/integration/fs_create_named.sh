#!/usr/bin/env bash
# A file created through a mount that records is named (its
# user.shadow.id set) within its create, so its ctime does not jump later:
# before, the first copy's start (or the recorder's first flush) named it
# and moved the ctime of a file nobody had touched since (posix_compare
# under shadow_all caught it now and then).
# 1. a file created through the mount has its id in BACKING at once, and
#    its ctime stays as it is while it is opened and read again and again
#    for 3 s (shadow_all: its copy starts within a tick of its close;
#    bucket=1: the recorder flushes, and named files, every second);
# 2. an existing file (made behind the mount's back) opened through the
#    mount with O_CREAT and without O_TRUNC keeps its ctime (not named at
#    the open: its ctime did not move; the recorder names it at its next
#    flush, a documented ctime move);
# 3. so is one created through a mount that records without hosts;
# 4. without recording (norecord) nothing is named.
# Usage: fs_create_named.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_create_named)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir "$T/h"
ctime() { stat -c %Z.%z "$1"; }
has_id() { getfattr -n user.shadow.id "$1" >/dev/null 2>&1; }
echo old >"$backing/old"
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state,hosts=$T/h,shadow_all,bucket=1,shadow_tick=0.05,shadow_quiet=0"

# 1.
echo data >"$mnt/new" || it_fail "create"
has_id "$backing/new" || it_fail "a file created through the mount was not named at its create"
c1=$(ctime "$backing/new")
for _ in $(seq 60); do
  cat "$mnt/new" >/dev/null || it_fail "read new"
  [ "$(ctime "$backing/new")" = "$c1" ] || it_fail "the ctime of new moved from $c1 to $(ctime "$backing/new") while it was only read"
  sleep 0.05
done
serving() { it_shadow_state "$mnt/new" | grep -q ":serving"; }
serving || it_fail "new was not copied meanwhile: $(it_shadow_state "$mnt/new")"
echo "1: new named at its create; ctime unchanged through its copy and the recorder's flushes ($c1)"

it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"

# 2. (default bucket, no shadow_all: nothing else names the file meanwhile)
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state,hosts=$T/h"
c1=$(ctime "$backing/old")
sleep 1.1
python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND))' "$mnt/old" ||
  it_fail "open O_CREAT of an existing file"
c2=$(ctime "$backing/old")
[ "$c1" = "$c2" ] || it_fail "opening an existing file with O_CREAT moved its ctime ($c1 -> $c2)"
has_id "$backing/old" && it_fail "an existing file opened with O_CREAT was named"
echo "2: old opened with O_CREAT: ctime unchanged, not named"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"

# 3. recording without hosts (no shadowing): named at its create all the
# same; before, only the recorder's flush named it, moving the ctime of a
# file nobody had touched since (posix_compare_mount caught it under load:
# an open and close that "advanced" ctime).
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state"
echo data >"$mnt/recorded" || it_fail "create (no hosts)"
has_id "$backing/recorded" || it_fail "a file created through a mount that records without hosts was not named at its create"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (no hosts)"
echo "3: named at its create on a mount that records without hosts"

# 4.
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,hosts=$T/h"
echo data >"$mnt/plain" || it_fail "create (norecord)"
has_id "$backing/plain" && it_fail "a file created without recording was named"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (norecord)"
echo PASS
