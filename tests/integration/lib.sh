# Shared helpers for integration tests that mount shadowfs for real.
# Source it from bash: `. "$(dirname "$0")/lib.sh"`. Everything a test starts
# (mounts, processes, temp dirs) is registered and torn down by an EXIT trap,
# even when the test fails.
#
#   it_tmpdir NAME            -> prints a fresh dir under $IT_ROOT (auto-removed)
#   it_mount SHADOWFS BACKING MNT [opts]  mounts in the foreground (-f) in the
#                             background, waits until mounted; sets IT_PID
#                             (its stderr also copied to $IT_MOUNT_LOG if set)
#   it_umount MNT             unmounts and waits for the process to exit
#   it_fail MSG               prints "FAIL: MSG" and exits 1
#   it_check DESC CMD...      runs CMD; fails the test with DESC if it fails
#   it_readers_start N CMD... N background loops of CMD until it_readers_stop
#   it_tmpfs DIR SIZE [TYPE]  mounts a tmpfs of SIZE on DIR (a small filesystem
#                             to fill: fault tests), or a TYPE (ramfs: no file
#                             handles, no xattrs; SIZE unused); unmounted at exit
#   it_shadowd SHADOWD STORE CERTDIR NAME LOG PORT [flags]
#                             starts shadowd -f on 127.0.0.1:PORT (0: any free
#                             port) with CERTDIR/NAME.crt|key and CERTDIR/ca.crt,
#                             stderr to LOG, waits until it listens; sets
#                             IT_SD_PID and IT_SD_PORT
#   it_shadowd_port_down SHADOWD STORE CERTDIR NAME LOG
#                             a free port (IT_SD_PORT) for a shadowd down at first
#   it_ca CTL DIR "SERVERS" "CLIENTS"  a cluster CA in DIR (shadowctl ca):
#                             server certificates for 127.0.0.1, client ones
#   it_shadow_state FILE      prints FILE's user.shadow.state (empty if none)
#   it_wait_for DESC SECONDS CMD...  runs CMD every 50 ms until it succeeds;
#                             fails the test with DESC after SECONDS (and the
#                             state of $IT_WATCH, a shadowed file, if set, and
#                             the output of $IT_WAIT_SHOW, a command run at
#                             the failure, if set: `IT_WAIT_SHOW='cat "$T/out"'
#                             it_wait_for ...`; a $(...) in DESC is run before
#                             the wait and shows what was there then)
set -uo pipefail

# A scratch directory or nothing: with none (a full disk), IT_ROOT would be
# empty and every path below it one under / (a full disk once left /backing).
IT_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/shadowfs-it.XXXXXX") && [ -n "$IT_ROOT" ] || {
  echo "FAIL: cannot make a scratch directory in ${TMPDIR:-/tmp}" >&2
  exit 1
}
chmod 755 "$IT_ROOT"
# The recorder's default state directory and the mount registry of every
# mount a test makes stay inside IT_ROOT (removed with it).
export SHADOWFS_STATE_ROOT="$IT_ROOT/state-root" SHADOWFS_RUN_DIR="$IT_ROOT/run"
# The tests' Python helpers (it_threads.py) import from here.
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
IT_MOUNTS=()
IT_PIDS=()
IT_TMPFS=()

# Whether MNT is in the mount table: mountpoint(1) stats it, which fails
# with ENOTCONN on the mount of a daemon that died, and such a mount was left.
it_in_mount_table() { awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts; }

