#!/usr/bin/env bash
# Runs pjdfstest (https://github.com/pjd/pjdfstest, a POSIX conformance
# suite for filesystems: 238 files, ~8,800 checks of errnos, permissions as
# other users, link counts, times) through a shadowfs mount: an oracle we
# did not write. By hand, not in CI: it needs a pjdfstest checkout (CI
# reaches no network), about 4 minutes per run, and root.
#   scripts/pjdfstest.sh PJDFSTEST_SRC [MOUNT_OPTIONS]
# builds PJDFSTEST_SRC (autotools, in place) if needed, mounts build/fs/shadowfs
# (BUILD=dir to change) with allow_other (the tests switch users) plus
# MOUNT_OPTIONS on a fresh BACKING, runs `prove -r` there, unmounts, and
# exits with prove's status. pjdfstest skips the rename-ctime checks on
# any filesystem type but EXT4/UFS/ZFS: PJD_FS=EXT4 in the environment
# runs them too when BACKING is ext4 (it needs the one-line change to
# tests/conf that this script makes in the checkout: fs=${PJD_FS:-...}).
set -uo pipefail
src=${1:?usage: pjdfstest.sh PJDFSTEST_SRC [MOUNT_OPTIONS]}
opts=allow_other${2:+,$2}
top=$(cd "$(dirname "$0")/.." && pwd)
shadowfs=$top/${BUILD:-build}/fs/shadowfs
[ -x "$shadowfs" ] || { echo "pjdfstest: no $shadowfs (build first)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "pjdfstest: run as root" >&2; exit 1; }
command -v prove >/dev/null || { echo "pjdfstest: prove(1) missing (perl)" >&2; exit 1; }
src=$(cd "$src" && pwd) || exit 1
if [ ! -x "$src/pjdfstest" ]; then
  apt-get install -y -q autoconf automake libtool >/dev/null 2>&1
  (cd "$src" && autoreconf -ifs && ./configure && make pjdfstest) >/dev/null 2>&1 ||
    { echo "pjdfstest: building $src failed" >&2; exit 1; }
fi
conf=$src/tests/conf
grep -q 'PJD_FS' "$conf" ||
  sed -i 's/^\(\tfs=\)`df -PT \. | tail -1 | awk .{print toupper(\$2)}.`$/\1${PJD_FS:-`df -PT . | tail -1 | awk '"'"'{print toupper($2)}'"'"'`}/' "$conf"
work=$(mktemp -d "${TMPDIR:-/tmp}/shadowfs-pjd.XXXXXX") || exit 1
mkdir "$work/backing" "$work/mnt"
cleanup() {
  cd /
  mountpoint -q "$work/mnt" && fusermount3 -u "$work/mnt"
  rm -rf "$work"
}
trap cleanup EXIT
"$shadowfs" "$work/backing" "$work/mnt" -o "$opts" || { echo "pjdfstest: mount failed" >&2; exit 1; }
echo "pjdfstest: $src/tests through $shadowfs -o $opts (BACKING $work/backing)"
cd "$work/mnt" && prove -r "$src/tests"
