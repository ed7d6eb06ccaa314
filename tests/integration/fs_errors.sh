#!/usr/bin/env bash
# Errors a user can act on: each makes shadowfs exit with status 1 and one
# line on stderr naming the problem, and leaves nothing mounted. Among
# them: a second mount of a BACKING whose state directory is in use.
# usage: fs_errors.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1
backing=$(it_tmpdir backing)
mnt=$(it_tmpdir mnt)
out=$IT_ROOT/stderr


fs_expect_error "$mnt" "missing backing" "backing directory $IT_ROOT/nope: No such file or directory" \
  "$shadowfs" "$IT_ROOT/nope" "$mnt" -f
touch "$IT_ROOT/file"
fs_expect_error "$mnt" "backing not a directory" "not a directory" "$shadowfs" "$IT_ROOT/file" "$mnt" -f
fs_expect_error "$mnt" "missing mount point" "mount point $IT_ROOT/nomnt: No such file" \
  "$shadowfs" "$backing" "$IT_ROOT/nomnt" -f
fs_expect_error "$mnt" "unknown option" "unknown option 'bogus'" "$shadowfs" "$backing" "$mnt" -f -o bogus
fs_expect_error "$mnt" "bad cache value" "cache=sometimes" "$shadowfs" "$backing" "$mnt" -o cache=sometimes
fs_expect_error "$mnt" "bad number" "max_write=huge" "$shadowfs" "$backing" "$mnt" -o max_write=huge
fs_expect_error "$mnt" "unknown flag" "unknown option '-z'" "$shadowfs" "$backing" "$mnt" -z
fs_expect_error "$mnt" "missing mount point argument" "usage:" "$shadowfs" "$backing"
# A path in tls_name= (it read DIR/../ca/ops.crt): refused as shadowctl ca
# issue refuses the name, before anything starts.
fs_expect_error "$mnt" "tls_name with a path" "bad option 'tls_name=../ca/ops'" \
  "$shadowfs" "$backing" "$mnt" -f -o "norecord,tls=$IT_ROOT/tls,tls_name=../ca/ops,hosts=127.0.0.1:7811"
# Where shadowfs keeps its own files: a host directory in BACKING (its
# copies would be files of the mount) or in MOUNTPOINT, the state
# directory in MOUNTPOINT (hidden by the mount, or reached through it).
fs_expect_error "$mnt" "host directory in BACKING" "host directory $backing/.shadows is inside the backing directory" \
  "$shadowfs" "$backing" "$mnt" -f -o "norecord,hosts=$backing/.shadows"
fs_expect_error "$mnt" "host directory in MOUNTPOINT" "host directory $mnt/h is inside the mount point" \
  "$shadowfs" "$backing" "$mnt" -f -o "norecord,hosts=$IT_ROOT/h2;$mnt/h"
fs_expect_error "$mnt" "state directory in MOUNTPOINT" "state directory $mnt/st is inside the mount point.*state=DIR elsewhere" \
  "$shadowfs" "$backing" "$mnt" -f -o "state=$mnt/st"
fs_expect_error "$mnt" "host directory holding BACKING" "host directory / holds $backing: give a directory of its own" \
  "$shadowfs" "$backing" "$mnt" -f -o "norecord,hosts=/"
fs_expect_error "$mnt" "host directory with a space" "hosts: '$IT_ROOT/h x': a host directory's path may not hold spaces" \
  "$shadowfs" "$backing" "$mnt" -f -o "norecord,hosts=$IT_ROOT/h x"
mkdir -p "$backing/inner"
fs_expect_error "$mnt" "mount point inside BACKING" "mount point $backing/inner is inside the backing directory $backing: the mount would contain itself" \
  "$shadowfs" "$backing" "$backing/inner" -f -o norecord
grep -q " $backing/inner fuse" /proc/mounts && it_fail "a mount inside BACKING was made"
rmdir "$backing/inner"
[ ! -e "$backing/.shadows" ] && [ ! -e "$mnt/h" ] && [ ! -e "$mnt/st" ] && [ ! -e "$IT_ROOT/h x" ] ||
  it_fail "a refused directory was made"
