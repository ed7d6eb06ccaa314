/* Ranged deltas: encoding from dirty ranges and validated application to a
 * copy (format and modes in range_delta.h). Memory: one piece buffer. */
#include "sync/range_delta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/chunk_stream.h"

#define RD_MAGIC "SFRD"
#define RD_VERSION 1
#define RD_HDR_LEN 24
#define RD_REC_DATA 1
#define RD_REC_ZERO 2
#define RD_PIECE (256u * 1024u)

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int flush_zero(struct sync_chunk_writer *w, uint64_t *zoff, uint64_t *zlen,
		      struct sync_range_stats *st)
{
	if (!*zlen)
		return 0;
	uint8_t rec[16];
	sync_put_le64(rec, *zoff);
	sync_put_le64(rec + 8, *zlen);
	st->zero_bytes += *zlen;
	*zlen = 0;
	return sync_chunk_write(w, RD_REC_ZERO, rec, sizeof(rec), NULL, 0);
}

int sync_range_delta_write_ranges(int new_fd, uint64_t base_size, uint64_t new_size,
				  const struct sync_range *ranges, size_t n,
				  const struct sync_sink *out, const struct sync_progress *progress,
				  struct sync_range_stats *ret)
{
	struct sync_range_stats st = {.new_size = new_size};
	struct sync_chunk_writer w = {0};
	uint64_t total = 0, done = 0, prev_end = 0;
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].len == 0 || ranges[i].off < prev_end || ranges[i].off > new_size ||
		    ranges[i].len > new_size - ranges[i].off)
			return -EINVAL;
		prev_end = ranges[i].off + ranges[i].len;
		total += ranges[i].len;
	}
	struct stat sb;
	if (fstat(new_fd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size != new_size)
		return -ESTALE;
	uint8_t *buf = malloc(RD_PIECE);
	if (!buf)
		return -ENOMEM;
	uint8_t hdr[RD_HDR_LEN] = {0};
	sync_put_le64(hdr, base_size);
	sync_put_le64(hdr + 8, new_size);
	int rc = sync_chunk_writer_begin(&w, out, RD_MAGIC, RD_VERSION, hdr, sizeof(hdr));
	if (rc)
		goto out;
	uint64_t zoff = 0, zlen = 0; /* pending run of zero pieces */
	for (size_t i = 0; i < n; i++) {
		uint64_t off = ranges[i].off, end = off + ranges[i].len;
		while (off < end) {
			size_t len = end - off < RD_PIECE ? (size_t)(end - off) : RD_PIECE;
			rc = sync_pread_all(new_fd, buf, len, off);
			if (rc == -EIO)
				rc = -ESTALE; /* shrank meanwhile */
			if (rc)
				goto out;
			if (all_zero(buf, len)) {
				if (zlen && zoff + zlen != off)
					rc = flush_zero(&w, &zoff, &zlen, &st);
				if (!zlen)
					zoff = off;
				zlen += len;
			} else {
				rc = flush_zero(&w, &zoff, &zlen, &st);
				uint8_t o[8];
				sync_put_le64(o, off);
				if (!rc)
					rc = sync_chunk_write(&w, RD_REC_DATA, o, 8, buf, len);
				st.data_bytes += len;
			}
			if (rc)
				goto out;
			off += len;
			done += len;
			sync_progress_report(progress, done, total);
		}
	}
	rc = flush_zero(&w, &zoff, &zlen, &st);
	if (!rc)
		rc = sync_chunk_writer_end(&w);
	if (!rc && fstat(new_fd, &sb) == 0 && (uint64_t)sb.st_size != new_size)
		rc = -ESTALE;
	if (!rc && ret) {
		st.stream_bytes = w.bytes;
		*ret = st;
	}
out:
	sync_chunk_writer_release(&w);
	free(buf);
	return rc;
}

int sync_range_delta_write(int new_fd, const struct sync_dirty *d, const struct sync_sink *out,
			   const struct sync_progress *progress, struct sync_range_stats *ret)
{
	if (d->unknown)
		return -EINVAL;
	return sync_range_delta_write_ranges(new_fd, d->base_size, d->size, d->r, d->n, out,
					     progress, ret);
}

/* A source that copies every byte it yields into a spool fd. */
struct tee_source {
	struct sync_source in;
	int spool_fd;
};

static ssize_t tee_read(void *ctx, void *buf, size_t cap)
{
	struct tee_source *t = ctx;
	ssize_t n = t->in.read(t->in.ctx, buf, cap);
	if (n > 0) {
		int rc = sync_write_all(t->spool_fd, buf, (size_t)n);
		if (rc)
			return rc;
	}
	return n;
}

