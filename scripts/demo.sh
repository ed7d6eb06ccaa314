#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds, and
# mounts a demo shadowfs over a generated sample data set, with two resource
# hosts (a local directory and a shadowd on 127.0.0.1:7811 with certificates
# from `shadowctl ca`), then says what to try next. Re-running it remounts
# and restarts cleanly. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
demo=${SHADOWFS_DEMO_DIR:-/tmp/shadowfs-demo}
backing=$demo/backing mnt=$demo/mnt state=$demo/state ca=$demo/ca port=${SHADOWFS_DEMO_PORT:-7811}
mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"
if [ -f "$demo/shadowd.pid" ]; then
  old=$(cat "$demo/shadowd.pid")
  # Only the demo's shadowd: after a reboot the number may be another process's.
  if [ "$(cat "/proc/$old/comm" 2>/dev/null)" = shadowd ]; then
    kill "$old" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done # it syncs its copies
  fi
  rm -f "$demo/shadowd.pid"
fi
mkdir -p "$backing" "$mnt" "$state"
if [ ! -e "$backing/README.txt" ]; then
  mkdir -p "$backing/datasets/images" "$backing/builds" "$backing/home/alice"
  echo "This is the origin copy (BACKING) of the shadowfs demo." > "$backing/README.txt"
  for i in $(seq -w 1 50); do head -c $((4096 * (RANDOM % 64 + 1))) /dev/urandom > "$backing/datasets/images/img$i.bin"; done
  head -c $((16 << 20)) /dev/urandom > "$backing/builds/cache.tar"
  printf 'notes\n' > "$backing/home/alice/notes.txt"
  # A stable file id, as the mount gives every file it records.
  setfattr -n user.shadow.id -v 5e1f0c2a-0d3e-4b5c-9a7d-1e2f3a4b5c6d "$backing/builds/cache.tar"
fi
if [ ! -f "$ca/ca.crt" ]; then
  ./build/tools/shadowctl ca init "$ca" >/dev/null
  ./build/tools/shadowctl ca issue "$ca" shadowd1 --ip 127.0.0.1 >/dev/null
  ./build/tools/shadowctl ca issue "$ca" origin >/dev/null
fi
setsid ./build/daemon/shadowd --store "$demo/shadowd-store" --listen "127.0.0.1:$port" \
  --cert "$ca/shadowd1.crt" --key "$ca/shadowd1.key" --ca "$ca/ca.crt" -f </dev/null >"$demo/shadowd.log" 2>&1 &
echo $! >"$demo/shadowd.pid"
tls="--certs $ca --name origin"
# Serving before the mount names it (else it starts with that host down).
for i in $(seq 50); do
  ./build/tools/shadowctl host status "127.0.0.1:$port" $tls >/dev/null 2>&1 && break
  if ! kill -0 "$(cat "$demo/shadowd.pid")" 2>/dev/null || [ "$i" = 50 ]; then
    echo "demo: shadowd did not start on 127.0.0.1:$port (SHADOWFS_DEMO_PORT=N picks another port):" >&2
    cat "$demo/shadowd.log" >&2
    exit 1
  fi
  sleep 0.1
done
./build/fs/shadowfs "$backing" "$mnt" \
  -o "state=$state,hosts=$demo/ssd-shadows:cost=2:budget=1g;127.0.0.1:$port:cost=1,tls=$ca,tls_name=origin"
sleep 1
echo
echo "shadowfs is mounted: $backing  ->  $mnt"
./build/tools/shadowctl hosts "$mnt"
echo "Try:"
echo "  ./build/tools/shadowctl status $mnt             # one screen: recorder, hosts, shadows"
echo "  ls -l $mnt/datasets/images | head"
echo "  cat $mnt/datasets/images/*.bin > /dev/null     # generate demand"
echo "  ./build/tools/shadowctl top $mnt               # recorded demand (after the first 60 s bucket closes)"
echo "  ./build/tools/shadowctl stats $mnt/builds/cache.tar --json"
echo "  ./build/tools/shadowctl forecast $mnt --bucket 1m --history 1h   # what the predictor expects (after a few buckets)"
echo "  ./build/tools/shadowctl hosts $mnt             # resource hosts, up or down"
echo "  setfattr -n user.shadow.pin -v 1 $mnt/builds/cache.tar   # keep a copy on the cheapest host (the shadowd, cost 1)"
echo "  ./build/tools/shadowctl shadows $mnt           # shadowed files, their copies, rollout share, reads served"
echo "  getfattr -n user.shadow.state $mnt/builds/cache.tar"
echo "  ./build/tools/shadowctl why $mnt/builds/cache.tar   # why it is (or is not) shadowed, and where"
echo "  setfattr -n user.shadow.threshold -v 0.5 $mnt/datasets   # tune a subtree (also capacity, window, never, copies)"
echo "  setfattr -n user.shadow.capacity -v 20 $mnt/datasets"
echo "  while :; do dd if=$mnt/datasets/images/img01.bin of=/dev/null bs=4k iflag=direct status=none; done"
echo "        # reads far over capacity (O_DIRECT: the page cache would answer plain re-reads, so the"
echo "        # origin would see no demand): forecast hot after a few 60 s buckets, copies on both hosts"
echo "  ./build/tools/shadowctl push $backing/builds/cache.tar 127.0.0.1:$port $tls   # replicate by hand"
echo "  ./build/tools/shadowctl host status 127.0.0.1:$port $tls"
echo "  ./build/tools/shadowctl host watch 127.0.0.1:$port $tls --count 3"
echo "  man docs/man/shadowfs.8; man docs/man/shadowctl.1"
echo "  fusermount3 -u $mnt; kill \$(cat $demo/shadowd.pid)   # stop"
