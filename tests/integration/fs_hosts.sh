#!/usr/bin/env bash
# The mount's resource hosts (-o hosts=, fs/hosts.c) with real processes:
# a local directory host (its store created at mount), a live shadowd over
# mutual TLS, an address where nothing listens and a shadowd of another CA
# (down, the reason saying so). `shadowctl hosts MNT`
# shows them up/up/down; when the shadowd stops the mount marks it down
# within three heartbeat intervals plus slack, and up again once a shadowd
# listens there again (reconnect with backoff). A bad host fails the mount
# with one line and exit status 1, and nothing is mounted.
# Usage: fs_hosts.sh SHADOWFS SHADOWD SHADOWCTL
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1 SHADOWD=$2 CTL=$3
T=$(it_tmpdir fs_hosts)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)

it_check "ca init" "$CTL" ca init "$T/ca" >/dev/null
it_check "ca issue shadowd" "$CTL" ca issue "$T/ca" shadowd1 --ip 127.0.0.1 >/dev/null
it_check "ca issue mount" "$CTL" ca issue "$T/ca" origin >/dev/null

start_shadowd() { # [PORT]: sets SD_PID, SD_PORT
  it_shadowd "$SHADOWD" "$T/remote" "$T/ca" shadowd1 "$T/shadowd.log" "${1:-0}"
  SD_PID=$IT_SD_PID SD_PORT=$IT_SD_PORT
}
# state_of HOST: the STATE column of `shadowctl hosts MNT`.
state_of() { "$CTL" hosts "$mnt" | awk -v h="$1" '$1 == h { print $3 }'; }
# wait_state HOST STATE SECONDS: polls; prints the elapsed ms.
wait_state() {
  local t0 s; t0=$(date +%s%N)
  for _ in $(seq $(($3 * 20))); do
    s=$(state_of "$1")
    [ "$s" = "$2" ] && { echo $((($(date +%s%N) - t0) / 1000000)); return 0; }
    sleep 0.05
  done
  it_fail "$1 is not $2 after $3 s: $("$CTL" hosts "$mnt")"
}

start_shadowd
# A shadowd of another cluster (its own CA): down, with the whole reason.
it_ca "$CTL" "$T/otherca" "other1" ""
it_shadowd "$SHADOWD" "$T/otherstore" "$T/otherca" other1 "$T/other.log" 0
OTHER=$IT_SD_PORT
# A port where nothing listens: bind one, note it, close it.
DEAD=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# Bad hosts fail the mount with one line, exit 1, nothing mounted.
"$SHADOWFS" "$backing" "$mnt" -f -o "hosts=127.0.0.1:$SD_PORT" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "need -o tls=DIR" "$T/err" || it_fail "remote host without tls=: rc=$rc $(cat "$T/err")"
"$SHADOWFS" "$backing" "$mnt" -f -o "hosts=$T/local:cost=x" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "cost 'x'" "$T/err" || it_fail "bad cost: rc=$rc $(cat "$T/err")"
"$SHADOWFS" "$backing" "$mnt" -f -o "hosts=127.0.0.1:$SD_PORT,tls=$T/ca,tls_name=nobody" 2>"$T/err"; rc=$?
[ $rc = 1 ] && grep -q "tls=.*nobody.crt" "$T/err" || it_fail "missing identity: rc=$rc $(cat "$T/err")"
it_in_mount_table "$mnt" && it_fail "a failed start left a mount"

it_mount "$SHADOWFS" "$backing" "$mnt" \
  "norecord,hosts=$T/local:cost=0.5:budget=64m;127.0.0.1:$SD_PORT:cost=2;127.0.0.1:$DEAD;127.0.0.1:$OTHER,tls=$T/ca,tls_name=origin"
[ -d "$T/local" ] || it_fail "the local host store was not created"
wait_state "127.0.0.1:$SD_PORT" up 5 >/dev/null
wait_state "127.0.0.1:$DEAD" down 5 >/dev/null
wait_state "127.0.0.1:$OTHER" down 5 >/dev/null
"$CTL" hosts "$mnt" | tee "$T/hosts"
grep -q "^$T/local  *local  *up  *0.5  copies=0 used_bytes=0 budget_bytes=67108864" "$T/hosts" ||
  it_fail "local host line"
grep -q "^127.0.0.1:$DEAD .*down .*reason=\".*refused" "$T/hosts" || it_fail "dead host line"
# The refusal says what to do, whole (the reason was cut at 159 bytes).
grep -qF "reason=\"peer certificate rejected: self-signed certificate in certificate chain (not issued by this side's CA: the two sides' certificates are of different 'shadowctl ca init')\"" "$T/hosts" ||
  it_fail "another CA's host line"
"$CTL" hosts "$mnt" --json | grep -q "\"host\":\"127.0.0.1:$SD_PORT\",\"kind\":\"remote\",\"cost\":2,\"state\":\"up\"" ||
  it_fail "hosts --json"
# Heartbeats keep arriving: the last one is recent.
sleep 1.2
ago=$("$CTL" hosts "$mnt" | sed -n "s/^127.0.0.1:$SD_PORT .*last_heartbeat_ms=\([0-9]*\).*/\1/p")
[ -n "$ago" ] && [ "$ago" -le 1500 ] || it_fail "last heartbeat $ago ms ago"

# The shadowd stops: down within 3 intervals (1.5 s) + slack.
kill -STOP "$SD_PID"
ms=$(wait_state "127.0.0.1:$SD_PORT" down 6)
echo "stalled shadowd marked down after $ms ms"
kill -CONT "$SD_PID"; kill "$SD_PID"; wait "$SD_PID" 2>/dev/null
# A shadowd on the same port again: up after a reconnect.
start_shadowd "$SD_PORT"
ms=$(wait_state "127.0.0.1:$SD_PORT" up 10)
echo "restarted shadowd marked up after $ms ms"

# Unmount: the watchers stop, the process exits promptly.
t0=$(date +%s%N)
fusermount3 -u "$mnt" || it_fail "unmount"
for _ in $(seq 100); do kill -0 "$IT_PID" 2>/dev/null || break; sleep 0.05; done
kill -0 "$IT_PID" 2>/dev/null && it_fail "shadowfs still running 5 s after unmount"
echo "unmounted and exited in $((($(date +%s%N) - t0) / 1000000)) ms"
echo "fs_hosts: ok"
