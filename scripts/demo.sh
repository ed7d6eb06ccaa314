#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds, and
# mounts a demo shadowfs over a generated sample data set, then says what to
# try next. Re-running it remounts cleanly. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
demo=${SHADOWFS_DEMO_DIR:-/tmp/shadowfs-demo}
backing=$demo/backing mnt=$demo/mnt state=$demo/state
mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
mkdir -p "$backing" "$mnt" "$state"
if [ ! -e "$backing/README.txt" ]; then
  mkdir -p "$backing/datasets/images" "$backing/builds" "$backing/home/alice"
  echo "This is the origin copy (BACKING) of the shadowfs demo." > "$backing/README.txt"
  for i in $(seq -w 1 50); do head -c $((4096 * (RANDOM % 64 + 1))) /dev/urandom > "$backing/datasets/images/img$i.bin"; done
  head -c $((16 << 20)) /dev/urandom > "$backing/builds/cache.tar"
  printf 'notes\n' > "$backing/home/alice/notes.txt"
fi
./build/fs/shadowfs "$backing" "$mnt" -o "state=$state"
echo
echo "shadowfs is mounted: $backing  ->  $mnt"
echo "Try:"
echo "  ls -l $mnt/datasets/images | head"
echo "  cat $mnt/datasets/images/*.bin > /dev/null     # generate demand"
echo "  ./build/tools/shadowctl top $mnt               # recorded demand (after the first 60 s bucket closes)"
echo "  ./build/tools/shadowctl stats $mnt/builds/cache.tar --json"
echo "  man docs/man/shadowfs.8"
echo "  fusermount3 -u $mnt                             # unmount"
