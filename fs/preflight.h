/* Checks before mounting, for errors a user can act on: BACKING missing or
 * not a directory, MOUNTPOINT missing, not a directory, already a mount
 * point (busy) or a dead FUSE mount, /dev/fuse missing, a host or state
 * directory inside BACKING or MOUNTPOINT. Each returns 0 or
 * -errno with a one-line message in errbuf; nothing is logged here. */
#ifndef SHADOWFS_FS_PREFLIGHT_H
#define SHADOWFS_FS_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>

/* On success *ret_fd is an O_RDONLY|O_DIRECTORY fd of BACKING. */
int fs_preflight_backing(const char *backing, int *ret_fd, char *errbuf, size_t errlen);
int fs_preflight_mountpoint(const char *mountpoint, char *errbuf, size_t errlen);
int fs_preflight_fuse_device(const char *dev, char *errbuf, size_t errlen);
/* Whether path is dir or below it (both absolute, compared as written;
 * trailing slashes of dir ignored). */
bool fs_path_within(const char *path, const char *dir);
/* Where a directory shadowfs keeps its own files in (what: "host
 * directory", "state directory") lies (resolved; dir need not exist yet):
 * -EINVAL in MOUNTPOINT, 1 in BACKING (the reason in errbuf for either), 0
 * elsewhere. */
int fs_preflight_outside(const char *what, const char *dir, const char *backing,
			 const char *mountpoint, char *errbuf, size_t errlen);

#endif
