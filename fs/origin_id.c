/* The mount's origin id, kept in STATE/origin.id (see origin_id.h). */
#include "fs/origin_id.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/parse.h"

/* 32 lowercase hex digits, then a newline or the end: true and the bytes. */
static bool parse(const char *text, size_t len, uint8_t id[16])
{
	return (len == 32 || (len == 33 && text[32] == '\n')) && sfs_hex_decode(text, id, 16) == 0;
}

static int make(const char *path, uint8_t id[16])
{
	for (size_t got = 0; got < 16;) {
		ssize_t n = getrandom(id + got, 16 - got, 0);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	char tmp[PATH_MAX + 16], text[34];
	for (int i = 0; i < 16; i++)
		snprintf(text + 2 * i, 3, "%02x", id[i]);
	text[32] = '\n';
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (write(fd, text, 33) != 33)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int fs_origin_id_load(const char *state_dir, uint8_t id[16], bool *made, bool *damaged)
{
	char path[PATH_MAX], text[64];
	*made = *damaged = false;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, FS_ORIGIN_ID_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, text, sizeof(text));
		close(fd);
		if (n > 0 && parse(text, (size_t)n, id))
			return 0;
		*damaged = true;
	} else if (errno != ENOENT) {
		return -errno;
	}
	*made = true;
	return make(path, id);
}
