/* The FUSE session's I/O functions and the INIT reply edits (see
 * session_io.h). */
#include "fs/session_io.h"

#include <fcntl.h> /* splice */
#include <stddef.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/fs.h"

#define OP_INIT 26u

/* Layouts are the kernel's (protocol 7.40). */
struct in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};
struct init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};
struct out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

_Static_assert(sizeof(struct in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct out_header) == 16, "fuse_out_header");
_Static_assert(offsetof(struct init_in, flags2) == 16, "fuse_init_in.flags2");
_Static_assert(offsetof(struct fs_init_out, flags2) == 32, "fuse_init_out.flags2");
_Static_assert(offsetof(struct fs_init_out, max_stack_depth) == 36, "max_stack_depth");

bool fs_session_io_offered2(const struct fs_ctx *c, uint32_t bit)
{
	return (c->sio.offered_flags & FS_INIT_EXT) && (c->sio.offered_flags2 & bit);
}

static void patch_init_reply(struct fs_ctx *c, struct iovec *iov, int count)
{
	struct out_header oh;
	struct fs_init_out io;
	uint64_t unique = __atomic_load_n(&c->sio.init_unique, __ATOMIC_ACQUIRE);
	if (count < 1 || iov[0].iov_len != sizeof(oh))
		return;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != unique)
		return;
	__atomic_store_n(&c->sio.init_unique, 0, __ATOMIC_RELEASE);
	if (oh.error != 0)
		return;
	if (count != 2 || iov[1].iov_len < sizeof(io)) {
		sfs_warn("unexpected FUSE INIT reply layout: protocol extensions off "
			 "(shared mmap of direct-I/O files, passthrough)");
		return;
	}
	memcpy(&io, iov[1].iov_base, sizeof(io));
	if (!(io.flags & FS_INIT_EXT))
		return;
	if (fs_session_io_offered2(c, FS_INIT2_DIRECT_IO_ALLOW_MMAP)) {
		io.flags2 |= FS_INIT2_DIRECT_IO_ALLOW_MMAP;
		c->sio.mmap_direct = true;
	}
	fs_passthrough_edit_init(c, &io);
	memcpy(iov[1].iov_base, &io, sizeof(io));
}

static ssize_t sio_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fs_ctx *c = userdata;
	if (!fs_passthrough_patch_open_reply(iov, count) &&
	    __atomic_load_n(&c->sio.init_unique, __ATOMIC_ACQUIRE))
		patch_init_reply(c, iov, count);
	return writev(fd, iov, count);
}

/* Notes the FUSE_INIT request (the first one, always read, never spliced:
 * libfuse splices only once INIT has agreed to it). */
static ssize_t sio_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fs_ctx *c = userdata;
	ssize_t n = read(fd, buf, len);
	if (n < (ssize_t)sizeof(struct in_header) ||
	    atomic_load_explicit(&c->sio.init_seen, memory_order_relaxed))
		return n;
	struct in_header ih;
	memcpy(&ih, buf, sizeof(ih));
	if (ih.opcode != OP_INIT)
		return n;
	atomic_store(&c->sio.init_seen, true);
	struct init_in ii = {0};
	size_t have = (size_t)n - sizeof(ih);
	memcpy(&ii, (char *)buf + sizeof(ih), have < sizeof(ii) ? have : sizeof(ii));
	c->sio.offered_flags = ii.flags;
	c->sio.offered_flags2 = have >= sizeof(ii) ? ii.flags2 : 0;
	__atomic_store_n(&c->sio.init_unique, ih.unique, __ATOMIC_RELEASE);
	return n;
}

static ssize_t sio_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			  unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int fs_session_io_install(struct fs_ctx *c, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.writev = sio_writev,
		.read = sio_read,
		.splice_receive = sio_splice,
		.splice_send = sio_splice,
	};
	c->sio.dev_fd = fuse_session_fd(se);
	return fuse_session_custom_io(se, &io, c->sio.dev_fd);
}
