/* Per-file and per-directory tuning of shadowing: the attributes
 * user.shadow.threshold, .capacity, .window, .never, .copies and .hosts
 * (values and resolution in fs/tuning_value.h), their persistence in STATE/tuning, what
 * the control loop asks of them, and the read-only user.shadow.why.
 *
 * Keys, and why:
 *  - a FILE's settings are keyed by its stable id (user.shadow.id, made
 *    when the first setting is set): they follow the file through renames
 *    (through the mount or behind its back) and remounts, are shared by its
 *    hard links, and are forgotten when its last link is unlinked (or
 *    renamed over) through the mount (a new file never inherits them, even
 *    on a reused inode number);
 *  - a DIRECTORY's settings are keyed by its path relative to BACKING:
 *    they are about a place in the tree (everything below it), resolution
 *    walks the file's path up to the root (no parent pointers exist for
 *    hard-linked files), and a rename of the directory through the mount
 *    moves them (fs/shadow_tuning_ops.c); an rmdir through the mount drops
 *    them. A directory renamed behind the mount's back loses them, and one
 *    made again at the old path gets them back (documented limit).
 *  - The mount root's settings are mount-wide and override the -o options.
 *
 * never and pin: never wins. A pinned file under never=1 keeps its pin
 * (user.shadow.pin still reads 1 and stays in STATE/pins) but is not
 * shadowed and its copies are dropped at the next tick; removing never (or
 * setting never=0 nearer to the file) makes the pin act again. Rationale:
 * never is the policy knob (data that must stay on the origin, e.g. not be
 * copied to other hosts), and a pin is a performance hint.
 *
 * hosts: set, each name must be one of the mount's hosts now (else
 * -EINVAL, nothing changes). STATE/tuning keeps the text as set: after a
 * remount without a host, a list naming it stays (get returns it as set)
 * and that name matches nothing; a list whose names all match nothing
 * allows no host (the file gets no copy), as the list says. The names are
 * those of -o hosts= at mount time (fs_tuning_config.hosts).
 *
 * Locking: one mutex (the tables, the last forecast, STATE/tuning
 * writes). Settings are expected to be few: lookups are linear in them.
 * Functions return 0 / a size, or -errno. */
#ifndef SHADOWFS_FS_SHADOW_TUNING_H
#define SHADOWFS_FS_SHADOW_TUNING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/tuning_value.h"
#include "predictor/hot_files.h"

struct fs_ctx;
struct fs_hosts;
struct fs_inode;
struct fs_tuning;

struct fs_tuning_config {
	double threshold; /* -o shadow_threshold */
	double capacity;  /* -o shadow_capacity; < 0: each file's p99 */
	unsigned window;  /* -o shadow_window in forecast steps (buckets) */
	unsigned copies;  /* -o shadow_copies */
	const struct fs_hosts *hosts; /* the mount's hosts (names for user.shadow.hosts) */
	bool forecast;	  /* recording on: the control loop forecasts */
	int64_t bucket_s; /* forecast bucket */
};

int fs_tuning_new(struct fs_ctx *c, const struct fs_tuning_config *cfg, struct fs_tuning **ret);
/* Loads STATE/tuning (directories that are gone are dropped with a
 * warning); later changes are written there. */
int fs_tuning_load(struct fs_tuning *t, const char *state_dir);
void fs_tuning_free(struct fs_tuning *t); /* accepts NULL */

/* The attributes (fs/xattr_shadow.c). Regular files and directories only
 * (else -EPERM, as Linux answers for user.* there; get -ENODATA).
 * get: the text set on this node, -ENODATA when none. set: -EINVAL for a
 * bad value (nothing changes); flags XATTR_CREATE / XATTR_REPLACE as
 * setxattr(2). remove: -ENODATA when not set. */
ssize_t fs_tuning_get(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k, char *buf,
		      size_t size);
int fs_tuning_set(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k, const void *value,
		  size_t size, int flags);
int fs_tuning_remove(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k);
/* Appends "user.shadow.KEY\0" for each key set on the node (size 0: the
 * length needed). */
ssize_t fs_tuning_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size);
/* user.shadow.why of a regular file: lines "KEY VALUE..." (the format is
 * documented in tools/ctl_why.c, its reader). */
ssize_t fs_tuning_why(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size);

