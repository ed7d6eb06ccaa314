/* One-call librsync update of a local copy, delta and patch pipelined in two
 * threads (see rsync_update.h). */
#include "sync/rsync_update.h"

#include <errno.h>
#include <pthread.h>

#include "sync/mem_pipe.h"

#define UPDATE_PIPE_CAP (4u << 20)

struct delta_thread {
	struct sync_sig *sig;
	int new_fd;
	struct sync_mem_pipe *pipe;
	const struct sync_delta_opts *opts;
	struct sync_delta_stats stats;
	int rc;
};

static void *delta_main(void *arg)
{
	struct delta_thread *t = arg;
	struct sync_sink sink = sync_mem_pipe_sink(t->pipe);
	t->rc = sync_delta_write(t->sig, t->new_fd, &sink, t->opts, &t->stats);
	if (t->rc)
		sync_mem_pipe_abort(t->pipe, t->rc);
	else
		sync_mem_pipe_close(t->pipe);
	return NULL;
}

/* The signature of a copy nobody kept one for: one pass over it. */
static int sig_of_copy(int basis_fd, struct sync_sig **ret)
{
	struct sync_membuf blob = {0};
	struct sync_sink sink = sync_sink_mem(&blob);
	int rc = sync_sig_write(basis_fd, NULL, &sink, NULL);
	if (!rc) {
		struct sync_memreader r = {.data = blob.data, .len = blob.len};
		struct sync_source src = sync_source_mem(&r);
		rc = sync_sig_read(&src, ret);
	}
	sync_membuf_release(&blob);
	return rc;
}

int sync_rsync_update(struct sync_sig *sig, int new_fd, int basis_fd, int out_fd,
		      const struct sync_update_opts *opts, struct sync_update_stats *ret)
{
	static const struct sync_update_opts defaults;
	if (!opts)
		opts = &defaults;
	struct sync_sig *own_sig = NULL;
	struct sync_mem_pipe pipe;
	int rc;
	if (!sig && basis_fd >= 0) {
		rc = sig_of_copy(basis_fd, &own_sig);
		if (rc)
			return rc;
		sig = own_sig;
	}
	rc = sync_mem_pipe_init(&pipe, UPDATE_PIPE_CAP);
	if (rc)
		goto out_sig;
	struct delta_thread t = {.sig = sig, .new_fd = new_fd, .pipe = &pipe, .opts = &opts->delta};
	pthread_t tid;
	rc = -pthread_create(&tid, NULL, delta_main, &t);
	if (rc)
		goto out_pipe;
	struct sync_source src = sync_mem_pipe_source(&pipe);
	struct sync_sink out = sync_sink_fd(out_fd);
	struct sync_patch_result pr;
	int prc = sync_patch_apply(sig ? basis_fd : -1, &src, &out, &opts->patch, &pr);
	if (prc)
		sync_mem_pipe_abort(&pipe, prc);
	pthread_join(tid, NULL);
	/* The first failure is the cause; the other side then sees -EPIPE. */
	rc = t.rc && t.rc != -EPIPE ? t.rc : prc ? prc : t.rc;
	if (!rc && ret)
		*ret = (struct sync_update_stats){.delta = t.stats, .patch = pr};
out_pipe:
	sync_mem_pipe_release(&pipe);
out_sig:
	sync_sig_free(own_sig);
	return rc;
}
