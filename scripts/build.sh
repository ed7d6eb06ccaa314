#!/usr/bin/env bash
# Configures and builds shadowfs into build/ (and, with --asan, the
# AddressSanitizer + UndefinedBehaviorSanitizer build into build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
setup() { # DIR [meson options...]
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
  ninja -C "$dir" >/dev/null
  echo "build: $dir ready"
}
setup build
if [ "${1:-}" = "--asan" ]; then
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
