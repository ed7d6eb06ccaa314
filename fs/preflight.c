/* Pre-mount checks with actionable one-line messages. See preflight.h. */
#include "fs/preflight.h"

#include <errno.h>
#include <fcntl.h>
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
