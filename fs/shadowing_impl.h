/* The shadowing layer's internals, shared by its files (see
 * shadowing.h for what the layer does):
 *   fs/shadowing.c      the ops layer (versions, writer counts), the
 *                       inodes' entries, pins, user.shadow.state, lifetime;
 *   fs/shadow_copies.c  starting, publishing, trimming and dropping copies
 *                       (placement here; the copy itself runs on the
 *                       mover), the failed-copy back-off;
 *   fs/mover.c          the mover thread: copies and re-hashes, one at a
 *                       time, off the control thread;
 *   fs/shadow_control.c the control thread: the forecast once a bucket,
 *                       the decisions of daemon/control.c each tick, the
 *                       stamp and SHA-256 checks, STATE/shadows.status;
 *   fs/shadow_origin.c  the entries' origin fds (cached, reopened by file
 *                       handle) and the layer's fd budget;
 *   fs/shadow_quiet.c   which entries a pass may leave alone (settled and
 *                       unread), and the stamp check of their reads.
 * Nothing outside those files includes this. */
#ifndef SHADOWFS_FS_SHADOWING_IMPL_H
#define SHADOWFS_FS_SHADOWING_IMPL_H

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "daemon/control.h"
#include "daemon/shadow_map.h"
#include "fs/fs.h"
#include "fs/shadowing.h"

struct fs_copy_pace;
struct fs_move_job;
struct fs_mover;
struct fs_remote_copies;
struct fs_remote_reads;
struct pred_store;

#define FS_SHADOW_HISTORY_S (6 * 3600) /* the forecast looks at the last hours */
#define FS_SHADOW_TOP_N 32	       /* ... of the busiest files */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SUB(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)

/* How many files one pass over the shadow map lines up for copies. */
#define SHADOW_CANDIDATES 256

