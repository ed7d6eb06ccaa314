#!/usr/bin/env bash
# Sparse files to hosts: the holes of a full copy to a shadowd do not cross
# the wire, and a sparse copy counts its data against a host's budget.
# 1. sync_cli put of a 1 GiB file holding 200 KiB to a shadowd: the copy is
#    byte-identical and sparse in the store, the shadowd received less than
#    1 MiB (ZEROS frames, announced in STATS: features=1); before, all of
#    the 1 GiB crossed TLS;
# 2. the same to a shadowd that predates ZEROS (--test-no-zeros: a 48-byte
#    STATS, the connection closed on a ZEROS frame): the client sends the
#    holes as zeros, the copy is right and still sparse in the store;
# 3. through a mount: a pinned sparse file gets a serving copy on the
#    shadowd, reads right, and the upload is under 1 MiB
#    (shadowctl host status --json: sparse_uploads, received_bytes; the
#    copy's sent= in user.shadow.state counts no hole);
# 4. a local host whose budget is far below a sparse file's size but above
#    its data: the file is placed there, copied, and counted by its data
#    (before, placement refused it for want of room);
# 5. the same with a shadowd's budget (--space-budget 16 MiB, 256 MiB
#    file): the PUT says how much of it is data (thin PUT, announced in
#    STATS: features=3), the shadowd reserves that, the copy serves; a
#    shadowd that predates thin PUTs (--test-no-zeros) with the same
#    budget is not given the file (it would reserve 256 MiB): the copy
#    fails with ENOSPC, said in user.shadow.state. A 4 KiB write through
#    the mount then updates the copy by that range (UPDATE: the clone of
#    the old copy keeps its holes and reserves its data, not the size;
#    before, the update was refused for want of room and the file sent
#    again whole, and an update on a shadowd without a budget wrote the
#    whole size to its disk); a change made behind the mount's back is
#    brought over by a librsync delta at a new version, into a copy
#    reserved like a thin one, and reads are right (before: the version
#    did not move, the shadowd "held it already" with the old bytes, the
#    mount published that copy, and reads it took returned the old bytes).
# Usage: sync_sparse.sh SHADOWFS SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3 CLI=$4
T=$(it_tmpdir sync_sparse)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
ID=00112233445566778899aabbccddeeff
MIB=$((1024 * 1024))

it_ca "$CTL" "$T/ca" "sd old" "client origin operator"
cli() { "$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" --timeout 20000 "$@"; }
stat_field() { cli stats "$1" 2>/dev/null | sed -n "s/.*\<$2=\([0-9]*\).*/\1/p"; }
it_shadowd "$SHADOWD" "$T/store-sd" "$T/ca" sd "$T/sd.log" 0
SD=127.0.0.1:$IT_SD_PORT
it_shadowd "$SHADOWD" "$T/store-old" "$T/ca" old "$T/old.log" 0 --test-no-zeros
OLD=127.0.0.1:$IT_SD_PORT

# sparse FILE SIZE: SIZE bytes, data at 0 (4 KiB), at the middle (64 KiB),
# at the end (the last 4 KiB) and 128 KiB at a quarter, holes elsewhere.
sparse() {
  truncate -s "$2" "$1"
  head -c 4096 /dev/urandom | dd of="$1" conv=notrunc status=none
  head -c 65536 /dev/urandom | dd of="$1" bs=4096 seek=$(($2 / 2 / 4096)) conv=notrunc status=none
  head -c 131072 /dev/urandom | dd of="$1" bs=4096 seek=$(($2 / 4 / 4096)) conv=notrunc status=none
  head -c 4096 /dev/urandom | dd of="$1" bs=4096 seek=$(($2 / 4096 - 1)) conv=notrunc status=none
}
durable() { [ -n "$(find "$1" -maxdepth 1 -type f ! -name 'tmp.*' ! -name 'unsynced.*' ! -name '.*')" ]; }
stored() { # the copy, once durable (named unsynced.* until the sync pass)
  it_wait_for "no durable copy in $1" 30 durable "$1"
  find "$1" -maxdepth 1 -type f ! -name 'tmp.*' ! -name 'unsynced.*' ! -name '.*' | head -1
}
blocks_kib() { du -k "$1" | cut -f1; }
# pin_served NAME OPTS: mounts with OPTS, pins NAME, waits for a serving
# copy, compares it through the mount.
pin_served() {
  it_mount "$SHADOWFS" "$backing" "$mnt" "$2"
  setfattr -n user.shadow.pin -v 1 "$mnt/$1" || it_fail "pin $1"
  IT_WATCH=$mnt/$1 it_wait_for "no serving copy of $1" 60 served "$mnt/$1"
  cmp "$mnt/$1" "$backing/$1" || it_fail "$1 reads wrong through the mount"
}
served() { it_shadow_state "$1" | grep -q ':serving'; }

