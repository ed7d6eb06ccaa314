#!/usr/bin/env bash
# A VERIFY deletes the copy it found damaged, never a copy of the same
# version committed while it re-hashed: one peer's VERIFY re-hashes a
# damaged 4 MiB copy (a byte flipped on disk, size and mtime kept) at
# --capacity-read 2 (~2 s); another peer uploads the same version again
# meanwhile (the good bytes). Before, the damaged file's verdict deleted the
# copy by its name: the new, good copy went with it (VERIFY answered BADSUM,
# the version was gone). Now the new copy is re-hashed in its turn: VERIFY
# answers a match, the copy stays and reads back whole.
# Usage: sync_verify_recommit.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir verify_recommit)
ID=00112233445566778899aabbccddeeff
it_ca "$CTL" "$T/ca" server "client other"
it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/sd.log" 0 --capacity-read 2
PORT=$IT_SD_PORT PID=$IT_SD_PID
cli() { # NAME args...: sync_cli as client NAME (two peers)
  local n=$1; shift
  "$CLI" --cert "$T/ca/$n.crt" --key "$T/ca/$n.key" --ca "$T/ca/ca.crt" "$@"
}

head -c $((4 << 20)) /dev/urandom >"$T/v"
it_check "put" cli client put "127.0.0.1:$PORT" $ID 1 "$T/v"
f=$(ls -d "$T/store/"*"$ID-0000000000000001"* | head -1)
mt=$(stat -c %y "$f")
b=$(od -An -tu1 -j 3000000 -N1 "$f" | tr -d ' ')
printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=3000000 conv=notrunc status=none
touch -d "$mt" "$f"
cmp -s "$f" "$T/v" && it_fail "the byte was not flipped"

# The re-hash is under way once shadowd has read a MiB more than so far.
rchar() { sed -n 's/^rchar: //p' "/proc/$PID/io"; }
r0=$(rchar)
cli client --timeout 1000 verify "127.0.0.1:$PORT" $ID 1 "$T/v" >"$T/vout" 2>"$T/verr" &
vpid=$!
it_wait_for "the re-hash did not start" 5 eval '[ $(($(rchar) - r0)) -ge $((1 << 20)) ]'
it_check "put again during the re-hash" cli other put "127.0.0.1:$PORT" $ID 1 "$T/v"
kill -0 $vpid 2>/dev/null || it_fail "the re-hash ended before the upload did (not a race)"
wait $vpid
vrc=$?
echo "VERIFY: rc=$vrc $(cat "$T/vout" "$T/verr" | tr '\n' ' ')"
cli client get "127.0.0.1:$PORT" $ID 1 "$T/got" 2>"$T/err" ||
  it_fail "the copy committed during the re-hash is gone: $(cat "$T/err"); $(grep SHA-256 "$T/sd.log")"
cmp -s "$T/got" "$T/v" || it_fail "the copy reads back other bytes"
[ $vrc = 0 ] || it_fail "VERIFY of the good copy now there: $(cat "$T/verr")"
grep -q "failed its SHA-256 check" "$T/sd.log" && it_fail "a copy was condemned: $(cat "$T/sd.log")"

# Damaged and not replaced: still found and deleted.
f=$(ls -d "$T/store/"*"$ID-0000000000000001"* | head -1)
mt=$(stat -c %y "$f")
printf 'Z' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
touch -d "$mt" "$f"
cli client verify "127.0.0.1:$PORT" $ID 1 "$T/v" 2>"$T/err" && it_fail "VERIFY passed a damaged copy"
grep -q "Bad message" "$T/err" || it_fail "VERIFY of a damaged copy: $(cat "$T/err")"
grep -q "failed its SHA-256 check: deleted" "$T/sd.log" || it_fail "not logged: $(cat "$T/sd.log")"
cli client read "127.0.0.1:$PORT" $ID 1 0 100 "$T/r" 2>/dev/null && it_fail "damaged copy still readable"
grep -l "Sanitizer" "$T/sd.log" && it_fail "sanitizer report: $(cat "$T/sd.log")"
echo "PASS sync_verify_recommit"
