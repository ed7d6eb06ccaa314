/* The journal of pin changes, STATE/pins.log (see pin_log.h). */
#include "fs/pin_log.h"

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

int fs_pin_log_append(int fd, bool pin, const char *path)
{
	char rec[PATH_MAX + 3];
	if (strchr(path, '\n'))
		return 0;
	int n = snprintf(rec, sizeof(rec), "%c%s\n", pin ? '+' : '-', path);
	if (n < 0 || (size_t)n >= sizeof(rec))
		return -ENAMETOOLONG;
	/* One write with O_APPEND: a record is whole or, after a crash in
	 * the middle, a last line without its newline (skipped). */
	ssize_t w = write(fd, rec, (size_t)n);
	if (w < 0)
		return -errno;
	if (w != n) {
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
	char line[PATH_MAX + 3];
	int n = 0;
	bool rest = false; /* within a line longer than line[] */
	if (!in)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), in)) {
		size_t len = strlen(line);
		bool whole = len && line[len - 1] == '\n', skip = rest;
		rest = !whole;
		if (skip || !whole)
			continue; /* longer than a path, or cut short at the end */
		line[len - 1] = '\0';
		if ((line[0] != '+' && line[0] != '-') || !line[1])
			continue;
		fn(arg, line[0] == '+', line + 1);
		n++;
	}
	int r = ferror(in) ? -EIO : n;
	fclose(in);
	return r;
}
