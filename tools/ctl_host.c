/* shadowctl host: inspect a shadowd.
 *   shadowctl host status H:P [TLS flags] [--json]
 *       round trip, store use (bytes, copies, budget) and load (in-flight
 *       requests, latency percentiles, bytes/s, CPU, disk, network)
 *   shadowctl host list H:P [TLS flags] [--json]
 *       the copies it holds: file id, version, size
 *   shadowctl host watch H:P [TLS flags] [--interval MS] [--count N] [--json]
 *       its heartbeats, one line each; a host silent for three intervals,
 *       or one that closes the connection, is reported as such and the
 *       command exits 1
 * TLS flags: see ctl_remote.h (--certs DIR [--name NAME] | --cert --key --ca). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/parse.h"
#include "sync/tls.h"
#include "tools/ctl.h"
#include "tools/ctl_remote.h"

static void host_usage(FILE *out)
{
	fprintf(out, "usage: shadowctl host status H:P [--json] TLS\n"
		     "       shadowctl host list H:P [--json] TLS\n"
		     "       shadowctl host watch H:P [--interval MS] [--count N] [--json] TLS\n"
		     "TLS: --certs DIR [--name NAME] | --cert F --key F --ca F; [--timeout MS]\n");
}

static void print_load(const struct sync_wire_load *l, bool json)
{
	if (json) {
		printf("\"in_flight\":%u,\"lat_p50_us\":%u,\"lat_p90_us\":%u,\"lat_p99_us\":%u,"
		       "\"read_bps\":%llu,\"write_bps\":%llu,\"cpu_permille\":%u,"
		       "\"disk_util_permille\":%u,\"net_rx_bps\":%llu,\"net_tx_bps\":%llu,"
		       "\"requests\":%llu",
		       l->in_flight, l->lat_p50_us, l->lat_p90_us, l->lat_p99_us,
		       (unsigned long long)l->read_bps, (unsigned long long)l->write_bps,
		       l->cpu_permille, l->disk_util_permille, (unsigned long long)l->net_rx_bps,
		       (unsigned long long)l->net_tx_bps, (unsigned long long)l->requests);
		return;
	}
	printf("in_flight=%u lat_us p50=%u p90=%u p99=%u read=%.1fMB/s write=%.1fMB/s "
	       "cpu=%.1f%% disk=%.1f%% net rx=%.1fMB/s tx=%.1fMB/s requests=%llu",
	       l->in_flight, l->lat_p50_us, l->lat_p90_us, l->lat_p99_us, l->read_bps / 1e6,
	       l->write_bps / 1e6, l->cpu_permille / 10.0, l->disk_util_permille / 10.0,
	       l->net_rx_bps / 1e6, l->net_tx_bps / 1e6, (unsigned long long)l->requests);
}

static int fail(const char *what, const char *addr, int r)
{
	fprintf(stderr, "shadowctl host %s: %s: %s\n", what, addr, strerror(-r));
	return 1;
}

static int host_status(struct ctl_remote *rm, const char *addr, bool json)
{
	struct sync_wire_stats ws;
	uint64_t t0 = sync_now_ms();
	struct sync_wire_load l;
	int r = sync_client_ping(rm->client, rm->timeout_ms);
	uint64_t rtt = sync_now_ms() - t0;
	if (!r)
		r = sync_client_stats(rm->client, &ws, rm->timeout_ms);
	if (!r)
		r = sync_client_load(rm->client, &l, rm->timeout_ms);
	if (r < 0)
		return fail("status", addr, r);
	if (json) {
		printf("{\"host\":\"%s\",\"ping_ms\":%llu,\"used_bytes\":%llu,\"copies\":%llu,"
		       "\"budget_bytes\":%llu,\"reads\":%llu,\"read_bytes\":%llu,"
		       "\"received_bytes\":%llu,\"sparse_uploads\":%s,\"thin_budget\":%s,",
		       addr, (unsigned long long)rtt, (unsigned long long)ws.used,
		       (unsigned long long)ws.copies, (unsigned long long)ws.budget,
		       (unsigned long long)ws.reads, (unsigned long long)ws.read_bytes,
		       (unsigned long long)ws.received_bytes,
		       ws.features & SYNC_WIRE_FEATURE_ZEROS ? "true" : "false",
		       ws.features & SYNC_WIRE_FEATURE_THIN ? "true" : "false");
		print_load(&l, true);
		printf("}\n");
		return 0;
	}
	printf("host %s: up, ping %llu ms\n", addr, (unsigned long long)rtt);
	printf("store: %llu copies, %.1f MiB used", (unsigned long long)ws.copies,
	       ws.used / 1048576.0);
	if (ws.budget)
		printf(" of a %.1f MiB budget%s", ws.budget / 1048576.0,
		       ws.features & SYNC_WIRE_FEATURE_THIN
			   ? " (a sparse copy counts its data)"
			   : " (a sparse copy needs room for its whole size while it is written)");
	else
		printf(" (no space budget)");
	printf("\nserved: %llu reads (%llu bytes), received %llu bytes of uploads%s",
	       (unsigned long long)ws.reads, (unsigned long long)ws.read_bytes,
	       (unsigned long long)ws.received_bytes,
	       ws.features & SYNC_WIRE_FEATURE_ZEROS ? " (holes of sparse files not sent)"
						     : " (holes sent as zeros: an older shadowd)");
	printf("\nload: ");
	print_load(&l, false);
	printf("\n");
	return 0;
}

static int host_list(struct ctl_remote *rm, const char *addr, bool json)
{
	struct sync_wire_list_entry *v = NULL;
	size_t n = 0;
	char id[37];
	int r = sync_client_list(rm->client, &v, &n, rm->timeout_ms);
	if (r < 0)
		return fail("list", addr, r);
	if (json)
		printf("[");
	else
		printf("%-36s %20s %14s\n", "FILE ID", "VERSION", "BYTES");
	for (size_t i = 0; i < n; i++) {
		ctl_remote_id_text(v[i].id, id);
		if (json)
			printf("%s{\"id\":\"%s\",\"version\":%llu,\"size\":%llu}", i ? "," : "", id,
			       (unsigned long long)v[i].version, (unsigned long long)v[i].size);
		else
			printf("%-36s %20llu %14llu\n", id, (unsigned long long)v[i].version,
			       (unsigned long long)v[i].size);
	}
	if (json)
		printf("]\n");
	free(v);
	return 0;
}

static int host_watch(struct ctl_remote *rm, const char *addr, unsigned interval_ms,
		      unsigned long count, bool json)
{
	unsigned silent_ms = 3 * interval_ms;
	int r = sync_client_heartbeat_start(rm->client, interval_ms, rm->timeout_ms);
	for (unsigned long i = 0; r == 0 && (!count || i < count); i++) {
		struct sync_wire_load l;
		uint64_t seq;
		r = sync_client_heartbeat_next(rm->client, &seq, &l,
					       i ? silent_ms : silent_ms + rm->timeout_ms);
		if (r == -ETIMEDOUT) {
			fprintf(stderr, "shadowctl host watch: %s: no heartbeat for %u ms: host down "
					"or stalled\n",
				addr, silent_ms);
			return 1;
		}
		if (r == -EPIPE) { /* a clean shutdown too: not "Broken pipe" */
			fprintf(stderr,
				"shadowctl host watch: %s: the host closed the connection (shut "
				"down or restarted)\n",
				addr);
			return 1;
		}
		if (r < 0)
			break;
		if (json) {
			printf("{\"host\":\"%s\",\"seq\":%llu,", addr, (unsigned long long)seq);
			print_load(&l, true);
			printf("}\n");
		} else {
			printf("%s seq=%llu ", addr, (unsigned long long)seq);
			print_load(&l, false);
			printf("\n");
		}
		fflush(stdout);
	}
	if (!r)
		r = sync_client_heartbeat_stop(rm->client, rm->timeout_ms);
	return r < 0 ? fail("watch", addr, r) : 0;
}

