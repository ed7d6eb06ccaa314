#!/usr/bin/env bash
# A pinned file with hard links keeps its pin when the name it is known by
# goes through the mount (unlink, a rename over it) while another link
# remains: the entry takes the other name (fs/shadow_paths.c,
# shadow_unlink_begin). Before, it kept the removed name, in STATE/pins
# too: the next mount gave the pin to a new file made at that name and
# none to the file's remaining link.
# Usage: fs_pin_links.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_pin_links)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h" "$backing/d"
for f in a b c; do head -c 8192 /dev/urandom >"$backing/d/$f"; done
OPTS="norecord,state=$state,hosts=$T/h,shadow_tick=0.1,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
for f in a b c; do setfattr -n user.shadow.pin -v 1 "$mnt/d/$f" || it_fail "pin d/$f"; done
# the second links made after the pins: each entry is known by its first name
ln "$mnt/d/a" "$mnt/a2" && ln "$mnt/d/b" "$mnt/d/b2" && ln "$mnt/d/c" "$mnt/d/c2" || it_fail "ln"
pinned_as_made() { [ "$(sort "$state/pins")" = "$(printf 'd/a\nd/b\nd/c\n')" ]; }
IT_WAIT_SHOW='cat "$state/pins"' it_wait_for "STATE/pins before the unlinks" 10 pinned_as_made
rm "$mnt/d/a" || it_fail "rm d/a"
echo other >"$mnt/new" && mv "$mnt/new" "$mnt/d/b" || it_fail "mv new d/b"
# rename(2) of a link onto another of the same file: nothing happens
python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$mnt/d/c2" "$mnt/d/c" ||
  it_fail "rename d/c2 d/c (two links of one file)"
# c is pinned by either of its names (the one its inode's fd shows)
want=$(printf 'a2\nd/b2\n')
pins_right() { [ "$(grep -v '^d/c2\?$' "$state/pins" | sort)" = "$want" ]; }
for _ in $(seq 100); do pins_right && break; sleep 0.1; done
pins_right || it_fail "STATE/pins after the unlinks: $(cat "$state/pins")"
grep -q '^d/c2\?$' "$state/pins" || it_fail "STATE/pins lacks d/c: $(cat "$state/pins")"
echo "new file at an old name" >"$mnt/d/a"
fs_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pin() { getfattr --only-values -n user.shadow.pin "$mnt/$1" 2>/dev/null; }
for f in a2 d/b2 d/c; do [ "$(pin "$f")" = 1 ] || it_fail "$f not pinned after the remount"; done
for f in d/a d/b; do [ "$(pin "$f")" = 0 ] || it_fail "$f (a new file) pinned after the remount"; done
fs_umount "$mnt"
echo "ok: pins follow the remaining links"
