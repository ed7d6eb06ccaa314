#!/usr/bin/env bash
# A remote copy truncated on its shadowd's disk (its store damaged, a
# stray truncate) must not shorten the file for the mount's readers: a
# real shadowd on loopback holds the copy of a pinned file of a real mount
# (cache=never, rollout=100: the copy takes every read at once;
# shadow_verify=3600: no re-hash during the test, only the reads tell).
#  - the copy file in the shadowd's store is cut to 1,000,000 of its
#    3 MiB. Its READs came back short before the end of the file and were
#    answered as the end of the file (cat got 1.7 MB, cmp "EOF"). Now
#    whole-file reads (4 at a time, until one came to the copy) return
#    every byte (from the origin), and the damage is caught and said:
#    MODE current: by the shadowd, whose READ compares the copy's stamp
#    (size, ctime) with the one it stored (refused, the copy deleted);
#    MODE no-stamp-check (a shadowd from before that check, which serves
#    the cut copy): by the mount's router, for a read that comes back short
#    before the size the copy was made at; the copy stops serving;
#  - the copy is made again at the file's size and serves (no-stamp-check:
#    the shadowd still lists the damaged copy under the file's version,
#    which the re-sync took as current: nothing sent, the short copy
#    published again; now a listed size other than the file's is no copy);
#  - the mount exits cleanly (status 0; sanitizer reports fail it).
# Usage: fs_remote_short.sh SHADOWFS SHADOWD SHADOWCTL current|no-stamp-check
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3 MODE=${4:-current}
case $MODE in
current) SD_FLAGS=() ;;
no-stamp-check) SD_FLAGS=(--test-no-stamp-check) ;;
*) it_fail "unknown mode $MODE" ;;
esac
T=$(it_tmpdir fs_remote_short)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)

it_ca "$CTL" "$T/ca" sd1 "origin operator"
TLS=(--certs "$T/ca" --name operator)
it_shadowd "$SHADOWD" "$T/store1" "$T/ca" sd1 "$T/sd1.log" 0 "${SD_FLAGS[@]}"
H1=127.0.0.1:$IT_SD_PORT

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
SIZE=$(stat -c %s "$T/expect")
# The mount's log (warnings go to stderr in the foreground) in a file.
printf '#!/bin/sh\nexec "%s" "$@" 2>"%s"\n' "$SHADOWFS" "$T/mount.log" >"$T/shadowfs"
chmod +x "$T/shadowfs"
it_mount "$T/shadowfs" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$H1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,shadow_verify=3600,remote_timeout=3000,rollout=100"

IT_WATCH=$mnt/data
state_of() { it_shadow_state "$mnt/data"; }
serving() { state_of | grep -q "copy=$H1:v[0-9]*:serving"; }
listed_size() { "$CTL" host list "$H1" "${TLS[@]}" | awk 'NR > 1 { print $NF }'; }
copy_file() { find "$T/store1" -maxdepth 1 -type f ! -name 'tmp.*' | head -1; }
# The copy file once durable (its real name, no "unsynced." prefix).
durable() { [ -n "$(copy_file)" ] && [[ "$(basename "$(copy_file)")" != unsynced.* ]]; }

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
it_wait_for "no serving copy on $H1" 15 serving
[ "$(listed_size)" = "$SIZE" ] || it_fail "the copy is not listed at $SIZE bytes: $(listed_size)"
IT_WAIT_SHOW='ls "$T/store1"' it_wait_for "the copy did not become durable" 10 durable
truncate -s 1000000 "$(copy_file)"
[ "$(listed_size)" = 1000000 ] || it_fail "the shadowd lists the cut copy at $(listed_size) bytes"

# Reads 4 at a time (origin and copy are picked by their reads in flight,
# ties to the origin), until one has come to the copy: each returns the
# file whole.
readers() {
  local pids=() p
  for _ in 1 2 3 4; do cmp "$mnt/data" "$T/expect" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
}
router_said="shadow: a read of the copy of inode [0-9]* on $H1 ended at byte [0-9]*, before the file's end at $SIZE: the copy is damaged"
shadowd_said="copy [0-9a-f]* version [0-9]* changed on disk since it was stored: deleted"
if [ "$MODE" = current ]; then
  warned() { grep -q "$shadowd_said" "$T/sd1.log"; }
else
  warned() { grep -q "$router_said" "$T/mount.log"; }
fi
for i in $(seq 50); do
  readers || it_fail "a read through the mount differs (round $i; state: $(state_of))"
  warned && break
done
warned ||
  it_fail "the damaged copy was not warned about: $(cat "$T/mount.log"; echo "shadowd:"; tail -20 "$T/sd1.log")"
echo "after the truncation: $(grep -h -m1 -e "$router_said" -e "$shadowd_said" "$T/mount.log" "$T/sd1.log")"

# Made again at the file's size, and it serves.
remade() { [ "$(listed_size)" = "$SIZE" ] && cmp -s "$(copy_file)" "$T/expect" && serving; }
IT_WAIT_SHOW='echo "listed: $(listed_size); state: $(state_of)"' it_wait_for "the damaged copy was not made again" 20 remade
cmp "$mnt/data" "$T/expect" || it_fail "read after the copy was made again"
echo "made again: $(state_of)"

it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc: $(tail -5 "$T/mount.log")"
grep -l "Sanitizer" "$T/mount.log" "$T/sd1.log" && it_fail "sanitizer report"
echo "PASS fs_remote_short"
