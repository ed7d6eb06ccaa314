/* shadowctl top: the files with the most demand over a recent window, read
 * from a mount's series store (running or stopped). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "common/parse.h"
#include "tools/ctl.h"
#include "tools/ctl_store.h"

static const char usage[] =
	"usage: shadowctl top [--state DIR|MOUNTPOINT] [--window DUR] [-n N]\n"
	"                     [--by reads|bytes|opens|events] [--json]\n";

static void print_json(const struct pred_location *loc, int tier, int64_t window,
		       const struct pred_top_entry *e, size_t n)
{
	printf("{\"state\": ");
	ctl_json_string(stdout, loc->state_dir);
	printf(", \"mountpoint\": ");
	ctl_json_string(stdout, loc->mountpoint);
	printf(", \"window_s\": %lld, \"tier\": %d, \"files\": [", (long long)window, tier);
	for (size_t i = 0; i < n; i++) {
		char id[37];
		uuid_unparse_lower(e[i].id, id);
		const struct pred_file_counters *c = &e[i].c;
		printf("%s\n  {\"path\": ", i ? "," : "");
		ctl_json_string(stdout, e[i].path);
		printf(", \"id\": \"%s\", \"opens\": %llu, \"reads\": %llu, \"read_bytes\": %llu, "
		       "\"writes\": %llu, \"written_bytes\": %llu, \"meta_ops\": %llu, "
		       "\"clients\": %u, \"read_latency_avg_ns\": %llu, \"read_latency_max_ns\": %llu}",
		       id, (unsigned long long)c->opens, (unsigned long long)c->reads,
		       (unsigned long long)c->read_bytes, (unsigned long long)c->writes,
		       (unsigned long long)c->written_bytes, (unsigned long long)c->meta_ops,
		       c->clients, (unsigned long long)(c->lat_count ? c->lat_sum_ns / c->lat_count : 0),
		       (unsigned long long)c->lat_max_ns);
	}
	printf("%s]}\n", n ? "\n" : "");
}

static void print_table(const struct pred_location *loc, int64_t window,
			const struct pred_top_entry *e, size_t n)
{
	printf("store %s, last %llds\n", loc->state_dir, (long long)window);
	printf("%4s %10s %10s %8s %8s %8s %7s %10s  %s\n", "#", "READS", "READ", "OPENS", "WRITES",
	       "META", "CLIENTS", "LAT_AVG", "PATH");
	for (size_t i = 0; i < n; i++) {
		const struct pred_file_counters *c = &e[i].c;
		char bytes[32], lat[32];
		ctl_human_bytes(c->read_bytes, bytes, sizeof(bytes));
		if (c->lat_count)
			snprintf(lat, sizeof(lat), "%.1fus", (double)c->lat_sum_ns / c->lat_count / 1000.0);
		else
			snprintf(lat, sizeof(lat), "-");
		printf("%4zu %10llu %10s %8llu %8llu %8llu %7u %10s  ", i + 1,
		       (unsigned long long)c->reads, bytes, (unsigned long long)c->opens,
		       (unsigned long long)c->writes, (unsigned long long)c->meta_ops, c->clients,
		       lat);
		ctl_print_name(stdout, e[i].path, 0);
		putchar('\n');
	}
	if (!n)
		printf("(no recorded demand in this window)\n");
}

int ctl_top_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'}, {"window", required_argument, NULL, 'w'},
		{"by", required_argument, NULL, 'b'},    {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	const char *state = NULL;
	int64_t window = 3600;
	long long n = 20;
	bool json = false;
	enum pred_top_order order = PRED_TOP_READS;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'w':
			if (ctl_opt_window("shadowctl top", optarg, &window))
				return 2;
			break;
		case 'n':
			if (sfs_parse_integer(optarg, 1, 1000000, &n)) {
				fprintf(stderr, "shadowctl top: bad -n '%s' (1..1000000)\n", optarg);
				return 2;
			}
			break;
		case 'b':
			if (ctl_parse_demand(optarg, &order)) {
				fprintf(stderr, "shadowctl top: bad --by '%s' (reads, bytes, opens or events)\n",
					optarg);
				return 2;
			}
			break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	struct pred_location loc;
	struct pred_store *st = NULL;
	int prc = ctl_store_open_view("shadowctl top", argc, argv, usage, state, &loc, &st);
	if (prc >= 0)
		return prc;
	int64_t now = time(NULL);
	int tier = pred_store_pick_tier(st, now - window, now);
	struct pred_top_entry *e = NULL;
	size_t cnt = 0;
	/* Up to now: buckets in the future (recorded while the clock was
	 * ahead) are not "the last WINDOW s". */
	int rc = pred_store_top(st, tier, now - window, now + 1, (size_t)n, order, &e, &cnt);
	if (rc) {
		fprintf(stderr, "shadowctl top: %s\n", pred_store_errmsg(st));
		ctl_store_close("shadowctl top", st);
		return 1;
	}
	if (json)
		print_json(&loc, tier, window, e, cnt);
	else
		print_table(&loc, window, e, cnt);
	pred_top_entries_free(e, cnt);
	ctl_store_close("shadowctl top", st);
	return 0;
}