it_cleanup() {
  local m p
  it_readers_stop # before the unmounts: a reader would hold a mount busy
  for m in "${IT_MOUNTS[@]}"; do
    it_in_mount_table "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
  done
  for p in "${IT_PIDS[@]}"; do
    kill "$p" 2>/dev/null && { for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
  done
  for m in "${IT_TMPFS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  rm -rf "$IT_ROOT"
}
trap it_cleanup EXIT

it_fail() { echo "FAIL: $*" >&2; exit 1; }

# Background readers: each runs CMD... in a loop until it_readers_stop,
# which stops them by a flag and waits for them (a kill could leave one
# holding the mount busy); it_cleanup stops them too.
IT_READERS=()
it_readers_start() { # N CMD...
  local n=$1 _
  shift
  rm -f "$IT_ROOT/readers.stop"
  for _ in $(seq "$n"); do
    (while [ ! -e "$IT_ROOT/readers.stop" ]; do "$@"; done) &
    IT_READERS+=($!)
  done
}
it_readers_stop() {
  local p
  [ "${#IT_READERS[@]}" -gt 0 ] || return 0
  touch "$IT_ROOT/readers.stop"
  for p in "${IT_READERS[@]}"; do wait "$p"; done
  IT_READERS=()
}
it_check() { local d=$1; shift; "$@" || it_fail "$d"; }

it_tmpdir() { local d="$IT_ROOT/$1"; mkdir -p "$d"; echo "$d"; }

it_tmpfs() { # DIR SIZE [TYPE]: a tmpfs (or TYPE: ramfs has no file handles, no xattrs)
  local type=${3:-tmpfs} opts="size=$2,mode=0755"
  [ "$type" = tmpfs ] || opts=mode=0755
  mkdir -p "$1" && mount -t "$type" -o "$opts" "$type" "$1" ||
    it_fail "cannot mount a $type of $2 on $1"
  IT_TMPFS+=("$1")
}

# FUSE over io_uring needs the fuse module's enable_uring parameter (off by
# default; other FUSE daemons are not affected: a daemon opts in at INIT).
it_enable_uring() {
  local p=/sys/module/fuse/parameters/enable_uring
  [ -w "$p" ] || it_fail "$p missing or not writable (kernel without FUSE over io_uring?)"
  [ "$(cat "$p")" = Y ] || echo Y >"$p" || it_fail "cannot set $p"
}

# After the unmount of an io_uring mount (it_mount with io_uring in its
# options): the rings served requests, and every one got its reply.
it_uring_check() {
  [ -n "${IT_URING_LOG:-}" ] || return 0
  local line i
  for i in $(seq 40); do # the log goes through tee: give it a moment
    line=$(grep -o 'io_uring: .* served [0-9]* requests ([0-9]* unreplied)' "$IT_URING_LOG" | tail -1)
    [ -n "$line" ] && break
    sleep 0.05
  done
  [ -n "$line" ] || it_fail "no io_uring summary in the log: the rings were not used"
  local served unreplied
  served=$(sed -n 's/.* served \([0-9]*\) requests.*/\1/p' <<<"$line")
  unreplied=$(sed -n 's/.*(\([0-9]*\) unreplied).*/\1/p' <<<"$line")
  echo "$line"
  [ "$served" -gt 0 ] || it_fail "the io_uring workers served no request"
  [ "$unreplied" -eq 0 ] || it_fail "$unreplied requests got no reply on their ring"
}

it_mount() { # SHADOWFS BACKING MNT [opts]
  local bin=$1 backing=$2 mnt=$3 opts=${4:-}
  local args=("$backing" "$mnt" -f)
  [ -n "$opts" ] && args+=(-o "$opts")
  local log=${IT_MOUNT_LOG:-}
  if [[ ",$opts," == *,io_uring,* ]]; then
    it_enable_uring
    [ -n "$log" ] || log=$(it_tmpdir uring-log)/shadowfs.log
    IT_URING_LOG=$log
  fi
  if [ -n "$log" ]; then
    "$bin" "${args[@]}" 2> >(tee "$log" >&2) &
  else
    "$bin" "${args[@]}" &
  fi
  IT_PID=$!
  IT_PIDS+=("$IT_PID")
  IT_MOUNTS+=("$mnt")
  local i
  for i in $(seq 100); do
    mountpoint -q "$mnt" && return 0
    kill -0 "$IT_PID" 2>/dev/null || it_fail "shadowfs exited before mounting $mnt"
    sleep 0.05
  done
  it_fail "shadowfs did not mount $mnt within 5 s"
}

it_umount() { # MNT
  local mnt=$1
  # EBUSY while something outside stats the mount for a moment (df, a
  # monitoring agent: an xfstests run beside the suite made it fail); a
  # mount still busy after 2 s fails the test.
  local try err
  for try in $(seq 20); do
    err=$(fusermount3 -u "$mnt" 2>&1) && break
    [[ "$err" == *busy* ]] || it_fail "fusermount3 -u $mnt failed: $err"
    sleep 0.1
  done
  [ "$try" -lt 20 ] || ! it_in_mount_table "$mnt" || it_fail "fusermount3 -u $mnt failed: $err"
  local p
  for p in "${IT_PIDS[@]}"; do
    # A shadowd outlives the mount (it_cleanup stops it): not waited for.
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = shadowd ] && continue
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  done
}

it_shadowd() { # SHADOWD STORE CERTDIR NAME LOG PORT [flags...]
  local bin=$1 store=$2 certs=$3 name=$4 log=$5 port=$6
  shift 6
  "$bin" -f --store "$store" --listen "127.0.0.1:$port" --cert "$certs/$name.crt" \
    --key "$certs/$name.key" --ca "$certs/ca.crt" "$@" 2>"$log" &
  IT_SD_PID=$!
  IT_PIDS+=("$IT_SD_PID")
  IT_SD_PORT=
  local i
  for i in $(seq 100); do
    IT_SD_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [ -n "$IT_SD_PORT" ] && return 0
    kill -0 "$IT_SD_PID" 2>/dev/null || it_fail "shadowd exited: $(cat "$log")"
    sleep 0.05
  done
  it_fail "shadowd did not start within 5 s: $(cat "$log")"
}

