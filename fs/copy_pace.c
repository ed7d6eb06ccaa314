/* The mover's rate limit over daemon_bucket: see copy_pace.h. */
#include "fs/copy_pace.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/throttle.h"
#include "sync/sync_io.h"

struct fs_copy_pace {
	struct daemon_bucket bucket; /* bytes; rate 0 = unlimited */
	bool cancelled;		     /* atomic */
	const bool *priority;	     /* atomic: the job that goes alone, or NULL */
};

double fs_copy_pace_burst(double bytes_per_s)
{
	double b = bytes_per_s / 10;
	return b > FS_COPY_PACE_MIN_BURST ? b : FS_COPY_PACE_MIN_BURST;
}

int fs_copy_pace_new(double mb_per_s, struct fs_copy_pace **ret)
{
	struct fs_copy_pace *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	double bps = mb_per_s > 0 ? mb_per_s * 1e6 : 0;
	daemon_bucket_init(&p->bucket, bps, fs_copy_pace_burst(bps), daemon_now_ns());
	*ret = p;
	return 0;
}

void fs_copy_pace_free(struct fs_copy_pace *p)
{
	if (!p)
		return;
	daemon_bucket_destroy(&p->bucket);
	free(p);
}

static bool cancelled(struct fs_copy_pace *p)
{
	return __atomic_load_n(&p->cancelled, __ATOMIC_ACQUIRE);
}

void fs_copy_pace_cancel(struct fs_copy_pace *p)
{
	if (p)
		__atomic_store_n(&p->cancelled, true, __ATOMIC_RELEASE);
}

static bool stopped(struct fs_copy_pace *p, const bool *stop)
{
	return cancelled(p) || (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE));
}

/* Sleeps wait_ns in slices, checking for cancel between them. */
static int sleep_cancellable(struct fs_copy_pace *p, uint64_t wait_ns, const bool *stop)
{
	const uint64_t slice = (uint64_t)FS_COPY_PACE_SLICE_MS * 1000000u;
	while (wait_ns && !stopped(p, stop)) {
		uint64_t ns = wait_ns < slice ? wait_ns : slice;
		struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		wait_ns -= ns;
	}
	return stopped(p, stop) ? -ECANCELED : 0;
}

void fs_copy_pace_priority(struct fs_copy_pace *p, const bool *job)
{
	if (p)
		__atomic_store_n(&p->priority, job, __ATOMIC_RELEASE);
}

/* Whether another job than stop goes alone now. */
static bool gives_way(struct fs_copy_pace *p, const bool *stop)
{
	const bool *pr = __atomic_load_n(&p->priority, __ATOMIC_ACQUIRE);
	return pr && pr != stop;
}

int fs_copy_pace_take_until(struct fs_copy_pace *p, uint64_t bytes, const bool *stop)
{
	if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (!p)
		return 0;
	if (cancelled(p))
		return -ECANCELED;
	while (gives_way(p, stop))
		if (sleep_cancellable(p, (uint64_t)FS_COPY_PACE_SLICE_MS * 1000000u, stop) < 0)
			return -ECANCELED;
	uint64_t wait = daemon_bucket_reserve(&p->bucket, (double)bytes, daemon_now_ns());
	return sleep_cancellable(p, wait, stop);
}

int fs_copy_pace_take(struct fs_copy_pace *p, uint64_t bytes)
{
	return fs_copy_pace_take_until(p, bytes, NULL);
}

static int hook_take(void *ctx, uint64_t bytes)
{
	return fs_copy_pace_take(ctx, bytes);
}

struct sync_pace fs_copy_pace_hook(struct fs_copy_pace *p)
{
	return (struct sync_pace){.take = p ? hook_take : NULL, .ctx = p};
}

static int checked_take(void *ctx, uint64_t bytes)
{
	struct fs_copy_pace_check *c = ctx;
	if (c->stop && __atomic_load_n(c->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (c->unchanged && !c->unchanged(c->arg))
		return -EAGAIN;
	if (c->read)
		__atomic_add_fetch(c->read, bytes, __ATOMIC_RELAXED);
	return fs_copy_pace_take_until(c->p, bytes, c->stop);
}

struct sync_pace fs_copy_pace_hook_checked(struct fs_copy_pace_check *c)
{
	return (struct sync_pace){.take = checked_take, .ctx = c};
}

void fs_copy_pace_progress_fn(void *arg, uint64_t done, uint64_t total)
{
	struct fs_copy_pace_progress *pp = arg;
	(void)total;
	if (done <= pp->last)
		return;
	uint64_t n = pp->skip_holes ? sync_data_bytes(pp->source, pp->last, done)
				    : done - pp->last;
	pp->last = done;
	if (pp->read)
		__atomic_add_fetch(pp->read, n, __ATOMIC_RELAXED);
	fs_copy_pace_take_until(pp->p, n, pp->stop); /* cancelled: returns at once */
}
