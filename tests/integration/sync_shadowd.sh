#!/usr/bin/env bash
# Integration test of shadowd and the sync client over mutual TLS on loopback:
# real shadowd processes, certificates made by `shadowctl ca`, the client
# library driven through sync_cli. Each block states the property it checks.
# Usage: sync_shadowd.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir sync)
[ -n "$T" ] && [ -d "$T" ] || { echo "FAIL: no temporary directory" >&2; exit 1; }
ID=00112233445566778899aabbccddeeff

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start_shadowd NAME [extra flags]: sets PORT_<NAME>, PID_<NAME>, LOG_<NAME>
start_shadowd() {
  local name=$1; shift
  it_shadowd "$SHADOWD" "$T/store-$name" "$T/ca" server "$T/$name.log" 0 "$@"
  eval "PORT_$name=$IT_SD_PORT PID_$name=$IT_SD_PID LOG_$name=$T/$name.log"
}

cli() { "$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" "$@"; }

# Certificates: the cluster CA, a server cert for 127.0.0.1, a client cert;
# and a second, unrelated CA with its own client.
it_check "ca init" "$CTL" ca init "$T/ca" >/dev/null
it_check "ca issue server" "$CTL" ca issue "$T/ca" server --ip 127.0.0.1 >/dev/null
it_check "ca issue client" "$CTL" ca issue "$T/ca" client >/dev/null
it_check "ca init other" "$CTL" ca init "$T/evil" >/dev/null
it_check "ca issue other" "$CTL" ca issue "$T/evil" client >/dev/null
# shadowctl ca never overwrites an existing CA.
"$CTL" ca init "$T/ca" >/dev/null 2>&1 && it_fail "ca init overwrote an existing CA"
# Private keys are not readable by others.
[ "$(stat -c %a "$T/ca/ca.key")" = 600 ] || it_fail "ca.key mode is not 0600"
# Missing parents are made (as mkdir -p: /etc/shadowfs/tls on a fresh host),
# the CA directory itself private.
it_check "ca init with missing parents" "$CTL" ca init "$T/new/tls" >/dev/null
[ "$(stat -c %a "$T/new/tls")" = 700 ] && [ "$(stat -c %a "$T/new")" = 755 ] ||
  it_fail "ca init modes: $(stat -c '%a %n' "$T/new" "$T/new/tls")"
"$CTL" ca issue "$T/new/tls" ../escape 2>"$T/err" && it_fail "a host name with a slash was issued"
grep -q "invalid host name" "$T/err" || it_fail "bad host name message: $(cat "$T/err")"

# Bad flags get a clear error and exit status 2.
"$SHADOWD" --store "$T/x" --listen nonsense --cert a --key b --ca c 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "invalid --listen" "$T/err" || it_fail "bad --listen: rc=$rc $(cat "$T/err")"
"$SHADOWD" --listen 127.0.0.1:1 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "required" "$T/err" || it_fail "missing --store: rc=$rc"
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c --capacity-read -3 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "capacity-read" "$T/err" || it_fail "negative --capacity-read: rc=$rc"
# nan passed the range check (it compares false): a throttle of nan MB/s,
# an expiry of (uint64_t)nan hours.
for opt in --capacity-read --expire-hours --space-budget; do
  "$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c $opt nan 2>"$T/err"; rc=$?
  [ $rc = 2 ] && grep -q -- "invalid value 'nan' for $opt" "$T/err" || it_fail "$opt nan: rc=$rc $(cat "$T/err")"
done
# A positive limit that rounds to nothing was taken for "no limit" (a budget
# of 1e-9 MiB accepted a 3 MB copy; an expiry of 1e-12 hours was "never"),
# or a throttle no read would ever meet: refused.
for a in "--space-budget 1e-9" "--expire-hours 1e-12" "--capacity-read 1e-300" "--capacity-iops 1e-6"; do
  "$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c $a 2>"$T/err"; rc=$?
  [ $rc = 2 ] && grep -q -- "${a% *} ${a#* } is too small: 0 means" "$T/err" || it_fail "$a: rc=$rc $(cat "$T/err")"
done
[ "$("$SHADOWD" --version)" = "shadowd $("$CTL" --version | cut -d' ' -f2)" ] ||
  it_fail "shadowd --version: $("$SHADOWD" --version 2>&1), shadowctl --version: $("$CTL" --version 2>&1)"