struct fs_shadowing {
	struct fs_ctx *ctx;	/* not owned */
	struct fs_hosts *hosts; /* not owned */
	struct daemon_shadow_map *map;
	struct fs_remote_reads *remote_reads;	/* router's reads; NULL: no remote host */
	struct fs_remote_copies *remote_copies; /* control thread's syncs; idem */
	struct fs_copy_pace *pace;		/* -o copy_rate: the copies' origin reads */
	struct fs_mover *mover;			/* runs the copies and re-hashes */
	/* control thread: the file whose migration (a copy it does not need,
	 * to a cheaper host) the mover was last given, else NULL */
	const struct daemon_shadow_file *mover_migration;
	struct fs_mover *express; /* copies for overloaded files beside a copy under way */
	struct daemon_control_params params;
	struct fs_shadowing_config cfg;
	char state_dir[PATH_MAX];
	char pins_path[PATH_MAX];
	char pin_log_path[PATH_MAX];
	/* The journal of pin changes (fs/pin_log.h), -1 if it cannot be
	 * written (each pin then rewrites STATE/pins). pins_lock orders the
	 * pin changes with their records and with the compaction (taken
	 * before the map lock). */
	int pin_log_fd;
	pthread_mutex_t pins_lock;
	/* Renames whose intent is in the log and that have not returned yet
	 * (pins_lock): the compaction keeps the log while there are any, as
	 * STATE/pins, written from memory, does not know their outcome. */
	unsigned pin_intents;
	char status_path[PATH_MAX];
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* protects stopping, pins_dirty, wake_pending */
	pthread_cond_t wake;
	bool stopping;
	/* A wake-up (a finished job, a pin, a tuning change) not yet acted
	 * on: one that comes while a tick runs makes the next tick start at
	 * once instead of being lost until the timer. */
	bool wake_pending;
	bool rescan_pending; /* ... and it asks for a pass over every entry */
	bool look_all_pending; /* ... that looks at quiet entries too (pins,
				* tuning: inputs the quiet mark does not see) */
	bool pins_dirty; /* STATE/pins to rewrite (control thread writes it) */
	/* STATE/pins or its log could not be read at start: neither is
	 * replaced nor emptied (their pins would be lost for good); pin
	 * changes go to the log only. Set before the threads start. */
	bool pins_unread;
	/* control thread only */
	uint64_t *host_since; /* fs_hosts_since_ms of each host at the last tick */
	size_t nhost_since;
	uint64_t scan_ms, scan_done_ms; /* start and end of the last pass over every entry */
	/* A pass due then, before the period is up (0: none): a finished
	 * copy dropped because its file changed under it (the kernel's
	 * deferred ctime SETATTR after a pin's setxattr does it) is made
	 * again once the file is quiet, not a whole shadow_tick later.
	 * The control thread's. */
	uint64_t pass_soon_ms;
	uint64_t passes;		/* passes begun (fs/shadow_quiet.c slices by it) */
	size_t pass_looked, pass_quiet; /* the last pass: entries looked at, left alone */
	char control_stats_path[PATH_MAX]; /* STATE/control.stats */
	/* The files that pass found wanting a copy, most urgent first, beyond
	 * the one it started: each copy the mover finishes starts the next
	 * one still wanting it, without another pass (which costs O(entries)). */
	struct daemon_shadow_file *candidates[SHADOW_CANDIDATES];
	size_t ncandidates, next_candidate;
	bool more_wanted; /* that pass found more than it could line up */
	struct pred_store *store; /* the recorder's series store, read-only */
	bool store_damage_logged; /* "damaged rows skipped" said (once a mount) */
	uint64_t forecast_ms;	  /* last forecast */
	size_t verify_cursor;	  /* next entry verify_one looks at */
	uint64_t verify_next_ms;  /* ... not before (no copy due earlier; 0: now) */
	uint64_t putoff_logged_ms; /* last "re-hash put off" at info level (0: never) */
	uint64_t status_next_ms;   /* STATE/shadows.status not rewritten before */
	size_t status_lines;	   /* ... lines its last write held */
	bool host_wait_logged;	   /* "waits for a host" said, no copy made since */
	uint64_t noisy_window_ms;  /* per-file info lines: this minute's start */
	unsigned noisy_logged, noisy_suppressed; /* ... said at info, and at debug */
	/* The layer's fds (fs/shadow_origin.c): its budget, the origin fds it
	 * caches at most, and (atomic) the origin fds and local copy fds held. */
	unsigned fd_budget, origin_cache;
	uint32_t origin_fds, copy_fds;
	int scratch_fd; /* control thread: an origin reopened beyond the cache, */
	struct daemon_shadow_file *scratch_of; /* ... and whose, or NULL */
	/* Entries' paths replaced by another thread (map lock): freed by the
	 * control thread at its next tick (fs/shadow_paths.c). */
	char **retired;
	size_t nretired, retired_cap;
	bool budget_origin_logged; /* an origin refused for the budget: said */
	bool budget_copy_logged;   /* a read that opened its copy's fd for itself: said */
};

/* fs/shadow_quiet.c */
/* A quiet entry is looked at by one pass in SHADOW_QUIET_EVERY (spread
 * over the passes by its index), and by any pass once it is read, written,
 * re-flagged or a slot changes. */
#define SHADOW_QUIET_EVERY 16
/* After the control loop's look at s (settled: daemon_control_settled of
 * its inputs): marks it quiet or not. */
void shadow_quiet_note(struct fs_shadowing *sh, struct daemon_shadow_file *s, bool settled);
/* With the map lock held, in pass number pass: whether the pass may leave
 * the entry at index k alone; if so its hysteresis is kept as a look
 * would keep it (wanted and not over its copies, now). */
bool shadow_quiet_skip(struct daemon_shadow_file *s, size_t k, uint64_t pass, uint64_t now_ms);
/* Whether this pass must look at every entry: a pin or tuning change
 * asked for it (taken), or local copies hold three quarters of their fd
 * share (idle ones give theirs back only when looked at). */
