/* Paths relative to BACKING (see rel_path.h). */
#include "fs/rel_path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/rec_name.h"

/* "DPATH/NAME" (DPATH "" for BACKING) into rel; -ENAMETOOLONG past it. */
static int join(const char *dpath, const char *name, char rel[PATH_MAX])
{
	return snprintf(rel, PATH_MAX, "%s%s%s", dpath, dpath[0] ? "/" : "", name) >= PATH_MAX
		   ? -ENAMETOOLONG
		   : 0;
}

int fs_rel_path(struct fs_ctx *c, int fd, char buf[PATH_MAX])
{
	char proc[32], full[PATH_MAX];
	fs_proc_path(proc, fd);
	ssize_t n = readlink(proc, full, sizeof(full) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	full[n] = '\0';
	/* A name the file lost while it has others (a linked O_TMPFILE's
	 * nameless first dentry, "DIR/#INO (deleted)"): not its path (callers
	 * look in its directory, fs_rel_path_in). An unlinked file keeps its
	 * last name, " (deleted)" and all: the settings of a file saved by
	 * rename behind the mount's back are still found through the old
	 * file the kernel holds (fs_tuning_handles). */
	struct stat st;
	if (fs_proc_name_lost(fd, full, (size_t)n) && fstat(fd, &st) == 0 && st.st_nlink > 0)
		return -ENOENT;
	const char *b = c->opts->backing;
	size_t bl = strlen(b);
	while (bl > 1 && b[bl - 1] == '/')
		bl--;
	if (strncmp(full, b, bl) != 0 || (full[bl] != '/' && full[bl] != '\0'))
		return -ENOENT;
	snprintf(buf, PATH_MAX, "%s", full[bl] ? full + bl + 1 : "");
	return 0;
}

/* The name of (dev, ino) in the directory open as dfd, checked by a stat
 * of that name; -ENOENT when it has none. */
static int name_in_dir(int dfd, dev_t dev, ino_t ino, char name[NAME_MAX + 1])
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int err = -errno;
		close(fd);
		return err;
	}
	int r = -ENOENT;
	struct dirent *de;
	struct stat st;
	while (r < 0 && (de = readdir(d)) != NULL)
		if (de->d_ino == ino && fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_dev == dev && st.st_ino == ino) {
			snprintf(name, NAME_MAX + 1, "%s", de->d_name);
			r = 0;
		}
	closedir(d);
	return r;
}

int fs_rel_path_in(struct fs_ctx *c, dev_t dev, ino_t ino, ino_t dir_ino, int fd,
		   char buf[PATH_MAX])
{
	int r = fs_rel_path(c, fd, buf);
	if (r != -ENOENT || dir_ino == 0)
		return r;
	/* The directory's fd: its entry's, or when the kernel forgot it too,
	 * one opened from the handle the table kept. */
	struct fs_inode *d = fs_inode_table_hold(c->inodes, dev, dir_ino);
	int dfd = d ? fs_inode_fd_get(c->inodes, d) : fs_inode_table_gone_dir_open(c->inodes, dev, dir_ino);
	char dpath[PATH_MAX], name[NAME_MAX + 1];
	r = dfd < 0 ? (d ? dfd : r) : 0;
	if (dfd >= 0) {
		r = fs_rel_path(c, dfd, dpath);
		if (r == 0)
			r = name_in_dir(dfd, dev, ino, name);
		if (r == 0)
			r = join(dpath, name, buf);
		if (d)
			fs_inode_fd_put(c->inodes, d);
		else
			close(dfd);
	}
	if (d)
		fs_inode_fd_put(c->inodes, d); /* the hold */
	return r;
}

int fs_rel_path_of(struct fs_ctx *c, struct fs_inode *i, int fd, char buf[PATH_MAX])
{
	if (S_ISDIR(i->type)) /* a directory reopened from its handle is reconnected */
		return fs_rel_path(c, fd, buf);
	return fs_rel_path_in(c, i->dev, i->ino, __atomic_load_n(&i->dir_ino, __ATOMIC_RELAXED), fd,
			      buf);
}

int fs_rel_path_recorded(void *ctx, int fd, dev_t dev, ino_t ino, uint64_t dir_ino,
			 char buf[PATH_MAX])
{
	return fs_rel_path_in(ctx, dev, ino, (ino_t)dir_ino, fd, buf);
}

int fs_rel_name(struct fs_ctx *c, fuse_ino_t dir, const char *name, char rel[PATH_MAX])
{
	struct fs_inode *d = fs_inode_of(c, dir);
	char dpath[PATH_MAX];
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return dfd;
	int r = fs_rel_path(c, dfd, dpath);
	fs_inode_fd_put(c->inodes, d);
	return r == 0 ? join(dpath, name, rel) : r;
}

int fs_rel_child(struct fs_ctx *c, fuse_ino_t dir, const char *name, char rel[PATH_MAX],
		 struct stat *st)
{
	struct fs_inode *d = fs_inode_of(c, dir);
	char dpath[PATH_MAX];
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return dfd;
	int r = fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : fs_rel_path(c, dfd, dpath);
	fs_inode_fd_put(c->inodes, d);
	return r == 0 ? join(dpath, name, rel) : r;
}

const char *fs_rel_below(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path + n;
}

char *fs_rel_moved(const char *path, const char *from, const char *to)
{
	const char *rest = fs_rel_below(path, from);
	if (!rest)
		return NULL;
	size_t tl = strlen(to), rl = strlen(rest);
	char *p = malloc(tl + rl + 1);
	if (!p)
		return NULL;
	memcpy(p, to, tl);
	memcpy(p + tl, rest, rl + 1);
	return p;
}
