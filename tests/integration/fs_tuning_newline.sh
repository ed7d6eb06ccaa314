#!/usr/bin/env bash
# A file's tuning settings survive a remount whatever names it had: they
# are keyed by its stable id, and the path STATE/tuning writes beside it is
# only where it was last seen. Before, a file whose last-seen path held a
# newline (its name, or a directory's above it) was left out of
# STATE/tuning, so the next mount lost its settings, even after the file
# or its directory had been renamed to a plain name.
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
fs_umount "$mnt"
echo "ok: settings of files seen under names with a newline kept across a remount"
