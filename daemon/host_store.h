/* Host store: the copies ("shadows") one host holds, addressed by file id
 * (16-byte uuid) and version. One implementation, used in-process for local
 * directory hosts and inside shadowd for remote ones.
 *
 * Layout: one flat directory. A valid, durable copy is the regular file
 *   <32 hex id>-<16 hex version>                         (<name>)
 * a valid copy not yet recorded durable is "unsynced.<name>.<64 hex SHA-256>"
 * and a copy being written is "tmp.<name>.<seq>". Names are derived only
 * from the binary id/version, every open is openat() relative to the store's
 * directory fd with O_NOFOLLOW, and nothing else in the directory is touched,
 * so no peer input can reach a path outside the store.
 *
 * Writing: daemon_store_create() (empty new copy) or daemon_store_create_from()
 * (starts as a clone of an existing version: ranged updates and deltas) returns
 * a writer on a temporary file. daemon_store_commit() checks the SHA-256 of
 * the result against the expected digest and renames the temporary file to its
 * unsynced name: the copy is valid (served, listed) from then on. On any
 * failure the temporary file is removed and the copies already present are
 * untouched. Durability is deferred, off the copy's critical path: a
 * background syncer (the sync delay after a commit, batching the copies
 * committed meanwhile; a copy deleted within it costs no sync at all) fdatasyncs each unsynced copy
 * and then renames it to its real name, which records it durable; the real name therefore only ever
 * holds synced data. daemon_store_flush() does the same at once, and
 * daemon_store_close() calls it.
 *
 * Crash recovery (daemon_store_open): temporary files are removed; each
 * unsynced copy is re-hashed against the digest its name carries and is
 * either synced and renamed to its real name (valid) or removed (absent):
 * after a crash a copy is never served unverified nor corrupt.
 *
 * Older versions stay until deleted (STALE copies are the basis of later
 * incremental updates); which version serves is the caller's decision.
 *
 * Space budget: used + bytes reserved by open writers never exceed the budget
 * (0 = unlimited); a create that would is refused with -ENOSPC, and so is a
 * write past what a thin writer reserved (daemon_store_create_thin) when the
 * budget has no room for it. Each copy counts its data plus
 * DAEMON_STORE_COPY_OVERHEAD, and a writer reserves that overhead too.
 *
 * Thread-safety: all functions may be called concurrently; a writer belongs
 * to one thread. */
#ifndef SHADOWFS_DAEMON_HOST_STORE_H
#define SHADOWFS_DAEMON_HOST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DAEMON_STORE_ALL_VERSIONS UINT64_MAX
#define DAEMON_STORE_SYNC_DELAY_MS 500
/* Committed copies not yet durable at most: each holds its file open until
 * the syncer has fdatasync'ed it. A commit that finds this many waits for a
 * sync pass, which then starts without the sync delay. */
#define DAEMON_STORE_UNSYNCED_MAX 1024
/* Versions of one id at most: a new one past them is refused (-EMLINK).
 * The index keeps an id's versions in one run of slots, each add and
 * lookup walking it: 100,000 versions of one id a peer uploaded took
 * shadowd 35 s to open its store. A mount keeps a few. */
#define DAEMON_STORE_VERSIONS_MAX 1024
/* What a copy costs the budget beyond its data: about what its inode and
 * directory entry take (one block). Without it empty copies cost nothing:
 * a peer stored 71,297 of them under a 1 MiB budget, which read 0 bytes
 * used, bounded only by the inodes of the store's filesystem. */
#define DAEMON_STORE_COPY_OVERHEAD 4096

struct daemon_store;
struct daemon_store_writer;

struct daemon_store_entry {
	uint8_t id[16];
	uint64_t version;
	uint64_t size;
	uint64_t ino;	  /* its file's inode number and ctime when listed */
	int64_t ctime_ns; /* (daemon_store_delete_listed) */
};

struct daemon_store_stats {
	uint64_t used_bytes;	   /* valid copies' data + DAEMON_STORE_COPY_OVERHEAD each */
	uint64_t copies;	   /* number of valid copies */
	uint64_t budget_bytes;	   /* 0 = unlimited */
	uint64_t reserved_bytes;   /* held by open writers */
	uint64_t unsynced_copies;  /* valid, not yet recorded durable */
	uint64_t recovered_copies; /* at open: unsynced copies re-verified and kept */
	uint64_t discarded_copies; /* at open: unsynced copies that failed the check */
	uint64_t avail_bytes;	   /* free space of its filesystem now (UINT64_MAX: unknown) */
};

