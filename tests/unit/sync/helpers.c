/* Helpers shared by the sync/ unit tests (see helpers.h). */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];
static char pathbuf[8][256];
static int pathslot;
static uint64_t state = 88172645463325252ull;

void th_tmpdir_create(void)
{
	strcpy(tmpdir, "/tmp/delta-test-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

void th_tmpdir_remove(void)
{
	if (tmpdir[0])
		nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

const char *th_path(const char *name)
{
	char *p = pathbuf[pathslot++ % 8];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

int th_setup(void **state)
{
	(void)state;
	th_tmpdir_create();
	return 0;
}

int th_teardown(void **state)
{
	(void)state;
	th_tmpdir_remove();
	return 0;
}

void th_seed(uint64_t seed)
{
	state = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint64_t th_rand(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 2685821657736338717ull;
}

void th_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = th_rand();
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

void th_write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		assert_true(n > 0);
		done += (size_t)n;
	}
	close(fd);
}

void th_write_random_file(const char *path, uint64_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	uint8_t *buf = malloc(1 << 20);
	assert_non_null(buf);
	while (len) {
		size_t k = len < (1 << 20) ? (size_t)len : (1 << 20);
		th_random(buf, k);
		assert_int_equal(write(fd, buf, k), (ssize_t)k);
		len -= k;
	}
	free(buf);
	close(fd);
}

int th_files_equal(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	assert_non_null(fa);
	assert_non_null(fb);
	int equal = 1;
	static char ba[1 << 16], bb[1 << 16];
	for (;;) {
		size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);
		if (na != nb || memcmp(ba, bb, na) != 0) {
			equal = 0;
			break;
		}
		if (na == 0)
			break;
	}
	fclose(fa);
	fclose(fb);
	return equal;
}

uint8_t *th_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return p;
}

uint64_t th_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu %lu", &size, &rss), 2);
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}
