/* SHA-256 helpers: see digest.h. */
#include "sync/digest.h"
#include "sync/sync_io.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct sync_sha256 {
	EVP_MD_CTX *md;
};

int sync_sha256_new(struct sync_sha256 **ret)
{
	struct sync_sha256 *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->md = EVP_MD_CTX_new();
	if (!s->md || EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
		sync_sha256_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int sync_sha256_update(struct sync_sha256 *s, const void *buf, size_t len)
{
	return EVP_DigestUpdate(s->md, buf, len) == 1 ? 0 : -EIO;
}

int sync_sha256_final(struct sync_sha256 *s, uint8_t out[SYNC_SHA256_LEN])
{
	unsigned int n = 0;
	if (EVP_DigestFinal_ex(s->md, out, &n) != 1 || n != SYNC_SHA256_LEN)
		return -EIO;
	return EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

void sync_sha256_free(struct sync_sha256 *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->md);
	free(s);
}

int sync_sha256_fd(int fd, uint64_t len, uint8_t out[SYNC_SHA256_LEN])
{
	return sync_sha256_fd_each(fd, len, out, NULL, NULL);
}

static int take_pace(void *arg, uint64_t off, size_t want)
{
	(void)off;
	return sync_pace_take(arg, want);
}

int sync_sha256_fd_paced(int fd, uint64_t len, const struct sync_pace *pace,
			 uint8_t out[SYNC_SHA256_LEN])
{
	return sync_sha256_fd_each(fd, len, out, pace ? take_pace : NULL, (void *)pace);
}

int sync_sha256_zeros(struct sync_sha256 *s, uint64_t n)
{
	static const uint8_t zeros[64 * 1024];
	int r = 0;
	while (r == 0 && n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		r = sync_sha256_update(s, zeros, k);
		n -= k;
	}
	return r;
}

int sync_sha256_fd_each(int fd, uint64_t len, uint8_t out[SYNC_SHA256_LEN],
			int (*before)(void *arg, uint64_t off, size_t want), void *arg)
{
	enum { BUF = SYNC_SHA256_FD_CHUNK };
	struct sync_sha256 *s = NULL;
	uint8_t *buf = malloc(BUF);
	uint64_t off = 0;
	int r = buf ? sync_sha256_new(&s) : -ENOMEM;
	uint64_t run_end = 0; /* the end of the run of data or hole at off */
	bool hole = false;
	while (r == 0 && off < len) {
		size_t want = len - off < BUF ? (size_t)(len - off) : BUF;
		if (len != UINT64_MAX && off >= run_end &&
		    (r = sync_extent_at(fd, off, len, &run_end, &hole)) < 0)
			break;
		if (len != UINT64_MAX && run_end - off < want)
			want = (size_t)(run_end - off);
		if (hole) { /* zeros, not read: nothing is stored there */
			if (before && (r = before(arg, off, 0)) < 0)
				break;
			r = sync_sha256_zeros(s, want);
			off += want;
			continue;
		}
		if (before && (r = before(arg, off, want)) < 0)
			break;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0) {
			if (len != UINT64_MAX)
				r = -EIO; /* shorter than promised */
			break;
		}
		r = sync_sha256_update(s, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (r == 0)
		r = sync_sha256_final(s, out);
	sync_sha256_free(s);
	free(buf);
	return r;
}

void sync_sha256_hex(const uint8_t d[SYNC_SHA256_LEN], char out[65])
{
	for (int i = 0; i < SYNC_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}
