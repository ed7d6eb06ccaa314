/* Passthrough of extended attributes, every namespace but the reserved
 * user.shadow.* (answered by xattr_shadow.c, filtered from listings).
 * Calls run as the caller through /proc/self/fd/N, so the backing
 * filesystem applies its own rules (user.* needs file permissions,
 * trusted.* needs CAP_SYS_ADMIN, ACLs are system.posix_acl_*). Symlinks
 * have no race-free path-based xattr call: list is empty, get is ENODATA,
 * set/remove are EPERM (what Linux answers for user.* on symlinks). */
#include "fs/ops.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/creds.h"
#include "fs/fs.h"
#include "fs/xattr_shadow.h"

#define XATTR_LIST_RETRIES 3

enum xop { XGET, XSET, XLIST, XREMOVE };

struct xargs {
	enum xop op;
	const char *name;
	const char *value; /* set */
	size_t size;       /* buffer size (get/list) or value size (set) */
	int flags;         /* set */
	char *out;         /* get/list result, malloc'd, owned by caller */
	fuse_req_t req;    /* list: whose listing (trusted.* or not) */
};

static ssize_t list_backing(const char *path, char **ret)
{
	ssize_t n = listxattr(path, NULL, 0);
	for (int k = 0; k < XATTR_LIST_RETRIES && n >= 0; k++) {
		char *buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		ssize_t m = listxattr(path, buf, (size_t)n);
		if (m >= 0) {
			*ret = buf;
			return m;
		}
		free(buf);
		if (errno != ERANGE)
			return -errno;
		n = listxattr(path, NULL, 0); /* grew meanwhile */
	}
	return n < 0 ? -errno : -ERANGE;
}

/* Whether a listing names a trusted.* attribute. */
static bool lists_trusted(const char *list, size_t len)
{
	for (size_t in = 0; in < len; in += strnlen(list + in, len - in) + 1)
		if (strncmp(list + in, "trusted.", 8) == 0)
			return true;
	return false;
}

/* Whether req's caller may see trusted.* names: Linux lists them only to
 * CAP_SYS_ADMIN callers. A non-root caller's listing is made without
 * capabilities (BACKING leaves them out); root's with the daemon's, so a
 * root process without CAP_SYS_ADMIN (a service's bounding set) is asked. */
static bool sees_trusted(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == 0 && fs_creds_caller_capable(req, CAP_SYS_ADMIN);
}

/* Removes the user.shadow.* names from a listing, and the trusted.* ones
 * when hide_trusted; returns the new length. */
static size_t filter_names(char *list, size_t len, bool hide_trusted)
{
	size_t in = 0, out = 0;
	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;
		bool hide = fs_xattr_is_shadow(list + in) ||
			    (hide_trusted && strncmp(list + in, "trusted.", 8) == 0);
		if (!hide) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

static ssize_t do_list(struct fs_ctx *c, struct fs_inode *i, const char *path, struct xargs *a)
{
	char *list = NULL;
	ssize_t n = list_backing(path, &list);
	if (n < 0)
		return n;
	bool hide_trusted = lists_trusted(list, (size_t)n) && !sees_trusted(a->req);
	size_t len = filter_names(list, (size_t)n, hide_trusted);
	ssize_t extra = fs_xattr_shadow_list(c, i, NULL, 0);
	if (extra < 0) {
		free(list);
		return extra;
	}
	size_t total = len + (size_t)extra;
	if (a->size == 0) {
		free(list);
		return (ssize_t)total;
	}
	if (total > a->size) {
		free(list);
		return -ERANGE;
	}
	char *out = realloc(list, total ? total : 1);
	if (!out) {
		free(list);
		return -ENOMEM;
	}
	if (extra > 0) {
		ssize_t m = fs_xattr_shadow_list(c, i, out + len, (size_t)extra);
		if (m < 0) {
			free(out);
			return m;
		}
	}
	a->out = out;
	return (ssize_t)total;
}

static ssize_t do_xattr(struct fs_ctx *c, struct fs_inode *i, int fd, struct xargs *a)
{
	char path[32];
	fs_proc_path(path, fd);
	if (i->type == S_IFLNK) {
		switch (a->op) {
		case XGET:
			return -ENODATA;
		case XLIST:
			return 0;
		default:
			return -EPERM;
		}
	}
	switch (a->op) {
	case XGET: {
		if (a->size) {
			a->out = malloc(a->size);
			if (!a->out)
				return -ENOMEM;
		}
		ssize_t n = getxattr(path, a->name, a->out, a->size);
		return n < 0 ? -errno : n;
	}
	case XSET:
		return setxattr(path, a->name, a->value, a->size, a->flags) < 0 ? -errno : 0;
	case XREMOVE:
		return removexattr(path, a->name) < 0 ? -errno : 0;
	case XLIST:
		return do_list(c, i, path, a);
	}
	return -EINVAL;
}

/* user.shadow.* follow the permission rules of user.* attributes on the
 * backing object: set/remove where the caller could set one (write
 * permission, not a sticky directory it does not own, not immutable, not a
 * read-only filesystem), get where it could read one. BACKING decides: an
 * attribute nobody sets is removed (set) or read (get) as the caller, and
 * only a refusal (EACCES, EPERM, EROFS) is passed on; ENODATA means allowed
 * (a filesystem without user xattrs answers ENOTSUP: allowed, as the
 * kernel's own checks then are the only ones). On a read-only BACKING
 * (a data set served read-only: the case shadowing is for) nobody has
 * write permission to follow, and pins and settings live in STATE, not in
 * BACKING: root may set them there, others get EROFS (before, everyone). */
#define SHADOW_ACCESS_PROBE FS_XATTR_SHADOW_PREFIX "access-probe"

static int shadow_access(fuse_req_t req, struct fs_ctx *c, struct fs_inode *i, enum xop op)
{
	struct fs_creds_saved cr;
	char path[32];
	if (!S_ISREG(i->type) && !S_ISDIR(i->type))
		return 0; /* answered by xattr_shadow.c (ENODATA / EINVAL / EPERM) */
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0)
		return fd;
	int res = fs_creds_enter(req, &cr);
	if (res == 0) {
		fs_proc_path(path, fd);
		ssize_t r = op == XGET ? getxattr(path, SHADOW_ACCESS_PROBE, NULL, 0)
				       : removexattr(path, SHADOW_ACCESS_PROBE);
		res = r < 0 && (errno == EACCES || errno == EPERM || errno == EROFS) ? -errno : 0;
		if (res == -EROFS && fuse_req_ctx(req)->uid == 0)
			res = 0;
		fs_creds_leave(&cr);
	}
	fs_inode_fd_put(c->inodes, i);
	return res;
}

