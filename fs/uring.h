/* FUSE over io_uring (-o io_uring): the kernel hands requests to the
 * daemon through io_uring command rings, one queue per CPU, instead of
 * read(2) and writev(2) on /dev/fuse. A request made on CPU n goes to the
 * queue of CPU n, whose worker threads are pinned to that CPU, and one
 * io_uring_enter commits a reply and waits for the next request: no
 * cross-CPU wake-up and one system call per request instead of two.
 * Needs Linux >= 6.14 with CONFIG_FUSE_IO_URING and the fuse module's
 * enable_uring parameter on (/sys/module/fuse/parameters/enable_uring).
 *
 * libfuse 3.14 knows nothing of it, so this layer does that part of the
 * protocol itself, around libfuse's request decoder:
 *   - the INIT reply gets FUSE_OVER_IO_URING in flags2 (dev_io.c calls
 *     fs_uring_edit_init_reply) when the kernel offered it and we want it;
 *   - after the INIT reply, every worker registers one entry (a header
 *     buffer and a payload buffer of max_write bytes) on its CPU's queue;
 *     the kernel switches the connection to the rings once every queue
 *     has one (until then, and for FORGET and INTERRUPT always, requests
 *     come through /dev/fuse and libfuse's own threads);
 *   - a request in an entry is laid out again as libfuse expects it
 *     ([in header][op argument][payload], the payload not moved) and given
 *     to fuse_session_process_buf on the worker's thread;
 *   - the reply, which libfuse hands to the session's writev (dev_io.c),
 *     is recognised by its unique id as this thread's request
 *     (fs_uring_reply) and written into the entry, then committed.
 * Rule this relies on: every handler replies on the thread that runs it,
 * before returning (true of every op of shadowfs). A handler that did not
 * is answered EIO, and the event is logged.
 *
 * Read replies are built in the entry's payload (fs_uring_reply_buf), so
 * that the data is copied once, by pread; splice of replies is off with
 * io_uring (a spliced reply would go to /dev/fuse, where the kernel does
 * not know the request).
 *
 * If the kernel does not offer it (parameter off, older kernel) the mount
 * runs the /dev/fuse way, with a warning. */
#ifndef SHADOWFS_FS_URING_H
#define SHADOWFS_FS_URING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fs_ctx;
struct fs_uring;
struct fp_init_out;
struct iovec;

/* Before mounting, with -o io_uring: sets up one io_uring per worker
 * (threads split over the CPUs' queues). A failure (io_uring disabled by
 * sysctl, no 128-byte SQEs) is logged and leaves *out NULL: the mount
 * then runs the /dev/fuse way. Returns 0, or -ENOMEM. */
int fs_uring_new(struct fs_ctx *c, unsigned threads, struct fs_uring **out);

/* From the init callback: whether FUSE_OVER_IO_URING will be asked for
 * (the kernel offered it: dev_io noted the INIT request). Logs a warning
 * when it cannot. The caller turns reply splicing off when true. */
bool fs_uring_init(struct fs_uring *u, uint32_t offered_flags2);
/* dev_io.c: edits the INIT reply (flags2) and learns the payload size. */
void fs_uring_edit_init_reply(struct fs_uring *u, struct fp_init_out *io);
/* dev_io.c: the INIT reply went out (the kernel accepted it when
 * writev_ok): the workers may register, or end when not asked. */
void fs_uring_init_replied(struct fs_uring *u, bool writev_ok);

/* Starts the workers (they wait for the INIT reply); after the session is
 * mounted and its I/O functions installed, before serving. */
int fs_uring_start(struct fs_uring *u, struct fuse_session *se);

/* dev_io.c, for every reply: when it answers the ring request this thread
 * is serving, writes it into the entry and returns true (the worker
 * commits it after the handler returns); else false. */
bool fs_uring_reply(const struct iovec *iov, int count);

/* A buffer of size bytes for a reply built in place (READ), or NULL when
 * this thread serves no ring request or the payload is smaller. Valid
 * until the handler returns. */
void *fs_uring_reply_buf(size_t size);

/* After the loop ended: wakes and joins the workers, frees everything.
 * NULL is fine. Requests still arriving wait for the device to close. */
void fs_uring_free(struct fs_uring *u);

#endif
