/* The mover: one background thread of the shadowing layer that makes and
 * re-hashes copies for the control thread (fs/shadow_control.c), one job
 * at a time, so that a copy paced by -o copy_rate (fs/copy_pace.h) never
 * holds the control loop: while it runs, the loop still ticks (rollout
 * steps, rollbacks, demotions, trims, stamp checks, STATE/shadows.status,
 * STATE/pins).
 *
 * A job is one of
 *   LOCAL   make the copy of a file at version v in a local host's store:
 *           one paced read of the origin, hashed while written, verified
 *           at commit (daemon_store_create_from_fd + daemon_store_commit);
 *   REMOTE  make or bring up to date its copy on a shadowd
 *           (fs_remote_copies_make, on the mover's own connections);
 *   VERIFY  re-hash a serving copy against its SHA-256 (a local store's
 *           daemon_store_verify_each; a remote one by its shadowd, VERIFY).
 *
 * Hand-over. The control thread prepares a job (the slot marked SYNCING
 * for a copy, and owned by the job until applied: fs_mover_copying, the
 * origin reopened read-only into job.fd, the stamps of the origin then)
 * and submits it when the mover is idle (at most one job
 * exists: queued, running, or done and not yet released). The mover only
 * reads the map entry's immutable fields and atomics, and writes its
 * results into the job. The control thread takes the done job on a later
 * tick (fs_mover_done), applies it under the map's rules -- a copy is
 * published only if the file is still at v, no change is under way, no
 * unseen writer is open and the origin's stamps did not move
 * (fs/shadow_copies.c, shadow_unchanged_since, shadow_copy_finish) --
 * and releases it. So every slot field is still written by the control
 * thread alone (daemon/shadow_map.h), as before the mover.
 *
 * Order. The control thread gives the mover the most urgent copy that
 * waits (fs/shadow_control.c: an overloaded file first, then a file with no
 * copy serving, then the most origin reads lately), and a
 * copy that waits cancels a re-hash under way (fs_mover_cancel_verify; a
 * remote one ends at the shadowd's next progress frame): the re-hash is
 * owed and runs again once the mover is free. A copy under way
 * is not cancelled for another (its progress would be lost); instead:
 *
 * Express lane. The mount has a second mover (fs_mover_new with express),
 * idle but for two cases: a file over its capacity now (overloaded) whose
 * copy waits while the first mover copies a file that is not, and any
 * copy a file needs that waits while the first mover runs a migration (a
 * copy the file does not need, to a cheaper host). The express
 * mover makes that copy at once, and while it runs it has the pace alone
 * (fs_copy_pace_priority): the copy under way pauses at its next chunk,
 * keeping its progress, and resumes after. So an overload never waits for
 * a long paced copy of a merely warm file, nor a needed copy for a
 * migration. The express mover runs copies
 * only (no re-hash), one at a time, on its own remote connections; the
 * rules of hand-over and publication are the same for both movers.
 *
 * Cancellation. fs_mover_cancel (demotion, unlink, trim or drop of the
 * slot, its remote host down) sets the job's token: checked before each
 * chunk of a copy or a re-hash and between the 100 ms slices of every
 * pacing wait, it stops the job with -ECANCELED, and the mover removes
 * what it made (the store's temporary file; a committed local copy; the
 * version on a remote host). A full or delta upload to a shadowd reports
 * progress only: cancelled, its source fd is cut at the next report, so it
 * fails at its next read and the host drops the half upload
 * (fs/remote_copies.h). A re-hash by a shadowd (VERIFY) cannot be
 * interrupted. fs_mover_free cancels the job and joins the thread.
 *
 * Thread-safety: submit/done/release/cancel/idle from the control thread
 * (cancel and idle from any thread). The two movers share nothing but the
 * pace and the stores (both thread-safe). */
#ifndef SHADOWFS_FS_MOVER_H
#define SHADOWFS_FS_MOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "daemon/shadow_map.h"
#include "fs/remote_copies.h"

struct daemon_store;
struct fs_shadowing;
struct fs_mover;

enum fs_move_kind {
	FS_MOVE_LOCAL,
	FS_MOVE_REMOTE,
	FS_MOVE_VERIFY,
};
const char *fs_move_kind_name(enum fs_move_kind k);

