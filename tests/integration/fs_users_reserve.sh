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
#  - root still writes into the reserve through the mount.
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
fs_umount "$mnt"
echo "PASS fs_users_reserve"
