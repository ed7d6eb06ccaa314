#!/usr/bin/env bash
# A write leaves a file's atime alone, as natively, when the writeback cache
# has to read the page it goes to first (a partial page of a file whose
# pages the kernel has not cached): before, that read moved BACKING's
# atime to now, and so the atime seen through the mount once the kernel
# took the attributes again (posix_compare's times_ops saw "atime=now"
# after a 1-byte write when the kernel had forgotten the inode).
# 1. through an O_WRONLY fd: BACKING's atime stays put, and so does the
#    mount's once the kernel takes the attributes again (after an fsync);
# 2. a read through the mount still moves BACKING's atime (relatime: it is
#    older than the mtime), so reads are not all left out.
# Usage: fs_write_atime.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt)
atime() { stat -c %.9X "$1"; }
t0=1000000000.000000000
# Made behind the mount's back: the kernel has none of its pages.
printf 0123456789 >"$backing/f"
touch -a -d @$t0 "$backing/f"
it_mount "$SHADOWFS" "$backing" "$mnt"

# 1.
python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"w", 1)
os.close(fd)' "$mnt/f" || it_fail "write through O_WRONLY"
[ "$(atime "$backing/f")" = $t0 ] || it_fail "a write moved BACKING's atime to $(atime "$backing/f")"
noatime_cat() { python3 -c 'import os, sys; print(os.read(os.open(sys.argv[1], os.O_RDONLY | os.O_NOATIME), 100).decode())' "$1"; }
[ "$(noatime_cat "$backing/f")" = 0w23456789 ] || it_fail "the write did not reach BACKING: $(noatime_cat "$backing/f")"
# An fsync drops the attributes the kernel cached: the next stat asks us.
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); os.fsync(fd); os.close(fd)' "$mnt/f" ||
  it_fail "fsync through the mount"
[ "$(atime "$mnt/f")" = $t0 ] || it_fail "a write moved the atime seen through the mount to $(atime "$mnt/f")"
echo "1: a 1-byte write through O_WRONLY left the atime at $t0"

# 2. (another file made behind the mount's back: no pages cached)
printf 0123456789 >"$backing/g"
touch -a -d @$t0 "$backing/g"
cat "$mnt/g" >/dev/null || it_fail "read"
a=$(stat -c %X "$backing/g")
[ "$a" -gt 1000000000 ] || it_fail "a read through the mount left BACKING's atime at $a"
echo "2: a read moved it ($a)"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error"
echo PASS
