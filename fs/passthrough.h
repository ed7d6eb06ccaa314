/* Kernel FUSE passthrough of open files (-o passthrough): reads, writes,
 * splices and mmaps of an open regular file go from the kernel straight to
 * a backing file, with no request to the daemon. Needs Linux >= 6.9 with
 * CONFIG_FUSE_PASSTHROUGH, CAP_SYS_ADMIN, and no writeback cache.
 *
 * libfuse 3.14 knows nothing of it, so this layer speaks that part of the
 * protocol itself, from the session's I/O functions (dev_io.h), which
 *   - note what the kernel offers in its FUSE_INIT request;
 *   - have fs_passthrough_edit_init_reply put FUSE_PASSTHROUGH in flags2
 *     (with FUSE_INIT_EXT) and max_stack_depth into the INIT reply when the
 *     kernel offered it, and fs_passthrough_edit_open_reply put
 *     FOPEN_PASSTHROUGH and the backing id into an OPEN or CREATE reply that
 *     its handler armed just before replying (fs_passthrough_arm: a
 *     thread-local, checked against the reply's fh).
 *
 * Backing ids (FUSE_DEV_IOC_BACKING_OPEN on /dev/fuse): the kernel requires
 * every passthrough open of an inode to use the same backing file (another
 * id fails the open with EIO), so there is one id per inode, counted by its
 * open files and closed (FUSE_DEV_IOC_BACKING_CLOSE) with the last one.
 *
 * Kernel rules this relies on (fs/fuse/iomode.c, Linux 6.9+): a
 * passthrough open may carry no FOPEN_ flag but DIRECT_IO,
 * PARALLEL_DIRECT_WRITES and NOFLUSH (keep_cache is cleared); while an
 * inode has a passthrough open every open of it must be passthrough, and an
 * inode open in cached mode gets no passthrough open (EIO either way). So
 * with -o passthrough every regular-file open is passthrough, O_DIRECT ones
 * included: the kernel opens its backing file with the caller's open flags
 * (O_DIRECT, O_APPEND) and its own credentials as of the ioctl (ours, root).
 *
 * Not seen by the daemon, hence neither recorded nor redirectable: the
 * reads and writes of passthrough files. Opens, attributes, fsync,
 * fallocate, locks, lseek and copy_file_range still come to us. */
#ifndef SHADOWFS_FS_PASSTHROUGH_H
#define SHADOWFS_FS_PASSTHROUGH_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fs_ctx;
struct fs_inode;

/* Per-mount state, in struct fs_ctx. */
struct fs_passthrough {
	bool ready;               /* lock initialised (fs_ctx_init) */
	bool wanted;              /* -o passthrough */
	uint32_t max_stack_depth; /* sent in the INIT reply */
	bool asked;               /* the INIT reply asks for it (init callback) */
	/* Set once the INIT reply has gone out with FUSE_PASSTHROUGH; read by
	 * open/create afterwards (the kernel sends no OPEN before it). */
	atomic_bool active;
	pthread_mutex_t lock;     /* fs_inode.pt_backing_id and pt_opens */
	atomic_uint_fast64_t opens;     /* passthrough opens replied */
	atomic_uint_fast64_t fallbacks; /* opens served the normal way */
	atomic_int warned;        /* a failed BACKING_OPEN was logged */
};

/* Checks at start-up, before mounting: -o passthrough needs CAP_SYS_ADMIN.
 * Returns 0 or -EPERM with a one-line message in err. Also picks the stack
 * depth for BACKING (2 on an overlayfs, else 1). */
int fs_passthrough_preflight(struct fs_ctx *c, const char *backing, char *err, size_t len);

/* From the init callback: whether passthrough will be asked for (offered,
 * wanted, no writeback cache). Logs a warning when wanted but impossible. */
bool fs_passthrough_init(struct fs_ctx *c, const struct fuse_conn_info *conn);

/* Whether opens are to be passthrough (the kernel agreed at INIT). */
bool fs_passthrough_active(struct fs_ctx *c);

/* Open/create of regular file i whose backing fd is fd (any open mode):
 * returns the inode's backing id (registering fd when it has none) with
 * one more open counted, or -errno (the open should then go the normal
 * way: a warning is logged once). */
int fs_passthrough_get(struct fs_ctx *c, struct fs_inode *i, int fd);
/* Drops the count taken by get; the last one closes the id. */
void fs_passthrough_put(struct fs_ctx *c, struct fs_inode *i);

/* Arms this thread's next OPEN/CREATE reply carrying fh: the writev
 * function adds FOPEN_PASSTHROUGH and backing_id to it. Disarm after the
 * reply call returns (whatever it returned). */
void fs_passthrough_arm(uint64_t fh, int backing_id);
void fs_passthrough_disarm(void);

/* For the session's writev (dev_io.c): edits an armed OPEN/CREATE reply in
 * place; edits the INIT reply when passthrough was asked for. */
struct iovec;
struct fp_init_out;
void fs_passthrough_edit_open_reply(struct iovec *iov, int count);
void fs_passthrough_edit_init_reply(struct fs_ctx *c, struct fp_init_out *io);

void fs_passthrough_destroy(struct fs_ctx *c);

#endif
