/* Passthrough of open regular files: open/create/release, read (fuse_buf
 * with FUSE_BUF_FD_SEEK, spliced when the kernel agreed), write_buf, flush,
 * fsync, POSIX locks (as OFD locks on a description per lock owner,
 * locks=backing: lock_owners.h) and flock (waits that end on an interrupt
 * or a stop: lock_wait.h), fallocate,
 * copy_file_range and lseek. fi->fh is a struct fs_file (fs.h).
 *
 * Cache policy per open: cache=never gives every open FOPEN_DIRECT_IO
 * (every read and write reaches us); otherwise cache=always sets keep_cache
 * so the page cache survives close/open. An O_DIRECT open gets an O_DIRECT
 * backing fd (aligned I/O only, as on BACKING) and no FOPEN_DIRECT_IO: the
 * kernel's own O_DIRECT path writes dirty pages back and invalidates them
 * around each direct request, and reads what BACKING does not have yet
 * within its size from the page cache (FOPEN_DIRECT_IO did neither). With the writeback cache the kernel may read pages of a file
 * opened write-only and keeps file positions itself, so O_WRONLY becomes
 * O_RDWR (with O_NOATIME: those reads are no access) and O_APPEND is
 * dropped (as passthrough_hp does).
 *
 * With kernel passthrough (-o passthrough, fs/passthrough.h) every open of
 * a regular file registers the inode's backing file and its reply carries
 * the backing id: reads and writes then never reach read/write_buf here. */
#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/creds.h"
#include "fs/file_id.h"
#include "fs/fs.h"
#include "fs/killpriv.h"
#include "fs/lock_owners.h"
#include "fs/lock_wait.h"
#include "fs/tmpfile.h"
#include "fs/uring.h"

