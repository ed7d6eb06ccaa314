/* The journal of pin changes, STATE/pins.log (see pin_log.h). */
#include "fs/pin_log.h"
#include "fs/rel_path.h"
#include "fs/state_line.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fs_pin_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	return fd < 0 ? -errno : fd;
}

int fs_pin_path_encode(const char *path, char *out, size_t len)
{
	if (!strchr(path, '\n'))
		return snprintf(out, len, "%s", path) < (int)len ? 0 : -ENAMETOOLONG;
	if (len < 3)
		return -ENAMETOOLONG;
	memcpy(out, "./", 2);
	return fs_rel_escape(path, out + 2, len - 2);
}

void fs_pin_path_decode(char *line)
{
	if (line[0] != '.' || line[1] != '/')
		return;
	size_t n = strlen(line); /* >= 2 */
	memmove(line, line + 2, n - 1); /* the rest and its NUL */
	fs_rel_unescape(line);
}

int fs_pin_log_append(int fd, bool pin, const char *path)
{
	char rec[2 * PATH_MAX + 4];
	if (strlen(path) >= PATH_MAX)
		return -ENAMETOOLONG;
	rec[0] = pin ? '+' : '-';
	int r = fs_pin_path_encode(path, rec + 1, sizeof(rec) - 2);
	if (r < 0)
		return r;
	size_t n = strlen(rec);
	rec[n++] = '\n';
	/* One write with O_APPEND: a record is whole or, after a crash in
	 * the middle, a last line without its newline (skipped). */
	ssize_t w = write(fd, rec, n);
	if (w < 0)
		return -errno;
	if ((size_t)w != n) {
		(void)!ftruncate(fd, lseek(fd, 0, SEEK_END) - w); /* no half record */
		return -ENOSPC;
	}
	return 0;
}

int fs_pin_log_clear(int fd)
{
	return ftruncate(fd, 0) < 0 ? -errno : 0;
}

int fs_pin_log_replay(const char *path, void (*fn)(void *arg, bool pin, const char *path),
		      void *arg)
{
	FILE *in = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int n = 0, r;
	if (!in)
		return errno == ENOENT ? 0 : -errno;
	/* A line longer than a record, holding a NUL or cut short at the
	 * end (a crash) is skipped alone (fs/state_line.h). */
	while ((r = fs_state_line_read(in, &line, &cap, 2 * PATH_MAX + 2, false)) != 0) {
		if (r < 0 && r != -EINVAL)
			break;
		if (r < 0 || (line[0] != '+' && line[0] != '-') || !line[1])
			continue;
		fs_pin_path_decode(line + 1);
		if (strlen(line + 1) >= PATH_MAX)
			continue; /* no path is that long */
		fn(arg, line[0] == '+', line + 1);
		n++;
	}
	free(line);
	fclose(in);
	return r < 0 ? r : n;
}
