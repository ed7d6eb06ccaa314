/* Passthrough of names and attributes: lookup/forget, getattr/setattr,
 * readlink, mknod, mkdir, symlink, link, unlink, rmdir, rename, statfs,
 * access. Operations that check permissions or create objects run with the
 * caller's credentials (creds.h); O_PATH fds are taken before switching.
 * Every handler replies exactly once; errno is saved before cleanup. */
#include "fs/ops.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/creds.h"
#include "fs/ctime_kept.h"
#include "fs/fs.h"
#include "fs/killpriv.h"

/* Looks NAME up in the directory open as dfd and replies with its entry
 * (or a cached negative entry for ENOENT). */
static void reply_lookup(fuse_req_t req, struct fs_ctx *c, struct fs_inode *dir, int dfd,
			 const char *name)
{
	struct fuse_entry_param e;
	struct fs_inode *i;
	struct stat st;
	int err = fs_inode_table_lookup(c->inodes, dir, dfd, name, &st, &i);
	if (err == -ENOENT && c->negative_timeout > 0) {
		memset(&e, 0, sizeof(e));
		e.entry_timeout = c->negative_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (err < 0) {
		fuse_reply_err(req, -err);
		return;
	}
	fs_inode_note_dir(i, dir);
	fs_fill_entry(c, &e, i, &st);
	if (fuse_reply_entry(req, &e) == -ENOENT) /* request interrupted */
		fs_inode_table_forget(c->inodes, i, 1);
}

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *dir = fs_inode_of(c, parent);
	struct fs_creds_saved cr;
	int dfd = fs_inode_fd_get(c->inodes, dir);
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	int err = fs_creds_enter(req, &cr);
	if (err == 0) {
		reply_lookup(req, c, dir, dfd, name);
		fs_creds_leave(&cr);
	} else {
		fuse_reply_err(req, -err);
	}
	fs_inode_fd_put(c->inodes, dir);
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_ctx *c = fs_ctx_of(req);
	fs_inode_table_forget(c->inodes, fs_inode_of(c, ino), nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_ctx *c = fs_ctx_of(req);
	for (size_t k = 0; k < count; k++)
		fs_inode_table_forget(c->inodes, fs_inode_of(c, forgets[k].ino),
				      forgets[k].nlookup);
	fuse_reply_none(req);
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_if_regular(fi);
	struct stat st;
	int res;
	if (f) {
		res = fstat(f->fd, &st);
	} else {
		struct fs_inode *i = fs_inode_of(c, ino);
		int fd = fs_inode_fd_get(c->inodes, i);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		res = fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		int saved = errno;
		fs_inode_fd_put(c->inodes, i);
		errno = saved;
	}
	if (res < 0) {
		fuse_reply_err(req, errno);
	} else {
		fs_reply_attr(req, c, fs_inode_of(c, ino), &st);
	}
}

/* utimensat on an O_PATH fd: through /proc for everything but symlinks
 * (which /proc would follow), AT_EMPTY_PATH for those. */
static int set_times(struct fs_inode *i, int fd, const struct timespec ts[2])
{
	if (i->type == S_IFLNK) {
		if (utimensat(fd, "", ts, AT_EMPTY_PATH) == 0)
			return 0;
		return errno == EINVAL ? -EPERM : -errno;
	}
	char path[32];
	fs_proc_path(path, fd);
	return utimensat(AT_FDCWD, path, ts, 0) < 0 ? -errno : 0;
}

/* Whether a setattr is a chown(2): owner or group set, or nothing to set
 * at all (chown(f, -1, -1), see do_setattr). */
static bool is_chown(int valid)
{
	return (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) ||
	       !(valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME |
			  FUSE_SET_ATTR_MTIME));
}

