/* Shadowing of files on the mount's hosts (local stores and remote shadowd,
 * the latter through fs/remote_copies.c and fs/remote_reads.c): the FUSE glue of the
 * shadow map (daemon/shadow_map.h) and of the control loop's decisions
 * (daemon/control.h).
 *
 * - An ops-table layer (fs_ops_shadowing, sshfs-style like the recorder)
 *   that keeps the validity rule: every modifying operation through the
 *   mount bumps the file's version BEFORE it reaches BACKING (write_buf,
 *   setattr of the size, fallocate, copy_file_range into the file, open or
 *   create with O_TRUNC, open for writing, rename over it, unlink), opens
 *   for writing are counted on the inode (copies never serve while one
 *   exists: the writeback cache sends writes late), and a file changed in
 *   BACKING behind the mount's back has its copies marked STALE at open,
 *   before the open is answered. READ goes to the router (fs/router.c).
 * - A control thread: every tick, for each file in the map, the decision
 *   (pin / shadow_all -> copy to the cheapest host with room, verified by
 *   SHA-256; unwanted for shadow_idle -> demote), and the status file
 *   STATE/shadows.status for `shadowctl shadows`. The copies themselves
 *   (and the periodic re-hash) run on the mover thread (fs/mover.h), so
 *   the control thread never waits for one.
 * - Pins (user.shadow.pin), persisted in STATE/pins (paths relative to
 *   BACKING, one a line, replaced atomically), loaded at start.
 *
 * Installed only when hosts= lists a host: otherwise the ops table is the
 * plain one and nothing here runs. */
#ifndef SHADOWFS_FS_SHADOWING_H
#define SHADOWFS_FS_SHADOWING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "daemon/rollout.h"

struct daemon_shadow_file;
struct fs_ctx;
struct fs_hosts;
struct fs_inode;
struct fs_shadowing;

struct fs_shadowing_config {
	double tick_s;	 /* control loop period */
	double idle_s;	 /* demotion hysteresis */
	double quiet_s;	 /* a file's version unchanged this long before a (re)copy */
	bool shadow_all; /* test option: every regular file opened is wanted */
	double verify_s; /* re-hash each serving copy this often (0: never) */
	unsigned remote_timeout_ms; /* deadline of a read of a remote copy */
	double copy_rate_mbps;	    /* MB/s the mover may read from origins (0: no limit) */
	/* Forecast (needs the recorder): once a bucket, the busiest files of
	 * the last hours whose P(reads per bucket > capacity within the
	 * window) >= threshold are wanted. */
	bool forecast;
	const char *state_dir; /* the recorder's store; not owned */
	int64_t bucket_s;      /* the recorder's bucket */
	double window_s;       /* forecast window (1..8 buckets) */
	double capacity;       /* reads per bucket; < 0: each file's p99 */
	double threshold;
	unsigned max_copies; /* replica count at most (1..DAEMON_SHADOW_MAX_COPIES) */
	bool react;	     /* last bucket over capacity: hot too */
	/* Rollout of new copies and rollback on regression (fs/rollout.h). */
	struct daemon_rollout_params rollout;
	/* fds the layer may hold (common/fd_limit.h): the origins of wanted
	 * files it keeps open (fs/shadow_origin.c) and the local copies that
	 * serve; 0: 1,024. */
	unsigned fd_budget;
};

/* Whether hosts lists a host (shadowing has somewhere to copy to). */
bool fs_shadowing_wanted(struct fs_hosts *hosts);
/* Creates the map (no thread yet); ctx->shadowing is set by the caller. */
int fs_shadowing_new(struct fs_ctx *c, struct fs_hosts *hosts,
		     const struct fs_shadowing_config *cfg, struct fs_shadowing **ret);
/* Loads the pins of STATE/pins and starts the control thread (after
 * daemonizing). */
int fs_shadowing_start(struct fs_shadowing *sh, const char *state_dir);
/* Stops the thread, closes the copies' fds. Accepts NULL. No request may
 * run any more. */
void fs_shadowing_free(struct fs_shadowing *sh);

/* Runs the control loop's next tick now (a setting changed), looking at
 * every entry, quiet ones included. */
void fs_shadowing_wake(struct fs_shadowing *sh);

/* Wraps ops (the passthrough table, before the recorder wraps it). */
void fs_ops_shadowing(struct fuse_lowlevel_ops *ops);

/* user.shadow.* (fs/xattr_shadow.c): pin "1"/"0" (anything else -EINVAL;
 * flags XATTR_CREATE: -EEXIST if pinned, XATTR_REPLACE: -ENODATA if not),
 * the pin's value, and the read-only state line. What is not a regular
 * file cannot be pinned (-EINVAL) and has neither attribute (-ENODATA). */
int fs_shadowing_set_pin(struct fs_shadowing *sh, struct fs_inode *i, const void *value,
			 size_t size, int flags);
ssize_t fs_shadowing_get_pin(struct fs_shadowing *sh, struct fs_inode *i, char *buf, size_t size);
ssize_t fs_shadowing_get_state(struct fs_shadowing *sh, struct fs_inode *i, char *buf, size_t size);

/* The pooled reads of remote copies (fs/remote_reads.h), NULL without a
 * remote host. */
struct fs_remote_reads *fs_shadowing_remote_reads(struct fs_shadowing *sh);
/* The mount's hosts (fs/hosts.h), to name one in a log line. */
struct fs_hosts *fs_shadowing_hosts(struct fs_shadowing *sh);
/* The fd of local copy k of s, held by the caller (picked for a read):
 * the slot's, or opened from its store (fs/shadow_origin.c); -1 if it
 * cannot be opened. *close_after: the caller closes it after its read. */
int fs_shadowing_copy_fd(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
			 bool *close_after);
/* After a read of local copy k through fd (held by the caller): whether
 * its file is still as published (size, mtime, ctime). If not, the copy
 * was changed on disk (a flipped byte, a truncation), is marked STALE
 * (made again), and what was read must not be returned. */
bool fs_shadowing_copy_read_ok(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
			       int fd);
/* After a read of copy k (local or remote): whether the origin, seen
 * through the reader's own open file fd, still looks as when the copy was
 * made. If not, it changed in BACKING behind the mount's back: the copy
 * stops serving, the file's version moves, and what was read must not be
 * returned. */
bool fs_shadowing_origin_read_ok(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
				 int fd);

/* The router (fs/router.c): answers a READ of a file whose inode has a map
 * entry, from a copy or through inner_read (the origin). */
typedef void (*fs_read_fn)(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi);
void fs_router_read(fuse_req_t req, struct fs_inode *i, void *entry, fuse_ino_t ino, size_t size,
		    off_t off, struct fuse_file_info *fi, fs_read_fn inner_read);

#endif
