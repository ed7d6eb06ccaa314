#!/usr/bin/env bash
# Tuning attributes (user.shadow.threshold / capacity / window / never;
# copies and hosts in fs_shadows.sh and fs_tuning_hosts.sh) and shadowctl
# why, through real mounts with a local host store:
#  - set / get / list / remove on files and directories; bad values (negative,
#    0 where invalid, > 1, trailing junk, huge, empty, blanks, nan) -> EINVAL
#    and the old value stays, the log saying what the value must be;
#  - resolution: file, nearest directory, mount root, mount option, each
#    source shown by shadowctl why;
#  - renames: a file keeps its settings (keyed by id), a directory's move with
#    it (also exchanged with a symlink); unlink / rmdir drop them;
#    STATE/tuning survives a remount;
#  - never wins over a pin: a pinned file's copy is dropped, the pin stays,
#    removing never brings the copy back; a file pinned under never=1 is
#    never copied;
#  - permissions: another user cannot set them on root's file, can on its own;
#  - with recording (1 s buckets): a per-directory capacity and threshold make
#    a busy file hot although the mount's capacity is huge (why: fired, its
#    forecast steps), and a never=1 sibling read as much stays unshadowed;
#    the trigger then goes hysteresis -> below threshold when the file's own
#    capacity is raised; a file never read has no record;
#  - shadowctl why outside a shadowfs mount: a clear message, status 1.
# Usage: fs_tuning.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_tuning)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
OPTS="norecord,cache=never,allow_other,state=$state,hosts=$T/host,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0"

mkdir -p "$backing/d/e" "$backing/pub"
chmod 777 "$backing/pub"
head -c 20000 /dev/urandom >"$backing/d/e/f"
head -c 20000 /dev/urandom >"$backing/p"
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"

get() { getfattr --only-values -n "user.shadow.$1" "$2" 2>/dev/null; }
set_ok() { setfattr -n "user.shadow.$1" -v "$2" "$3" || it_fail "set $1=$2 on $3"; }
why() { "$CTL" why "$1" >"$T/why" 2>&1 || it_fail "shadowctl why $1: $(cat "$T/why")"; cat "$T/why"; }
# why_has PATH REGEX: shadowctl why's text matches.
why_has() { why "$1" >/dev/null; grep -Eq "$2" "$T/why" || it_fail "why $1: no /$2/ in: $(cat "$T/why")"; }
# A file whose user.shadow.id was damaged in BACKING: its settings fail
# with EINVAL (the id is left alone) and the log says why and what to do.
head -c 100 /dev/urandom >"$backing/badid"
setfattr -n user.shadow.id -v not-a-uuid "$backing/badid"
setfattr -n user.shadow.capacity -v 5 "$mnt/badid" 2>/dev/null && it_fail "tuning with a damaged id accepted"
# (the daemon may write its line just after the reply)
badid_logged() { grep -q "tuning badid: its user.shadow.id in BACKING is not a uuid" "$T/mount.log"; }
IT_WAIT_SHOW='cat "$T/mount.log"' it_wait_for "no warning for a damaged id" 5 badid_logged
setfattr -x user.shadow.id "$backing/badid"
setfattr -n user.shadow.capacity -v 5 "$mnt/badid" || it_fail "tuning after the damaged id was removed"
rm -f "$mnt/badid"
wait_for() {
  local d=$1 s=$2; shift 2
  for _ in $(seq $((s * 20))); do "$@" && return 0; sleep 0.05; done
  it_fail "$d after $s s"
}