static int do_setattr(struct fs_ctx *c, struct fs_inode *i, int ifd, struct stat *attr,
		      int valid, struct fs_file *f)
{
	char path[32];
	bool writable = f && (f->flags & O_ACCMODE) != O_RDONLY;
	(void)c;
	fs_proc_path(path, ifd);
	if (valid & FUSE_SET_ATTR_MODE) {
		int r = f ? fchmod(f->fd, attr->st_mode) : chmod(path, attr->st_mode);
		if (r < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (valid & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		if (fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	/* chown(f, -1, -1) comes with nothing to set (the ctime alone with the
	 * writeback cache): natively it still clears a file's set-id bits and
	 * capabilities, which the kernel leaves to us with
	 * FUSE_HANDLE_KILLPRIV_V2 (fs/killpriv.h), so it is made here too.
	 * (utimensat with both times UTIME_OMIT looks the same: on a set-id
	 * file it clears the bits too, the safe way round.) */
	if (is_chown(valid) && !(valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchownat(ifd, "", (uid_t)-1, (gid_t)-1, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (valid & FUSE_SET_ATTR_SIZE) {
		int r = writable ? ftruncate(f->fd, attr->st_size) : truncate(path, attr->st_size);
		if (r < 0)
			return -errno;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		int r = f ? (futimens(f->fd, ts) < 0 ? -errno : 0) : set_times(i, ifd, ts);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether a setattr sets times and nothing else. */
static bool times_only(int valid)
{
	return valid && !(valid & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME));
}

/* The kernel's writeback cache flushes a file's times (mtime, ctime) as it
 * evicts the inode, also after its last link went through the mount; an
 * object known by its handle cannot be reopened then (ESTALE: it no longer
 * exists, nothing holds it open), and the error, recorded against the
 * whole mount, failed a later syncfs(2) of any file of it (seen: rm -r of
 * a directory whose entries came back through readdirplus after the
 * dentry cache was dropped, then syncfs: ESTALE). Times of an object that
 * no longer exists are seen by nobody: the update succeeds, and the reply
 * says what the kernel set, with no link left. */
static void reply_times_of_gone(fuse_req_t req, struct fs_ctx *c, struct fs_inode *i,
				const struct stat *attr, int valid)
{
	struct stat st = {.st_dev = i->dev, .st_ino = i->ino, .st_mode = i->type, .st_nlink = 0};
	if (valid & FUSE_SET_ATTR_ATIME)
		st.st_atim = attr->st_atim;
	if (valid & FUSE_SET_ATTR_MTIME)
		st.st_mtim = attr->st_mtim;
	st.st_ctim = (valid & FUSE_SET_ATTR_CTIME) ? attr->st_ctim : st.st_mtim;
	fs_reply_attr(req, c, i, &st);
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		   struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	struct fs_file *f = fs_file_if_regular(fi); /* defensive: no dir handles */
	struct fs_creds_saved cr = {0};
	struct stat st;
	int ifd = fs_inode_fd_get(c->inodes, i);
	int err;
	/* Gone for good only when its handle is stale: an object known by
	 * name (no handles: ramfs, a filesystem mounted below BACKING) gives
	 * ESTALE when renamed behind the mount's back, and lives on. */
	if (ifd == -ESTALE && i->handle && !fi && times_only(valid)) {
		reply_times_of_gone(req, c, i, attr, valid);
		return;
	}
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	/* With default_permissions the kernel has already checked this request
	 * (setattr_prepare: owner for chmod and explicit times, write access
	 * for truncate and "now" times, membership for chgrp, S_ISGID dropped
	 * for non-members), and it sends setattrs the caller could not apply to
	 * the backing file itself: the S_ISUID/S_ISGID removal after a
	 * non-owner's write or truncate (file_remove_privs), and, with the
	 * writeback cache, a "touch" as an explicit mtime. So it runs as the
	 * daemon then, and as the caller otherwise. */
	err = c->kernel_checks ? 0 : fs_creds_enter(req, &cr);
	/* A chown made as the daemon: what it kept natively goes
	 * (fs_killpriv_after_chown), so the mode before it is needed. */
	bool chown_as_daemon = c->kernel_checks && is_chown(valid);
	struct stat before;
	if (err == 0 && chown_as_daemon &&
	    fstatat(ifd, "", &before, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	if (err == 0) {
		err = do_setattr(c, i, ifd, attr, valid, f);
		fs_creds_leave(&cr);
	}
	/* A truncation by a caller without CAP_FSETID, or a chown (fs/killpriv.h):
	 * it stands whatever happens here, as after a write.
	 * Without FUSE_HANDLE_KILLPRIV_V2 (-o passthrough, -o splice) the kernel
	 * clears a truncated file's S_ISGID only with S_IXGRP: a non-root
	 * caller's truncation clears the rest here. */
	bool root = fuse_req_ctx(req)->uid == 0;
	bool kernel_asks = c->dev.killpriv && (c->dev.offered_flags & FS_KILLPRIV_V2_FLAG);
	bool due = fs_killpriv_due() || (!kernel_asks && !root && (valid & FUSE_SET_ATTR_SIZE));
	int kr = err == 0 && due ? fs_killpriv_apply(req, ifd, root && !(valid & FUSE_SET_ATTR_SIZE))
				 : 0;
	if (kr == 0 && err == 0 && chown_as_daemon)
		kr = fs_killpriv_after_chown(req, ifd, &before);
	if (kr < 0)
		sfs_warn("cannot clear the set-id bits or capabilities after a truncation or "
			 "a chown: %s",
			 strerror(-kr));
	if (err == 0 && fstatat(ifd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		err = -errno;
	fs_inode_fd_put(c->inodes, i);
	/* The kernel (writeback cache) stamped the ctime itself: keep it. */
	if (err == 0 && (valid & FUSE_SET_ATTR_CTIME))
		fs_ctime_kept_note(&st, &attr->st_ctim);
	if (err < 0) {
		fuse_reply_err(req, -err);
	} else {
		fs_reply_attr(req, c, i, &st);
	}
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	char buf[PATH_MAX + 1];
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
	int saved = errno;
	fs_inode_fd_put(c->inodes, i);
	if (n < 0)
		fuse_reply_err(req, saved);
	else if ((size_t)n >= sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

enum make_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK, MAKE_LINK };

struct make_args {
	enum make_kind kind;
	const char *name;
	mode_t mode;
	dev_t rdev;
	const char *target;   /* symlink */
	struct fs_inode *src; /* link */
};

/* Creates NAME in directory `parent` as the caller and replies with its entry. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const struct make_args *a)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *dir = fs_inode_of(c, parent);
	struct fs_creds_saved cr;
	int sfd = -1, err, res;
	int dfd = fs_inode_fd_get(c->inodes, dir);
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	if (a->kind == MAKE_LINK) {
		sfd = fs_inode_fd_get(c->inodes, a->src);
		if (sfd < 0) {
			err = sfd;
			goto out;
		}
	}
	err = fs_creds_enter_creator(req, &cr);
	if (err < 0)
		goto out;
	switch (a->kind) {
	case MAKE_NODE:
		res = mknodat(dfd, a->name, a->mode, a->rdev);
		break;
	case MAKE_DIR:
		res = mkdirat(dfd, a->name, a->mode);
		break;
	case MAKE_SYMLINK:
		res = symlinkat(a->target, dfd, a->name);
		break;
	case MAKE_LINK: {
		char path[32];
		fs_proc_path(path, sfd);
		res = linkat(AT_FDCWD, path, dfd, a->name, AT_SYMLINK_FOLLOW);
		break;
	}
	default:
		res = -1;
		errno = EINVAL;
	}
	if (res < 0) {
		err = -errno;
		fs_creds_leave(&cr);
		goto out;
	}
	reply_lookup(req, c, dir, dfd, a->name); /* replies */
	fs_creds_leave(&cr);
	err = 1;
out:
	if (sfd >= 0)
		fs_inode_fd_put(c->inodes, a->src);
	fs_inode_fd_put(c->inodes, dir);
	if (err < 0)
		fuse_reply_err(req, -err);
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct make_args a = {.kind = MAKE_NODE, .name = name, .mode = mode, .rdev = rdev};
	make_entry(req, parent, &a);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct make_args a = {.kind = MAKE_DIR, .name = name, .mode = mode};
	make_entry(req, parent, &a);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct make_args a = {.kind = MAKE_SYMLINK, .name = name, .target = link};
	make_entry(req, parent, &a);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct make_args a = {.kind = MAKE_LINK, .name = newname, .src = fs_inode_of(c, ino)};
	make_entry(req, newparent, &a);
}

/* unlink or rmdir NAME in `parent` as the caller. */
static void remove_entry(fuse_req_t req, fuse_ino_t parent, const char *name, int flags)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *dir = fs_inode_of(c, parent);
	struct fs_creds_saved cr;
	int dfd = fs_inode_fd_get(c->inodes, dir);
	int err;
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	/* An object known by this name (no file handles) keeps its fd: an
	 * open file, a directory that is a process's cwd. */
	struct fs_inode *victim = fs_inode_table_pin_named(c->inodes, dfd, name);
	err = fs_creds_enter(req, &cr);
	if (err == 0) {
		if (unlinkat(dfd, name, flags) < 0)
			err = -errno;
		else
			fs_last_removed = true;
		fs_creds_leave(&cr);
	}
	if (victim) {
		if (err == 0)
			fs_inode_table_name_gone(c->inodes, victim, dir, name);
		fs_inode_fd_put(c->inodes, victim);
	}
	fs_inode_fd_put(c->inodes, dir);
	if (err == 0 && fs_before_reply.fn)
		fs_before_reply.fn(fs_before_reply.arg);
	fuse_reply_err(req, -err);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, 0);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_entry(req, parent, name, AT_REMOVEDIR);
}

static void set_dir(struct fs_inode *i, void *dir)
{
	fs_inode_note_dir(i, dir);
}

/* The object now named NAME in dir (open as dfd), if the table knows it,
 * was moved there. known: its entry, when the rename pinned it already
 * (fs_inode_table_pin_named: no second stat). */
static void note_moved(struct fs_ctx *c, struct fs_inode *known, struct fs_inode *dir, int dfd,
		       const char *name)
{
	struct stat st;
	if (known) {
		if (known->type != S_IFDIR)
			fs_inode_note_dir(known, dir);
	} else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
		fs_inode_table_with(c->inodes, st.st_dev, st.st_ino, set_dir, dir);
	}
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *from = fs_inode_of(c, parent), *to = fs_inode_of(c, newparent);
	struct fs_creds_saved cr;
	struct fs_inode *moved = NULL, *replaced = NULL;
	int err = 0, tfd = -1;
	int ffd = fs_inode_fd_get(c->inodes, from);
	if (ffd < 0) {
		fuse_reply_err(req, -ffd);
		return;
	}
	tfd = fs_inode_fd_get(c->inodes, to);
	if (tfd < 0) {
		err = tfd;
		goto out;
	}
	/* Files known by these names (no file handles): their fds stay open
	 * across the rename, then their keys follow it. */
	moved = fs_inode_table_pin_named(c->inodes, ffd, name);
	replaced = fs_inode_table_pin_named(c->inodes, tfd, newname);
	err = fs_creds_enter(req, &cr);
	if (err == 0) {
		if (renameat2(ffd, name, tfd, newname, flags) < 0)
			err = -errno;
		else
			fs_last_removed = true;
		fs_creds_leave(&cr);
	}
	if (err == 0 && moved != replaced) { /* the same: two links, nothing moved */
		fs_inode_table_renamed(c->inodes, moved, to, newname);
		if (flags & RENAME_EXCHANGE)
			fs_inode_table_renamed(c->inodes, replaced, from, name);
		else
			fs_inode_table_name_gone(c->inodes, replaced, to, newname);
	}
	if (err == 0 && from != to) {
		note_moved(c, moved != replaced ? moved : NULL, to, tfd, newname);
		if (flags & RENAME_EXCHANGE)
			note_moved(c, moved != replaced ? replaced : NULL, from, ffd, name);
	}
	if (moved)
		fs_inode_fd_put(c->inodes, moved);
	if (replaced)
		fs_inode_fd_put(c->inodes, replaced);
	fs_inode_fd_put(c->inodes, to);
out:
	fs_inode_fd_put(c->inodes, from);
	if (err == 0 && c->opts && c->opts->fault_rename_record_delay_ms) /* tests only */
		usleep(c->opts->fault_rename_record_delay_ms * 1000u);
	if (err == 0 && fs_before_reply.fn)
		fs_before_reply.fn(fs_before_reply.arg);
	fuse_reply_err(req, -err);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	struct statvfs sv;
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	int res = fstatvfs(fd, &sv);
	int saved = errno;
	fs_inode_fd_put(c->inodes, i);
	if (res < 0)
		fuse_reply_err(req, saved);
	else
		fuse_reply_statfs(req, &sv);
}

void fs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	struct fs_creds_saved cr;
	int fd = fs_inode_fd_get(c->inodes, i);
	int err;
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	err = fs_creds_enter(req, &cr);
	if (err == 0) {
		/* AT_EACCESS: check with the fsuid we just switched to. */
		if (faccessat(fd, "", mask, AT_EMPTY_PATH | AT_EACCESS) < 0)
			err = -errno;
		fs_creds_leave(&cr);
	}
	fs_inode_fd_put(c->inodes, i);
	fuse_reply_err(req, -err);
}
