#!/usr/bin/env bash
# Fault: the state directory's filesystem is full (a small tmpfs filled by
# a filler file) when an operator pins, unpins or tunes files.
#  - every such setxattr either keeps its change in STATE (and returns 0)
#    or fails with ENOSPC and changes nothing, not even in memory: what
#    getfattr shows is what the next mount will have;
#  - after a kill -9 and a remount with space again, exactly the settings
#    whose calls returned 0 are in effect;
#  - the mount keeps serving reads and writes of BACKING meanwhile.
# Before, the calls returned 0, the settings lived in memory only, and the
# next mount had lost them (STATE/tuning could not be replaced, nor
# STATE/pins; the pin log had no block for a new record either).
# Usage: fault_state_full_settings.sh SHADOWFS
. "$(dirname "$0")/../integration/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir state_full_settings)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
state=$T/state
mkdir -p "$T/h" "$backing/dir"
it_tmpfs "$state" 64k
for f in a b c d; do echo "file $f" >"$backing/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"

get() { getfattr --only-values -n "user.shadow.$2" "$mnt/$1" 2>/dev/null; }
# setxattr that must fail with ENOSPC ("No space left on device").
refused() { # DESC SETFATTR-ARGS...
  local d=$1 out; shift
  out=$(setfattr "$@" 2>&1) && it_fail "$d returned 0 on a full state filesystem"
  grep -q "No space left on device" <<<"$out" || it_fail "$d: '$out', expected ENOSPC"
}

# Settings made while there is room.
setfattr -n user.shadow.capacity -v 7 "$mnt/a" || it_fail "capacity on a"
setfattr -n user.shadow.window -v 3 "$mnt/dir" || it_fail "window on dir"
setfattr -n user.shadow.pin -v 1 "$mnt/b" || it_fail "pin b"
setfattr -n user.shadow.pin -v 1 "$mnt/d" || it_fail "pin d"
# The pin is folded into STATE/pins and the log emptied at the next tick
# (an empty log holds no block: a new record needs one).
it_wait_for "pins of b and d folded into STATE/pins" 5 \
  bash -c "grep -qx b '$state/pins' && grep -qx d '$state/pins' && [ ! -s '$state/pins.log' ]"

dd if=/dev/zero of="$state/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$state" | tail -1)" -eq 0 ] || it_fail "the tmpfs is not full"

refused "capacity on c" -n user.shadow.capacity -v 5 "$mnt/c"
refused "capacity on a changed" -n user.shadow.capacity -v 9 "$mnt/a"
refused "window on dir removed" -x user.shadow.window "$mnt/dir"
refused "threshold on dir" -n user.shadow.threshold -v 0.5 "$mnt/dir"
refused "pin c" -n user.shadow.pin -v 1 "$mnt/c"
refused "unpin b" -n user.shadow.pin -v 0 "$mnt/b" # STATE/pins would still name d
# Nothing changed in memory either.
[ -z "$(get c capacity)" ] || it_fail "c has capacity '$(get c capacity)' after a refused set"
[ "$(get a capacity)" = 7 ] || it_fail "a capacity '$(get a capacity)' after a refused change"
[ "$(get dir window)" = 3 ] || it_fail "dir window '$(get dir window)' after a refused removal"
[ -z "$(get dir threshold)" ] || it_fail "dir has threshold '$(get dir threshold)' after a refused set"
[ "$(get c pin)" = 0 ] || it_fail "c pinned after a refused pin"
[ "$(get b pin)" = 1 ] || it_fail "b unpinned after a refused unpin"

# The mount keeps serving BACKING.
head -c 20000 /dev/urandom >"$T/w"
cp "$T/w" "$mnt/written" || it_fail "write through the mount"
cmp -s "$backing/written" "$T/w" || it_fail "BACKING does not hold the written file"
cmp -s "$mnt/written" "$T/w" || it_fail "reading the written file back"
[ "$(cat "$mnt/d")" = "file d" ] || it_fail "read d"

kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
rm -f "$state/filler"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(get a capacity)" = 7 ] || it_fail "a capacity '$(get a capacity)' after the remount"
[ "$(get dir window)" = 3 ] || it_fail "dir window '$(get dir window)' after the remount"
[ -z "$(get c capacity)" ] || it_fail "c capacity '$(get c capacity)' after the remount"
[ -z "$(get dir threshold)" ] || it_fail "dir threshold '$(get dir threshold)' after the remount"
[ "$(get b pin)" = 1 ] || it_fail "b not pinned after the remount"
[ "$(get d pin)" = 1 ] || it_fail "d not pinned after the remount"
[ "$(get c pin)" = 0 ] || it_fail "c pinned after the remount"

# With room again, changes are kept (through another kill -9).
setfattr -n user.shadow.capacity -v 5 "$mnt/c" || it_fail "capacity on c with room"
setfattr -n user.shadow.pin -v 1 "$mnt/c" || it_fail "pin c with room"
kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(get c capacity)" = 5 ] || it_fail "c capacity '$(get c capacity)' after the last remount"
[ "$(get c pin)" = 1 ] || it_fail "c not pinned after the last remount"
it_umount "$mnt"
echo "ok: settings refused with ENOSPC on a full state filesystem, the others kept"
