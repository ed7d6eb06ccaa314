/* Kernel FUSE passthrough of open files: the session's I/O functions, the
 * INIT and OPEN/CREATE reply edits, and the per-inode backing ids. See
 * passthrough.h for the design and the kernel rules it follows. */
#include "fs/passthrough.h"

#include <errno.h>
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
#include "fs/fuse_proto.h"

/* Flags the kernel accepts with FOPEN_PASSTHROUGH (iomode.c). DIRECT_IO is
 * among them but sends reads and writes to us: we never set it. */
#define PT_FOPEN_ALLOWED (FP_FOPEN_PARALLEL_DIRECT_WRITES | FP_FOPEN_NOFLUSH)

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
void fs_passthrough_edit_open_reply(struct iovec *iov, int count)
{
	struct fp_out_header oh;
	struct fp_open_out oo;
	if (!armed_reply.armed || count != 2 || iov[0].iov_len != sizeof(oh) ||
	    iov[1].iov_len < sizeof(oo))
		return;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	char *at = (char *)iov[1].iov_base + iov[1].iov_len - sizeof(oo);
	memcpy(&oo, at, sizeof(oo));
	if (oh.error != 0 || oo.fh != armed_reply.fh)
		return;
	oo.open_flags = (oo.open_flags & PT_FOPEN_ALLOWED) | FP_FOPEN_PASSTHROUGH;
	oo.backing_id = armed_reply.backing_id;
	memcpy(at, &oo, sizeof(oo));
}

void fs_passthrough_edit_init_reply(struct fs_ctx *c, struct fp_init_out *io)
{
	if (!c->pt.asked)
		return;
	if (!(io->flags & FP_INIT_EXT) || (io->flags & FP_WRITEBACK_CACHE)) {
		sfs_warn("passthrough: INIT reply without FUSE_INIT_EXT or with the writeback "
			 "cache: serving reads and writes through the daemon");
		return;
	}
	io->flags2 |= FP_PASSTHROUGH_FLAGS2;
	io->max_stack_depth = c->pt.max_stack_depth;
	atomic_store(&c->pt.active, true);
}

bool fs_passthrough_init(struct fs_ctx *c, const struct fuse_conn_info *conn)
{
	c->pt.asked = false;
	if (!c->pt.wanted)
		return false;
	if (!(c->dev.offered_flags2 & FP_PASSTHROUGH_FLAGS2)) {
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
		struct fp_backing_map map = {.fd = fd};
		id = ioctl(c->dev.fd, FP_DEV_IOC_BACKING_OPEN, &map);
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
	if (id > 0 && ioctl(c->dev.fd, FP_DEV_IOC_BACKING_CLOSE, &id) < 0)
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
