/* Chunked, checksummed byte streams (format in chunk_stream.h). */
#include "sync/chunk_stream.h"

#include <errno.h>
#include <string.h>

#include <xxhash.h>

static int sum_begin(XXH3_state_t **ret)
{
	XXH3_state_t *c = XXH3_createState();
	if (!c)
		return -ENOMEM;
	if (XXH3_128bits_reset(c) != XXH_OK) {
		XXH3_freeState(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

static void sum_final(XXH3_state_t *c, uint8_t out[SYNC_CHUNK_TRAILER_LEN])
{
	XXH128_canonical_t canon;
	XXH128_canonicalFromHash(&canon, XXH3_128bits_digest(c));
	memcpy(out, canon.digest, SYNC_CHUNK_TRAILER_LEN);
}

static int w_emit(struct sync_chunk_writer *w, const void *buf, size_t len)
{
	if (!len)
		return 0;
	if (XXH3_128bits_update(w->sum, buf, len) != XXH_OK)
		return -EIO;
	int rc = w->out.write(w->out.ctx, buf, len);
	if (rc == 0)
		w->bytes += len;
	return rc;
}

int sync_chunk_writer_begin(struct sync_chunk_writer *w, const struct sync_sink *out,
			    const char magic[4], uint16_t version, const void *hdr,
			    uint16_t hdr_len)
{
	*w = (struct sync_chunk_writer){.out = *out};
	if (hdr_len > SYNC_CHUNK_HDR_MAX)
		return -EINVAL;
	int rc = sum_begin(&w->sum);
	if (rc)
		return rc;
	uint8_t head[8];
	memcpy(head, magic, 4);
	sync_put_le16(head + 4, version);
	sync_put_le16(head + 6, hdr_len);
	rc = w_emit(w, head, sizeof(head));
	if (!rc)
		rc = w_emit(w, hdr, hdr_len);
	if (rc)
		sync_chunk_writer_release(w);
	return rc;
}

int sync_chunk_write(struct sync_chunk_writer *w, uint8_t type, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	if (type == 0 || alen > SYNC_CHUNK_MAX || blen > SYNC_CHUNK_MAX - alen)
		return -EINVAL;
	uint8_t head[5];
	head[0] = type;
	sync_put_le32(head + 1, (uint32_t)(alen + blen));
	int rc = w_emit(w, head, sizeof(head));
	if (!rc)
		rc = w_emit(w, a, alen);
	if (!rc)
		rc = w_emit(w, b, blen);
	return rc;
}

static int chunk_sink_write(void *ctx, const void *buf, size_t len)
{
	struct sync_chunk_sink *cs = ctx;
	const uint8_t *p = buf;
	while (len) {
		size_t n = len < SYNC_CHUNK_MAX ? len : SYNC_CHUNK_MAX;
		int rc = sync_chunk_write(cs->w, cs->type, p, n, NULL, 0);
		if (rc)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}

struct sync_sink sync_chunk_sink(struct sync_chunk_sink *cs)
{
	return (struct sync_sink){.write = chunk_sink_write, .ctx = cs};
}

int sync_chunk_writer_end(struct sync_chunk_writer *w)
{
	uint8_t end[5] = {0};
	int rc = w_emit(w, end, sizeof(end));
	if (rc)
		return rc;
	uint8_t md[SYNC_CHUNK_TRAILER_LEN];
	sum_final(w->sum, md);
	rc = w->out.write(w->out.ctx, md, SYNC_CHUNK_TRAILER_LEN);
	if (rc == 0)
		w->bytes += SYNC_CHUNK_TRAILER_LEN;
	return rc;
}

void sync_chunk_writer_release(struct sync_chunk_writer *w)
{
	if (!w)
		return;
	XXH3_freeState(w->sum);
	w->sum = NULL;
}

/* Reads exactly len bytes into buf and hashes them. */
static int r_take(struct sync_chunk_reader *r, void *buf, size_t len)
{
	int rc = sync_source_read_full(&r->in, buf, len);
	if (rc)
		return rc;
	if (len && XXH3_128bits_update(r->sum, buf, len) != XXH_OK)
		return -EIO;
	r->bytes += len;
	return 0;
}

int sync_chunk_reader_begin(struct sync_chunk_reader *r, const struct sync_source *in,
			    const char magic[4], uint16_t version, void *hdr, uint16_t hdr_len)
{
	*r = (struct sync_chunk_reader){.in = *in};
	int rc = sum_begin(&r->sum);
	if (rc)
		return rc;
	uint8_t head[8];
	rc = r_take(r, head, sizeof(head));
	if (rc)
		goto fail;
	if (memcmp(head, magic, 4) != 0 || sync_get_le16(head + 6) != hdr_len) {
		rc = -EBADMSG;
		goto fail;
	}
	if (sync_get_le16(head + 4) != version) {
		rc = -EPROTONOSUPPORT;
		goto fail;
	}
	rc = r_take(r, hdr, hdr_len);
	if (rc)
		goto fail;
	return 0;
fail:
	sync_chunk_reader_release(r);
	return rc;
}

int sync_chunk_next(struct sync_chunk_reader *r, uint8_t *ret_type, uint32_t *ret_len)
{
	uint8_t skip[4096];
	if (r->done)
		return -EINVAL;
	while (r->remaining) {
		size_t n = r->remaining < sizeof(skip) ? r->remaining : sizeof(skip);
		int rc = sync_chunk_read(r, skip, n);
		if (rc)
			return rc;
	}
	uint8_t head[5];
	int rc = r_take(r, head, sizeof(head));
	if (rc)
		return rc;
	uint8_t type = head[0];
	uint32_t len = sync_get_le32(head + 1);
	if (len > SYNC_CHUNK_MAX || (type == 0 && len != 0))
		return -EBADMSG;
	if (type == 0) {
		uint8_t want[SYNC_CHUNK_TRAILER_LEN], got[SYNC_CHUNK_TRAILER_LEN];
		sum_final(r->sum, want);
		rc = sync_source_read_full(&r->in, got, sizeof(got));
		if (rc)
			return rc;
		r->bytes += sizeof(got);
		if (memcmp(want, got, sizeof(got)) != 0)
			return -EBADMSG;
		r->done = 1;
	}
	r->remaining = len;
	*ret_type = type;
	*ret_len = len;
	return 0;
}

int sync_chunk_read(struct sync_chunk_reader *r, void *buf, size_t len)
{
	if (len > r->remaining)
		return -EINVAL;
	int rc = r_take(r, buf, len);
	if (rc == 0)
		r->remaining -= (uint32_t)len;
	return rc;
}

void sync_chunk_reader_release(struct sync_chunk_reader *r)
{
	if (!r)
		return;
	XXH3_freeState(r->sum);
	r->sum = NULL;
}