struct fs_move_job {
	/* Set by the control thread before fs_mover_submit. */
	enum fs_move_kind kind;
	struct daemon_shadow_file *s; /* not freed while a job names it (fs/shadow_reclaim.c) */
	int slot;		      /* the copy slot (SYNCING; VERIFY: SERVING) */
	int host;
	bool remote;		     /* VERIFY: of a remote copy */
	uint64_t version;	     /* the file version copied or re-hashed */
	uint64_t base;		     /* REMOTE: a stale copy's version there, 0 none */
	int fd;			     /* LOCAL, REMOTE: the origin, read-only; owned: -1 */
	struct stat st0;	     /* LOCAL, REMOTE: the origin when prepared */
	struct daemon_store *store;  /* LOCAL, local VERIFY: the host's store */
	uint8_t sha256[32];	     /* VERIFY: the digest to check against */
	uint64_t size;		     /* VERIFY: the copy's size */
	uint32_t generation;	     /* VERIFY: the slot's publication then */
	char path[512];		     /* the file's path, for the log */
	/* Set by the mover. */
	int rc;				  /* 0, -ECANCELED, -EAGAIN (changed), -errno */
	int copy_fd;			  /* LOCAL: read-only fd on the copy; owned: -1 */
	struct daemon_origin_stamp file;  /* LOCAL: the copy's file when made */
	uint8_t digest[32];		  /* LOCAL: of what was read from the origin */
	struct fs_remote_sync_result res; /* REMOTE: method, bytes, digest */
	uint64_t run_ms;		  /* how long it ran */
	uint64_t read;			  /* atomic: LOCAL, REMOTE: origin bytes read */
	bool cancelled;			  /* atomic: fs_mover_cancel */
};

/* Starts the thread. sh: the layer it works for (its pace, hosts, map);
 * with_remote: open connections of its own to remote hosts; express: the
 * express lane (its jobs have the pace alone while they run). */
int fs_mover_new(struct fs_shadowing *sh, bool with_remote, bool express,
		 struct fs_mover **ret);
/* Cancels the job, joins the thread (about one pacing slice), closes the
 * fds a job left. Accepts NULL. */
void fs_mover_free(struct fs_mover *m);

/* No job at all: the next may be submitted. */
bool fs_mover_idle(struct fs_mover *m);
/* Hands j over (copied; its fd then belongs to the mover). -EBUSY when
 * a job exists (the caller keeps j.fd). */
int fs_mover_submit(struct fs_mover *m, const struct fs_move_job *j);
/* The finished job, or NULL: the caller applies it (its copy_fd becomes
 * the caller's when it sets job->copy_fd to -1) then calls
 * fs_mover_release. */
struct fs_move_job *fs_mover_done(struct fs_mover *m);
void fs_mover_release(struct fs_mover *m);

/* Cancels the job on slot of s (slot -1: on any slot of s) or, with
 * fs_mover_cancel_host, any job on host. True when a job matched (it may
 * have finished already: its result is then discarded as cancelled). */
bool fs_mover_cancel(struct fs_mover *m, const struct daemon_shadow_file *s, int slot);
bool fs_mover_cancel_host(struct fs_mover *m, int host);
/* Cancels a re-hash (VERIFY) queued or running, so that a copy waiting for
 * the mover goes first; true when there was one. */
bool fs_mover_cancel_verify(struct fs_mover *m);
/* Whether a job (queued, running, or done and not released) is on slot of
 * s (slot -1: any). */
bool fs_mover_on(struct fs_mover *m, const struct daemon_shadow_file *s, int slot);
/* The file of the copy job (LOCAL, REMOTE) queued or running, or NULL
 * (none, a re-hash, or done). */
const struct daemon_shadow_file *fs_mover_copy_of(struct fs_mover *m);
/* The same for a copy job (LOCAL, REMOTE): the slot is the job's until the
 * control thread has applied it, whatever its state says (a reader whose
 * read of the slot's previous copy failed may have marked it STALE). */
bool fs_mover_copying(struct fs_mover *m, const struct daemon_shadow_file *s, int slot);
/* The progress of that copy job: true with the origin bytes it has read so
 * far (*read; a ranged update reads the file twice, its digest then the
 * ranges) and the origin's size when the job was prepared (*size). */
bool fs_mover_copy_progress(struct fs_mover *m, const struct daemon_shadow_file *s, int slot,
			    uint64_t *read, uint64_t *size);

#endif
