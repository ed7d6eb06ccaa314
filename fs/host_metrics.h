/* Host metrics for the series store, sampled once per bucket from /proc:
 * CPU busy share (/proc/stat), memory (/proc/meminfo), disk I/O of the
 * device(s) under BACKING (/proc/diskstats), and network bytes of every
 * interface but lo (/proc/net/dev). Each sample reports the change since the
 * previous one (the first, since the sampler was created).
 *
 * The backing device is found from stat(BACKING).st_dev through
 * /sys/dev/block/MAJ:MIN; a partition is reported under its own name. When
 * BACKING is on a filesystem without a block device (tmpfs, overlay, FUSE),
 * every disk in /proc/diskstats except loop, ram and zram devices is
 * reported instead. The proc root is a parameter so the parsers can be
 * tested on fixed files. One owner thread; not thread-safe. */
#ifndef SHADOWFS_FS_HOST_METRICS_H
#define SHADOWFS_FS_HOST_METRICS_H

#include "predictor/series_store.h"

#define FS_HOST_MAX_DISKS 16

struct fs_host_sampler;

/* proc_root: "/proc" normally. backing_fd: an fd on the backing
 * filesystem (not its path: the mount may be over it), or -1 for all
 * disks. */
int fs_host_sampler_new(const char *proc_root, int backing_fd, struct fs_host_sampler **ret);
void fs_host_sampler_free(struct fs_host_sampler *s);

/* Fills cpu_pct, mem_*, net_*, and disks (the sampler owns the disk array,
 * valid until the next call). Leaves start, width, inflight_* and
 * tail_events to the caller. A /proc file that cannot be read leaves its
 * fields 0 and returns its -errno after filling the rest. */
int fs_host_sample(struct fs_host_sampler *s, struct pred_host_bucket *out);

#endif
