/* Kernel FUSE passthrough of open files: the session's I/O functions, the
 * INIT and OPEN/CREATE reply edits, and the per-inode backing ids. See
 * passthrough.h for the design and the kernel rules it follows. */
#include "fs/passthrough.h"

#include <errno.h>
#include <fcntl.h> /* splice */
#include <linux/capability.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/fs.h"

/* The parts of the FUSE protocol (include/uapi/linux/fuse.h, 7.40) that
 * libfuse 3.14's headers lack or keep private. Layouts are the kernel's. */
#define PT_OP_INIT 26u
#define PT_INIT_EXT (1u << 30)            /* init flags: flags2 is valid */
#define PT_WRITEBACK_CACHE (1u << 16)     /* init flags */
#define PT_PASSTHROUGH_FLAGS2 (1u << 5)   /* FUSE_PASSTHROUGH (bit 37), in flags2 */
#define PT_FOPEN_DIRECT_IO (1u << 0)
#define PT_FOPEN_NOFLUSH (1u << 5)
#define PT_FOPEN_PARALLEL_DIRECT_WRITES (1u << 6)
#define PT_FOPEN_PASSTHROUGH (1u << 7)

struct pt_in_header {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};
struct pt_init_in {
	uint32_t major, minor, max_readahead, flags, flags2;
};
struct pt_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};
/* fuse_init_out up to max_stack_depth (the reply is 64 bytes). */
struct pt_init_out {
	uint32_t major, minor, max_readahead, flags;
	uint16_t max_background, congestion_threshold;
	uint32_t max_write, time_gran;
	uint16_t max_pages, map_alignment;
	uint32_t flags2, max_stack_depth;
};
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id; /* "padding" in libfuse 3.14 */
};
struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_DEV_IOC_MAGIC 229
#define PT_DEV_IOC_BACKING_OPEN _IOW(PT_DEV_IOC_MAGIC, 1, struct pt_backing_map)
#define PT_DEV_IOC_BACKING_CLOSE _IOW(PT_DEV_IOC_MAGIC, 2, uint32_t)

_Static_assert(sizeof(struct pt_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct pt_out_header) == 16, "fuse_out_header");
_Static_assert(offsetof(struct pt_init_in, flags2) == 16, "fuse_init_in.flags2");
_Static_assert(offsetof(struct pt_init_out, flags2) == 32, "fuse_init_out.flags2");
_Static_assert(offsetof(struct pt_init_out, max_stack_depth) == 36, "max_stack_depth");
_Static_assert(sizeof(struct pt_open_out) == 16, "fuse_open_out");
_Static_assert(sizeof(struct pt_backing_map) == 16, "fuse_backing_map");

/* Flags the kernel accepts with FOPEN_PASSTHROUGH (iomode.c). DIRECT_IO is
 * among them but sends reads and writes to us: we never set it. */
#define PT_FOPEN_ALLOWED (PT_FOPEN_PARALLEL_DIRECT_WRITES | PT_FOPEN_NOFLUSH)

int fs_passthrough_preflight(struct fs_ctx *c, const char *backing, char *err, size_t len)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct caps[2];
	if (!c->pt.wanted)
		return 0;
	if (syscall(SYS_capget, &hdr, caps) != 0 ||
	    !(caps[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32)))) {
		snprintf(err, len, "-o passthrough needs CAP_SYS_ADMIN (run shadowfs as root), "
				   "or mount without it");
		return -EPERM;
	}
	/* The kernel refuses a backing file whose filesystem is stacked as
	 * deep as the depth we announce (ELOOP): one layer below us is
	 * enough for ext4, xfs, tmpfs; a stacked BACKING needs two. */
	struct statfs sf;
	c->pt.max_stack_depth = 1;
	if (statfs(backing, &sf) == 0 &&
	    (sf.f_type == OVERLAYFS_SUPER_MAGIC || sf.f_type == FUSE_SUPER_MAGIC))
		c->pt.max_stack_depth = 2;
	return 0;
}

