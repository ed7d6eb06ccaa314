#!/usr/bin/env bash
# A kill -9 between a rename through the mount and the rewrite of
# STATE/tuning after it loses no directory's settings: the rename's intent
# is in STATE/tuning before it is made, and the next mount, finding it made
# in BACKING, moves the settings as the rename would have:
#  - a directory with settings (and one below it with its own) renamed;
#  - RENAME_EXCHANGE of two directories with settings (they swap);
#  - a directory with settings renamed over an empty one with its own (the
#    replaced one's settings go, the renamed one's take its path).
# Before, the settings stayed on the old paths in STATE/tuning and the next
# mount dropped them ("directory d is gone"), and the replaced directory's
# were applied to the one that took its place. The fault option holds each
# rename between BACKING and its records (fault_rename_record_delay_ms);
# the three are in three directories, as a rename holds its directory's lock.
# Usage: fs_tuning_rename_kill9.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_tuning_rename_kill9)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/a/d/sub" "$backing/b/p" "$backing/b/q" "$backing/c/d" "$backing/c/e" "$backing/k"
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=60,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS,fault_rename_record_delay_ms=20000"
set_() { setfattr -n "user.shadow.$2" -v "$3" "$mnt/$1" || it_fail "set $2=$3 on $1"; }
set_ a/d window 2
set_ a/d/sub capacity 5
set_ b/p threshold 0.6
set_ b/q copies 2
set_ c/d threshold 0.7
set_ c/e capacity 7
set_ k window 3
ino_q=$(stat -c %i "$backing/b/q")
mv "$mnt/a/d" "$mnt/a/d2" 2>/dev/null & m1=$!
python3 - "$mnt/b/p" "$mnt/b/q" 2>/dev/null <<'PY' & m2=$!
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)  # RENAME_EXCHANGE
PY
mv -T "$mnt/c/d" "$mnt/c/e" 2>/dev/null & m3=$!
exchanged() { [ "$(stat -c %i "$backing/b/p")" = "$ino_q" ]; }
made() { [ -d "$backing/a/d2/sub" ] && [ ! -e "$backing/c/d" ] && exchanged; }
it_wait_for "the renames not made in BACKING" 10 made
intents=$(grep -c '^~' "$state/tuning")
kill -9 "$IT_PID"
wait "$IT_PID" 2>/dev/null
wait $m1 $m2 $m3 2>/dev/null # their requests end with the daemon (ENOTCONN)
fusermount3 -u "$mnt" || it_fail "fusermount3 -u of the dead mount"
[ "$intents" = 3 ] || it_fail "$intents rename intents in STATE/tuning, want 3: $(cat "$state/tuning")"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
why="(STATE/tuning: $(tr '\n' ' ' <"$state/tuning"))"
get() { getfattr --only-values -n "user.shadow.$2" "$mnt/$1" 2>/dev/null; }
want() { # PATH KEY VALUE ("" unset)
  local v; v=$(get "$1" "$2")
  [ "$v" = "$3" ] || it_fail "after kill -9: $1's $2 is '$v', want '$3' $why"
}
want a/d2 window 2
want a/d2/sub capacity 5
want b/p copies 2 # the exchange: q's settings went with q to p
want b/q threshold 0.6
want b/p threshold ""
want b/q copies ""
want c/e threshold 0.7 # d renamed over the empty e: d's settings, not e's
want c/e capacity ""
want k window 3
grep -q '^~' "$state/tuning" && it_fail "the intents were left in STATE/tuning after the start $why"
fs_umount "$mnt"
grep -q '/a/d$\|/c/d$' "$state/tuning" && it_fail "old paths in STATE/tuning: $(cat "$state/tuning")"
echo "ok: directories' settings follow renames cut short by a kill -9"
