/* What changed in a file since its last sync to a remote host: the byte
 * ranges written through the mount (sync/dirty_ranges.h), so the next sync
 * of a stale remote copy ships those bytes instead of running librsync.
 *
 * One record per shadow-map entry (entry->dirty), made by the first
 * successful remote sync (fs_remote_dirty_synced) and relative to the
 * version that sync made: its BASE. Writes, truncations and copy ranges
 * through the mount add to it (the ops layer calls the note functions after
 * the version bump); a change the mount cannot describe (fallocate, a
 * change behind its back) makes it UNKNOWN, as does an overflow of its
 * bounded range set. A stale copy at exactly BASE gets the ranges; any other
 * copy takes the librsync path. The host checks the result's SHA-256 in
 * every case, so a wrong record costs a retry, never a wrong copy.
 *
 * Thread-safety: a mutex per record; entries without a record cost one
 * atomic load per note. */
#ifndef SHADOWFS_FS_REMOTE_DIRTY_H
#define SHADOWFS_FS_REMOTE_DIRTY_H

#include <stddef.h>
#include <stdint.h>

struct daemon_shadow_file;

void fs_remote_dirty_write(struct daemon_shadow_file *s, uint64_t off, uint64_t len);
void fs_remote_dirty_truncate(struct daemon_shadow_file *s, uint64_t size);
void fs_remote_dirty_unknown(struct daemon_shadow_file *s);

/* A remote sync made version (of size bytes); the record restarts from it
 * unless the file changed since (its version is no longer `version`). */
void fs_remote_dirty_synced(struct daemon_shadow_file *s, uint64_t version, uint64_t size);

/* The ranges that turn the copy at base into the file's content of size
 * bytes: 0 with *ret (malloc'ed pairs off, len; free it) and *n, or
 * -ENOENT when the record cannot tell (none, unknown, another base, another
 * size). */
struct fs_dirty_span {
	uint64_t off, len;
};
int fs_remote_dirty_ranges(struct daemon_shadow_file *s, uint64_t base, uint64_t size,
			   struct fs_dirty_span **ret, size_t *n);

/* Frees the record (at map teardown). */
void fs_remote_dirty_free(struct daemon_shadow_file *s);

#endif
