/* The version range a mount may use, kept in STATE/versions (see
 * version_floor.h). */
#include "fs/version_floor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "common/small_file.h"

/* The recorded end: 1 and *end, 0 when there is none, -EINVAL when the
 * file holds something else, or -errno. */
static int read_end(const char *path, uint64_t *end)
{
	char text[32];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	text[n] = '\0';
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	char *stop;
	errno = 0;
	unsigned long long v = strtoull(text, &stop, 10);
	if (!sfs_decimal_text(text, true) || errno || *stop)
		return -EINVAL;
	*end = v;
	return 1;
}

static int write_end(const char *path, uint64_t end)
{
	char text[32];
	int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", end);
	return sfs_write_small_file(path, text, (size_t)len);
}

int fs_version_floor_reserve(const char *state_dir, uint64_t now_us, uint64_t *first,
			     bool *damaged)
{
	char path[PATH_MAX];
	uint64_t end = 0;
	*damaged = false;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, FS_VERSION_FLOOR_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	int r = read_end(path, &end);
	if (r == -EINVAL)
		*damaged = true;
	else if (r < 0)
		return r;
	uint64_t start = r == 1 && end > now_us ? end : now_us;
	if (start > UINT64_MAX - FS_VERSION_SPAN)
		return -EOVERFLOW;
	r = write_end(path, start + FS_VERSION_SPAN);
	if (r < 0)
		return r;
	*first = start;
	return 0;
}
