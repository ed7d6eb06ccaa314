/* A bounded in-process byte pipe between two threads: one writes through a
 * sync_sink, the other reads through a sync_source. Used to run delta
 * generation and patching concurrently in one process (pipelining), the way
 * the two ends run on two hosts over the network.
 *
 * Writers block while the ring is full, readers while it is empty. Closing the
 * write side gives the reader end-of-stream once drained; aborting (either
 * side, e.g. on error) wakes everyone: further writes fail with -EPIPE and
 * reads with the abort code. Locking: every field is protected by `lock`. */
#ifndef SHADOWFS_SYNC_MEM_PIPE_H
#define SHADOWFS_SYNC_MEM_PIPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/sync_io.h"

struct sync_mem_pipe {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint8_t *ring;
	size_t cap, head, len; /* data at ring[head .. head+len) modulo cap */
	bool closed;	       /* writer finished */
	int aborted;	       /* -errno once aborted, else 0 */
};

int sync_mem_pipe_init(struct sync_mem_pipe *p, size_t cap);
void sync_mem_pipe_release(struct sync_mem_pipe *p);
struct sync_sink sync_mem_pipe_sink(struct sync_mem_pipe *p);
struct sync_source sync_mem_pipe_source(struct sync_mem_pipe *p);
void sync_mem_pipe_close(struct sync_mem_pipe *p);
void sync_mem_pipe_abort(struct sync_mem_pipe *p, int err);

#endif
