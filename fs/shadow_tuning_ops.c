/* The tuning layer of the ops table (sshfs-style, like the recorder and the
 * shadowing layer): keeps the keys of fs/shadow_tuning.c right when the
 * tree changes through the mount.
 *   rename of a directory -> its settings and those below it move with it
 *                            (RENAME_EXCHANGE: both sides swap); the
 *                            settings of an empty directory it replaced go;
 *                            those of a directory moved deeper than
 *                            PATH_MAX below BACKING go;
 *   rmdir                 -> the directory's settings go;
 *   unlink of a file's last link, or a rename over it -> the file's
 *                            settings go;
 *   rename of a file with settings -> its record's last path follows
 *                            (where a restore in place is looked for:
 *                            an editor's save by rename behind the
 *                            mount's back under the new name).
 * The settings change when the inner op succeeded and before it replies
 * (fs_before_reply: once the caller's rmdir returned, a directory made
 * again at the same path must not find the old settings, nor STATE/tuning
 * still hold them), checked on BACKING (the object now at the new name is
 * the one renamed; the unlinked inode has no links left), so a failed op
 * changes nothing. Each costs nothing while no
 * setting of that kind exists (one atomic read). A rename that moves (or
 * drops) directories' settings also writes its intent in STATE/tuning
 * before it is made, so a kill -9 in between loses nothing
 * (fs_tuning_rename_begin). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/file_id.h"
#include "fs/fs.h"
#include "fs/inode_table.h"
#include "fs/pin_log.h"
#include "fs/rel_path.h"
#include "fs/shadow_tuning.h"

/* The wrapped table: written once before the session starts. */
static struct fuse_lowlevel_ops inner;

/* A regular file about to lose a name (unlink, rename over it) whose id
 * has settings: an O_PATH fd on it, id and *h (its handle, NULL: none; to
 * free) filled; else -1. */
static int victim_open(struct fs_ctx *c, fuse_ino_t dir, const char *name,
		       uint8_t id[FS_FILE_ID_LEN], struct file_handle **h)
{
	char proc[32];
	struct stat st;
	if (!fs_tuning_has_files(c->tuning))
		return -1;
	struct fs_inode *d = fs_inode_of(c, dir);
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return -1;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fs_inode_fd_put(c->inodes, d);
	if (fd < 0)
		return -1;
	fs_proc_path(proc, fd);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || fs_file_id_get(proc, false, id) < 0) {
		close(fd);
		return -1;
	}
	/* taken before the op: whose settings they are (a copy bearing
	 * another file's id must not drop them) */
	*h = fs_inode_table_handle_of(c->inodes, fd);
	return fd;
}

/* After the op: the victim's settings go with its last link. */
static void victim_done(struct fs_ctx *c, int fd, const uint8_t id[FS_FILE_ID_LEN],
			const struct file_handle *h)
{
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_nlink == 0)
		fs_tuning_file_removed(c->tuning, id, h);
	close(fd);
}

/* A regular file renamed through the mount to NAME in directory dir: its
 * record (if it has settings) takes the new path. */