# --help names each option once, and shadowfs(8) documents each of them.
man=$(dirname "$0")/../../docs/man/shadowfs.8
"$shadowfs" --help >"$out" 2>&1 || it_fail "--help: exit status $?"
opts=$(grep -o '^  -o [a-z_]*' "$out" | awk '{print $2}')
[ -n "$opts" ] || it_fail "--help lists no -o options: $(head -3 "$out")"
dups=$(printf '%s\n' $opts | sort | uniq -d)
[ -z "$dups" ] || it_fail "--help lists these options twice: $dups"
for o in $opts; do
	grep -q -- "$o" "$man" || it_fail "option $o is in --help but not in shadowfs(8)"
done
echo "ok --help: $(printf '%s\n' $opts | wc -l) options, each once, each in shadowfs(8)"
# /dev/fuse missing: an empty /dev in a private mount namespace.
fs_expect_error "$mnt" "no /dev/fuse" "/dev/fuse is missing" \
  unshare -m sh -c "mount -t tmpfs none /dev && exec '$shadowfs' '$backing' '$mnt' -f"

# Errors met after the mount, while the daemon starts (here a damaged
# series store): without -f too, the error reaches the terminal and the
# exit status is 1 (it was 0, the line only in syslog, nothing mounted).
st=$(it_tmpdir damaged-state)
head -c 50000 /dev/urandom >"$st/series.db"
fs_expect_error "$mnt" "damaged series store (daemon)" "$st/series.db is not a readable series store.*move it aside" \
  "$shadowfs" "$backing" "$mnt" -o "state=$st"
fs_expect_error "$mnt" "damaged series store (-f)" "$st/series.db is not a readable series store" \
  "$shadowfs" "$backing" "$mnt" -f -o "state=$st"
rm "$st/series.db"
timeout 10 "$shadowfs" "$backing" "$mnt" -o "state=$st" 2>"$out"; rc=$?
[ "$rc" -eq 0 ] && mountpoint -q "$mnt" || it_fail "daemon start after the repair: status $rc, $(cat "$out")"
[ -s "$out" ] && it_fail "a daemon that started printed: $(cat "$out")"
echo "ok daemon started: status 0, mounted, nothing printed"
pid=$(pgrep -f "^$shadowfs $backing $mnt -o state=$st\$")
[ -n "$pid" ] || it_fail "no daemon process"
[ "$(readlink "/proc/$pid/fd/2")" = /dev/null ] || it_fail "the daemon kept the terminal as stderr"
fusermount3 -u "$mnt" || it_fail "unmount of the daemon's mount"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && it_fail "the daemon did not exit after the unmount"

# A busy mount point: already mounted by a first shadowfs.
it_mount "$shadowfs" "$backing" "$mnt"
timeout 10 "$shadowfs" "$backing" "$mnt" -f 2>"$out"
rc=$?
[ "$rc" -eq 1 ] || it_fail "busy mount point: exit status $rc"
[ "$(wc -l < "$out")" -eq 1 ] && grep -q "is busy" "$out" || it_fail "busy: $(cat "$out")"
echo "ok busy mount point: $(cat "$out")"
# A second mount of the same BACKING elsewhere: the default state directory
# is BACKING's, in use by the first mount (both wrote one series store and
# one set of pins before); refused, naming the first. With a state
# directory of its own it mounts.
mnt2=$(it_tmpdir mnt2)
fs_expect_error "$mnt2" "state directory in use" "state directory $SHADOWFS_STATE_ROOT/.* is in use by the mount on $mnt (pid $IT_PID); give this mount one of its own with -o state=DIR" \
  "$shadowfs" "$backing" "$mnt2" -f
first=$IT_PID
it_mount "$shadowfs" "$backing" "$mnt2" "state=$(it_tmpdir state2)"
echo two >"$mnt2/two" && [ "$(cat "$backing/two")" = two ] || it_fail "the second mount with its own state"
fs_umount "$mnt2"
IT_PID=$first
# The first mount still works.
echo ok > "$mnt/still" && [ "$(cat "$backing/still")" = ok ] || it_fail "first mount broken"
fs_umount "$mnt"
echo "PASS fs_errors"
