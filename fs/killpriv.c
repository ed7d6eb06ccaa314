/* Clearing set-id bits and capabilities for the kernel (killpriv.h). */
#include "fs/killpriv.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

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

int fs_killpriv_apply(int fd)
{
	char path[32];
	struct stat st;
	fs_proc_path(path, fd);
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	mode_t kill = S_ISUID | ((st.st_mode & S_IXGRP) ? S_ISGID : 0);
	if ((st.st_mode & kill) && chmod(path, st.st_mode & ~kill & 07777) < 0)
		return -errno;
	if (removexattr(path, "security.capability") < 0 && errno != ENODATA &&
	    errno != ENOTSUP)
		return -errno;
	return 0;
}
