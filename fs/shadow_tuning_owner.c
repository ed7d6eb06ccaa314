/* Whose settings a file's record holds: a record of STATE/tuning keeps
 * the file's id (user.shadow.id) and its handle (name_to_handle_at), since
 * the id alone may be copied onto other files (cp -a, rsync -X, set by
 * hand in BACKING). The matching of a file to its record (a copy has none;
 * a file restored at the record's last path adopts it), the check of a
 * record at start and by the control loop's slow sweep (a file deleted
 * behind the mount's back: its settings dropped). See shadow_tuning.h
 * and docs/ARCHITECTURE.md (Tuning, Keys). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/file_id.h"
#include "fs/fs.h"
#include "fs/inode_table.h"
#include "fs/rel_path.h"
#include "fs/shadow_tuning_impl.h"

/* The file open as fd (f: its handle to free on success); as
 * fs_file_id_get. */
int fs_tuning_file_of(struct fs_ctx *c, int fd, bool create, struct tune_file *f)
{
	char proc[32];
	struct stat st;
	fs_proc_path(proc, fd);
	int r = fs_file_id_get(proc, create, f->id);
	if (r < 0)
		return r;
	f->dev = fstat(fd, &st) == 0 ? st.st_dev : 0;
	f->ino = f->dev ? st.st_ino : 0;
	f->handle = fs_inode_table_handle_of(c->inodes, fd);
	return 0;
}

/* x's handle becomes a copy of h; false (unchanged) when it was h already
 * or without memory. */
bool fs_tuning_take_handle(struct tune_entry *x, const struct file_handle *h)
{
	if (x->handle && fs_inode_table_same_handle(x->handle, h))
		return false;
	size_t n = sizeof(*h) + h->handle_bytes;
	struct file_handle *d = malloc(n);
	if (!d)
		return false;
	memcpy(d, h, n);
	free(x->handle);
	x->handle = d;
	return true;
}