/* Open flags as sent to the backing filesystem. */
static int backing_flags(struct fs_ctx *c, int flags)
{
	/* The kernel decides where O_APPEND writes go, in every cache mode,
	 * and fcntl(F_SETFL) may turn O_APPEND off without telling us: the
	 * backing fd must write at the offsets it is given. */
	flags &= ~O_APPEND;
	if (c->writeback && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_NOFOLLOW;
}

static void set_open_flags(struct fs_ctx *c, struct fuse_file_info *fi)
{
	fi->direct_io = c->opts->cache == FS_CACHE_NEVER;
	fi->keep_cache = !fi->direct_io && c->opts->cache == FS_CACHE_ALWAYS;
}

/* A file the caller opened write-only and we opened read-write (the
 * writeback cache) is read only by the kernel, to fill the page a partial
 * write goes to: natively a write leaves the atime alone, so those reads
 * do not move BACKING's (they did: a 1-byte write through an O_WRONLY fd
 * to a file whose pages were not cached moved its atime to now). */
static void no_atime_for_page_fills(int fd, int flags)
{
	int bflags = fcntl(fd, F_GETFL);
	if ((flags & O_ACCMODE) == O_WRONLY && bflags >= 0 && (bflags & O_ACCMODE) == O_RDWR &&
	    fcntl(fd, F_SETFL, bflags | O_NOATIME) < 0)
		sfs_debug("O_NOATIME on a write-only open: %s", strerror(errno));
}

static struct fs_file *file_new(fuse_req_t req, struct fs_ctx *c, struct fs_inode *i, int fd,
			       int flags)
{
	struct fs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	no_atime_for_page_fills(fd, flags);
	f->fd = fd;
	f->flags = flags;
	f->direct = (flags & O_DIRECT) != 0;
	atomic_init(&f->buffered_fd, -1);
	f->uid = fuse_req_ctx(req)->uid;
	f->gid = fuse_req_ctx(req)->gid;
	f->inode = i;
	fs_inode_table_opened(c->inodes, i, fd);
	fs_open_add(c, &f->node, false);
	return f;
}

static void file_free(struct fs_ctx *c, struct fs_file *f)
{
	if (!f)
		return;
	fs_inode_table_released(c->inodes, f->inode);
	if (f->pt_inode)
		fs_passthrough_put(c, f->pt_inode);
	fs_open_del(c, &f->node);
	fs_lock_owners_released(c, f);
	close(f->fd);
	int bfd = atomic_load_explicit(&f->buffered_fd, memory_order_relaxed);
	if (bfd >= 0)
		close(bfd);
	free(f);
}

/* The kernel's open for execve (__FMODE_EXEC, which open(2) does not
 * take: asm-generic/fcntl.h), kept in the flags FUSE sends. */
#define FS_OPEN_EXEC 040

/* Reopens ifd with the backing flags as the caller. A caller who may write
 * but not read a file still gets an O_RDWR fd with the writeback cache: the
 * caller's own O_WRONLY open checks the permission, then the daemon reopens
 * that fd read-write (the kernel needs it for partial page writes). */
static int open_as_caller(fuse_req_t req, struct fs_ctx *c, int ifd, int flags)
{
	struct fs_creds_saved cr;
	int bflags = backing_flags(c, flags);
	int err = fs_creds_enter(req, &cr);
	if (err < 0)
		return err;
	int fd = fs_reopen(c, ifd, bflags);
	if (fd == -EPERM && (flags & O_APPEND)) /* append-only inode (chattr +a) */
		fd = fs_reopen(c, ifd, bflags | O_APPEND);
	if (fd == -EACCES && (flags & FS_OPEN_EXEC) && (flags & O_ACCMODE) == O_RDONLY) {
		/* execve: execute permission is enough (a mode 0711 program
		 * runs natively for everyone), so that is what is checked as
		 * the caller; the daemon then opens it to be read for them. */
		char path[32];
		fs_proc_path(path, ifd);
		err = faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0 ? -errno : 0;
		fs_creds_leave(&cr);
		return err < 0 ? err : fs_reopen(c, ifd, bflags & ~FS_OPEN_EXEC);
	}
	if (fd == -EACCES && bflags != (flags & ~(O_NOFOLLOW | O_APPEND))) {
		int wfd = fs_reopen(c, ifd, flags & ~O_APPEND);
		fs_creds_leave(&cr);
		if (wfd < 0)
			return wfd;
		fd = fs_reopen(c, wfd, bflags);
		close(wfd);
		return fd;
	}
	fs_creds_leave(&cr);
	return fd;
}

/* Open flags of the reply; with passthrough on, also the inode's backing id
 * (no keep_cache, no direct_io: the kernel refuses the first with
 * passthrough and would send reads and writes to us with the second). When
 * registering fails the open goes the normal way. Disarm after replying. */
static void prepare_open_reply(struct fs_ctx *c, struct fs_file *f, struct fs_inode *i,
			       struct fuse_file_info *fi)
{
	set_open_flags(c, fi);
	if (!fs_passthrough_active(c))
		return;
	int id = fs_passthrough_get(c, i, f->fd);
	if (id < 0)
		return;
	f->pt_inode = i;
	fi->direct_io = 0;
	fi->keep_cache = 0;
	fs_passthrough_arm(fi->fh, id);
}

/* The kernel asked us to clear set-id bits and capabilities after this
 * write, truncation or O_TRUNC open (fs/killpriv.h). The change itself
 * stands whatever happens here; a failure is logged. */
static void kill_privileges(fuse_req_t req, int fd)
{
	int r = fs_killpriv_apply(req, fd, false);
	if (r < 0)
		sfs_warn("cannot clear the set-id bits or capabilities of a file after a "
			 "write or an O_TRUNC open: %s",
			 strerror(-r));
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	int ifd = fs_inode_fd_get(c->inodes, i);
	if (ifd < 0) {
		fuse_reply_err(req, -ifd);
		return;
	}
	int fd = open_as_caller(req, c, ifd, fi->flags);
	fs_inode_fd_put(c->inodes, i);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	if ((fi->flags & O_TRUNC) && fs_killpriv_due())
		kill_privileges(req, fd);
	struct fs_file *f = file_new(req, c, i, fd, fi->flags);
	if (!f) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	prepare_open_reply(c, f, i, fi);
	int res = fuse_reply_open(req, fi);
	fs_passthrough_disarm();
	if (res == -ENOENT) /* interrupted: no release will come */
		file_free(c, f);
}

/* On a mount that records, a file whose inode changed during
 * its create (made, or truncated) is named now (its user.shadow.id set,
 * fs/file_id.h), before the reply's attributes are taken. Naming moves
 * the ctime; done later (the recorder's first flush, a copy's start) it
 * moved the ctime of a file nobody had touched since, which a backup by
 * ctime or a test of ctime semantics sees (posix_compare under
 * shadow_all did, now and then; and, the recorder's flush alone, on a mount
 * that records without hosts, under load). An existing file merely opened
 * with O_CREAT is left alone: its ctime did not move. */
static void name_if_changed(struct fs_ctx *c, int fd, const struct timespec *before)
{
	struct stat st;
	char proc[32];
	uint8_t id[FS_FILE_ID_LEN];
	if (!c->recorder || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_ctim.tv_sec < before->tv_sec ||
	    (st.st_ctim.tv_sec == before->tv_sec && st.st_ctim.tv_nsec < before->tv_nsec))
		return;
	fs_proc_path(proc, fd);
	(void)fs_file_id_get(proc, true, id); /* no xattrs: the recorder keys by path */
}

/* Opens NAME in the directory open as dfd with O_CREAT as the caller (the
 * caller's umask too): the fd, or -errno. */
static int create_as_caller(fuse_req_t req, struct fs_ctx *c, int dfd, const char *name, int flags,
			    mode_t mode)
{
	struct fs_creds_saved cr;
	int bflags = backing_flags(c, flags) | O_CREAT | O_CLOEXEC;
	int err = fs_creds_enter_creator(req, &cr);
	if (err < 0)
		return err;
	int fd = openat(dfd, name, bflags, mode);
	if (fd < 0 && errno == EACCES && (flags & O_ACCMODE) == O_WRONLY && c->writeback) {
		/* Existing write-only file: check as the caller, then
		 * reopen read-write as the daemon (see open_as_caller). */
		int wfd = openat(dfd, name, (flags & ~O_APPEND) | O_CREAT | O_CLOEXEC, mode);
		err = wfd < 0 ? -errno : 0;
		fs_creds_leave(&cr);
		if (wfd < 0)
			return err;
		fd = fs_reopen(c, wfd, bflags & ~O_CREAT);
		close(wfd);
		return fd;
	}
	err = fd < 0 ? -errno : fd;
	fs_creds_leave(&cr);
	return err;
}

/* Makes an unnamed file in the directory open as dfd, as the caller would
 * with open(DIR, O_TMPFILE | flags, mode) (fs/tmpfile.h): owned by the
 * caller, its umask applied, O_EXCL kept (BACKING's file then cannot be
 * linked either). The fd, or -errno. */
static int tmpfile_as_caller(fuse_req_t req, struct fs_ctx *c, int dfd, int flags, mode_t mode)
{
	struct fs_creds_saved cr;
	int bflags = (backing_flags(c, flags) & ~(O_CREAT | O_TRUNC)) | O_TMPFILE | O_CLOEXEC;
	int err = fs_creds_enter_creator(req, &cr);
	if (err < 0)
		return err;
	int fd = openat(dfd, ".", bflags, mode);
	err = fd < 0 ? -errno : fd;
	fs_creds_leave(&cr);
	return err;
}

/* CREATE, and O_TMPFILE as the create of the name "/" (fs/tmpfile.h): the
 * tmpfile has no name in the directory, so its inode is entered without
 * one (by its handle, or without handles by an O_PATH fd kept until the
 * kernel forgets it) and is not noted as seen in the directory; the link
 * that may name it later (FUSE_LINK) is a lookup of its new name. */
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *dir = fs_inode_of(c, parent), *i = NULL;
	struct fuse_entry_param e;
	struct stat st;
	struct fs_file *f = NULL;
	bool tmpfile = fs_tmpfile_name(name);
	int fd, err;
	int dfd = fs_inode_fd_get(c->inodes, dir);
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	struct timespec before; /* the clock file times are taken from */
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	fd = tmpfile ? tmpfile_as_caller(req, c, dfd, fi->flags, mode)
		     : create_as_caller(req, c, dfd, name, fi->flags, mode);
	fs_inode_fd_put(c->inodes, dir);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	if ((fi->flags & O_TRUNC) && fs_killpriv_due())
		kill_privileges(req, fd);
	name_if_changed(c, fd, &before);
	err = fs_inode_table_lookup_fd(c->inodes, tmpfile ? NULL : dir, tmpfile ? NULL : name, fd,
				       &st, &i);
	if (err < 0)
		goto fail;
	if (!tmpfile)
		fs_inode_note_dir(i, dir);
	f = file_new(req, c, i, fd, fi->flags);
	if (!f) {
		fs_inode_table_forget(c->inodes, i, 1);
		err = -ENOMEM;
		goto fail;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	prepare_open_reply(c, f, i, fi);
	fs_fill_entry(c, &e, i, &st);
	int res = fuse_reply_create(req, &e, fi);
	fs_passthrough_disarm();
	if (res == -ENOENT) { /* file first: it may hold a count on i */
		file_free(c, f);
		fs_inode_table_forget(c->inodes, i, 1);
	}
	return;
fail:
	if (fd >= 0)
		close(fd);
	fuse_reply_err(req, -err);
}

/* Per-thread read buffer, page-aligned (O_DIRECT needs that) and kept
 * between requests: libfuse's own fallback allocates one per request,
 * which costs more than the copy. Freed when the worker thread exits. */
struct thread_buf {
	void *mem;
	size_t cap;
};

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;

static void thread_buf_free(void *p)
{
	struct thread_buf *b = p;
	if (b)
		free(b->mem);
	free(b);
}

static void buf_key_init(void)
{
	if (pthread_key_create(&buf_key, thread_buf_free) != 0)
		abort(); /* only fails without memory at start */
}

void *fs_thread_buf(size_t size)
{
	pthread_once(&buf_once, buf_key_init);
	struct thread_buf *b = pthread_getspecific(buf_key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || pthread_setspecific(buf_key, b) != 0) {
			free(b);
			return NULL;
		}
	}
	if (b->cap < size) {
		size_t cap = (size + FS_DIRECT_ALIGN - 1) & ~(size_t)(FS_DIRECT_ALIGN - 1);
		void *mem = NULL;
		if (posix_memalign(&mem, FS_DIRECT_ALIGN, cap ? cap : FS_DIRECT_ALIGN) != 0)
			return NULL;
		free(b->mem);
		b->mem = mem;
		b->cap = cap;
	}
	return b->mem;
}

