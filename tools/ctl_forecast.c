/* shadowctl forecast: what the predictor expects of the busiest files of a
 * mount (or of one file), from the mount's series store (running or
 * stopped): per horizon step the median demand and its 80% / 95% intervals,
 * and P(demand > capacity at some step of the window), with the decision the
 * trigger's threshold gives.
 *
 * The recorded buckets are summed into forecast buckets (--bucket, default
 * 1 h, a multiple of the store tier's width); each file's series starts at
 * its first recorded bucket and ends where the store's record ends (the last
 * host bucket: for a stopped mount, when it stopped), so that time without a
 * mount does not read as time without demand. Models are built from that
 * history (predictor/history.h); the calibration is shared by the files
 * shown. Capacity: --capacity, else the 99th percentile of the file's own
 * history (the evaluation protocol's rule). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "predictor/forecast.h"
#include "predictor/history.h"
#include "predictor/hot_files.h"
#include "tools/ctl.h"
#include "common/parse.h"
#include "tools/ctl_store.h"

static const char usage[] =
	"usage: shadowctl forecast [PATH|MOUNTPOINT] [--state DIR|MOUNTPOINT] [--bucket DUR]\n"
	"                          [--season N] [--history DUR] [--horizon N] [--window N]\n"
	"                          [--capacity N] [--threshold P] [--by reads|bytes|opens|events]\n"
	"                          [-n N] [--json]\n"
	"  PATH: one file (per-step table); a mountpoint or no PATH: the -n busiest files\n";

struct fc_opts {
	int64_t bucket, history;
	long season; /* -1: derived from the bucket */
	long horizon, window, n;
	double capacity; /* < 0: per-file 99th percentile */
	double threshold;
	enum pred_top_order by;
	bool json;
};

/* One file's history and forecast. */
struct fc_file {
	uint8_t id[PRED_ID_LEN];
	char *path;
	double *y;
	size_t n;
	int64_t first; /* forecast-bucket index of y[0] */
	double capacity;
	struct pred_model model;
	struct pred_forecast fc;
};

static const char *demand_name(enum pred_top_order by)
{
	static const char *const names[] = {"reads", "read_bytes", "opens", "events"};
	return names[by];
}

