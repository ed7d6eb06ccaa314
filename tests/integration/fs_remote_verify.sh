#!/usr/bin/env bash
# A remote copy damaged on its shadowd's disk stops serving: a real shadowd
# on loopback (mutual TLS, certificates from shadowctl ca) holds the copy of
# a pinned file of a real mount (cache=never, shadow_verify=0.5).
#  - one byte of the copy file in the shadowd's store is flipped, its size
#    and mtime kept (nothing but the content tells: the SHA-256 path);
#  - within a few verify periods the shadowd's re-hash (VERIFY) finds it:
#    the shadowd logs the mismatch and deletes the copy, the mount warns
#    once ("SHA-256 mismatch") and stops serving it;
#  - a fresh full copy is made on the shadowd (its received bytes grow by
#    the file's size; the store's file equals the origin again) and serves
#    reads, which return the right bytes;
#  - the shadowd restarts: the broken control connection is not taken for
#    a shadowd without VERIFY (no such warning), the copy serves again;
#  - the mount exits cleanly (status 0; sanitizer reports fail it);
#  - with a shadowd that predates VERIFY and VERSIONS (--test-no-verify: it
#    closes the connection on them), a second mount warns once about each,
#    copies there by listing the whole store, keeps the copy serving
#    through the listing check, and a copy removed there is found and made
#    again;
#  - a re-hash under way gives way (a shadowd throttled to 2 MB/s re-hashing
#    a 24 MiB copy, ~12 s): a small file pinned meanwhile is copied within
#    a few seconds, the re-hash made again after it, and an unmount during
#    it returns within a few seconds; the shadowd logs that the re-hash
#    stopped when the mount went away.
# rollout=100: the copy takes every read at once; remote_timeout=3 s: a read
# that times out under load would also stop the copy serving, which is not
# what this test is about.
# Usage: fs_remote_verify.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_remote_verify)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
VERIFY_S=0.5

it_ca "$CTL" "$T/ca" "sd1 sd2 sd3" "origin operator"
TLS=(--certs "$T/ca" --name operator)

it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0
H1=127.0.0.1:$IT_SD_PORT P1=$IT_SD_PORT PID1=$IT_SD_PID

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
SIZE=$(stat -c %s "$T/expect")
# The mount's log (warnings go to stderr in the foreground) in a file.
wrapper() { # LOG: a shadowfs that logs to LOG
  printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$1" >"$T/shadowfs"
  chmod +x "$T/shadowfs"
}
wrapper "$T/mount.log"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,shadow_verify=$VERIFY_S,remote_timeout=3000,rollout=100"

IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
wait_for() { it_wait_for "$@"; }
serving() { state_of | grep -q "copy=$H:v[0-9]*:serving"; }
H=$H1
stat_of() { # FIELD: a number from shadowctl host status --json
  "$CTL" host status "$H" "${TLS[@]}" --json | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
# The copy's file in the store: <id>-<version>, or unsynced.<id>-<version>.<sha>
# in the first half second after its commit.
STORE=$T/store1
copy_file() { ls "$STORE" | grep -E '^(unsynced\.)?[0-9a-f]{32}-[0-9a-f]{16}(\.[0-9a-f]{64})?$' | head -1; }
durable() { ls "$STORE" | grep -qE '^[0-9a-f]{32}-[0-9a-f]{16}$'; }
warnings() { grep -c "failed its SHA-256 check (SHA-256 mismatch)" "$T/mount.log"; }

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
wait_for "no serving copy on $H1" 10 serving
wait_for "the copy is not durable on $H1" 5 durable
cmp -s "$mnt/data" "$T/expect" || it_fail "read before the damage"
f="$T/store1/$(copy_file)"
cmp -s "$f" "$T/expect" || it_fail "the copy in the store differs from the origin before the damage"
# Serving and checked by VERIFY for a few periods: no false alarm.
sleep 2
serving || it_fail "the intact copy stopped serving: $(state_of)"
[ "$(warnings)" = 0 ] || it_fail "an intact copy failed its check: $(cat "$T/mount.log")"

# Flip one byte in the middle, keep size and mtime. The shadowd may find it
# (and the mount replace the copy, same name) right after the flip: the file
# is looked at at once, and only while nothing has found it yet.
recv0=$(stat_of received_bytes)
mt=$(stat -c %y "$f")
off=$((SIZE / 2))
b=$(od -An -tu1 -j $off -N1 "$f" | tr -d ' ')
t0=$(date +%s%N)
# (nocreat, -c: once the shadowd has deleted the damaged copy, a file made
# under its name would be taken for a copy of that version.)
printf "\\$(printf %o $(((b + 1) % 256)))" | dd of="$f" bs=1 seek=$off conv=notrunc,nocreat status=none
touch -c -d "$mt" "$f"
after="$(stat -c '%s %y' "$f" 2>/dev/null) $(od -An -tu1 -j $off -N1 "$f" 2>/dev/null | tr -d ' ')"
grep -q "failed its SHA-256 check" "$T/sd1.log" ||
  [ "$after" = "$SIZE $mt $(((b + 1) % 256))" ] || it_fail "the flip: size, mtime, byte are '$after', want '$SIZE $mt $(((b + 1) % 256))'"

# Found by the shadowd's re-hash; the copy stops serving at once.
found() { # within 10 s
  for _ in $(seq 200); do [ "$(warnings)" -ge 1 ] && return 0; sleep 0.05; done
  return 1
}
found || it_fail "the damaged copy was not found after 10 s: $(state_of); mount log: $(cat "$T/mount.log"); shadowd log: $(cat "$T/sd1.log")"
el=$((($(date +%s%N) - t0) / 1000000))
echo "damage found after $el ms (shadow_verify=$VERIFY_S s; load $(cut -d' ' -f1-3 /proc/loadavg)): $(grep "SHA-256" "$T/mount.log")"
[ "$el" -le 5000 ] || it_fail "the damage took $el ms to find (more than 10 verify periods)"
grep -q "failed its SHA-256 check: deleted" "$T/sd1.log" || it_fail "the shadowd did not log the mismatch: $(cat "$T/sd1.log")"
cmp -s "$mnt/data" "$T/expect" || it_fail "wrong bytes read after the damage was found"

# A fresh full copy is made and serves the right bytes.
fresh() { serving && [ $(($(stat_of received_bytes) - recv0)) -ge "$SIZE" ]; }
wait_for "no fresh copy on $H1" 10 fresh
echo "fresh copy: $(state_of)"
state_of | grep -q "copy=$H1:v1:serving:.*:sync=full:sent=$SIZE" || it_fail "the fresh copy is not a full one: $(state_of)"
wait_for "the fresh copy is not durable" 5 durable
cmp -s "$STORE/$(copy_file)" "$T/expect" || it_fail "the fresh copy in the store differs from the origin"
r0=$(stat_of reads)
for _ in 1 2 3 4 5; do cmp -s "$mnt/data" "$T/expect" || it_fail "wrong bytes from the fresh copy"; done
[ "$(stat_of reads)" -gt "$r0" ] || it_fail "the fresh copy served no read"
sleep 1.5 # a few more verify periods: the fresh copy passes, one warning in all
serving || it_fail "the fresh copy stopped serving: $(state_of)"
[ "$(warnings)" = 1 ] || it_fail "$(warnings) warnings for one damaged copy: $(cat "$T/mount.log"); shadowd log: $(cat "$T/sd1.log")"

# The shadowd restarts (same port and store): the mount's control
# connection breaks (the next STATS or VERIFY on it finds out); that is not
# taken for a shadowd without VERIFY.
kill "$PID1"; wait "$PID1" 2>/dev/null
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1b.log" "$P1"
sleep 3 # a few verify periods (and the watcher's reconnection)
wait_for "the copy does not serve after the restart" 10 serving
grep -q "does not take VERIFY" "$T/mount.log" && it_fail "a restarted shadowd taken for one without VERIFY: $(cat "$T/mount.log")"
[ "$(warnings)" = 1 ] || it_fail "a warning after the restart: $(cat "$T/mount.log")"
cmp -s "$mnt/data" "$T/expect" || it_fail "wrong bytes after the restart"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"

# A shadowd without VERIFY: the listing check instead, one warning.
it_shadowd "$SHADOWD" "$T/store2" "$T/ca" sd2 "$T/sd2.log" 0 --test-no-verify
H=127.0.0.1:$IT_SD_PORT STORE=$T/store2
state2=$(it_tmpdir state2)
wrapper "$T/mount2.log"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state2,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,shadow_verify=$VERIFY_S,remote_timeout=3000,rollout=100"
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin (second mount)"
wait_for "no serving copy on $H" 10 serving
wait_for "the copy is not durable on $H" 5 durable
sleep 2 # a few verify periods
serving || it_fail "the copy on a shadowd without VERIFY stopped serving: $(state_of); $(cat "$T/mount2.log")"
n=$(grep -c "$H does not take VERIFY" "$T/mount2.log")
[ "$n" = 1 ] || it_fail "$n warnings about a shadowd without VERIFY: $(cat "$T/mount2.log")"
n=$(grep -c "$H does not take VERSIONS" "$T/mount2.log")
[ "$n" = 1 ] || it_fail "$n warnings about a shadowd without VERSIONS: $(cat "$T/mount2.log")"
grep -q "malformed frame" "$T/sd2.log" || it_fail "the shadowd did not refuse VERIFY: $(cat "$T/sd2.log")"
rm "$STORE/$(copy_file)"
gone_found() { grep -q "failed its SHA-256 check (No such file or directory)" "$T/mount2.log"; }
wait_for "a copy removed on a shadowd without VERIFY was not found" 10 gone_found
wait_for "no new copy on $H" 10 durable
serving || wait_for "the new copy does not serve" 10 serving
cmp -s "$mnt/data" "$T/expect" || it_fail "wrong bytes on the second mount"
it_umount "$mnt"

# A re-hash under way gives way: a copy waiting behind it, then an unmount.
it_shadowd "$SHADOWD" "$T/store3" "$T/ca" sd3 "$T/sd3.log" 0 --capacity-read 2
H=127.0.0.1:$IT_SD_PORT STORE=$T/store3
head -c $((24 << 20)) /dev/urandom >"$backing/big"
head -c 4096 /dev/urandom >"$backing/small"
state3=$(it_tmpdir state3)
wrapper "$T/mount3.log"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state3,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,shadow_verify=$VERIFY_S,remote_timeout=3000,rollout=100"
IT_WATCH=$mnt/big
setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin big"
serving_of() { it_shadow_state "$1" | grep -q "copy=$H:v[0-9]*:serving"; }
wait_for "no serving copy of big on $H" 30 serving_of "$mnt/big"
sleep 2 # the first re-hash of big starts within a verify period: ~12 s at 2 MB/s
t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/small" || it_fail "pin small"
IT_WATCH=$mnt/small
wait_for "the copy of small waited for the re-hash of big" 6 serving_of "$mnt/small"
echo "small copied after $((($(date +%s%N) - t0) / 1000000)) ms during the re-hash of big"
gave_way() { grep -q "re-hash of big on $H cancelled" "$T/mount3.log"; }
wait_for "no cancelled re-hash of big: $(cat "$T/mount3.log")" 3 gave_way
sleep 2.5 # the owed re-hash of big starts again once the mover is idle (a tick or two)
t0=$(date +%s%N)
fusermount3 -u "$mnt" || it_fail "fusermount3 -u (re-hash under way)"
wait "$IT_PID"; rc=$?
el=$((($(date +%s%N) - t0) / 1000000))
echo "unmount during a re-hash: $el ms"
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc during a re-hash"
[ "$el" -le 5000 ] || it_fail "the unmount waited $el ms for a re-hash of a 24 MiB copy at 2 MB/s"
# Two re-hashes stopped by the mount: the one that gave way to small, then
# the one under way at the unmount.
stopped() { [ "$(grep -c "re-hash of copy .* stopped after" "$T/sd3.log")" -ge 2 ]; }
wait_for "the shadowd did not log two stopped re-hashes: $(cat "$T/sd3.log")" 5 stopped
grep -q "failed its SHA-256 check" "$T/sd3.log" "$T/mount3.log" && it_fail "a stopped re-hash taken for damage: $(cat "$T/sd3.log" "$T/mount3.log")"
logs=("$T"/mount.log "$T"/mount2.log "$T"/mount3.log "$T"/sd1.log "$T"/sd1b.log "$T"/sd2.log "$T"/sd3.log)
grep -l "Sanitizer" "${logs[@]}" && it_fail "sanitizer report in a log: $(grep -A40 Sanitizer "${logs[@]}")"
echo "fs_remote_verify: ok"
