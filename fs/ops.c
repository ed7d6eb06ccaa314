/* The passthrough operations table and connection setup (FUSE INIT):
 * which kernel capabilities shadowfs asks for, and why. See ops.h. */
#include "fs/ops.h"

#include <unistd.h>

#include "fs/fs.h"
#include "fs/uring.h"

static void want(struct fuse_conn_info *conn, unsigned cap, bool on)
{
	if (on && (conn->capable & cap))
		conn->want |= cap;
	else
		conn->want &= ~cap;
}

void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_ctx *c = userdata;
	const struct fs_options *o = c->opts;

	/* Writeback cache: the kernel merges small writes into max_write
	 * chunks and answers reads of written pages itself. */
	want(conn, FUSE_CAP_WRITEBACK_CACHE, o->writeback && o->cache != FS_CACHE_NEVER);
	c->writeback = (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0;
	/* Zero-copy: read replies spliced from the backing fd; write data
	 * spliced from /dev/fuse (costs a pipe round trip per request). */
	/* With io_uring, replies go into the ring entry and request data
	 * comes in it (uring.h): no splicing either way. */
	bool uring = fs_uring_init(c->uring, c->dev.offered_flags2);
	want(conn, FUSE_CAP_SPLICE_WRITE, o->splice_write && !uring);
	want(conn, FUSE_CAP_SPLICE_MOVE, o->splice_write && !uring);
	want(conn, FUSE_CAP_SPLICE_READ, o->splice_read && !uring);
	c->splice_replies = (conn->want & FUSE_CAP_SPLICE_WRITE) != 0;
	want(conn, FUSE_CAP_READDIRPLUS, o->readdirplus);
	want(conn, FUSE_CAP_READDIRPLUS_AUTO, o->readdirplus);
	/* cache=auto drops cached pages when the attributes change. */
	want(conn, FUSE_CAP_AUTO_INVAL_DATA, o->cache == FS_CACHE_AUTO);
	want(conn, FUSE_CAP_POSIX_LOCKS, o->locks == FS_LOCKS_BACKING);
	/* flock() follows the POSIX locks: in the kernel by default. Forwarded
	 * to BACKING, a blocking LOCK_EX waits inside a worker thread: enough
	 * waiters (one with threads=1) stall every request of the mount. */
	want(conn, FUSE_CAP_FLOCK_LOCKS, o->locks == FS_LOCKS_BACKING);
	/* We write as root: the kernel must clear setuid/setgid bits on
	 * writes itself (it does when this is off). */
	want(conn, FUSE_CAP_HANDLE_KILLPRIV, false);
	want(conn, FUSE_CAP_CACHE_SYMLINKS, o->cache != FS_CACHE_NEVER);
	want(conn, FUSE_CAP_PARALLEL_DIROPS, true);
	want(conn, FUSE_CAP_ASYNC_READ, true);
	want(conn, FUSE_CAP_ASYNC_DIO, true);
	want(conn, FUSE_CAP_ATOMIC_O_TRUNC, true);
	/* POSIX ACLs: the kernel evaluates them in its permission checks
	 * (this turns default_permissions on). Asked for unless the mount is
	 * private to root (fs_kernel_checks_wanted): there the checks cost a
	 * GETATTR of the directory after every create or unlink and decide
	 * nothing BACKING would not. */
	want(conn, FUSE_CAP_POSIX_ACL, !o->backing_no_acls && fs_kernel_checks_wanted(o, getuid()));
	c->posix_acl = (conn->want & FUSE_CAP_POSIX_ACL) != 0;
	/* The umask is left to us in every case, so that a parent's default
	 * ACL can replace it, as natively: the creating thread runs with the
	 * caller's umask (creds.h) and BACKING applies one or the other. (FUSE
	 * marks its superblocks SB_POSIXACL whatever was negotiated, so the
	 * VFS does not apply the umask either.) */
	want(conn, FUSE_CAP_DONT_MASK, true);
	c->kernel_checks = c->posix_acl || o->default_permissions;

	/* Kernel passthrough of open files: asked for in the INIT reply by
	 * fs/passthrough.c (libfuse 3.14 cannot), never with writeback. */
	fs_passthrough_init(c, conn);

	conn->max_write = o->max_write;
	if (o->max_read)
		conn->max_read = o->max_read;
	conn->max_readahead = conn->max_readahead ? conn->max_readahead : 128 * 1024;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	conn->time_gran = 1;
}

bool fs_kernel_checks_wanted(const struct fs_options *o, uid_t owner)
{
	/* Without allow_other (or allow_root) the kernel lets only processes
	 * whose uids and gids all equal the mount owner's use the mount. When
	 * the owner is root, its kernel permission checks decide nothing:
	 * root passes the mode bits and ACLs (the exec bit of regular files,
	 * the one check root does not pass, FUSE makes without them), and
	 * every request still runs with the caller's fsuid, so BACKING checks
	 * it as natively. A non-root owner keeps them: a name the kernel
	 * cached would otherwise stay reachable after chmod 000 of its
	 * directory. allow_other keeps them: see options.c. */
	return o->default_permissions || o->allow_other || o->allow_root || owner != 0;
}

void fs_op_destroy(void *userdata)
{
	(void)userdata; /* the context is torn down by main after the loop */
}

void fs_ops_passthrough(struct fuse_lowlevel_ops *ops, const struct fs_options *o)
{
	*ops = (struct fuse_lowlevel_ops){
		.init = fs_op_init,
		.destroy = fs_op_destroy,
		.lookup = fs_op_lookup,
		.forget = fs_op_forget,
		.forget_multi = fs_op_forget_multi,
		.getattr = fs_op_getattr,
		.setattr = fs_op_setattr,
		.readlink = fs_op_readlink,
		.mknod = fs_op_mknod,
		.mkdir = fs_op_mkdir,
		.unlink = fs_op_unlink,
		.rmdir = fs_op_rmdir,
		.symlink = fs_op_symlink,
		.rename = fs_op_rename,
		.link = fs_op_link,
		.open = fs_op_open,
		.read = fs_op_read,
		.flush = fs_op_flush,
		.release = fs_op_release,
		.fsync = fs_op_fsync,
		.opendir = fs_op_opendir,
		.readdir = fs_op_readdir,
		.releasedir = fs_op_releasedir,
		.fsyncdir = fs_op_fsyncdir,
		.statfs = fs_op_statfs,
		.setxattr = fs_op_setxattr,
		.getxattr = fs_op_getxattr,
		.listxattr = fs_op_listxattr,
		.removexattr = fs_op_removexattr,
		.access = fs_op_access,
		.create = fs_op_create,
		.getlk = fs_op_getlk,
		.setlk = fs_op_setlk,
		.write_buf = fs_op_write_buf,
		.flock = fs_op_flock,
		.fallocate = fs_op_fallocate,
		.readdirplus = fs_op_readdirplus,
		.copy_file_range = fs_op_copy_file_range,
		.lseek = fs_op_lseek,
	};
	/* FLUSH at every close(2) costs a round trip and only matters when
	 * locks live in BACKING (released with the open). Without the op the
	 * kernel stops sending it after the first ENOSYS. */
	if (o->locks != FS_LOCKS_BACKING)
		ops->flush = NULL;
}
