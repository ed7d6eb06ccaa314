/* Atomic replacement of a status file (see status_file.h). */
#include "fs/status_file.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

int fs_status_file_write(const char *path, void (*fill)(FILE *f, void *arg), void *arg)
{
	char tmp[PATH_MAX + 8];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fill(f, arg);
	int err = ferror(f) ? EIO : 0;
	if (fclose(f) != 0 && !err)
		err = errno;
	if (!err && rename(tmp, path) != 0)
		err = errno;
	if (err)
		unlink(tmp);
	return -err;
}