bool fs_tuning_take_path(struct fs_tuning *t, struct tune_entry *x, const char *rel, dev_t dev,
			 ino_t ino)
{
	struct stat st;
	/* checked: the name read from /proc may be a moment old (renamed
	 * since, or "NAME (deleted)"), and a restore in place looks there */
	if (!rel[0] || !strcmp(rel, x->path) ||
	    fstatat(fs_inode_table_root_fd(t->ctx->inodes), rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    st.st_dev != dev || st.st_ino != ino)
		return false;
	char *p = strdup(rel);
	if (!p)
		return false;
	free(x->path);
	x->path = p;
	return true;
}

/* The regular file at x's last path open O_PATH when it bears x's id;
 * else -1. */
static int at_last_path(struct fs_tuning *t, const struct tune_entry *x)
{
	char proc[32];
	uint8_t id[FS_FILE_ID_LEN];
	struct stat st;
	if (!x->path[0])
		return -1;
	int fd = openat(fs_inode_table_root_fd(t->ctx->inodes), x->path,
			O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	fs_proc_path(proc, fd);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fs_file_id_get(proc, false, id) < 0 ||
	    memcmp(id, x->id, FS_FILE_ID_LEN)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* What became of x's file, by its handle: FILE_LIVE (it opens, with a
 * link: *fd_ret gets it when not NULL, else it is closed), FILE_GONE
 * (ESTALE: deleted; or no link left), FILE_UNKNOWN (no handle, or another
 * error: no capability, no memory). */
enum file_fate { FILE_LIVE, FILE_GONE, FILE_UNKNOWN };

static enum file_fate entry_fate(struct fs_tuning *t, const struct tune_entry *x, int *fd_ret)
{
	struct stat st;
	if (!x->handle)
		return FILE_UNKNOWN;
	int fd = open_by_handle_at(fs_inode_table_root_fd(t->ctx->inodes), x->handle,
				   O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE ? FILE_GONE : FILE_UNKNOWN;
	enum file_fate r = fstat(fd, &st) < 0 ? FILE_UNKNOWN : st.st_nlink ? FILE_LIVE : FILE_GONE;
	if (r == FILE_LIVE && fd_ret)
		*fd_ret = fd;
	else
		close(fd);
	return r;
}

struct tune_entry *fs_tuning_file_entry_locked(struct fs_tuning *t, const struct tune_file *f,
					       bool *copy)
{
	struct tune_entry *x = f ? fs_tuning_find_file(t, f->id) : NULL;
	if (copy)
		*copy = false;
	if (!x || !f->handle) /* no handles: by the id alone */
		return x;
	if (!x->handle) { /* an older STATE/tuning: the first file seen with the id */
		if (fs_tuning_take_handle(x, f->handle))
			fs_tuning_save(t);
		return x;
	}
	if (fs_inode_table_same_handle(x->handle, f->handle))
		return x;
	/* Another file bearing the id: a copy while the record's file lives;
	 * the record's file restored in place (or saved by rename) if that
	 * is gone and this file is at its last path. */
	if (entry_fate(t, x, NULL) == FILE_GONE) {
		struct stat st;
		int fd = at_last_path(t, x);
		bool here = fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == f->dev &&
			    st.st_ino == f->ino;
		if (fd >= 0)
			close(fd);
		if (here && fs_tuning_take_handle(x, f->handle)) {
			sfs_info("tuning %s: the file at its path bears its id: it takes its settings "
				 "(restored in place, or saved by rename)",
				 x->path);
			fs_tuning_save(t);
			return x;
		}
	}
	if (copy)
		*copy = true;
	return NULL;
}

/* Looks at x's file (start, sweep): TUNE_GONE when its handle is stale (or
 * it has no link left) and no file with its id is at its last path;
 * TUNE_CHANGED when x took a handle (an older STATE/tuning's record, or the
 * file restored at its last path) or its file's path; else TUNE_KEPT (also
 * whenever it cannot tell: no handles). Lock held. */

static enum tune_check entry_check_locked(struct fs_tuning *t, struct tune_entry *x)
{
	char rel[PATH_MAX];
	int fd = -1;
	enum file_fate fate = entry_fate(t, x, &fd);
	if (fate == FILE_LIVE) {
		/* renamed behind the mount's back: shown where it is, when the
		 * kernel can name it (not from a disconnected dentry) */
		struct stat st;
		bool moved = fs_rel_path(t->ctx, fd, rel) == 0 && strcmp(rel, x->path) &&
			     fstat(fd, &st) == 0 && fs_tuning_take_path(t, x, rel, st.st_dev, st.st_ino);
		close(fd);
		return moved ? TUNE_CHANGED : TUNE_KEPT;
	}
	if (fate == FILE_UNKNOWN && x->handle)
		return TUNE_KEPT;
	/* gone, or never given a handle: the file at its last path with its id */
	fd = at_last_path(t, x);
	if (fd < 0)
		return fate == FILE_GONE ? TUNE_GONE : TUNE_KEPT;
	struct file_handle *h = fs_inode_table_handle_of(t->ctx->inodes, fd);
	close(fd);
	bool took = h && fs_tuning_take_handle(x, h);
	free(h);
	if (took && fate == FILE_GONE)
		sfs_info("tuning %s: the file at its path bears its id: it takes its settings "
			 "(restored in place, or saved by rename)",
			 x->path);
	return took ? TUNE_CHANGED : TUNE_KEPT;
}

/* Checks x (entry_check_locked) and drops it when its file is gone; what
 * the check said. Lock held; the caller rewrites STATE/tuning. */
enum tune_check fs_tuning_check_locked(struct fs_tuning *t, struct tune_entry *x)
{
	enum tune_check r = entry_check_locked(t, x);
	if (r == TUNE_GONE) {
		sfs_info("tuning: settings of %s dropped: the file was deleted behind the mount's "
			 "back",
			 x->path);
		fs_tuning_drop_entry(t, x);
	}
	return r;
}

void fs_tuning_file_moved(struct fs_tuning *t, int fd, const char *rel)
{
	struct tune_file f;
	if (fs_tuning_file_of(t->ctx, fd, false, &f) < 0)
		return; /* no id: no settings */
	pthread_mutex_lock(&t->lock);
	struct tune_entry *x = fs_tuning_file_entry_locked(t, &f, NULL);
	if (x && fs_tuning_take_path(t, x, rel, f.dev, f.ino))
		fs_tuning_save(t);
	pthread_mutex_unlock(&t->lock);
	free(f.handle);
}

/* Records looked at per control pass: 2,000 files' take 500 passes (8 min
 * at the default shadow_tick=1), each a few syscalls. */
#define SWEEP_PER_PASS 4

void fs_tuning_sweep(struct fs_tuning *t)
{
	if (!t || !LOAD(&t->nfiles) || !t->path[0] || t->unreadable)
		return;
	bool changed = false;
	pthread_mutex_lock(&t->lock);
	for (int looked = 0; looked < SWEEP_PER_PASS && t->n; looked++) {
		if (t->sweep_at >= t->n)
			t->sweep_at = 0;
		struct tune_entry *x = &t->e[t->sweep_at];
		enum tune_check c = x->is_dir ? TUNE_KEPT : fs_tuning_check_locked(t, x);
		changed |= c != TUNE_KEPT;
		t->sweep_at += c != TUNE_GONE; /* dropped: the last record took its place */
	}
	if (changed) {
		fs_tuning_recount(t);
		fs_tuning_save(t);
	}
	pthread_mutex_unlock(&t->lock);
}