# Set, get, list, remove, on a file and on a directory.
f="$mnt/d/e/f"
for kv in threshold=0.5 capacity=12.5 window=3 never=0; do
  k=${kv%%=*} v=${kv#*=}
  set_ok "$k" "$v" "$f"
  [ "$(get "$k" "$f")" = "$v" ] || it_fail "get $k on a file: '$(get "$k" "$f")'"
  set_ok "$k" "$v" "$mnt/d"
  [ "$(get "$k" "$mnt/d")" = "$v" ] || it_fail "get $k on a directory"
done
for n in threshold capacity window never; do
  getfattr -d -m 'user.shadow' "$f" 2>/dev/null | grep -q "^user.shadow.$n=" || it_fail "listxattr lacks $n: $(getfattr -d -m - "$f")"
done
getfattr -m - -d "$mnt/d/e" 2>/dev/null | grep -q user.shadow && it_fail "a directory without settings lists some"
for n in threshold capacity window never; do
  setfattr -x "user.shadow.$n" "$f" || it_fail "remove $n"
  get "$n" "$f" && it_fail "$n still set after removal"
  setfattr -x "user.shadow.$n" "$f" 2>"$T/err" && it_fail "removing an unset $n succeeded"
  grep -q "No such attribute" "$T/err" || it_fail "remove unset $n: $(cat "$T/err")"
  setfattr -x "user.shadow.$n" "$mnt/d" || it_fail "remove $n on the directory"
done
[ -z "$(getfattr -m 'user.shadow' -d "$f" 2>/dev/null)" ] || it_fail "listing after removal"

# Bad values: EINVAL, the old value stays.
set_ok threshold 0.7 "$f"; set_ok capacity 40 "$f"; set_ok window 2 "$f"; set_ok never 0 "$f"
bad() { # KEY VALUE
  setfattr -n "user.shadow.$1" -v "$2" "$f" 2>"$T/err" && it_fail "$1='$2' accepted"
  grep -q "Invalid argument" "$T/err" || it_fail "$1='$2': $(cat "$T/err")"
}
for v in -0.5 0 1.5 0.5x 1e999 '' ' 0.5' 0.5. nan inf 1,0 '0.5 '; do bad threshold "$v"; done
for v in -1 1e16 1e999 12abc '' ' 3' inf nan; do bad capacity "$v"; done
for v in 0 -1 9 99999999999999999999999 3x '' 2.0 ' 2' +2; do bad window "$v"; done
for v in 2 -1 yes '' 01 '1 ' true; do bad never "$v"; done
# The log says what the value must be (setfattr says only "Invalid
# argument"; nothing was logged), within its budget (10 lines per 10 s: the
# first threshold values).
it_log_has "$T/mount.log" "user.shadow.threshold refused (EINVAL): the value must be a probability, a plain decimal number in (0, 1\]" ||
  it_fail "no log line for a refused threshold: $(cat "$T/mount.log")"
[ "$(get threshold "$f"):$(get capacity "$f"):$(get window "$f"):$(get never "$f")" = "0.7:40:2:0" ] ||
  it_fail "a bad value changed something: $(getfattr -d -m user.shadow "$f")"
setfattr -n user.shadow.bogus -v 1 "$f" 2>/dev/null && it_fail "an unknown attribute was accepted"
setfattr -n user.shadow.why -v 1 "$f" 2>/dev/null && it_fail "why is writable"
for n in threshold capacity window never; do setfattr -x "user.shadow.$n" "$f"; done

# Resolution, nearest wins; shadowctl why names each source.
set_ok threshold 0.9 "$mnt"
set_ok threshold 0.5 "$mnt/d"
set_ok window 4 "$mnt/d/e"
why_has "$f" '^  threshold +0.5 +from directory /d \(user.shadow.threshold\)'
why_has "$f" '^  window +4 +from directory /d/e '
why_has "$f" '^  capacity +p99 +from the mount option'
why_has "$f" '^  never +0 +from the default'
why_has "$f" '^  copies +3 +from the mount option \(-o shadow_copies'
why_has "$f" '^  hosts +\* +from the default \(no user.shadow.hosts above the file: every host\)'
grep -q '^placement:' "$T/why" && it_fail "why shows a placement limit without user.shadow.hosts"
why_has "$f" '^decision: not shadowed: no forecast: the mount records nothing'
set_ok threshold 0.3 "$f"
why_has "$f" '^  threshold +0.3 +from the file'
setfattr -x user.shadow.threshold "$f"
setfattr -x user.shadow.threshold "$mnt/d"
why_has "$f" '^  threshold +0.9 +from the mount root'
"$CTL" why --json "$f" >"$T/json" || it_fail "why --json"
grep -q '"threshold": {"value": 0.9, "source": "root"}' "$T/json" || it_fail "why --json: $(cat "$T/json")"
grep -q '"window": {"value": 4, "source": "dir", "dir": "d/e"}' "$T/json" || it_fail "why --json dir: $(cat "$T/json")"
setfattr -x user.shadow.threshold "$mnt"
why_has "$f" '^  threshold +0.8 +from the mount option'

# Renames: the file keeps its own settings, a directory's move with it.
set_ok capacity 77 "$f"
set_ok threshold 0.6 "$mnt/d"
mv "$f" "$mnt/d/e/g"
[ "$(get capacity "$mnt/d/e/g")" = 77 ] || it_fail "a renamed file lost its capacity"
mv "$mnt/d" "$mnt/dd"
[ "$(get threshold "$mnt/dd")" = 0.6 ] || it_fail "a renamed directory lost its threshold"
why_has "$mnt/dd/e/g" '^  threshold +0.6 +from directory /dd '
why_has "$mnt/dd/e/g" '^  window +4 +from directory /dd/e '
grep -q '^d threshold 0.6 /dd$' "$state/tuning" || it_fail "STATE/tuning after the rename: $(cat "$state/tuning")"
mkdir "$mnt/d"
get threshold "$mnt/d" && it_fail "a new directory at the old path got the old setting"
# RENAME_EXCHANGE of a symlink with a directory: its settings follow it
# (before, they stayed on the path the symlink took).
mkdir "$mnt/xd"; set_ok capacity 9 "$mnt/xd"; ln -s nowhere "$mnt/xl"
python3 - "$mnt/xl" "$mnt/xd" <<'PY' || it_fail "RENAME_EXCHANGE of a symlink and a directory"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2):
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
PY
[ "$(get capacity "$mnt/xl")" = 9 ] || it_fail "a directory exchanged with a symlink lost its capacity: $(cat "$state/tuning")"
grep -q ' /xd$' "$state/tuning" && it_fail "STATE/tuning keeps the exchanged directory's old path: $(cat "$state/tuning")"
rm "$mnt/xd"; rmdir "$mnt/xl"

