/* The tuning layer of the ops table (sshfs-style, like the recorder and the
 * shadowing layer): keeps the keys of fs/shadow_tuning.c right when the
 * tree changes through the mount.
 *   rename of a directory -> its settings and those below it move with it
 *                            (RENAME_EXCHANGE: both sides swap); the
 *                            settings of an empty directory it replaced go;
 *   rmdir                 -> the directory's settings go;
 *   unlink of a file's last link, or a rename over it -> the file's
 *                            settings go.
 * Whether the inner op succeeded is read from BACKING after it replied (the
 * object now at the new name is the one renamed; the unlinked inode has no
 * links left), so a failed op changes nothing. Each costs nothing while no
 * setting of that kind exists (one atomic read). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/file_id.h"
#include "fs/fs.h"
#include "fs/shadow_tuning.h"

/* The wrapped table: written once before the session starts. */
static struct fuse_lowlevel_ops inner;

/* "DIR/NAME" relative to BACKING, and the object's stat; -errno. */
static int child(struct fs_ctx *c, fuse_ino_t dir, const char *name, char *rel, struct stat *st)
{
	struct fs_inode *d = fs_inode_of(c, dir);
	char dpath[PATH_MAX];
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return dfd;
	int r = fs_tuning_rel_path(c, dfd, dpath);
	if (r == 0 && fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	fs_inode_fd_put(c->inodes, d);
	if (r == 0 && snprintf(rel, PATH_MAX, "%s%s%s", dpath, dpath[0] ? "/" : "", name) >= PATH_MAX)
		r = -ENAMETOOLONG;
	return r;
}

/* A regular file about to lose a name (unlink, rename over it) whose id
 * has settings: an O_PATH fd on it, id filled; else -1. */
static int victim_open(struct fs_ctx *c, fuse_ino_t dir, const char *name,
		       uint8_t id[FS_FILE_ID_LEN])
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
	return fd;
}

/* After the op: the victim's settings go with its last link. */
static void victim_done(struct fs_ctx *c, int fd, const uint8_t id[FS_FILE_ID_LEN])
{
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_nlink == 0)
		fs_tuning_file_removed(c->tuning, id);
	close(fd);
}

static void tu_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs_ctx *c = fs_ctx_of(req); /* req is gone after the reply */
	char from[PATH_MAX], to[PATH_MAX];
	struct stat a, b;
	uint8_t id[FS_FILE_ID_LEN];
	bool dir = fs_tuning_has_dirs(c->tuning) && child(c, parent, name, from, &a) == 0 &&
		   S_ISDIR(a.st_mode);
	int victim = flags & RENAME_EXCHANGE ? -1 : victim_open(c, newparent, newname, id);
	inner.rename(req, parent, name, newparent, newname, flags);
	victim_done(c, victim, id);
	if (dir && child(c, newparent, newname, to, &b) == 0 && b.st_dev == a.st_dev &&
	    b.st_ino == a.st_ino)
		fs_tuning_dir_moved(c->tuning, from, to, flags & RENAME_EXCHANGE);
}

static void tu_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *c = fs_ctx_of(req);
	char rel[PATH_MAX];
	struct stat st;
	bool dir = fs_tuning_has_dirs(c->tuning) && child(c, parent, name, rel, &st) == 0;
	inner.rmdir(req, parent, name);
	if (dir && child(c, parent, name, rel, &st) == -ENOENT)
		fs_tuning_dir_removed(c->tuning, rel);
}

static void tu_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *c = fs_ctx_of(req);
	uint8_t id[FS_FILE_ID_LEN];
	int victim = victim_open(c, parent, name, id);
	inner.unlink(req, parent, name);
	victim_done(c, victim, id);
}

void fs_ops_tuning(struct fuse_lowlevel_ops *ops)
{
	inner = *ops;
	ops->rename = tu_rename;
	ops->rmdir = tu_rmdir;
	ops->unlink = tu_unlink;
}
