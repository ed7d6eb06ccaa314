#!/usr/bin/env bash
# Fault: the mount is killed (SIGKILL) while it writes a copy into a local
# host store. The store then holds a temporary file; BACKING must be
# untouched, and the next mount must remove the temporary file, never serve
# it, and make a fresh copy that is byte-identical.
# Usage: fault_kill9_copy.sh SHADOWFS
. "$(dirname "$0")/../integration/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir kill9_copy)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
mkdir -p "$T/host"
head -c 256M /dev/urandom >"$backing/big"
sum=$(sha256sum <"$backing/big")
OPTS="norecord,cache=never,state=$state,hosts=$T/host,shadow_tick=0.1,shadow_quiet=0"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
pid=$IT_PID

setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin"
caught=
for _ in $(seq 4000); do
  if ls "$T/host" | grep -q '^tmp\.'; then kill -9 "$pid"; caught=1; break; fi
  sleep 0.005
done
[ -n "$caught" ] || it_fail "never saw the copy in progress (state: $(ls -la "$T/host"))"
wait "$pid" 2>/dev/null
left=$(ls "$T/host" | grep '^tmp\.')
echo "killed with: $(ls "$T/host" | tr '\n' ' ')"
fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
[ "$(sha256sum <"$backing/big")" = "$sum" ] || it_fail "BACKING changed"

it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
# The killed mount's temporary file goes (the new mount's copy, under way
# at once since the pin is kept, writes a temporary file of its own).
for f in $left; do
  [ -e "$T/host/$f" ] && it_fail "temporary file left after restart: $f ($(ls "$T/host"))"
done
for _ in $(seq 200); do
  it_shadow_state "$mnt/big" | grep -q ':serving:' && break
  sleep 0.05
done
st=$(it_shadow_state "$mnt/big")
grep -q ':serving:' <<<"$st" || it_fail "no fresh copy after restart: $st"
n=$(ls "$T/host" | grep -vc '^tmp\.')
[ "$n" -eq 1 ] || it_fail "$n files in the store: $(ls "$T/host")"
f=$(ls "$T/host")
[ "$(sha256sum <"$T/host/$f")" = "$sum" ] || it_fail "the copy differs from BACKING"
[ "$(sha256sum <"$mnt/big")" = "$sum" ] || it_fail "reads through the mount differ"
echo "ok: $st"