# Persistence across a remount.
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$OPTS"
[ "$(get capacity "$mnt/dd/e/g")" = 77 ] || it_fail "file setting lost by the remount: $(cat "$state/tuning")"
[ "$(get threshold "$mnt/dd")" = 0.6 ] || it_fail "directory setting lost by the remount"
[ "$(get window "$mnt/dd/e")" = 4 ] || it_fail "subdirectory setting lost by the remount"

# unlink and rmdir drop them.
cp "$mnt/dd/e/g" "$mnt/dd/e/h"
set_ok never 1 "$mnt/dd/e/h"
grep -q ' never 1 /dd/e/h$' "$state/tuning" || it_fail "never not persisted"
rm "$mnt/dd/e/h"
grep -q 'never' "$state/tuning" && it_fail "an unlinked file's setting stays: $(cat "$state/tuning")"
echo x >"$mnt/dd/e/v"; set_ok window 5 "$mnt/dd/e/v"
echo y >"$mnt/dd/e/w"; mv "$mnt/dd/e/w" "$mnt/dd/e/v"
grep -q ' window 5 ' "$state/tuning" && it_fail "a file renamed over keeps its settings: $(cat "$state/tuning")"
get window "$mnt/dd/e/v" && it_fail "the file renamed over another got its settings"
mkdir "$mnt/gone"; set_ok capacity 3 "$mnt/gone"; rmdir "$mnt/gone"
grep -q '/gone$' "$state/tuning" && it_fail "a removed directory's setting stays"
mkdir "$mnt/gone"
get capacity "$mnt/gone" && it_fail "a directory made again at a removed one's path got its setting"
rmdir "$mnt/gone"
mkdir "$mnt/gone"
get capacity "$mnt/gone" && it_fail "a directory made again got the removed one's setting"

