#!/usr/bin/env bash
# shadowctl status on a real mount with a local host: the text view and the
# JSON view agree with the mount (running, its pid, recorded events, one
# host up, a pinned file with one serving copy, the control loop's last
# pass over its one entry); after unmount it says the
# mount is not running but still reads the state directory; bad operands
# exit 1 or 2 with a message. On a mount with norecord and hosts, top,
# load, forecast and stats say recording is off as status does. A mount without hosts refuses a pin with
# EINVAL and its log says why. A user who cannot read the state directory
# is told so. With the mount stopped (SIGSTOP), status, hosts, shadows, top,
# load and forecast of its mount point still answer, and status says it is
# stopped. A mount whose process was killed (left in the mount table,
# dead) is said to be so, with the command that clears it.
# Usage: ctl_status.sh SHADOWFS SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 CTL=$2
T=$(it_tmpdir ctl_status)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
head -c 200000 /dev/urandom >"$backing/data"
it_mount "$SHADOWFS" "$backing" "$mnt" \
  "cache=never,negative_timeout=0,bucket=1,state=$state,hosts=$T/h1,shadow_tick=0.1,shadow_quiet=0"
pid=$IT_PID
# Held open until the views are checked: the kernel keeps its inode (the
# inodes line counts it), even when memory pressure evicts cached entries.
exec 7<"$mnt/data"

setfattr -n user.shadow.pin -v 1 "$mnt/data" || it_fail "pin"
serving() { it_shadow_state "$mnt/data" | grep -q ':serving'; }
it_wait_for "no serving copy of the pinned file" 10 serving
for _ in $(seq 20); do cat "$mnt/data" >/dev/null; done
# Events reach recorder.stats at the next bucket flush (1 s).
for _ in $(seq 100); do
  "$CTL" status "$mnt" --json | grep -Eq '"events":([2-9][0-9]|[1-9][0-9]{2,}),' && break
  sleep 0.1
done

# A copy re-made meanwhile (the kernel's SETATTR after the pin's setxattr
# can restart the first one) serves again, and the status file (written
# each tick) says so, before the lines are checked.
status_serving() {
  out=$("$CTL" status "$mnt") || it_fail "status failed"
  grep -q "1 copy: 1 serving" <<<"$out"
}
IT_WAIT_SHOW='"$CTL" status "$mnt"' it_wait_for "the status never shows the copy serving" 10 status_serving
echo "$out"
grep -q "^mount      $mnt (pid [0-9]*, running)$" <<<"$out" || it_fail "mount line"
grep -q "^backing    $backing$" <<<"$out" || it_fail "backing line"
grep -q "^state      $state$" <<<"$out" || it_fail "state line"
grep -Eq "^recording  bucket 1 s; [1-9][0-9]* file\(s\) tracked \(bound [0-9]+, [0-9]+ B each\); [0-9]+ events" <<<"$out" || it_fail "recording line"
grep -Eq "^inodes     [2-9][0-9]* known to the kernel, by file handle; [1-9][0-9]* O_PATH fds open \(cache bound [0-9]+\), [0-9]+ reopens$" <<<"$out" || it_fail "inodes line"
grep -q "^hosts      1 up, 0 down" <<<"$out" || it_fail "hosts line"
# (hot or not: 20 quick reads may already make the forecast call it hot)
grep -Eq "^shadows    1 file \(1 pinned, [01] forecast hot\), 1 copy: 1 serving" <<<"$out" ||
  it_fail "shadows line"
grep -Eq "^control    a pass every 100 ms, the last took [0-9]+ ms: looked at [01] of 1 entries, [01] settled and unread left alone \(each looked at one pass in 16\); 0 freed since the mount$" <<<"$out" ||
  it_fail "control line"

json=$("$CTL" status "$mnt" --json) || it_fail "status --json failed"
python3 - "$json" "$pid" "$mnt" <<'PY' || it_fail "JSON view: $json"
import json, sys
j = json.loads(sys.argv[1])
assert j["running"] is True and j["pid"] == int(sys.argv[2]), j
assert j["mountpoint"] == sys.argv[3], j
assert j["recorder"]["events"] >= 20 and j["recorder"]["tracked"] >= 1, j
assert j["hosts"] == {"up": 1, "down": 0}, j
s = j["shadows"]
assert s["files"] == 1 and s["pinned"] == 1 and s["copies"] == 1, j
assert s["copy_states"] == {"serving": 1}, j
c = j["control"]
assert c["entries"] == 1 and c["looked"] + c["quiet_left"] == 1 and c["tick_ms"] == 100, j
assert c["passes"] >= 1 and c["quiet_every"] == 16 and c["freed"] == 0, j
PY
exec 7<&-

