/* Host load accounting and /proc sampling: see load.h. */
#include "daemon/load.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/throttle.h"

#define NBUCKETS 160 /* 2^40 us is far beyond any deadline */
#define MAXDEV 64

struct daemon_load {
	pthread_mutex_t lock;
	/* All below protected by lock. */
	uint32_t in_flight;
	uint64_t requests;
	uint64_t hist[NBUCKETS]; /* current window */
	uint64_t win_read, win_written;
	uint64_t win_start_ns;
	struct sync_wire_load last; /* previous snapshot, reused when a window is empty */
	uint64_t cpu_busy, cpu_total;
	uint64_t disk_ms[MAXDEV];
	int ndev;
	uint64_t net_rx, net_tx;
};

int daemon_load_bucket(uint64_t us)
{
	if (us == 0)
		return 0;
	int b = (int)(4.0 * log2((double)us)) + 1;
	return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* Upper bound (us) of bucket b. */
static uint32_t bucket_value(int b)
{
	if (b == 0)
		return 0;
	double v = exp2((double)b / 4.0);
	return v > 4e9 ? 4000000000u : (uint32_t)v;
}

uint32_t daemon_load_percentile(const uint64_t *hist, int n, double q)
{
	uint64_t total = 0, acc = 0;
	for (int i = 0; i < n; i++)
		total += hist[i];
	if (!total)
		return 0;
	uint64_t rank = (uint64_t)ceil(q * (double)total);
	if (rank == 0)
		rank = 1;
	for (int i = 0; i < n; i++) {
		acc += hist[i];
		if (acc >= rank)
			return bucket_value(i);
	}
	return bucket_value(n - 1);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	size_t cap = 65536, n = 0;
	char *buf;
	if (!f)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		size_t got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
		if (got == 0)
			break;
		if (n == cap - 1) {
			char *p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}

int daemon_load_parse_stat(const char *text, uint64_t *busy, uint64_t *total)
{
	unsigned long long v[8] = {0};
	if (strncmp(text, "cpu ", 4) ||
	    sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4)
		return -EINVAL;
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t += v[i];
	*total = t;
	*busy = t - v[3] - v[4]; /* minus idle and iowait */
	return 0;
}

int daemon_load_parse_diskstats(const char *text, uint64_t *io_ms, int ndev_max, int *ndev)
{
	int n = 0;
	const char *line = text;
	while (line && *line && n < ndev_max) {
		unsigned maj, min;
		char name[64];
		unsigned long long f[10];
		if (sscanf(line, "%u %u %63s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &maj, &min, name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7],
			   &f[8], &f[9]) == 13 &&
		    strncmp(name, "loop", 4) && strncmp(name, "ram", 3))
			io_ms[n++] = f[9]; /* field 10: ms spent doing I/O */
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	*ndev = n;
	return 0;
}

int daemon_load_parse_netdev(const char *text, uint64_t *rx, uint64_t *tx)
{
	uint64_t r = 0, t = 0;
	const char *line = text;
	while (line && *line) {
		const char *colon = strchr(line, ':');
		const char *nl = strchr(line, '\n');
		if (colon && (!nl || colon < nl)) {
			const char *name = line;
			while (*name == ' ')
				name++;
			unsigned long long v[9];
			if (strncmp(name, "lo:", 3) &&
			    sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
				   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
				r += v[0];
				t += v[8];
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	*rx = r;
	*tx = t;
	return 0;
}

/* Samples /proc; with l->win_start_ns the previous sample time. Locked. */
static void sample_proc(struct daemon_load *l, struct sync_wire_load *out, double secs)
{
	char *t;
	uint64_t busy, total, rx, tx, ms[MAXDEV];
	int ndev = 0;

	if ((t = slurp("/proc/stat"))) {
		if (daemon_load_parse_stat(t, &busy, &total) == 0) {
			if (l->cpu_total && total > l->cpu_total)
				out->cpu_permille = (uint32_t)((busy - l->cpu_busy) * 1000 /
							       (total - l->cpu_total));
			l->cpu_busy = busy;
			l->cpu_total = total;
		}
		free(t);
	}
	if ((t = slurp("/proc/diskstats"))) {
		daemon_load_parse_diskstats(t, ms, MAXDEV, &ndev);
		uint64_t worst = 0;
		for (int i = 0; i < ndev && i < l->ndev; i++)
			if (ms[i] > l->disk_ms[i] && ms[i] - l->disk_ms[i] > worst)
				worst = ms[i] - l->disk_ms[i];
		if (secs > 0 && l->ndev) {
			double u = (double)worst / (secs * 1000.0) * 1000.0;
			out->disk_util_permille = (uint32_t)(u > 1000 ? 1000 : u);
		}
		memcpy(l->disk_ms, ms, sizeof(uint64_t) * (size_t)ndev);
		l->ndev = ndev;
		free(t);
	}
	if ((t = slurp("/proc/net/dev"))) {
		daemon_load_parse_netdev(t, &rx, &tx);
		if (secs > 0 && (l->net_rx || l->net_tx)) {
			out->net_rx_bps = (uint64_t)((double)(rx - l->net_rx) / secs);
			out->net_tx_bps = (uint64_t)((double)(tx - l->net_tx) / secs);
		}
		l->net_rx = rx;
		l->net_tx = tx;
		free(t);
	}
}

int daemon_load_new(struct daemon_load **ret)
{
	struct daemon_load *l = calloc(1, sizeof(*l));
	struct sync_wire_load dummy;
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	l->win_start_ns = daemon_now_ns();
	sample_proc(l, &dummy, 0); /* baseline for the first rates */
	*ret = l;
	return 0;
}

void daemon_load_free(struct daemon_load *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

void daemon_load_begin(struct daemon_load *l)
{
	pthread_mutex_lock(&l->lock);
	l->in_flight++;
	pthread_mutex_unlock(&l->lock);
}

void daemon_load_end(struct daemon_load *l, uint64_t latency_us, uint64_t bytes_read,
		     uint64_t bytes_written)
{
	pthread_mutex_lock(&l->lock);
	l->in_flight--;
	l->requests++;
	l->hist[daemon_load_bucket(latency_us)]++;
	l->win_read += bytes_read;
	l->win_written += bytes_written;
	pthread_mutex_unlock(&l->lock);
}

void daemon_load_snapshot(struct daemon_load *l, struct sync_wire_load *out)
{
	pthread_mutex_lock(&l->lock);
	uint64_t now = daemon_now_ns();
	double secs = (double)(now - l->win_start_ns) / 1e9;
	struct sync_wire_load s = l->last;
	uint64_t n = 0;
	for (int i = 0; i < NBUCKETS; i++)
		n += l->hist[i];
	if (n) {
		s.lat_p50_us = daemon_load_percentile(l->hist, NBUCKETS, 0.50);
		s.lat_p90_us = daemon_load_percentile(l->hist, NBUCKETS, 0.90);
		s.lat_p99_us = daemon_load_percentile(l->hist, NBUCKETS, 0.99);
	}
	if (secs > 0) {
		s.read_bps = (uint64_t)((double)l->win_read / secs);
		s.write_bps = (uint64_t)((double)l->win_written / secs);
	}
	sample_proc(l, &s, secs);
	s.in_flight = l->in_flight;
	s.requests = l->requests;
	memset(l->hist, 0, sizeof(l->hist));
	l->win_read = l->win_written = 0;
	l->win_start_ns = now;
	l->last = s;
	*out = s;
	pthread_mutex_unlock(&l->lock);
}