/* Opens (creating it, mode 0700, if missing) the store in dir, locked to
 * this store object (flock on the directory, released at close or exit):
 * -EBUSY if another open store, in any process, still holds dir after
 * DAEMON_STORE_LOCK_WAIT_MS (the holder may be exiting: a remount right
 * after an unmount). _waiting: after lock_wait_ms instead. */
#define DAEMON_STORE_LOCK_WAIT_MS 5000
int daemon_store_open(const char *dir, uint64_t budget_bytes, struct daemon_store **ret);
int daemon_store_open_waiting(const char *dir, uint64_t budget_bytes, uint64_t lock_wait_ms,
			      struct daemon_store **ret);
void daemon_store_close(struct daemon_store *s);

/* New copy (id, version) of size bytes, initially all zero. Every create
 * fails with -EMLINK when id has DAEMON_STORE_VERSIONS_MAX other versions. */
int daemon_store_create(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			uint64_t size, struct daemon_store_writer **ret);
/* The same for a copy of a sparse file said to hold data bytes of data
 * (the rest holes, appended as zeros): only data (at most size) is
 * reserved of the budget at first; writes beyond it reserve more, up to
 * size, or fail with -ENOSPC when the budget has no room (a sender that
 * said too little is held to the budget all the same). */
int daemon_store_create_thin(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     uint64_t size, uint64_t data, struct daemon_store_writer **ret);
/* The new copy a delta against basis_fd (an open copy) is patched into:
 * written whole, in order, its zero blocks left as holes, so reserved as
 * a thin copy of about the basis's data (more as more is written), not
 * its whole size: a thin image changed behind the mount's back fits a
 * budget its size does not. */
int daemon_store_create_patched(struct daemon_store *s, const uint8_t id[16], uint64_t version,
				uint64_t size, int basis_fd, struct daemon_store_writer **ret);
/* New copy (id, version) of size bytes that starts as a clone of (id, base)
 * (truncated or zero-extended to size; the base's holes stay holes). It
 * reserves the base's data of the budget, and more as it is written (as
 * a thin writer does). -ENOENT if base is absent. */
int daemon_store_create_from(struct daemon_store *s, const uint8_t id[16], uint64_t base,
			     uint64_t version, uint64_t size, struct daemon_store_writer **ret);
/* Local first copy: new copy (id, version) holding the first size bytes of
 * src_fd (e.g. the origin file), read ONCE: each chunk read is hashed and
 * written, and ret_sha256 gets the SHA-256 of what was read. Commit with
 * that digest: the commit re-reads the copy and checks it against it, so
 * the copy is valid only if it holds exactly the bytes read from src. Each
 * read is paced by pace (sync/sync_io.h; NULL: none; its error aborts).
 * Writeback of each chunk is started as it is written (sync_file_range),
 * so a paced copy's writes are paced too, not left to the final flush.
 * Plain reads and writes, never copy_file_range: a reflink would share the
 * origin's blocks (no load taken off its disk) and an in-kernel copy would
 * need a second read of src for the digest. -EIO if src is shorter. */
struct sync_pace;
int daemon_store_create_from_fd(struct daemon_store *s, const uint8_t id[16], uint64_t version,
				int src_fd, uint64_t size, const struct sync_pace *pace,
				uint8_t ret_sha256[32], struct daemon_store_writer **ret);
/* Writes len bytes at off; off + len must be <= size (-ERANGE otherwise). */
int daemon_store_writer_write(struct daemon_store_writer *w, uint64_t off, const void *buf,
			      size_t len);
/* Appends after the last sequential write (streams: full copy, patch output). */
int daemon_store_writer_append(struct daemon_store_writer *w, const void *buf, size_t len);
/* Appends len zero bytes (a hole of the origin): nothing is written, the
 * new file already reads as zeros there, the digest hashes them.
 * -EINVAL after a positional write, -ERANGE past the copy's size. */
int daemon_store_writer_append_zeros(struct daemon_store_writer *w, uint64_t len);
/* The temporary file's fd (O_RDWR) for a patch library; the writer keeps it. */
int daemon_store_writer_fd(const struct daemon_store_writer *w);
/* Verifies SHA-256 == sha256 (-EBADMSG if not), then makes the copy valid
 * (unsynced: durable after the next sync pass), replacing an existing copy of
 * the same (id, version); with DAEMON_STORE_UNSYNCED_MAX copies unsynced,
 * after a sync pass. Always frees w. */
int daemon_store_commit(struct daemon_store_writer *w, const uint8_t sha256[32]);
/* As daemon_store_commit, with before() called ahead of each chunk when the
 * commit re-reads the file for its digest (sync_sha256_fd_each): a negative
 * return (a cancelled job: an unmount does not wait for the re-read of a
 * big copy) stops the commit with that error, nothing committed. */
