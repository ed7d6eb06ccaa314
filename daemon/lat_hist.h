/* Latency histograms for the rollout of copies: log-linear buckets (4 per
 * power of two, from 1.024 us up to ~34 s; the last bucket takes anything
 * longer), so any quantile is known within 19 % from 384 bytes.
 *
 * Written by the FUSE read path with one relaxed atomic add per read (no
 * lock; threads reading the same file share the cache line, nothing else),
 * read by the control loop as snapshots: the counts are cumulative and
 * wrap at 2^32, and a window is the difference of two snapshots
 * (daemon_lat_hist_sub), which stays right across a wrap as long as a
 * window holds fewer than 2^32 reads.
 *
 * Pure C, no clock: callers measure and pass nanoseconds. */
#ifndef SHADOWFS_DAEMON_LAT_HIST_H
#define SHADOWFS_DAEMON_LAT_HIST_H

#include <stdint.h>

#define DAEMON_LAT_BUCKETS 96

struct daemon_lat_hist {
	uint32_t n[DAEMON_LAT_BUCKETS]; /* atomic when live in the shadow map */
};

/* The bucket of a latency, and the smallest latency of a bucket. */
unsigned daemon_lat_bucket_of(uint64_t ns);
uint64_t daemon_lat_bucket_low_ns(unsigned b);

/* Counts one read of ns nanoseconds (relaxed atomic add: any thread). */
static inline void daemon_lat_hist_add(struct daemon_lat_hist *h, uint64_t ns)
{
	__atomic_add_fetch(&h->n[daemon_lat_bucket_of(ns)], 1, __ATOMIC_RELAXED);
}

/* A snapshot of a live histogram (atomic loads, bucket by bucket). */
void daemon_lat_hist_load(const struct daemon_lat_hist *live, struct daemon_lat_hist *out);
/* out = now - then, bucket by bucket (the reads of a window). */
void daemon_lat_hist_sub(const struct daemon_lat_hist *now, const struct daemon_lat_hist *then,
			 struct daemon_lat_hist *out);
uint64_t daemon_lat_hist_count(const struct daemon_lat_hist *h);
/* The q-quantile (0 < q <= 1) in nanoseconds: the middle of the bucket
 * holding the ceil(q * count)-th smallest read; 0 when empty. */
uint64_t daemon_lat_hist_quantile_ns(const struct daemon_lat_hist *h, double q);

#endif
