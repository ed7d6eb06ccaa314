/* The FUSE session's I/O functions: what sits between libfuse and
 * /dev/fuse (fuse_session_custom_io), installed on every mount. They are
 * the plain syscalls, except that they speak the parts of the protocol
 * that libfuse 3.14 does not know:
 *   - read notes the flags the kernel offers in its FUSE_INIT request (the
 *     first request, read by one thread before any other);
 *   - writev edits the INIT reply (matched by its unique id):
 *       FUSE_DIRECT_IO_ALLOW_MMAP (protocol 7.39, Linux 6.6) whenever the
 *       kernel offers it: a shared mmap of a file opened with
 *       FOPEN_DIRECT_IO (an O_DIRECT open, or any open with cache=never)
 *       then works as it does on BACKING instead of failing with ENODEV
 *       (the kernel keeps mmap'ed pages coherent with direct I/O);
 *       FUSE_PASSTHROUGH and max_stack_depth for -o passthrough
 *       (fs/passthrough.c decides);
 *     and an OPEN/CREATE reply that a passthrough handler armed
 *     (fs_passthrough_patch_open_reply).
 * After INIT a request costs one atomic load in read and one thread-local
 * test plus one atomic load in writev. */
#ifndef SHADOWFS_FS_SESSION_IO_H
#define SHADOWFS_FS_SESSION_IO_H

#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fs_ctx;

/* Per-mount state, in struct fs_ctx. The INIT handshake runs on one
 * thread, in order (read, init callback, writev), before any other
 * request. */
struct fs_session_io {
	int dev_fd;		  /* the session's /dev/fuse fd, -1 before install */
	atomic_bool init_seen;	  /* FUSE_INIT was read */
	uint64_t init_unique;	  /* unique id of FUSE_INIT; 0 once answered */
	uint32_t offered_flags;	  /* the INIT request's flags */
	uint32_t offered_flags2;  /* and flags2 (0 without FUSE_INIT_EXT) */
	bool mmap_direct;	  /* FUSE_DIRECT_IO_ALLOW_MMAP went out in the reply */
};

/* Protocol bits libfuse 3.14's headers lack (include/uapi/linux/fuse.h). */
#define FS_INIT_EXT (1u << 30)		     /* init flags: flags2 is valid */
#define FS_INIT_WRITEBACK_CACHE (1u << 16)    /* init flags */
#define FS_INIT2_DIRECT_IO_ALLOW_MMAP (1u << 4) /* bit 36, in flags2 */
#define FS_INIT2_PASSTHROUGH (1u << 5)	     /* bit 37, in flags2 */

/* fuse_init_out up to max_stack_depth (the reply is 64 bytes). */
struct fs_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};

/* Puts our I/O functions between the session and /dev/fuse; call after
 * fuse_session_mount, before serving. 0 or -errno. */
int fs_session_io_install(struct fs_ctx *c, struct fuse_session *se);

/* Whether the kernel's INIT request offered flags2 bit (FS_INIT2_*). */
bool fs_session_io_offered2(const struct fs_ctx *c, uint32_t bit);

#endif