int daemon_store_commit_each(struct daemon_store_writer *w, const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg);
/* How long the syncer waits after a commit before a pass (default
 * DAEMON_STORE_SYNC_DELAY_MS). */
void daemon_store_set_sync_delay(struct daemon_store *s, uint64_t ms);
/* Test-only: reads no longer compare a copy's stamp with the one stored
 * (a store from before that check), to test what the mount does with a
 * copy damaged on its host that is still served. Before serving. */
void daemon_store_set_no_stamp_check(struct daemon_store *s);
/* Makes every committed copy durable (fdatasync + rename to its real name)
 * before returning. */
void daemon_store_flush(struct daemon_store *s);
/* Drops the temporary file. Accepts NULL. */
void daemon_store_abort(struct daemon_store_writer *w);

/* Reads up to len bytes at off; returns the count (0 at end) or -errno:
 * -EBADMSG when the copy's file changed on disk since it was stored or
 * found at open (its inode, size, mtime or ctime: a flipped byte, a
 * truncation, a replacement), compared after the read, so that nothing read
 * from a damaged copy is returned (the caller deletes it). */
ssize_t daemon_store_read(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			  uint64_t off, void *buf, size_t len);
/* As daemon_store_read, and a copy found changed on disk is deleted
 * (shadowd's READ): -EBADMSG, the delete's result in *ret_deleted (0, or
 * -errno: -ENOENT if deleted meanwhile). Only the file that was read is
 * deleted, while it is still the copy of (id, version): one committed again
 * at that version since is read in its turn, never deleted for the file it
 * replaced. */
ssize_t daemon_store_read_drop(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			       uint64_t off, void *buf, size_t len, int *ret_deleted);
/* Opens a valid copy read-only (signature/delta basis); caller closes. */
int daemon_store_open_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			   int *ret_fd, uint64_t *ret_size);
/* stat(2) of a copy's file (not followed if a link), or -errno. */
int daemon_store_stat_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			   struct stat *st);
/* Re-computes the SHA-256 of a copy: 0 if it equals sha256, -EBADMSG if not. */
int daemon_store_verify(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			const uint8_t sha256[32]);
/* As daemon_store_verify, with before() called ahead of each chunk read
 * (sync_sha256_fd_each: shadowd's throttle and progress frames). */
int daemon_store_verify_each(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg);
/* As daemon_store_verify_each, and a copy that differs is deleted (shadowd's
 * VERIFY): -EBADMSG, the delete's result in *ret_deleted (0, or -errno:
 * -ENOENT if deleted meanwhile). Only the file that was hashed is deleted,
 * while it is still the copy of (id, version): a copy committed again at
 * that version during the re-hash is re-hashed in its turn (up to 8 times,
 * then -EAGAIN, nothing deleted), never deleted for the file it replaced. */
int daemon_store_verify_drop(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg,
			     int *ret_deleted);
/* Deletes the copy of a listing's entry (daemon_store_list) if its file is
 * still the one listed: -ESTALE, nothing deleted, if the same version was
 * committed again since (a new copy, not the one the caller judged). */
int daemon_store_delete_listed(struct daemon_store *s, const struct daemon_store_entry *e);
/* Deletes one version, or every version with DAEMON_STORE_ALL_VERSIONS. */
int daemon_store_delete(struct daemon_store *s, const uint8_t id[16], uint64_t version);
/* A copy's name in the store, <32 hex id>-<16 hex version>: its file name
 * there, and how logs name a copy. */
#define DAEMON_STORE_COPY_NAME_LEN 49
void daemon_store_copy_name(const uint8_t id[16], uint64_t version,
			    char out[DAEMON_STORE_COPY_NAME_LEN + 1]);
/* Deletes every copy whose version is below `below` (a mount's own copies
 * left by its earlier runs: versions start at the mount's start time);
 * how many and their bytes in *ret_copies / *ret_bytes. */
int daemon_store_delete_older(struct daemon_store *s, uint64_t below, uint64_t *ret_copies,
			      uint64_t *ret_bytes);
/* Every valid copy; *ret is malloc'ed (free it), *ret_n entries. */
int daemon_store_list(struct daemon_store *s, struct daemon_store_entry **ret, size_t *ret_n);
/* The same for the copies of one id only, without reading the directory
 * (the store's index of durable copies, and the unsynced list). */
int daemon_store_list_id(struct daemon_store *s, const uint8_t id[16],
			 struct daemon_store_entry **ret, size_t *ret_n);
void daemon_store_stats(struct daemon_store *s, struct daemon_store_stats *ret);

#endif
