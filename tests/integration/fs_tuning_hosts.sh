#!/usr/bin/env bash
# user.shadow.hosts (the hosts a file's copies may be on) through real
# mounts with three local hosts of different costs (cheap 1, mid 2, dear 3)
# and a pinned file below a directory:
#  - bad values (a name that is no host of the mount, empty names, a blank,
#    a name twice, "*" among names, a list too long, a control character)
#    -> EINVAL, the value stays as it was (unset, then a good one); the
#    log says when a name is no host of the mount;
#  - hosts=dear on the directory: the copy lands on dear, not on the
#    cheaper hosts (shadowctl why shows the list, its source and placement);
#  - hosts=mid: the copy moves (on mid, serving; dear's copy trimmed and its
#    file deleted from dear's directory);
#  - the file's own hosts=cheap wins over its directory's; removing it goes
#    back to the directory's;
#  - the list is a set, not an order: dear,cheap places on cheap (cost);
#  - STATE/tuning keeps it across a remount with the hosts spelled
#    otherwise (placement obeys it again);
#  - a remount without the listed host: the value stays, matches nothing,
#    the file gets no copy anywhere (replicas=0; why: "no host"), naming the missing
#    host now is EINVAL; "*" on the file lifts the directory's list;
#  - a paced copy under way to a host the list then leaves out stops at
#    once, and the copy is made on the host now allowed.
# Usage: fs_tuning_hosts.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir fs_tuning_hosts)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
cheap=$T/cheap mid=$T/mid dear=$T/dear
ALL="$cheap:cost=1;$mid:cost=2;$dear:cost=3"
opts() { echo "norecord,cache=never,state=$state,hosts=$1,shadow_tick=0.2,shadow_idle=1,shadow_quiet=0"; }

mkdir -p "$backing/d"
head -c 200000 /dev/urandom >"$backing/d/f"
f=$mnt/d/f
IT_MOUNT_LOG=$T/mount.log it_mount "$SHADOWFS" "$backing" "$mnt" "$(opts "$ALL")"

get() { getfattr --only-values -n user.shadow.hosts "$1" 2>/dev/null; }
set_ok() { setfattr -n user.shadow.hosts -v "$1" "$2" || it_fail "set hosts=$1 on $2"; }
state_of() { it_shadow_state "$f"; }
IT_WATCH=$f
# copy files of a host directory (not the temporaries of one being made)
files_on() { ls "$1" 2>/dev/null | grep -v '^unsynced\.\|^tmp\.'; }
# only_on HOST: the one copy serves on HOST, none on the mount's other hosts
# ($hosts_now; state and disk).
hosts_now="$cheap $mid $dear"
only_on() {
  local s h
  s=$(state_of)
  echo "$s" | grep -q " copies=1 .*copy=$1:v[0-9]*:serving" || return 1
  for h in $hosts_now; do
    [ "$h" = "$1" ] && continue
    echo "$s" | grep -q "copy=$h:" && return 1
    [ -z "$(files_on "$h")" ] || return 1
  done
  [ -n "$(files_on "$1")" ]
}
why() { "$CTL" why "$f" >"$T/why" 2>&1 || it_fail "shadowctl why: $(cat "$T/why")"; }
why_has() { why; grep -Eq "$1" "$T/why" || it_fail "why: no /$1/ in: $(cat "$T/why")"; }

# The names are those shadowctl hosts prints.
"$CTL" hosts --state "$state" >"$T/hosts" || it_fail "shadowctl hosts"
for h in "$cheap" "$mid" "$dear"; do grep -q "^$h " "$T/hosts" || it_fail "shadowctl hosts lacks $h: $(cat "$T/hosts")"; done