# A stopped (or hung) mount: the views that read the state directory answer
# by the mount point, from the mount's record, without a look into the
# mount (a lookup of MNT/series.db waited for the daemon: status hung on
# the mount one runs it to look at). negative_timeout=0: no cached answer.
# (in MNT: entered before the stop, as a user's shell would be)
ctl_abs=$(realpath "$CTL")
(cd "$mnt" && kill -STOP "$pid" && exec timeout 5 "$ctl_abs" status) >"$T/out" 2>"$T/err"
echo "$? status (in MNT): $(head -c 300 "$T/err")" >"$T/stopped"
for args in "status $mnt" "status $mnt/" "hosts $mnt" "shadows $mnt" "top $mnt" "load $mnt" \
            "forecast $mnt" "status $mnt --json"; do
  timeout 5 "$CTL" $args >"$T/out" 2>"$T/err"
  echo "$? $args: $(head -c 300 "$T/err")" >>"$T/stopped"
done
# ... and status says it is stopped (it said "running")
"$CTL" status "$mnt" >"$T/out" 2>&1; "$CTL" status "$mnt" --json >"$T/json" 2>&1
kill -CONT "$pid"
grep -v '^0 ' "$T/stopped" && it_fail "on a stopped mount (124: hung): $(cat "$T/stopped")"
grep -q "^mount      $mnt (pid $pid, stopped by a signal: it answers nothing until SIGCONT)$" "$T/out" ||
  it_fail "status of a stopped mount: $(cat "$T/out")"
grep -q '"running":true,"stopped":true,' "$T/json" || it_fail "status --json of a stopped mount: $(cat "$T/json")"
"$CTL" status "$mnt" --json | grep -q '"running":true,"stopped":false,' ||
  it_fail "status --json after SIGCONT: $("$CTL" status "$mnt" --json)"

it_umount "$mnt"
wait "$IT_PID" 2>/dev/null
out=$("$CTL" status --state "$state") || it_fail "status of a stopped mount failed"
grep -q "^mount      $mnt (pid $pid, not running)$" <<<"$out" || it_fail "stopped mount: $out"

"$CTL" status "$T/nowhere" 2>"$T/err" && it_fail "a missing path accepted"
grep -q "neither a state directory nor under a known shadowfs mount" "$T/err" ||
  it_fail "missing path message: $(cat "$T/err")"
# A plain directory is not taken for a state directory (it was: "not
# running", status 0), with --state neither.
plain=$(it_tmpdir plain)
"$CTL" status "$plain" >"$T/out" 2>"$T/err" && it_fail "status of a plain directory succeeded: $(cat "$T/out")"
grep -q "$plain is neither a state directory nor under a known shadowfs mount" "$T/err" ||
  it_fail "plain directory message: $(cat "$T/err")"
"$CTL" hosts "$plain" 2>"$T/err" && it_fail "hosts of a plain directory succeeded"
grep -q "neither a state directory" "$T/err" || it_fail "hosts, plain directory: $(cat "$T/err")"
for cmd in status hosts shadows; do
  "$CTL" $cmd --state "$plain" >"$T/out" 2>"$T/err" && it_fail "$cmd --state of a plain directory succeeded: $(cat "$T/out")"
  grep -q "$plain holds no shadowfs state" "$T/err" || it_fail "$cmd --state, plain directory: $(cat "$T/err")"
done
"$CTL" status --state "$state" >/dev/null || it_fail "status --state of the mount's state directory"
# A user who may not read the state directory (another user's is 0700) is
# told so, not shown "recording off" and "no hosts" (the files unreadable).
cp "$CTL" "$T/ctl" && chmod 755 "$T" "$T/ctl" && chmod 700 "$state"
for cmd in status hosts shadows top load; do
  setpriv --reuid=65534 --regid=65534 --clear-groups "$T/ctl" $cmd "$mnt" >"$T/out" 2>"$T/err" &&
    it_fail "$cmd by a user who cannot read the state: $(cat "$T/out")"
  grep -q "the state directory $state is not readable by this user (it is uid 0's)" "$T/err" ||
    it_fail "$cmd by a user who cannot read the state: $(cat "$T/err")"
done
chmod 755 "$state"
# A remount of this state directory without hosts= (shadowing off) shows
# what a fresh state directory shows (it showed the earlier mount's host up
# and its control line, from the hosts.status, shadows.status and
# control.stats that mount left); one with norecord says recording is off
# (it showed the earlier recorder.stats).
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state"
out=$("$CTL" status "$mnt") || it_fail "status after a remount without hosts="
grep -q "^hosts      none (mounted without -o hosts=)$" <<<"$out" && grep -q "^shadows    none$" <<<"$out" &&
  ! grep -q "^control" <<<"$out" || it_fail "remount without hosts=: the earlier mount's figures: $out"
