#!/usr/bin/env bash
# Two origins share one shadowd. Their files can have the same (st_dev,
# st_ino), from which copy ids are made (cloned images, the same inode
# number on two filesystems); here two mounts of one BACKING (two state
# directories: two origins) make that certain. Each mount's copy of the
# file gets an id of its own on the host (two copies listed, ids salted by
# each mount's STATE/origin.id), each is served to its mount without read
# errors, and a remount of one finds its origin id again. Before, both
# mounts named the file alike: each upload deleted the other's copy
# (listed: 1) and the other's reads of it failed.
# Usage: fs_remote_origins.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir origins)
backing=$(it_tmpdir backing) mnt1=$(it_tmpdir mnt1) mnt2=$(it_tmpdir mnt2)
state1=$(it_tmpdir state1) state2=$(it_tmpdir state2)

it_ca "$CTL" "$T/ca" "sd" "origin operator"
TLS=(--certs "$T/ca" --name operator)
it_shadowd "$SHADOWD" "$T/store" "$T/ca" sd "$T/sd.log" 0
H=127.0.0.1:$IT_SD_PORT

head -c $((1024 * 1024 + 77)) /dev/urandom >"$backing/data"
cp "$backing/data" "$T/expect"
opts() { # STATE
  echo "norecord,cache=never,state=$1,hosts=$H,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_quiet=0.3,remote_timeout=1000"
}
it_mount "$SHADOWFS" "$backing" "$mnt1" "$(opts "$state1")"
it_mount "$SHADOWFS" "$backing" "$mnt2" "$(opts "$state2")"
[ "$(cat "$state1/origin.id")" != "$(cat "$state2/origin.id")" ] || it_fail "two mounts, one origin id"
grep -qx '[0-9a-f]\{32\}' "$state1/origin.id" || it_fail "origin.id: $(cat "$state1/origin.id")"

serving() { it_shadow_state "$1/data" | grep -q "copy=$H:v[0-9]*:serving"; }
listed() { "$CTL" host list "$H" "${TLS[@]}" | awk 'NR > 1' | wc -l; }
errors() { it_shadow_state "$1/data" | sed -n "s/.*copy=$H:v[0-9]*:[a-z]*:reads=[0-9]*:errors=\([0-9]*\).*/\1/p"; }
copy_reads() { it_shadow_state "$1/data" | sed -n "s/.*copy=$H:v[0-9]*:serving:reads=\([0-9]*\).*/\1/p"; }

setfattr -n user.shadow.pin -v 1 "$mnt1/data" || it_fail "pin 1"
IT_WATCH=$mnt1/data it_wait_for "mount 1: no copy serving" 20 serving "$mnt1"
setfattr -n user.shadow.pin -v 1 "$mnt2/data" || it_fail "pin 2"
IT_WATCH=$mnt2/data it_wait_for "mount 2: no copy serving" 20 serving "$mnt2"
sleep 1 # a few ticks: an upload that deleted the other's copy shows here
[ "$(listed)" -eq 2 ] || { "$CTL" host list "$H" "${TLS[@]}"; it_fail "host lists $(listed) copies, expected 2"; }
for round in $(seq 30); do
  for m in "$mnt1" "$mnt2"; do
    cmp -s "$m/data" "$T/expect" || it_fail "$m: wrong bytes in round $round"
  done
done
for m in "$mnt1" "$mnt2"; do
  serving "$m" || it_fail "$m: copy no longer serving: $(it_shadow_state "$m/data")"
  [ "$(errors "$m")" = 0 ] || it_fail "$m: copy read errors: $(it_shadow_state "$m/data")"
done
r1=$(copy_reads "$mnt1") r2=$(copy_reads "$mnt2")
[ "${r1:-0}" -gt 0 ] && [ "${r2:-0}" -gt 0 ] || it_fail "copies served $r1 and $r2 reads"
[ "$(listed)" -eq 2 ] || it_fail "after the reads the host lists $(listed) copies"
# Each mount's id= (user.shadow.state) is a name the host lists.
for m in "$mnt1" "$mnt2"; do
  id=$(it_shadow_state "$m/data" | sed -n 's/.* id=\([0-9a-f-]*\) .*/\1/p')
  [ -n "$id" ] && "$CTL" host list "$H" "${TLS[@]}" | grep -q "$id" ||
    it_fail "$m: id '$id' not listed by the host: $("$CTL" host list "$H" "${TLS[@]}")"
done

# A remount keeps its origin id (its copies keep their names).
id1=$(cat "$state1/origin.id")
it_umount "$mnt1"
it_mount "$SHADOWFS" "$backing" "$mnt1" "$(opts "$state1")"
[ "$(cat "$state1/origin.id")" = "$id1" ] || it_fail "origin id changed at remount"
echo "ok two origins: 2 copies on one shadowd, reads served $r1 and $r2, no errors"