# 1. A shadowd that takes ZEROS.
sparse "$T/big" $((1024 * MIB))
[ "$(stat_field "$SD" features)" = 3 ] || it_fail "the shadowd does not announce ZEROS and thin PUTs: $(cli stats "$SD")"
before=$(stat_field "$SD" received)
it_check "put of the sparse file" cli put "$SD" $ID 1 "$T/big"
got=$(( $(stat_field "$SD" received) - before ))
c=$(stored "$T/store-sd")
cmp "$c" "$T/big" || it_fail "the copy differs from the sparse file"
[ "$got" -lt "$MIB" ] || it_fail "the shadowd received $got bytes for 200 KiB of data in 1 GiB"
[ "$(blocks_kib "$c")" -lt 2048 ] || it_fail "the copy is not sparse: $(blocks_kib "$c") KiB"
echo "1: 1 GiB sparse file: $got bytes received, copy of $(blocks_kib "$c") KiB on disk"

# 2. A shadowd that predates ZEROS: the holes go as zeros, nothing breaks.
sparse "$T/mid" $((64 * MIB))
[ "$(stat_field "$OLD" features)" = 0 ] || it_fail "--test-no-zeros announces features"
before=$(stat_field "$OLD" received)
it_check "put to a shadowd without ZEROS" cli put "$OLD" $ID 1 "$T/mid"
got=$(( $(stat_field "$OLD" received) - before ))
c=$(stored "$T/store-old")
cmp "$c" "$T/mid" || it_fail "the copy on the older shadowd differs"
[ "$got" -ge $((64 * MIB)) ] || it_fail "only $got bytes reached the older shadowd"
[ "$(blocks_kib "$c")" -lt 2048 ] || it_fail "the copy on the older shadowd is not sparse"
grep -q "malformed\|bad frame\|unexpected frame" "$T/old.log" && it_fail "the client sent ZEROS to a shadowd without them: $(cat "$T/old.log")"
echo "2: older shadowd: $got bytes received (the holes as zeros), copy of $(blocks_kib "$c") KiB on disk"

# 3. Through a mount.
sparse "$backing/image" $((512 * MIB))
TLS=(--certs "$T/ca" --name operator)
before=$("$CTL" host status "$SD" "${TLS[@]}" --json | sed -n 's/.*"received_bytes":\([0-9]*\).*/\1/p')
"$CTL" host status "$SD" "${TLS[@]}" --json | grep -q '"sparse_uploads":true' ||
  it_fail "host status does not show sparse uploads"
pin_served image \
  "norecord,cache=never,state=$state,hosts=$SD,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_quiet=0,remote_timeout=2000"
after=$("$CTL" host status "$SD" "${TLS[@]}" --json | sed -n 's/.*"received_bytes":\([0-9]*\).*/\1/p')
[ $((after - before)) -lt "$MIB" ] || it_fail "the mount's copy of 200 KiB in 512 MiB sent $((after - before)) bytes"
sent=$(it_shadow_state "$mnt/image" | sed -n 's/.*:sync=full:sent=\([0-9]*\).*/\1/p')
[ -n "$sent" ] && [ "$sent" -lt "$MIB" ] || it_fail "the copy's state says sent=$sent (the holes counted)"
echo "3: pinned 512 MiB sparse image: $((after - before)) bytes sent, $(it_shadow_state "$mnt/image")"
it_umount "$mnt"

# 4. A local host whose budget (16 MiB) is far below the image's size
# (256 MiB) but above its data: placed, copied, counted by its data.
sparse "$backing/thin" $((256 * MIB))
mkdir "$T/local"
pin_served thin \
  "norecord,cache=never,state=$(it_tmpdir state4),hosts=$T/local:budget=16m,shadow_tick=0.2,shadow_quiet=0"