# A name as the address: told it must be numeric (was "Invalid argument",
# status 1); a fractional --max-conns (was cut to 1).
"$SHADOWD" --store "$T/x" --listen localhost:7070 --cert a --key b --ca c 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "address must be numeric" "$T/err" || it_fail "--listen localhost: rc=$rc $(cat "$T/err")"
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c --max-conns 1.5 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "whole number" "$T/err" || it_fail "--max-conns 1.5: rc=$rc $(cat "$T/err")"
# Identity files mixed up (another cluster's CA, the host certificate as the
# CA): refused at start, before anything listens, not at each handshake.
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert "$T/ca/server.crt" --key "$T/ca/server.key" \
  --ca "$T/evil/ca.crt" -f 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "not valid under the CA" "$T/err" || it_fail "another CA: rc=$rc $(cat "$T/err")"
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert "$T/ca/server.crt" --key "$T/ca/server.key" \
  --ca "$T/ca/server.crt" -f 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "not valid under the CA" "$T/err" || it_fail "host cert as CA: rc=$rc $(cat "$T/err")"
# The CA's own certificate as the host's: it matches its key and is valid
# under itself, so shadowd listened and every peer then refused it
# ("unsuitable certificate purpose"). (timeout: a shadowd that starts
# serves until stopped.) shadowctl refuses it as its identity too.
timeout 10 "$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert "$T/ca/ca.crt" --key "$T/ca/ca.key" \
  --ca "$T/ca/ca.crt" -f 2>"$T/err"; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "ca.crt.*is a CA certificate, not a host's" "$T/err" ||
  it_fail "CA certificate as the host's: rc=$rc $(cat "$T/err")"
"$CTL" host status 127.0.0.1:1 --cert "$T/ca/ca.crt" --key "$T/ca/ca.key" --ca "$T/ca/ca.crt" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "identity $T/ca/ca.crt: .*is a CA certificate" "$T/err" ||
  it_fail "shadowctl with the CA certificate as its identity: rc=$rc $(cat "$T/err")"
echo "ok identity mix-ups refused at start: $(cat "$T/err")"

start_shadowd A
PA=$PORT_A
it_check "ping" cli ping 127.0.0.1:$PA 2>/dev/null
sleep 0.1
# A client that ends its connection normally is not logged as an error.
grep -q "warning" "$LOG_A" && it_fail "normal close logged: $(cat "$LOG_A")"

# Full copy: the stored copy is byte-identical to the source (3.5 MiB: spans
# several frames and ends mid-frame).
head -c $((3 * 1048576 + 524288 + 17)) /dev/urandom >"$T/v1"
it_check "put v1" cli put 127.0.0.1:$PA $ID 1 "$T/v1" 2>"$T/err"
# Progress is reported per frame and ends at the full size.
grep -q "progress calls=4 done=3670033 total=3670033" "$T/err" || it_fail "progress: $(cat "$T/err")"
it_check "get v1" cli get 127.0.0.1:$PA $ID 1 "$T/got1" 2>/dev/null
cmp -s "$T/v1" "$T/got1" || it_fail "full copy differs from the source"
cli stats 127.0.0.1:$PA 2>/dev/null | grep -q "copies=1" || it_fail "stats does not count the copy"

# A full copy with the digest known up front (the origin's case) is stored
# byte-identical too.
it_check "put v1 known digest" cli put 127.0.0.1:$PA $ID 11 "$T/v1" "$(sha256sum "$T/v1" | cut -d' ' -f1)" 2>/dev/null
it_check "get v11" cli get 127.0.0.1:$PA $ID 11 "$T/got11" 2>/dev/null
cmp -s "$T/v1" "$T/got11" || it_fail "known-digest full copy differs"
it_check "delete v11" cli delete 127.0.0.1:$PA $ID 11 2>/dev/null

# A full copy whose announced SHA-256 does not match its bytes is rejected and
# the copy already stored under that version stays valid.
cli put 127.0.0.1:$PA $ID 1 "$T/v1" --bad-sha 2>"$T/err" && it_fail "full copy with a bad digest accepted"
grep -q "Bad message" "$T/err" || it_fail "bad-digest put: $(cat "$T/err")"
it_check "get v1 after bad put" cli get 127.0.0.1:$PA $ID 1 "$T/got1" 2>/dev/null
cmp -s "$T/v1" "$T/got1" || it_fail "valid copy changed by a rejected full copy"

