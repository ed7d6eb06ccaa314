#!/usr/bin/env bash
# A migration (a copy to a cheaper host of a file whose copies all serve)
# does not hold up a copy another file needs: a real mount, a local store
# (cost 2) and a shadowd on loopback (cost 1) down when a 24 MiB file is
# pinned (its copy goes to the local store), copy_rate=2 MB/s (each copy of it
# takes ~12 s). The shadowd comes back: the file migrates there, paced.
# A small file pinned 1 s into that migration is copied at once on the
# express lane while the migration pauses: served within 4 s (before: only
# once the migration was done, ~11 s later), the log says so; the
# migration then ends, the dearer copy is dropped; reads are right.
# Usage: fs_migrate_gives_way.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_migrate_gives_way)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
it_ca "$CTL" "$T/ca" "sd" "origin"
# The shadowd down when big is pinned.
it_shadowd_port_down "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd.log"
P=$IT_SD_PORT
H=127.0.0.1:$P LOCAL=$T/local
head -c $((24 * 1024 * 1024)) /dev/urandom >"$backing/big"
head -c $((64 * 1024 + 77)) /dev/urandom >"$backing/small"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$LOCAL:cost=2;$H:cost=1,tls=$T/ca,tls_name=origin,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0.3,rollout=100,copy_rate=2"
IT_WATCH=$mnt/big
serving_on() { it_shadow_state "$mnt/$1" | grep -q "copy=$2:v[0-9]*:serving"; }
setfattr -n user.shadow.pin -v 1 "$mnt/big" || it_fail "pin big"
it_wait_for "big has no copy on the local host" 30 serving_on big "$LOCAL"
it_shadowd "$SHADOWD" "$T/sdstore" "$T/ca" sd "$T/sd2.log" "$P"
it_wait_for "big did not start migrating to the shadowd" 20 it_log_has "$T/mount.log" "big: copied to a cheaper host"
sleep 1 # the migration under way, paced
serving_on big "$H" && it_fail "the migration was not under way (done in 1 s)"
t0=$(date +%s%N)
setfattr -n user.shadow.pin -v 1 "$mnt/small" || it_fail "pin small"
IT_WATCH=$mnt/small it_wait_for "small waited for the migration of big" 4 serving_on small "$H"
ms=$((($(date +%s%N) - t0) / 1000000))
serving_on big "$H" && it_fail "the migration of big ended before small was copied: no test"
it_log_has "$T/mount.log" "small needs a copy: copied now, the migration of big under way pauses" ||
  it_fail "the express copy was not logged"
cmp -s "$mnt/small" "$backing/small" || it_fail "small read wrong"
it_wait_for "the migration of big did not end" 30 serving_on big "$H"
dropped() { ! serving_on big "$LOCAL"; }
it_wait_for "the dearer copy of big was not dropped" 10 dropped
cmp -s "$mnt/big" "$backing/big" || it_fail "big read wrong"
echo "small served $ms ms after its pin, during the migration of big"
it_umount "$mnt"
echo "fs_migrate_gives_way: ok"
