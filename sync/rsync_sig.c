/* librsync signatures of a copy: parameters, streaming generation into a
 * persisted blob, loading and indexing (format in rsync_sig.h). */
#include "sync/rsync_sig.h"

#include <errno.h>
#include <librsync.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sync/chunk_stream.h"
#include "sync/rsync_job.h"
#include "sync/rsync_sig_internal.h"

#define SIG_MAGIC "SFSG"
#define SIG_VERSION 1
#define SIG_HDR_LEN 24
#define SIG_REC_DATA 1
#define SIG_OUT_BUF (64u * 1024u)
#define SIG_IN_BUF (1u << 20)
#define SIG_LOAD_BUF (64u * 1024u) /* blob records are read in pieces */
/* librsync's signature stream: magic, block_len, strong_len, then per block a
 * 4-byte weak sum and the strong sum. */
#define RS_SIG_HEADER_LEN 12u

struct sync_sig {
	/* Owned, identical indexes, one per delta worker (librsync updates
	 * counters inside an index during a search, so workers never share). */
	rs_signature_t *rs[SYNC_SIG_INDEXES];
	uint64_t basis_size;
	struct sync_sig_params params;
};

struct sync_sig_builder {
	struct sync_chunk_writer w;
	struct sync_chunk_sink records; /* librsync output -> records of w */
	struct sync_rs_pump pump;
	uint64_t size;
	uint64_t fed;
	int failed; /* first error; later calls return it */
};

static int is_sig_magic(uint32_t m)
{
	return m == RS_MD4_SIG_MAGIC || m == RS_BLAKE2_SIG_MAGIC || m == RS_RK_MD4_SIG_MAGIC ||
	       m == RS_RK_BLAKE2_SIG_MAGIC;
}

static uint32_t max_strong(uint32_t m)
{
	return (m == RS_MD4_SIG_MAGIC || m == RS_RK_MD4_SIG_MAGIC) ? RS_MD4_SUM_LENGTH
								   : RS_BLAKE2_SUM_LENGTH;
}

void sync_sig_params_for_size(uint64_t size, struct sync_sig_params *ret)
{
	/* sqrt(size)/4 rounded down to a multiple of 64: for 256 MiB, 4 KiB
	 * blocks, so a scattered 4 KiB write costs one block of literal data
	 * (rsync's sqrt rule would cost 16 KiB) while the signature stays small
	 * (0.3% of the file). */
	uint64_t b = (uint64_t)sqrt((double)size) / 4;
	b &= ~(uint64_t)63;
	if (b < SYNC_SIG_BLOCK_MIN)
		b = SYNC_SIG_BLOCK_MIN;
	if (b > SYNC_SIG_BLOCK_MAX)
		b = SYNC_SIG_BLOCK_MAX;
	*ret = (struct sync_sig_params){.rs_magic = RS_MD4_SIG_MAGIC, .block_len = (uint32_t)b};
	sync_sig_params_check(size, ret);
}

int sync_sig_params_check(uint64_t size, struct sync_sig_params *p)
{
	if (!is_sig_magic(p->rs_magic) || p->block_len < SYNC_SIG_BLOCK_MIN ||
	    p->block_len > SYNC_SIG_BLOCK_MAX || p->strong_len > max_strong(p->rs_magic))
		return -EINVAL;
	if (p->strong_len == 0) {
		rs_magic_number m = (rs_magic_number)p->rs_magic;
		size_t block = p->block_len, strong = (size_t)-1;
		sync_rs_quiet();
		if (rs_sig_args((rs_long_t)size, &m, &block, &strong) != RS_DONE)
			return -EINVAL;
		p->strong_len = (uint32_t)strong;
	}
	return 0;
}

/* Length of librsync's signature stream for a basis of size bytes. */
static uint64_t rs_sig_stream_len(uint64_t size, const struct sync_sig_params *p)
{
	uint64_t blocks = (size + p->block_len - 1) / p->block_len;
	return RS_SIG_HEADER_LEN + blocks * (4 + (uint64_t)p->strong_len);
}

