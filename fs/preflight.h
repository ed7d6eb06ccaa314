/* Checks before mounting, for errors a user can act on: BACKING missing or
 * not a directory, MOUNTPOINT missing, not a directory, already a mount
 * point (busy) or a dead FUSE mount, /dev/fuse missing. Each returns 0 or
 * -errno with a one-line message in errbuf; nothing is logged here. */
#ifndef SHADOWFS_FS_PREFLIGHT_H
#define SHADOWFS_FS_PREFLIGHT_H

#include <stddef.h>

/* On success *ret_fd is an O_RDONLY|O_DIRECTORY fd of BACKING. */
int fs_preflight_backing(const char *backing, int *ret_fd, char *errbuf, size_t errlen);
int fs_preflight_mountpoint(const char *mountpoint, char *errbuf, size_t errlen);
int fs_preflight_fuse_device(const char *dev, char *errbuf, size_t errlen);

#endif