bool shadow_quiet_look_all(struct fs_shadowing *sh);
/* A read of s (serving copies): true for the first read since the control
 * loop marked it quiet (passes leave it alone): the caller compares its
 * stamps before routing, as an open does. */
bool shadow_quiet_stamps_due(struct daemon_shadow_file *s);
/* STATE/control.stats after a pass (shadowctl status). */
void shadow_quiet_write_stats(struct fs_shadowing *sh, uint64_t pass_ms);

/* fs/shadow_paths.c */
/* s's path becomes path (taken; NULL: none); the old one is retired, not
 * freed. Map lock held. */
void shadow_path_set_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s, char *path);
/* s's path, or dflt without one, read without the map lock: only the
 * control thread may (a path another thread replaces is retired until that
 * thread's next tick). The pointer is published with a release store and
 * read with an acquire load: a plain read raced with a rename's store (a
 * data race, ThreadSanitizer in fs_shadow_rename), and on a weakly ordered
 * CPU could see the new pointer before the bytes strdup wrote there. */
static inline const char *shadow_path_or(const struct daemon_shadow_file *s, const char *dflt)
{
	const char *p = __atomic_load_n(&s->path, __ATOMIC_ACQUIRE);
	return p ? p : dflt;
}
/* Frees the retired paths: the control thread, holding none of them. */
void shadow_paths_reap(struct fs_shadowing *sh);
/* s's path ("?" without one) copied under the map lock, for FUSE threads. */
void shadow_path_copy(struct fs_shadowing *sh, struct daemon_shadow_file *s, char *buf,
		      size_t len);
/* A rename through the mount (sh_rename): the paths before the op, and
 * the work armed to run before its reply if it succeeded (the entries'
 * paths moved, pinned ones' moves in STATE/pins.log). */
struct shadow_rename {
	bool armed;
	struct fs_shadowing *sh;
	fuse_ino_t newparent;
	const char *newname;
	unsigned int flags;
	bool intent; /* its intent is in STATE/pins.log (sh->pin_intents) */
	/* One side's path is deeper than PATH_MAX below BACKING (to or from
	 * then empty): entries moved there forget their path, a file moved
	 * back from there takes its new one, and the entries below a
	 * directory moved back find theirs again from their origins. */
	bool to_unknown, from_unknown;
	struct stat src, dst; /* dst: RENAME_EXCHANGE's other side */
	char from[PATH_MAX], to[PATH_MAX];
	struct fs_before_reply next; /* the outer layer's, run after ours */
};
/* replaced: the entry of the file the rename replaces (held), or NULL. */
void shadow_rename_begin(struct fs_shadowing *sh, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags,
			 struct daemon_shadow_file *replaced, struct shadow_rename *rn);
void shadow_rename_end(struct shadow_rename *rn);
/* An unlink, or a rename over a file, that removes the name an entry is
 * known by while other links of the file remain (sh_unlink, sh_rename):
 * armed to run before its reply if it succeeded: the entry takes one of
 * the other names if the file's handle leads to one, else it forgets its
 * path; a pinned one's move (or its unpin) goes to STATE/pins.log. */
