#!/usr/bin/env bash
# A file's tuning settings survive a remount whatever names it had: they
# are keyed by its stable id, and the path STATE/tuning writes beside it is
# only where it was last seen. Before, a file whose last-seen path held a
# newline (its name, or a directory's above it) was left out of
# STATE/tuning, so the next mount lost its settings, even after the file
# or its directory had been renamed to a plain name. Pins of such names
# are kept as well (STATE/pins and STATE/pins.log write them escaped).
# Usage: fs_tuning_newline.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_tuning_newline)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1"
nl=$'\n'
mkdir "$backing/d${nl}x"
echo one >"$backing/d${nl}x/f"
echo two >"$backing/n${nl}f"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
setfattr -n user.shadow.capacity -v 7 "$mnt/d${nl}x/f" || it_fail "set capacity on d\\nx/f"
setfattr -n user.shadow.copies -v 2 "$mnt/d${nl}x/f" || it_fail "set copies on d\\nx/f"
setfattr -n user.shadow.capacity -v 5 "$mnt/n${nl}f" || it_fail "set capacity on n\\nf"
mv "$mnt/d${nl}x" "$mnt/plain" || it_fail "mv d\\nx plain"
fs_umount "$mnt"
grep -c '^f ' "$state/tuning" | grep -qx 3 || it_fail "STATE/tuning: $(cat -A "$state/tuning")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
get() { getfattr --only-values -n "user.shadow.$2" "$mnt/$1" 2>/dev/null; }
[ "$(get plain/f capacity)" = 7 ] || it_fail "plain/f capacity after the remount: '$(get plain/f capacity)'"
[ "$(get plain/f copies)" = 2 ] || it_fail "plain/f copies after the remount: '$(get plain/f copies)'"
[ "$(get "n${nl}f" capacity)" = 5 ] || it_fail "n\\nf capacity after the remount: '$(get "n${nl}f" capacity)'"
# A directory's settings, keyed by its path: a "D" line, escaped.
mkdir "$mnt/e${nl}d" || it_fail "mkdir e\\nd"
setfattr -n user.shadow.capacity -v 9 "$mnt/e${nl}d" || it_fail "set capacity on e\\nd"
fs_umount "$mnt"
grep -qx 'D capacity 9 /e\\nd' "$state/tuning" || it_fail "STATE/tuning, directory: $(cat -A "$state/tuning")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(get "e${nl}d" capacity)" = 9 ] || it_fail "e\\nd capacity after the remount: '$(get "e${nl}d" capacity)'"
fs_umount "$mnt"
echo "ok: settings of files seen under names with a newline kept across a remount"

# Pins of such names are kept too: STATE/pins and the pin log write them
# escaped after "./". Before, they were left out: a pin lasted until the
# unmount. Through a clean unmount (STATE/pins), then a kill -9 right after
# the pin (STATE/pins.log only).
echo three >"$backing/p${nl}in"
echo four >"$backing/k${nl}ill"
pinned() { it_shadow_state "$mnt/$1" | grep -q "^pinned=1 "; }
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
setfattr -n user.shadow.pin -v 1 "$mnt/p${nl}in" || it_fail "pin p\nin"
fs_umount "$mnt"
grep -qx './p\\nin' "$state/pins" || it_fail "STATE/pins: $(cat -A "$state/pins")"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pinned "p${nl}in" || it_fail "p\nin not pinned after a remount: $(it_shadow_state "$mnt/p${nl}in")"
setfattr -n user.shadow.pin -v 1 "$mnt/k${nl}ill" || it_fail "pin k\nill"
grep -qx '+./k\\nill' "$state/pins.log" || pinned_by_tick=1
kill -9 "$IT_PID"; wait "$IT_PID" 2>/dev/null
umount -l "$mnt" 2>/dev/null
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pinned "k${nl}ill" || it_fail "k\nill not pinned after kill -9 (${pinned_by_tick:+folded into STATE/pins by a tick; }log: $(cat -A "$state/pins.log"))"
pinned "p${nl}in" || it_fail "p\nin not pinned after kill -9"
fs_umount "$mnt"

# A directory whose path holds 2,800 newlines: its STATE/tuning "D" line
# (each newline escaped as two bytes) is longer than PATH_MAX, and was
# skipped as a bad line at the next mount (the setting lost).
deep=$(python3 -c 'print("/".join("\n" * 200 + "x%d" % i for i in range(14)), end="")')
mkdir -p "$backing/$deep" || it_fail "mkdir a path of newlines"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
setfattr -n user.shadow.window -v 3 "$mnt/$deep" || it_fail "window on a path of newlines"
fs_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(get "$deep" window)" = 3 ] || it_fail "a path of 2,800 newlines lost its window at a remount"
fs_umount "$mnt"
echo "ok: pins of names with a newline kept across a remount and a kill -9; a directory's setting on a path of newlines too"
