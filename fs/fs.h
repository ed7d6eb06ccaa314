/* Shared state of a mounted shadowfs and the small helpers every ops file
 * uses. One struct fs_ctx per mount, passed to fuse_session_new() as
 * userdata; immutable after fs_ctx_init except where noted.
 *
 * Layering: the passthrough ops (ops.h) reach everything through this
 * header, so a layer wrapped around them (recorder, read router) can use the
 * same context, inodes and open files. struct fs_file is what fi->fh points
 * to for regular files; `ext` belongs to such layers. */
#ifndef SHADOWFS_FS_FS_H
#define SHADOWFS_FS_FS_H

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/dev_io.h"
#include "fs/inode_table.h"
#include "fs/options.h"
#include "fs/passthrough.h"

/* Links every open file and directory to its mount, so that handles the
 * kernel never released (unmounted while open) are freed at teardown. */
struct fs_open_node {
	struct fs_open_node *prev, *next; /* fs_ctx.open_lock */
	bool is_dir;
};

struct fs_ctx {
	const struct fs_options *opts; /* not owned */
	struct fs_inode_table *inodes; /* owned */
	int proc_fd;                   /* /proc/self/fd, opened after daemonizing */
	double timeout;                /* entry/attr timeout, seconds */
	dev_t backing_dev;             /* st_dev of BACKING's root (fs_ino_for_kernel) */
	double negative_timeout;
	/* WRITE requests begun and answered (fs_op_write_buf): a stop waits
	 * until none is under way (fs/stop_signal.c). */
	atomic_uint_fast64_t writes_begun, writes_done;
	/* Written once by the init callback, before any other request. */
	bool writeback;                /* kernel writeback cache negotiated */
	bool kernel_checks;            /* kernel checks permissions (default_permissions,
	                                  forced by POSIX ACL support) */
	bool posix_acl;                /* kernel evaluates ACLs in its checks */
	bool splice_replies;           /* read replies spliced from the backing fd */
	/* Set by main once the session exists, before serving; NULL in unit
	 * tests. Used only to send cache invalidations to the kernel. */
	struct fuse_session *se;
	void *ext;                     /* for layers wrapped around the ops */
	pthread_mutex_t open_lock;     /* protects open_list */
	struct fs_open_node open_list; /* list head of open files/dirs */
	/* Access recorder (recorder.h), or NULL when recording is off. Set
	 * before the session serves requests, stopped after it has ended. */
	struct fs_recorder *recorder;
	struct fs_passthrough pt;      /* kernel passthrough (-o passthrough) */
	struct fs_dev_io dev;          /* the session's I/O functions (dev_io.h) */
	/* FUSE over io_uring (uring.h), or NULL: set before mounting, freed
	 * once the loop has ended, before anything its requests use. */
	struct fs_uring *uring;
	/* Shadowing layer (shadowing.h), or NULL without local hosts. Set
	 * before the session serves requests, freed after it has ended. */
	struct fs_shadowing *shadowing;
	/* Tuning attributes (shadow_tuning.h), with shadowing; same life. */
	struct fs_tuning *tuning;
	/* With -o locks=backing, the backing descriptions holding each lock
	 * owner's POSIX record locks (lock_owners.h); else NULL. */
	struct fs_lock_owners *lock_owners;
};

/* fi->fh of an open regular file. Freed by release. */
struct fs_file {
	struct fs_open_node node; /* first member */
	int fd;          /* backing fd; owned */
	int flags;       /* open(2) flags the caller asked for */
	bool direct;     /* an O_DIRECT open: fd is O_DIRECT (aligned I/O only) */
	/* A direct file's second backing fd, without O_DIRECT, or -1 until
	 * first needed (io_fd in ops_file.c): for the I/O that comes through
	 * this open without O_DIRECT, which natively needs no alignment. */
	_Atomic int buffered_fd;
	uid_t uid;       /* who opened it: the kernel's flushes written as */
	gid_t gid;       /* (fs_creds_enter_writer) */
	struct fs_inode *inode;    /* counted in its opens while open */
	struct fs_inode *pt_inode; /* opened for kernel passthrough: holds a count
	                              of the inode's backing id; else NULL */
	void *ext;       /* for layers wrapped around the ops; NULL here */
};

/* fi->fh of an open directory. Freed by releasedir. */
struct fs_dir {
	struct fs_open_node node; /* first member */
	DIR *dp;
	off_t offset;          /* offset of the next entry in dp */
	struct dirent *entry;  /* read but not yet sent, or NULL */
};

int fs_ctx_init(struct fs_ctx *c, const struct fs_options *opts, int root_fd);
/* Registers / unregisters an open file or directory handle. */
void fs_open_add(struct fs_ctx *c, struct fs_open_node *n, bool is_dir);
void fs_open_del(struct fs_ctx *c, struct fs_open_node *n);

/* Opens /proc/self/fd; call in the process that will serve requests. */
int fs_ctx_open_proc(struct fs_ctx *c);
void fs_ctx_destroy(struct fs_ctx *c);

static inline struct fs_ctx *fs_ctx_of(fuse_req_t req)
{
	return (struct fs_ctx *)fuse_req_userdata(req);
}

static inline struct fs_inode *fs_inode_of(struct fs_ctx *c, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return fs_inode_table_root(c->inodes);
	return (struct fs_inode *)(uintptr_t)ino;
}

