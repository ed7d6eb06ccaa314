#!/usr/bin/env bash
# A non-root caller's writes through a shared mount cannot take what the
# backing filesystem keeps from that caller natively: ext4's blocks reserved
# for root (fsuid 0 or CAP_SYS_RESOURCE may use them; quota hard limits
# follow the same capability). The daemon writes for every caller; its
# writes of a file a non-root caller opened run as that caller
# (fs_creds_enter_writer). On an ext4 image with half its blocks reserved:
#  - nobody fills it through the mount by buffered writes, O_DIRECT writes
#    and fallocate: each stops where nobody's native writes stop (within 1
#    MiB), never in root's reserve;
#  - root still writes into the reserve through the mount;
#  - a write or fallocate is the writer's, not the opener's: nobody through
#    an fd root opened (inherited: a root shell's redirection, a service's
#    log file) stops where natively (fallocate; writes with -o no_writeback,
#    where each write carries its writer), root through nobody's fd gets
#    into the reserve.
# Usage: fs_users_reserve.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
shadowfs=$1
T=$(it_tmpdir reserve)
mnt=$(it_tmpdir mnt)
chmod 755 "$mnt"
truncate -s 32M "$T/img" && mkfs.ext4 -q -m 50 "$T/img" || it_fail "mkfs.ext4 of a 32 MiB image"
mkdir "$T/ext" && mount -o loop "$T/img" "$T/ext" || it_fail "cannot mount the ext4 image"
IT_TMPFS+=("$T/ext") # unmounted at exit (the loop device with it)
mkdir -m 777 "$T/ext/native" "$T/ext/backing"

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
kib() { du -k "$1" | cut -f1; } # allocated
# fill HOW FILE: nobody writes 40 MiB (more than the image) to FILE
fill() {
  case $1 in
  buffered) as_nobody dd if=/dev/zero of="$2" bs=1M count=40 status=none 2>/dev/null ;;
  direct) as_nobody dd if=/dev/zero of="$2" bs=1M count=40 oflag=direct status=none 2>/dev/null ;;
  fallocate) as_nobody fallocate -l 40M "$2" 2>/dev/null ;;
  esac
  sync
}
# inherited HOW OPENER FILE: FILE opened for writing by OPENER (root or
# nobody), then written 40 MiB through that fd by the other one
inherited() {
  if [ "$2" = root ]; then
    exec 3>"$3"
    case $1 in
    fallocate) as_nobody env PATH=/usr/bin:/bin python3 -c 'import os; os.posix_fallocate(3, 0, 40 << 20)' ;;
    write) as_nobody dd if=/dev/zero bs=1M count=40 status=none >&3 ;;
    esac 2>/dev/null
    exec 3>&-
  else # nobody's open (its fsuid), root's fallocate
    python3 - "$3" <<'PY' 2>/dev/null
import ctypes, os, sys
libc = ctypes.CDLL(None)
libc.setfsuid(65534); libc.setfsgid(65534)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o666)
libc.setfsuid(0); libc.setfsgid(0)
os.posix_fallocate(fd, 0, 40 << 20)
PY
  fi
  sync
}

fill buffered "$T/ext/native/f"
native=$(kib "$T/ext/native/f")
rm "$T/ext/native/f"
echo "nobody's native writes: $native KiB allocated"
[ "$native" -gt 4096 ] || it_fail "nobody wrote only $native KiB natively"

it_mount "$shadowfs" "$T/ext/backing" "$mnt" allow_other,norecord
for how in buffered direct fallocate; do
  fill "$how" "$mnt/f"
  got=$(kib "$T/ext/backing/f")
  echo "nobody's $how writes through the mount: $got KiB allocated"
  [ "$got" -le $((native + 1024)) ] ||
    it_fail "$how: nobody took $got KiB through the mount, $native KiB natively (root's reserve)"
  rm "$mnt/f" || it_fail "rm after $how"
done
dd if=/dev/zero of="$mnt/r" bs=1M count=40 oflag=direct status=none 2>/dev/null
got=$(kib "$T/ext/backing/r")
echo "root's writes through the mount: $got KiB allocated"
[ "$got" -gt $((native + 4096)) ] || it_fail "root wrote only $got KiB through the mount"
rm "$mnt/r"
# through_mount HOW OPENER: inherited HOW OPENER on MNT/i; got: its KiB
through_mount() {
  inherited "$1" "$2" "$mnt/i"
  got=$(kib "$T/ext/backing/i")
  echo "$1 through $2's fd, through the mount: $got KiB allocated"
  rm "$mnt/i" || it_fail "rm after $1 through $2's fd"
}
inherited fallocate root "$T/ext/native/i"
native_fa=$(kib "$T/ext/native/i")
rm "$T/ext/native/i"
echo "nobody's fallocate through root's fd, natively: $native_fa KiB allocated"
through_mount fallocate root
[ "$got" -le $((native_fa + 1024)) ] ||
  it_fail "nobody's fallocate through root's fd took $got KiB, $native_fa KiB natively (root's reserve)"
through_mount fallocate nobody
[ "$got" -gt $((native + 4096)) ] || it_fail "root's fallocate through nobody's fd took only $got KiB"
fs_umount "$mnt"
# each write carries its writer without the writeback cache
it_mount "$shadowfs" "$T/ext/backing" "$mnt" allow_other,norecord,no_writeback
through_mount write root
[ "$got" -le $((native + 1024)) ] ||
  it_fail "nobody's writes through root's fd took $got KiB, $native KiB natively (root's reserve)"
fs_umount "$mnt"
echo "PASS fs_users_reserve"
