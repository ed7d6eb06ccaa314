#!/usr/bin/env bash
# shadowd out of file descriptors: more peers than its open files limit
# allows (a shadowd started with a low RLIMIT_NOFILE, here 32). accept4
# then fails with EMFILE and the peer stays in the backlog, so the
# listening socket stays readable: the accept loop spun a core at 100%,
# silently, until a connection ended. Now it waits between tries, says
# so (at most once a minute), and serves once the peers leave; a limit
# low for --max-conns is warned about at start.
# Usage: sync_accept_emfile.sh SHADOWD SHADOWCTL SYNC_CLI
. "$(dirname "$0")/lib.sh"
SHADOWD=$1 CTL=$2 CLI=$3
T=$(it_tmpdir accept_emfile)
it_ca "$CTL" "$T/ca" server client
cli() { "$CLI" --cert "$T/ca/client.crt" --key "$T/ca/client.key" --ca "$T/ca/ca.crt" "$@"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # user + system CPU, 1/100 s

# prlimit execs shadowd (the pid stays the shadowd's); the hard limit is 32
# too, so shadowd's raise of the soft limit changes nothing.
printf '#!/bin/sh\nexec prlimit --nofile=32:32 -- "%s" "$@"\n' "$SHADOWD" >"$T/shadowd"
chmod +x "$T/shadowd"
it_shadowd "$T/shadowd" "$T/store" "$T/ca" server "$T/sd.log" 0
PID=$IT_SD_PID PORT=$IT_SD_PORT
[ "$(cat "/proc/$PID/comm")" = shadowd ] || it_fail "pid $PID is not the shadowd"
grep -q "^Max open files *32 *32 " "/proc/$PID/limits" || it_fail "limit: $(grep files "/proc/$PID/limits")"
# Said at start: 32 is low for the default --max-conns 64.
grep -q "the open files limit (32) is low for --max-conns 64" "$T/sd.log" ||
  it_fail "no warning at start about the low limit: $(cat "$T/sd.log")"
it_check "ping before" cli ping "127.0.0.1:$PORT" 2>/dev/null

# 40 peers that connect and send nothing (each accepted one holds 2 fds
# until its 5 s handshake deadline): the limit is reached within them.
fds=()
for _ in $(seq 40); do
  exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || it_fail "connect"
  fds+=("$fd")
done
logged() { grep -q "$1" "$T/sd.log"; }
IT_WAIT_SHOW='cat "$T/sd.log"' it_wait_for "EMFILE not logged" 3 logged "cannot accept connections: Too many open files (open files limit 32"
a=$(ticks "$PID")
sleep 1
b=$(ticks "$PID")
echo "shadowd CPU while out of file descriptors: $((b - a)) of 100 ticks in 1 s"
[ $((b - a)) -le 30 ] || it_fail "shadowd busy while out of file descriptors: $((b - a)) ticks in 1 s"
[ "$(grep -c "cannot accept connections" "$T/sd.log")" = 1 ] || it_fail "logged more than once a minute: $(cat "$T/sd.log")"
for fd in "${fds[@]}"; do exec {fd}>&-; done

# The peers gone (their handshakes fail at once), it serves again.
it_check "ping after" cli --timeout 8000 ping "127.0.0.1:$PORT" 2>/dev/null
kill -0 "$PID" || it_fail "shadowd died"
grep -l "Sanitizer" "$T/sd.log" && it_fail "sanitizer report: $(cat "$T/sd.log")"
echo "PASS sync_accept_emfile"
