/* The per-mount context (fs.h): creation, teardown and the helpers shared
 * by the ops files. */
#include "fs/fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int fs_ctx_init(struct fs_ctx *c, const struct fs_options *opts, int root_fd)
{
	memset(c, 0, sizeof(*c));
	c->opts = opts;
	c->proc_fd = -1;
	c->timeout = opts->timeout;
	c->negative_timeout = opts->negative_timeout;
	return fs_inode_table_new(root_fd, opts->fd_cache, &c->inodes);
}

int fs_ctx_open_proc(struct fs_ctx *c)
{
	int fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (c->proc_fd >= 0)
		close(c->proc_fd);
	c->proc_fd = fd;
	return 0;
}

void fs_ctx_destroy(struct fs_ctx *c)
{
	if (!c)
		return;
	fs_inode_table_free(c->inodes);
	c->inodes = NULL;
	if (c->proc_fd >= 0)
		close(c->proc_fd);
	c->proc_fd = -1;
}

int fs_reopen(struct fs_ctx *c, int opath_fd, int flags)
{
	char name[16];
	snprintf(name, sizeof(name), "%d", opath_fd);
	int fd = openat(c->proc_fd, name, (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY)) |
						  O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void fs_proc_path(char buf[static 32], int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

void fs_fill_entry(struct fs_ctx *c, struct fuse_entry_param *e, struct fs_inode *i,
		   const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->ino = fs_nodeid_of(c, i);
	e->attr = *st;
	e->attr_timeout = c->timeout;
	e->entry_timeout = c->timeout;
}