/* The control loop (fs/shadowing.c), control thread only. Completes a
 * forecast request: every file's effective threshold, capacity, window and
 * never (req->tune = fs_tuning_hot_tune), every forecast returned (for
 * user.shadow.why), and the files with settings of their own considered
 * even when not among the busiest (req->extra, valid until the next call). */
void fs_tuning_hot_req(struct fs_tuning *t, struct pred_hot_req *req);
void fs_tuning_hot_tune(void *arg, const uint8_t id[PRED_ID_LEN], const char *path,
			struct pred_hot_tuning *t);
/* Keeps the forecast just made (every file of it) for user.shadow.why. */
void fs_tuning_note_forecast(struct fs_tuning *t, const struct pred_hot_file *f, size_t n);
/* What the control loop asks every tick of the file behind an O_PATH fd on
 * it (its path and id are read only when some never=1 or hosts is set
 * anywhere): never=1, and the hosts its copies may be on (a mask of
 * daemon/control.h, bit i for host i of -o hosts=). */
struct fs_tuning_control {
	bool never;
	bool hosts_limited;	/* a user.shadow.hosts other than "*" applies */
	uint64_t allowed_hosts; /* hosts_limited: the hosts it names */
};
/* known_path (relative to BACKING; may be NULL) names the file when
 * opath_fd does not (disconnected: reopened from its handle after the
 * kernel dropped BACKING's dentry); before, such a file lost its
 * directory's never and hosts. */
void fs_tuning_control_fd(struct fs_tuning *t, int opath_fd, const char *known_path,
			  struct fs_tuning_control *ret);
/* Whether fs_tuning_control_fd looks at its file at all (a never or a hosts
 * attribute is set somewhere); when not, it may be given -1. */
bool fs_tuning_control_needs_fd(struct fs_tuning *t);

/* The ops layer (fs/shadow_tuning_ops.c): renames of directories move
 * their settings; rmdir and the unlink of a file's last link drop them. */
void fs_ops_tuning(struct fuse_lowlevel_ops *ops);
/* Paths relative to BACKING ("" the root). */
bool fs_tuning_has_dirs(struct fs_tuning *t);
bool fs_tuning_has_files(struct fs_tuning *t);
/* A rename through the mount that moves directories' settings (rn: from,
 * to, their inode numbers, as fs/pin_log.h) has its intent written in
 * STATE/tuning before it is made: a kill -9 between the rename in BACKING
 * and the rewrite after it lost the settings (the old path gone at the
 * next start), as the pin log's intents keep pins. NULL when it moves no
 * setting (or the intent could not be written: logged). */
struct fs_pin_rename;
struct tune_intent;
struct tune_intent *fs_tuning_rename_begin(struct fs_tuning *t, const struct fs_pin_rename *rn);
/* Forgets the intent (NULL: nothing); rewrite: now (the rename failed),
 * else with the settings' own move (fs_tuning_dir_moved) that follows. */
void fs_tuning_rename_end(struct fs_tuning *t, struct tune_intent *x, bool rewrite);
void fs_tuning_dir_moved(struct fs_tuning *t, const char *from, const char *to, bool exchange);
void fs_tuning_dir_removed(struct fs_tuning *t, const char *path);
/* Directory path moved where settings cannot follow (deeper than
 * PATH_MAX below BACKING): its settings and those below it go. False
 * when it had none. */
bool fs_tuning_dir_tree_dropped(struct fs_tuning *t, const char *path);
/* The last link of the file with id and handle h (NULL: unknown) went:
 * its settings go, unless they are another file's (the record's handle is
 * not h: the removed file was a copy bearing the id). */
struct file_handle;
void fs_tuning_file_removed(struct fs_tuning *t, const uint8_t id[PRED_ID_LEN],
			    const struct file_handle *h);
/* The regular file open as fd (O_PATH) was renamed through the mount to
 * rel: its record (if any) takes that path, where a restore in place is
 * looked for. */
void fs_tuning_file_moved(struct fs_tuning *t, int fd, const char *rel);
/* Control thread, once per pass: looks at a few files' records (a
 * bounded, slow sweep); one whose file is gone (its handle ESTALE, and no
 * file with its id at its last path) is dropped, as at start. */
void fs_tuning_sweep(struct fs_tuning *t);

#endif
