/* Origin side of replication (see replicate.h): choose between nothing, a
 * librsync delta against the host's newest other copy, and a full copy; run
 * the delta generation in a thread that feeds the upload through a bounded
 * in-memory pipe. */
#include "sync/replicate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sync/mem_pipe.h"
#include "sync/rsync_delta.h"
#include "sync/rsync_sig.h"
#include "sync/sync_io.h"

#define PIPE_BYTES (4u << 20) /* delta bytes in flight between the threads */

const char *sync_repl_method_name(enum sync_repl_method m)
{
	switch (m) {
	case SYNC_REPL_CURRENT:
		return "current";
	case SYNC_REPL_DELTA:
		return "delta";
	case SYNC_REPL_FULL:
		return "full";
	}
	return "?";
}

/* The host's copies of id (VERSIONS; with list_all, the whole LIST of an
 * older shadowd: other ids are skipped by the callers). */
static int copies_of(struct sync_client *c, const uint8_t id[16], bool list_all,
		     unsigned timeout_ms, struct sync_wire_list_entry **v, size_t *n)
{
	return list_all ? sync_client_list(c, v, n, timeout_ms)
			: sync_client_versions(c, id, v, n, timeout_ms);
}

/* The host's copies of id: whether `version` is there at `size`, and the
 * newest other version. A copy of `version` at another size is damaged
 * (truncated on the host: its SHA-256 was checked at commit, so at the
 * size of the origin): neither, so a new copy replaces it. */
static int find_copies(struct sync_client *c, const uint8_t id[16], uint64_t version,
		       uint64_t size, bool list_all, unsigned timeout_ms, bool *has_version,
		       bool *has_other, uint64_t *other)
{
	struct sync_wire_list_entry *v = NULL;
	size_t n = 0;
	int r = copies_of(c, id, list_all, timeout_ms, &v, &n);
	if (r < 0)
		return r;
	*has_version = *has_other = false;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(v[i].id, id, 16))
			continue;
		if (v[i].version == version) {
			*has_version = v[i].size == size;
		} else if (!*has_other || v[i].version > *other) {
			*has_other = true;
			*other = v[i].version;
		}
	}
	free(v);
	return 0;
}

static int sig_collect(void *arg, const void *buf, size_t len)
{
	struct sync_sink *s = arg;
	return s->write(s->ctx, buf, len);
}

struct delta_job {
	struct sync_sig *sig;
	int fd;
	struct sync_mem_pipe pipe;
	struct sync_delta_opts opts;
	struct sync_delta_stats stats; /* read by the uploader after end of stream */
	uint64_t streamed;	       /* delta bytes handed to the upload */
	int result;
};

static void *delta_thread(void *arg)
{
	struct delta_job *j = arg;
	struct sync_sink out = sync_mem_pipe_sink(&j->pipe);
	j->result = sync_delta_write(j->sig, j->fd, &out, &j->opts, &j->stats);
	if (j->result < 0)
		sync_mem_pipe_abort(&j->pipe, j->result);
	else
		sync_mem_pipe_close(&j->pipe);
	return NULL;
}

static long pipe_pull(void *arg, void *buf, size_t cap)
{
	struct delta_job *j = arg;
	struct sync_source in = sync_mem_pipe_source(&j->pipe);
	ssize_t n = in.read(in.ctx, buf, cap);
	if (n > 0)
		j->streamed += (uint64_t)n;
	return (long)n;
}

