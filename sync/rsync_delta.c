/* librsync delta generation into an SFDL stream (format in rsync_delta.h).
 *
 * Parallelism: the new file is cut into segments, each delta'd by its own
 * librsync job against its own copy of the signature index. Segment 0 runs in
 * the calling thread and streams straight to the sink; segment 1 runs in a
 * worker whose output waits in a bounded in-memory pipe (when it fills, the
 * worker waits: memory stays bounded, at worst the work is sequential) and
 * is forwarded after segment 0. Hashing the content and building the next
 * signature need the bytes in order: a third thread reads the file once more
 * (from the page cache) for them. A match across the cut is lost: at most one
 * block of extra literal data. */
#include "sync/rsync_delta.h"

#include <errno.h>
#include <librsync.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "sync/chunk_stream.h"
#include "sync/mem_pipe.h"
#include "sync/rsync_delta_format.h"
#include "sync/rsync_job.h"
#include "sync/rsync_sig_internal.h"

#define DELTA_IN_BUF (1u << 20)
#define DELTA_OUT_BUF (256u * 1024u)
#define DELTA_SEG_PIPE (16u << 20)	/* bound on segment 1's waiting output */
#define DELTA_PARALLEL_MIN (8ull << 20) /* smaller files: one segment */

/* Progress of the whole file, reported from the calling thread only: after
 * each input chunk of segment 0 and each write forwarded from segment 1. */
struct progress_sink {
	struct sync_sink inner;
	const struct sync_progress *progress;
	atomic_uint_least64_t *read_total;
	uint64_t size;
	uint64_t last;
};

static void report(struct progress_sink *ps)
{
	uint64_t done = atomic_load(ps->read_total);
	if (done > ps->size)
		done = ps->size;
	if (done > ps->last) {
		ps->last = done;
		sync_progress_report(ps->progress, done, ps->size);
	}
}

static int progress_write(void *ctx, const void *buf, size_t len)
{
	struct progress_sink *ps = ctx;
	int rc = ps->inner.write(ps->inner.ctx, buf, len);
	report(ps);
	return rc;
}

struct segment {
	rs_signature_t *rs; /* NULL: full copy (literal data only) */
	int fd;
	uint64_t off, len;
	struct sync_sink out;
	atomic_uint_least64_t *read_total;
	uint64_t lit, copy;
	struct sync_mem_pipe *pipe; /* worker only: closed or aborted at the end */
	struct progress_sink *ps;   /* calling thread only: progress to report */
	int rc;
};

/* Runs one librsync delta job over [off, off+len) of fd into s->out. */
static int run_segment(struct segment *s)
{
	struct sync_rs_pump pump = {0};
	uint8_t *buf = malloc(DELTA_IN_BUF);
	if (!buf)
		return -ENOMEM;
	int rc = sync_rs_pump_init(&pump, rs_delta_begin(s->rs), DELTA_OUT_BUF, &s->out);
	uint64_t off = s->off, end = s->off + s->len;
	while (!rc && off < end) {
		size_t want = end - off < DELTA_IN_BUF ? (size_t)(end - off) : DELTA_IN_BUF;
		ssize_t n = sync_pread_some(s->fd, buf, want, off);
		if (n < 0)
			rc = (int)n;
		else if ((size_t)n < want)
			rc = -ESTALE; /* the file shrank under us */
		else
			rc = sync_rs_pump_feed(&pump, buf, want, false);
		off += want;
		atomic_fetch_add(s->read_total, want);
		if (s->ps)
			report(s->ps);
	}
	if (!rc)
		rc = sync_rs_pump_feed(&pump, NULL, 0, true);
	if (!rc) {
		const rs_stats_t *st = rs_job_statistics(pump.job);
		s->lit = (uint64_t)st->lit_bytes;
		s->copy = (uint64_t)st->copy_bytes;
	}
	sync_rs_pump_release(&pump);
	free(buf);
	return rc;
}

static void *segment_main(void *arg)
{
	struct segment *s = arg;
	s->rc = run_segment(s);
	if (s->rc)
		sync_mem_pipe_abort(s->pipe, s->rc);
	else
		sync_mem_pipe_close(s->pipe);
	return NULL;
}

/* The in-order pass: content hash and next signature. */
struct tee {
	int fd;
	uint64_t size;
	EVP_MD_CTX *sha;	       /* NULL: no hash */
	struct sync_sig_builder *next; /* NULL: no next signature */
	uint8_t md[32];
	atomic_bool stop; /* set by the caller on error */
	int rc;
};

static void *tee_main(void *arg)
{
	struct tee *t = arg;
	uint8_t *buf = malloc(DELTA_IN_BUF);
	int rc = buf ? 0 : -ENOMEM;
	for (uint64_t off = 0; !rc && off < t->size && !atomic_load(&t->stop);) {
		size_t want = t->size - off < DELTA_IN_BUF ? (size_t)(t->size - off) : DELTA_IN_BUF;
		ssize_t n = sync_pread_some(t->fd, buf, want, off);
		if (n < 0)
			rc = (int)n;
		else if ((size_t)n < want)
			rc = -ESTALE;
		else if (t->sha && EVP_DigestUpdate(t->sha, buf, want) != 1)
			rc = -EIO;
		else if (t->next)
			rc = sync_sig_builder_feed(t->next, buf, want);
		off += want;
	}
	if (!rc && t->next)
		rc = sync_sig_builder_finish(t->next);
	unsigned int mdlen = 0;
	if (!rc && t->sha && (EVP_DigestFinal_ex(t->sha, t->md, &mdlen) != 1 || mdlen != 32))
		rc = -EIO;
	free(buf);
	t->rc = rc;
	return NULL;
}

