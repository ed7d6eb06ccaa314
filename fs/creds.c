/* Per-thread credential switching for FUSE requests. See creds.h. */
#include "fs/creds.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/small_file.h"

#define MAX_GROUPS 256

static bool can_switch;     /* set once by fs_creds_init */
static uid_t daemon_uid;
static gid_t daemon_gid;
static gid_t daemon_groups[MAX_GROUPS];
static int daemon_ngroups;
/* The daemon's capabilities, read once; a non-root caller runs with an
 * empty effective set (permitted unchanged, so leave can restore it). */
static struct __user_cap_data_struct daemon_caps[_LINUX_CAPABILITY_U32S_3];
static struct __user_cap_data_struct caller_caps[_LINUX_CAPABILITY_U32S_3];
/* A non-root caller's file written for it (fs_creds_enter_writer): none
 * but CAP_FSETID, so that the set-id bits stay for fs/killpriv.c to judge
 * with the caller's groups (the thread has root's). */
static struct __user_cap_data_struct writer_caps[_LINUX_CAPABILITY_U32S_3];
static bool caps_ok;

static int thread_capset(const struct __user_cap_data_struct *data)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	return (int)syscall(SYS_capset, &hdr, data);
}

void fs_creds_init(void)
{
	daemon_uid = geteuid();
	daemon_gid = getegid();
	can_switch = daemon_uid == 0;
	daemon_ngroups = getgroups(MAX_GROUPS, daemon_groups);
	if (daemon_ngroups < 0)
		daemon_ngroups = 0;
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	caps_ok = syscall(SYS_capget, &hdr, daemon_caps) == 0;
	memcpy(caller_caps, daemon_caps, sizeof(caller_caps));
	for (int k = 0; k < _LINUX_CAPABILITY_U32S_3; k++)
		caller_caps[k].effective = 0;
	memcpy(writer_caps, caller_caps, sizeof(writer_caps));
	writer_caps[CAP_TO_INDEX(CAP_FSETID)].effective =
		daemon_caps[CAP_TO_INDEX(CAP_FSETID)].effective & CAP_TO_MASK(CAP_FSETID);
}

/* Raw syscalls: per-thread, unlike the glibc wrappers of setgroups. */
static int thread_setgroups(size_t n, const gid_t *list)
{
	return (int)syscall(SYS_setgroups, n, list);
}

/* The caller's supplementary groups, in buf when MAX_GROUPS hold them,
 * else in a malloc'd array: *list is where (free it when not buf). Their
 * number, 0 when they cannot be read (caller gone, /proc unreadable); the
 * first MAX_GROUPS when memory runs out. Natively a process may have up to
 * NGROUPS_MAX (65536): those past the first 256 were dropped, and a file
 * of the 300th group of its user was refused through the mount. */
static int caller_groups(fuse_req_t req, gid_t buf[MAX_GROUPS], gid_t **list)
{
	*list = buf;
	int n = fuse_req_getgroups(req, MAX_GROUPS, buf);
	for (int tries = 0; n > MAX_GROUPS && tries < 3; tries++) {
		gid_t *more = malloc((size_t)n * sizeof(*more));
		if (!more)
			break;
		int m = fuse_req_getgroups(req, n, more);
		if (m >= 0 && m <= n) {
			*list = more;
			return m;
		}
		free(more);
		n = m; /* the caller's groups changed meanwhile, or it is gone */
	}
	return n < 0 ? 0 : n > MAX_GROUPS ? MAX_GROUPS : n;
}