static void file_moved(struct fs_ctx *c, fuse_ino_t dir, const char *name)
{
	char rel[PATH_MAX];
	struct stat st;
	if (fs_rel_child(c, dir, name, rel, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	struct fs_inode *d = fs_inode_of(c, dir);
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fs_inode_fd_put(c->inodes, d);
	if (fd < 0)
		return;
	fs_tuning_file_moved(c->tuning, fd, rel);
	close(fd);
}

/* What the layer does when the op succeeded, before its reply
 * (fs_before_reply): a file's settings go with its last link, a removed
 * directory's go, a renamed directory's move. */
struct tu_done {
	struct fs_ctx *c;
	int victim; /* victim_open's fd, -1 */
	uint8_t id[FS_FILE_ID_LEN];
	struct file_handle *handle; /* the victim's (NULL: none) */
	bool ran;
	/* rename of a directory, or RENAME_EXCHANGE (the other side may be
	 * one): from -> (newparent, newname), the stat before; from_deep:
	 * from is deeper than PATH_MAX below BACKING (from then unknown) */
	bool dir_moved, from_deep;
	fuse_ino_t newparent;
	const char *newname;
	unsigned int flags;
	struct stat before;
	char from[PATH_MAX];
	/* rmdir of a directory with settings below or at it */
	bool dir_removed;
	/* rename while files have settings: the renamed file's (and, in an
	 * exchange, the other's at from) record takes its new path */
	bool files_moved;
	fuse_ino_t parent;
	const char *name;
	/* the rename's intent in STATE/tuning (fs_tuning_rename_begin) */
	struct tune_intent *intent;
};

/* The intent of d's rename, written before it is made when it moves (or
 * drops) directories' settings. */
static void intent_begin(struct tu_done *d, fuse_ino_t newparent, const char *newname)
{
	char to[PATH_MAX];
	struct stat st = {0};
	bool exchange = d->flags & RENAME_EXCHANGE;
	int r = exchange ? fs_rel_child(d->c, newparent, newname, to, &st)
			 : fs_rel_name(d->c, newparent, newname, to);
	if (r < 0)
		return; /* deeper than PATH_MAX: no setting is kept there */
	struct fs_pin_rename rn = {.from = d->from,
				   .to = to,
				   .from_ino = d->before.st_ino,
				   .to_ino = exchange ? st.st_ino : 0,
				   .exchange = exchange};
	d->intent = fs_tuning_rename_begin(d->c->tuning, &rn);
}

static void tu_done_run(void *arg)
{
	struct tu_done *d = arg;
	char to[PATH_MAX];
	struct stat b;
	d->ran = true;
	victim_done(d->c, d->victim, d->id, d->handle);
	d->victim = -1;
	if (d->dir_removed)
		fs_tuning_dir_removed(d->c->tuning, d->from);
	if (d->files_moved) {
		file_moved(d->c, d->newparent, d->newname);
		if (d->flags & RENAME_EXCHANGE)
			file_moved(d->c, d->parent, d->name);
	}
	if (!d->dir_moved)
		return;
	int r = fs_rel_child(d->c, d->newparent, d->newname, to, &b);
	bool exchange = d->flags & RENAME_EXCHANGE;
	if ((r != 0 && r != -ENAMETOOLONG) || (r != 0 && d->from_deep) ||
	    b.st_dev != d->before.st_dev || b.st_ino != d->before.st_ino) {
		fs_tuning_rename_end(d->c->tuning, d->intent, true);
		d->intent = NULL;
		return;
	}
	/* the move below rewrites STATE/tuning, without the intent */
	fs_tuning_rename_end(d->c->tuning, d->intent, false);
	d->intent = NULL;
	/* A side that went deeper than PATH_MAX below BACKING, where no
	 * setting can be kept (settings are kept by path), loses its
	 * settings and those below it, rather than leave them on a path
	 * another directory may take: the renamed directory (to deep), or
	 * the one it was exchanged with (from deep; a plain rename from
	 * there replaced an empty directory, whose settings go as always). */
	const char *gone = r != 0 ? d->from : d->from_deep ? to : NULL;
	if (!gone)
		fs_tuning_dir_moved(d->c->tuning, d->from, to, exchange);
	else if (fs_tuning_dir_tree_dropped(d->c->tuning, gone) && (r != 0 || exchange))
		sfs_warn("directory %s moved deeper than PATH_MAX below BACKING: its "
			 "user.shadow.* settings and those below it are dropped",
			 gone);
}

/* d's work runs before the reply of the inner op called between these
 * two; a failed op leaves everything as it was (the victim's fd closed). */
static void tu_arm(struct tu_done *d)
{
	fs_before_reply = (struct fs_before_reply){.fn = tu_done_run, .arg = d};
}

static void tu_disarm(struct tu_done *d)
{
	fs_before_reply = (struct fs_before_reply){0};
	if (!d->ran && d->victim >= 0)
		close(d->victim);
	free(d->handle);
	fs_tuning_rename_end(d->c->tuning, d->intent, true); /* the op failed */
}

static void tu_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs_ctx *c = fs_ctx_of(req); /* req is gone after the reply */
	struct tu_done d = {.c = c,
			    .newparent = newparent,
			    .newname = newname,
			    .flags = flags,
			    .files_moved = fs_tuning_has_files(c->tuning),
			    .parent = parent,
			    .name = name};
	if (fs_tuning_has_dirs(c->tuning)) {
		int r = fs_rel_child(c, parent, name, d.from, &d.before);
		d.from_deep = r == -ENAMETOOLONG;
		/* either side of an exchange may be a directory (a symlink
		 * exchanged with one left its settings on the symlink's path) */
		d.dir_moved = (r == 0 || d.from_deep) &&
			      (S_ISDIR(d.before.st_mode) || (flags & RENAME_EXCHANGE));
		if (d.dir_moved && !d.from_deep)
			intent_begin(&d, newparent, newname);
	}
	d.victim = flags & RENAME_EXCHANGE ? -1 : victim_open(c, newparent, newname, d.id, &d.handle);
	tu_arm(&d);
	inner.rename(req, parent, name, newparent, newname, flags);
	tu_disarm(&d);
}

static void tu_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct tu_done d = {.c = c, .victim = -1};
	struct stat st;
	d.dir_removed = fs_tuning_has_dirs(c->tuning) && fs_rel_child(c, parent, name, d.from, &st) == 0;
	tu_arm(&d);
	inner.rmdir(req, parent, name);
	tu_disarm(&d);
}

static void tu_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct tu_done d = {.c = c};
	d.victim = victim_open(c, parent, name, d.id, &d.handle);
	tu_arm(&d);
	inner.unlink(req, parent, name);
	tu_disarm(&d);
}

void fs_ops_tuning(struct fuse_lowlevel_ops *ops)
{
	inner = *ops;
	ops->rename = tu_rename;
	ops->rmdir = tu_rmdir;
	ops->unlink = tu_unlink;
}