static int parse_long_arg(const char *what, const char *s, long lo, long hi, long *ret)
{
	long long v;
	if (sfs_parse_integer(s, lo, hi, &v)) {
		fprintf(stderr, "shadowctl forecast: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		return -1;
	}
	*ret = v;
	return 0;
}

static int parse_double_arg(const char *what, const char *s, double lo, double hi, double *ret)
{
	double v;
	if (sfs_parse_number(s, lo, hi, &v) < 0) {
		fprintf(stderr, "shadowctl forecast: bad %s '%s' (%g..%g)\n", what, s, lo, hi);
		return -1;
	}
	*ret = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct fc_opts *o, const char **state,
		      const char **path)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'},   {"bucket", required_argument, NULL, 'b'},
		{"season", required_argument, NULL, 'm'},  {"history", required_argument, NULL, 'H'},
		{"horizon", required_argument, NULL, 'z'}, {"window", required_argument, NULL, 'w'},
		{"capacity", required_argument, NULL, 'c'}, {"threshold", required_argument, NULL, 't'},
		{"by", required_argument, NULL, 'y'},      {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	*o = (struct fc_opts){.bucket = 3600, .history = 14 * 86400, .season = -1, .horizon = 6,
			      .window = -1, .n = 10, .capacity = -1, .threshold = 0.8,
			      .by = PRED_TOP_READS};
	*state = *path = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': *state = optarg; break;
		case 'b':
		case 'H':
			if (ctl_parse_duration(optarg, c == 'b' ? &o->bucket : &o->history)) {
				fprintf(stderr, "shadowctl forecast: bad --%s '%s' (e.g. 90s, 15m, 1h, 14d)\n",
					c == 'b' ? "bucket" : "history", optarg);
				return 2;
			}
			break;
		case 'm':
			if (parse_long_arg("--season", optarg, 0, PRED_MAX_SEASON, &o->season))
				return 2;
			break;
		case 'z':
			if (parse_long_arg("--horizon", optarg, 1, PRED_MAX_H, &o->horizon))
				return 2;
			break;
		case 'w':
			if (parse_long_arg("--window", optarg, 1, PRED_MAX_H, &o->window))
				return 2;
			break;
		case 'n':
			if (parse_long_arg("-n", optarg, 1, 100000, &o->n))
				return 2;
			break;
		case 'c':
			if (parse_double_arg("--capacity", optarg, 0, 1e15, &o->capacity))
				return 2;
			break;
		case 't':
			if (parse_double_arg("--threshold", optarg, 0, 1, &o->threshold))
				return 2;
			break;
		case 'y':
			if (ctl_parse_demand(optarg, &o->by)) {
				fprintf(stderr, "shadowctl forecast: bad --by '%s' (reads, bytes, opens or events)\n",
					optarg);
				return 2;
			}
			break;
		case 'j': o->json = true; break;
		case 'h': fputs(usage, stdout); return 1;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind < argc)
		*path = argv[optind++];
	if (optind < argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (o->window < 0)
		o->window = o->horizon;
	if (o->window > o->horizon) {
		fprintf(stderr, "shadowctl forecast: --window %ld is longer than --horizon %ld\n",
			o->window, o->horizon);
		return 2;
	}
	if (o->bucket < 1 || o->history < o->bucket) {
		fprintf(stderr, "shadowctl forecast: --history must cover at least one --bucket\n");
		return 2;
	}
	if (o->season < 0) /* daily when a day is 2..PRED_MAX_SEASON buckets */
		o->season = 86400 % o->bucket == 0 && 86400 / o->bucket >= 2 &&
				    86400 / o->bucket <= PRED_MAX_SEASON
			    ? 86400 / o->bucket
			    : 0;
	return 0;
}

/* The file's demand per forecast bucket [first, end_idx), and its last
 * recorded path when it has none yet (one-file view). */
static int load_series(struct pred_store *st, int tier, const struct fc_opts *o, int64_t from,
		       int64_t end_idx, struct fc_file *f)
{
	int rc = pred_hot_series(st, f->id, tier, from, end_idx, o->bucket, o->by, &f->y, &f->n,
				 &f->first);
	if (rc == 0 && !f->path && pred_store_file_path(st, f->id, &f->path) == -ENOMEM)
		rc = -ENOMEM;
	return rc;
}

/* "90s", "15m", "2h": a duration as --bucket takes it. */
static const char *duration_text(uint32_t s, char *buf, size_t len)
{
	if (s % 3600 == 0)
		snprintf(buf, len, "%uh", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, len, "%um", s / 60);
	else
		snprintf(buf, len, "%us", s);
	return buf;
}

/* Demand recorded only in the forecast bucket under way (end_idx, which
 * the models leave out: its demand is not all in yet): it said "no
 * recorded data" while stats showed buckets. Looked up in tier 0, which
 * has it first (a coarser tier has a bucket once it is complete). Writes
 * into buf how much is recorded and what to do, and returns true; false
 * when nothing is recorded there either. id: one file, NULL: any. */
static bool partial_hint(struct pred_store *st, const struct fc_opts *o, const uint8_t *id,
			 int64_t end_idx, int64_t now, char *buf, size_t len)
{
	int64_t since = INT64_MAX, at = end_idx * o->bucket;
	if (id) {
		struct pred_file_bucket *b = NULL;
		size_t n = 0;
		if (pred_store_file_series(st, id, 0, at, now + 1, &b, &n) == 0 && n)
			since = b[0].start;
		pred_file_buckets_free(b, n);
	} else {
		struct pred_top_entry *t = NULL;
		struct pred_host_bucket *h = NULL;
		size_t n = 0, nh = 0;
		/* Recorded since the mount's first bucket in it (one is written
		 * every bucket, busy or not). */
		if (pred_store_top(st, 0, at, now + 1, 1, o->by, &t, &n) == 0 && n &&
		    pred_store_host_series(st, 0, at, now + 1, &h, &nh) == 0)
			since = nh ? h[0].start : at;
		pred_top_entries_free(t, n);
		pred_host_buckets_free(h, nh);
	}
	if (since == INT64_MAX)
		return false;
	int64_t end = pred_hot_record_end(st, 0, now);
	long long recorded = end > since ? (long long)(end - since) : 0;
	uint32_t finest = pred_store_get_tiers(st)->width_s[0];
	char w[32];
	if (finest < o->bucket)
		snprintf(buf, len,
			 "only %lld s recorded, less than one %lld s bucket: try --bucket %s",
			 recorded, (long long)o->bucket, duration_text(finest, w, sizeof(w)));
	else
		snprintf(buf, len,
			 "only %lld s recorded, less than one %lld s bucket: the first "
			 "forecast comes when it is complete",
			 recorded, (long long)o->bucket);
	return true;
}

static void print_step_table(const struct fc_opts *o, const struct fc_file *f, int64_t end_idx)
{
	printf("%-22s %12s %25s %25s %9s\n", "BUCKET (UTC)", "MEDIAN", "80%", "95%", "P(>CAP)");
	for (long h = 0; h < o->horizon; h++) {
		char when[32], i80[64], i95[64];
		ctl_utc_text((end_idx + h) * o->bucket, when, sizeof(when));
		snprintf(i80, sizeof(i80), "[%.0f, %.0f]", f->fc.lo[0][h], f->fc.hi[0][h]);
		snprintf(i95, sizeof(i95), "[%.0f, %.0f]", f->fc.lo[1][h], f->fc.hi[1][h]);
		printf("%-22s %12.0f %25s %25s %9.3f\n", when, f->fc.point[h], i80, i95,
		       f->fc.p_step[h]);
	}
}

/* hint: why nothing is shown (partial_hint), or NULL. */
static void print_table(const struct fc_opts *o, const struct pred_location *loc,
			struct fc_file *const *files, size_t nf, int64_t end_idx, bool one,
			const char *hint)
{
	printf("store %s: %s per %llds bucket, season %ld, horizon %ld, window %ld, "
	       "threshold %.2f\n",
	       loc->state_dir, demand_name(o->by), (long long)o->bucket, o->season, o->horizon,
	       o->window, o->threshold);
	if (one) {
		const struct fc_file *f = files[0];
		char ids[37];
		uuid_unparse_lower(f->id, ids);
		ctl_print_name(stdout, f->path ? f->path : loc->rel, 0);
		printf("  id %s  history %zu buckets, last %.0f, capacity %.0f%s\n\n", ids, f->n,
		       f->n ? f->y[f->n - 1] : 0.0, f->capacity,
		       o->capacity < 0 ? " (p99 of its history)" : "");
		print_step_table(o, f, end_idx);
		printf("\nP(%s > %.0f in a bucket of the next %ld) = %.3f: %s\n", demand_name(o->by),
		       f->capacity, o->window, f->fc.p_exceed,
		       f->fc.p_exceed >= o->threshold ? "shadow it (at or above the threshold)"
						      : "no shadow (below the threshold)");
		return;
	}
	printf("%4s %8s %10s %9s %21s %10s %8s %6s  %s\n", "#", "HISTORY", "LAST", "CAPACITY",
	       "NEXT (80%)", "PEAK95", "P(>CAP)", "SHADOW", "PATH");
	for (size_t i = 0; i < nf; i++) {
		const struct fc_file *f = files[i];
		double peak = 0.0;
		for (long h = 0; h < o->window; h++)
			peak = f->fc.hi[1][h] > peak ? f->fc.hi[1][h] : peak;
		char next[64];
		snprintf(next, sizeof(next), "%.0f [%.0f, %.0f]", f->fc.point[0], f->fc.lo[0][0],
			 f->fc.hi[0][0]);
		printf("%4zu %8zu %10.0f %9.0f %21s %10.0f %8.3f %6s  ", i + 1, f->n,
		       f->y[f->n - 1], f->capacity, next, peak, f->fc.p_exceed,
		       f->fc.p_exceed >= o->threshold ? "yes" : "no");
		ctl_print_name(stdout, f->path ? f->path : "?", 0);
		putchar('\n');
	}
	if (!nf && hint)
		printf("(no complete bucket in the history window: %s)\n", hint);
	else if (!nf)
		printf("(no recorded demand in the history window)\n");
}

static void print_json(const struct fc_opts *o, const struct pred_location *loc,
		       struct fc_file *const *files, size_t nf, int64_t end_idx)
{
	printf("{\"state\": ");
	ctl_json_string(stdout, loc->state_dir);
	printf(", \"demand\": \"%s\", \"bucket_s\": %lld, \"season\": %ld, \"horizon\": %ld, "
	       "\"window\": %ld, \"threshold\": %.3f, \"next_bucket_start\": %lld, \"files\": [",
	       demand_name(o->by), (long long)o->bucket, o->season, o->horizon, o->window,
	       o->threshold, (long long)(end_idx * o->bucket));
	for (size_t i = 0; i < nf; i++) {
		const struct fc_file *f = files[i];
		char ids[37];
		uuid_unparse_lower(f->id, ids);
		printf("%s\n  {\"path\": ", i ? "," : "");
		ctl_json_string(stdout, f->path ? f->path : "");
		printf(", \"id\": \"%s\", \"history_buckets\": %zu, \"last\": %.17g, "
		       "\"capacity\": %.17g, \"capacity_source\": \"%s\", \"p_exceed\": %.6f, "
		       "\"shadow\": %s, \"steps\": [",
		       ids, f->n, f->n ? f->y[f->n - 1] : 0.0, f->capacity,
		       o->capacity < 0 ? "p99" : "option", f->fc.p_exceed,
		       f->fc.p_exceed >= o->threshold ? "true" : "false");
		for (long h = 0; h < o->horizon; h++)
			printf("%s{\"start\": %lld, \"median\": %.6g, \"lo80\": %.6g, \"hi80\": %.6g, "
			       "\"lo95\": %.6g, \"hi95\": %.6g, \"p_over\": %.6f}",
			       h ? ", " : "", (long long)((end_idx + h) * o->bucket), f->fc.point[h],
			       f->fc.lo[0][h], f->fc.hi[0][h], f->fc.lo[1][h], f->fc.hi[1][h],
			       f->fc.p_step[h]);
		printf("]}");
	}
	printf("%s]}\n", nf ? "\n" : "");
}

/* Most likely overload first; ties keep the order of demand. */
static int by_probability(const void *a, const void *b)
{
	const struct fc_file *x = *(struct fc_file *const *)a, *y = *(struct fc_file *const *)b;
	if (x->fc.p_exceed != y->fc.p_exceed)
		return x->fc.p_exceed < y->fc.p_exceed ? 1 : -1;
	return (x > y) - (x < y);
}

static void files_free(struct fc_file *files, size_t n)
{
	for (size_t i = 0; files && i < n; i++) {
		free(files[i].path);
		free(files[i].y);
	}
	free(files);
}

int ctl_forecast_main(int argc, char **argv)
{
	struct fc_opts o;
	const char *state, *path;
	int prc = parse_opts(argc, argv, &o, &state, &path);
	if (prc)
		return prc == 1 ? 0 : prc;

	struct pred_location loc;
	struct pred_store *st = NULL;
	if (path ? ctl_store_open_for_path("shadowctl forecast", state, path, &loc, &st)
		 : ctl_store_open("shadowctl forecast", state, NULL, &loc, &st))
		return 1;
	bool one = loc.rel[0] != '\0';
	int rc = 1;
	struct fc_file *files = NULL, **shown = NULL;
	size_t nf = 0, nshown = 0;
	struct pred_calib *calib = NULL;
	struct pred_top_entry *top = NULL;
	size_t ntop = 0;

	int tier = pred_hot_pick_tier(pred_store_get_tiers(st), o.bucket, o.history);
	if (tier < 0) {
		fprintf(stderr, "shadowctl forecast: --bucket %llds is not a multiple of any of the "
				"store's bucket widths (the finest is %us)\n",
			(long long)o.bucket, pred_store_get_tiers(st)->width_s[0]);
		goto out;
	}
	int64_t now = time(NULL), from = now - o.history;
	int64_t end_idx = pred_hot_record_end(st, tier, now) / o.bucket;

	if (one) {
		files = calloc(1, sizeof(*files));
		if (!files)
			goto oom;
		struct stat sb;
		if (ctl_store_file_id(&loc, st, files[0].id)) {
			if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* as stats says it */
				fprintf(stderr,
					"shadowctl forecast: %s is a directory: give a file, "
					"or the mountpoint for its busiest files\n",
					path);
			else
				fprintf(stderr,
					"shadowctl forecast: no recorded data for '%s' in %s\n",
					loc.rel, loc.state_dir);
			goto out;
		}
		nf = 1;
	} else {
		/* Ranked over the span the models see (not buckets recorded in
		 * the future, while the clock was ahead: no series before now). */
		if (pred_store_top(st, tier, from, end_idx * o.bucket, (size_t)o.n, o.by, &top,
				   &ntop)) {
			fprintf(stderr, "shadowctl forecast: %s\n", pred_store_errmsg(st));
			goto out;
		}
		files = calloc(ntop ? ntop : 1, sizeof(*files));
		if (!files)
			goto oom;
		for (; nf < ntop; nf++) {
			memcpy(files[nf].id, top[nf].id, PRED_ID_LEN);
			files[nf].path = top[nf].path; /* moved */
			top[nf].path = NULL;
		}
	}
	shown = calloc(nf ? nf : 1, sizeof(*shown));
	calib = pred_calib_new(PRED_CALIB_DECAY);
	if (!shown || !calib)
		goto oom;
	for (size_t i = 0; i < nf; i++) {
		struct fc_file *f = &files[i];
		int lr = load_series(st, tier, &o, from, end_idx, f);
		if (lr) {
			fprintf(stderr, "shadowctl forecast: %s\n",
				lr == -ENOMEM ? strerror(ENOMEM) : pred_store_errmsg(st));
			goto out;
		}
		if (f->n == 0)
			continue;
		if (pred_model_from_history(&f->model, (unsigned)o.season, (unsigned)o.horizon, f->y,
					    f->n, calib)) {
			fprintf(stderr, "shadowctl forecast: cannot model %s\n", f->path ? f->path : "?");
			goto out;
		}
		f->capacity = o.capacity >= 0 ? o.capacity
					      : fmax(1.0, pred_history_quantile(f->y, f->n, 0.99));
		shown[nshown++] = f;
	}
	char hint[160];
	if (one && nshown == 0) {
		if (partial_hint(st, &o, files[0].id, end_idx, now, hint, sizeof(hint)))
			fprintf(stderr, "shadowctl forecast: '%s': %s\n", loc.rel, hint);
		else
			fprintf(stderr,
				"shadowctl forecast: no recorded data for '%s' in the last "
				"%llds\n",
				loc.rel, (long long)o.history);
		goto out;
	}
	pred_calib_refresh(calib);
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.horizon = (unsigned)o.horizon;
	req.window = (unsigned)o.window;
	req.bucket = (uint64_t)end_idx;
	for (size_t i = 0; i < nshown; i++) {
		req.capacity = shown[i]->capacity;
		if (pred_forecast_compute(&shown[i]->model, calib, &req, &shown[i]->fc)) {
			fprintf(stderr, "shadowctl forecast: bad forecast request\n");
			goto out;
		}
	}
	qsort(shown, nshown, sizeof(*shown), by_probability);
	const char *none_why = NULL; /* why the table is empty, when it is */
	if (!nshown && !o.json && partial_hint(st, &o, NULL, end_idx, now, hint, sizeof(hint)))
		none_why = hint;
	if (o.json)
		print_json(&o, &loc, shown, nshown, end_idx);
	else
		print_table(&o, &loc, shown, nshown, end_idx, one, none_why);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "shadowctl forecast: %s\n", strerror(ENOMEM));
out:
	pred_top_entries_free(top, ntop);
	files_free(files, nf);
	free(shown);
	pred_calib_free(calib);
	ctl_store_close("shadowctl forecast", st);
	return rc;
}
