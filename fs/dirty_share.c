/* The mount's share of the dirty-page limit: see dirty_share.h. The bdi of
 * a FUSE mount is named after its device ("MAJ:MIN"), which the mount
 * table gives without a request to the mount (a stat of the mount point
 * from the daemon before it serves would wait for itself). */
#include "fs/dirty_share.h"

#include "common/mountinfo.h"
#include "common/small_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct find_mount {
	const char *mountpoint;
	char bdi[32];
	bool found;
};

static int match_fuse_mount(const struct sfs_mount_entry *e, void *arg)
{
	struct find_mount *f = arg;
	if (strcmp(e->mountpoint, f->mountpoint) == 0 && strncmp(e->fstype, "fuse", 4) == 0 &&
	    (e->fstype[4] == '\0' || e->fstype[4] == '.')) {
		snprintf(f->bdi, sizeof(f->bdi), "%u:%u", e->major, e->minor);
		f->found = true; /* go on: a later mount on the same point wins */
	}
	return 0;
}

/* The sysfs path of max_ratio for the FUSE mount on mountpoint. */
static int max_ratio_path(const char *mountpoint, char *path, size_t len, char *bdi,
			  size_t bdilen)
{
	struct find_mount f = {.mountpoint = mountpoint};
	int res = sfs_mountinfo_each(match_fuse_mount, &f);
	if (res < 0)
		return res;
	if (!f.found)
		return -ENOENT;
	if (bdi)
		snprintf(bdi, bdilen, "%s", f.bdi);
	snprintf(path, len, "/sys/class/bdi/%s/max_ratio", f.bdi);
	return 0;
}

int fs_dirty_share_set(const char *mountpoint, unsigned percent, char *bdi, size_t bdilen)
{
	char path[96], value[16];
	if (percent < 1 || percent > 100)
		return -EINVAL;
	int res = max_ratio_path(mountpoint, path, sizeof(path), bdi, bdilen);
	if (res < 0)
		return res;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int n = snprintf(value, sizeof(value), "%u\n", percent);
	res = write(fd, value, (size_t)n) == n ? 0 : -errno;
	close(fd);
	return res;
}

int fs_dirty_share_get(const char *mountpoint)
{
	char path[96], value[16];
	int res = max_ratio_path(mountpoint, path, sizeof(path), NULL, 0);
	if (res < 0)
		return res;
	if (sfs_read_small_file(path, value, sizeof(value)) < 0)
		return -EIO;
	return atoi(value);
}