# shadowctl hosts: the local store's figures, refreshed by the control
# loop (once a second at most; before, only at start and on remote
# heartbeats: copies=0 used_bytes=0 here for good).
used_of() { "$CTL" hosts "$mnt" | awk -v h="$T/local" '$1 == h' | sed -n 's/.*copies=1 used_bytes=\([0-9]*\).*/\1/p'; }
counted() { [ -n "$(used_of)" ] && [ "$(used_of)" -gt 0 ]; }
IT_WAIT_SHOW='"$CTL" hosts "$mnt"' it_wait_for "shadowctl hosts does not count the copy" 5 counted
used=$(used_of)
[ "$used" -lt "$MIB" ] || it_fail "the local host counts $used bytes for 200 KiB of data: $("$CTL" hosts "$mnt")"
echo "4: 256 MiB sparse file on a 16 MiB local host: serving, used_bytes=$used"
it_umount "$mnt"

# 5. A shadowd with a 16 MiB budget: the thin PUT fits, for the older
# shadowd the placement says no room.
it_shadowd "$SHADOWD" "$T/store-b16" "$T/ca" sd "$T/b16.log" 0 --space-budget 16
B16=127.0.0.1:$IT_SD_PORT
it_shadowd "$SHADOWD" "$T/store-o16" "$T/ca" old "$T/o16.log" 0 --space-budget 16 --test-no-zeros
O16=127.0.0.1:$IT_SD_PORT
"$CTL" host status "$B16" "${TLS[@]}" --json | grep -q '"thin_budget":true' ||
  it_fail "host status does not show the thin budget"
"$CTL" host status "$O16" "${TLS[@]}" --json | grep -q '"thin_budget":false' ||
  it_fail "host status shows a thin budget for an older shadowd"
pin_served thin \
  "norecord,cache=never,state=$(it_tmpdir state5),hosts=$B16,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_quiet=0,remote_timeout=2000"
used=$(stat_field "$B16" used)
[ -n "$used" ] && [ "$used" -lt "$MIB" ] || it_fail "the shadowd counts $used bytes for 200 KiB of data: $(cli stats "$B16")"
echo "5: 256 MiB sparse file on a shadowd with a 16 MiB budget: serving, used=$used"
# A write of 4 KiB through the mount: the copy is brought up to date with
# that range (UPDATE), within the budget, not sent again whole.
head -c 4096 /dev/urandom | dd of="$mnt/thin" bs=4096 seek=100 conv=notrunc status=none
resynced() { it_shadow_state "$mnt/thin" | grep -q ":v[2-9][0-9]*:serving:.*:sync=ranges"; }
IT_WATCH=$mnt/thin it_wait_for "the written thin image was not updated by its range" 30 resynced
cmp "$mnt/thin" "$backing/thin" || it_fail "the updated thin image reads wrong"
used=$(stat_field "$B16" used)
[ -n "$used" ] && [ "$used" -lt "$MIB" ] || it_fail "the updated copy is not sparse on the shadowd: used=$used"
echo "5: after a 4 KiB write: used=$used, $(it_shadow_state "$mnt/thin")"
# Changed behind the mount's back: a librsync delta, patched into a new
# copy reserved by the old one's data, not by the size.
head -c 4096 /dev/urandom | dd of="$backing/thin" bs=4096 seek=200 conv=notrunc status=none
deltaed() { it_shadow_state "$mnt/thin" | grep -q ":v[4-9][0-9]*:serving:.*:sync=delta"; }
IT_WATCH=$mnt/thin it_wait_for "the thin image changed behind the mount was not updated by a delta" 60 deltaed
for _ in 1 2 3 4 5 6 7 8; do # a tenth of the reads go to the copy (rollout)
  cmp "$mnt/thin" "$backing/thin" || it_fail "the thin image updated by a delta reads wrong"
done
used=$(stat_field "$B16" used)
[ -n "$used" ] && [ "$used" -lt "$MIB" ] || it_fail "the delta-updated copy is not sparse on the shadowd: used=$used"
echo "5: after a change behind the mount's back: used=$used, $(it_shadow_state "$mnt/thin")"
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$(it_tmpdir state6),hosts=$O16,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_quiet=0,remote_timeout=2000"
setfattr -n user.shadow.pin -v 1 "$mnt/thin" || it_fail "pin thin"
no_room() { it_shadow_state "$mnt/thin" | grep -q "copy_error=ENOSPC"; }
IT_WATCH=$mnt/thin it_wait_for "the older shadowd's budget did not refuse the thin image" 30 no_room
served "$mnt/thin" && it_fail "a copy on the older shadowd serves"
grep -q "malformed" "$T/o16.log" && it_fail "a thin PUT reached the older shadowd: $(cat "$T/o16.log")"
echo "5: the same on an older shadowd: $(it_shadow_state "$mnt/thin")"
it_umount "$mnt"
echo "sync_sparse: ok"