"$CTL" status "$mnt" --json | grep -q '"hosts":null,"shadows":null,"control":null}$' ||
  it_fail "remount without hosts=, JSON: $("$CTL" status "$mnt" --json)"
"$CTL" hosts "$mnt" >"$T/out" 2>"$T/err"
grep -q "has no hosts (mounted without -o hosts=)" "$T/err" ||
  it_fail "remount without hosts=: shadowctl hosts: $(cat "$T/out" "$T/err")"
"$CTL" shadows "$mnt" >"$T/out" 2>"$T/err"
grep -q "shadows nothing (mounted without -o hosts=)" "$T/err" ||
  it_fail "remount without hosts=: shadowctl shadows: $(cat "$T/out" "$T/err")"
it_umount "$mnt"
# (tls= with only local hosts: no connection to secure, the mount says so;
# it was silently ignored)
IT_MOUNT_LOG=$T/localtls.log it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$state,hosts=$T/h1,tls=$T/certs"
it_log_has "$T/localtls.log" "warning: -o tls=$T/certs has no effect without a remote host in hosts= (only remote hosts are reached over TLS)" ||
  it_fail "tls= with only local hosts not warned of: $(cat "$T/localtls.log")"
out=$("$CTL" status "$mnt") || it_fail "status after a remount with norecord"
grep -q "^recording  off (mounted with norecord)$" <<<"$out" && ! grep -q "^inodes" <<<"$out" ||
  it_fail "remount with norecord: the earlier mount's recorder: $out"
it_umount "$mnt"
# A later mount on the same mount point that keeps no state (norecord, no
# hosts): its status is not the earlier mount's (it was: that mount's pid
# and figures), it says why there is nothing to show.
"$CTL" status "$mnt" >/dev/null || it_fail "status of the stopped mount by its mount point"
# (bucket= and shadow_tick= act only with recording and with hosts=: the
# mount says so, they were silently ignored)
IT_MOUNT_LOG=$T/norecord.log it_mount "$SHADOWFS" "$backing" "$mnt" norecord,bucket=5,shadow_tick=0.5,shadow_idle=9
it_log_has "$T/norecord.log" "warning: -o shadow_tick=0.5 has no effect without hosts= (shadowing needs a host)" &&
  it_log_has "$T/norecord.log" "warning: -o bucket=5 has no effect with norecord (recording is off)" ||
  it_fail "options without effect not warned of: $(cat "$T/norecord.log")"
[ "$(grep -c "has no effect" "$T/norecord.log")" = 2 ] || it_fail "more than one warning per kind: $(cat "$T/norecord.log")"
"$CTL" status "$mnt" >"$T/out" 2>"$T/err" && it_fail "stateless mount: the earlier mount's status: $(cat "$T/out")"
grep -q "$mnt is a shadowfs mount without a state directory" "$T/err" ||
  it_fail "stateless mount: $(cat "$T/err")"
# A pin or a setting there (no hosts): EINVAL, and the log says why, once.
for n in pin threshold pin; do
  setfattr -n "user.shadow.$n" -v 1 "$mnt/data" 2>"$T/err" && it_fail "user.shadow.$n taken without hosts"
  grep -q "Invalid argument" "$T/err" || it_fail "user.shadow.$n without hosts: $(cat "$T/err")"
