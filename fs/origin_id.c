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
#include "common/small_file.h"

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
	char text[34];
	for (int i = 0; i < 16; i++)
		snprintf(text + 2 * i, 3, "%02x", id[i]);
	text[32] = '\n';
	return sfs_write_small_file(path, text, 33);
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
