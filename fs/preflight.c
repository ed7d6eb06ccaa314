/* Pre-mount checks with actionable one-line messages. See preflight.h. */
#include "fs/preflight.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_preflight_backing(const char *backing, int *ret_fd, char *errbuf, size_t errlen)
{
	struct stat st;
	if (stat(backing, &st) < 0) {
		int err = errno;
		snprintf(errbuf, errlen, "backing directory %s: %s", backing, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(errbuf, errlen, "backing directory %s: not a directory", backing);
		return -ENOTDIR;
	}
	int fd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;
		snprintf(errbuf, errlen, "backing directory %s: %s", backing, strerror(err));
		return -err;
	}
	*ret_fd = fd;
	return 0;
}

int fs_preflight_mountpoint(const char *mountpoint, char *errbuf, size_t errlen)
{
	struct statx stx;
	if (statx(AT_FDCWD, mountpoint, 0, STATX_TYPE, &stx) < 0) {
		int err = errno;
		if (err == ENOTCONN)
			snprintf(errbuf, errlen,
				 "mount point %s: a dead FUSE mount is still there "
				 "(run: fusermount3 -u %s)",
				 mountpoint, mountpoint);
		else
			snprintf(errbuf, errlen, "mount point %s: %s", mountpoint, strerror(err));
		return -err;
	}
	if (!S_ISDIR(stx.stx_mode)) {
		snprintf(errbuf, errlen, "mount point %s: not a directory", mountpoint);
		return -ENOTDIR;
	}
	if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
		snprintf(errbuf, errlen,
			 "mount point %s is busy: something is already mounted there "
			 "(unmount it first)",
			 mountpoint);
		return -EBUSY;
	}
	return 0;
}

int fs_preflight_fuse_device(const char *dev, char *errbuf, size_t errlen)
{
	struct stat st;
	if (stat(dev, &st) < 0 || !S_ISCHR(st.st_mode)) {
		snprintf(errbuf, errlen,
			 "%s is missing: FUSE is not available (load it with: modprobe fuse)",
			 dev);
		return -ENODEV;
	}
	return 0;
}

/* path made absolute and resolved: realpath of its longest existing
 * prefix, the rest appended as given (a directory not made yet). */
static int resolve(const char *path, char *out)
{
	char buf[PATH_MAX], rest[PATH_MAX] = "";
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (;;) {
		if (realpath(buf, out)) {
			size_t n = strlen(out);
			if (n + strlen(rest) >= PATH_MAX)
				return -ENAMETOOLONG;
			memcpy(out + n, rest, strlen(rest) + 1);
			return 0;
		}
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return -errno;
		char tail[PATH_MAX];
		snprintf(tail, sizeof(tail), "%s%s", slash, rest);
		snprintf(rest, sizeof(rest), "%s", tail);
		*slash = '\0';
	}
}

bool fs_path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int fs_preflight_outside(const char *what, const char *dir, const char *backing,
			 const char *mountpoint, char *errbuf, size_t errlen)
{
	char d[PATH_MAX], b[PATH_MAX], m[PATH_MAX];
	if (resolve(dir, d) < 0 || resolve(backing, b) < 0 || resolve(mountpoint, m) < 0)
		return 0; /* what cannot be resolved fails where it is used */
	if (fs_path_within(d, m)) {
		snprintf(errbuf, errlen,
			 "%s %s is inside the mount point %s: the mount would hide it, or "
			 "shadowfs would go through itself to reach it",
			 what, dir, mountpoint);
		return -EINVAL;
	}
	if (fs_path_within(d, b)) {
		snprintf(errbuf, errlen,
			 "%s %s is inside the backing directory %s: what shadowfs keeps there "
			 "shows, and can be changed or deleted, through the mount",
			 what, dir, backing);
		return 1;
	}
	return 0;
}
