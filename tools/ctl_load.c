/* shadowctl load: the origin host's load as the mount recorded it, one line
 * per bucket (CPU, memory, disk I/O per backing device, network, requests
 * in flight in the mount, events of untracked files), from the series store
 * of a running or stopped mount. The rates are the bucket's totals divided
 * by its width. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/ctl.h"
#include "tools/ctl_store.h"

static const char usage[] =
	"usage: shadowctl load [MOUNTPOINT|--state DIR] [--window DUR] [--tier N] [--json]\n";

/* The busiest disk of a bucket (most bytes moved), or NULL. */
static const struct pred_disk_bucket *busiest_disk(const struct pred_host_bucket *h)
{
	const struct pred_disk_bucket *best = NULL;
	for (size_t d = 0; d < h->ndisks; d++)
		if (!best || h->disks[d].read_bytes + h->disks[d].write_bytes >
				     best->read_bytes + best->write_bytes)
			best = &h->disks[d];
	return best;
}

static double per_s(uint64_t v, uint32_t width) { return width ? (double)v / width : 0.0; }

/* One row's columns whose widths vary with the figures. */
struct row_texts {
	char mem[32], disk[64], net[64], inflight[48];
};

static void row_texts(const struct pred_host_bucket *h, struct row_texts *t)
{
	char a[32], b[32];
	uint64_t used = h->mem_total_kb > h->mem_avail_kb ? h->mem_total_kb - h->mem_avail_kb : 0;
	ctl_human_bytes(used * 1024, t->mem, sizeof(t->mem));
	const struct pred_disk_bucket *d = busiest_disk(h);
	/* The device as names are printed: a store edited by hand may hold a
	 * newline or a terminal escape in it (printed as they were). */
	char *dev = NULL;
	size_t devlen = 0;
	FILE *m = d ? open_memstream(&dev, &devlen) : NULL;
	if (m) {
		ctl_print_name(m, d->device, 0);
		fclose(m);
	}
	if (d)
		snprintf(t->disk, sizeof(t->disk), "%s %s/s %s/s", dev ? dev : "?",
			 ctl_human_bytes((uint64_t)per_s(d->read_bytes, h->width), a, sizeof(a)),
			 ctl_human_bytes((uint64_t)per_s(d->write_bytes, h->width), b, sizeof(b)));
	else
		snprintf(t->disk, sizeof(t->disk), "-");
	snprintf(t->net, sizeof(t->net), "%s/%s",
		 ctl_human_bytes((uint64_t)per_s(h->net_rx_bytes, h->width), a, sizeof(a)),
		 ctl_human_bytes((uint64_t)per_s(h->net_tx_bytes, h->width), b, sizeof(b)));
	snprintf(t->inflight, sizeof(t->inflight), "%u/%.2f", h->inflight_max, h->inflight_avg);
	free(dev);
}

static void widen(int *w, const char *s)
{
	if ((int)strlen(s) > *w)
		*w = (int)strlen(s);
}

static void print_table(const struct pred_location *loc, int tier, const struct pred_host_bucket *h,
			size_t n)
{
	struct row_texts t;
	/* Columns as wide as their widest value: fixed widths let a busy
	 * disk ("vda 16.0 KiB/s 1.4 MiB/s"), 1007.1 MiB of memory or 12
	 * requests in flight push the rest of their row right. */
	int mw = (int)strlen("MEM_USED"), dw = (int)strlen("DISK (busiest) R/W");
	int nw = (int)strlen("NET RX/TX"), iw = (int)strlen("INFLIGHT");
	for (size_t i = 0; i < n; i++) {
		row_texts(&h[i], &t);
		widen(&mw, t.mem);
		widen(&dw, t.disk);
		widen(&nw, t.net);
		widen(&iw, t.inflight);
	}
	printf("store %s, tier %d\n", loc->state_dir, tier);
	printf("%-20s %6s %6s %*s %*s %*s %*s %8s\n", "BUCKET (UTC)", "WIDTH", "CPU", mw,
	       "MEM_USED", dw, "DISK (busiest) R/W", nw, "NET RX/TX", iw, "INFLIGHT", "TAIL_EV");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		ctl_utc_text(h[i].start, when, sizeof(when));
		row_texts(&h[i], &t);
		printf("%-20s %5us %5.1f%% %*s %*s %*s %*s %8llu\n", when, h[i].width, h[i].cpu_pct,
		       mw, t.mem, dw, t.disk, nw, t.net, iw, t.inflight,
		       (unsigned long long)h[i].tail_events);
	}
	if (!n)
		printf("(no buckets in this window)\n");
}