static inline fuse_ino_t fs_nodeid_of(struct fs_ctx *c, struct fs_inode *i)
{
	if (i == fs_inode_table_root(c->inodes))
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)i;
}

static inline struct fs_file *fs_file_of(const struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

/* O_DIRECT I/O at offsets and of sizes that are multiples of this is taken
 * by every filesystem that takes O_DIRECT at all. */
#define FS_DIRECT_ALIGN 4096

/* Whether a READ or WRITE through f (fi: the request's) is O_DIRECT I/O,
 * served by f's O_DIRECT backing fd and so refused unaligned as BACKING
 * refuses it; else (a direct open's flushes of the page cache, or its
 * caller cleared O_DIRECT) it goes through f's second fd (ops_file.c). */
static inline bool fs_file_direct_request(const struct fs_file *f,
					  const struct fuse_file_info *fi)
{
	return f->direct && (fi->flags & O_DIRECT) && !fi->writepage;
}

/* fi's file for an operation that may come with a directory handle too
 * (setattr from futimens(2) on a directory fd): NULL unless a regular file. */
static inline struct fs_file *fs_file_if_regular(const struct fuse_file_info *fi)
{
	struct fs_file *f = fi ? fs_file_of(fi) : NULL;
	return f && !f->node.is_dir ? f : NULL;
}

static inline struct fs_dir *fs_dir_of(const struct fuse_file_info *fi)
{
	return (struct fs_dir *)(uintptr_t)fi->fh;
}

/* The calling worker thread's page-aligned buffer of at least size bytes
 * (kept between requests, freed at thread exit), or NULL. */
void *fs_thread_buf(size_t size);
/* A buffer for a read reply built in place: the io_uring entry's payload
 * when this thread serves a ring request, else fs_thread_buf. */
void *fs_reply_buf(size_t size);

/* Opens the object behind an O_PATH fd with open(2) flags, through
 * /proc/self/fd: permissions are checked against the calling thread's
 * credentials. Returns an fd or -errno. */
int fs_reopen(struct fs_ctx *c, int opath_fd, int flags);

/* "/proc/self/fd/N" for path-only syscalls (xattrs, utimensat, truncate). */
void fs_proc_path(char buf[static 32], int fd);

/* The inode of the last entry filled on this thread (fs_fill_entry), so a
 * layer around the ops (the recorder) learns which file a lookup, create,
 * mknod, mkdir, symlink or link replied with. Copies only: valid after the
 * reply, when the inode itself may be gone. */
struct fs_entry_seen {
	uint64_t dev, ino;
	bool set;
};
extern __thread struct fs_entry_seen fs_last_entry;
/* The name the next entry reply on this thread is for, set by the
 * recorder layer before lookup, create, mknod, mkdir, symlink and link:
 * fs_fill_entry hands (dir, name) -> inode to the recorder's name hints
 * (recorder.h) and clears it, before the reply (after it, the kernel may
 * already be unlinking the name on another thread). */
struct fs_entry_name {
	const struct fs_file_ref *dir; /* NULL: none */
	const char *name;
};
extern __thread struct fs_entry_name fs_entry_name;

/* Set by unlink, rmdir and rename on this thread when they removed (or
 * replaced) the name; the layer around the ops clears it before. */
extern __thread bool fs_last_removed;

/* A layer's work that must be done after BACKING changed and before the
 * caller can see that it did (once the reply is written, the caller's
 * unlink, rmdir or rename has returned and it may look at the result):
 * set by the layer around the op (fs/shadow_tuning_ops.c; inside it
 * fs/shadow_paths.c for renames, which keeps the outer layer's slot and
 * calls it after its own work), run by unlink, rmdir and rename when they
 * succeeded, just before their reply, and put back by the layer after the
 * op. */
struct fs_before_reply {
	void (*fn)(void *arg);
	void *arg;
};
extern __thread struct fs_before_reply fs_before_reply;

/* Records st's link count in i (fs_inode.nlink_seen) for a reply. */
static inline void fs_nlink_seen(struct fs_inode *i, const struct stat *st)
{
	__atomic_store_n(&i->nlink_seen, (uint32_t)st->st_nlink, __ATOMIC_RELAXED);
}

/* Inode numbers as the kernel is given them. The mount is one device, so
 * objects of another filesystem mounted below BACKING would show the inode
 * numbers of that filesystem beside BACKING's: two directories, or two
 * hard-linked files, on different devices with the same number, which du,
 * find, tar, cp -a and rsync -H take for one object. Theirs are mixed with
 * their device (a bijection per device, so never two of one device alike);
 * BACKING's own pass unchanged. */
uint64_t fs_ino_for_kernel(const struct fs_ctx *c, dev_t dev, uint64_t ino);

/* Fills a FUSE entry for inode i with attributes st and the mount's timeouts. */
void fs_fill_entry(struct fs_ctx *c, struct fuse_entry_param *e, struct fs_inode *i,
		   const struct stat *st);

/* Replies to GETATTR / SETATTR with i's attributes st (nlink noted, inode
 * number as the kernel is given it) and the mount's timeout. */
void fs_reply_attr(fuse_req_t req, struct fs_ctx *c, struct fs_inode *i, struct stat *st);

#endif