# Ranged update: version 2 = version 1 with three ranges rewritten and the
# file extended; the result is byte-identical, and version 1 is kept.
cp "$T/v1" "$T/v2"
head -c 4096 /dev/urandom | dd of="$T/v2" bs=4096 seek=4096 oflag=seek_bytes iflag=fullblock conv=notrunc status=none
head -c 100000 /dev/urandom | dd of="$T/v2" bs=100000 seek=1048000 oflag=seek_bytes iflag=fullblock conv=notrunc status=none
head -c 8192 /dev/urandom >>"$T/v2"
SZ1=$(stat -c %s "$T/v1")
it_check "update v1->v2" cli update 127.0.0.1:$PA $ID 1 2 "$T/v2" "4096:4096,1048000:100000,$SZ1:8192" 2>/dev/null
it_check "get v2" cli get 127.0.0.1:$PA $ID 2 "$T/got2" 2>/dev/null
cmp -s "$T/v2" "$T/got2" || it_fail "ranged update result differs"
it_check "get v1 again" cli get 127.0.0.1:$PA $ID 1 "$T/got1b" 2>/dev/null
cmp -s "$T/v1" "$T/got1b" || it_fail "stale version 1 was not kept intact"

# A corrupt update (SHA-256 does not match the result) is rejected; no
# version 3 appears and version 2 stays valid.
cp "$T/v2" "$T/v3"; printf 'X' | dd of="$T/v3" bs=1 seek=10 iflag=fullblock conv=notrunc status=none
cli update 127.0.0.1:$PA $ID 2 3 "$T/v3" "10:1" --bad-sha 2>"$T/err" && it_fail "corrupt update accepted"
grep -q "Bad message" "$T/err" || it_fail "corrupt update: unexpected error $(cat "$T/err")"
cli list 127.0.0.1:$PA 2>/dev/null | grep -q " 3 " && it_fail "rejected version 3 is listed"
it_check "get v2 after corrupt" cli get 127.0.0.1:$PA $ID 2 "$T/got2b" 2>/dev/null
cmp -s "$T/v2" "$T/got2b" || it_fail "version 2 changed after a rejected update"

# A range that would write past the declared size, or at an offset beyond any
# file, is rejected; nothing is written outside the store, no temp is left.
cli rawrange 127.0.0.1:$PA $ID 2 4 $((1 << 40)) 41 100 2>"$T/err" && it_fail "range past size accepted"
grep -q "Numerical result out of range" "$T/err" || it_fail "range past size: $(cat "$T/err")"
cli rawrange 127.0.0.1:$PA $ID 2 5 $((1 << 62)) 41 100 2>/dev/null && it_fail "huge offset accepted"
grep -q "malformed\|bad frame" "$LOG_A" || it_fail "server did not log the malformed range frame"
# (a copy not yet synced by the deferred-durability pass carries its digest
# in an "unsynced." name; it is the same copy.)
ls "$T/store-A" | grep -Eqv "^(unsynced\.)?$ID-000000000000000[12](\.[0-9a-f]{64})?$" &&
  it_fail "unexpected files in store: $(ls "$T/store-A")"
[ "$(ls "$T" | grep -c .)" -gt 0 ] && ls "$T" | grep -q "^00112233" && it_fail "a copy escaped the store"
it_check "v2 still valid" cli get 127.0.0.1:$PA $ID 2 "$T/got2c" 2>/dev/null
cmp -s "$T/v2" "$T/got2c" || it_fail "version 2 changed after a rejected range"

# librsync over the wire: a copy of v1, then 1% of the file changed in
# scattered 4 KiB blocks; SIGNATURE of the copy + DELTA brings it to v2
# byte-identical, and the delta carries roughly the changed bytes.
ID2=ffeeddccbbaa99887766554433221100
head -c $((16 << 20)) /dev/urandom >"$T/r1"
cp "$T/r1" "$T/r2"
NBLK=41 # 41 x 4 KiB of 16 MiB = 1%
for i in $(seq 0 $((NBLK - 1))); do
  dd if=/dev/urandom of="$T/r2" bs=4096 seek=$(( (i * 97 + 13) % 4096 )) count=1 conv=notrunc 2>/dev/null
done
CHANGED=$((NBLK * 4096))
it_check "put r1" cli put 127.0.0.1:$PA $ID2 1 "$T/r1" 2>/dev/null
cli delta 127.0.0.1:$PA $ID2 1 2 "$T/r2" >"$T/dout" 2>"$T/err" || it_fail "delta: $(cat "$T/err")"
grep -q "connection usable" "$T/err" || it_fail "delta: connection unusable: $(cat "$T/err")"
it_check "get r2" cli get 127.0.0.1:$PA $ID2 2 "$T/gotr2" 2>/dev/null
cmp -s "$T/r2" "$T/gotr2" || it_fail "delta-updated copy differs from the origin's v2"
DBYTES=$(sed -n 's/.*delta_bytes=\([0-9]*\).*/\1/p' "$T/dout")
SBYTES=$(sed -n 's/.*sig_bytes=\([0-9]*\).*/\1/p' "$T/dout")
echo "librsync over TLS: changed=$CHANGED delta_bytes=$DBYTES signature_bytes=$SBYTES ($(cat "$T/dout"))"
# Delta <= 3x the changed bytes + 16 KiB of headers and COPY commands.
[ -n "$DBYTES" ] && [ "$DBYTES" -ge "$CHANGED" ] && [ "$DBYTES" -lt $((3 * CHANGED + 16384)) ] ||
  it_fail "delta size $DBYTES not close to the $CHANGED changed bytes"
