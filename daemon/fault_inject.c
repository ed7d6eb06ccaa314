/* Test-only fault injection: see fault_inject.h. */
#include "daemon/fault_inject.h"

#include <errno.h>
#include <time.h>

void daemon_fault_init(struct daemon_fault *f, uint32_t latency_ms, double error_rate,
		       uint64_t seed)
{
	f->latency_ms = latency_ms;
	f->error_rate = error_rate;
	f->commit_ms = 0;
	f->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	pthread_mutex_init(&f->lock, NULL);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0)
		;
}

void daemon_fault_before_commit(const struct daemon_fault *f)
{
	if (f->commit_ms)
		sleep_ms(f->commit_ms);
}

void daemon_fault_destroy(struct daemon_fault *f)
{
	pthread_mutex_destroy(&f->lock);
}

int daemon_fault_before(struct daemon_fault *f)
{
	if (f->latency_ms) {
		struct timespec ts = {f->latency_ms / 1000,
				      (long)(f->latency_ms % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0)
			;
	}
	if (f->error_rate <= 0)
		return 0;
	pthread_mutex_lock(&f->lock);
	f->rng ^= f->rng << 13; /* xorshift64 */
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	double u = (double)(f->rng >> 11) / (double)(1ull << 53);
	pthread_mutex_unlock(&f->lock);
	return u < f->error_rate ? -EIO : 0;
}