static void encode_hdr(uint8_t *h, uint64_t size, const struct sync_sig_params *p)
{
	sync_put_le64(h, size);
	sync_put_le32(h + 8, p->rs_magic);
	sync_put_le32(h + 12, p->block_len);
	sync_put_le32(h + 16, p->strong_len);
	sync_put_le32(h + 20, 0);
}

int sync_sig_builder_new(uint64_t size, const struct sync_sig_params *params,
			 const struct sync_sink *out, struct sync_sig_builder **ret)
{
	struct sync_sig_params p;
	if (params)
		p = *params;
	else
		sync_sig_params_for_size(size, &p);
	int rc = sync_sig_params_check(size, &p);
	if (rc)
		return rc;
	struct sync_sig_builder *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->size = size;
	uint8_t hdr[SIG_HDR_LEN];
	encode_hdr(hdr, size, &p);
	rc = sync_chunk_writer_begin(&b->w, out, SIG_MAGIC, SIG_VERSION, hdr, sizeof(hdr));
	if (rc) {
		free(b);
		return rc;
	}
	sync_rs_quiet();
	b->records = (struct sync_chunk_sink){.w = &b->w, .type = SIG_REC_DATA};
	struct sync_sink to_chunks = sync_chunk_sink(&b->records);
	rc = sync_rs_pump_init(&b->pump, rs_sig_begin(p.block_len, p.strong_len, p.rs_magic),
			       SIG_OUT_BUF, &to_chunks);
	if (rc) {
		sync_sig_builder_free(b);
		return rc;
	}
	*ret = b;
	return 0;
}

int sync_sig_builder_feed(struct sync_sig_builder *b, const void *data, size_t len)
{
	if (b->failed)
		return b->failed;
	if (len > b->size - b->fed)
		return b->failed = -ESTALE;
	b->fed += len;
	int rc = sync_rs_pump_feed(&b->pump, data, len, false);
	if (rc)
		b->failed = rc;
	return rc;
}

int sync_sig_builder_finish(struct sync_sig_builder *b)
{
	if (b->failed)
		return b->failed;
	if (b->fed != b->size)
		return b->failed = -ESTALE;
	int rc = sync_rs_pump_feed(&b->pump, NULL, 0, true);
	if (!rc)
		rc = sync_chunk_writer_end(&b->w);
	if (rc)
		b->failed = rc;
	return rc;
}

void sync_sig_builder_free(struct sync_sig_builder *b)
{
	if (!b)
		return;
	sync_rs_pump_release(&b->pump);
	sync_chunk_writer_release(&b->w);
	free(b);
}

int sync_sig_write(int fd, const struct sync_sig_params *params, const struct sync_sink *out,
		   const struct sync_progress *progress)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	struct sync_sig_builder *b = NULL;
	uint8_t *buf = malloc(SIG_IN_BUF);
	if (!buf)
		return -ENOMEM;
	int rc = sync_sig_builder_new(size, params, out, &b);
	if (rc)
		goto out;
	uint64_t off = 0;
	for (;;) {
		ssize_t n = sync_pread_some(fd, buf, SIG_IN_BUF, off);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		rc = sync_sig_builder_feed(b, buf, (size_t)n);
		if (rc)
			goto out;
		off += (uint64_t)n;
		sync_progress_report(progress, off, size);
	}
	rc = sync_sig_builder_finish(b);
out:
	sync_sig_builder_free(b);
	free(buf);
	return rc;
}

