/* Host store: the copies ("shadows") one host holds, addressed by file id
 * (16-byte uuid) and version. One implementation, used in-process for local
 * directory hosts and inside shadowd for remote ones.
 *
 * Layout: one flat directory. A valid copy is the regular file
 *   <32 hex id>-<16 hex version>
 * and a copy being written is "tmp.<name>.<seq>". Names are derived only
 * from the binary id/version, every open is openat() relative to the store's
 * directory fd with O_NOFOLLOW, and nothing else in the directory is touched,
 * so no peer input can reach a path outside the store.
 *
 * Writing: daemon_store_create() (empty new copy) or daemon_store_create_from()
 * (starts as a clone of an existing version: ranged updates and deltas) returns
 * a writer on a temporary file. daemon_store_commit() checks the SHA-256 of
 * the result against the expected digest, fsyncs, renames to the real name and
 * fsyncs the directory; on any failure the temporary file is removed and the
 * copies already present are untouched. Temporary files left by a crash are
 * removed at open.
 *
 * Older versions stay until deleted (STALE copies are the basis of later
 * incremental updates); which version serves is the caller's decision.
 *
 * Space budget: used + bytes reserved by open writers never exceed the budget
 * (0 = unlimited); a create that would is refused with -ENOSPC.
 *
 * Thread-safety: all functions may be called concurrently; a writer belongs
 * to one thread. */
#ifndef SHADOWFS_DAEMON_HOST_STORE_H
#define SHADOWFS_DAEMON_HOST_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DAEMON_STORE_ALL_VERSIONS UINT64_MAX

struct daemon_store;
struct daemon_store_writer;

struct daemon_store_entry {
	uint8_t id[16];
	uint64_t version;
	uint64_t size;
};

struct daemon_store_stats {
	uint64_t used_bytes;	 /* sum of valid copy sizes */
	uint64_t copies;	 /* number of valid copies */
	uint64_t budget_bytes;	 /* 0 = unlimited */
	uint64_t reserved_bytes; /* held by open writers */
};

/* Opens (creating it, mode 0700, if missing) the store in dir. */
int daemon_store_open(const char *dir, uint64_t budget_bytes, struct daemon_store **ret);
void daemon_store_close(struct daemon_store *s);

/* New copy (id, version) of size bytes, initially all zero. */
int daemon_store_create(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			uint64_t size, struct daemon_store_writer **ret);
/* New copy (id, version) of size bytes that starts as a clone of (id, base)
 * (truncated or zero-extended to size). -ENOENT if base is absent. */
int daemon_store_create_from(struct daemon_store *s, const uint8_t id[16], uint64_t base,
			     uint64_t version, uint64_t size, struct daemon_store_writer **ret);
/* Local first copy: new copy (id, version) holding the first size bytes of
 * src_fd (e.g. the origin file), copied in the kernel with copy_file_range
 * (a reflink where the filesystem shares extents). -EIO if src is shorter. */
int daemon_store_create_from_fd(struct daemon_store *s, const uint8_t id[16], uint64_t version,
				int src_fd, uint64_t size, struct daemon_store_writer **ret);
/* Writes len bytes at off; off + len must be <= size (-ERANGE otherwise). */
int daemon_store_writer_write(struct daemon_store_writer *w, uint64_t off, const void *buf,
			      size_t len);
/* Appends after the last sequential write (streams: full copy, patch output). */
int daemon_store_writer_append(struct daemon_store_writer *w, const void *buf, size_t len);
/* The temporary file's fd (O_RDWR) for a patch library; the writer keeps it. */
int daemon_store_writer_fd(const struct daemon_store_writer *w);
/* Verifies SHA-256 == sha256 (-EBADMSG if not), then makes the copy valid,
 * replacing an existing copy of the same (id, version). Always frees w. */
int daemon_store_commit(struct daemon_store_writer *w, const uint8_t sha256[32]);
/* Drops the temporary file. Accepts NULL. */
void daemon_store_abort(struct daemon_store_writer *w);

/* Reads up to len bytes at off; returns the count (0 at end) or -errno. */
ssize_t daemon_store_read(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			  uint64_t off, void *buf, size_t len);
/* Opens a valid copy read-only (signature/delta basis); caller closes. */
int daemon_store_open_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			   int *ret_fd, uint64_t *ret_size);
/* Re-computes the SHA-256 of a copy: 0 if it equals sha256, -EBADMSG if not. */
int daemon_store_verify(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			const uint8_t sha256[32]);
/* Deletes one version, or every version with DAEMON_STORE_ALL_VERSIONS. */
int daemon_store_delete(struct daemon_store *s, const uint8_t id[16], uint64_t version);
/* Every valid copy; *ret is malloc'ed (free it), *ret_n entries. */
int daemon_store_list(struct daemon_store *s, struct daemon_store_entry **ret, size_t *ret_n);
void daemon_store_stats(struct daemon_store *s, struct daemon_store_stats *ret);

#endif
