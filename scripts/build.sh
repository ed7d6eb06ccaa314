#!/usr/bin/env bash
# Configures and builds shadowfs into build/ (and, with --asan, the
# AddressSanitizer + UndefinedBehaviorSanitizer build into build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
# Quiet when it works; the tool's own output (a compiler error, a missing
# dependency) and a one-line verdict on stderr when it does not.
quiet() { # CMD...
  local out
  out=$("$@" 2>&1) && return 0
  printf '%s\n' "$out" | tail -n 60 >&2
  return 1
}
setup() { # DIR [meson options...]
  local dir=$1; shift
  if [ -f "$dir/build.ninja" ]; then
    quiet meson setup --reconfigure "$dir" "$@" || { echo "build: configuring $dir failed" >&2; return 1; }
  else
    quiet meson setup "$dir" "$@" || { echo "build: configuring $dir failed" >&2; return 1; }
  fi
  quiet ninja -C "$dir" || { echo "build: compiling $dir failed (the errors are above)" >&2; return 1; }
  echo "build: $dir ready"
}
setup build
if [ "${1:-}" = "--asan" ]; then
  setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
