/* Internals shared by fs/shadow_tuning.c (tables, STATE/tuning, the
 * attributes) and fs/shadow_tuning_why.c (the last forecast and
 * user.shadow.why); nothing else includes this. */
#ifndef SHADOWFS_FS_SHADOW_TUNING_IMPL_H
#define SHADOWFS_FS_SHADOW_TUNING_IMPL_H

#include <fcntl.h> /* struct file_handle */
#include <limits.h>
#include <pthread.h>
#include <sys/types.h>

#include "fs/file_id.h"
#include "fs/shadow_tuning.h"

struct tune_entry {
	bool is_dir;
	uint8_t id[FS_FILE_ID_LEN]; /* files */
	char *path;		    /* dirs: the key ("" the root); files: last known (shown) */
	/* files: the handle of the file the settings belong to (its id may
	 * be copied onto others: cp -a, rsync -X); NULL: not known yet (an
	 * older STATE/tuning) or BACKING gives no handles */
	struct file_handle *handle;
	struct fs_tune_node node;
};

/* A regular file as the attribute calls see it: its id, handle (NULL:
 * none) and inode. */
struct tune_file {
	uint8_t id[FS_FILE_ID_LEN];
	struct file_handle *handle; /* malloc'ed */
	dev_t dev;
	ino_t ino;
};

/* The last forecast of one file, for user.shadow.why. */
struct tune_forecast {
	uint8_t id[PRED_ID_LEN];
	double p_exceed, capacity, threshold;
	unsigned window, horizon;
	bool hot;
	bool reactive;		      /* hot by the last bucket alone */
	double last_demand, demand_hi; /* the last bucket; the window's highest 95% bound */
	int64_t start;
	double point[PRED_MAX_H], lo80[PRED_MAX_H], hi80[PRED_MAX_H], lo95[PRED_MAX_H],
	    hi95[PRED_MAX_H], p_step[PRED_MAX_H];
};

/* A rename's intent line in STATE/tuning (fs_pin_rename_format), kept
 * while the rename runs (fs_tuning_rename_begin). */
struct tune_intent {
	struct tune_intent *next;
	char rec[];
};

struct fs_tuning {
	struct fs_ctx *ctx; /* not owned */
	struct fs_tuning_config cfg;
	double defaults[FS_TUNE_NKEYS];
	pthread_mutex_t lock; /* everything below */
	struct tune_entry *e;
	size_t n, cap;
	size_t ndirs, nfiles; /* also read unlocked (atomic): fast skips */
	size_t nnever;	      /* entries with never=1 (atomic read unlocked) */
	size_t nhosts_set;    /* entries with hosts set (atomic read unlocked) */
	char **host_names;    /* the mount's hosts, as labelled (immutable) */
	size_t nhost_names;
	char path[PATH_MAX];  /* STATE/tuning; "" before fs_tuning_load */
	bool unreadable;      /* STATE/tuning could not be read: never replaced */
	/* Renames under way through the mount that move directories' settings:
	 * their intent lines, written first in STATE/tuning while they run */
	struct tune_intent *intents;
	struct tune_forecast *fc;
	size_t nfc;
	int64_t fc_time; /* when the last forecast was noted (0: none yet) */
	size_t sweep_at; /* the next record fs_tuning_sweep looks at */
	/* control thread only: ids of the files with settings (req->extra) */
	uint8_t (*extra)[PRED_ID_LEN];
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)


/* The effective settings of the file whose record is f (NULL: none) at
 * path (relative to BACKING); dir_of[k] (may be NULL) gets the directory a
 * value comes from (NULL when not a directory's). Lock held. */
void fs_tuning_resolve_locked(struct fs_tuning *t, const struct tune_entry *f, const char *path,
			      struct fs_tune_effective *eff, const char *dir_of[FS_TUNE_NKEYS]);
/* The node of inode i: for a directory its path (rel, PATH_MAX), for a
 * regular file also its id (made when create), handle and inode (f; free
 * f->handle). -ENODATA: a file without an id (nothing set); -EPERM:
 * neither a file nor a directory; -ENOTSUP: no user xattrs in BACKING for
 * the id. */
int fs_tuning_node_key(struct fs_ctx *c, struct fs_inode *i, bool create, char *rel,
		       struct tune_file *f);
/* The record of file f (NULL: none, f may be NULL). A record is the file's
 * when the id and the handle match (a record without a handle takes f's:
 * an older STATE/tuning); a file with the id of a record whose handle
 * opens another live file is a copy (*copy, may be NULL: true) and has
 * none; a record whose file is gone (ESTALE) is adopted by the file with
 * its id at its last path (restored in place, saved by rename). Lock held;
 * STATE/tuning rewritten when the record's handle changed. */
struct tune_entry *fs_tuning_file_entry_locked(struct fs_tuning *t, const struct tune_file *f,
					       bool *copy);

/* The file open as fd (f: its handle, to free on success); as
 * fs_file_id_get (fs/shadow_tuning_owner.c). */
int fs_tuning_file_of(struct fs_ctx *c, int fd, bool create, struct tune_file *f);
/* x's handle becomes a copy of h; false (unchanged) when it was h already
 * or without memory. */
bool fs_tuning_take_handle(struct tune_entry *x, const struct file_handle *h);
/* Looks at x's file (start, sweep): TUNE_GONE (x dropped, logged) when its
 * handle is stale (or it has no link left) and no file with its id is at
 * its last path; TUNE_CHANGED when x took a handle (an older
 * STATE/tuning's record, or the file restored at its last path) or its
 * file's new path; else TUNE_KEPT (also whenever it cannot tell: no
 * handles). Lock held; the caller rewrites STATE/tuning. */
/* x (a file's record) takes the path rel (relative to BACKING) of the
 * file (dev, ino) when that name is the file's now; whether it changed. */
bool fs_tuning_take_path(struct fs_tuning *t, struct tune_entry *x, const char *rel, dev_t dev,
			 ino_t ino);
enum tune_check { TUNE_KEPT, TUNE_CHANGED, TUNE_GONE };
enum tune_check fs_tuning_check_locked(struct fs_tuning *t, struct tune_entry *x);

/* The tables and STATE/tuning (fs/shadow_tuning.c); lock held. */
struct tune_entry *fs_tuning_find_file(struct fs_tuning *t, const uint8_t id[FS_FILE_ID_LEN]);
void fs_tuning_drop_entry(struct fs_tuning *t, struct tune_entry *x);
void fs_tuning_recount(struct fs_tuning *t); /* the counts read unlocked */
int fs_tuning_save(struct fs_tuning *t);     /* rewrites STATE/tuning; -errno (logged) */

#endif
