/* The recording layer: wraps the operations table (as sshfs's cache wraps
 * its operations) so that every request that reaches the filesystem is
 * noted to the access recorder (recorder.h) around the passthrough op.
 *
 * What is noted, and on which file:
 *   open                  FS_EV_OPEN on the file
 *   read                  FS_EV_READ: bytes the kernel asked for (the reply
 *                         may be shorter at end of file), latency of the
 *                         inner op including its reply
 *   write_buf             FS_EV_WRITE: bytes handed to us
 *   getattr, setattr, readlink, access, xattr ops, opendir, readdir[plus],
 *   fallocate, copy_file_range (source), link (source)
 *                         FS_EV_META on the inode
 *   lookup, mknod, mkdir, symlink
 *                         FS_EV_META on the entry found or made (learnt
 *                         from fs_last_entry), else on the parent directory
 *   create                FS_EV_OPEN on the new file (same way; an
 *                         O_TMPFILE, fs/tmpfile.h, leaves no name hint)
 *   unlink, rmdir, rename FS_EV_META on the parent directory
 * forget, release, flush, fsync, locks, statfs, lseek are not demand and are
 * not noted (they still count as in-flight requests). With -o passthrough
 * (passthrough.h) reads and writes of open files never come here: only their
 * opens are noted.
 *
 * Ordering rules (the inner op replies, after which the request, its file
 * and even the inode may be gone): caller identity, the file's identity and
 * its naming claim (a copy of the inode's file handle, or a dup of an fd
 * when the inode has no handle) are taken before the inner op; only copies
 * are used after it. open, read and write claim a name (once per inode and
 * bucket: recorder.h); other ops, and create, do not. Installed only when recording is on: with norecord the table is
 * the plain passthrough one and costs nothing. */
#include "fs/ops_record.h"

#include <errno.h>
#include <stdio.h> /* RENAME_EXCHANGE */

#include "fs/fs.h"
#include "fs/recorder.h"
#include "fs/tmpfile.h"

/* The wrapped table: written once by fs_ops_record() before the session
 * starts, read-only afterwards. */
static struct fuse_lowlevel_ops inner;

struct rec_call {
	struct fs_ctx *ctx;  /* req is gone after the inner op's reply */
	struct fs_rec_req q; /* the thread's ring, time and caller, read once */
	struct fs_file_ref ref;
	struct fs_rec_claim claim;
};

static void call_begin(struct rec_call *c, fuse_req_t req, fuse_ino_t ino)
{
	struct fs_ctx *ctx = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(ctx, ino);
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	c->ctx = ctx;
	fs_recorder_req_begin(ctx->recorder, &c->q, fc->uid, fc->pid);
	fs_rec_claim_init(&c->claim);
	fs_file_ref_init(&c->ref, (uint64_t)i->dev, (uint64_t)i->ino, &i->rec_named, i->handle);
	c->ref.dir_ino = &i->dir_ino;
}

/* Entry ops: the event goes to the entry's inode when the op replied with
 * one (kind), else to the parent directory (FS_EV_META). */
static void entry_begin(struct rec_call *c, fuse_req_t req, fuse_ino_t parent, const char *name)
{
	call_begin(c, req, parent);
	fs_last_entry.set = false;
	if (c->q.rec)
		fs_entry_name = (struct fs_entry_name){.dir = &c->ref, .name = name};
}

static void entry_end(struct rec_call *c, enum fs_event kind)
{
	fs_recorder_req_end(&c->q);
	fs_entry_name.dir = NULL; /* no entry replied (an error) */
	if (fs_last_entry.set) {
		struct fs_file_ref child;
		fs_file_ref_init(&child, fs_last_entry.dev, fs_last_entry.ino, NULL, NULL);
		fs_recorder_req_note(&c->q, kind, &child, NULL, 0, 0);
	} else {
		fs_recorder_req_note(&c->q, FS_EV_META, &c->ref, NULL, 0, 0);
	}
}

static void call_end(struct rec_call *c, enum fs_event kind, uint64_t bytes, uint64_t lat)
{
	fs_recorder_req_end(&c->q);
	fs_recorder_req_note(&c->q, kind, &c->ref, &c->claim, bytes, lat);
}

/* A file that removing a name may delete: read before the op (after its
 * reply the kernel may have forgotten the inode already, on another
 * thread), acted on after it, if the name went. */
struct rec_victim {
	uint64_t key;  /* of NAME (recorder.h, fs_recorder_name_key) */
	bool last;     /* NAME led to (dev, ino), with one link left */
	uint64_t dev, ino;
	struct fs_rec_handle handle; /* len 0: none */
};