# A signature of a copy that does not exist is an error; the connection stays usable.
cli signature 127.0.0.1:$PA $ID2 9 "$T/sig" 2>"$T/err" && it_fail "signature of a missing copy"
grep -q "connection usable" "$T/err" || it_fail "signature: $(cat "$T/err")"

# A corrupt delta (bytes flipped in the stream) is rejected: no version 3,
# version 2 stays valid and readable, and the connection stays usable.
cp "$T/r2" "$T/r3"
dd if=/dev/urandom of="$T/r3" bs=4096 seek=100 count=4 conv=notrunc 2>/dev/null
cli delta 127.0.0.1:$PA $ID2 2 3 "$T/r3" --corrupt >/dev/null 2>"$T/err" && it_fail "corrupt delta accepted"
grep -q "Bad message\|Protocol error" "$T/err" && grep -q "connection usable" "$T/err" ||
  it_fail "corrupt delta: $(cat "$T/err")"
echo "corrupt delta rejected: $(grep "sync_cli:" "$T/err")"
grep -q "DELTA.*refused" "$LOG_A" || it_fail "server did not log the refused delta: $(tail -3 "$LOG_A")"
cli get 127.0.0.1:$PA $ID2 3 "$T/gotr3" 2>/dev/null && it_fail "version 3 exists after a corrupt delta"
it_check "r2 after corrupt delta" cli get 127.0.0.1:$PA $ID2 2 "$T/gotr2b" 2>/dev/null
cmp -s "$T/r2" "$T/gotr2b" || it_fail "version 2 changed after a corrupt delta"
# A delta made for another basis is rejected, the basis stays valid: from
# v2's signature applied to unrelated content of the same size (the result's
# SHA-256 mismatches), and to a copy of another size (-ESTALE).
head -c $((16 << 20)) /dev/urandom >"$T/other"
it_check "put other" cli put 127.0.0.1:$PA $ID2 8 "$T/other" 2>/dev/null
cli delta 127.0.0.1:$PA $ID2 8 3 "$T/r3" --sig-of=2 >/dev/null 2>"$T/err" && it_fail "delta for another basis accepted"
grep -q "connection usable" "$T/err" || it_fail "wrong-basis delta: $(cat "$T/err")"
echo "wrong-basis delta rejected: $(grep "sync_cli:" "$T/err")"
it_check "other after wrong-basis delta" cli get 127.0.0.1:$PA $ID2 8 "$T/gotother" 2>/dev/null
cmp -s "$T/other" "$T/gotother" || it_fail "the wrong basis changed"
head -c 100000 /dev/urandom >"$T/small"
it_check "put small" cli put 127.0.0.1:$PA $ID2 7 "$T/small" 2>/dev/null
cli delta 127.0.0.1:$PA $ID2 7 3 "$T/r3" --sig-of=2 >/dev/null 2>"$T/err" && it_fail "delta for another size accepted"
# (ESTALE crosses the wire, so the origin knows to send a full copy instead)
grep -q "connection usable" "$T/err" && grep -q "Stale file handle" "$T/err" && grep -q "DELTA_BEGIN of a copy refused: Stale file handle" "$LOG_A" ||
  it_fail "wrong-size basis: $(cat "$T/err") $(tail -2 "$LOG_A")"
cli get 127.0.0.1:$PA $ID2 3 "$T/gotr3" 2>/dev/null && it_fail "version 3 exists after wrong-basis deltas"
it_check "r2 after wrong-basis delta" cli get 127.0.0.1:$PA $ID2 2 "$T/gotr2c" 2>/dev/null
cmp -s "$T/r2" "$T/gotr2c" || it_fail "version 2 changed after a wrong-basis delta"
# The same delta, intact, then applies.
it_check "delta r3" cli delta 127.0.0.1:$PA $ID2 2 3 "$T/r3" >/dev/null 2>&1
it_check "get r3" cli get 127.0.0.1:$PA $ID2 3 "$T/gotr3" 2>/dev/null
cmp -s "$T/r3" "$T/gotr3" || it_fail "delta-updated copy differs from the origin's v3"

