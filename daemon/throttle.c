/* Token buckets for shadowd's capacity flags: see throttle.h. */
#include "daemon/throttle.h"

#include <time.h>

uint64_t daemon_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void daemon_bucket_init(struct daemon_bucket *b, double rate, double burst, uint64_t now_ns)
{
	pthread_mutex_init(&b->lock, NULL);
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst > 0 ? burst : 1;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

void daemon_bucket_destroy(struct daemon_bucket *b)
{
	pthread_mutex_destroy(&b->lock);
}

uint64_t daemon_bucket_reserve(struct daemon_bucket *b, double n, uint64_t now_ns)
{
	uint64_t wait = 0;
	if (b->rate <= 0)
		return 0;
	pthread_mutex_lock(&b->lock);
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * b->rate / 1e9;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= n;
	if (b->tokens < 0)
		wait = (uint64_t)(-b->tokens / b->rate * 1e9);
	pthread_mutex_unlock(&b->lock);
	return wait;
}

void daemon_throttle_init(struct daemon_throttle *t, double read_mbps, double iops)
{
	uint64_t now = daemon_now_ns();
	double bps = read_mbps * 1e6;
	daemon_bucket_init(&t->bytes, bps, bps / 10 > 65536 ? bps / 10 : 65536, now);
	daemon_bucket_init(&t->iops, iops, iops / 10 > 1 ? iops / 10 : 1, now);
}

void daemon_throttle_destroy(struct daemon_throttle *t)
{
	daemon_bucket_destroy(&t->bytes);
	daemon_bucket_destroy(&t->iops);
}

static void sleep_ns(uint64_t w)
{
	if (w) {
		struct timespec ts = {(time_t)(w / 1000000000ull), (long)(w % 1000000000ull)};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
}

void daemon_throttle_read(struct daemon_throttle *t, uint64_t bytes)
{
	uint64_t now = daemon_now_ns();
	uint64_t a = daemon_bucket_reserve(&t->iops, 1, now);
	uint64_t b = daemon_bucket_reserve(&t->bytes, (double)bytes, now);
	sleep_ns(a > b ? a : b);
}

void daemon_throttle_bytes(struct daemon_throttle *t, uint64_t bytes)
{
	sleep_ns(daemon_bucket_reserve(&t->bytes, (double)bytes, daemon_now_ns()));
}
