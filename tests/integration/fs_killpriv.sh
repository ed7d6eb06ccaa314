#!/usr/bin/env bash
# FUSE_HANDLE_KILLPRIV_V2 (fs/killpriv.h), through real mounts:
#  - by default the kernel no longer asks for security.capability before
#    every write(2): 200 buffered 4 KiB writes send at most 3 GETXATTRs
#    (200 before), counted in the -d request log;
#  - with -o splice (requests not seen before libfuse parses them) the flag
#    is not asked for: one GETXATTR per write again, the old way;
#  - either way a write by nobody to a set-id file clears the bits, and one
#    to a file with a capability drops it (the POSIX suite compares every
#    case with a plain directory: scenario suid_clear).
# Usage: fs_killpriv.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fs_lib.sh"
SHADOWFS=$1
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) T=$(it_tmpdir t)
chmod 0777 "$backing"

# getxattrs OPTS: GETXATTR requests sent for 200 4 KiB writes
getxattrs() {
  local log=$T/log.$1
  "$SHADOWFS" "$backing" "$mnt" -o "debug,norecord,allow_other,$1" 2>"$log" &
  IT_PIDS+=($!)
  IT_MOUNTS+=("$mnt")
  local pid=$!
  for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.05; done
  mountpoint -q "$mnt" || it_fail "no mount with -o $1"
  rm -f "$mnt/w"
  local before
  before=$(grep -c 'opcode: GETXATTR' "$log")
  dd if=/dev/zero of="$mnt/w" bs=4k count=200 status=none || it_fail "writes with -o $1"
  echo $(($(grep -c 'opcode: GETXATTR' "$log") - before))
  # a set-id file written by nobody loses its bits
  install -m 06777 /dev/null "$backing/s"
  setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo x >> '$mnt/s'" || it_fail "nobody's write with -o $1"
  [ "$(stat -c %a "$backing/s")" = 777 ] || it_fail "-o $1: set-id bits kept after nobody's write: $(stat -c %a "$backing/s")"
  rm -f "$backing/s"
  fusermount3 -u "$mnt" || it_fail "unmount"
  wait "$pid" || it_fail "shadowfs -o $1 exited $?"
}

n=$(getxattrs threads=2)
echo "default: $n GETXATTR requests for 200 writes"
[ "$n" -le 3 ] || it_fail "$n GETXATTRs for 200 writes: FUSE_HANDLE_KILLPRIV_V2 not in effect"
n=$(getxattrs splice)
echo "-o splice: $n GETXATTR requests for 200 writes"
[ "$n" -ge 150 ] || it_fail "-o splice: $n GETXATTRs: the flag was asked for where requests are not seen"
echo "PASS"