done
[ "$(grep -c "needs a host (mount with -o hosts=" "$T/norecord.log")" = 1 ] ||
  it_fail "the log does not say once why a pin needs hosts: $(cat "$T/norecord.log")"
it_umount "$mnt"
# A mount with norecord and hosts= has a state directory but no store: the
# store views say recording is off, as status does (they said "no series
# store at STATE/series.db: No such file or directory"), and exit 1.
mkdir -p "$T/h2"
it_mount "$SHADOWFS" "$backing" "$mnt" "norecord,state=$T/nrstate,hosts=$T/h2"
"$CTL" status "$mnt" | grep -q "^recording  off (mounted with norecord)$" ||
  it_fail "norecord: status: $("$CTL" status "$mnt")"
for args in "top $mnt" "load $mnt" "forecast $mnt" "forecast $mnt/data" "stats $mnt/data" \
            "top --state $T/nrstate" "stats data --state $T/nrstate"; do
  "$CTL" $args >"$T/out" 2>"$T/err"; rc=$?
  [ $rc -eq 1 ] && grep -q "^shadowctl [a-z]*: $mnt: recording off (mounted with norecord)" "$T/err" ||
    it_fail "norecord: $args: rc=$rc, stderr: $(cat "$T/err")"
done
it_umount "$mnt"
# A mount whose process was killed stays in the mount table, every access
# to it failing with ENOTCONN: status says so and how to clear it (it said
# "not running" as after an unmount); once unmounted, "not running" again.
it_mount "$SHADOWFS" "$backing" "$mnt" "state=$state"
pid=$IT_PID
kill -KILL "$pid"; wait "$pid" 2>/dev/null
out=$("$CTL" status "$mnt") || it_fail "status of a dead mount failed"
grep -qxF "mount      $mnt (pid $pid, not running; its mount is still there, dead: every access fails until 'fusermount3 -u $mnt')" <<<"$out" ||
  it_fail "dead mount: $out"
"$CTL" status "$mnt" --json | grep -q '"running":false,"stopped":false,"dead_mount":true,' ||
  it_fail "dead mount, JSON: $("$CTL" status "$mnt" --json)"
fusermount3 -u "$mnt" || it_fail "fusermount3 -u of the dead mount"
out=$("$CTL" status "$mnt") || it_fail "status after the dead mount's unmount failed"
grep -qx "mount      $mnt (pid $pid, not running)" <<<"$out" || it_fail "dead mount unmounted: $out"
"$CTL" status "$mnt" --json | grep -q '"dead_mount":false,' || it_fail "dead mount unmounted, JSON"
"$CTL" status a b 2>"$T/err"; [ $? -eq 2 ] || it_fail "two operands: not a usage error"
"$CTL" status --bogus 2>"$T/err"; [ $? -eq 2 ] || it_fail "unknown option: not a usage error"
# Help asked for is no error, for every subcommand: the usage on stdout,
# status 0 (status, hosts and shadows printed it on stderr with status 2);
# an operand version does not take is a usage error (it was ignored).
for cmd in version ca status top stats forecast load hosts shadows why host push; do
  for h in --help -h; do
    "$CTL" $cmd $h >"$T/out" 2>"$T/err"; rc=$?
    [ $rc -eq 0 ] && grep -q "^usage: shadowctl $cmd" "$T/out" && [ ! -s "$T/err" ] ||
      it_fail "$cmd $h: rc=$rc, stdout: $(cat "$T/out"), stderr: $(cat "$T/err")"
  done
done
# Numbers and durations are digits first: a leading blank was skipped
# (top -n ' 5' listed 5 files, --window ' 5m' was 5m).
while read -r pat args; do
  eval "set -- $args"
  "$CTL" "$@" >/dev/null 2>"$T/err"; rc=$?
  [ $rc -eq 2 ] && grep -q -- "$pat" "$T/err" || it_fail "$args: rc=$rc, stderr: $(cat "$T/err")"
done <<EOF_
bad.-n top --state '$state' -n ' 5'
bad.--window top --state '$state' --window ' 5m'
bad.--tier stats data --state '$state' --tier ' 1'
bad.--season forecast --state '$state' --season ' 1'
--days ca init '$T/ca' --days ' 5'
--interval host watch 127.0.0.1:1 --interval ' 100' --certs '$T/ca'
--timeout host status 127.0.0.1:1 --timeout ' 100' --certs '$T/ca'
EOF_
# shadowctl help lists every option each subcommand's --help gives (top's
# --by, stats' and load's --tier, forecast's but --bucket were left out).
"$CTL" help >"$T/help" || it_fail "shadowctl help"
for cmd in version ca status top stats forecast load hosts shadows why host push; do
  line=$(grep "^  $cmd " "$T/help") || line=$(grep "^  $cmd$" "$T/help") || it_fail "help: no $cmd line"
  for flag in $("$CTL" $cmd --help | grep -v '^TLS:' | grep -oE -- '(^|[[ |])--?[a-z][a-z-]*' | grep -oE -- '--?[a-z-]+' | sort -u); do
    grep -q -- "$flag\b" <<<"$line" || it_fail "shadowctl help: $cmd lacks $flag: $line"
  done
done
# Every message names its subcommand, "shadowctl CMD: " (getopt's said
# "top: ", the store and TLS flag helpers "shadowctl: ").
while read -r cmd args; do
  "$CTL" $cmd $args >/dev/null 2>"$T/err"
  [ "$(head -c $((${#cmd} + 12)) "$T/err")" = "shadowctl $cmd: " ] ||
    it_fail "$cmd $args: the message does not start with 'shadowctl $cmd: ': $(cat "$T/err")"
done <<EOF_
top --bogus
load -x
stats --window
forecast --horizon
why --bogus
top $plain
load --state $plain
stats $plain/f
forecast $plain
host status 127.0.0.1:1 --timeout
push $T/f 127.0.0.1:1 --certs
EOF_
"$CTL" version extra >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^usage: shadowctl version" "$T/err" || it_fail "version extra: rc=$rc $(cat "$T/out")"
echo "ok"