static int write_zeros(int fd, uint64_t off, uint64_t len, uint8_t *buf)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	memset(buf, 0, RD_PIECE);
	while (len) {
		size_t k = len < RD_PIECE ? (size_t)len : RD_PIECE;
		int rc = sync_pwrite_all(fd, buf, k, off);
		if (rc)
			return rc;
		off += k;
		len -= k;
	}
	return 0;
}

/* Parses a stream; with dst >= 0 applies it to dst (already holding the base
 * content), else only validates. prepare runs once the header is checked. */
static int parse(const struct sync_source *in, int basis_fd, int dst, int clone_to, uint8_t *buf,
		 struct sync_range_stats *st)
{
	struct sync_chunk_reader r;
	uint8_t hdr[RD_HDR_LEN];
	int rc = sync_chunk_reader_begin(&r, in, RD_MAGIC, RD_VERSION, hdr, sizeof(hdr));
	if (rc)
		return rc;
	uint64_t base = sync_get_le64(hdr), size = sync_get_le64(hdr + 8);
	struct stat sb;
	*st = (struct sync_range_stats){.new_size = size};
	if (size > INT64_MAX || sync_get_le64(hdr + 16) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	if (fstat(basis_fd, &sb) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)sb.st_size != base) {
		rc = -ESTALE;
		goto out;
	}
	uint64_t keep = base < size ? base : size; /* bytes of the copy that survive */
	if (clone_to >= 0) {
		if (ftruncate(clone_to, 0) < 0) {
			rc = -errno;
			goto out;
		}
		rc = sync_copy_prefix(basis_fd, clone_to, keep, buf, RD_PIECE);
		if (rc)
			goto out;
	}
	if (dst >= 0 && ftruncate(dst, (off_t)size) < 0) {
		rc = -errno;
		goto out;
	}
	uint64_t prev_end = 0;
	for (;;) {
		uint8_t type;
		uint32_t len;
		rc = sync_chunk_next(&r, &type, &len);
		if (rc || type == 0)
			break;
		uint8_t head[16];
		uint64_t off, rlen;
		if (type == RD_REC_DATA && len > 8) {
			rc = sync_chunk_read(&r, head, 8);
			off = sync_get_le64(head);
			rlen = len - 8;
		} else if (type == RD_REC_ZERO && len == 16) {
			rc = sync_chunk_read(&r, head, 16);
			off = sync_get_le64(head);
			rlen = sync_get_le64(head + 8);
		} else {
			rc = -EBADMSG;
		}
		if (rc)
			break;
		if (off < prev_end || off > size || rlen == 0 || rlen > size - off) {
			rc = -EBADMSG;
			break;
		}
		prev_end = off + rlen;
		if (type == RD_REC_ZERO) {
			st->zero_bytes += rlen;
			if (dst >= 0 && off < keep)
				rc = write_zeros(
				    dst, off, (off + rlen < keep ? off + rlen : keep) - off, buf);
			if (rc)
				break;
			continue;
		}
		st->data_bytes += rlen;
		while (rlen) {
			size_t k = rlen < RD_PIECE ? (size_t)rlen : RD_PIECE;
			rc = sync_chunk_read(&r, buf, k);
			if (!rc && dst >= 0)
				rc = sync_pwrite_all(dst, buf, k, off);
			if (rc)
				goto out;
			off += k;
			rlen -= k;
		}
	}
	st->stream_bytes = r.bytes;
out:
	sync_chunk_reader_release(&r);
	return rc;
}

int sync_range_delta_apply(const struct sync_source *in, int basis_fd, int out_fd, int spool_fd,
			   struct sync_range_stats *ret)
{
	struct sync_range_stats st;
	uint8_t *buf = malloc(RD_PIECE);
	if (!buf)
		return -ENOMEM;
	int rc;
	if (out_fd != basis_fd) {
		rc = parse(in, basis_fd, out_fd, out_fd, buf, &st);
	} else if (spool_fd < 0) {
		rc = -EINVAL;
	} else {
		/* pass 1: validate while spooling; pass 2: apply the spooled copy */
		struct tee_source tee = {.in = *in, .spool_fd = spool_fd};
		struct sync_source tsrc = {.read = tee_read, .ctx = &tee};
		rc = ftruncate(spool_fd, 0) < 0 || lseek(spool_fd, 0, SEEK_SET) < 0 ? -errno : 0;
		if (!rc)
			rc = parse(&tsrc, basis_fd, -1, -1, buf, &st);
		if (!rc)
			rc = lseek(spool_fd, 0, SEEK_SET) < 0 ? -errno : 0;
		if (!rc) {
			struct sync_source spooled = sync_source_fd(spool_fd);
			rc = parse(&spooled, basis_fd, basis_fd, -1, buf, &st);
		}
	}
	if (!rc && ret)
		*ret = st;
	free(buf);
	return rc;
}