/* DELTA against `base`: signature from the host, delta streamed back. */
/* *local: the failure is ours (reading or delta'ing the file), not the host's. */
static int send_delta(struct sync_client *c, const uint8_t id[16], uint64_t base,
		      uint64_t version, int fd, uint64_t size, const struct sync_repl_opts *o,
		      unsigned timeout_ms, struct sync_repl_result *res, bool *local)
{
	struct sync_membuf sigbuf = {0};
	struct sync_sink sigsink = sync_sink_mem(&sigbuf);
	struct delta_job j = {.fd = fd};
	pthread_t t;
	int r = sync_client_signature(c, id, base, sig_collect, &sigsink, timeout_ms);
	res->sig_bytes = sigbuf.len;
	if (r == 0) {
		struct sync_memreader mr = {sigbuf.data, sigbuf.len, 0};
		struct sync_source src = sync_source_mem(&mr);
		r = sync_sig_read(&src, &j.sig);
	}
	sync_membuf_release(&sigbuf);
	if (r < 0)
		return r;
	r = sync_mem_pipe_init(&j.pipe, PIPE_BYTES);
	if (r < 0) {
		sync_sig_free(j.sig);
		return r;
	}
	j.opts.content_sha256 = true;
	j.opts.progress.fn = o->progress;
	j.opts.progress.ctx = o->progress_arg;
	if (pthread_create(&t, NULL, delta_thread, &j) != 0) {
		sync_mem_pipe_release(&j.pipe);
		sync_sig_free(j.sig);
		return -EAGAIN;
	}
	r = sync_client_delta_stream(c, id, base, version, size, pipe_pull, &j, j.stats.sha256,
				     timeout_ms);
	sync_mem_pipe_abort(&j.pipe, -ECANCELED); /* unblocks the thread if the upload failed */
	pthread_join(t, NULL);
	if (r < 0 && j.result < 0 && j.result != -EPIPE && j.result != -ECANCELED) {
		*local = true; /* e.g. -ESTALE: the file changed size during the pass */
		r = j.result;
	}
	res->sent_bytes = j.streamed;
	if (r == 0) {
		res->have_sha256 = true;
		memcpy(res->sha256, j.stats.sha256, sizeof(res->sha256));
	}
	sync_mem_pipe_release(&j.pipe);
	sync_sig_free(j.sig);
	return r;
}

static void full_progress(void *arg, uint64_t done, uint64_t total)
{
	const struct sync_repl_opts *o = arg;
	o->progress(o->progress_arg, done, total);
}

static int send_full(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
		     uint64_t size, const struct sync_repl_opts *o, unsigned timeout_ms,
		     struct sync_repl_result *res)
{
	if (o->progress)
		sync_client_set_progress(c, full_progress, (void *)o);
	int r = o->sha256
		    ? sync_client_put(c, id, version, fd, size, o->sha256, timeout_ms)
		    : sync_client_put_hashed(c, id, version, fd, size, res->sha256, timeout_ms);
	sync_client_set_progress(c, NULL, NULL);
	res->sent_bytes = sync_client_put_sent(c); /* the holes of a sparse file not */
	res->have_sha256 = r == 0;
	if (r == 0 && o->sha256)
		memcpy(res->sha256, o->sha256, sizeof(res->sha256));
	return r;
}

/* After success: the other versions of id are superseded. */
static int delete_others(struct sync_client *c, const uint8_t id[16], uint64_t version,
			 bool list_all, unsigned timeout_ms)
{
	struct sync_wire_list_entry *v = NULL;
	size_t n = 0;
	int r = copies_of(c, id, list_all, timeout_ms, &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (!memcmp(v[i].id, id, 16) && v[i].version != version) {
			r = sync_client_delete(c, id, v[i].version, timeout_ms);
			if (r == -ENOENT)
				r = 0; /* gone meanwhile */
		}
	free(v);
	return r;
}

int sync_replicate(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
		   const struct sync_repl_opts *opts, struct sync_repl_result *ret)
{
	static const struct sync_repl_opts defaults;
	const struct sync_repl_opts *o = opts ? opts : &defaults;
	unsigned timeout_ms = o->timeout_ms ? o->timeout_ms : 10000;
	struct sync_repl_result res = {.method = SYNC_REPL_FULL};
	bool has_version, has_other, local = false;
	uint64_t other = 0;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	res.size = (uint64_t)st.st_size;
	r = find_copies(c, id, version, res.size, o->list_all, timeout_ms, &has_version,
			&has_other, &other);
	if (r < 0)
		return r;
	if (has_version) {
		res.method = SYNC_REPL_CURRENT;
	} else {
		if (has_other && !o->full_only) {
			res.method = SYNC_REPL_DELTA;
			res.base_version = other;
			r = send_delta(c, id, other, version, fd, res.size, o, timeout_ms, &res,
				       &local);
			/* The host cannot use that copy (no delta support, copy gone,
			 * signature of another basis): a full copy still works. */
			if (!local && (r == -ENOTSUP || r == -ESTALE || r == -ENOENT)) {
				res.delta_refused = true;
				res.method = SYNC_REPL_FULL;
			}
		}
		if (res.method == SYNC_REPL_FULL)
			r = send_full(c, id, version, fd, res.size, o, timeout_ms, &res);
	}
	if (r == 0 && !o->keep_old)
		r = delete_others(c, id, version, o->list_all, timeout_ms);
	if (ret)
		*ret = res;
	return r;
}
