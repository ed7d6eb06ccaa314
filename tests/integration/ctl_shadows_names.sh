#!/usr/bin/env bash
# shadowctl shadows and status on shadowed files with hostile names (a
# quote, a space and "KEY=VALUE" text, a newline, a tab, a backslash), and
# top, stats and forecast on a recording mount of them (escaped as shadows
# escapes them):
# STATE/shadows.status quotes each path with '"', '\' and control bytes
# escaped, and shadowctl undoes it. Before, a path was written raw between
# quotes: a newline split its line in two, a '"' ended the path early, and
# "x\" pin=1" read as fields, so shadowctl shadows listed files that do not
# exist with fields from another file, --json gave the wrong paths, and
# shadowctl status counted 40 files where there were 26.
# Usage: ctl_shadows_names.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir ctl_shadows_names)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
names=('q"uote' 'path="x" pin=0 hot=1' $'nl\nname' $'tab\tname' 'back\slash' ' spaces ')
for n in "${names[@]}"; do head -c 4096 /dev/urandom >"$backing/$n"; done
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,hosts=$T/h,shadow_tick=0.1,shadow_quiet=0"
for n in "${names[@]}"; do setfattr -n user.shadow.pin -v 1 "$mnt/$n" || it_fail "pin $n"; done
serving() { it_shadow_state "$mnt/$1" | grep -q ":serving"; }
for n in "${names[@]}"; do it_wait_for "$n not copied" 30 serving "$n"; done
listed() { [ "$(grep -c '' "$state/shadows.status")" -eq ${#names[@]} ]; }
IT_WAIT_SHOW='cat -A "$state/shadows.status"' it_wait_for "STATE/shadows.status" 10 listed
"$CTL" shadows "$mnt" >"$T/table" || it_fail "shadowctl shadows failed"
[ "$(grep -c '' "$T/table")" -eq $((${#names[@]} + 1)) ] ||
  it_fail "shadowctl shadows: not one line per file: $(cat -A "$T/table")"
awk 'NR > 1 && $0 !~ / 1 +1 +v1 / { exit 1 }' "$T/table" ||
  it_fail "shadowctl shadows: a row without its fields: $(cat -A "$T/table")"
grep -qF 'nl\nname ' "$T/table" || it_fail "shadowctl shadows: no nl\\nname: $(cat -A "$T/table")"
"$CTL" shadows "$mnt" --json >"$T/json" || it_fail "shadowctl shadows --json failed"
python3 - "$T/json" "${names[@]}" <<'PY' || it_fail "shadowctl shadows --json: $(cat "$T/json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = sorted((e.get("path"), e.get("pinned")) for e in d)
want = sorted((n, 1) for n in sys.argv[2:])
if got != want:
    sys.exit(f"got {got}, want {want}")
PY
"$CTL" status "$mnt" | grep -q "shadows *${#names[@]} files (${#names[@]} pinned" ||
  it_fail "shadowctl status: $("$CTL" status "$mnt")"
fs_umount "$mnt"

# The store's views print the same names escaped the same way: top's rows,
# stats' and forecast's headers (they printed them raw: a newline split a
# row in two, a tab went out as is).
it_mount "$SHADOWFS" "$backing" "$mnt" "bucket=1,state=$T/rec,cache=never"
escaped=('q"uote' 'path="x" pin=0 hot=1' 'nl\nname' 'tab\tname' 'back\\slash' ' spaces ')
top_lists_all() {
  for n in "${names[@]}"; do cat "$mnt/$n" >/dev/null || return 1; done
  "$CTL" top "$mnt" >"$T/top" || return 1
  for e in "${escaped[@]}"; do grep -qF "  $e" "$T/top" || return 1; done
}
it_wait_for "shadowctl top never listed every name" 15 top_lists_all
[ "$(grep -c '' "$T/top")" -eq $((${#names[@]} + 2)) ] ||
  it_fail "shadowctl top: not one line per file: $(cat -A "$T/top")"
for e in "${escaped[@]}"; do # the last column (ENVIRON: awk -v would undo the escapes)
  E="  $e" awk 'substr($0, length($0) - length(ENVIRON["E"]) + 1) == ENVIRON["E"] { f = 1 }
    END { exit !f }' "$T/top" || it_fail "shadowctl top: no row ends in '$e': $(cat -A "$T/top")"
done
"$CTL" stats "$mnt/${names[2]}" >"$T/stats" || it_fail "shadowctl stats failed"
head -1 "$T/stats" | grep -q '^nl\\nname  id ' || it_fail "shadowctl stats header: $(cat -A "$T/stats")"
"$CTL" forecast "$mnt/${names[3]}" --bucket 1s >"$T/fc" || it_fail "shadowctl forecast failed"
sed -n 2p "$T/fc" | grep -q '^tab\\tname  id ' || it_fail "shadowctl forecast header: $(cat -A "$T/fc")"
fs_umount "$mnt"
echo "ok: ${#names[@]} hostile names, one row each, right paths in JSON, escaped in top, stats, forecast"