# A client with a certificate from another CA is refused and logged; the
# server keeps serving others.
"$CLI" --cert "$T/evil/client.crt" --key "$T/evil/client.key" --ca "$T/ca/ca.crt" \
  ping 127.0.0.1:$PA 2>/dev/null && it_fail "client from another CA accepted"
# (the refusal is logged by shadowd's connection thread, maybe after the
# client has gone: waited for, up to 5 s)
logged() { grep -q "$1" "$LOG_A"; }
IT_WAIT_SHOW='cat "$LOG_A"' it_wait_for "wrong-CA refusal not logged" 5 logged "refused connection.*certificate"
# A plaintext client is refused before any protocol byte is parsed, logged.
it_check "plaintext refused" "$CLI" plain 127.0.0.1:$PA >/dev/null
it_wait_for "plaintext refusal not logged" 5 logged "not a TLS handshake"
# A TLS client without a certificate is refused and logged.
openssl s_client -connect 127.0.0.1:$PA -tls1_3 -CAfile "$T/ca/ca.crt" -quiet </dev/null >/dev/null 2>&1
it_wait_for "no-certificate refusal not logged" 5 logged "refused connection.*peer did not return a certificate"
# TLS 1.2, even with a valid certificate, is refused and logged.
openssl s_client -connect 127.0.0.1:$PA -tls1_2 -CAfile "$T/ca/ca.crt" -cert "$T/ca/client.crt" \
  -key "$T/ca/client.key" -quiet </dev/null >/dev/null 2>&1
it_wait_for "TLS 1.2 refusal not logged" 5 logged "refused connection.*unsupported protocol"
# Oversized and garbage frames over an authenticated connection: closed, logged.
it_check "oversized frame closed" cli oversized 127.0.0.1:$PA >/dev/null 2>&1
it_check "garbage frame closed" cli garbage 127.0.0.1:$PA >/dev/null 2>&1
it_wait_for "oversized frame not logged" 5 logged "malformed frame: Message too long"
it_wait_for "garbage frame not logged" 5 logged "malformed frame: Protocol error"
it_check "still serving after refusals" cli ping 127.0.0.1:$PA 2>/dev/null

# Load report: counts the requests served.
cli load 127.0.0.1:$PA 2>/dev/null | grep -q "requests=[1-9]" || it_fail "load reports no requests"

# A peer that stops answering (SIGSTOP) makes a call fail within its deadline,
# and a fallback read is served by the next copy within the deadline.
start_shadowd B
PB=$PORT_B
it_check "put v2 to B" cli put 127.0.0.1:$PB $ID 2 "$T/v2" 2>/dev/null
# Times are measured inside the client (elapsed_ms: the call, not process
# start-up); the wall clock only guards against a hang.
elapsed() { sed -n 's/^elapsed_ms=//p' "$1"; }
kill -STOP "$PID_B"
t0=$(ms)
cli --timeout 800 ping 127.0.0.1:$PB 2>"$T/err" && it_fail "stopped peer answered"
el=$(elapsed "$T/err"); dt=$(( $(ms) - t0 ))
[ -n "$el" ] && [ "$el" -lt 1800 ] && [ $dt -lt 8000 ] ||
  it_fail "call to a stopped peer took ${el} ms (deadline 800; wall ${dt} ms)"
grep -q "timed out" "$T/err" || it_fail "stopped peer: $(cat "$T/err")"
echo "stopped peer: call failed after ${el} ms (deadline 800)"
t0=$(ms)
out=$(cli --timeout 800 fallback $ID 2 4096 65536 "$T/fb" 127.0.0.1:$PB 127.0.0.1:$PA 2>"$T/err") ||
  it_fail "fallback read failed"
el=$(elapsed "$T/err"); dt=$(( $(ms) - t0 ))
[ "$out" = "copy=1" ] || it_fail "fallback read answered by '$out'"
[ "$el" -lt 2500 ] && [ $dt -lt 8000 ] || it_fail "fallback read took ${el} ms (wall ${dt} ms)"
echo "stopped peer: fallback read served by copy 1 after ${el} ms"
cmp -s "$T/fb" <(dd if="$T/v2" bs=4096 skip=1 count=16 status=none) || it_fail "fallback data differs"
kill -CONT "$PID_B"

# Same with a slow peer (test-only injected latency).
start_shadowd C --test-inject-latency-ms 5000
t0=$(ms)
out=$(cli --timeout 600 fallback $ID 1 0 1000 "$T/fb2" 127.0.0.1:$PORT_C 127.0.0.1:$PA 2>"$T/err") ||
  it_fail "fallback read past a slow peer failed"
