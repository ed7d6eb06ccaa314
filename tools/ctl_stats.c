/* shadowctl stats PATH: the recorded buckets of one file (opens, reads,
 * bytes, writes, metadata operations, clients, read latency), read from the
 * series store of the mount that holds PATH (running or stopped).
 *
 * The file is found by its stable id (the user.shadow.id xattr on the
 * backing file, so a renamed file keeps its history), else by its last
 * recorded path. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "tools/ctl.h"
#include "tools/ctl_store.h"


static const char usage[] =
	"usage: shadowctl stats PATH [--state DIR|MOUNTPOINT] [--window DUR] [--tier N] [--json]\n"
	"  PATH: a file under a shadowfs mount, or with --state, its path in the mount\n";

static void print_json(const struct pred_location *loc, const uint8_t id[16], int tier,
		       const struct pred_file_bucket *b, size_t n)
{
	char ids[37];
	uuid_unparse_lower(id, ids);
	struct pred_file_counters t;
	memset(&t, 0, sizeof(t));
	printf("{\"path\": ");
	ctl_json_string(stdout, n ? b[n - 1].path : loc->rel);
	printf(", \"id\": \"%s\", \"state\": ", ids);
	ctl_json_string(stdout, loc->state_dir);
	printf(", \"tier\": %d, \"buckets\": [", tier);
	for (size_t i = 0; i < n; i++) {
		const struct pred_file_counters *c = &b[i].c;
		printf("%s\n  {\"start\": %lld, \"width\": %u, \"opens\": %llu, \"reads\": %llu, "
		       "\"read_bytes\": %llu, \"writes\": %llu, \"written_bytes\": %llu, "
		       "\"meta_ops\": %llu, \"clients\": %u, \"read_latency_avg_ns\": %llu, "
		       "\"read_latency_max_ns\": %llu, \"read_latency_hist\": [",
		       i ? "," : "", (long long)b[i].start, b[i].width, (unsigned long long)c->opens,
		       (unsigned long long)c->reads, (unsigned long long)c->read_bytes,
		       (unsigned long long)c->writes, (unsigned long long)c->written_bytes,
		       (unsigned long long)c->meta_ops, c->clients,
		       (unsigned long long)(c->lat_count ? c->lat_sum_ns / c->lat_count : 0),
		       (unsigned long long)c->lat_max_ns);
		for (int h = 0; h < PRED_LAT_HIST; h++)
			printf("%s%llu", h ? ", " : "", (unsigned long long)c->lat_hist[h]);
		printf("]}");
		t.opens += c->opens;
		t.reads += c->reads;
		t.read_bytes += c->read_bytes;
		t.writes += c->writes;
		t.written_bytes += c->written_bytes;
		t.meta_ops += c->meta_ops;
	}
	printf("%s], \"total\": {\"opens\": %llu, \"reads\": %llu, \"read_bytes\": %llu, "
	       "\"writes\": %llu, \"written_bytes\": %llu, \"meta_ops\": %llu}}\n",
	       n ? "\n" : "", (unsigned long long)t.opens, (unsigned long long)t.reads,
	       (unsigned long long)t.read_bytes, (unsigned long long)t.writes,
	       (unsigned long long)t.written_bytes, (unsigned long long)t.meta_ops);
}

static void print_table(const struct pred_location *loc, const uint8_t id[16],
			const struct pred_file_bucket *b, size_t n)
{
	char ids[37];
	uuid_unparse_lower(id, ids);
	ctl_print_name(stdout, n ? b[n - 1].path : loc->rel, 0);
	printf("  id %s  store %s\n", ids, loc->state_dir);
	printf("%-20s %6s %8s %8s %10s %8s %6s %7s %10s\n", "BUCKET (UTC)", "WIDTH", "OPENS",
	       "READS", "READ", "WRITES", "META", "CLIENTS", "LAT_AVG");
	for (size_t i = 0; i < n; i++) {
		const struct pred_file_counters *c = &b[i].c;
		char when[32], bytes[32], lat[32];
		ctl_utc_text(b[i].start, when, sizeof(when));
		ctl_human_bytes(c->read_bytes, bytes, sizeof(bytes));
		if (c->lat_count)
			snprintf(lat, sizeof(lat), "%.1fus", (double)c->lat_sum_ns / c->lat_count / 1000.0);
		else
			snprintf(lat, sizeof(lat), "-");
		printf("%-20s %5us %8llu %8llu %10s %8llu %6llu %7u %10s\n", when, b[i].width,
		       (unsigned long long)c->opens, (unsigned long long)c->reads, bytes,
		       (unsigned long long)c->writes, (unsigned long long)c->meta_ops, c->clients, lat);
	}
	if (!n)
		printf("(no buckets in this window)\n");
}

int ctl_stats_main(int argc, char **argv)
{
	struct ctl_view_opts o = {.window = 2 * 86400};
	int prc = ctl_parse_view_opts(argc, argv, "shadowctl stats", usage, &o);
	if (prc >= 0)
		return prc;
	const char *state = o.state;
	int64_t window = o.window;
	bool json = o.json;
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return 2;
	}
	const char *path = argv[optind];
	struct pred_location loc;
	struct pred_store *st = NULL;
	if (ctl_store_open_for_path("shadowctl stats", state, path, &loc, &st))
		return 1;
	int rc = 1;
	uint8_t id[16];
	if (ctl_store_file_id(&loc, st, id)) {
		struct stat sb;
		/* A directory, or the mount itself: said so (it was "no recorded
		 * data for ''"); the store records files only. */
		if (!loc.rel[0] || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
			fprintf(stderr,
				"shadowctl stats: %s is a directory: stats shows one file "
				"(top: the busiest files of the mount)\n",
				path[0] ? path : "the mount root");
		else
			fprintf(stderr, "shadowctl stats: no recorded data for '%s' in %s\n",
				loc.rel, loc.state_dir);
		goto out;
	}
	int64_t now = time(NULL);
	int tier = ctl_view_tier(st, "shadowctl stats", &o, now);
	if (tier < 0) {
		rc = tier == -2 ? 2 : 1;
		goto out;
	}
	struct pred_file_bucket *b = NULL;
	size_t n = 0;
	if (pred_store_file_series(st, id, tier, now - window, INT64_MAX, &b, &n)) {
		fprintf(stderr, "shadowctl stats: %s\n", pred_store_errmsg(st));
		goto out;
	}
	if (json)
		print_json(&loc, id, tier, b, n);
	else
		print_table(&loc, id, b, n);
	pred_file_buckets_free(b, n);
	rc = 0;
out:
	ctl_store_close("shadowctl stats", st);
	return rc;
}
