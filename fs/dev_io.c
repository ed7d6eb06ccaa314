/* The session's I/O functions between libfuse and /dev/fuse: the INIT
 * handshake edits (passthrough, io_uring, killpriv, shared mmap of direct
 * I/O files), the look at each request (killpriv, O_TMPFILE) and the
 * hand-off of replies to passthrough and io_uring. See dev_io.h. */
#include "fs/dev_io.h"

#include <errno.h>
#include <fcntl.h> /* splice */
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/fuse_proto.h"
#include "fs/kernel_order.h"
#include "fs/killpriv.h"
#include "fs/tmpfile.h"
#include "fs/uring.h"

#ifdef __SANITIZE_THREAD__
char fs_kernel_queue; /* kernel_order.h */
#endif

static size_t iov_total(const struct iovec *iov, int count)
{
	size_t n = 0;
	for (int i = 0; i < count; i++)
		n += iov[i].iov_len;
	return n;
}

/* The INIT reply: [out header][fuse_init_out]. Returns whether iov is it. */
static bool edit_init_reply(struct fs_ctx *c, struct iovec *iov, int count)
{
	struct fp_out_header oh;
	struct fp_init_out io;
	uint64_t unique = __atomic_load_n(&c->dev.init_unique, __ATOMIC_ACQUIRE);
	if (!unique || count < 1 || iov[0].iov_len != sizeof(oh))
		return false;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != unique)
		return false;
	__atomic_store_n(&c->dev.init_unique, 0, __ATOMIC_RELEASE);
	if (oh.error != 0 || count != 2 || iov[1].iov_len < sizeof(io))
		return true;
	memcpy(&io, iov[1].iov_base, sizeof(io));
	fs_passthrough_edit_init_reply(c, &io);
	/* cache=never gives every open FOPEN_DIRECT_IO: without this flag the
	 * kernel refuses their shared mmaps (ENODEV). Other mounts leave it
	 * off (O_DIRECT opens do not get FOPEN_DIRECT_IO). */
	if (c->opts->cache == FS_CACHE_NEVER && (io.flags & FP_INIT_EXT) &&
	    (c->dev.offered_flags2 & FP_DIRECT_IO_ALLOW_MMAP_FLAGS2))
		io.flags2 |= FP_DIRECT_IO_ALLOW_MMAP_FLAGS2;
	fs_uring_edit_init_reply(c->uring, &io);
	if (c->dev.killpriv && (c->dev.offered_flags & FS_KILLPRIV_V2_FLAG))
		io.flags |= FS_KILLPRIV_V2_FLAG;
	memcpy(iov[1].iov_base, &io, sizeof(io));
	return true;
}

static ssize_t dev_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fs_ctx *c = userdata;
	fs_kernel_order_reply();
	fs_passthrough_edit_open_reply(iov, count);
	if (fs_uring_reply(iov, count))
		return (ssize_t)iov_total(iov, count);
	bool init = edit_init_reply(c, iov, count);
	ssize_t n = writev(fd, iov, count);
	if (init)
		fs_uring_init_replied(c->uring, n >= 0);
	return n;
}

/* Notes the FUSE_INIT request (the first one, always read, never spliced:
 * libfuse splices only once INIT has agreed to it), and whether each
 * request asks to kill privileges (killpriv.h); turns FUSE_TMPFILE into
 * the create libfuse can serve (tmpfile.h). */
static ssize_t dev_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fs_ctx *c = userdata;
	ssize_t n = read(fd, buf, len);
	fs_kernel_order_request();
	if (n > 0) {
		fs_killpriv_note(buf, (size_t)n);
		fs_tmpfile_rewrite(buf, (size_t)n);
	}
	if (n < (ssize_t)sizeof(struct fp_in_header) || atomic_load(&c->dev.init_seen))
		return n;
	struct fp_in_header ih;
	memcpy(&ih, buf, sizeof(ih));
	if (ih.opcode != FP_OP_INIT)
		return n;
	atomic_store(&c->dev.init_seen, true);
	struct fp_init_in ii = {0};
	size_t have = (size_t)n - sizeof(ih);
	memcpy(&ii, (char *)buf + sizeof(ih), have < sizeof(ii) ? have : sizeof(ii));
	c->dev.offered_flags = ii.flags;
	c->dev.offered_flags2 = have >= sizeof(ii) && (ii.flags & FP_INIT_EXT) ? ii.flags2 : 0;
	__atomic_store_n(&c->dev.init_unique, ih.unique, __ATOMIC_RELEASE);
	return n;
}

static ssize_t dev_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				  unsigned int flags, void *userdata)
{
	(void)userdata;
	ssize_t n = splice(fdin, offin, fdout, offout, len, flags);
	fs_kernel_order_request();
	return n;
}

static ssize_t dev_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			       unsigned int flags, void *userdata)
{
	(void)userdata;
	fs_kernel_order_reply();
	return splice(fdin, offin, fdout, offout, len, flags);
}

int fs_dev_io_install(struct fs_ctx *c, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.writev = dev_writev,
		.read = dev_read,
		.splice_receive = dev_splice_receive,
		.splice_send = dev_splice_send,
	};
	c->dev.fd = fuse_session_fd(se);
	/* Kernel passthrough writes bypass us; spliced requests are not seen
	 * (neither their killpriv flags nor a FUSE_TMPFILE: tmpfile.h). */
	c->dev.killpriv = !c->pt.wanted && !c->opts->splice_read;
	bool sees_requests = !c->opts->splice_read; /* FUSE_TMPFILE made a create */
	if (!c->pt.wanted && !c->uring && !c->dev.killpriv && !sees_requests &&
	    c->opts->cache != FS_CACHE_NEVER && !FS_KERNEL_ORDER_MODELLED)
		return 0;
	return fuse_session_custom_io(se, &io, c->dev.fd);
}
