/* The per-mount context (fs.h): creation, teardown and the helpers shared
 * by the ops files. */
#include "fs/fs.h"
#include "fs/lock_owners.h"
#include "fs/ctime_kept.h"
#include "fs/recorder.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fs_ctx_init(struct fs_ctx *c, const struct fs_options *opts, int root_fd)
{
	memset(c, 0, sizeof(*c));
	c->opts = opts;
	c->proc_fd = -1;
	c->timeout = opts->timeout;
	c->negative_timeout = opts->negative_timeout;
	pthread_mutex_init(&c->open_lock, NULL);
	c->open_list.next = c->open_list.prev = &c->open_list;
	c->pt.wanted = opts->passthrough;
	c->dev.fd = -1;
	pthread_mutex_init(&c->pt.lock, NULL);
	c->pt.ready = true;
	struct stat st;
	if (fstat(root_fd, &st) < 0)
		return -errno;
	c->backing_dev = st.st_dev;
	int res = fs_inode_table_new(root_fd, opts->fd_cache, &c->inodes);
	if (res == 0 && opts->locks == FS_LOCKS_BACKING)
		res = fs_lock_owners_new(&c->lock_owners);
	return res;
}

/* splitmix64's finalizer: a bijection of 64-bit values. */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t fs_ino_for_kernel(const struct fs_ctx *c, dev_t dev, uint64_t ino)
{
	if (dev == c->backing_dev)
		return ino;
	uint64_t k = mix64(ino ^ mix64((uint64_t)dev));
	return k ? k : ~(uint64_t)0; /* 0 is no inode to readdir's callers */
}

/* st with st_ino as the kernel is given it, and the ctime it keeps
 * (ctime_kept.h). */
static void attr_for_kernel(const struct fs_ctx *c, struct stat *st)
{
	fs_ctime_kept_apply(st);
	st->st_ino = (ino_t)fs_ino_for_kernel(c, st->st_dev, st->st_ino);
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

void fs_open_add(struct fs_ctx *c, struct fs_open_node *n, bool is_dir)
{
	n->is_dir = is_dir;
	pthread_mutex_lock(&c->open_lock);
	n->next = c->open_list.next;
	n->prev = &c->open_list;
	c->open_list.next->prev = n;
	c->open_list.next = n;
	pthread_mutex_unlock(&c->open_lock);
}

void fs_open_del(struct fs_ctx *c, struct fs_open_node *n)
{
	pthread_mutex_lock(&c->open_lock);
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
	pthread_mutex_unlock(&c->open_lock);
}

/* Frees handles of files and directories still open at unmount. */
static void close_open_handles(struct fs_ctx *c)
{
	if (!c->open_list.next)
		return; /* never initialised */
	while (c->open_list.next != &c->open_list) {
		struct fs_open_node *n = c->open_list.next;
		fs_open_del(c, n);
		if (n->is_dir) {
			struct fs_dir *d = (struct fs_dir *)n;
			closedir(d->dp);
			free(d);
		} else {
			struct fs_file *f = (struct fs_file *)n;
			close(f->fd);
			free(f);
		}
	}
	pthread_mutex_destroy(&c->open_lock);
	c->open_list.next = NULL;
}

void fs_ctx_destroy(struct fs_ctx *c)
{
	if (!c)
		return;
	close_open_handles(c);
	fs_lock_owners_free(c->lock_owners);
	c->lock_owners = NULL;
	fs_passthrough_destroy(c);
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

__thread struct fs_entry_seen fs_last_entry;
__thread bool fs_last_removed;
__thread struct fs_before_reply fs_before_reply;
__thread struct fs_entry_name fs_entry_name;

void fs_fill_entry(struct fs_ctx *c, struct fuse_entry_param *e, struct fs_inode *i,
		   const struct stat *st)
{
	fs_last_entry = (struct fs_entry_seen){.dev = i->dev, .ino = i->ino, .set = true};
	fs_nlink_seen(i, st);
	if (fs_entry_name.dir) {
		fs_recorder_name_seen(c->recorder, fs_entry_name.dir, fs_entry_name.name,
				      (uint64_t)i->dev, (uint64_t)i->ino);
		fs_entry_name.dir = NULL;
	}
	memset(e, 0, sizeof(*e));
	e->ino = fs_nodeid_of(c, i);
	e->attr = *st;
	attr_for_kernel(c, &e->attr);
	e->attr_timeout = c->timeout;
	e->entry_timeout = c->timeout;
}

void fs_reply_attr(fuse_req_t req, struct fs_ctx *c, struct fs_inode *i, struct stat *st)
{
	fs_nlink_seen(i, st);
	attr_for_kernel(c, st);
	fuse_reply_attr(req, st, c->timeout);
}
