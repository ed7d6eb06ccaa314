/* Load of a host, as reported to the control loop (LOAD request): requests
 * in flight, latency percentiles and bytes/s since the previous snapshot, and
 * host CPU, disk and network utilisation sampled from /proc.
 *
 * Latencies go into a log-scale histogram (4 buckets per power of two, so a
 * percentile is within 19% of the true value). Thread-safety: all functions
 * take the object's lock; begin/end are O(1). */
#ifndef SHADOWFS_DAEMON_LOAD_H
#define SHADOWFS_DAEMON_LOAD_H

#include <stdint.h>

#include "sync/wire.h"

struct daemon_load;

int daemon_load_new(struct daemon_load **ret);
void daemon_load_free(struct daemon_load *l);
void daemon_load_begin(struct daemon_load *l);
void daemon_load_end(struct daemon_load *l, uint64_t latency_us, uint64_t bytes_read,
		     uint64_t bytes_written);
/* Fills out from the window since the last snapshot and starts a new one. */
void daemon_load_snapshot(struct daemon_load *l, struct sync_wire_load *out);

/* /proc parsers (pure; exposed for tests). Return 0 or -EINVAL. */
int daemon_load_parse_stat(const char *text, uint64_t *busy, uint64_t *total);
int daemon_load_parse_diskstats(const char *text, uint64_t *max_io_ms_per_dev, int ndev_max,
				int *ndev);
int daemon_load_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx);
/* Value (us) at quantile q of a histogram of n buckets. */
uint32_t daemon_load_percentile(const uint64_t *hist, int n, double q);
int daemon_load_bucket(uint64_t us);

#endif
