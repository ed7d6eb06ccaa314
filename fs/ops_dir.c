/* Passthrough of directory handles: opendir, readdir, readdirplus,
 * releasedir, fsyncdir. fi->fh is a struct fs_dir (fs.h).
 *
 * readdirplus looks every entry up (as the caller, so a directory the
 * caller may list but not search yields names without attributes, as
 * `ls -l` would natively) and hands the kernel one reference per entry it
 * accepted; an entry that does not fit the reply buffer is forgotten again. */
#include "fs/ops.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/creds.h"
#include "fs/fs.h"

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	struct fs_creds_saved cr;
	int fd = -1, err;
	int ifd = fs_inode_fd_get(c->inodes, i);
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	err = fs_creds_enter(req, &cr);
	if (err == 0) {
		fd = fs_reopen(c, ifd, O_RDONLY | O_DIRECTORY);
		if (fd < 0)
			err = fd;
		fs_creds_leave(&cr);
	}
	fs_inode_fd_put(c->inodes, i);
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	struct fs_dir *d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->dp = fdopendir(fd);
	if (!d->dp) {
		err = errno;
		close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fs_open_add(c, &d->node, true);
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = c->opts->cache == FS_CACHE_ALWAYS;
	fi->keep_cache = fi->cache_readdir;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_open_del(c, &d->node);
		closedir(d->dp);
		free(d);
	}
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_dir *d = fs_dir_of(fi);
	struct fs_creds_saved cr = {0};
	char *buf = calloc(1, size ? size : 1);
	size_t used = 0;
	int err = 0;
	struct fs_inode *dir = fs_inode_of(c, ino);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (plus) {
		err = fs_creds_enter(req, &cr);
		if (err < 0)
			goto out;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				if (errno)
					err = -errno;
				break;
			}
		}
		struct dirent *de = d->entry;
		off_t next = de->d_off;
		/* The directory's entries are on its device (a mount point's
		 * d_ino is the covered directory's, there too). */
		struct stat st = {.st_ino = (ino_t)fs_ino_for_kernel(c, dir->dev, de->d_ino),
				  .st_mode = (mode_t)de->d_type << 12};
		size_t n;
		if (plus) {
			struct fuse_entry_param e;
			struct fs_inode *i = NULL;
			memset(&e, 0, sizeof(e));
			e.attr = st;
			if (!is_dot_or_dotdot(de->d_name) &&
			    fs_inode_table_lookup(c->inodes, dir, dirfd(d->dp), de->d_name, &st, &i) == 0) {
				fs_inode_note_dir(i, dir);
				fs_fill_entry(c, &e, i, &st);
			}
			n = fuse_add_direntry_plus(req, buf + used, size - used, de->d_name, &e,
						   next);
			if (n > size - used) {
				if (i)
					fs_inode_table_forget(c->inodes, i, 1);
				break;
			}
		} else {
			n = fuse_add_direntry(req, buf + used, size - used, de->d_name, &st, next);
			if (n > size - used)
				break;
		}
		used += n;
		d->entry = NULL;
		d->offset = next;
	}
	if (plus)
		fs_creds_leave(&cr);
out:
	/* An error after some entries is reported on the next call. */
	if (err < 0 && used == 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = fs_dir_of(fi);
	(void)ino;
	fs_open_del(fs_ctx_of(req), &d->node);
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_dir *d = fs_dir_of(fi);
	(void)ino;
	int fd = dirfd(d->dp);
	int res = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, res < 0 ? errno : 0);
}
