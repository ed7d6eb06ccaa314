/* Internals shared by fs/shadow_tuning.c (tables, STATE/tuning, the
 * attributes) and fs/shadow_tuning_why.c (the last forecast and
 * user.shadow.why); nothing else includes this. */
#ifndef SHADOWFS_FS_SHADOW_TUNING_IMPL_H
#define SHADOWFS_FS_SHADOW_TUNING_IMPL_H

#include <limits.h>
#include <pthread.h>

#include "fs/file_id.h"
#include "fs/shadow_tuning.h"

struct tune_entry {
	bool is_dir;
	uint8_t id[FS_FILE_ID_LEN]; /* files */
	char *path;		    /* dirs: the key ("" the root); files: last known (shown) */
	struct fs_tune_node node;
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
	/* control thread only: ids of the files with settings (req->extra) */
	uint8_t (*extra)[PRED_ID_LEN];
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)


/* The effective settings of the file with id (NULL: none) at path
 * (relative to BACKING); dir_of[k] (may be NULL) gets the directory a value
 * comes from (NULL when not a directory's). Lock held. */
void fs_tuning_resolve_locked(struct fs_tuning *t, const uint8_t *id, const char *path,
			      struct fs_tune_effective *eff, const char *dir_of[FS_TUNE_NKEYS]);
/* The node of inode i: for a directory its path (rel, PATH_MAX), for a
 * regular file also its id (made when create). -ENODATA: a file without an
 * id (nothing set); -EPERM: neither a file nor a directory; -ENOTSUP: no
 * user xattrs in BACKING for the id. */
int fs_tuning_node_key(struct fs_ctx *c, struct fs_inode *i, bool create, char *rel,
		       uint8_t id[FS_FILE_ID_LEN]);

#endif
