/* Clearing set-id bits and capabilities for the kernel (killpriv.h). */
#include "fs/killpriv.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "fs/creds.h"
#include "fs/fs.h"
#include "fs/fuse_proto.h"

static __thread bool kill_due;

void fs_killpriv_note(const void *buf, size_t len)
{
	struct fp_in_header ih;
	const char *arg = (const char *)buf + sizeof(ih);
	size_t have = len > sizeof(ih) ? len - sizeof(ih) : 0;
	uint32_t v = 0;
	kill_due = false;
	if (len < sizeof(ih))
		return;
	memcpy(&ih, buf, sizeof(ih));
	switch (ih.opcode) {
	case FP_OP_WRITE: /* fuse_write_in.write_flags */
		if (have >= FP_WRITE_FLAGS_OFF + 4) {
			memcpy(&v, arg + FP_WRITE_FLAGS_OFF, 4);
			kill_due = (v & FP_WRITE_KILL_SUIDGID) != 0;
		}
		break;
	case FP_OP_SETATTR: /* fuse_setattr_in.valid */
		if (have >= 4) {
			memcpy(&v, arg, 4);
			kill_due = (v & FP_FATTR_KILL_SUIDGID) != 0;
		}
		break;
	case FP_OP_OPEN: /* fuse_open_in.open_flags */
		if (have >= 8) {
			memcpy(&v, arg + 4, 4);
			kill_due = (v & FP_OPEN_KILL_SUIDGID) != 0;
		}
		break;
	case FP_OP_CREATE: /* fuse_create_in.open_flags */
		if (have >= 16) {
			memcpy(&v, arg + 12, 4);
			kill_due = (v & FP_OPEN_KILL_SUIDGID) != 0;
		}
		break;
	}
}

bool fs_killpriv_due(void)
{
	return kill_due;
}

/* Whether req's caller loses the S_ISGID of a node of mode and group gid
 * (the kernel's setattr_should_drop_sgid): always when group executable,
 * else when it holds no CAP_FSETID (fsetid) and is not in the group. */
static bool drops_sgid(fuse_req_t req, bool fsetid, mode_t mode, gid_t gid)
{
	if (!(mode & S_ISGID))
		return false;
	return (mode & S_IXGRP) || (!fsetid && !fs_creds_in_group(req, gid));
}

/* fd's mode without bits, through its /proc path (any fd, O_PATH too), st
 * its stat: 0 or -errno; nothing to clear is 0. */
static int chmod_without(int fd, const struct stat *st, mode_t bits)
{
	char path[32];
	if (!(st->st_mode & bits))
		return 0;
	fs_proc_path(path, fd);
	return chmod(path, st->st_mode & ~bits & 07777) < 0 ? -errno : 0;
}

int fs_killpriv_apply(fuse_req_t req, int fd, bool fsetid)
{
	char path[32];
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	int r = chmod_without(fd, &st,
			      S_ISUID | (drops_sgid(req, fsetid, st.st_mode, st.st_gid) ? S_ISGID : 0));
	if (r < 0)
		return r;
	fs_proc_path(path, fd);
	if (removexattr(path, "security.capability") < 0 && errno != ENODATA &&
	    errno != ENOTSUP)
		return -errno;
	return 0;
}

int fs_killpriv_after_chown(fuse_req_t req, int fd, const struct stat *old)
{
	struct stat st;
	if (fuse_req_ctx(req)->uid == 0 || S_ISDIR(old->st_mode) || S_ISLNK(old->st_mode) ||
	    (old->st_mode & (S_ISGID | S_IXGRP)) != S_ISGID ||
	    !drops_sgid(req, false, old->st_mode, old->st_gid))
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	return chmod_without(fd, &st, S_ISGID);
}
