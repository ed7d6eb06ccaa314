/* Streaming application of an SFDL delta with librsync's rs_patch job
 * (contract in rsync_patch.h). Memory: one record buffer and one output
 * buffer, whatever the file size. */
#include "sync/rsync_patch.h"

#include <errno.h>
#include <librsync.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "sync/chunk_stream.h"
#include "sync/rsync_delta.h"
#include "sync/rsync_delta_format.h"
#include "sync/rsync_job.h"

#define PATCH_OUT_BUF (256u * 1024u)
#define PATCH_IN_BUF (64u * 1024u) /* records are read in pieces */

struct patch_ctx {
	int basis_fd; /* -1: no basis */
	uint64_t basis_size;
	int io_error; /* -errno of a failed pread, reported over librsync's */
	struct sync_sink out;
	EVP_MD_CTX *sha; /* NULL unless hashing */
	uint64_t written;
	uint64_t new_size;
	const struct sync_progress *progress;
};

static rs_result basis_copy(void *opaque, rs_long_t pos, size_t *len, void **buf)
{
	struct patch_ctx *c = opaque;
	if (c->basis_fd < 0 || pos < 0 || (uint64_t)pos > c->basis_size ||
	    *len > c->basis_size - (uint64_t)pos)
		return RS_CORRUPT;
	int rc = sync_pread_all(c->basis_fd, *buf, *len, (uint64_t)pos);
	if (rc) {
		c->io_error = rc;
		return RS_IO_ERROR;
	}
	return RS_DONE;
}

static int patch_out(void *ctx, const void *buf, size_t len)
{
	struct patch_ctx *c = ctx;
	if (len > c->new_size - c->written)
		return -EBADMSG; /* more output than the header announced */
	if (c->sha && EVP_DigestUpdate(c->sha, buf, len) != 1)
		return -EIO;
	int rc = c->out.write(c->out.ctx, buf, len);
	if (rc)
		return rc;
	c->written += len;
	sync_progress_report(c->progress, c->written, c->new_size);
	return 0;
}

int sync_patch_apply(int basis_fd, const struct sync_source *in, const struct sync_sink *out,
		     const struct sync_patch_opts *opts, struct sync_patch_result *ret)
{
	static const struct sync_patch_opts defaults;
	if (!opts)
		opts = &defaults;
	struct sync_chunk_reader r = {0};
	struct sync_rs_pump pump = {0};
	struct patch_ctx c = {.basis_fd = -1, .out = *out, .progress = &opts->progress};
	uint8_t *buf = NULL;
	uint8_t hdr[SYNC_DELTA_HDR_LEN];
	uint8_t want_sha[32];
	bool have_want = false;

	int rc =
	    sync_chunk_reader_begin(&r, in, SYNC_DELTA_MAGIC, SYNC_DELTA_VERSION, hdr, sizeof(hdr));
	if (rc)
		return rc;
	uint64_t basis_size = sync_get_le64(hdr);
	c.new_size = sync_get_le64(hdr + 8);
	uint32_t flags = sync_get_le32(hdr + 16);
	if ((flags & ~SYNC_DELTA_F_SHA256) || c.new_size > INT64_MAX ||
	    (basis_size != SYNC_DELTA_NO_BASIS && basis_size > INT64_MAX)) {
		rc = -EBADMSG;
		goto out;
	}
	if (basis_size != SYNC_DELTA_NO_BASIS) {
		struct stat st;
		if (basis_fd < 0) {
			rc = -ESTALE; /* a delta needs the copy it was made for */
			goto out;
		}
		if (fstat(basis_fd, &st) < 0) {
			rc = -errno;
			goto out;
		}
		if ((uint64_t)st.st_size != basis_size) {
			rc = -ESTALE;
			goto out;
		}
		c.basis_fd = basis_fd;
		c.basis_size = basis_size;
	}
	if (opts->want_sha256 || (flags & SYNC_DELTA_F_SHA256)) {
		c.sha = EVP_MD_CTX_new();
		if (!c.sha || EVP_DigestInit_ex(c.sha, EVP_sha256(), NULL) != 1) {
			rc = -ENOMEM;
			goto out;
		}
	}
	buf = malloc(PATCH_IN_BUF);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	sync_rs_quiet();
	struct sync_sink to_out = {.write = patch_out, .ctx = &c};
	bool open = false; /* a segment's patch job is running */
	uint64_t segments = 0;
	for (;;) {
		uint8_t type;
		uint32_t len;
		rc = sync_chunk_next(&r, &type, &len);
		if (rc)
			goto out;
		if (type == 0)
			break;
		if (have_want) {
			rc = -EBADMSG; /* nothing may follow the content hash */
			goto out;
		}
		if (type == SYNC_DELTA_REC_SHA256 && len == 32 && (flags & SYNC_DELTA_F_SHA256) &&
		    !open) {
			rc = sync_chunk_read(&r, want_sha, 32);
			if (rc)
				goto out;
			have_want = true;
			continue;
		}
		if (type == SYNC_DELTA_REC_SEGMENT && len == 0 && open) {
			rc = sync_rs_pump_feed(&pump, NULL, 0, true);
			sync_rs_pump_release(&pump);
			open = false;
			segments++;
			if (rc)
				goto out;
			continue;
		}
		if (type != SYNC_DELTA_REC_DATA) {
			rc = -EBADMSG;
			goto out;
		}
		if (!open) {
			rc = sync_rs_pump_init(&pump, rs_patch_begin(basis_copy, &c), PATCH_OUT_BUF,
					       &to_out);
			if (rc)
				goto out;
			open = true;
		}
		while (len) {
			uint32_t k = len < PATCH_IN_BUF ? len : PATCH_IN_BUF;
			rc = sync_chunk_read(&r, buf, k);
			if (!rc)
				rc = sync_rs_pump_feed(&pump, buf, k, false);
			if (rc)
				goto out;
			len -= k;
		}
	}
	if (open || segments == 0) {
		rc = -EBADMSG; /* an unterminated segment, or none at all */
		goto out;
	}
	if (c.written != c.new_size || ((flags & SYNC_DELTA_F_SHA256) && !have_want)) {
		rc = -EBADMSG;
		goto out;
	}
	uint8_t md[EVP_MAX_MD_SIZE];
	if (c.sha) {
		unsigned int mdlen = 0;
		if (EVP_DigestFinal_ex(c.sha, md, &mdlen) != 1 || mdlen != 32) {
			rc = -EIO;
			goto out;
		}
		if (have_want && memcmp(md, want_sha, 32) != 0) {
			rc = -EBADMSG;
			goto out;
		}
	}
	if (ret) {
		*ret = (struct sync_patch_result){
		    .basis_size = basis_size,
		    .new_size = c.new_size,
		    .stream_bytes = r.bytes,
		    .have_sha256 = c.sha != NULL,
		};
		if (c.sha)
			memcpy(ret->sha256, md, 32);
	}
out:
	if (rc && c.io_error)
		rc = c.io_error;
	sync_rs_pump_release(&pump);
	sync_chunk_reader_release(&r);
	EVP_MD_CTX_free(c.sha);
	free(buf);
	return rc;
}
