#!/usr/bin/env bash
# A mount made by a user who is not root (`shadowfs ~/data ~/mnt`, through
# the setuid fusermount3), as uid 65534 with HOME in the test's directory:
#  - the POSIX suite (the scenarios that need no other user) gives what a
#    plain directory of the same user gives;
#  - a file created through the mount opens again (ELOOP until a remount:
#    without CAP_DAC_READ_SEARCH there are no file handles);
#  - with RLIMIT_NOFILE 1024, 3,000 files all stat and read through the
#    mount (files are known by name without handles: with an fd per inode,
#    lookups failed with EMFILE past about 1,000);
#  - the state and the mount's record are the user's own (it cannot write
#    /var/lib/shadowfs or /run/shadowfs): ~/.local/state/shadowfs/MOUNT-ID,
#    and the record in ~/.local/state/shadowfs/run, so the user's shadowctl
#    finds the mount (it said "a shadowfs mount without a state directory");
#  - with a runtime directory (/run/user/UID) the record goes there, and
#    (allow_root) root's shadowctl finds the user's mount by its user_id (not when the
#    record names a state directory that is not the user's), also with the
#    mount stopped (SIGSTOP: status, hosts, shadows, top, load, forecast);
#  - a pin with a host store of the user's copies the file and reads serve;
#  - root's shadowctl reads a user's state directory as that user: a link
#    the user plants there to a file of root's is not followed;
#  - fusermount3 -u by the user ends the process with status 0.
# Runs in a private mount namespace (re-executed under unshare -m): where
# /dev/fuse is 0600 (containers; Debian makes it 0666) a user's libfuse
# stops before trying fusermount3, so a 0666 node is bound over it there,
# and /run/user is a private tmpfs. Nothing outside the namespace changes.
# Usage: fs_user_mount.sh SHADOWFS SHADOWCTL POSIX_COMPARE FS_MKFILES
if [ -z "${FS_USER_MOUNT_NS:-}" ]; then
  FS_USER_MOUNT_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
T=$(it_tmpdir fs_user_mount)
UID_=65534
mkdir -p "$T/bin" "$T/dev" "$T/home" "$T/native" "$T/b" "$T/m" "$T/home/ssd"
# The binaries where the user can run them (the build tree may be in /root).
cp "$1" "$T/bin/shadowfs" && cp "$2" "$T/bin/shadowctl" && cp "$3" "$T/bin/posix_compare" &&
  cp "$4" "$T/bin/fs_mkfiles" ||
  it_fail "copying the binaries"
