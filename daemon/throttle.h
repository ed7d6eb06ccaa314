/* Token buckets that emulate a slower host (shadowd --capacity-read MB/s,
 * --capacity-iops N): each served read takes one I/O token and its length in
 * byte tokens, waiting as long as the buckets are in debt.
 *
 * A bucket may go into debt (a request larger than the burst still passes,
 * after the wait it costs), so the long-run rate is exact. The reserve
 * function is pure over the clock it is given (unit-tested); take() sleeps.
 * Thread-safety: every function locks the bucket. */
#ifndef SHADOWFS_DAEMON_THROTTLE_H
#define SHADOWFS_DAEMON_THROTTLE_H

#include <pthread.h>
#include <stdint.h>

struct daemon_bucket {
	pthread_mutex_t lock;
	double rate;	  /* tokens per second; 0 = unlimited (read-only after init) */
	double burst;	  /* most tokens saved up (read-only after init) */
	double tokens;	  /* protected by lock; negative = debt */
	uint64_t last_ns; /* protected by lock */
};

void daemon_bucket_init(struct daemon_bucket *b, double rate, double burst, uint64_t now_ns);
void daemon_bucket_destroy(struct daemon_bucket *b);
/* Takes n tokens at now_ns; returns how long (ns) the caller must wait. */
uint64_t daemon_bucket_reserve(struct daemon_bucket *b, double n, uint64_t now_ns);

struct daemon_throttle {
	struct daemon_bucket bytes; /* --capacity-read, bytes/s */
	struct daemon_bucket iops;  /* --capacity-iops */
};

/* read_mbps, iops: 0 = unlimited. Burst: 100 ms worth (at least 1 request). */
void daemon_throttle_init(struct daemon_throttle *t, double read_mbps, double iops);
void daemon_throttle_destroy(struct daemon_throttle *t);
/* Sleeps as needed for one read of bytes. */
void daemon_throttle_read(struct daemon_throttle *t, uint64_t bytes);
/* Sleeps as needed for bytes more of a read already counted (no I/O token):
 * a long read taken piece by piece (shadowd's VERIFY re-hash). */
void daemon_throttle_bytes(struct daemon_throttle *t, uint64_t bytes);

uint64_t daemon_now_ns(void);

#endif