el=$(elapsed "$T/err"); dt=$(( $(ms) - t0 ))
[ "$out" = "copy=1" ] && [ "$el" -lt 2300 ] && [ $dt -lt 8000 ] ||
  it_fail "slow-peer fallback: '$out' in ${el} ms (wall ${dt} ms)"
echo "slow peer (5 s injected): fallback read served by copy 1 after ${el} ms (deadline 600)"
cmp -s "$T/fb2" <(head -c 1000 "$T/v1") || it_fail "slow-peer fallback data differs"
kill -9 "$PID_C" # its connection thread sleeps the injected 5 s; no need to wait

# --capacity-read throttles reads: 3.5 MiB at 8 MB/s (0.8 MB burst) cannot
# take less than ~0.36 s (unthrottled it takes well under that).
start_shadowd D --capacity-read 8
it_check "put v1 to D" cli put 127.0.0.1:$PORT_D $ID 1 "$T/v1" 2>/dev/null
cli get 127.0.0.1:$PORT_D $ID 1 "$T/gotD" 2>"$T/err" || it_fail "throttled get failed"
el=$(sed -n 's/elapsed_ms=//p' "$T/err")
[ "$el" -ge 300 ] || it_fail "--capacity-read 8 served 3.5 MiB in ${el} ms"
cmp -s "$T/v1" "$T/gotD" || it_fail "throttled copy differs"
# VERIFY re-hashes a copy from the shadowd's disk. Under --capacity-read 2
# a 5 MiB copy takes ~2.5 s to re-hash, longer than the client's 1 s
# per-frame deadline (the mount's): progress frames keep the call alive; a
# read on another connection meanwhile waits no more than a big read would.
# A byte flipped on disk (size and mtime kept) is a mismatch: the copy is
# deleted there (not listed, not readable), and a second VERIFY finds none.
start_shadowd G --capacity-read 2
head -c $((5 * 1024 * 1024)) /dev/urandom >"$T/v5"
it_check "put v5 to G" cli put 127.0.0.1:$PORT_G $ID 1 "$T/v5" 2>/dev/null
sleep 0.3 # the burst refills
cli --timeout 1000 verify 127.0.0.1:$PORT_G $ID 1 "$T/v5" >"$T/vout" 2>"$T/verr" &
vpid=$!
sleep 0.5
cli --timeout 3000 read 127.0.0.1:$PORT_G $ID 1 0 65536 "$T/rG" 2>"$T/err" ||
  it_fail "read during a VERIFY: $(cat "$T/err")"
rel=$(sed -n 's/elapsed_ms=//p' "$T/err")
wait $vpid || it_fail "VERIFY of an intact copy: $(cat "$T/verr")"
vel=$(sed -n 's/elapsed_ms=//p' "$T/verr")
echo "VERIFY of 5 MiB at 2 MB/s: ${vel} ms (per-frame deadline 1000 ms); a 64 KiB read meanwhile: ${rel} ms"
grep -qx "hashed=$((5 * 1024 * 1024))" "$T/vout" || it_fail "VERIFY hashed: $(cat "$T/vout")"
[ "$vel" -ge 1500 ] || it_fail "VERIFY took ${vel} ms: not throttled"
[ "$rel" -le 1500 ] || it_fail "a read waited ${rel} ms behind a VERIFY"
cmp -s "$T/rG" <(head -c 65536 "$T/v5") || it_fail "read during a VERIFY: wrong bytes"
copy=$(ls "$T/store-G" | grep "$ID-0*1" | head -1)
[ -n "$copy" ] || it_fail "no copy file in the store: $(ls "$T/store-G")"
f="$T/store-G/$copy" mt=$(stat -c %y "$T/store-G/$copy")
b=$(od -An -tu1 -j 3000000 -N1 "$f" | tr -d ' ')
printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=3000000 conv=notrunc status=none
touch -d "$mt" "$f"
[ "$(stat -c %s "$f")" = $((5 * 1024 * 1024)) ] || it_fail "the flip changed the size"
cmp -s "$f" "$T/v5" && it_fail "the byte was not flipped"
cli verify 127.0.0.1:$PORT_G $ID 1 "$T/v5" 2>"$T/err" && it_fail "VERIFY passed a damaged copy"
grep -q "Bad message" "$T/err" || it_fail "VERIFY of a damaged copy: $(cat "$T/err")"
grep -q "failed its SHA-256 check: deleted" "$LOG_G" || it_fail "mismatch not logged: $(cat "$LOG_G")"
cli list 127.0.0.1:$PORT_G 2>/dev/null | grep -q "^$ID 1 " && it_fail "damaged copy still listed"
cli read 127.0.0.1:$PORT_G $ID 1 0 100 "$T/rG2" 2>/dev/null && it_fail "damaged copy still readable"
cli verify 127.0.0.1:$PORT_G $ID 1 "$T/v5" 2>"$T/err" && it_fail "VERIFY of a deleted copy passed"
grep -q "No such file" "$T/err" || it_fail "VERIFY of a missing copy: $(cat "$T/err")"
it_check "ping after VERIFY" cli ping 127.0.0.1:$PORT_G 2>/dev/null
kill "$PID_G"
# A very slow host (--capacity-read 0.1, i.e. 100 KB/s): its re-hash takes
# its bytes in pieces of 100 ms worth, so progress frames still come within
# the 1 s per-frame deadline (256 KiB pieces took 2.6 s each: -ETIMEDOUT).
start_shadowd S --capacity-read 0.1
head -c $((300 * 1024)) /dev/urandom >"$T/v300k"
it_check "put v300k to S" cli put 127.0.0.1:$PORT_S $ID 1 "$T/v300k" 2>/dev/null
cli --timeout 1000 verify 127.0.0.1:$PORT_S $ID 1 "$T/v300k" >"$T/vout" 2>"$T/verr" ||
  it_fail "VERIFY on a 100 KB/s host: $(cat "$T/verr")"