/* Whether the file had one link left, as the kernel last learnt from us
 * (then removing a name of it deletes it), and its handle. Table lock. */
static void nlink_check(struct fs_inode *i, void *arg)
{
	struct rec_victim *v = arg;
	v->last = __atomic_load_n(&i->nlink_seen, __ATOMIC_RELAXED) == 1;
	if (v->last)
		fs_rec_handle_copy(&v->handle, i->handle);
}

static void victim_before(struct rec_call *c, const char *name, struct rec_victim *v)
{
	v->last = false;
	v->handle.len = 0;
	if (!c->q.rec)
		return;
	v->key = fs_recorder_name_key(&c->ref, name);
	if (!fs_recorder_name_lookup(c->q.rec, v->key, &v->dev, &v->ino))
		return;
	if (!fs_inode_table_with(c->ctx->inodes, (dev_t)v->dev, (ino_t)v->ino, nlink_check, v))
		v->last = false;
}

/* NAME in the call's directory was removed (unlink, rename over it): takes
 * its hint, and if it still led to the victim, whose last link that was,
 * tells the recorder the file is gone (no syscall). */
static void victim_after(struct rec_call *c, const struct rec_victim *v)
{
	uint64_t dev, ino;
	if (c->q.rec && fs_recorder_name_removed(c->q.rec, v->key, &dev, &ino) && v->last &&
	    dev == v->dev && ino == v->ino)
		fs_recorder_req_gone(&c->q, dev, ino, &v->handle);
}

/* Requests that are not demand: counted in flight only. */
static void inflight_begin(fuse_req_t req, struct fs_recorder **rec)
{
	*rec = fs_ctx_of(req)->recorder;
	fs_recorder_op_begin(*rec);
}

static void rec_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rec_call c;
	entry_begin(&c, req, parent, name);
	inner.lookup(req, parent, name);
	entry_end(&c, FS_EV_META);
}

static void rec_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.getattr(req, ino, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
			struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.setattr(req, ino, attr, valid, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.readlink(req, ino);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev)
{
	struct rec_call c;
	entry_begin(&c, req, parent, name);
	inner.mknod(req, parent, name, mode, rdev);
	entry_end(&c, FS_EV_META);
}

static void rec_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct rec_call c;
	entry_begin(&c, req, parent, name);
	inner.mkdir(req, parent, name, mode);
	entry_end(&c, FS_EV_META);
}

static void rec_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct rec_call c;
	entry_begin(&c, req, parent, name);
	inner.symlink(req, link, parent, name);
	entry_end(&c, FS_EV_META);
}

static void rec_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	struct fs_inode *np = fs_inode_of(c.ctx, newparent);
	struct fs_file_ref dir;
	fs_file_ref_init(&dir, (uint64_t)np->dev, (uint64_t)np->ino, NULL, NULL);
	if (c.q.rec)
		fs_entry_name = (struct fs_entry_name){.dir = &dir, .name = newname};
	inner.link(req, ino, newparent, newname);
	fs_entry_name.dir = NULL;
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rec_call c;
	struct rec_victim v;
	call_begin(&c, req, parent);
	victim_before(&c, name, &v);
	fs_last_removed = false;
	inner.unlink(req, parent, name);
	call_end(&c, FS_EV_META, 0, 0);
	if (fs_last_removed)
		victim_after(&c, &v);
}

static void rec_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct rec_call c;
	call_begin(&c, req, parent);
	inner.rmdir(req, parent, name);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	struct rec_call c;
	call_begin(&c, req, parent);
	struct rec_call to = c; /* the new directory, taken before the reply */
	struct fs_inode *np = fs_inode_of(c.ctx, newparent);
	fs_file_ref_init(&to.ref, (uint64_t)np->dev, (uint64_t)np->ino, NULL, NULL);
	struct rec_victim v;
	victim_before(&to, newname, &v);
	fs_last_removed = false;
	inner.rename(req, parent, name, newparent, newname, flags);
	call_end(&c, FS_EV_META, 0, 0);
	if (!fs_last_removed || !c.q.rec)
		return;
	/* The file that had NAME now has NEWNAME (with RENAME_EXCHANGE, the two
	 * swapped: both hints are dropped); what NEWNAME led to lost a link. */
	uint64_t dev, ino;
	bool moved = fs_recorder_name_removed(c.q.rec, fs_recorder_name_key(&c.ref, name), &dev, &ino);
	if (flags & RENAME_EXCHANGE) {
		uint64_t d2, i2;
		fs_recorder_name_removed(c.q.rec, fs_recorder_name_key(&to.ref, newname), &d2, &i2);
		return;
	}
	victim_after(&to, &v);
	if (moved)
		fs_recorder_name_seen(c.q.rec, &to.ref, newname, dev, ino);
}