void *fs_reply_buf(size_t size)
{
	void *p = fs_uring_reply_buf(size);
	return p ? p : fs_thread_buf(size);
}

/* The fd for I/O on f from fi (a READ's or WRITE's): f's own, or for a
 * direct file its second fd without O_DIRECT (opened on first need, kept
 * until release) when the request does not come with O_DIRECT: the caller
 * cleared it with fcntl(F_SETFL) (natively its I/O then needs no
 * alignment), or a write of the writeback cache (the kernel flushes any
 * writable open's dirty pages through whichever writable open of the inode
 * it picks, a direct one too; a partial last page is unaligned, and
 * refusing it lost the data of another fd's writes: an fsync of that fd
 * failed with EINVAL and the file read back zeros). An fd, or -errno. */
static int io_fd(fuse_req_t req, struct fs_file *f, const struct fuse_file_info *fi)
{
	if (!f->direct || fs_file_direct_request(f, fi))
		return f->fd;
	int fd = atomic_load_explicit(&f->buffered_fd, memory_order_acquire);
	if (fd >= 0)
		return fd;
	int fl = fcntl(f->fd, F_GETFL);
	if (fl < 0)
		return -errno;
	fd = fs_reopen(fs_ctx_of(req), f->fd, fl & ~O_DIRECT);
	if (fd < 0)
		return fd;
	int none = -1;
	if (!atomic_compare_exchange_strong_explicit(&f->buffered_fd, &none, fd,
						     memory_order_acq_rel, memory_order_acquire)) {
		close(fd); /* another thread's came first */
		return none;
	}
	return fd;
}

