#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite twice: once on
# the normal build and once under AddressSanitizer + UndefinedBehaviorSanitizer.
# Ends with the line "N passed, M failed" (skipped tests count as failed: no
# test is skipped to go green). Exit status 0 only when nothing failed.
# Run as root (the integration tests mount FUSE filesystems and use setuid).
# The io_uring tests turn the fuse module's enable_uring parameter on; its
# value is put back when the run ends.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1
scripts/build.sh --asan || exit 1

uring_param=/sys/module/fuse/parameters/enable_uring
uring_old=$(cat "$uring_param" 2>/dev/null || true)
[ -n "$uring_old" ] && trap 'echo "$uring_old" >"$uring_param" 2>/dev/null || true' EXIT

passed=0 failed=0
run_suite() { # BUILD_DIR LABEL
  local dir=$1 label=$2
  echo "=== meson test ($label) ==="
  meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "${TIMEOUT_MULTIPLIER:-1}" || true
  local log="$dir/meson-logs/testlog.json" ok bad
  ok=$(grep -c '"result": "OK"' "$log" || true)
  bad=$(grep -c -E '"result": "(FAIL|ERROR|TIMEOUT|SKIP|UNEXPECTEDPASS|EXPECTEDFAIL)"' "$log" || true)
  echo "$label: $ok passed, $bad failed"
  passed=$((passed + ok)); failed=$((failed + bad))
}
run_suite build plain
TIMEOUT_MULTIPLIER=3 run_suite build-asan asan+ubsan
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
