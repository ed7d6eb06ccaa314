#!/usr/bin/env bash
# Metadata changes through the mount carry the copies' origin stamps over
# the ctime they move (stamp_carry in fs/shadowing.c). A write made in
# BACKING behind the mount's back while such an op runs (same size) moves
# the stamp too: it must not be carried as if the op had made it. Before,
# it was: the copy's stamp matched the changed origin, and the copy served
# the old bytes for good (6 rounds in 30 with a chmod storm, about half of
# each such round's reads: the copy's share). Now an op that does not set
# mtime is carried only if mtime did not move (one that sets it, only to
# the value it set; a touch to "now" cannot be told apart).
# Usage: fs_carry_race.sh SHADOWFS [ROUNDS]
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 ROUNDS=${2:-40}
T=$(it_tmpdir t) backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
head -c 65536 /dev/zero | tr '\0' A >"$backing/data"
# rollout: the copy takes half of the reads at once and keeps that share
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,cache=never,state=$state,hosts=$T/local,shadow_tick=0.2,shadow_idle=5,shadow_quiet=0.1,rollout=50/100,rollout_interval=600"
setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
python3 "$(dirname "$0")/it_carry_race.py" "$backing" "$mnt" "$ROUNDS" ||
  it_fail "a copy served bytes from before a change behind the mount's back"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc"
echo "fs_carry_race: ok"
