#!/usr/bin/env bash
# Changes of a shadowed file's metadata through the mount keep its copies
# (docs/ARCHITECTURE.md, "Metadata changes keep the copies"): two pinned
# files, one copied to a local host store, one to a shadowd on loopback.
# Each of these moves the origin's ctime and no byte:
#  - setfattr and setfattr -x of a user attribute;
#  - a hard link made, renamed, and removed (the file keeping its name);
#  - the file renamed away and back;
# after each, the file is opened and read (the open compares the origin's
# stamps with the copy's), two passes of the control loop go by, and the
# file's version has not moved, its copy serves, and the local copy is the
# same file in its store (no re-copy). Before, each of these read as a
# change made behind the mount's back: the version moved and the whole file
# was copied again (a librsync delta to the shadowd), for every file an
# `rsync -X` or a `cp -al` snapshot touched.
# And what must still move it: a write through the mount, and a change in
# BACKING behind the mount's back.
# Usage: fs_copy_metadata.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_copy_metadata)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
STORE=$T/store
it_mount_loc_rem "$SHADOWFS" "$SHADOWD" "$CTL" "$T" "$STORE" "$backing" "$mnt" $((512 * 1024 + 5)) \
  "norecord,cache=never,state=$state,shadow_tick=0.2,shadow_quiet=0.2,remote_timeout=3000"
serving() { it_shadow_state "$mnt/$1" | grep -q ':serving:'; }
version() { it_shadow_state "$mnt/$1" | grep -o ' version=v[0-9]*'; }
local_copy() { stat -c '%n %i' "$LOCAL"/*-* 2>/dev/null; }
passes() { sed -n 's/.*\<passes=\([0-9]*\).*/\1/p' "$state/control.stats" 2>/dev/null; }
two_passes() { # two passes of the control loop begun after now
  local p0 p
  p0=$(passes)
  after() { p=$(passes); [ -n "$p" ] && [ "$p" -ge $((${p0:-0} + 2)) ]; }
  it_wait_for "the control loop made no pass" 10 after
}
for f in loc rem; do IT_WATCH=$mnt/$f it_wait_for "no copy of $f" 20 serving $f; done

step() { # DESC CMD...: CMD keeps both copies, at the same version
  local desc=$1 f; shift
  local vl vr c
  vl=$(version loc) vr=$(version rem) c=$(local_copy)
  "$@" || it_fail "$desc: the command failed"
  for f in loc rem; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$desc: $f reads wrong"; done
  two_passes
  [ "$(version loc)" = "$vl" ] || it_fail "$desc: the version of loc moved:$vl ->$(version loc)"
  [ "$(version rem)" = "$vr" ] || it_fail "$desc: the version of rem moved:$vr ->$(version rem)"
  for f in loc rem; do serving $f || it_fail "$desc: $f has no serving copy: $(it_shadow_state "$mnt/$f")"; done
  [ "$(local_copy)" = "$c" ] || it_fail "$desc: the local copy was made again: $c -> $(local_copy)"
  echo "ok $desc:$vl$vr"
}
both() { local f; for f in loc rem; do "$@" "$f" || return 1; done; }
xset() { setfattr -n user.note -v hello "$mnt/$1"; }
xdel() { setfattr -x user.note "$mnt/$1"; }
lnk() { ln "$mnt/$1" "$mnt/$1.link"; }
lmv() { mv "$mnt/$1.link" "$mnt/$1.link2"; }
lrm() { rm "$mnt/$1.link2"; }
away_back() { mv "$mnt/$1" "$mnt/$1.away" && mv "$mnt/$1.away" "$mnt/$1"; }
step "setfattr user.note" both xset
step "setfattr -x user.note" both xdel
step "ln (a second link)" both lnk
step "mv of the second link" both lmv
step "rm of the second link" both lrm
step "mv away and back" both away_back

# A write through the mount, and a change behind its back, still move it.
v=$(version loc)
printf 'new' | dd of="$mnt/loc" bs=1 seek=100 conv=notrunc status=none
[ "$(version loc)" != "$v" ] || it_fail "a write did not move the version of loc"
v=$(version rem)
printf 'back' | dd of="$backing/rem" bs=1 seek=200 conv=notrunc status=none
cmp -s "$mnt/rem" "$backing/rem" || it_fail "rem reads wrong after a change behind the mount's back"
[ "$(version rem)" != "$v" ] || it_fail "a change behind the mount's back did not move the version of rem"
for f in loc rem; do IT_WATCH=$mnt/$f it_wait_for "no copy of $f after its change" 20 serving $f; done
for f in loc rem; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$f reads wrong at the end"; done
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo "fs_copy_metadata: ok"