/* Reads from fd into the thread's buffer and replies with it (O_DIRECT
 * files, and every file when read replies are not spliced). */
static void read_copy(fuse_req_t req, int fd, size_t size, off_t off)
{
	void *buf = fs_reply_buf(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t n = pread(fd, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	(void)ino;
	if (f->direct || !fs_ctx_of(req)->splice_replies) {
		int fd = io_fd(req, f, fi);
		if (fd < 0)
			fuse_reply_err(req, -fd);
		else
			read_copy(req, fd, size, off);
		return;
	}
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = f->fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE); /* replies, errors included */
}

/* O_DIRECT writes from libfuse's (unaligned) request buffer go through an
 * aligned bounce buffer, unless the data is already aligned (an io_uring
 * entry's payload is page-aligned); spliced data and buffered files go
 * straight. */
static ssize_t write_direct_mem(int fd, struct fuse_bufvec *in, off_t off)
{
	size_t size = fuse_buf_size(in);
	if (in->count == 1 && in->idx == 0 && in->off == 0 &&
	    (uintptr_t)in->buf[0].mem % FS_DIRECT_ALIGN == 0) {
		ssize_t n = pwrite(fd, in->buf[0].mem, size, off);
		return n < 0 ? -errno : n;
	}
	void *buf = NULL;
	size_t alloc = (size + FS_DIRECT_ALIGN - 1) & ~(size_t)(FS_DIRECT_ALIGN - 1);
	if (posix_memalign(&buf, FS_DIRECT_ALIGN, alloc ? alloc : FS_DIRECT_ALIGN) != 0)
		return -ENOMEM;
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	mem.buf[0].mem = buf;
	ssize_t n = fuse_buf_copy(&mem, in, 0);
	if (n >= 0) {
		n = pwrite(fd, buf, (size_t)n, off);
		if (n < 0)
			n = -errno;
	}
	free(buf);
	return n;
}

/* Whose write, fallocate or copy_file_range this request is, to run it as
 * (fs_creds_enter_writer): the caller's, as natively (the process that
 * writes, not the one that opened: nobody writing through an fd root
 * opened stays out of root's reserve, root through nobody's may use it).
 * The writeback cache's flushes come from the kernel with no caller (uid,
 * gid and pid 0, whoever wrote the pages): they run as the file's opener. */
static void enter_writer(fuse_req_t req, const struct fs_file *f, struct fs_creds_saved *cr)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	if (ctx->pid == 0 && ctx->uid == 0 && ctx->gid == 0)
		fs_creds_enter_writer(f->uid, f->gid, cr);
	else
		fs_creds_enter_writer(ctx->uid, ctx->gid, cr);
}

