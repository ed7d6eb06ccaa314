#!/usr/bin/env bash
# A file's settings belong to the file, not to its id alone: a record of
# STATE/tuning keeps the file's handle beside its user.shadow.id.
#  - a file deleted in BACKING behind the mount's back loses its settings:
#    during the run (the control loop's sweep) and at the next mount;
#  - a file renamed behind the back keeps them, across a remount too;
#  - a copy bearing the id (cp -a, or another user setting it by hand on
#    a file of theirs) neither shows, nor changes, nor (rm) wipes the
#    original's settings; a set on the copy gives it an id of its own;
#  - a file restored in place (an editor's save by rename, cp -a back from
#    a backup while the mount is down) keeps them, also at the name a
#    rename through the mount gave it;
#  - an older STATE/tuning, without handles, loads and keeps them.
# Before, a record held the id and the last path only: deleted files kept
# their settings for good, and a copy showed, changed and wiped the
# original's.
# Usage: fs_tuning_handles.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_tuning_handles)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$T/bak" "$backing/pub"
chmod 1777 "$backing/pub"
for f in v gone gone2 ren w w2; do echo "$f" >"$backing/$f"; done
chmod 0644 "$backing/v"
OPTS="norecord,allow_other,cache=never,state=$state,hosts=$T/h,shadow_tick=0.2,shadow_quiet=0"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
set_() { setfattr -n "user.shadow.$2" -v "$3" "$mnt/$1" || it_fail "set $2=$3 on $1"; }
get() { getfattr --only-values -n "user.shadow.$2" "$mnt/$1" 2>/dev/null; }
want() { # PATH KEY VALUE ("": none) WHEN
  local v; v=$(get "$1" "$2")
  [ "$v" = "$3" ] || it_fail "$4: $1's $2 is '$v', want '$3' (STATE/tuning: $(tr '\n' ' ' <"$state/tuning"))"
}
set_ v copies 2
set_ gone copies 2
set_ gone2 window 3
set_ ren capacity 5
set_ w copies 3
set_ w2 window 4

# Deleted behind the mount's back: the sweep drops it during the run.
rm "$backing/gone"
in_state() { grep -q " /$1\$" "$state/tuning"; }
it_wait_for "settings of a file deleted in BACKING still in STATE/tuning" 10 eval '! in_state gone'
it_log_has "$T/mount.log" "settings of gone dropped: the file was deleted behind the mount's back" ||
  it_fail "no log of the dropped settings"
# Renamed behind the back: kept by the sweep.
ren_id=$(getfattr --only-values -n user.shadow.id "$backing/ren")
mv "$backing/ren" "$backing/ren2"
sleep 1 # the sweep looks at every record (4 a pass, a pass each 0.2 s)
grep -q "^f $ren_id capacity 5 " "$state/tuning" || it_fail "the sweep dropped a file renamed behind the back"
want ren2 capacity 5 "renamed behind the back"

# A copy bearing v's id: root's cp -a in BACKING, and nobody's by hand.
cp -a "$backing/v" "$backing/vcopy"
want vcopy copies "" "a cp -a copy in BACKING"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
id=$(getfattr --only-values -n user.shadow.id "$backing/v")
as_nobody touch "$backing/pub/mine" || it_fail "nobody: touch"
as_nobody setfattr -n user.shadow.id -v "$id" "$backing/pub/mine" || it_fail "nobody: set the id"
[ "$(as_nobody getfattr --only-values -n user.shadow.copies "$mnt/pub/mine" 2>/dev/null)" = "" ] ||
  it_fail "nobody's copy shows v's copies"
as_nobody setfattr -n user.shadow.never -v 1 "$mnt/pub/mine" || it_fail "nobody: set never on its file"
want v never "" "after nobody set never on its copy"
want v copies 2 "after nobody set never on its copy"
[ "$(as_nobody getfattr --only-values -n user.shadow.never "$mnt/pub/mine")" = 1 ] ||
  it_fail "nobody's file lost its own never"
[ "$(getfattr --only-values -n user.shadow.id "$backing/pub/mine")" != "$id" ] ||
  it_fail "nobody's file kept v's id after a setting of its own"
as_nobody touch "$backing/pub/mine2" && as_nobody setfattr -n user.shadow.id -v "$id" "$backing/pub/mine2" ||
  it_fail "nobody: a second copy"
as_nobody rm "$mnt/pub/mine2" || it_fail "nobody: rm its copy through the mount"
rm "$mnt/vcopy" || it_fail "rm the cp -a copy through the mount"
want v copies 2 "after the copies' rm through the mount"
grep -q "copies 2 /v\$" "$state/tuning" || it_fail "v's settings left STATE/tuning: $(cat "$state/tuning")"

# An editor's save by rename: the new file bears the id at the same path.
cp -a "$backing/w" "$backing/.w.tmp" && mv "$backing/.w.tmp" "$backing/w"
want w copies 3 "saved by rename behind the back"
sleep 1 # a few sweeps: w is kept
in_state w || it_fail "w's settings left STATE/tuning after its save by rename"

# At the next mount: a deleted file's go, a restored one's stay.
fs_umount "$mnt"
rm "$backing/gone2"
cp -a "$backing/w2" "$T/bak/w2" && rm "$backing/w2" && cp -a "$T/bak/w2" "$backing/w2"
IT_MOUNT_LOG=$T/mount2.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
in_state gone2 && it_fail "a file deleted while unmounted kept its STATE/tuning line"
it_log_has "$T/mount2.log" "settings of gone2 dropped" || it_fail "no log of gone2's dropped settings"
want w2 window 4 "restored in place while unmounted"
want ren2 capacity 5 "renamed behind the back, remounted"
want v copies 2 "remounted"

# An older STATE/tuning (no handle lines) loads; the handles come back.
fs_umount "$mnt"
sed -i '/^h /d' "$state/tuning"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
want v copies 2 "an older STATE/tuning"
want w window "" "an older STATE/tuning (none set)"
want ren2 capacity 5 "an older STATE/tuning"
it_wait_for "the handles written back" 5 grep -q '^h ' "$state/tuning"
fs_umount "$mnt"

# Renamed through the mount, then saved by rename behind its back under
# the new name while the mount is down: the record's path followed the
# rename (no sweep could have: shadow_tick=60).
echo ed >"$backing/ed"
it_mount "$SHADOWFS" "$backing" "$mnt" "${OPTS/shadow_tick=0.2/shadow_tick=60}"
set_ ed copies 2
mv "$mnt/ed" "$mnt/ed2" || it_fail "mv ed ed2 through the mount"
fs_umount "$mnt"
cp -a "$backing/ed2" "$backing/.ed2.tmp" && mv "$backing/.ed2.tmp" "$backing/ed2"
it_mount "$SHADOWFS" "$backing" "$mnt" "${OPTS/shadow_tick=0.2/shadow_tick=60}"
want ed2 copies 2 "renamed through the mount, then saved by rename behind its back"
fs_umount "$mnt"
echo "ok: settings belong to the file (its handle), not to a copy of its id"