struct shadow_unlink {
	bool armed, have_handle;
	struct fs_shadowing *sh;
	struct daemon_shadow_file *s; /* held by the op */
	struct stat st;
	char from[PATH_MAX];
	union {
		struct file_handle fh;
		char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	struct fs_before_reply next; /* the outer layer's, run after ours */
};
void shadow_unlink_begin(struct fs_shadowing *sh, struct daemon_shadow_file *s, nlink_t nlink,
			 fuse_ino_t parent, const char *name, struct shadow_unlink *un);
void shadow_unlink_end(struct shadow_unlink *un);

/* fs/shadow_reclaim.c */
/* Registers the inode table's release hook (inodes give their entry
 * pointer back as they are freed). */
void shadow_reclaim_init(struct fs_shadowing *sh);
/* Points inode i at s, counted in s->inode_links, unless i points to an
 * entry already. Map lock held. */
void shadow_link_inode_locked(struct fs_inode *i, struct daemon_shadow_file *s);
/* Gives back a hold taken under the map lock (s->holds; NULL: nothing). */
void shadow_entry_put(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* Control thread, map lock not held: frees parked entry s if nothing
 * wants it and no pointer to it is held elsewhere; returns whether it
 * did (the map's last entry then has s's index). */
bool shadow_reclaim(struct fs_shadowing *sh, struct daemon_shadow_file *s);

/* fs/shadowing.c */
/* CLOCK_MONOTONIC in ms. */
uint64_t shadow_now_ms(void);
/* A file's size, mtime and ctime. */
void shadow_origin_stamp(const struct stat *st, struct daemon_origin_stamp *o);
/* The stamp of the file open as fd (fstat); false when fstat fails. */
bool shadow_stamp_of_fd(int fd, struct daemon_origin_stamp *o);
bool shadow_stamp_eq(const struct daemon_origin_stamp *a, const struct daemon_origin_stamp *b);
/* The origin changed behind the mount's back: its version moves, the
 * ranges written since a remote sync become unknown. */
void shadow_changed_behind(struct daemon_shadow_file *s);
/* The file's last link went: pin dropped (STATE/pins.log at once), copies
 * dropped and origin fd closed by the control loop. */
void shadow_mark_gone(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* Whether a copy may still serve as far as the disk says. */
bool shadow_copy_intact(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
			const struct daemon_origin_stamp *o);
/* Rewrites STATE/pins and empties STATE/pins.log (control thread, unmount). */
void shadow_write_pins(struct fs_shadowing *sh);
/* The same with pins_lock held; 0, or -errno when STATE/pins could not be
 * replaced (logged; the old file and the log are left as they were). */
int shadow_write_pins_locked(struct fs_shadowing *sh);
/* The entry of the regular file at path (relative to BACKING), made if
 * missing, returned with the map lock HELD; NULL (not held) when none. */
struct daemon_shadow_file *shadow_entry_by_path_locked(struct fs_shadowing *sh, const char *path);
/* Whether slot k serves at the file's current version. */
bool shadow_serves_now(struct daemon_shadow_file *s, int k);
unsigned shadow_count_serving(struct daemon_shadow_file *s);
/* How many copies the file should have now (0: unwanted). */
unsigned shadow_replicas_of(struct fs_shadowing *sh, const struct daemon_shadow_file *s);
/* The user.shadow.state line. */
void shadow_describe(struct fs_shadowing *sh, struct daemon_shadow_file *s, int32_t writers, char *out, size_t len);
/* Opens for writing of the file through the mount, now. */
int32_t shadow_writers_of(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* Whether the file is open for writing in a way whose writes do not reach
 * the mount (kernel passthrough): its version cannot follow them, so its
 * copies must not serve nor be made. Every other writer's changes come to
 * the ops layer, which bumps the version before BACKING changes. */
bool shadow_writes_unseen(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* Any slot in use (serving, stale, syncing). */
bool shadow_any_copy(struct daemon_shadow_file *s);
/* A mover finished its job: the control thread applies it now and starts
 * its next candidate (fs_shadowing_wake also asks for a whole pass). */
void shadow_wake_for_job(struct fs_shadowing *sh);

/* fs/shadow_copies.c */
/* A remote copy whose host is down or suspect. */
bool shadow_copy_unreachable(struct fs_shadowing *sh, const struct daemon_shadow_copy *cp);
/* Drops slot k: waits for its readers, deletes the copy. */
void shadow_copy_drop(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k);
/* Hands the copy of the origin at its current version to the best host
 * among allowed (a host mask, daemon_control_allowed) to mover (idle; the
 * mover or the express lane): 0, or -errno when it cannot start. */
int shadow_copy_start(struct fs_shadowing *sh, struct fs_mover *mover,
		      struct daemon_shadow_file *s, uint64_t allowed);
/* Whether a copy job of either mover is on slot of s (slot -1: any). */
bool shadow_copying(struct fs_shadowing *sh, const struct daemon_shadow_file *s, int slot);
/* Cancels the jobs of both movers on slot of s (slot -1: any). */
void shadow_cancel_jobs(struct fs_shadowing *sh, const struct daemon_shadow_file *s, int slot);
/* Applies a copy job the mover finished (publication or cleanup). */
void shadow_copy_finish(struct fs_shadowing *sh, struct fs_move_job *j, uint64_t t);
/* Whether the file is as when its copy started from st0 at version v
 * (fd: an fd on the origin to fstat); any thread. */
bool shadow_unchanged_since(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t v,
			    const struct stat *st0, int fd);
/* After a copy attempt: the back-off, the log line. */
void shadow_copy_noted(struct fs_shadowing *sh, struct daemon_shadow_file *s, int r, uint64_t t);
/* The hosts' placement inputs, taken at most once per tick (when a file
 * first needs them). */
struct shadow_hosts_now {
	bool ready;
	size_t n;
	struct daemon_control_host hv[16];
};
/* Whether a host without a copy of s, allowed and able to take it now, is
 * cheaper than the host of one of its serving copies (daemon/control.h,
 * migration). */
bool shadow_cheaper_host_free(struct fs_shadowing *sh, struct daemon_shadow_file *s,
			      uint64_t allowed, struct shadow_hosts_now *now);
/* Drops the copy on a host not in allowed, else on the dearest host (more
 * copies than wanted). */
void shadow_copy_trim(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t allowed);

/* fs/shadow_origin.c */
/* Sets the budget (0: 1,024) and the origin cache's bound from it. */
void shadow_fds_init(struct fs_shadowing *sh, unsigned budget);
/* Makes s live with fd, an O_PATH fd of its origin that is ours (kept or
 * closed); its handle taken if it has none. False (fd closed, s not live)
 * when there is no handle and the budget is used. Map lock held. */
bool shadow_origin_adopt_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s, int fd);
/* Closes s's origin fd; s is not live any more. Map lock held. */
void shadow_origin_close_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* The O_PATH fd of live s's origin, cached or reopened by its handle;
 * -1 when s is not live or its origin cannot be reopened (deleted).
 * Valid until this thread parks s or asks for another entry's origin.
 * Control thread only. */
int shadow_origin_fd(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* The origin's stamp now, for live s: by its path when that still names
 * it (one fstatat, no fd), else through shadow_origin_fd. False when it
 * cannot be had (deleted). Control thread only. */
bool shadow_origin_stamp_now(struct fs_shadowing *sh, struct daemon_shadow_file *s,
			     struct daemon_origin_stamp *o);
/* Whether live s's file has no link left in BACKING: deleted behind the
 * mount's back (a delete through the mount marks its entry gone at once).
 * By its cached fd, else its path, else its handle (ESTALE). Control
 * thread only. */
bool shadow_origin_gone(struct fs_shadowing *sh, struct daemon_shadow_file *s);
/* Closes the control thread's spare origin fd (at unmount). */
void shadow_origin_fds_free(struct fs_shadowing *sh);
/* At publication: the fd of a local copy kept in its slot if the budget
 * has room, else closed (the first reader opens it). */
void shadow_copy_fd_publish(struct fs_shadowing *sh, struct daemon_shadow_copy *cp, int fd);
/* Whether local copies hold three quarters of their share of fds or more
 * (then each pass closes those not read since the last). */
bool shadow_copy_fds_pressed(const struct fs_shadowing *sh);
/* After daemon_shadow_copy_retire() said it closed an fd. */
void shadow_copy_fd_closed(struct fs_shadowing *sh);
/* Control thread, each pass, for local copy k of s that serves: its fd
 * closed if it was not read since the last pass and the copies' fds are
 * near their share of the budget. */
void shadow_copy_fd_idle(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k);

/* fs/shadow_control.c */
/* The control thread (pthread start routine; arg: the fs_shadowing). */
void *shadow_control_thread(void *arg);

#endif