void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_creds_saved cr;
	ssize_t res;
	(void)ino;
	atomic_fetch_add_explicit(&c->writes_begun, 1, memory_order_relaxed);
	int fd = io_fd(req, f, fi);
	enter_writer(req, f, &cr);
	if (fd < 0) {
		res = fd;
	} else if (fd == f->fd && f->direct && !(in_buf->buf[0].flags & FUSE_BUF_IS_FD)) {
		res = write_direct_mem(fd, in_buf, off);
	} else {
		struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
		out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		out.buf[0].fd = fd;
		out.buf[0].pos = off;
		res = fuse_buf_copy(&out, in_buf, 0);
	}
	fs_creds_leave(&cr);
	if (res >= 0 && fs_killpriv_due())
		kill_privileges(req, f->fd);
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else
		fuse_reply_write(req, (size_t)res);
	atomic_fetch_add_explicit(&c->writes_done, 1, memory_order_release);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	/* The closing process's record locks on the file go (lock_owners.h). */
	if (c->lock_owners)
		fs_lock_owners_closed(c, ino, fi->lock_owner);
	/* close() of a duplicate reports delayed write errors of network
	 * backing filesystems, as a close(2) of the application's fd would. */
	int dup_fd = dup(f->fd);
	if (dup_fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	int res = close(dup_fd);
	fuse_reply_err(req, res < 0 ? errno : 0);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	file_free(fs_ctx_of(req), fs_file_of(fi));
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	int res = datasync ? fdatasync(f->fd) : fsync(f->fd);
	int err = res < 0 ? errno : 0;
	/* The kernel keeps the attributes it cached (for c->timeout) while the
	 * writeback cache fills the file: st_blocks stays what it was at open
	 * (du shows 0). Now that the data is allocated, drop the cached
	 * attributes (only them: offset -1) so the next stat asks us. */
	if (err == 0 && c->se)
		fuse_lowlevel_notify_inval_inode(c->se, ino, -1, 0);
	fuse_reply_err(req, err);
}