# never wins over a pin.
state_of() { it_shadow_state "$1"; }
serving() { state_of "$1" | grep -q ":serving"; }
no_copy() { state_of "$1" | grep -q "copies=0"; }
set_ok pin 1 "$mnt/p"
wait_for "no copy of the pinned file" 5 serving "$mnt/p"
set_ok never 1 "$mnt/p"
wait_for "the copy of a never file was not dropped" 3 no_copy "$mnt/p"
[ "$(get pin "$mnt/p")" = 1 ] || it_fail "never removed the pin"
why_has "$mnt/p" '^decision: never shadowed \(never=1 from the file \(user.shadow.never\)\); the file is pinned, but never wins'
sleep 1
no_copy "$mnt/p" || it_fail "a never file was copied again: $(state_of "$mnt/p")"
state_of "$mnt/p" | grep -q " replicas=0 " || it_fail "a never file still wants a copy: $(state_of "$mnt/p")"
[ -z "$(ls "$T/host")" ] || it_fail "a copy file stays: $(ls "$T/host")"
setfattr -x user.shadow.never "$mnt/p"
wait_for "no copy once never was removed" 5 serving "$mnt/p"
why_has "$mnt/p" '^decision: shadowed, pinned'
why_has "$mnt/p" "^  $T/host +v[0-9]+ +serving"
# The first line tells the file id from its copies' name in the stores.
sid=$(it_shadow_state "$mnt/p" | sed -n 's/.* id=\([^ ]*\).*/\1/p')
[ -n "$sid" ] || it_fail "no id= in the state of $mnt/p"
why_has "$mnt/p" "^$mnt/p \(id [0-9a-f-]+; its copies are $sid in host stores\)\$"
ls "$T/host" | grep -q "^${sid//-/}-" || it_fail "no copy of $sid in $T/host: $(ls "$T/host")"
# Pinned below a never=1 directory: never copied; never=0 on the file wins.
mkdir "$mnt/nv"; cp "$mnt/p" "$mnt/nv/q"
set_ok never 1 "$mnt/nv"
set_ok pin 1 "$mnt/nv/q"
sleep 1
no_copy "$mnt/nv/q" || it_fail "a file pinned under never=1 was copied"
why_has "$mnt/nv/q" 'never=1 from directory /nv'
set_ok never 0 "$mnt/nv/q"
wait_for "never=0 on the file did not win over its directory" 5 serving "$mnt/nv/q"

# Permissions: as user.* attributes on BACKING.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody setfattr -n user.shadow.threshold -v 0.5 "$mnt/p" 2>"$T/err" && it_fail "nobody tuned root's file"
grep -q "Permission denied\|Operation not permitted" "$T/err" || it_fail "nobody: $(cat "$T/err")"
get threshold "$mnt/p" && it_fail "a refused set changed the value"
as_nobody touch "$mnt/pub/mine" || it_fail "nobody creates a file"
as_nobody setfattr -n user.shadow.threshold -v 0.5 "$mnt/pub/mine" || it_fail "nobody cannot tune its own file"
[ "$(as_nobody getfattr --only-values -n user.shadow.threshold "$mnt/pub/mine")" = 0.5 ] || it_fail "nobody reads its setting"
it_umount "$mnt"

# shadowctl why outside a shadowfs mount.
"$CTL" why "$backing/p" >"$T/out" 2>&1 && it_fail "why outside a mount succeeded"
grep -q "not inside a shadowfs mount" "$T/out" || it_fail "why outside a mount: $(cat "$T/out")"

