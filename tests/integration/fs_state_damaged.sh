#!/usr/bin/env bash
# Start-up with damaged state files: the mount comes up, serves BACKING
# unchanged, says what it could not read, and keeps what it could:
#  - STATE/pins or STATE/tuning a directory: a warning naming the file
#    (before: silently no pins, no settings); a tuning change then fails
#    (EIO) instead of returning 0 and being lost;
#  - STATE/origin.id garbage: a warning that a new origin id replaces it
#    (before: silently, and every remote copy was orphaned);
#  - STATE/versions (the version range each mount reserves): a mount
#    starts past the previous mount's range even when the clock is behind
#    it (a clock set back), and garbage there is said;
#  - STATE/pins and STATE/tuning with binary garbage (NUL bytes among it)
#    and a last line cut short: the good lines are kept, the bad ones
#    counted, no crash.
# Usage: fs_state_damaged.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_state_damaged)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
for f in a b c; do head -c 5000 /dev/urandom >"$backing/$f"; done
sums() { (cd "$backing" && find . -type f | sort | xargs sha256sum); }
before=$(sums)
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"

# mount_with DESC: mounts (stderr to $T/log), checks BACKING reads the same.
mount_with() {
  IT_MOUNT_LOG=$T/log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS" 2>/dev/null
  for f in a b c; do cmp -s "$mnt/$f" "$backing/$f" || it_fail "$1: $f reads differently"; done
}
umount_check() { # DESC
  fs_umount "$mnt"
  [ "$(sums)" = "$before" ] || it_fail "$1: BACKING changed"
}
said() { it_log_has "$T/log" "$2" || it_fail "$1: no '$2' in the log after 10 s: $(cat "$T/log")"; }
get() { getfattr --only-values -n "user.shadow.$2" "$mnt/$1" 2>/dev/null; }

# A good state to damage: b pinned, capacity 7 on a, window 2 on the root.
mount_with "a clean state"
setfattr -n user.shadow.pin -v 1 "$mnt/b" || it_fail "pin b"
setfattr -n user.shadow.capacity -v 7 "$mnt/a" || it_fail "capacity on a"
setfattr -n user.shadow.window -v 2 "$mnt" || it_fail "window on the root"
umount_check "a clean state"
grep -qx '[0-9]\+' "$state/versions" || it_fail "no version range recorded: $(cat "$state/versions")"
# The clock behind the recorded range (as after a clock set back): the
# next mount's range starts at its end, not at the clock.
future=$(( $(date +%s) * 1000000 + 1000000000000000 ))
echo "$future" >"$state/versions"
mount_with "a range ahead of the clock"
umount_check "a range ahead of the clock"
[ "$(cat "$state/versions")" = $((future + (1 << 40))) ] ||
  it_fail "the range did not start at the recorded end: $(cat "$state/versions"), expected $((future + (1 << 40)))"
before=$(sums) # a's user.shadow.id is set now (the key of its settings)
cp "$state/pins" "$T/pins.good"
cp "$state/tuning" "$T/tuning.good"

# STATE/pins and STATE/tuning directories.
rm "$state/pins" "$state/tuning"
mkdir "$state/pins" "$state/tuning"
mount_with "directories"
said "pins a directory" "cannot read $state/pins: Is a directory"
said "tuning a directory" "cannot read $state/tuning: Is a directory"
out=$(setfattr -n user.shadow.capacity -v 5 "$mnt/c" 2>&1) &&
  it_fail "a setting returned 0 with STATE/tuning a directory (lost at the next mount)"
grep -q "Input/output error" <<<"$out" || it_fail "setting with STATE/tuning a directory: '$out'"
echo "new" >"$mnt/new" && [ "$(cat "$backing/new")" = new ] || it_fail "write with damaged state"
rm "$mnt/new" || it_fail "rm new"
umount_check "directories"
rmdir "$state/pins" "$state/tuning"

# Garbage in STATE/origin.id, pins and tuning: the good lines after it are
# kept (before, a NUL byte in a line made it look cut short, and the next
# line was skipped as its tail); a last tuning line cut short is bad.
echo "not an id" >"$state/origin.id"
echo "not a version" >"$state/versions"
garbage() { head -c 2000 /dev/urandom | tr -d '\n'; printf 'x\0y\n'; }
{ garbage; cat "$T/pins.good"; } >"$state/pins"
{ garbage; cat "$T/tuning.good"; head -c 20 "$T/tuning.good"; } >"$state/tuning"
: >"$T/log"
mount_with "garbage"
said "origin.id garbage" "origin.id was damaged: replaced by a new origin id"
said "tuning garbage" "tuning: 2 bad line(s)"
said "versions garbage" "versions was damaged: versions start at the clock"
[ "$(get b pin)" = 1 ] || it_fail "b lost its pin among garbage"
[ "$(get a capacity)" = 7 ] || it_fail "a lost its capacity among garbage: '$(get a capacity)'"
[ "$(get . window)" = 2 ] || it_fail "the root lost its window among garbage"
umount_check "garbage"
grep -qx '[0-9a-f]\{32\}' "$state/origin.id" || it_fail "origin.id not replaced: $(cat "$state/origin.id")"
echo "ok: damaged state files said, BACKING untouched, the good settings kept"
