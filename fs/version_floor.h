/* The version range a mount may use (STATE/versions). Copies on hosts are
 * named by (file id, version); a copy an earlier mount left is taken as
 * current when its version equals the file's (sync=current), and a local
 * store's copies older than the mount's first version are swept at start.
 * Versions used to start at the wall clock's microseconds, so a clock set
 * back between two mounts (a VM restored from a snapshot, a bad RTC fixed
 * by NTP after boot) could hand the new mount versions an old copy of other
 * bytes already had: a stale read, and old copies kept. Each mount now
 * reserves a range: it starts at the later of the clock and the end of the
 * range the previous mount reserved, and records the end of its own range
 * (start + FS_VERSION_SPAN) before any version is used. */
#ifndef SHADOWFS_FS_VERSION_FLOOR_H
#define SHADOWFS_FS_VERSION_FLOOR_H

#include <stdbool.h>
#include <stdint.h>

#define FS_VERSION_FLOOR_FILE "versions"
/* 2^40 versions (12.7 days of microseconds) per mount: more changes than
 * a mount can make, and 2^24 mounts before 64 bits run out. */
#define FS_VERSION_SPAN (UINT64_C(1) << 40)

/* *first = max(now_us, the end STATE/versions records); records
 * *first + FS_VERSION_SPAN there (written whole and synced, then renamed).
 * *damaged: the file was there but unreadable as a number (then only the
 * clock counts). 0 or -errno (the state directory cannot be written). */
int fs_version_floor_reserve(const char *state_dir, uint64_t now_us, uint64_t *first,
			     bool *damaged);

#endif
