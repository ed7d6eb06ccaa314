#!/usr/bin/env bash
# Installs the Debian 12 packages shadowfs needs to build, test and benchmark.
# Idempotent and quick when everything is already there. Run as root.
set -euo pipefail
packages=(
  build-essential meson ninja-build pkg-config
  libfuse3-dev fuse3 liburing-dev librsync-dev libsqlite3-dev sqlite3 uuid-dev libssl-dev openssl
  libraft-dev libuv1-dev libcmocka-dev libxxhash-dev
  attr acl fio rsync iproute2 psmisc procps util-linux kmod
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install)" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# FUSE needs the device; load the module where it is not built in.
[ -e /dev/fuse ] || modprobe fuse 2>/dev/null || true
if [ ! -e /dev/fuse ]; then
  echo "install-deps: /dev/fuse is missing: FUSE is not available on this machine" >&2
  exit 1
fi
