/* The share of the system's dirty-page limit that the mount's page cache
 * may hold (its backing_dev_info's max_ratio, in /sys/class/bdi/MAJ:MIN/).
 * The kernel gives every FUSE mount 1% (and a strict limit), which, with
 * the writeback cache, throttles a buffered writer to the speed at which
 * shadowfs writes pages back: 0.5-1.5 GB/s here against 2.5-3.1 GB/s with
 * 40% (docs/BENCHMARKS.md, "The dirty-page share"). Root only. */
#ifndef SHADOWFS_FS_DIRTY_SHARE_H
#define SHADOWFS_FS_DIRTY_SHARE_H

#include <stddef.h>

/* Sets the max_ratio of the FUSE mount on mountpoint (absolute, as the
 * mount table has it; the latest mount there) to percent (1..100). On
 * success returns 0 and names the bdi ("0:38") in bdi; -ENOENT when no FUSE
 * mount is there, -errno of the sysfs write otherwise (EACCES when not
 * root). Never touches the mount itself. */
int fs_dirty_share_set(const char *mountpoint, unsigned percent, char *bdi, size_t bdilen);

/* Reads the max_ratio of the FUSE mount on mountpoint: the percentage, or
 * -errno. */
int fs_dirty_share_get(const char *mountpoint);

#endif