int fs_creds_enter(fuse_req_t req, struct fs_creds_saved *saved)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	*saved = (struct fs_creds_saved){0};
	if (!can_switch || (ctx->uid == daemon_uid && ctx->gid == daemon_gid))
		return 0;

	if (ctx->uid != daemon_uid) {
		/* Supplementary groups matter for permission checks of
		 * non-root callers only (root has CAP_DAC_OVERRIDE). */
		gid_t buf[MAX_GROUPS], *groups;
		int n = caller_groups(req, buf, &groups);
		int r = thread_setgroups((size_t)n, groups) < 0 ? -errno : 0;
		if (groups != buf)
			free(groups);
		if (r < 0)
			return r;
		saved->switched_groups = true;
	}
	if (ctx->gid != daemon_gid) {
		setfsgid(ctx->gid);
		if ((gid_t)setfsgid((gid_t)-1) != ctx->gid) {
			fs_creds_leave(saved);
			return -EPERM;
		}
		saved->switched_gid = true;
	}
	if (ctx->uid != daemon_uid) {
		setfsuid(ctx->uid);
		saved->switched_uid = true;
		if ((uid_t)setfsuid((uid_t)-1) != ctx->uid) {
			fs_creds_leave(saved);
			return -EPERM;
		}
		/* setfsuid dropped the file system capabilities; drop the
		 * rest too (CAP_SYS_ADMIN would let a non-root caller use
		 * trusted.* and security.* xattrs, CAP_SYS_RESOURCE would
		 * let them exceed quotas). */
		if (caps_ok) {
			if (thread_capset(caller_caps) < 0) {
				fs_creds_leave(saved);
				return -EPERM;
			}
			saved->switched_caps = true;
		}
	}
	return 0;
}

static __thread bool own_fs;	 /* this thread did unshare(CLONE_FS) */
static __thread mode_t own_umask; /* its umask since */

int fs_creds_umask(fuse_req_t req)
{
	if (!own_fs) {
		if (unshare(CLONE_FS) < 0)
			return -errno;
		own_fs = true;
		own_umask = umask(0); /* as inherited (the daemon's 0) */
		umask(own_umask);
	}
	mode_t want = fuse_req_ctx(req)->umask & 0777;
	if (want != own_umask) { /* one syscall less per create of the same caller */
		umask(want);
		own_umask = want;
	}
	return 0;
}

void fs_creds_enter_writer(uid_t uid, gid_t gid, struct fs_creds_saved *saved)
{
	*saved = (struct fs_creds_saved){0};
	if (!can_switch || uid == daemon_uid || !caps_ok)
		return;
	if (gid != daemon_gid) {
		setfsgid(gid);
		saved->switched_gid = true;
	}
	setfsuid(uid);
	saved->switched_uid = true;
	if ((uid_t)setfsuid((uid_t)-1) != uid || thread_capset(writer_caps) < 0) {
		fs_creds_leave(saved);
		*saved = (struct fs_creds_saved){0};
		return;
	}
	saved->switched_caps = true;
}

bool fs_creds_in_group(fuse_req_t req, gid_t gid)
{
	if (fuse_req_ctx(req)->gid == gid)
		return true;
	gid_t buf[MAX_GROUPS], *groups;
	int n = caller_groups(req, buf, &groups);
	bool in = false;
	for (int k = 0; k < n && !in; k++)
		in = groups[k] == gid;
	if (groups != buf)
		free(groups);
	return in;
}

bool fs_creds_caller_capable(fuse_req_t req, int cap)
{
	unsigned long pid = (unsigned long)fuse_req_ctx(req)->pid;
	char path[64];
	/* Room for the Groups: line before CapEff: of a caller in NGROUPS_MAX groups. */
	size_t size = 1u << 20;
	char *status = malloc(size);
	snprintf(path, sizeof(path), "/proc/%lu/task/%lu/status", pid, pid);
	bool capable = false;
	if (status && pid != 0 && cap >= 0 && cap <= 63 &&
	    sfs_read_small_file(path, status, size) > 0) {
		const char *eff = strstr(status, "\nCapEff:");
		capable = eff && (strtoull(eff + strlen("\nCapEff:"), NULL, 16) >> cap) & 1;
	}
	free(status);
	return capable;
}

void fs_creds_leave(const struct fs_creds_saved *saved)
{
	if (!saved)
		return;
	if (saved->switched_caps)
		thread_capset(daemon_caps);
	if (saved->switched_uid)
		setfsuid(daemon_uid);
	if (saved->switched_gid)
		setfsgid(daemon_gid);
	if (saved->switched_groups)
		thread_setgroups((size_t)daemon_ngroups, daemon_groups);
}

int fs_creds_enter_creator(fuse_req_t req, struct fs_creds_saved *saved)
{
	int err = fs_creds_enter(req, saved);
	if (err == 0 && (err = fs_creds_umask(req)) < 0)
		fs_creds_leave(saved);
	return err;
}
