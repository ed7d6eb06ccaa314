/* Byte streams for sync/: sinks, sources and progress as small function tables.
 *
 * The delta code (librsync signature/delta/patch, ranged deltas) never touches a
 * socket: it reads from a `struct sync_source` and writes to a `struct sync_sink`.
 * The network layer (TLS frames) and the tests (memory buffers, pipes) plug in
 * their own implementations; file descriptors and memory buffers come here.
 *
 * Contracts:
 * - sink->write consumes all `len` bytes or fails: returns 0 or -errno.
 * - source->read returns 1..cap bytes, 0 at end of stream, or -errno. Readers in
 *   sync/ never ask for more bytes than their stream still needs, so a source
 *   that is a connection carrying further messages is never over-read.
 * - progress->fn (optional: fn may be NULL) is called with bytes done and the
 *   total (0 when unknown); done never decreases.
 * - pace->take (optional: pace or take may be NULL) is called before each
 *   read of a source file with the bytes about to be read; it may sleep (a
 *   rate limit) and a -errno return stops the operation with that error. */
#ifndef SHADOWFS_SYNC_SYNC_IO_H
#define SHADOWFS_SYNC_SYNC_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct sync_sink {
	int (*write)(void *ctx, const void *buf, size_t len);
	void *ctx;
};

struct sync_source {
	ssize_t (*read)(void *ctx, void *buf, size_t cap);
	void *ctx;
};

typedef void sync_progress_fn(void *ctx, uint64_t done, uint64_t total);

struct sync_progress {
	sync_progress_fn *fn;
	void *ctx;
};

struct sync_pace {
	int (*take)(void *ctx, uint64_t bytes);
	void *ctx;
};

static inline int sync_pace_take(const struct sync_pace *p, uint64_t bytes)
{
	return p && p->take ? p->take(p->ctx, bytes) : 0;
}

/* Sink/source over a file descriptor (write(2)/read(2) at the current offset,
 * EINTR retried). The fd stays owned by the caller. */
struct sync_sink sync_sink_fd(int fd);
struct sync_source sync_source_fd(int fd);

/* A growable memory buffer used as a sink. `max` bounds its size (writes past it
 * fail with -EFBIG; 0 = SIZE_MAX). Owner: the caller; sync_membuf_release frees
 * data and accepts a zeroed struct. */
struct sync_membuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;
};
struct sync_sink sync_sink_mem(struct sync_membuf *buf);
void sync_membuf_release(struct sync_membuf *buf);

/* A source reading from a caller-owned memory range; `pos` advances. */
struct sync_memreader {
	const uint8_t *data;
	size_t len;
	size_t pos;
};
struct sync_source sync_source_mem(struct sync_memreader *reader);

/* A sink that discards everything and counts the bytes (benchmarks, sizing). */
struct sync_sink sync_sink_count(uint64_t *counter);

/* Reads exactly len bytes: 0, -EPROTO if the stream ends first, or -errno. */
int sync_source_read_full(const struct sync_source *src, void *buf, size_t len);

/* Full-length fd helpers, EINTR retried: 0 or -errno (-EIO on a short pread
 * past end of file). */
int sync_write_all(int fd, const void *buf, size_t len);
int sync_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int sync_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* The run of data or of hole at off in fd, up to the offset len (an end,
 * not a count; len != UINT64_MAX): *end its end (> off, <= len), *hole
 * whether it reads as zeros with nothing stored (SEEK_DATA / SEEK_HOLE).
 * A file system that cannot tell gives one run of data. -EIO when the file
 * ends before len, as a short read would. */
int sync_extent_at(int fd, uint64_t off, uint64_t len, uint64_t *end, bool *hole);

/* The bytes of [from, to) in fd that are data, not holes (to - from where
 * that cannot be told). */
uint64_t sync_data_bytes(int fd, uint64_t from, uint64_t to);
/* What a file of stat st holds as data: its size, or the bytes of its
 * blocks when fewer (a sparse file: its holes hold none). */
uint64_t sync_stat_data_bytes(const struct stat *st);

/* Copies the first len bytes of from into to, offset 0 to offset 0, its
 * data runs only (a hole of from stays a hole in to; to is at least len
 * long after): with copy_file_range (reflink or in-kernel copy where the
 * filesystem can), else with pread/pwrite through buf (bufsize bytes,
 * caller-owned). 0 or -errno; -EIO if from is shorter than len. */
int sync_copy_prefix(int from, int to, uint64_t len, void *buf, size_t bufsize);

/* Reads up to len bytes at off: bytes read (short only at end of file) or -errno. */
ssize_t sync_pread_some(int fd, void *buf, size_t len, uint64_t off);

static inline void sync_progress_report(const struct sync_progress *p, uint64_t done,
					uint64_t total)
{
	if (p && p->fn)
		p->fn(p->ctx, done, total);
}

/* Little-endian encoding for the stream formats. */
static inline void sync_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void sync_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void sync_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t sync_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t sync_get_le32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t sync_get_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#endif
