/*
 * metacycle: the metadata-cycle workload of tests/bench/passthrough.sh.
 *
 * For each of N files in DIR, in turn: create it (O_CREAT|O_EXCL), write
 * 1 KiB, close, stat, unlink. One cycle touches lookup, create, write,
 * flush/release, getattr and unlink in a FUSE filesystem, and keeps at most
 * one file alive, so it measures per-operation latency rather than the size
 * of an inode table. Prints "metacycle: files=N seconds=S ops_per_s=R" where
 * R counts cycles (files) per second. Exit status 1 on any failure, with the
 * failing call and errno on stderr.
 *
 * Usage: metacycle DIR [N] [BYTES]   (defaults: N=20000, BYTES=1024)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_count(const char *s, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 1 || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* One cycle on PATH; returns 0 or -errno and names the failing call. */
static int cycle(const char *path, const char *buf, size_t len,
		 const char **what)
{
	struct stat st;
	ssize_t n;
	int fd;

	*what = "open";
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	*what = "write";
	n = write(fd, buf, len);
	if (n < 0 || (size_t)n != len) {
		int err = n < 0 ? errno : EIO;

		close(fd);
		return -err;
	}
	*what = "close";
	if (close(fd) < 0)
		return -errno;
	*what = "stat";
	if (stat(path, &st) < 0)
		return -errno;
	if (st.st_size != (off_t)len) {
		*what = "stat size check";
		return -EIO;
	}
	*what = "unlink";
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	long files = 20000, bytes = 1024, i;
	const char *what = "";
	char path[4096];
	char *buf = NULL;
	double t0, dt;
	int ret = 1, err;

	if (argc < 2 || argc > 4 ||
	    (argc > 2 && parse_count(argv[2], 100000000, &files) < 0) ||
	    (argc > 3 && parse_count(argv[3], 1 << 24, &bytes) < 0)) {
		fprintf(stderr, "usage: metacycle DIR [FILES] [BYTES]\n");
		return 2;
	}
	buf = malloc((size_t)bytes);
	if (!buf) {
		fprintf(stderr, "metacycle: out of memory\n");
		goto cleanup;
	}
	memset(buf, 'm', (size_t)bytes);

	t0 = now_s();
	for (i = 0; i < files; i++) {
		snprintf(path, sizeof(path), "%s/mc.%ld", argv[1], i);
		err = cycle(path, buf, (size_t)bytes, &what);
		if (err < 0) {
			fprintf(stderr, "metacycle: %s %s: %s\n", what, path,
				strerror(-err));
			goto cleanup;
		}
	}
	dt = now_s() - t0;
	printf("metacycle: files=%ld seconds=%.3f ops_per_s=%.1f\n", files, dt,
	       dt > 0 ? (double)files / dt : 0.0);
	ret = 0;
cleanup:
	free(buf);
	return ret;
}