/* Record locks live on the lock owner's own backing description
 * (lock_owners.h): an owner without one holds no lock, so a probe goes
 * through the open's fd, which holds none. */
void fs_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	int err = 0;
	if (!c->lock_owners) { /* locks stay in the kernel: none are sent */
		fuse_reply_err(req, ENOLCK);
		return;
	}
	struct fs_lock_owner *o = fs_lock_owner_get(c, ino, fi->lock_owner, f, false, &err);
	err = fs_lock_owners_getlk(c, ino, o ? fs_lock_owner_fd(o) : f->fd, lock);
	if (o)
		fs_lock_owner_put(c, o);
	if (err < 0)
		fuse_reply_err(req, -err);
	else
		fuse_reply_lock(req, lock);
}

static int ofd_setlk_call(int fd, void *arg, bool wait)
{
	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, (struct flock *)arg) < 0 ? -errno : 0;
}

void fs_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		 int sleep)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	int err = 0;
	if (!c->lock_owners) { /* locks stay in the kernel: none are sent */
		fuse_reply_err(req, ENOLCK);
		return;
	}
	/* An unlock by an owner without a description has nothing to drop. */
	struct fs_lock_owner *o =
		fs_lock_owner_get(c, ino, fi->lock_owner, f, lock->l_type != F_UNLCK, &err);
	if (!o) {
		fuse_reply_err(req, err == -ENOENT ? 0 : -err);
		return;
	}
	int fd = fs_lock_owner_fd(o);
	fs_lock_owner_set_pid(o, lock->l_pid);
	lock->l_pid = 0;
	int res = sleep ? fs_lock_wait(req, fd, ofd_setlk_call, lock) : ofd_setlk_call(fd, lock, false);
	if (res == 0 && sleep && lock->l_type != F_UNLCK && !fs_lock_owner_keep(c, o, f))
		res = -ENOLCK; /* closed and locked again during the wait: this one is lost */
	fs_lock_owner_put(c, o);
	fuse_reply_err(req, -res);
}

static int flock_call(int fd, void *arg, bool wait)
{
	int op = *(int *)arg;
	return flock(fd, wait ? op : op | LOCK_NB) < 0 ? -errno : 0;
}

void fs_op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct fs_file *f = fs_file_of(fi);
	(void)ino;
	int res = op & LOCK_NB ? flock_call(f->fd, &op, true)
			       : fs_lock_wait(req, f->fd, flock_call, &op);
	fuse_reply_err(req, -res);
}

void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	struct fs_creds_saved cr;
	(void)ino;
	enter_writer(req, f, &cr);
	int res = fallocate(f->fd, mode, offset, length);
	int err = res < 0 ? errno : 0;
	fs_creds_leave(&cr);
	fuse_reply_err(req, err);
}

void fs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			   struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			   struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct fs_file *out = fs_file_of(fi_out);
	struct fs_creds_saved cr;
	(void)ino_in;
	(void)ino_out;
	enter_writer(req, out, &cr);
	ssize_t n = copy_file_range(fs_file_of(fi_in)->fd, &off_in, out->fd, &off_out, len,
				    (unsigned)flags);
	int err = errno;
	fs_creds_leave(&cr);
	if (n < 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_write(req, (size_t)n);
}

void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		 struct fuse_file_info *fi)
{
	(void)ino;
	off_t res = lseek(fs_file_of(fi)->fd, off, whence);
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}
