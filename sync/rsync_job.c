/* Driving a librsync rs_job with fixed buffers (see rsync_job.h). */
#include "sync/rsync_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

int sync_rs_errno(rs_result r)
{
	switch (r) {
	case RS_DONE:
		return 0;
	case RS_BLOCKED:
	case RS_RUNNING:
		return -EAGAIN;
	case RS_TEST_SKIPPED:
		return -ENOTSUP;
	case RS_IO_ERROR:
		return -EIO;
	case RS_SYNTAX_ERROR:
	case RS_PARAM_ERROR:
		return -EINVAL;
	case RS_MEM_ERROR:
		return -ENOMEM;
	case RS_INPUT_ENDED:
		return -EPROTO;
	case RS_BAD_MAGIC:
	case RS_CORRUPT:
		return -EBADMSG;
	case RS_UNIMPLEMENTED:
		return -ENOTSUP;
	case RS_INTERNAL_ERROR:
	default:
		return -EFAULT;
	}
}

static void rs_silent(rs_loglevel level, char const *msg)
{
	(void)level;
	(void)msg;
}

static void quiet_once(void)
{
	rs_trace_to(rs_silent);
	rs_trace_set_level(RS_LOG_EMERG);
}

void sync_rs_quiet(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, quiet_once);
}

int sync_rs_pump_init(struct sync_rs_pump *p, rs_job_t *job, size_t out_cap,
		      const struct sync_sink *sink)
{
	*p = (struct sync_rs_pump){.job = job, .out_cap = out_cap, .sink = *sink};
	if (!job)
		return -ENOMEM;
	p->out = malloc(out_cap);
	if (!p->out) {
		sync_rs_pump_release(p);
		return -ENOMEM;
	}
	return 0;
}

static int drain(struct sync_rs_pump *p, size_t produced)
{
	if (!produced)
		return 0;
	return p->sink.write(p->sink.ctx, p->out, produced);
}

int sync_rs_pump_feed(struct sync_rs_pump *p, const void *data, size_t len, bool eof)
{
	if (p->finished)
		return len ? -EBADMSG : 0; /* bytes after the job's end */
	p->bufs.next_in = (char *)data;
	p->bufs.avail_in = len;
	p->bufs.eof_in = eof;
	for (;;) {
		p->bufs.next_out = (char *)p->out;
		p->bufs.avail_out = p->out_cap;
		size_t in_before = p->bufs.avail_in;
		rs_result r = rs_job_iter(p->job, &p->bufs);
		size_t produced = p->out_cap - p->bufs.avail_out;
		int rc = drain(p, produced);
		if (rc)
			return rc;
		if (r == RS_DONE) {
			p->finished = true;
			return p->bufs.avail_in ? -EBADMSG : 0;
		}
		if (r != RS_BLOCKED)
			return sync_rs_errno(r);
		bool progressed = produced || p->bufs.avail_in != in_before;
		if (!progressed) {
			/* Blocked on input: fine unless no more input will come. */
			return eof ? -EPROTO : 0;
		}
		if (!p->bufs.avail_in && produced < p->out_cap && !eof)
			return 0;
	}
}

void sync_rs_pump_release(struct sync_rs_pump *p)
{
	if (!p)
		return;
	if (p->job)
		rs_job_free(p->job);
	free(p->out);
	p->job = NULL;
	p->out = NULL;
}
