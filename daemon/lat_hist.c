/* Log-linear latency histograms (see lat_hist.h).
 *
 * Bucket of a latency: u = ns / 1024 (about microseconds); u < 4 is its
 * own bucket; otherwise with e = floor(log2 u) >= 2 and m the two bits
 * below the leading one, bucket 4 * (e - 1) + m. Each power of two is cut
 * into 4 equal parts: a bucket spans at most 1/4 of its lower bound. */
#include "daemon/lat_hist.h"

#include <math.h>

#define UNIT_SHIFT 10 /* 1.024 us */

unsigned daemon_lat_bucket_of(uint64_t ns)
{
	uint64_t u = ns >> UNIT_SHIFT;
	if (u < 4)
		return (unsigned)u;
	unsigned e = 63u - (unsigned)__builtin_clzll(u);
	unsigned b = 4u * (e - 1u) + (unsigned)((u >> (e - 2u)) & 3u);
	return b < DAEMON_LAT_BUCKETS ? b : DAEMON_LAT_BUCKETS - 1;
}

uint64_t daemon_lat_bucket_low_ns(unsigned b)
{
	if (b < 4)
		return (uint64_t)b << UNIT_SHIFT;
	unsigned e = b / 4u + 1u, m = b % 4u;
	return ((uint64_t)(4u + m) << (e - 2u)) << UNIT_SHIFT;
}

void daemon_lat_hist_load(const struct daemon_lat_hist *live, struct daemon_lat_hist *out)
{
	for (unsigned b = 0; b < DAEMON_LAT_BUCKETS; b++)
		out->n[b] = __atomic_load_n(&live->n[b], __ATOMIC_RELAXED);
}

void daemon_lat_hist_sub(const struct daemon_lat_hist *now, const struct daemon_lat_hist *then,
			 struct daemon_lat_hist *out)
{
	for (unsigned b = 0; b < DAEMON_LAT_BUCKETS; b++)
		out->n[b] = now->n[b] - then->n[b]; /* modulo 2^32: right across a wrap */
}

uint64_t daemon_lat_hist_count(const struct daemon_lat_hist *h)
{
	uint64_t n = 0;
	for (unsigned b = 0; b < DAEMON_LAT_BUCKETS; b++)
		n += h->n[b];
	return n;
}

uint64_t daemon_lat_hist_quantile_ns(const struct daemon_lat_hist *h, double q)
{
	uint64_t total = daemon_lat_hist_count(h);
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)total);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < DAEMON_LAT_BUCKETS; b++) {
		seen += h->n[b];
		if (seen >= rank) {
			uint64_t lo = daemon_lat_bucket_low_ns(b);
			uint64_t hi = b + 1 < DAEMON_LAT_BUCKETS ? daemon_lat_bucket_low_ns(b + 1)
								 : lo + lo / 4;
			return lo + (hi - lo) / 2;
		}
	}
	return daemon_lat_bucket_low_ns(DAEMON_LAT_BUCKETS - 1);
}
