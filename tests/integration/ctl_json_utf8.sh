#!/usr/bin/env bash
# shadowctl --json stays JSON (UTF-8 text) when a file name is not UTF-8
# (Latin-1 names, a truncated sequence, an overlong form, a surrogate):
# such bytes are written as U+FFFD. Before, they were copied raw, and a
# strict parser (Python's json) refused the whole output of
# shadowctl shadows --json and shadowctl why --json.
# Usage: ctl_json_utf8.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir ctl_json_utf8)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/h"
names=($'caf\xe9' $'cut\xe2\x82' $'over\xc0\xaf' $'sur\xed\xa0\x80' $'ok-\xc3\xa9')
for n in "${names[@]}"; do echo data >"$backing/$n"; done
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,hosts=$T/h,shadow_tick=0.1,shadow_quiet=0"
for n in "${names[@]}"; do setfattr -n user.shadow.pin -v 1 "$mnt/$n" || it_fail "pin"; done
listed() { [ "$(grep -c '' "$state/shadows.status")" -eq ${#names[@]} ]; }
IT_WAIT_SHOW='cat -A "$state/shadows.status"' it_wait_for "STATE/shadows.status" 10 listed
strict() { python3 -c 'import json, sys; d = json.loads(sys.stdin.buffer.read().decode("utf-8")); print(len(d) if isinstance(d, list) else d["path"])'; }
n=$("$CTL" shadows "$mnt" --json | strict) || it_fail "shadowctl shadows --json is not UTF-8 JSON"
[ "$n" = ${#names[@]} ] || it_fail "shadowctl shadows --json: $n files"
p=$("$CTL" why "$mnt/${names[0]}" --json | strict) || it_fail "shadowctl why --json is not UTF-8 JSON"
[ "$p" = "caf"$'\xef\xbf\xbd' ] || it_fail "shadowctl why --json: path $p"
"$CTL" shadows "$mnt" --json | grep -q '"ok-é"' || it_fail "a UTF-8 name is not kept as it is"
fs_umount "$mnt"
echo "ok: --json is UTF-8 with names that are not"