static void rec_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.access(req, ino, mask);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	/* Claimed at open too, so files read only from the page cache are
	 * named. An fd is needed only for inodes without a handle. */
	if (fs_recorder_req_claim_needs_fd(&c.q, &c.ref)) {
		struct fs_ctx *ctx = fs_ctx_of(req);
		struct fs_inode *i = fs_inode_of(ctx, ino);
		int ifd = fs_inode_fd_get(ctx->inodes, i);
		if (ifd >= 0) {
			fs_recorder_req_claim(&c.q, &c.ref, ifd, &c.claim);
			fs_inode_fd_put(ctx->inodes, i);
		}
	} else {
		fs_recorder_req_claim(&c.q, &c.ref, -1, &c.claim);
	}
	inner.open(req, ino, fi);
	call_end(&c, FS_EV_OPEN, 0, 0);
}

static void rec_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct rec_call c;
	entry_begin(&c, req, parent, name);
	if (fs_tmpfile_name(name)) /* O_TMPFILE: no name leads to the file */
		fs_entry_name.dir = NULL;
	inner.create(req, parent, name, mode, fi);
	entry_end(&c, FS_EV_OPEN);
}

static void rec_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	fs_recorder_req_claim(&c.q, &c.ref, fs_file_of(fi)->fd, &c.claim);
	uint64_t t0 = fs_recorder_now_ns();
	inner.read(req, ino, size, off, fi);
	call_end(&c, FS_EV_READ, size, fs_recorder_now_ns() - t0);
}

static void rec_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
			  struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	fs_recorder_req_claim(&c.q, &c.ref, fs_file_of(fi)->fd, &c.claim);
	size_t bytes = fuse_buf_size(in_buf);
	inner.write_buf(req, ino, in_buf, off, fi);
	call_end(&c, FS_EV_WRITE, bytes, 0);
}

static void rec_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_recorder *rec;
	inflight_begin(req, &rec);
	inner.flush(req, ino, fi);
	fs_recorder_op_end(rec);
}

static void rec_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_recorder *rec;
	inflight_begin(req, &rec);
	inner.release(req, ino, fi);
	fs_recorder_op_end(rec);
}

static void rec_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_recorder *rec;
	inflight_begin(req, &rec);
	inner.fsync(req, ino, datasync, fi);
	fs_recorder_op_end(rec);
}

static void rec_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.opendir(req, ino, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.readdir(req, ino, size, off, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.readdirplus(req, ino, size, off, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.setxattr(req, ino, name, value, size, flags);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.getxattr(req, ino, name, size);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.listxattr(req, ino, size);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.removexattr(req, ino, name);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			  struct fuse_file_info *fi)
{
	struct rec_call c;
	call_begin(&c, req, ino);
	inner.fallocate(req, ino, mode, offset, length, fi);
	call_end(&c, FS_EV_META, 0, 0);
}

static void rec_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
				struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
				struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct rec_call c;
	call_begin(&c, req, ino_in);
	inner.copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags);
	call_end(&c, FS_EV_META, 0, 0);
}

void fs_ops_record(struct fuse_lowlevel_ops *ops)
{
	inner = *ops;
#define WRAP(op)                                                                       \
	do {                                                                           \
		if (inner.op)                                                          \
			ops->op = rec_##op;                                            \
	} while (0)
	WRAP(lookup);
	WRAP(getattr);
	WRAP(setattr);
	WRAP(readlink);
	WRAP(mknod);
	WRAP(mkdir);
	WRAP(symlink);
	WRAP(link);
	WRAP(unlink);
	WRAP(rmdir);
	WRAP(rename);
	WRAP(access);
	WRAP(open);
	WRAP(create);
	WRAP(read);
	WRAP(write_buf);
	WRAP(flush);
	WRAP(release);
	WRAP(fsync);
	WRAP(opendir);
	WRAP(readdir);
	WRAP(readdirplus);
	WRAP(setxattr);
	WRAP(getxattr);
	WRAP(listxattr);
	WRAP(removexattr);
	WRAP(fallocate);
	WRAP(copy_file_range);
#undef WRAP
}
