#!/usr/bin/env bash
# Integration test of shadowd's deferred durability: copies are valid (served)
# at once after a full copy and recorded durable later. shadowd is killed with
# SIGKILL before that; at restart each copy still unsynced is re-hashed
# against its digest: one whose bytes survived is valid again (byte-identical),
# one whose bytes were lost (here: zeros written into it, as lost writeback
# would leave) is absent; neither is ever served corrupt. A clean stop
# (SIGTERM) leaves every copy durable.
# Usage: sync_kill9.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir kill9)
[ -n "$T" ] && [ -d "$T" ] || { echo "FAIL: no temporary directory" >&2; exit 1; }
ID=00112233445566778899aabbccddeeff
NAME1=$ID-0000000000000001 NAME2=$ID-0000000000000002 NAME3=$ID-0000000000000003

# start_shadowd [flags]: sets PORT, PID (the log is $T/log)
start_shadowd() {
  it_shadowd "$SHADOWD" "$T/store" "$T/ca" server "$T/log" 0 "$@"
  PORT=$IT_SD_PORT PID=$IT_SD_PID
}
cli() { "$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" --timeout 20000 "$@"; }
count() { find "$T/store" -maxdepth 1 -name "$1" | wc -l; }

it_check "ca init" "$CTL" ca init "$T/ca" >/dev/null
it_check "ca issue server" "$CTL" ca issue "$T/ca" server --ip 127.0.0.1 >/dev/null
it_check "ca issue client" "$CTL" ca issue "$T/ca" client >/dev/null
head -c 3000000 /dev/urandom >"$T/one"
head -c 2000000 /dev/urandom >"$T/two"

# Two copies, served at once, still unsynced (the pass is an hour away) when
# shadowd is killed.
start_shadowd --sync-delay-ms 3600000
it_check "put one" cli put 127.0.0.1:$PORT $ID 1 "$T/one" 2>/dev/null
it_check "put two" cli put 127.0.0.1:$PORT $ID 2 "$T/two" 2>/dev/null
it_check "get one before the sync" cli get 127.0.0.1:$PORT $ID 1 "$T/one.back" 2>/dev/null
cmp -s "$T/one" "$T/one.back" || it_fail "unsynced copy served wrong bytes"
kill -9 "$PID"
wait "$PID" 2>/dev/null
[ "$(count "unsynced.$NAME1.*")" = 1 ] && [ "$(count "unsynced.$NAME2.*")" = 1 ] ||
  it_fail "expected two unsynced copies after kill -9: $(ls "$T/store")"
[ "$(count "$ID-*")" = 0 ] || it_fail "a copy was recorded durable without a sync pass"

# Copy two loses 64 KiB in its middle.
U2=$(find "$T/store" -maxdepth 1 -name "unsynced.$NAME2.*")
dd if=/dev/zero of="$U2" bs=65536 seek=10 count=1 conv=notrunc status=none

start_shadowd
grep -q "1 unsynced copies re-verified after a crash, 1 discarded" "$T/log" ||
  it_fail "recovery not logged as 1 kept, 1 discarded: $(cat "$T/log")"
it_check "get one after the crash" cli get 127.0.0.1:$PORT $ID 1 "$T/one.after" 2>/dev/null
cmp -s "$T/one" "$T/one.after" || it_fail "recovered copy differs from the source"
cli get 127.0.0.1:$PORT $ID 2 "$T/two.after" 2>/dev/null &&
  it_fail "a copy that failed its digest was served"
cli list 127.0.0.1:$PORT 2>/dev/null | grep -c "$ID" | grep -qx 1 ||
  it_fail "list after recovery: $(cli list 127.0.0.1:$PORT 2>&1)"
[ "$(count "unsynced.*")" = 0 ] && [ "$(count "$NAME1")" = 1 ] && [ "$(count "$NAME2")" = 0 ] ||
  it_fail "store after recovery: $(ls "$T/store")"

# A clean stop syncs what is pending: the copy is under its real name.
it_check "put three" cli put 127.0.0.1:$PORT $ID 3 "$T/two" 2>/dev/null
kill -TERM "$PID"
wait "$PID" 2>/dev/null
[ "$(count "$NAME3")" = 1 ] && [ "$(count "unsynced.*")" = 0 ] ||
  it_fail "SIGTERM left unsynced copies: $(ls "$T/store")"
echo "sync_kill9: ok"
