/* A bounded in-process byte pipe between two threads (see mem_pipe.h). */
#include "sync/mem_pipe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sync_mem_pipe_init(struct sync_mem_pipe *p, size_t cap)
{
	*p = (struct sync_mem_pipe){.cap = cap};
	p->ring = malloc(cap);
	if (!p->ring)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	return 0;
}

void sync_mem_pipe_release(struct sync_mem_pipe *p)
{
	if (!p || !p->ring)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->ring);
	p->ring = NULL;
}

static int pipe_write(void *ctx, const void *buf, size_t len)
{
	struct sync_mem_pipe *p = ctx;
	const uint8_t *src = buf;
	int rc = 0;
	pthread_mutex_lock(&p->lock);
	while (len) {
		while (!p->aborted && !p->closed && p->len == p->cap)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->aborted || p->closed) {
			rc = -EPIPE;
			break;
		}
		size_t tail = (p->head + p->len) % p->cap;
		size_t n = p->cap - p->len;
		if (n > p->cap - tail)
			n = p->cap - tail;
		if (n > len)
			n = len;
		memcpy(p->ring + tail, src, n);
		p->len += n;
		src += n;
		len -= n;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static ssize_t pipe_read(void *ctx, void *buf, size_t cap)
{
	struct sync_mem_pipe *p = ctx;
	ssize_t rc;
	pthread_mutex_lock(&p->lock);
	while (!p->aborted && !p->closed && p->len == 0)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->aborted) {
		rc = p->aborted;
	} else if (p->len == 0) {
		rc = 0; /* closed and drained */
	} else {
		size_t n = p->len;
		if (n > p->cap - p->head)
			n = p->cap - p->head;
		if (n > cap)
			n = cap;
		memcpy(buf, p->ring + p->head, n);
		p->head = (p->head + n) % p->cap;
		p->len -= n;
		rc = (ssize_t)n;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

struct sync_sink sync_mem_pipe_sink(struct sync_mem_pipe *p)
{
	return (struct sync_sink){.write = pipe_write, .ctx = p};
}

struct sync_source sync_mem_pipe_source(struct sync_mem_pipe *p)
{
	return (struct sync_source){.read = pipe_read, .ctx = p};
}

void sync_mem_pipe_close(struct sync_mem_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	p->closed = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void sync_mem_pipe_abort(struct sync_mem_pipe *p, int err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->aborted)
		p->aborted = err < 0 ? err : -EPIPE;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}