# A free port for a shadowd that is down at first (a migration's cheaper
# host, brought up later with it_shadowd ... PORT): one started, its port
# taken, then stopped. Sets IT_SD_PORT.
it_shadowd_port_down() { # SHADOWD STORE CERTDIR NAME LOG
  it_shadowd "$@" 0
  kill "$IT_SD_PID"; wait "$IT_SD_PID" 2>/dev/null
}

it_ca() { # CTL DIR "SERVERS" "CLIENTS"
  local ctl=$1 dir=$2 n
  it_check "ca init" "$ctl" ca init "$dir" >/dev/null
  for n in $3; do it_check "ca issue $n" "$ctl" ca issue "$dir" "$n" --ip 127.0.0.1 >/dev/null; done
  for n in $4; do it_check "ca issue $n" "$ctl" ca issue "$dir" "$n" >/dev/null; done
}

# One file copied to a local host and one to a shadowd, each pinned there
# (the setup of the tests that check both kinds of copy alike): makes
# BACKING/loc and BACKING/rem (SIZE random bytes each), a CA and a shadowd
# (store STORE), and mounts with hosts=T/local;127.0.0.1:PORT, its TLS
# identity and OPTS. Sets LOCAL (the local host's directory) and H (the
# shadowd's address).
it_mount_loc_rem() { # SHADOWFS SHADOWD CTL T STORE BACKING MNT SIZE OPTS
  local fs=$1 sd=$2 ctl=$3 t=$4 store=$5 backing=$6 mnt=$7 size=$8 opts=$9 f h
  LOCAL=$t/local
  it_ca "$ctl" "$t/ca" "sd" "origin"
  it_shadowd "$sd" "$store" "$t/ca" sd "$t/sd.log" 0
  H=127.0.0.1:$IT_SD_PORT
  head -c "$size" /dev/urandom >"$backing/loc"
  head -c "$size" /dev/urandom >"$backing/rem"
  it_mount "$fs" "$backing" "$mnt" "$opts,hosts=$LOCAL;$H,tls=$t/ca,tls_name=origin"
  for f in loc rem; do
    h=$LOCAL; [ $f = rem ] && h=$H
    setfattr -n user.shadow.hosts -v "$h" "$mnt/$f" || it_fail "hosts of $f"
    setfattr -n user.shadow.pin -v 1 "$mnt/$f" || it_fail "pin $f"
  done
}

# N small random files DIR/dK/fI (K = I mod DIRS) of BASE + I mod SPREAD
# bytes; the path of file I is then "d$((I % DIRS))/f$I".
it_small_files() { # DIR N DIRS BASE SPREAD
  python3 - "$@" <<'PY'
import os, sys
root, n, dirs, base, spread = sys.argv[1], *map(int, sys.argv[2:6])
for i in range(n):
    d = os.path.join(root, "d%d" % (i % dirs))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%d" % i), "wb") as f:
        f.write(os.urandom(base + i % spread))
PY
}

# The copies in a host store directory (its temporary files aside).
it_copies_in() { # DIR
  find "$1" -maxdepth 1 -type f ! -name 'tmp.*' ! -name 'unsynced.*' | wc -l
}

# The value can grow between getfattr's size query and its read (a copy
# lands: "copying" -> "serving:reads=0:..."): ERANGE, nothing printed. A
# pin check then failed on a pinned file (fs_pin_rename_kill9, 1 run in
# 30 under meson). Asked again, as shadowctl does.
it_shadow_state() { # FILE
  local v _
  for _ in 1 2 3 4 5; do
    v=$(getfattr --only-values -n user.shadow.state "$1" 2>/dev/null) && { printf '%s' "$v"; return 0; }
  done
  return 1
}

# it_log_has FILE PATTERN: PATTERN (grep) in FILE within 10 s. A mount's
# log reaches its file through tee (it_mount with IT_MOUNT_LOG), a moment
# after the mount wrote it: a line said before an op replied may not be in
# the file yet when the op returns, so a log is waited for, not grepped once.
it_log_has() {
  local _
  for _ in $(seq 200); do grep -q -- "$2" "$1" && return 0; sleep 0.05; done
  return 1
}

it_wait_for() { # DESC SECONDS CMD...
  local d=$1 s=$2; shift 2
  for _ in $(seq $((s * 20))); do "$@" && return 0; sleep 0.05; done
  it_fail "$d after $s s${IT_WATCH:+: state: $(it_shadow_state "$IT_WATCH")}${IT_WAIT_SHOW:+: $(eval "$IT_WAIT_SHOW" 2>&1)}"
}