/* This thread's armed OPEN/CREATE reply (fs_passthrough_arm). */
static __thread struct {
	bool armed;
	uint64_t fh;
	int backing_id;
} armed_reply;

void fs_passthrough_arm(uint64_t fh, int backing_id)
{
	armed_reply.fh = fh;
	armed_reply.backing_id = backing_id;
	armed_reply.armed = true;
}

void fs_passthrough_disarm(void)
{
	armed_reply.armed = false;
}

/* The reply of an open is [out header][fuse_open_out]; of a create
 * [out header][fuse_entry_out fuse_open_out] in one buffer: the open part
 * is last either way. memcpy: the create buffer is a char array. */
static void patch_open_reply(struct iovec *iov, int count)
{
	struct pt_out_header oh;
	struct pt_open_out oo;
	if (count != 2 || iov[0].iov_len != sizeof(oh) || iov[1].iov_len < sizeof(oo))
		return;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	char *at = (char *)iov[1].iov_base + iov[1].iov_len - sizeof(oo);
	memcpy(&oo, at, sizeof(oo));
	if (oh.error != 0 || oo.fh != armed_reply.fh)
		return;
	oo.open_flags = (oo.open_flags & PT_FOPEN_ALLOWED) | PT_FOPEN_PASSTHROUGH;
	oo.backing_id = armed_reply.backing_id;
	memcpy(at, &oo, sizeof(oo));
}

static void patch_init_reply(struct fs_ctx *c, struct iovec *iov, int count)
{
	struct pt_out_header oh;
	struct pt_init_out io;
	uint64_t unique = __atomic_load_n(&c->pt.init_unique, __ATOMIC_ACQUIRE);
	if (count < 1 || iov[0].iov_len != sizeof(oh))
		return;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	if (oh.unique != unique)
		return;
	__atomic_store_n(&c->pt.init_unique, 0, __ATOMIC_RELEASE);
	if (!c->pt.asked || oh.error != 0)
		return;
	if (count != 2 || iov[1].iov_len < sizeof(io)) {
		sfs_warn("passthrough: unexpected INIT reply layout: serving reads and "
			 "writes through the daemon");
		return;
	}
	memcpy(&io, iov[1].iov_base, sizeof(io));
	if (!(io.flags & PT_INIT_EXT) || (io.flags & PT_WRITEBACK_CACHE)) {
		sfs_warn("passthrough: INIT reply without FUSE_INIT_EXT or with the writeback "
			 "cache: serving reads and writes through the daemon");
		return;
	}
	io.flags2 |= PT_PASSTHROUGH_FLAGS2;
	io.max_stack_depth = c->pt.max_stack_depth;
	memcpy(iov[1].iov_base, &io, sizeof(io));
	atomic_store(&c->pt.active, true);
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fs_ctx *c = userdata;
	if (armed_reply.armed)
		patch_open_reply(iov, count);
	else if (__atomic_load_n(&c->pt.init_unique, __ATOMIC_ACQUIRE))
		patch_init_reply(c, iov, count);
	return writev(fd, iov, count);
}

/* Notes the FUSE_INIT request (the first one, always read, never spliced:
 * libfuse splices only once INIT has agreed to it). */
static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	struct fs_ctx *c = userdata;
	ssize_t n = read(fd, buf, len);
	if (n < (ssize_t)sizeof(struct pt_in_header) || atomic_load(&c->pt.init_seen))
		return n;
	struct pt_in_header ih;
	memcpy(&ih, buf, sizeof(ih));
	if (ih.opcode != PT_OP_INIT)
		return n;
	atomic_store(&c->pt.init_seen, true);
	struct pt_init_in ii = {0};
	size_t have = (size_t)n - sizeof(ih);
	memcpy(&ii, (char *)buf + sizeof(ih), have < sizeof(ii) ? have : sizeof(ii));
	c->pt.offered = have >= sizeof(ii) && (ii.flags & PT_INIT_EXT) &&
			(ii.flags2 & PT_PASSTHROUGH_FLAGS2);
	__atomic_store_n(&c->pt.init_unique, ih.unique, __ATOMIC_RELEASE);
	return n;
}