int sync_delta_write(struct sync_sig *sig, int new_fd, const struct sync_sink *out,
		     const struct sync_delta_opts *opts, struct sync_delta_stats *ret_stats)
{
	static const struct sync_delta_opts defaults;
	if (!opts)
		opts = &defaults;
	struct sync_chunk_writer w = {0};
	struct sync_mem_pipe pipe = {0};
	struct tee tee = {.fd = new_fd};
	struct segment seg[2] = {0};
	pthread_t seg_tid, tee_tid;
	bool seg_started = false, tee_started = false, pipe_ready = false;
	atomic_uint_least64_t read_total = 0;
	uint8_t *buf = NULL;
	struct stat st;
	int rc;

	if (fstat(new_fd, &st) < 0)
		return -errno;
	uint64_t size = (uint64_t)st.st_size;
	tee.size = size;
	if (opts->content_sha256) {
		tee.sha = EVP_MD_CTX_new();
		if (!tee.sha || EVP_DigestInit_ex(tee.sha, EVP_sha256(), NULL) != 1) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (opts->next_sig) {
		rc = sync_sig_builder_new(size, opts->next_params, opts->next_sig, &tee.next);
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

	if (tee.sha || tee.next) {
		rc = -pthread_create(&tee_tid, NULL, tee_main, &tee);
		if (rc)
			goto out;
		tee_started = true;
	}
	bool has_basis = sig && sync_sig_basis_size(sig) > 0;
	int nseg =
	    has_basis && size >= DELTA_PARALLEL_MIN && sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 2 : 1;
	struct sync_chunk_sink records = {.w = &w, .type = SYNC_DELTA_REC_DATA};
	struct progress_sink ps = {
	    .inner = sync_chunk_sink(&records),
	    .progress = &opts->progress,
	    .read_total = &read_total,
	    .size = size,
	};
	uint64_t cut = size;
	if (nseg == 2) { /* at a block boundary: unshifted data still matches */
		struct sync_sig_params sp;
		sync_sig_get_params(sig, &sp);
		cut = size / 2 / sp.block_len * sp.block_len;
	}
	seg[0] = (struct segment){.rs = has_basis ? sync_sig_rs(sig, 0) : NULL,
				  .fd = new_fd,
				  .off = 0,
				  .len = cut,
				  .out = ps.inner,
				  .read_total = &read_total,
				  .ps = &ps};
	if (nseg == 2) {
		rc = sync_mem_pipe_init(&pipe, DELTA_SEG_PIPE);
		if (rc)
			goto out;
		pipe_ready = true;
		seg[1] = (struct segment){.rs = sync_sig_rs(sig, 1),
					  .fd = new_fd,
					  .off = cut,
					  .len = size - cut,
					  .out = sync_mem_pipe_sink(&pipe),
					  .read_total = &read_total,
					  .pipe = &pipe};
		rc = -pthread_create(&seg_tid, NULL, segment_main, &seg[1]);
		if (rc)
			goto out;
		seg_started = true;
	}
	rc = run_segment(&seg[0]);
	if (!rc)
		rc = sync_chunk_write(&w, SYNC_DELTA_REC_SEGMENT, NULL, 0, NULL, 0);
	if (rc)
		goto out;
	if (nseg == 2) { /* forward segment 1's output as it comes */
		buf = malloc(DELTA_OUT_BUF);
		if (!buf) {
			rc = -ENOMEM;
			goto out;
		}
		struct sync_source src = sync_mem_pipe_source(&pipe);
		for (;;) {
			ssize_t n = src.read(src.ctx, buf, DELTA_OUT_BUF);
			if (n <= 0) {
				rc = (int)n;
				break;
			}
			rc = progress_write(&ps, buf, (size_t)n);
			if (rc)
				break;
		}
		if (!rc)
			rc = sync_chunk_write(&w, SYNC_DELTA_REC_SEGMENT, NULL, 0, NULL, 0);
		if (rc)
			goto out;
	}
	if (tee_started) {
		pthread_join(tee_tid, NULL);
		tee_started = false;
		rc = tee.rc;
		if (!rc && tee.sha)
			rc = sync_chunk_write(&w, SYNC_DELTA_REC_SHA256, tee.md, 32, NULL, 0);
		if (rc)
			goto out;
	}
	if (fstat(new_fd, &st) == 0 && (uint64_t)st.st_size != size) {
		rc = -ESTALE; /* grew meanwhile */
		goto out;
	}
	rc = sync_chunk_writer_end(&w);
	if (rc)
		goto out;
	sync_progress_report(&opts->progress, size, size);
	if (ret_stats) {
		*ret_stats = (struct sync_delta_stats){
		    .new_size = size,
		    .stream_bytes = w.bytes,
		    .literal_bytes = seg[0].lit + seg[1].lit,
		    .copy_bytes = seg[0].copy + seg[1].copy,
		};
		if (tee.sha)
			memcpy(ret_stats->sha256, tee.md, 32);
	}
out:
	if (seg_started) {
		if (rc)
			sync_mem_pipe_abort(&pipe, rc);
		pthread_join(seg_tid, NULL);
		if (!rc && seg[1].rc)
			rc = seg[1].rc;
	}
	if (tee_started) {
		atomic_store(&tee.stop, true);
		pthread_join(tee_tid, NULL);
	}
	if (pipe_ready)
		sync_mem_pipe_release(&pipe);
	sync_chunk_writer_release(&w);
	sync_sig_builder_free(tee.next);
	EVP_MD_CTX_free(tee.sha);
	free(buf);
	return rc;
}
