/* The mover's rate limit (-o copy_rate=MB/s): one token bucket
 * (daemon/throttle.h, tokens = bytes) on the bytes the mover (fs/mover.h) reads
 * from origins to make copies, local (daemon_store_create_from_fd) and
 * remote (the digest pass, ranges, full and delta uploads). Shared by every
 * copy of the mount, so two copies in a row share the rate too.
 *
 * Reads are paced before they happen where the reader asks (sync_pace) and
 * after each frame where only progress is reported (sync_replicate's
 * uploads); the bucket's debt makes the long-run rate exact either way.
 * A wait sleeps in slices of at most FS_COPY_PACE_SLICE_MS and ends early
 * when fs_copy_pace_cancel() is called (unmount): a paced copy in progress
 * then fails with -ECANCELED instead of holding the unmount for S/rate.
 *
 * One job can also be stopped alone: the _until variants and the hooks
 * take a stop flag (the mover's cancellation token, fs/mover.h), checked
 * between the slices of a wait and before each chunk.
 *
 * Priority. The stop flag also names the job: while fs_copy_pace_priority
 * names one (the express lane's copy for an overloaded file, fs/mover.h),
 * every other job's take waits, in slices and taking no tokens, until it is
 * cleared: the copy under way pauses, keeping its progress, and the urgent
 * one gets the whole rate (and the disk, when the rate is unlimited).
 *
 * Thread-safety: take/progress run on the movers' threads (a copy on
 * each at most); cancel and priority may be called from any thread. */
#ifndef SHADOWFS_FS_COPY_PACE_H
#define SHADOWFS_FS_COPY_PACE_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/sync_io.h"

#define FS_COPY_PACE_SLICE_MS 100
#define FS_COPY_PACE_MIN_BURST (1u << 20) /* one chunk of the copy loops */

struct fs_copy_pace;

/* Burst of the bucket (bytes): 100 ms worth, at least one chunk, so a
 * chunk never waits more than its own cost. Pure. */
double fs_copy_pace_burst(double bytes_per_s);

/* mb_per_s: MB (10^6 bytes) per second; 0 = unlimited (only cancel works). */
int fs_copy_pace_new(double mb_per_s, struct fs_copy_pace **ret);
void fs_copy_pace_free(struct fs_copy_pace *p); /* accepts NULL */

/* Takes bytes tokens, sleeping while the bucket is in debt: 0, or
 * -ECANCELED once cancelled. p NULL: 0 at once. */
int fs_copy_pace_take(struct fs_copy_pace *p, uint64_t bytes);
/* The same, also ending with -ECANCELED once *stop (atomic; NULL: none)
 * is true. */
int fs_copy_pace_take_until(struct fs_copy_pace *p, uint64_t bytes, const bool *stop);
/* The hook for readers that pace before each read (sync/sync_io.h). */
struct sync_pace fs_copy_pace_hook(struct fs_copy_pace *p);

/* The hook with a check before each take: when unchanged(arg) says the
 * origin moved on, the read is not made and the copy stops with -EAGAIN
 * (a copy that could not be published is abandoned at once, not after
 * S/rate); when *stop is true (the job was cancelled), with -ECANCELED.
 * unchanged, stop NULL: no such check. Each take adds its bytes to *read
 * (atomic; NULL: not counted): the job's progress. */
struct fs_copy_pace_check {
	struct fs_copy_pace *p;
	bool (*unchanged)(void *arg);
	void *arg;
	const bool *stop;
	uint64_t *read;
};
struct sync_pace fs_copy_pace_hook_checked(struct fs_copy_pace_check *c);

/* For readers that only report progress (done bytes so far of one
 * operation): takes what was read since the last call. Cancelled, it no
 * longer waits (the operation cannot be stopped from a progress callback).
 * With skip_holes (source: the fd the operation reads from offset 0), only
 * the data bytes of that span are taken: holes load no disk (a sparse file
 * sent with ZEROS frames, sync/client.c). */
struct fs_copy_pace_progress {
	struct fs_copy_pace *p;
	uint64_t last;	  /* bytes already taken for this operation */
	const bool *stop; /* atomic; true: no more waits (NULL: none) */
	uint64_t *read;	  /* atomic; each take adds its bytes (NULL: none) */
	bool skip_holes;  /* see above (false: every byte) */
	int source;
};
void fs_copy_pace_progress_fn(void *arg, uint64_t done, uint64_t total);

/* Gives job (its stop flag) the pace alone until called again with NULL. */
void fs_copy_pace_priority(struct fs_copy_pace *p, const bool *job);

/* Makes every wait, current and future, return -ECANCELED. */
void fs_copy_pace_cancel(struct fs_copy_pace *p);

#endif