# Bad values: EINVAL, nothing set.
long=$(printf "$dear,%.0s" $(seq 60))$dear # > 1023 characters
bad() { # VALUE [ON]
  setfattr -n user.shadow.hosts -v "$1" "${2:-$mnt/d}" 2>"$T/err" && it_fail "hosts='$1' accepted"
  grep -q "Invalid argument" "$T/err" || it_fail "hosts='$1': $(cat "$T/err")"
}
bad_all() {
  for v in "$T/nowhere" "$dear,$T/nowhere" "${dear}x" "$T" "" "," "$dear," ",$dear" "$dear,,$cheap" \
    "$dear $cheap" "$dear, $cheap" "$dear,$dear" "*,$dear" "$dear,*" "$long" "$(printf '%s\001' "$dear")" \
    "127.0.0.1:7811"; do
    bad "$v"
  done
}
bad_all
# The log says why (a name that is no host; it was said at debug level only).
it_log_has "$T/mount.log" "user.shadow.hosts refused (EINVAL): 1 of its names not among the mount's hosts ('shadowctl hosts' lists them)" ||
  it_fail "no log line for an unknown host name: $(cat "$T/mount.log")"
get "$mnt/d" && it_fail "a bad value was stored: $(get "$mnt/d")"
[ ! -s "$state/tuning" ] || it_fail "STATE/tuning after bad values: $(cat "$state/tuning")"
set_ok "$dear" "$mnt/d"
bad_all
[ "$(get "$mnt/d")" = "$dear" ] || it_fail "a bad value changed the setting: $(get "$mnt/d")"
getfattr -d -m user.shadow "$mnt/d" 2>/dev/null | grep -q "^user.shadow.hosts=" || it_fail "listxattr lacks hosts"
grep -qxF "d hosts $dear /d" "$state/tuning" || it_fail "STATE/tuning: $(cat "$state/tuning")"

# hosts=dear on the directory: the pinned file's copy lands on dear, not
# on the cheaper hosts.
setfattr -n user.shadow.pin -v 1 "$f" || it_fail "pin"
it_wait_for "no copy on dear (the only allowed host)" 10 only_on "$dear"
sleep 1 # a few ticks: it stays there
only_on "$dear" || it_fail "the copy left dear: $(state_of)"
cmp "$f" "$backing/d/f" || it_fail "reads of the shadowed file"
why_has "^  hosts +$dear +from directory /d \(user.shadow.hosts\)"
why_has "^placement: copies only on $dear$"
"$CTL" why --json "$f" | grep -qF "\"hosts\": {\"value\": \"$dear\", \"source\": \"dir\", \"dir\": \"d\"}" ||
  it_fail "why --json: $("$CTL" why --json "$f")"

# hosts=mid: the copy moves; dear's is trimmed and its file deleted.
set_ok "$mid" "$mnt/d"
it_wait_for "the copy did not move to mid" 10 only_on "$mid"
[ -z "$(files_on "$dear")" ] || it_fail "the trimmed copy's file stays on dear: $(ls "$dear")"

# Nearest wins: the file's own list, then its directory's again.
set_ok "$cheap" "$f"
it_wait_for "the file's own hosts=cheap did not win" 10 only_on "$cheap"
why_has "^  hosts +$cheap +from the file \(user.shadow.hosts\)"
setfattr -x user.shadow.hosts "$f" || it_fail "remove the file's hosts"
get "$f" && it_fail "hosts still set on the file after removal"
it_wait_for "back to the directory's hosts=mid" 10 only_on "$mid"

# A set, not an order: among the listed hosts cost decides.
set_ok "$dear,$cheap" "$mnt/d"
it_wait_for "dear,cheap did not place on cheap" 10 only_on "$cheap"
[ "$(get "$mnt/d")" = "$dear,$cheap" ] || it_fail "the list reads back changed: $(get "$mnt/d")"
why_has "^placement: copies only on $cheap,$dear$"
set_ok "$mid" "$mnt/d"
it_wait_for "the copy did not move back to mid" 10 only_on "$mid"

# Persistence across a remount, the hosts spelled otherwise (a trailing
# '/', empty and "." components: one directory is one host; spelled so,
# mid was another host, the list matched nothing and the copy went).
it_umount "$mnt"
it_mount "$SHADOWFS" "$backing" "$mnt" "$(opts "$cheap/:cost=1;${mid%/mid}//mid/.:cost=2;$dear//:cost=3")"
[ "$(get "$mnt/d")" = "$mid" ] || it_fail "the setting was lost by the remount: $(cat "$state/tuning")"
it_wait_for "after the remount the copy is not on mid" 10 only_on "$mid"

