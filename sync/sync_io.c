/* Byte streams for sync/: fd, memory and counting sinks/sources, full-length
 * read/write helpers. See sync_io.h for the contracts. */
#include "sync/sync_io.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd_sink_write(void *ctx, const void *buf, size_t len)
{
	return sync_write_all((int)(intptr_t)ctx, buf, len);
}

static ssize_t fd_source_read(void *ctx, void *buf, size_t cap)
{
	for (;;) {
		ssize_t n = read((int)(intptr_t)ctx, buf, cap);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

struct sync_sink sync_sink_fd(int fd)
{
	return (struct sync_sink){.write = fd_sink_write, .ctx = (void *)(intptr_t)fd};
}

struct sync_source sync_source_fd(int fd)
{
	return (struct sync_source){.read = fd_source_read, .ctx = (void *)(intptr_t)fd};
}

static int mem_sink_write(void *ctx, const void *buf, size_t len)
{
	struct sync_membuf *m = ctx;
	size_t max = m->max ? m->max : SIZE_MAX;
	if (len > max - m->len)
		return -EFBIG;
	if (m->len + len > m->cap) {
		size_t cap = m->cap ? m->cap : 4096;
		while (cap < m->len + len)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		uint8_t *p = realloc(m->data, cap);
		if (!p)
			return -ENOMEM;
		m->data = p;
		m->cap = cap;
	}
	if (len)
		memcpy(m->data + m->len, buf, len);
	m->len += len;
	return 0;
}

struct sync_sink sync_sink_mem(struct sync_membuf *buf)
{
	return (struct sync_sink){.write = mem_sink_write, .ctx = buf};
}

void sync_membuf_release(struct sync_membuf *buf)
{
	if (!buf)
		return;
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
}

static ssize_t mem_source_read(void *ctx, void *buf, size_t cap)
{
	struct sync_memreader *r = ctx;
	size_t n = r->len - r->pos;
	if (n > cap)
		n = cap;
	if (n)
		memcpy(buf, r->data + r->pos, n);
	r->pos += n;
	return (ssize_t)n;
}

struct sync_source sync_source_mem(struct sync_memreader *reader)
{
	return (struct sync_source){.read = mem_source_read, .ctx = reader};
}

static int count_sink_write(void *ctx, const void *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)ctx += len;
	return 0;
}

struct sync_sink sync_sink_count(uint64_t *counter)
{
	return (struct sync_sink){.write = count_sink_write, .ctx = counter};
}

int sync_source_read_full(const struct sync_source *src, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = src->read(src->ctx, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPROTO;
		if ((size_t)n > len)
			return -EIO; /* a source that overfills breaks its contract */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes all of buf at off, or at the current offset when off < 0. */
static int write_all_at(int fd, const void *buf, size_t len, int64_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int sync_write_all(int fd, const void *buf, size_t len)
{
	return write_all_at(fd, buf, len, -1);
}

int sync_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	if (off > INT64_MAX)
		return -EINVAL;
	return write_all_at(fd, buf, len, (int64_t)off);
}

ssize_t sync_pread_some(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, p + done, len - done, (off_t)(off + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int sync_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = sync_pread_some(fd, buf, len, off);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

static int extent_at(int fd, uint64_t off, uint64_t len, uint64_t *end, bool *hole)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		struct stat st;
		if (errno != ENXIO) { /* no SEEK_DATA here: all data */
			*end = len;
			*hole = false;
			return 0;
		}
		/* No data from off on: a hole to the end, if the end is len. */
		if (fstat(fd, &st) < 0)
			return -errno;
		if ((uint64_t)st.st_size < len)
			return -EIO;
		*end = len;
		*hole = true;
		return 0;
	}
	if ((uint64_t)d > off) {
		*end = (uint64_t)d < len ? (uint64_t)d : len;
		*hole = true;
		return 0;
	}
	off_t h = lseek(fd, (off_t)off, SEEK_HOLE); /* at the end of the file at worst */
	*end = h < 0 || (uint64_t)h <= off || (uint64_t)h > len ? len : (uint64_t)h;
	*hole = false;
	return 0;
}

int sync_extent_at(int fd, uint64_t off, uint64_t len, uint64_t *end, bool *hole)
{
	/* lseek moves the file offset, which a caller reading with read(2)
	 * relies on: put back. */
	off_t pos = lseek(fd, 0, SEEK_CUR);
	int r = extent_at(fd, off, len, end, hole);
	if (pos >= 0)
		lseek(fd, pos, SEEK_SET);
	return r;
}

uint64_t sync_stat_data_bytes(const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size, blocks = (uint64_t)st->st_blocks * 512;
	return blocks < size ? blocks : size;
}

uint64_t sync_data_bytes(int fd, uint64_t from, uint64_t to)
{
	uint64_t data = 0;
	while (from < to) {
		uint64_t end;
		bool hole;
		if (sync_extent_at(fd, from, to, &end, &hole) < 0)
			return data + (to - from);
		if (!hole)
			data += end - from;
		from = end;
	}
	return data;
}

/* [off, end) of from into to at the same offsets. */
static int copy_run(int from, int to, uint64_t off, uint64_t end, void *buf, size_t bufsize)
{
	loff_t in = (loff_t)off, out = (loff_t)off;
	while ((uint64_t)in < end) {
		ssize_t n = copy_file_range(from, &in, to, &out, (size_t)(end - (uint64_t)in), 0);
		if (n > 0)
			continue;
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
			return -errno;
		while ((uint64_t)in < end) { /* fallback: plain reads and writes */
			size_t k = end - (uint64_t)in < bufsize ? (size_t)(end - (uint64_t)in) : bufsize;
			int rc = sync_pread_all(from, buf, k, (uint64_t)in);
			if (!rc)
				rc = sync_pwrite_all(to, buf, k, (uint64_t)out);
			if (rc)
				return rc;
			in += (loff_t)k;
			out += (loff_t)k;
		}
	}
	return 0;
}

int sync_copy_prefix(int from, int to, uint64_t len, void *buf, size_t bufsize)
{
	/* Run by run: copy_file_range without a reflink (ext4) writes a hole
	 * as zeros, which made every ranged update of a thin image on a
	 * shadowd as large on disk as the image. */
	uint64_t off = 0, end;
	bool hole = false;
	while (off < len) {
		int rc = sync_extent_at(from, off, len, &end, &hole);
		if (!rc && !hole)
			rc = copy_run(from, to, off, end, buf, bufsize);
		if (rc)
			return rc;
		off = end;
	}
	struct stat st;
	if (hole && (fstat(to, &st) < 0 || ((uint64_t)st.st_size < len &&
					      ftruncate(to, (off_t)len) < 0)))
		return -errno; /* a trailing hole: to is len long all the same */
	return 0;
}