/* Loadsig jobs produce no output; anything written is a librsync bug. */
static int no_output(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	return len ? -EFAULT : 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int sync_sig_read(const struct sync_source *in, struct sync_sig **ret)
{
	struct sync_chunk_reader r;
	struct sync_rs_pump pump[SYNC_SIG_INDEXES] = {0};
	struct sync_sig *sig = NULL;
	uint8_t *buf = NULL;
	uint8_t hdr[SIG_HDR_LEN];
	int rc = sync_chunk_reader_begin(&r, in, SIG_MAGIC, SIG_VERSION, hdr, sizeof(hdr));
	if (rc)
		return rc;
	sig = calloc(1, sizeof(*sig));
	buf = malloc(SIG_LOAD_BUF);
	if (!sig || !buf) {
		rc = -ENOMEM;
		goto fail;
	}
	sig->basis_size = sync_get_le64(hdr);
	sig->params.rs_magic = sync_get_le32(hdr + 8);
	sig->params.block_len = sync_get_le32(hdr + 12);
	sig->params.strong_len = sync_get_le32(hdr + 16);
	if (sig->basis_size > INT64_MAX || sig->params.strong_len == 0 ||
	    sync_sig_params_check(sig->basis_size, &sig->params) != 0) {
		rc = -EBADMSG;
		goto fail;
	}
	uint64_t expect = rs_sig_stream_len(sig->basis_size, &sig->params), got = 0;
	/* librsync's own header (magic, block length, strong sum length, big
	 * endian) must say what ours says: the delta is cut at our block
	 * length, librsync matches at its own. */
	uint8_t inner[12];
	size_t inner_n = 0;
	sync_rs_quiet();
	struct sync_sink none = {.write = no_output};
	for (int i = 0; i < SYNC_SIG_INDEXES; i++) {
		rc = sync_rs_pump_init(&pump[i], rs_loadsig_begin(&sig->rs[i]), 4096, &none);
		if (rc)
			goto fail;
	}
	for (;;) {
		uint8_t type;
		uint32_t len;
		rc = sync_chunk_next(&r, &type, &len);
		if (rc)
			goto fail;
		if (type == 0)
			break;
		if (type != SIG_REC_DATA || len > expect - got) {
			rc = -EBADMSG;
			goto fail;
		}
		got += len;
		while (len) {
			uint32_t k = len < SIG_LOAD_BUF ? len : SIG_LOAD_BUF;
			rc = sync_chunk_read(&r, buf, k);
			if (!rc && inner_n < sizeof(inner)) {
				size_t c = sizeof(inner) - inner_n < k ? sizeof(inner) - inner_n : k;
				memcpy(inner + inner_n, buf, c);
				inner_n += c;
			}
			for (int i = 0; i < SYNC_SIG_INDEXES && !rc; i++)
				rc = sync_rs_pump_feed(&pump[i], buf, k, false);
			if (rc)
				goto fail;
			len -= k;
		}
	}
	if (got != expect || inner_n != sizeof(inner) || be32(inner) != sig->params.rs_magic ||
	    be32(inner + 4) != sig->params.block_len || be32(inner + 8) != sig->params.strong_len) {
		rc = -EBADMSG;
		goto fail;
	}
	for (int i = 0; i < SYNC_SIG_INDEXES; i++) {
		rc = sync_rs_pump_feed(&pump[i], NULL, 0, true);
		if (!rc && !sig->rs[i])
			rc = -EBADMSG;
		if (!rc)
			rc = sync_rs_errno(rs_build_hash_table(sig->rs[i]));
		if (rc)
			goto fail;
	}
	for (int i = 0; i < SYNC_SIG_INDEXES; i++)
		sync_rs_pump_release(&pump[i]);
	sync_chunk_reader_release(&r);
	free(buf);
	*ret = sig;
	return 0;
fail:
	for (int i = 0; i < SYNC_SIG_INDEXES; i++)
		sync_rs_pump_release(&pump[i]);
	sync_chunk_reader_release(&r);
	free(buf);
	sync_sig_free(sig);
	return rc;
}

uint64_t sync_sig_basis_size(const struct sync_sig *sig)
{
	return sig->basis_size;
}

void sync_sig_get_params(const struct sync_sig *sig, struct sync_sig_params *ret)
{
	*ret = sig->params;
}

rs_signature_t *sync_sig_rs(struct sync_sig *sig, int i)
{
	return sig->rs[i];
}

void sync_sig_free(struct sync_sig *sig)
{
	if (!sig)
		return;
	for (int i = 0; i < SYNC_SIG_INDEXES; i++)
		if (sig->rs[i])
			rs_free_sumset(sig->rs[i]);
	free(sig);
}