static ssize_t pt_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			 unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int fs_passthrough_install(struct fs_ctx *c, struct fuse_session *se)
{
	static const struct fuse_custom_io io = {
		.writev = pt_writev,
		.read = pt_read,
		.splice_receive = pt_splice,
		.splice_send = pt_splice,
	};
	if (!c->pt.wanted)
		return 0;
	c->pt.dev_fd = fuse_session_fd(se);
	return fuse_session_custom_io(se, &io, c->pt.dev_fd);
}

bool fs_passthrough_init(struct fs_ctx *c, const struct fuse_conn_info *conn)
{
	c->pt.asked = false;
	if (!c->pt.wanted)
		return false;
	if (!c->pt.offered) {
		sfs_warn("passthrough: the kernel does not offer FUSE passthrough (Linux >= 6.9 "
			 "with CONFIG_FUSE_PASSTHROUGH needed): serving reads and writes "
			 "through the daemon");
		return false;
	}
	if (conn->want & FUSE_CAP_WRITEBACK_CACHE) {
		sfs_warn("passthrough: not with the writeback cache: serving reads and writes "
			 "through the daemon");
		return false;
	}
	c->pt.asked = true;
	return true;
}

bool fs_passthrough_active(struct fs_ctx *c)
{
	return atomic_load_explicit(&c->pt.active, memory_order_relaxed);
}

int fs_passthrough_get(struct fs_ctx *c, struct fs_inode *i, int fd)
{
	int id;
	pthread_mutex_lock(&c->pt.lock);
	if (i->pt_opens == 0) {
		struct pt_backing_map map = {.fd = fd};
		id = ioctl(c->pt.dev_fd, PT_DEV_IOC_BACKING_OPEN, &map);
		if (id <= 0) {
			id = id < 0 ? -errno : -EIO;
			pthread_mutex_unlock(&c->pt.lock);
			atomic_fetch_add(&c->pt.fallbacks, 1);
			if (atomic_exchange(&c->pt.warned, 1) == 0)
				sfs_warn("passthrough: FUSE_DEV_IOC_BACKING_OPEN failed (%s): "
					 "such opens are served through the daemon",
					 strerror(-id));
			return id;
		}
		i->pt_backing_id = id;
	}
	i->pt_opens++;
	id = i->pt_backing_id;
	pthread_mutex_unlock(&c->pt.lock);
	atomic_fetch_add(&c->pt.opens, 1);
	return id;
}

void fs_passthrough_put(struct fs_ctx *c, struct fs_inode *i)
{
	uint32_t id = 0;
	pthread_mutex_lock(&c->pt.lock);
	if (i->pt_opens > 0 && --i->pt_opens == 0) {
		id = (uint32_t)i->pt_backing_id;
		i->pt_backing_id = 0;
	}
	pthread_mutex_unlock(&c->pt.lock);
	/* Outside the lock: an open racing with this gets a new id, which the
	 * kernel accepts (the inode's last passthrough file is closed: our
	 * RELEASE comes after the kernel let go of the old backing file). */
	if (id > 0 && ioctl(c->pt.dev_fd, PT_DEV_IOC_BACKING_CLOSE, &id) < 0)
		sfs_debug("passthrough: FUSE_DEV_IOC_BACKING_CLOSE %u: %s", id, strerror(errno));
}

void fs_passthrough_destroy(struct fs_ctx *c)
{
	if (!c->pt.ready)
		return;
	c->pt.ready = false;
	pthread_mutex_destroy(&c->pt.lock);
	if (!c->pt.wanted)
		return;
	sfs_debug("passthrough: %llu opens, %llu served through the daemon",
		  (unsigned long long)atomic_load(&c->pt.opens),
		  (unsigned long long)atomic_load(&c->pt.fallbacks));
}