static void print_json(const struct pred_location *loc, int tier, const struct pred_host_bucket *h,
		       size_t n)
{
	printf("{\"state\": ");
	ctl_json_string(stdout, loc->state_dir);
	printf(", \"tier\": %d, \"buckets\": [", tier);
	for (size_t i = 0; i < n; i++) {
		printf("%s\n  {\"start\": %lld, \"width\": %u, \"cpu_pct\": ", i ? "," : "",
		       (long long)h[i].start, h[i].width);
		ctl_json_double(stdout, h[i].cpu_pct, 2);
		printf(", \"mem_total_kb\": %llu, \"mem_avail_kb\": %llu, \"net_rx_bytes\": %llu, "
		       "\"net_tx_bytes\": %llu, \"inflight_max\": %u, \"inflight_avg\": ",
		       (unsigned long long)h[i].mem_total_kb, (unsigned long long)h[i].mem_avail_kb,
		       (unsigned long long)h[i].net_rx_bytes, (unsigned long long)h[i].net_tx_bytes,
		       h[i].inflight_max);
		ctl_json_double(stdout, h[i].inflight_avg, 3);
		printf(", \"tail_events\": %llu, \"disks\": [", (unsigned long long)h[i].tail_events);
		for (size_t d = 0; d < h[i].ndisks; d++) {
			const struct pred_disk_bucket *k = &h[i].disks[d];
			printf("%s{\"device\": ", d ? ", " : "");
			ctl_json_string(stdout, k->device);
			printf(", \"reads\": %llu, \"read_bytes\": %llu, \"writes\": %llu, "
			       "\"write_bytes\": %llu, \"io_ms\": %llu}",
			       (unsigned long long)k->reads, (unsigned long long)k->read_bytes,
			       (unsigned long long)k->writes, (unsigned long long)k->write_bytes,
			       (unsigned long long)k->io_ms);
		}
		printf("]}");
	}
	printf("%s]}\n", n ? "\n" : "");
}

int ctl_load_main(int argc, char **argv)
{
	struct ctl_view_opts o = {.window = 3600};
	int prc = ctl_parse_view_opts(argc, argv, "shadowctl load", usage, &o);
	if (prc >= 0)
		return prc;
	const char *state = o.state;
	int64_t window = o.window;
	bool json = o.json;
	struct pred_location loc;
	struct pred_store *st = NULL;
	prc = ctl_store_open_view("shadowctl load", argc, argv, usage, state, &loc, &st);
	if (prc >= 0)
		return prc;
	int rc = 1;
	int64_t now = time(NULL);
	int tier = ctl_view_tier(st, "shadowctl load", &o, now);
	if (tier < 0) {
		rc = tier == -2 ? 2 : 1;
		goto out;
	}
	struct pred_host_bucket *h = NULL;
	size_t n = 0;
	if (pred_store_host_series(st, tier, now - window, INT64_MAX, &h, &n)) {
		fprintf(stderr, "shadowctl load: %s\n", pred_store_errmsg(st));
		goto out;
	}
	if (json)
		print_json(&loc, tier, h, n);
	else
		print_table(&loc, tier, h, n);
	pred_host_buckets_free(h, n);
	rc = 0;
out:
	ctl_store_close("shadowctl load", st);
	return rc;
}
