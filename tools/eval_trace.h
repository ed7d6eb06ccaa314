/* Trace loading for the evaluation tools: reads `timestamp,key,count` CSV
 * (the format of the shared traces) and buckets it into one dense series per
 * key.
 *
 * Buckets are aligned to multiples of the bucket size (epoch-aligned, like
 * pandas' resample). A first or last bucket that the trace covers only in
 * part is dropped (the sampling period is the smallest gap between distinct
 * timestamps): otherwise a half-filled bucket looks like a collapse of demand.
 * Each key's series spans the whole trace (zeros where it has no row);
 * `last[k]` is the index of its last bucket with a row, so that callers can
 * keep keys "with >= K steps". */
#ifndef SHADOWFS_TOOLS_EVAL_TRACE_H
#define SHADOWFS_TOOLS_EVAL_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Largest dense series table (keys x buckets) accepted: 1 GiB of doubles. */
#define EVAL_TRACE_MAX_CELLS (128.0 * 1024 * 1024)

struct eval_trace {
	size_t nkeys, nsteps;
	char **keys;  /* [nkeys] */
	double *y;    /* [nkeys * nsteps], key-major */
	long *last;   /* [nkeys] last bucket with a row, -1 if none kept */
	int64_t base; /* timestamp of bucket 0 */
	size_t rows;
	int dropped_first, dropped_last;
};

/* 0 or -errno (with a message in errbuf for malformed input). row_span > 0
 * replaces the timestamps by row order spread over row_span seconds (for a
 * trace whose conversion lost them, e.g. cloudphysics_blocks_2h). */
int eval_trace_load(const char *path, long bucket, int keep_partial, long row_span,
		    struct eval_trace *ret, char *errbuf, size_t errlen);
void eval_trace_free(struct eval_trace *t);

#endif
