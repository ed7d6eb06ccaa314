#!/usr/bin/env bash
# A mount whose series store has damaged rows (edited by hand: a malformed
# file id, a negative count) still forecasts: the damaged rows are skipped,
# with one warning in the log. Before, the one malformed id failed every
# forecast of the mount (pred_hot_files: 'bad file id in store', logged at
# debug level only), so no file was ever forecast hot nor shadowed.
# Usage: fs_store_damaged.sh SHADOWFS
. "$(dirname "$0")/lib.sh"
SHADOWFS=$1
T=$(it_tmpdir fs_store_damaged)
backing=$(it_tmpdir backing) mnt=$(it_tmpdir mnt) state=$(it_tmpdir state)
head -c 300000 /dev/urandom >"$backing/hot"
head -c 3000 /dev/urandom >"$backing/old"
it_mount "$SHADOWFS" "$backing" "$mnt" "cache=never,bucket=1,state=$state"
cat "$mnt/old" >/dev/null || it_fail "reading old"
recorded() { [ "$(sqlite3 "$state/series.db" "SELECT count(*) FROM file_buckets b JOIN files f ON f.id = b.file WHERE f.path = 'old'" 2>/dev/null)" -ge 1 ]; }
it_wait_for "the read of old not recorded" 10 recorded
it_umount "$mnt"
sqlite3 "$state/series.db" "
  INSERT INTO file_buckets(tier, file, start, width, reads)
    SELECT 0, id, CAST(strftime('%s', 'now') AS INTEGER) - 20, 1, -500 FROM files WHERE path = 'old';
  UPDATE files SET uuid = 'not-a-uuid' WHERE path = 'old'" || it_fail "sqlite3 edit"
[ "$(sqlite3 "$state/series.db" "SELECT count(*) FROM files WHERE uuid = 'not-a-uuid'")" = 1 ] ||
  it_fail "the edit did not take"
export IT_MOUNT_LOG=$T/mount.log
it_mount "$SHADOWFS" "$backing" "$mnt" "cache=never,bucket=1,state=$state,hosts=$T/h,shadow_capacity=5,shadow_threshold=0.5,shadow_window=3,shadow_tick=0.2,shadow_idle=3"
stop=$T/stop-hot
(while [ ! -e "$stop" ]; do cat "$mnt/hot" >/dev/null || exit 1; done) &
loader=$!
IT_PIDS+=("$loader")
serving() { it_shadow_state "$mnt/hot" | grep -q "copy=$T/h:v[0-9]*:serving"; }
IT_WATCH=$mnt/hot it_wait_for "a hot file was not shadowed (the forecast failed?)" 30 serving
it_log_has "$T/mount.log" "series store .* has damaged rows" || it_fail "no warning: $(cat "$T/mount.log")"
touch "$stop"
wait "$loader" || it_fail "reading the hot file through the mount failed"
it_umount "$mnt"
wait "$IT_PID" || it_fail "shadowfs exited with an error (sanitizer report above?)"
n=$(grep -c "has damaged rows" "$T/mount.log")
[ "$n" = 1 ] || it_fail "$n warnings, want one: $(grep "damaged" "$T/mount.log")"
echo PASS