vel=$(sed -n 's/elapsed_ms=//p' "$T/verr")
echo "VERIFY of 300 KiB at 0.1 MB/s: ${vel} ms (per-frame deadline 1000 ms)"
grep -qx "hashed=$((300 * 1024))" "$T/vout" || it_fail "VERIFY hashed (slow host): $(cat "$T/vout")"
[ "$vel" -ge 1500 ] || it_fail "VERIFY on a 100 KB/s host took ${vel} ms: not throttled"
kill "$PID_S"
# --test-inject-error-rate 1 fails every request with EIO (and says so).
start_shadowd E --test-inject-error-rate 1
cli ping 127.0.0.1:$PORT_E 2>"$T/err" && it_fail "injected error not returned"
grep -q "Input/output error" "$T/err" || it_fail "injected error: $(cat "$T/err")"
grep -q "TEST FAULT INJECTION ON" "$LOG_E" || it_fail "fault injection not announced in the log"

# Connections are bounded (--max-conns): one more is refused and logged,
# and a slot frees when a connection ends.
start_shadowd F --max-conns 2
for k in 1 2; do
  cli hold 127.0.0.1:$PORT_F 3000 >"$T/hold$k" 2>/dev/null &
  IT_PIDS+=($!)
done
for _ in $(seq 100); do grep -q holding "$T/hold1" && grep -q holding "$T/hold2" && break; sleep 0.05; done
grep -q holding "$T/hold2" || it_fail "holders did not connect"
cli --timeout 1000 ping 127.0.0.1:$PORT_F 2>/dev/null && it_fail "connection over --max-conns accepted"
grep -q "too many connections (2)" "$LOG_F" || it_fail "over-limit refusal not logged"
wait "${IT_PIDS[@]: -2}"
it_check "ping after holders left" cli ping 127.0.0.1:$PORT_F 2>/dev/null

# Delete removes one version; the other stays.
it_check "delete v1" cli delete 127.0.0.1:$PA $ID 1 2>/dev/null
cli get 127.0.0.1:$PA $ID 1 "$T/gone" 2>/dev/null && it_fail "deleted version still readable"
cli list 127.0.0.1:$PA 2>/dev/null | grep -q "^$ID 2 " || it_fail "version 2 lost by delete of 1"

# Stopped with a backlog of peers that left before their handshake, then
# resumed: each is refused (its thread may end before the accept loop is
# done with it: a use-after-free once), and the shadowd serves on.
kill -STOP "$PID_A"
for _ in $(seq 40); do timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PA" 2>/dev/null; done
kill -CONT "$PID_A"
sleep 1
kill -0 "$PID_A" 2>/dev/null || it_fail "shadowd died after a backlog of departed peers"
it_check "ping after the backlog" cli ping 127.0.0.1:$PA 2>/dev/null