# The forecast with per-directory settings (recording, 1 s buckets). The
# mount's capacity is huge: only the settings of /hot make its file hot.
state2=$(it_tmpdir state2)
mkdir -p "$backing/hot"
head -c 300000 /dev/urandom >"$backing/hot/a"
head -c 300000 /dev/urandom >"$backing/hot/b"
echo cold >"$backing/hot/cold"
it_mount "$SHADOWFS" "$backing" "$mnt" "cache=never,bucket=1,state=$state2,hosts=$T/fc,shadow_capacity=1000000,shadow_threshold=0.9,shadow_window=3,shadow_tick=0.2,shadow_idle=3"
set_ok capacity 5 "$mnt/hot"
set_ok threshold 0.5 "$mnt/hot"
set_ok window 2 "$mnt/hot/a"
set_ok never 1 "$mnt/hot/b"
a_copy() { state_of "$mnt/hot/a" | grep -q ":serving"; }
# Both files read until $stop exists (a kill could leave a cat holding the
# mount busy), so the forecast stays hot while why is asked.
stop=$T/stop
(while [ ! -e "$stop" ]; do cat "$mnt/hot/a" "$mnt/hot/b" >/dev/null || exit 1; sleep 0.02; done) &
loader=$!
IT_PIDS+=("$loader")
wait_for "a file hot by its directory's settings was not shadowed: $(state_of "$mnt/hot/a")" 15 a_copy
fired() { why "$mnt/hot/a" >/dev/null; grep -Eq '^decision: shadowed, forecast hot: P = [0-9.]+ >= threshold 0.5' "$T/why"; }
wait_for "why never showed the file fired: $(cat "$T/why")" 10 fired
cat "$T/why"
grep -Eq '^forecast .*capacity 5 reads per bucket, window 2, threshold 0.5' "$T/why" || it_fail "why: forecast settings"
# one host: one copy, however far over capacity the forecast goes
grep -Eq '^replicas: 1 wanted \(highest 95% bound in the window [0-9]+ reads' "$T/why" || it_fail "why: replicas"
"$CTL" why --json "$mnt/hot/a" | grep -q '"replicas": 1,' || it_fail "why --json replicas"
[ "$(grep -Ec '^  [0-9-]+ [0-9:]+ +[0-9]+ +\[[0-9]+, [0-9]+\] +\[[0-9]+, [0-9]+\] +[0-9.]+' "$T/why")" -ge 2 ] ||
  it_fail "why: forecast steps"
"$CTL" why --json "$mnt/hot/a" | grep -q '"trigger": "fired".*"window": 2, "p_exceed"' || it_fail "why --json forecast"
no_copy "$mnt/hot/b" || it_fail "a never=1 file read as much was shadowed"
why "$mnt/hot/b" >/dev/null
grep -q '^decision: never shadowed (never=1 from the file' "$T/why" || it_fail "why of the never file: $(cat "$T/why")"
grep -Eq '^  P\(reads > 5 in a bucket of the next 3\) = ' "$T/why" || it_fail "why of the never file: no forecast"
touch "$stop"
wait "$loader" || it_fail "reading through the mount failed"
# A file never read: no record (without an id, and with one made by a setting).
why_has "$mnt/hot/cold" '^decision: not shadowed: no forecast: no record of this file'
set_ok window 1 "$mnt/hot/cold"
why_has "$mnt/hot/cold" '^decision: not shadowed: no forecast: no record of this file'
# No longer hot (its own capacity now huge): copies kept for shadow_idle
# (hysteresis), then dropped (below threshold).
set_ok capacity 1e12 "$mnt/hot/a"
hyst() { "$CTL" why "$mnt/hot/a" 2>&1 | grep -q '^decision: wanted no longer (neither pinned nor forecast hot), copies kept'; }
wait_for "why never showed the hysteresis: $("$CTL" why "$mnt/hot/a")" 3 hyst
a_copy || it_fail "the copy went before shadow_idle"
below() { "$CTL" why "$mnt/hot/a" 2>&1 | grep -q '^decision: not shadowed: P = [0-9.]* below threshold 0.5'; }
wait_for "no below-threshold state after shadow_idle: $("$CTL" why "$mnt/hot/a")" 8 below
no_copy "$mnt/hot/a" || it_fail "below threshold with a copy"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"
echo "fs_tuning: ok"