chmod 755 "$T/bin"/*
head -c 1048576 /dev/urandom >"$T/b/big"
echo hello >"$T/b/a"
mkdir "$T/b/many" && [ "$("$4" create "$T/b/many" 30 100 2)" = 3000 ] || it_fail "making 3,000 files"
chown -R "$UID_:$UID_" "$T/home" "$T/native" "$T/b" "$T/m"

it_tmpfs "$T/dev" 1m
mknod -m 666 "$T/dev/fuse" c 10 229 && mount --bind "$T/dev/fuse" /dev/fuse ||
  it_fail "binding a 0666 /dev/fuse node"
IT_TMPFS=(/dev/fuse "${IT_TMPFS[@]}") # unmounted before the tmpfs under it
# user_allow_other: the second mount lets root in (allow_root), as a user
# whose mounts root's tools must read would.
echo user_allow_other >"$T/dev/fuse.conf" && mount --bind "$T/dev/fuse.conf" /etc/fuse.conf ||
  it_fail "binding a fuse.conf with user_allow_other"
IT_TMPFS=(/etc/fuse.conf "${IT_TMPFS[@]}")
if [ ! -d /run/user ]; then # no logind here: made for the test, removed after
  mkdir /run/user || it_fail "mkdir /run/user"
  trap 'it_cleanup; rmdir /run/user' EXIT
fi
it_tmpfs /run/user 1m

USER_ENV=(setpriv --reuid=$UID_ --regid=$UID_ --clear-groups
  env -u SHADOWFS_RUN_DIR -u SHADOWFS_STATE_ROOT HOME="$T/home")
as_user() { "${USER_ENV[@]}" "$@"; }
mounted() { awk -v m="$T/m" '$5 == m' /proc/self/mountinfo | grep -q ' - fuse.shadowfs '; }
user_mount() { # LOG [OPTIONS]
  # Not through as_user: $! is then shadowfs itself (the subshell, setpriv
  # and env exec). The fd limit is low enough for 3,000 files to pass it.
  (ulimit -n 1024 && exec "${USER_ENV[@]}" "$T/bin/shadowfs" "$T/b" "$T/m" -f \
    -o "hosts=$T/home/ssd,shadow_tick=0.1,bucket=1${2:+,$2}") 2>"$1" &
  IT_PID=$!
  IT_PIDS+=("$IT_PID")
  IT_MOUNTS+=("$T/m")
  for _ in $(seq 100); do
    mounted && return 0
    kill -0 "$IT_PID" 2>/dev/null || it_fail "the user's shadowfs exited: $(cat "$1")"
    sleep 0.05
  done
  it_fail "the user's shadowfs did not mount within 5 s: $(cat "$1")"
}
user_umount() {
  as_user fusermount3 -u "$T/m" || it_fail "fusermount3 -u by the user"
  wait "$IT_PID"
  local rc=$?
  [ "$rc" -eq 0 ] || it_fail "the user's shadowfs exited with status $rc after unmount"
}

# --- 1: no runtime directory: everything under the user's HOME ---------------
user_mount "$T/mount1.log"
out=$(as_user sh -c "echo created >'$T/m/new' && cat '$T/m/new'" 2>&1)
[ "$out" = created ] || it_fail "a file created through the user's mount does not open again: $out"
seen=$(as_user "$T/bin/fs_mkfiles" stat "$T/m/many" 30 100 2) || it_fail "stat as the user failed after $seen files"
[ "$seen" = 3000 ] || it_fail "the user stat'ed $seen files, expected 3000"
as_user find "$T/m/many" -type f -exec cat {} + >/dev/null || it_fail "reading 3,000 files as the user"
as_user "$T/bin/posix_compare" --root-only "$T/native" "$T/m" >"$T/pc.out" 2>&1 ||
  it_fail "posix_compare as the user: $(grep -v '^ok ' "$T/pc.out")"
grep -q ' 0 divergent scenarios' "$T/pc.out" || it_fail "posix_compare: $(tail -3 "$T/pc.out")"

it_wait_for "no record in ~/.local/state/shadowfs/run" 10 \
  bash -c "ls '$T/home/.local/state/shadowfs/run/mounts/' 2>/dev/null | grep -q ."
as_user "$T/bin/shadowctl" status "$T/m" >"$T/status1" 2>&1 || it_fail "the user's shadowctl status: $(cat "$T/status1")"
grep -Eq "^mount +$T/m \(pid $IT_PID, running\)" "$T/status1" || it_fail "status: $(cat "$T/status1")"
grep -Eq "^state +$T/home/.local/state/shadowfs/[0-9a-f-]{36}$" "$T/status1" || it_fail "status: $(cat "$T/status1")"
# Root cannot tell where that HOME is (uid 65534's passwd entry says
# otherwise): it says what it found and what to do.
env -u SHADOWFS_RUN_DIR "$2" status "$T/m" >"$T/status-root1" 2>&1 && it_fail "root found a record it has no way to find? $(cat "$T/status-root1")"
grep -q "is a shadowfs mount by uid $UID_.*try --state DIR" "$T/status-root1" || it_fail "root's status: $(cat "$T/status-root1")"

# A pin: the copy is made in the user's host store, and reads serve.
as_user setfattr -n user.shadow.pin -v 1 "$T/m/big" || it_fail "the user's pin"
copied() { as_user getfattr --only-values -n user.shadow.state "$T/m/big" 2>/dev/null | grep -q 'copy=[^ ]*:serving'; }
it_wait_for "no copy of the user's pinned file" 15 copied
for _ in 1 2 3; do
  as_user cat "$T/m/big" | cmp -s - "$T/b/big" || it_fail "the pinned file reads other bytes"
done
find "$T/home/ssd" -type f -size 1024k | grep -q . || it_fail "no 1 MiB copy in the user's host store: $(ls -la "$T/home/ssd")"
user_umount

# --- 2: with a runtime directory: the record there, root finds it --------------
install -d -m 700 -o $UID_ -g $UID_ "/run/user/$UID_"
user_mount "$T/mount2.log" allow_root
# Recorded once the daemon has started (after the mount appears: -f).
it_wait_for "no record in /run/user/$UID_/shadowfs" 10 \
  bash -c "ls /run/user/$UID_/shadowfs/mounts/ 2>/dev/null | grep -q ."
[ "$(as_user cat "$T/m/a")" = hello ] || it_fail "read after the remount"
as_user "$T/bin/shadowctl" status "$T/m" >"$T/status2" 2>&1 || it_fail "the user's shadowctl status: $(cat "$T/status2")"
grep -Eq "^mount +$T/m \(pid $IT_PID, running\)" "$T/status2" || it_fail "status: $(cat "$T/status2")"
env -u SHADOWFS_RUN_DIR "$2" status "$T/m" >"$T/status-root2" 2>&1 ||
  it_fail "root's shadowctl does not find the user's mount: $(cat "$T/status-root2")"
grep -Eq "^mount +$T/m \(pid $IT_PID, running\)" "$T/status-root2" || it_fail "root's status: $(cat "$T/status-root2")"
grep -Eq "^state +$T/home/.local/state/shadowfs/[0-9a-f-]{36}$" "$T/status-root2" || it_fail "root's status: $(cat "$T/status-root2")"
grep -q "big" <(as_user "$T/bin/shadowctl" shadows "$T/m" 2>&1) || it_fail "the pin was not kept across the remount"
# The user's mount stopped: root's views answer from the user's record
# without a look into the mount (only root's own run dir was read before
# a lookup of MNT/series.db, which allow_root lets through to the stopped
# daemon: root's shadowctl hung on it).
kill -STOP "$IT_PID"
: >"$T/stopped"
for args in "status $T/m" "hosts $T/m" "shadows $T/m" "top $T/m" "load $T/m" "forecast $T/m"; do
  env -u SHADOWFS_RUN_DIR timeout 5 "$2" $args >"$T/out" 2>"$T/err"
  echo "$? $args: $(head -c 300 "$T/err")" >>"$T/stopped"
done
env -u SHADOWFS_RUN_DIR timeout 5 "$2" status "$T/m" >"$T/status-stopped" 2>&1
kill -CONT "$IT_PID"
grep -v '^0 ' "$T/stopped" && it_fail "root's shadowctl on the user's stopped mount (124: hung): $(cat "$T/stopped")"
grep -Eq "^mount +$T/m \(pid $IT_PID, stopped by a signal" "$T/status-stopped" ||
  it_fail "root's status of the user's stopped mount: $(cat "$T/status-stopped")"
# The user writes that record: one naming a state directory not the
# user's own (root's here) is not taken by root's shadowctl.
mkdir -p "$T/rootstate" && echo "mountpoint=$T/m" >"$T/rootstate/mount.info"
rec=$(ls -d "/run/user/$UID_/shadowfs/mounts/"*)
as_user sh -c "sed 's|^state=.*|state=$T/rootstate|' '$rec' >'$rec.new' && mv '$rec.new' '$rec'" ||
  it_fail "the user rewrites its record"
env -u SHADOWFS_RUN_DIR "$2" status "$T/m" >"$T/status-root3" 2>&1 &&
  it_fail "root's shadowctl took a record naming a state directory of root's: $(cat "$T/status-root3")"
grep -q "$T/rootstate" "$T/status-root3" && it_fail "root's status shows the forged state: $(cat "$T/status-root3")"
user_umount

# --- 3: root reads a user's state directory as that user ------------------------
# The user writes those files: a link planted there to a file of root's is
# not followed by root's shadowctl (it read and printed it as root).
ustate=$(sed -n 's/^state *//p' "$T/status2")
printf 'bucket_s=TOPSECRET\ntracked=1\n' >"$T/secret" && chmod 600 "$T/secret"
as_user ln -sf "$T/secret" "$ustate/recorder.stats" || it_fail "the user plants a link"
env -u SHADOWFS_RUN_DIR "$2" status --state "$ustate" >"$T/status-root4" 2>&1
grep -q TOPSECRET "$T/status-root4" && it_fail "root's shadowctl read a file of root's through the user's link: $(cat "$T/status-root4")"
grep -q "^state  *$ustate$" "$T/status-root4" || it_fail "root's status --state: $(cat "$T/status-root4")"
env -u SHADOWFS_RUN_DIR "$2" top --state "$ustate" >"$T/top-root" 2>&1 ||
  it_fail "root's shadowctl top on the user's store: $(cat "$T/top-root")"
echo PASS
