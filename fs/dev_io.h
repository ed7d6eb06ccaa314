/* The session's I/O functions: what stands between libfuse and /dev/fuse
 * when shadowfs speaks parts of the protocol libfuse 3.14 lacks (kernel
 * passthrough, passthrough.h; FUSE over io_uring, uring.h). Installed with
 * fuse_session_custom_io only when one of them is wanted; they are the
 * plain read, writev and splice system calls, except that
 *   - read notes the FUSE_INIT request (its unique id and what the kernel
 *     offers in flags2), looks at each request for killpriv.h and turns a
 *     FUSE_TMPFILE into a create libfuse serves (tmpfile.h);
 *   - writev has the INIT reply edited by both layers, an armed OPEN or
 *     CREATE reply edited by passthrough, and a reply to a request that
 *     came through an io_uring entry written into that entry instead. */
#ifndef SHADOWFS_FS_DEV_IO_H
#define SHADOWFS_FS_DEV_IO_H

#include <fuse_lowlevel.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct fs_ctx;

/* Per-mount state, in struct fs_ctx. The INIT handshake runs on one
 * thread, in order (read, init callback, writev), before any other
 * request. */
struct fs_dev_io {
	int fd;                   /* the session's /dev/fuse fd, -1 before install */
	atomic_bool init_seen;    /* FUSE_INIT was read */
	uint64_t init_unique;     /* unique id of FUSE_INIT; 0 once answered */
	uint32_t offered_flags;   /* flags of the INIT request */
	uint32_t offered_flags2;  /* flags2 of the INIT request (0 without INIT_EXT) */
	bool killpriv;            /* ask for FUSE_HANDLE_KILLPRIV_V2 (killpriv.h) */
};

/* Puts our I/O functions between the session and /dev/fuse (for the INIT
 * edits of passthrough, io_uring and killpriv, and the look at each
 * request killpriv and O_TMPFILE need: always, but with -o splice);
 * call after fuse_session_mount, before serving. */
int fs_dev_io_install(struct fs_ctx *c, struct fuse_session *se);

#endif
