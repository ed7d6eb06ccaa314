#!/usr/bin/env bash
# Builds shadowfs under ThreadSanitizer (build-tsan/) and runs the
# concurrency-heavy tests there, or the ones named: scripts/test-tsan.sh
# [TEST...]. Not part of scripts/test-all.sh (CI): a TSan run is slow and
# its findings are read, not counted. Every process the tests start (the
# mounts, shadowd, shadowctl) writes its reports to build-tsan/tsan-reports/
# (one file per process: TSan's log_path); the run ends with the reports'
# one-line summaries and exits 1 if there are any.
# Run as root, like test-all.sh (the tests mount FUSE filesystems).
# Options, and why:
#   atexit_sleep_ms=0  TSan otherwise sleeps 1 s in exit(), also in _exit() of
#                      a forked child: test_host_store's child that "crashes"
#                      before its store's sync pass then syncs after all.
#   halt_on_error=0    every report, not the first only.
# test_rsync's bounded-memory test fails under TSan (its shadow memory is
# counted in the RSS the test bounds): not a race.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-tsan
if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" -Db_sanitize=thread -Db_lundef=false -Dwerror=true >/dev/null
else
  meson setup "$dir" -Db_sanitize=thread -Db_lundef=false -Dwerror=true >/dev/null
fi || { echo "test-tsan: configuring $dir failed" >&2; exit 1; }
ninja -C "$dir" >/dev/null || { echo "test-tsan: compiling $dir failed" >&2; exit 1; }

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(recorder host_store rec_name fs_inode_table fs_hosts
    fs_smoke fs_users_concurrent fs_soak rec_counts sync_shadowd ctl_hosts
    exerciser_mount_seed_1 exerciser_mount_seed_4_shadow_all exerciser_remote_seed_7
    fs_remote fs_rollout fs_mover_express fs_shadow_rename
    fs_io_uring exerciser_mount_seed_6_io_uring_shadow_all fs_remote_io_uring)
fi

reports=$PWD/$dir/tsan-reports
rm -rf "$reports" && mkdir -p "$reports" && chmod 1777 "$reports" # user mounts write here too
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 atexit_sleep_ms=0 log_path=$reports/tsan"
meson test -C "$dir" --no-rebuild --print-errorlogs --num-processes 2 --timeout-multiplier 5 "${tests[@]}"
status=$?
if compgen -G "$reports/tsan.*" >/dev/null; then
  echo "=== ThreadSanitizer reports ($reports) ==="
  grep -h '^SUMMARY' "$reports"/tsan.* | sort | uniq -c | sort -rn
  exit 1
fi
echo "test-tsan: no ThreadSanitizer report"
exit "$status"
