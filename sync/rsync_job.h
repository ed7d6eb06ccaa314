/* Driving a librsync rs_job with fixed buffers (internal to sync/).
 *
 * A pump owns one rs_job and one output buffer of fixed size. Input is pushed
 * (the caller's buffer is used in place; librsync copies what it must keep into
 * its own scoop, which is bounded by the largest push plus one block), output
 * is drained to a sink each time librsync fills or pauses. Memory is therefore
 * bounded whatever the file size: no file is ever held whole.
 *
 * librsync's own messages are silenced once per process (library code does not
 * log; its results are mapped to -errno by sync_rs_errno). */
#ifndef SHADOWFS_SYNC_RSYNC_JOB_H
#define SHADOWFS_SYNC_RSYNC_JOB_H

#include <librsync.h>
#include <stdbool.h>
#include <stddef.h>

#include "sync/sync_io.h"

/* Owner: the caller; one thread at a time. */
struct sync_rs_pump {
	rs_job_t *job;
	rs_buffers_t bufs;
	uint8_t *out;
	size_t out_cap;
	struct sync_sink sink;
	bool finished; /* the job returned RS_DONE */
};

/* Maps a librsync result to -errno (RS_DONE -> 0). */
int sync_rs_errno(rs_result r);

/* Silences librsync's logging (idempotent, thread-safe). */
void sync_rs_quiet(void);

/* Takes ownership of job (freed on error too). */
int sync_rs_pump_init(struct sync_rs_pump *p, rs_job_t *job, size_t out_cap,
		      const struct sync_sink *sink);
/* Pushes len bytes (eof: no more input follows). Returns 0 when the input was
 * consumed (and, with eof, the job finished), or -errno. */
int sync_rs_pump_feed(struct sync_rs_pump *p, const void *data, size_t len, bool eof);
void sync_rs_pump_release(struct sync_rs_pump *p);

#endif