# A remount without mid: the value stays and matches nothing: no copy.
# (The copy file the last mount left on mid is no business of this one.)
it_umount "$mnt"
hosts_now="$cheap $dear"
it_mount "$SHADOWFS" "$backing" "$mnt" "$(opts "$cheap:cost=1;$dear:cost=3")"
[ "$(get "$mnt/d")" = "$mid" ] || it_fail "a setting naming a host the mount lost was dropped"
sleep 1.5
state_of | grep -q " replicas=0 .*copies=0" || it_fail "a copy made (or wanted) though no allowed host exists: $(state_of)"
[ -z "$(files_on "$cheap")$(files_on "$dear")" ] || it_fail "copy files without an allowed host: $(ls "$cheap" "$dear")"
why_has "^placement: copies only on no host"
why_has "some listed names are no host of this mount"
bad "$mid"
# "*" on the file lifts its directory's list: the cheapest host again.
set_ok "*" "$f"
it_wait_for "hosts=* on the file did not lift the directory's list" 10 only_on "$cheap"
why_has "^  hosts +\* +from the file"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"

# A copy under way (paced: 4 MB at 1 MB/s) to a host the list then leaves
# out stops at once (its temporary file gone within 2 s, nothing published
# there), and the copy is made on the host now allowed. The list is set on
# the file's directory: set on the file itself it would name the file
# (user.shadow.id in BACKING), whose ctime change stops the copy anyway.
mkdir -p "$backing/e"
head -c 4000000 /dev/urandom >"$backing/e/g"
it_mount "$SHADOWFS" "$backing" "$mnt" "$(opts "$ALL"),copy_rate=1"
g=$mnt/e/g
IT_WATCH=$g
temp_on() { ls "$1" 2>/dev/null | grep -q '^tmp\.\|^unsynced\.'; }
setfattr -n user.shadow.pin -v 1 "$g" || it_fail "pin g"
# Under way: a temporary file there and g's state saying so, at one look.
# A temporary file alone was not g's: f, still pinned, has its copy on cheap
# made again by this mount first (200 KB, quick), and CI once saw that one,
# then no temporary file, g's copy not yet started (one copy at a time).
copy_under_way() { temp_on "$cheap" && it_shadow_state "$g" | grep -q "copy=$cheap:v[0-9]*:syncing"; }
IT_WAIT_SHOW='ls "$cheap"; it_shadow_state "$g"' it_wait_for "no copy of g under way on cheap" 5 copy_under_way
t0=$(date +%s%N)
set_ok "$dear" "$mnt/e"
for _ in $(seq 100); do temp_on "$cheap" || break; sleep 0.05; done
ms=$((($(date +%s%N) - t0) / 1000000))
it_shadow_state "$g" | grep -q "copy=$cheap:v[0-9]*:serving" &&
  it_fail "the copy to cheap was finished and published after hosts=dear ($ms ms): $(it_shadow_state "$g")"
temp_on "$cheap" && it_fail "the copy to cheap went on after hosts=dear: $(ls "$cheap")"
# The copy alone takes 4 s; the tick that sees the list cancels it.
[ "$ms" -lt 2000 ] || it_fail "the copy to cheap stopped only $ms ms after hosts=dear"
g_on_dear() { it_shadow_state "$g" | grep -q " copies=1 .*copy=$dear:v[0-9]*:serving"; }
for _ in $(seq 200); do g_on_dear && break; sleep 0.05; done
g_on_dear || it_fail "g not copied to dear: $(it_shadow_state "$g")"
it_shadow_state "$g" | grep -q "copy=$cheap:" && it_fail "a copy of g on cheap: $(it_shadow_state "$g")"
echo "ok a copy under way to a host no longer allowed stopped within $ms ms; g on dear"
it_umount "$mnt"
wait "$IT_PID"; rc=$?
[ "$rc" -eq 0 ] || it_fail "shadowfs exited with status $rc (sanitizer report above?)"
echo "fs_tuning_hosts: ok"
