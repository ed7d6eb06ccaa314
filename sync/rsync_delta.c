/* librsync delta generation into an SFDL stream (format in rsync_delta.h). */
#include "sync/rsync_delta.h"

#include <errno.h>
#include <librsync.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "sync/chunk_stream.h"
#include "sync/rsync_delta_format.h"
#include "sync/rsync_job.h"
#include "sync/rsync_sig_internal.h"

#define DELTA_IN_BUF (1u << 20)
#define DELTA_OUT_BUF (256u * 1024u)

static int delta_chunk_write(void *ctx, const void *buf, size_t len)
{
	struct sync_chunk_writer *w = ctx;
	const uint8_t *p = buf;
	while (len) {
		size_t n = len < SYNC_CHUNK_MAX ? len : SYNC_CHUNK_MAX;
		int rc = sync_chunk_write(w, SYNC_DELTA_REC_DATA, p, n, NULL, 0);
		if (rc)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}

int sync_delta_write(struct sync_sig *sig, int new_fd, const struct sync_sink *out,
		     const struct sync_delta_opts *opts, struct sync_delta_stats *ret_stats)
{
	static const struct sync_delta_opts defaults;
	if (!opts)
		opts = &defaults;
	struct sync_chunk_writer w = {0};
	struct sync_rs_pump pump = {0};
	struct sync_sig_builder *next = NULL;
	EVP_MD_CTX *sha = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	int rc;

	if (fstat(new_fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	buf = malloc(DELTA_IN_BUF);
	if (!buf)
		return -ENOMEM;
	if (opts->content_sha256) {
		sha = EVP_MD_CTX_new();
		if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (opts->next_sig) {
		rc = sync_sig_builder_new(size, opts->next_params, opts->next_sig, &next);
		if (rc)
			goto out;
	}
	uint8_t hdr[SYNC_DELTA_HDR_LEN];
	sync_put_le64(hdr, sig ? sync_sig_basis_size(sig) : SYNC_DELTA_NO_BASIS);
	sync_put_le64(hdr + 8, size);
	sync_put_le32(hdr + 16, opts->content_sha256 ? SYNC_DELTA_F_SHA256 : 0);
	sync_put_le32(hdr + 20, 0);
	rc = sync_chunk_writer_begin(&w, out, SYNC_DELTA_MAGIC, SYNC_DELTA_VERSION, hdr,
				     sizeof(hdr));
	if (rc)
		goto out;
	sync_rs_quiet();
	struct sync_sink to_chunks = {.write = delta_chunk_write, .ctx = &w};
	rc = sync_rs_pump_init(&pump, rs_delta_begin(sig ? sync_sig_rs(sig) : NULL),
			       DELTA_OUT_BUF, &to_chunks);
	if (rc)
		goto out;

	uint64_t off = 0;
	for (;;) {
		ssize_t n = sync_pread_some(new_fd, buf, DELTA_IN_BUF, off);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > size - off) {
			rc = -ESTALE;
			goto out;
		}
		rc = sync_rs_pump_feed(&pump, buf, (size_t)n, false);
		if (!rc && next)
			rc = sync_sig_builder_feed(next, buf, (size_t)n);
		if (!rc && sha && EVP_DigestUpdate(sha, buf, (size_t)n) != 1)
			rc = -EIO;
		if (rc)
			goto out;
		off += (uint64_t)n;
		sync_progress_report(&opts->progress, off, size);
	}
	if (off != size) {
		rc = -ESTALE;
		goto out;
	}
	rc = sync_rs_pump_feed(&pump, NULL, 0, true);
	if (rc)
		goto out;
	uint8_t md[EVP_MAX_MD_SIZE];
	if (sha) {
		unsigned int mdlen = 0;
		if (EVP_DigestFinal_ex(sha, md, &mdlen) != 1 || mdlen != 32) {
			rc = -EIO;
			goto out;
		}
		rc = sync_chunk_write(&w, SYNC_DELTA_REC_SHA256, md, 32, NULL, 0);
		if (rc)
			goto out;
	}
	rc = sync_chunk_writer_end(&w);
	if (!rc && next)
		rc = sync_sig_builder_finish(next);
	if (rc)
		goto out;
	if (ret_stats) {
		const rs_stats_t *s = rs_job_statistics(pump.job);
		*ret_stats = (struct sync_delta_stats){
			.new_size = size,
			.stream_bytes = w.bytes,
			.literal_bytes = (uint64_t)s->lit_bytes,
			.copy_bytes = (uint64_t)s->copy_bytes,
		};
		if (sha)
			memcpy(ret_stats->sha256, md, 32);
	}
out:
	sync_rs_pump_release(&pump);
	sync_chunk_writer_release(&w);
	sync_sig_builder_free(next);
	EVP_MD_CTX_free(sha);
	free(buf);
	return rc;
}
