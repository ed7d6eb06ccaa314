/* Copies on remote shadowd hosts, the mount's side: make or bring up to
 * date the copy of one file on one host, delete it, check it is still
 * there, and the host's room and load for placement. All through sync/
 * over mutual TLS, on one connection per host and instance (reconnected
 * after an error).
 *
 * Bringing a copy to version V (fs_remote_copies_sync), the cheapest way:
 *   - the host holds a stale copy at BASE and the mount knows the ranges
 *     written since BASE (fs/remote_dirty.h): a ranged update ships only
 *     those bytes (RANGES);
 *   - else sync_replicate: nothing when the host already holds V (CURRENT),
 *     a librsync delta against another version it holds (DELTA), or the
 *     whole file (FULL).
 * The host commits V only if the content's SHA-256 equals the digest of
 * what was read from the origin (computed while uploading for FULL and
 * DELTA: one read of the origin; in a pass before for RANGES, whose first
 * frame carries it), and the other versions of the file are deleted there
 * afterwards. The control thread publishes the copy only if the file is
 * still at V with the origin's stamps unchanged (a bump meanwhile discards
 * the result). Every read of the origin is paced by -o copy_rate
 * (fs/copy_pace.h).
 *
 * A serving copy is re-verified by its host (fs_remote_copies_verify: the
 * shadowd re-hashes it from its disk), so damage there stops it serving.
 *
 * Thread-safety: one thread per instance. The mount has two: the control
 * thread's (placement STATS, deletes, listing checks) and the mover's
 * (syncs and VERIFY, fs/mover.h), each with its own connections, so a
 * long upload never holds the control thread. fs/remote_dirty.h records
 * are shared (a mutex each). */
#ifndef SHADOWFS_FS_REMOTE_COPIES_H
#define SHADOWFS_FS_REMOTE_COPIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon_control_host;
struct daemon_shadow_file;
struct fs_copy_pace;
struct fs_hosts;
struct fs_remote_copies;

enum fs_remote_method {
	FS_REMOTE_NONE = 0,
	FS_REMOTE_FULL,
	FS_REMOTE_RANGES,
	FS_REMOTE_DELTA,
	FS_REMOTE_CURRENT,
};
const char *fs_remote_method_name(int m);

struct fs_remote_sync_result {
	int method;	    /* enum fs_remote_method */
	uint64_t sent;	    /* payload bytes shipped (file, ranges or delta) */
	bool have_sha256;   /* false only for CURRENT without a digest given */
	uint8_t sha256[32]; /* the digest the host checked the copy against */
	/* Nonzero: the host's commit was not answered within this bound while
	 * its heartbeats came (fs_remote_commit_bound_ms): the copy there was
	 * abandoned (-ETIMEDOUT). */
	uint64_t commit_overdue_ms;
};

/* How long a host may take to commit an upload of size bytes (answer its
 * END) while its heartbeats come, before the copy there is abandoned: 15 s
 * plus 1 s per 16 MiB (a commit re-hashes the new copy, or copies the rest
 * of a delta's basis: a 12 GiB copy took 19.9 s, its bound is 783 s). */
uint64_t fs_remote_commit_bound_ms(uint64_t size);

int fs_remote_copies_new(struct fs_hosts *hosts, struct fs_remote_copies **ret);
void fs_remote_copies_free(struct fs_remote_copies *rc); /* accepts NULL */

/* Fills the placement inputs of remote host h (budget and use from its
 * STATS, at most once a second; load from its heartbeats). -errno when it
 * cannot be asked (then it takes no copy). */
int fs_remote_copies_host(struct fs_remote_copies *rc, size_t h, struct daemon_control_host *out);

/* Makes the copy of s on a remote host, the mover's step (fs/mover.h):
 * the sync below (base: the version of a stale copy the host holds, 0
 * none) reading fd (size bytes, the origin at version) once -- preceded by
 * a pass for its SHA-256 only when a ranged update is possible. 0 with
 * *res filled when the host holds the version and unchanged(arg) still
 * says the file did not change meanwhile; the caller publishes it (if the
 * file is still unchanged then). Else the version is deleted on the host
 * and -EAGAIN (changed) or -ECANCELED (*stop set: the job was cancelled;
 * checked before each read of the digest pass and of a ranged update, and
 * in every pacing wait; a full or delta upload, reporting progress only,
 * has its source fd cut at its next progress report, so its next read
 * fails and the half upload is dropped with its connection: m->fd must be
 * the caller's own) returned; on another failure
 * with a base, every version of the file there is deleted (its slot goes). */