/* Runs one xattr operation and replies. */
static void xattr_request(fuse_req_t req, fuse_ino_t ino, struct xargs *a)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	struct fs_creds_saved cr;
	ssize_t res;

	if (a->name && fs_xattr_is_shadow(a->name)) {
		res = c->shadowing ? shadow_access(req, c, i, a->op) : 0;
		if (res < 0)
			goto reply;
		switch (a->op) {
		case XGET:
			if (a->size) {
				a->out = malloc(a->size);
				if (!a->out) {
					res = -ENOMEM;
					break;
				}
			}
			res = fs_xattr_shadow_get(c, i, a->name, a->out, a->size);
			break;
		case XSET:
			res = fs_xattr_shadow_set(c, i, a->name, a->value, a->size, a->flags);
			break;
		default:
			res = fs_xattr_shadow_remove(c, i, a->name);
			break;
		}
		goto reply;
	}
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0) {
		res = fd;
		goto reply;
	}
	/* The kernel lets only CAP_SETFCAP callers remove security.capability
	 * (cap_inode_removexattr, before FUSE is asked), and removes it itself
	 * when a caller without that right writes to the file (file_remove_privs,
	 * as the writer). Such a REMOVEXATTR is the kernel's: done as the
	 * daemon, or a non-root write to a file with a capability fails with
	 * EPERM where natively it succeeds and drops the capability. */
	bool kernel_kill = a->op == XREMOVE && strcmp(a->name, "security.capability") == 0;
	res = kernel_kill ? 0 : fs_creds_enter(req, &cr);
	if (res == 0) {
		res = do_xattr(c, i, fd, a);
		if (!kernel_kill)
			fs_creds_leave(&cr);
	}
	fs_inode_fd_put(c->inodes, i);
reply:
	if (res < 0)
		fuse_reply_err(req, (int)-res);
	else if (a->op == XSET || a->op == XREMOVE)
		fuse_reply_err(req, 0);
	else if (a->size == 0)
		fuse_reply_xattr(req, (size_t)res);
	else
		fuse_reply_buf(req, a->out, (size_t)res);
	free(a->out);
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	struct xargs a = {.op = XSET, .name = name, .value = value, .size = size, .flags = flags};
	xattr_request(req, ino, &a);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct xargs a = {.op = XGET, .name = name, .size = size};
	xattr_request(req, ino, &a);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct xargs a = {.op = XLIST, .size = size, .req = req};
	xattr_request(req, ino, &a);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct xargs a = {.op = XREMOVE, .name = name};
	xattr_request(req, ino, &a);
}
