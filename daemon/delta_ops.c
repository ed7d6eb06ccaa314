/* Adapter from the server's delta hooks (daemon_delta_ops, server.h) to the
 * delta half of sync/: the signature of a copy is streamed with
 * sync_sig_write through a sink that cuts it into wire-sized chunks; a delta
 * is applied with sync_patch_apply reading from the request's DATA frames and
 * writing the new copy through the store writer. The store checks the result's
 * SHA-256 at commit, so the patch does not hash it again. Errors are the
 * -errno of the sync/ call (-EBADMSG corrupt delta, -EPROTO truncated,
 * -ESTALE wrong basis) or of the transport. */
#include "daemon/delta_ops.h"

#include <errno.h>

#include "sync/rsync_patch.h"
#include "sync/rsync_sig.h"
#include "sync/sync_io.h"
#include "sync/wire.h"

struct emit_sink {
	int (*emit)(void *arg, const void *buf, size_t len);
	void *arg;
};

/* Sink: forwards len bytes as chunks of at most SYNC_WIRE_MAX_DATA. */
static int emit_write(void *ctx, const void *buf, size_t len)
{
	struct emit_sink *e = ctx;
	const uint8_t *p = buf;
	while (len) {
		size_t n = len < SYNC_WIRE_MAX_DATA ? len : SYNC_WIRE_MAX_DATA;
		int r = e->emit(e->arg, p, n);
		if (r < 0)
			return r;
		p += n;
		len -= n;
	}
	return 0;
}

static int op_signature(void *ctx, int basis_fd,
			int (*emit)(void *arg, const void *buf, size_t len), void *emit_arg)
{
	(void)ctx;
	struct emit_sink e = {emit, emit_arg};
	struct sync_sink out = {emit_write, &e};
	int r = sync_sig_write(basis_fd, NULL, &out, NULL);
	return r < 0 ? r : 0;
}

struct pull_source {
	long (*pull)(void *arg, void *buf, size_t cap);
	void *arg;
};

static ssize_t pull_read(void *ctx, void *buf, size_t cap)
{
	struct pull_source *p = ctx;
	long n = p->pull(p->arg, buf, cap);
	return (ssize_t)n;
}

struct out_sink {
	int (*out)(void *arg, const void *buf, size_t len);
	void *arg;
};

static int out_write(void *ctx, const void *buf, size_t len)
{
	struct out_sink *o = ctx;
	return o->out(o->arg, buf, len);
}

static int op_patch(void *ctx, int basis_fd, long (*pull)(void *arg, void *buf, size_t cap),
		    void *pull_arg, int (*out)(void *arg, const void *buf, size_t len),
		    void *out_arg)
{
	(void)ctx;
	struct pull_source ps = {pull, pull_arg};
	struct out_sink os = {out, out_arg};
	struct sync_source in = {pull_read, &ps};
	struct sync_sink sink = {out_write, &os};
	struct sync_patch_opts opts = {.want_sha256 = false};
	int r = sync_patch_apply(basis_fd, &in, &sink, &opts, NULL);
	return r < 0 ? r : 0;
}

static const struct daemon_delta_ops librsync_ops = {
    .ctx = NULL,
    .signature = op_signature,
    .patch = op_patch,
};

const struct daemon_delta_ops *daemon_delta_ops_librsync(void)
{
	return &librsync_ops;
}