static int parse_num(const char *flag, const char *v, unsigned long lo, unsigned long hi,
		     unsigned long *ret)
{
	long long x;
	if (sfs_parse_integer(v, (long long)lo, (long long)hi, &x)) {
		fprintf(stderr, "shadowctl host: %s '%s': want a number in %lu..%lu\n", flag,
			v ? v : "", lo, hi);
		return -1;
	}
	*ret = x;
	return 0;
}

int ctl_host_main(int argc, char **argv)
{
	struct ctl_remote rm = {0};
	const char *verb = NULL, *addr = NULL;
	unsigned long interval = 1000, count = 0;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		int f = ctl_remote_flag(&rm, "host", argc, argv, &i);
		if (f < 0)
			return 2;
		if (f)
			continue;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--interval")) {
			if (parse_num("--interval", i + 1 < argc ? argv[++i] : NULL,
				      SYNC_HEARTBEAT_MIN_MS, SYNC_HEARTBEAT_MAX_MS, &interval) < 0)
				return 2;
		} else if (!strcmp(argv[i], "--count")) {
			if (parse_num("--count", i + 1 < argc ? argv[++i] : NULL, 1, 1000000000ul,
				      &count) < 0)
				return 2;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			host_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "shadowctl host: unknown option '%s'\n", argv[i]);
			host_usage(stderr);
			return 2;
		} else if (!verb) {
			verb = argv[i];
		} else if (!addr) {
			addr = argv[i];
		} else {
			host_usage(stderr);
			return 2;
		}
	}
	if (!verb || !addr ||
	    (strcmp(verb, "status") && strcmp(verb, "list") && strcmp(verb, "watch"))) {
		host_usage(stderr);
		return 2;
	}
	int c = ctl_remote_connect(&rm, "host", addr);
	if (c < 0)
		return c == -2 ? 2 : 1;
	int rc;
	if (!strcmp(verb, "status"))
		rc = host_status(&rm, addr, json);
	else if (!strcmp(verb, "list"))
		rc = host_list(&rm, addr, json);
	else
		rc = host_watch(&rm, addr, (unsigned)interval, count, json);
	ctl_remote_close(&rm);
	return rc;
}