# Copy expiry: with --expire-hours 0.002 (7.2 s), a copy read every 0.4 s
# stays, one nobody uses is deleted (logged) about 7.2 s after the start;
# copies there at the start count from the start.
"$SHADOWD" --store "$T/x" --listen 127.0.0.1:0 --cert a --key b --ca c --expire-hours -1 2>"$T/err"; rc=$?
[ $rc = 2 ] && grep -q "expire-hours" "$T/err" || it_fail "negative --expire-hours: rc=$rc $(cat "$T/err")"
head -c 5000 /dev/urandom >"$T/e1"
start_shadowd X --expire-hours 0.002
PE=$PORT_X IDX=ffeeddccbbaa99887766554433221100
it_check "put the copy in use" cli put 127.0.0.1:$PE $ID 1 "$T/e1" 2>/dev/null
it_check "put the orphan" cli put 127.0.0.1:$PE $IDX 1 "$T/e1" 2>/dev/null
t0=$(ms)
orphan_gone() { ! cli list 127.0.0.1:$PE 2>/dev/null | grep -q "^$IDX "; }
until orphan_gone; do
  cli read 127.0.0.1:$PE $ID 1 0 100 "$T/e1.out" >/dev/null 2>&1 || it_fail "read of the copy in use"
  [ $(($(ms) - t0)) -lt 20000 ] || it_fail "the orphan was not deleted within 20 s: $(cat "$LOG_X")"
  sleep 0.4
done
echo "orphan deleted $(($(ms) - t0)) ms after its upload (expiry 7200 ms)"
[ $(($(ms) - t0)) -ge 6500 ] || it_fail "the orphan was deleted too early"
grep -q "copy $IDX-0000000000000001 (5000 bytes) unused for 7.2 s: deleted" "$LOG_X" ||
  it_fail "the expiry was not logged: $(cat "$LOG_X")"
for _ in $(seq 20); do
  cli read 127.0.0.1:$PE $ID 1 0 100 "$T/e1.out" >/dev/null 2>&1 || it_fail "the copy in use expired"
  sleep 0.4
done
cli list 127.0.0.1:$PE 2>/dev/null | grep -q "^$ID 1 5000$" || it_fail "the copy in use is not listed"
# The store is this shadowd's alone (refused after a 5 s wait).
"$SHADOWD" -f --store "$T/store-X" --listen 127.0.0.1:0 --cert "$T/ca/server.crt" \
  --key "$T/ca/server.key" --ca "$T/ca/ca.crt" 2>"$T/err"; rc=$?
[ $rc != 0 ] && grep -q "in use by another shadowd or shadowfs mount" "$T/err" ||
  it_fail "a second shadowd opened a store in use: rc=$rc $(cat "$T/err")"

# Without -f: the command returns 0 once the daemon listens, and the
# daemon has left the terminal (stderr /dev/null); its threads run (the
# copy expiry deletes an unused copy: a thread started before the fork
# would be lost).
"$SHADOWD" --store "$T/store-daemon" --listen 127.0.0.1:0 --cert "$T/ca/server.crt" \
  --key "$T/ca/server.key" --ca "$T/ca/ca.crt" --expire-hours 0.0003 2>"$T/daemon.err"; rc=$?
[ $rc = 0 ] || it_fail "shadowd (daemon): status $rc: $(cat "$T/daemon.err")"
dport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/daemon.err")
dpid=$(pgrep -f "^$SHADOWD --store $T/store-daemon ")
[ -n "$dport" ] && [ -n "$dpid" ] || it_fail "shadowd (daemon): no port or pid: $(cat "$T/daemon.err")"
IT_PIDS+=("$dpid")
it_check "ping the daemon" cli ping 127.0.0.1:$dport 2>/dev/null
[ "$(readlink "/proc/$dpid/fd/2")" = /dev/null ] || it_fail "shadowd (daemon) kept the terminal"
it_check "put to the daemon" cli put 127.0.0.1:$dport $ID 1 "$T/e1" 2>/dev/null
daemon_empty() { [ -z "$(cli list 127.0.0.1:$dport 2>/dev/null)" ]; }
it_wait_for "the daemon's copy expiry did not run" 10 daemon_empty
kill -TERM "$dpid"

# SIGTERM: clean shutdown, exit status 0.
kill -TERM "$PID_A"
for _ in $(seq 100); do kill -0 "$PID_A" 2>/dev/null || break; sleep 0.05; done
kill -0 "$PID_A" 2>/dev/null && it_fail "shadowd did not stop on SIGTERM"
wait "$PID_A"; rc=$?
[ $rc = 0 ] || it_fail "shadowd exit status $rc after SIGTERM"
grep -q "stopped" "$LOG_A" || it_fail "no shutdown message"
# No sanitizer report from any shadowd (ASan builds).
grep -l "Sanitizer" "$T"/*.log && it_fail "sanitizer report in a shadowd log"
echo "PASS sync_shadowd"