struct fs_remote_make {
	int host;
	uint64_t version, base;
	int fd;
	uint64_t size;
	bool (*unchanged)(void *arg);
	void *arg;
	struct fs_copy_pace *pace; /* -o copy_rate on every read of fd (NULL: none) */
	const bool *stop;	   /* atomic: the job's cancellation (NULL: none) */
	uint64_t *read;		   /* atomic: bytes of fd read so far (NULL: none) */
	const char *path;	   /* for the log */
};
int fs_remote_copies_make(struct fs_remote_copies *rc, struct daemon_shadow_file *s,
			  const struct fs_remote_make *m, struct fs_remote_sync_result *res);

/* Makes (id of s, version) on host from fd (size bytes, digest sha256, or
 * NULL: computed while uploading, no ranged update then); base: the
 * version of a stale copy the host holds (0: none known); the reads of fd
 * are paced by pace (NULL: none), stopped by *stop as above, and counted
 * in *read (atomic; NULL: not counted). res->sha256: what the host checked. */
int fs_remote_copies_sync(struct fs_remote_copies *rc, struct daemon_shadow_file *s, int host,
			  int fd, uint64_t size, const uint8_t sha256[32], uint64_t version,
			  uint64_t base, struct fs_copy_pace *pace, const bool *stop,
			  uint64_t *read, struct fs_remote_sync_result *res);
/* Deletes version (SYNC_WIRE_ALL_VERSIONS: every one) of id on host; a copy
 * already gone is success. */
int fs_remote_copies_delete(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			    uint64_t version);
/* A delete that failed (the host stopped or unreachable): the version is
 * deleted when the host is back (fs_remote_copies_retry_deletes, called
 * each tick for a host whose copies may be read again), at most 4096
 * waiting per host (beyond, the oldest are left to the shadowd's
 * --expire-hours). keep: a new copy of id goes to host, so nothing of id
 * is deleted there later (it may be that very version, CURRENT). */
void fs_remote_copies_delete_later(struct fs_remote_copies *rc, int host, const uint8_t id[16],
				   uint64_t version);
void fs_remote_copies_keep(struct fs_remote_copies *rc, int host, const uint8_t id[16]);
/* Up to 16 waiting deletes on host; returns how many went. */
size_t fs_remote_copies_retry_deletes(struct fs_remote_copies *rc, int host);
size_t fs_remote_copies_later_count(const struct fs_remote_copies *rc, int host);
/* 0 when host lists (id, version) with size bytes; -ENOENT when it does not
 * (removed or damaged there), another -errno when it cannot be asked. */
int fs_remote_copies_check(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			   uint64_t version, uint64_t size);
/* The periodic check of a serving remote copy (shadow_verify): the host
 * re-hashes (id, version) from its disk (VERIFY) and compares with sha256.
 * 0 when it matches; -EBADMSG when it differs (the host has deleted it);
 * -ENOENT when the host does not hold it; another -errno when the host
 * cannot be asked (down, slow: reads find out). A host whose shadowd
 * predates VERIFY (it closes the connection on the request but answers
 * LIST) gets the listing check (fs_remote_copies_check, size bytes) instead,
 * and VERIFY is tried there again after VERIFY_RETRY_MS. The re-hash of a
 * big copy takes as long as reading it there: the host sends progress, and
 * VERIFY_FRAME_MS (1 s) bounds each frame, not the whole check. Once *stop
 * (atomic; NULL: none) is set, the check gives up at the next progress
 * frame with -ECANCELED, dropping the connection (which ends the re-hash
 * there): an unmount or a waiting copy does not wait for it. */
int fs_remote_copies_verify(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			    uint64_t version, const uint8_t sha256[32], uint64_t size,
			    const bool *stop);

#endif
