/* Replacement of a status file (see status_file.h). */
#include "fs/status_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int replace(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX + 8];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* Made anew, never opened through what is there: a link planted at
	 * PATH.tmp (or a stale one) was followed before, and the file it
	 * named, anywhere, truncated and overwritten with the state; the
	 * link then took PATH's place. */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -errno;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int err = write_all(fd, buf, len);
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* A full filesystem has no block for PATH.tmp, but the old file's blocks
 * can be rewritten: a status file is small, and a torn read for an instant
 * is better than figures that stop changing when they matter most. */
static int overwrite(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	int err = write_all(fd, buf, len);
	if (!err && ftruncate(fd, (off_t)len) != 0)
		err = -errno;
	if (close(fd) != 0 && !err)
		err = -errno;
	return err;
}

static int write_file(const char *path, void (*fill)(FILE *f, void *arg), void *arg, bool in_place)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m)
		return -ENOMEM;
	fill(m, arg);
	if (fclose(m) != 0) {
		free(buf);
		return -ENOMEM;
	}
	int err = replace(path, buf, len);
	if (in_place && (err == -ENOSPC || err == -EDQUOT))
		err = overwrite(path, buf, len);
	free(buf);
	return err;
}

int fs_status_file_write(const char *path, void (*fill)(FILE *f, void *arg), void *arg)
{
	return write_file(path, fill, arg, true);
}

int fs_state_file_write(const char *path, void (*fill)(FILE *f, void *arg), void *arg)
{
	return write_file(path, fill, arg, false);
}

void fs_status_put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
