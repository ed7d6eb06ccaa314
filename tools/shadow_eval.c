/* shadow-eval: runs the evaluation protocol of ../shared/traces/README.md on
 * one trace, for the predictor and, in the same run, for the baselines
 * (seasonal naive, last value, reactive).
 *
 * Protocol (the README's, with the details that reproduce its reference
 * numbers): rolling origin t = train .. n-1; at t the models have seen
 * y[0..t-1] and forecast y[t..t+H-1] (horizons past the end are dropped).
 * MASE divides |error| by the mean |y[i] - y[i-m]| over i < t, averaged per
 * object over origins and horizons, then mean and median across objects.
 * Hot-object task: C = 99th percentile (linear) of the object's training
 * part; alarms at origins t = train .. n-W (full windows), truth
 * max(y[t..t+W-1]) > C; onsets tau >= train with y[tau] > C and none of the W
 * previous steps above C; lead = tau - first alarm origin in [tau-W+1, tau]
 * + 1; anticipated when lead >= 1. Mean lead is over anticipated onsets.
 *
 * All files are stepped together in time order (one tick = one bucket for
 * every file), so the mount-wide calibration and profile only ever see the
 * past. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/parse.h"
#include "daemon/control.h"
#include "predictor/distribution.h"
#include "predictor/exceedance.h"
#include "predictor/forecast.h"
#include "predictor/global_profile.h"
#include "predictor/history.h"
#include "predictor/model.h"
#include "predictor/path_pool.h"
#include "predictor/self_tuning.h"
#include "tools/eval_trace.h"
#include "tools/sim_replay.h"

struct opts {
	const char *path;
	long bucket;
	unsigned season, horizon, window;
	long train, steps, min_steps;
	double threshold;
	int keep_partial;
	long row_span;
	long refit;
	int verbose;
	int exceed_model; /* 1: alarms on the model's probability alone */
	int exceed_joint; /* joint path probability (path_pool.h): 1 mount-wide pool, 2 per file */
	int pr_table;
	/* --simulate: the control loop replayed on simulated hosts */
	int simulate;
	struct sim_host sim_hosts[16];
	size_t sim_nhosts;
	long sim_idle, sim_lag, sim_copies, sim_replicas;
};

/* --exceed joint: one pool of every file's recent error paths; joint-file:
 * each file's own 32 most recent (16 + 32 W bytes per file). */
#define JOINT_POOL_PATHS 256
#define JOINT_POOL_MIN 50
#define JOINT_FILE_PATHS 32
#define JOINT_FILE_MIN 24

enum { M_PRED, M_SNAIVE, M_LAST, NMODELS };
static const char *model_names[NMODELS] = {"predictor", "seasonal-naive", "last-value"};
enum { A_PRED, A_TUNED, A_MODEL, A_SNAIVE, A_REACTIVE, NALARMS };
static const char *alarm_names[NALARMS] = {"predictor P>=thr", "predictor self-tuned",
					   "model-only P>=thr", "seasonal naive", "reactive"};

struct hot {
	long tp, alarms, truths, onsets, anticipated, lead_sum;
};

struct obj {
	size_t key;
	const double *y;
	double cap;
	struct pred_model model;
	double mase_sum[NMODELS][PRED_MAX_H];
	long mase_n[NMODELS][PRED_MAX_H];
	unsigned char *alarm[NALARMS]; /* [n] per origin */
	float *prob;		       /* [n] P(max over W > C) per origin */
	float *pmodel;		       /* [n] the model's own P (forecast.h) */
	struct pred_exc_file exf;      /* classifier features state */
	struct pred_path_asm pasm;     /* partial error paths (joint P) */
	struct pred_paths *own;	       /* --exceed joint-file: its own paths */
	unsigned char *truth;	       /* [n] max(y[t..t+W-1]) > C */
	unsigned char *want;	       /* [n] replica count (--sim-replicas) */
	double seas_abs;	       /* running sum |y[i]-y[i-m]| */
	long seas_n;
};

static void usage(FILE *out)
{
	fprintf(out, "usage: shadow-eval TRACE.csv --bucket SECONDS --season M --train STEPS\n"
		     "         [--steps N] [--horizon 6] [--window 6] [--threshold 0.8]\n"
		     "         [--min-steps K] [--keep-partial] [--row-time SPAN] [--refit N]\n"
		     "         [--exceed model|classifier|joint|joint-file] [--pr-table]\n"
		     "         [--simulate HOSTS] [--sim-idle B] [--sim-lag B] [--sim-copies K]\n"
		     "         [--sim-replicas MAX]\n"
		     "         [--verbose]\n"
		     "--exceed: P(max over W > C) from the model's distribution (default),\n"
		     "  the online classifier (predictor/exceedance.h), or the joint law\n"
		     "  of past error paths (predictor/path_pool.h): every file's (joint)\n"
		     "  or the file's own (joint-file).\n"
		     "--pr-table: precision / anticipation over thresholds.\n"
		     "--refit N: re-select each file's parameters every N test steps.\n"
		     "--simulate COST[:SLOTS],...: replays every policy's alarms through\n"
		     "  the control loop on simulated hosts (tools/sim_replay.h) and scores\n"
		     "  overloaded buckets, excess reads, onsets covered, copies and cost;\n"
		     "  --sim-idle: buckets a copy outlives its last alarm (1),\n"
		     "  --sim-lag: buckets from decision to serving copy (0),\n"
		     "  --sim-copies: copies placed per shadowed file (1),\n"
		     "  --sim-replicas MAX: instead, each bucket's replica count from the\n"
		     "  forecast's 95%% bound (daemon_control_copies_for, as the mount).\n"
		     "--season 1 means non-seasonal (MASE scaled by the lag-1 difference).\n"
		     "--row-time SPAN: timestamps replaced by row order over SPAN seconds.\n"
		     "Runs the rolling-origin protocol of the shared traces README for the\n"
		     "predictor and the baselines; the last line is machine-readable.\n"
		     "A metric that is not defined is printed as none (never nan): MASE\n"
		     "skips objects whose past is constant (scale 0), none when all are.\n");
}

static int parse_long(const char *s, long lo, long hi, long *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	    {"bucket", required_argument, 0, 'b'},
	    {"season", required_argument, 0, 'm'},
	    {"train", required_argument, 0, 't'},
	    {"steps", required_argument, 0, 'n'},
	    {"horizon", required_argument, 0, 'H'},
	    {"window", required_argument, 0, 'W'},
	    {"threshold", required_argument, 0, 'p'},
	    {"min-steps", required_argument, 0, 'k'},
	    {"keep-partial", no_argument, 0, 'K'},
	    {"row-time", required_argument, 0, 'R'},
	    {"refit", required_argument, 0, 'F'},
	    {"verbose", no_argument, 0, 'v'},
	    {"exceed", required_argument, 0, 'E'},
	    {"pr-table", no_argument, 0, 'P'},
	    {"simulate", required_argument, 0, 'S'},
	    {"sim-idle", required_argument, 0, 'I'},
	    {"sim-lag", required_argument, 0, 'L'},
	    {"sim-copies", required_argument, 0, 'C'},
	    {"sim-replicas", required_argument, 0, 'Q'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	memset(o, 0, sizeof(*o));
	o->horizon = 6;
	o->window = 6;
	o->threshold = 0.8;
	o->exceed_model = 1; /* best at 0.8 on the shared traces, see docs */
	o->steps = -1;
	o->train = -1;
	o->bucket = -1;
	o->sim_idle = 1;
	o->sim_copies = 1;
	long season = -1, v;
	int c, li = -1;
	while ((c = getopt_long(argc, argv, "h", lo, &li)) != -1) {
		switch (c) {
		case 'b':
			if (parse_long(optarg, 1, 1L << 40, &o->bucket))
				goto bad;
			break;
		case 'm':
			if (parse_long(optarg, 1, PRED_PROFILE_MAX_SEASON, &season))
				goto bad;
			break;
		case 't':
			if (parse_long(optarg, 1, 1L << 30, &o->train))
				goto bad;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1L << 30, &o->steps))
				goto bad;
			break;
		case 'H':
			if (parse_long(optarg, 1, PRED_MAX_H, &v))
				goto bad;
			o->horizon = (unsigned)v;
			break;
		case 'W':
			if (parse_long(optarg, 1, PRED_MAX_H, &v))
				goto bad;
			o->window = (unsigned)v;
			break;
		case 'p':
			if (sfs_parse_number(optarg, 0, 1, &o->threshold) < 0 ||
			    o->threshold == 0)
				goto bad;
			break;
		case 'k':
			if (parse_long(optarg, 1, 1L << 30, &o->min_steps))
				goto bad;
			break;
		case 'K':
			o->keep_partial = 1;
			break;
		case 'F':
			if (parse_long(optarg, 0, 1L << 30, &o->refit))
				goto bad;
			break;
		case 'R':
			if (parse_long(optarg, 1, 1L << 40, &o->row_span))
				goto bad;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'E':
			if (!strcmp(optarg, "model"))
				o->exceed_model = 1;
			else if (!strcmp(optarg, "classifier"))
				o->exceed_model = 0;
			else if (!strcmp(optarg, "joint"))
				o->exceed_model = 0, o->exceed_joint = 1;
			else if (!strcmp(optarg, "joint-file"))
				o->exceed_model = 0, o->exceed_joint = 2;
			else
				goto bad;
			break;
		case 'P':
			o->pr_table = 1;
			break;
		case 'S': {
			int nh = sim_parse_hosts(optarg, o->sim_hosts,
						 sizeof(o->sim_hosts) / sizeof(o->sim_hosts[0]));
			if (nh < 0)
				goto bad;
			o->sim_nhosts = (size_t)nh;
			o->simulate = 1;
			break;
		}
		case 'I':
			if (parse_long(optarg, 1, 1L << 30, &o->sim_idle))
				goto bad;
			break;
		case 'L':
			if (parse_long(optarg, 0, 1L << 30, &o->sim_lag))
				goto bad;
			break;
		case 'C':
			if (parse_long(optarg, 1, 1000, &o->sim_copies))
				goto bad;
			break;
		case 'Q':
			if (parse_long(optarg, 1, 255, &o->sim_replicas))
				goto bad;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind + 1 != argc || o->bucket < 0 || season < 0 || o->train < 0) {
		fprintf(stderr, "shadow-eval: TRACE.csv, --bucket, --season and "
				"--train are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (o->window > o->horizon) {
		fprintf(stderr, "shadow-eval: --window must be <= --horizon\n");
		return -EINVAL;
	}
	o->season = (unsigned)season;
	o->path = argv[optind];
	return 0;
bad:
	fprintf(stderr, "shadow-eval: bad value '%s' for --%s\n", optarg,
		li >= 0 ? lo[li].name : "?");
	usage(stderr);
	return -EINVAL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* A metric for the reports: v with prec digits, or "none" when it is not
 * defined (MASE when no object has a non-zero seasonal scale: every
 * series constant, e.g. all zero, in each origin's past; a horizon no
 * origin reached), never "nan" or "inf". */
static const char *metric_text(double v, int prec, char *buf, size_t len)
{
	if (!isfinite(v))
		return "none";
	snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

/* metric_text right-aligned in a table column of width. */
static void print_metric(double v, int prec, int width)
{
	char b[48];
	printf(" %*s", width, metric_text(v, prec, b, sizeof(b)));
}

static double smape(double a, double f)
{
	double d = fabs(a) + fabs(f);
	return d == 0.0 ? 0.0 : 200.0 * fabs(a - f) / d;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Hot-object scores of one alarm series on one object. */
static void score_hot(const struct obj *ob, const unsigned char *alarm, long train, long n, long W,
		      struct hot *h)
{
	const double *y = ob->y;
	double C = ob->cap;
	for (long t = train; t + W <= n; t++) {
		bool truth = false;
		for (long j = t; j < t + W; j++)
			truth = truth || y[j] > C;
		h->tp += alarm[t] && truth;
		h->alarms += alarm[t];
		h->truths += truth;
	}
	for (long tau = train; tau < n; tau++) {
		if (!(y[tau] > C))
			continue;
		bool prev = false;
		for (long j = tau - W; j < tau; j++)
			prev = prev || (j >= 0 && y[j] > C);
		if (prev)
			continue;
		h->onsets++;
		for (long o = tau - W + 1; o <= tau; o++) {
			if (o >= train && o + W <= n && alarm[o]) {
				long lead = tau - o + 1;
				if (lead >= 1) {
					h->anticipated++;
					h->lead_sum += lead;
				}
				break;
			}
		}
	}
}

/* Precision / recall / anticipation of P >= threshold over a grid of
 * thresholds, for the probability the alarms use and the model's own. */
static int pr_table(struct obj *objs, size_t nobj, long train, long n, long W)
{
	static const double th[] = {0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4,
				    0.45, 0.5, 0.6,  0.7, 0.8,	0.9, 0.95};
	unsigned char *al = malloc((size_t)n);
	if (!al)
		return -ENOMEM;
	printf("\nP >= threshold: precision recall anticipated (alarms), "
	       "alarm probability | model-only\n");
	for (size_t k = 0; k < sizeof(th) / sizeof(th[0]); k++) {
		struct hot h[2];
		memset(h, 0, sizeof(h));
		for (int which = 0; which < 2; which++)
			for (size_t i = 0; i < nobj; i++) {
				const float *p = which ? objs[i].pmodel : objs[i].prob;
				for (long t = 0; t < n; t++)
					al[t] = t >= train && t + W <= n && p[t] >= th[k];
				score_hot(&objs[i], al, train, n, W, &h[which]);
			}
		printf("pr %.2f", th[k]);
		for (int which = 0; which < 2; which++)
			printf("  %s %.2f %.2f %.2f (%ld)", which ? "|" : "",
			       h[which].alarms ? (double)h[which].tp / h[which].alarms : 0.0,
			       h[which].truths ? (double)h[which].tp / h[which].truths : 0.0,
			       h[which].onsets ? (double)h[which].anticipated / h[which].onsets
					       : 0.0,
			       h[which].alarms);
		printf("\n");
	}
	free(al);
	return 0;
}

/* The probability the alarms use, as the tuner sees it: (p_dep, p_indep) of
 * the model, or the classifier's p in both (no dependence left to mix); then
 * the classifier's features go to ret_x for its record (the caller records
 * them only when the classifier is in use). */
static void exceed_prob(const struct opts *o, const struct pred_exc *exc,
			const struct pred_paths *paths, const struct obj *ob,
			const struct pred_forecast *fc, long W, float ret_x[PRED_EXC_NF],
			double *ret_pd, double *ret_pi)
{
	if (o->exceed_model) {
		*ret_pd = fc->p_dep;
		*ret_pi = fc->p_indep;
		return;
	}
	if (o->exceed_joint) {
		double p = pred_paths_exceed(o->exceed_joint == 2 ? ob->own : paths, fc, ob->cap);
		*ret_pd = *ret_pi = p >= 0.0 ? p : fc->p_indep;
		return;
	}
	pred_exc_features(&ob->exf, &ob->model, fc, ob->cap, (unsigned)W, ret_x);
	*ret_pd = *ret_pi = pred_exc_prob(exc, ret_x);
}

/* --simulate: each policy's alarms replayed through the control loop on
 * the simulated hosts (sim_replay.h), buckets train .. n-W (where every
 * policy has an alarm), plus "none" (never shadows) and "oracle" (alarms
 * at the protocol's truth: a perfect forecast, the bound). Prints the
 * table and the `sim:` line. */
static int simulate(const struct opts *o, struct obj *objs, size_t nobj, long train, long n,
		    long W)
{
	enum { P_NONE = NALARMS, P_BOTH, P_ORACLE, NPOL };
	static const int shown[] = {P_NONE,   A_REACTIVE, A_SNAIVE, A_PRED,
				    A_TUNED, P_BOTH,	  P_ORACLE};
	struct sim_file *f = calloc(nobj, sizeof(*f));
	unsigned char *zero = calloc((size_t)n, 1);
	unsigned char *both = calloc(nobj * (size_t)n, 1);
	struct sim_score sc[NPOL];
	memset(sc, 0, sizeof(sc));
	struct sim_params sp = {
	    .idle = (unsigned)o->sim_idle,
	    .lag = (unsigned)o->sim_lag,
	    .window = (unsigned)W,
	    .copies = (unsigned)o->sim_copies,
	    .hosts = o->sim_hosts,
	    .nhosts = o->sim_nhosts,
	};
	int rc = f && zero && both ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < nobj; i++)
		for (long t = 0; t < n; t++)
			both[i * (size_t)n + (size_t)t] =
			    objs[i].alarm[A_PRED][t] | objs[i].alarm[A_REACTIVE][t];
	for (size_t k = 0; !rc && k < sizeof(shown) / sizeof(shown[0]); k++) {
		int pol = shown[k];
		for (size_t i = 0; i < nobj; i++)
			f[i] = (struct sim_file){
			    .y = objs[i].y,
			    .cap = objs[i].cap,
			    .want = o->sim_replicas ? objs[i].want : NULL,
			    .alarm = pol == P_NONE     ? zero
				     : pol == P_ORACLE ? objs[i].truth
				     : pol == P_BOTH   ? both + i * (size_t)n
						       : objs[i].alarm[pol],
			};
		rc = sim_replay(&sp, f, nobj, train, n - W + 1, &sc[pol]);
	}
	if (rc) {
		free(f);
		free(zero);
		free(both);
		return rc;
	}
	char per_file[96];
	if (o->sim_replicas)
		snprintf(per_file, sizeof(per_file),
			 "replicas from the forecast's 95%% bound, at most %ld", o->sim_replicas);
	else
		snprintf(per_file, sizeof(per_file), "%ld cop%s", o->sim_copies,
			 o->sim_copies == 1 ? "y" : "ies");
	printf("\nsimulation: the control loop on %zu simulated host%s, idle %ld, lag %ld "
	       "bucket(s), %s per shadowed file (capacity C per copy)\n",
	       o->sim_nhosts, o->sim_nhosts == 1 ? "" : "s", o->sim_idle, o->sim_lag, per_file);
	printf("%-22s %10s %9s %8s %8s %7s %8s %9s %8s\n", "policy", "overloaded", "reads_ov%",
	       "excess%", "covered", "copies", "copy_bk", "cost", "unplaced");
	for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) {
		int pol = shown[k];
		const struct sim_score *s = &sc[pol];
		printf("%-22s %10ld %9.2f %8.2f %8.2f %7ld %8ld %9.1f %8ld\n",
		       pol == P_NONE	 ? "none"
		       : pol == P_BOTH	 ? "predictor or reactive"
		       : pol == P_ORACLE ? "oracle (hindsight)"
					 : alarm_names[pol],
		       s->overloaded, s->reads > 0 ? 100.0 * s->reads_overloaded / s->reads : 0.0,
		       s->reads > 0 ? 100.0 * s->excess / s->reads : 0.0,
		       s->onsets ? (double)s->covered / s->onsets : 0.0, s->copies, s->copy_buckets,
		       s->cost, s->unplaced);
	}
	printf("(overloaded: file-buckets with demand > serving copies x C; reads_ov%%: reads in "
	       "them; excess%%: reads beyond capacity; covered: onsets with a copy already "
	       "serving; copy_bk: file-buckets holding a copy)\n");
	const struct sim_score *none = &sc[P_NONE];
	double base = none->excess > 0 ? none->excess : 1.0;
	printf("sim: excess_none=%.0f excess_avoided_reactive=%.3f excess_avoided_snaive=%.3f "
	       "excess_avoided_predictor=%.3f excess_avoided_both=%.3f excess_avoided_oracle=%.3f "
	       "covered_predictor=%.2f "
	       "copy_buckets_predictor=%ld copy_buckets_oracle=%ld\n",
	       none->excess, 1.0 - sc[A_REACTIVE].excess / base, 1.0 - sc[A_SNAIVE].excess / base,
	       1.0 - sc[A_PRED].excess / base, 1.0 - sc[P_BOTH].excess / base,
	       1.0 - sc[P_ORACLE].excess / base,
	       sc[A_PRED].onsets ? (double)sc[A_PRED].covered / sc[A_PRED].onsets : 0.0,
	       sc[A_PRED].copy_buckets, sc[P_ORACLE].copy_buckets);
	free(f);
	free(zero);
	free(both);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct eval_trace tr;
	char err[512] = "";
	int rc = 1;
	struct obj *objs = NULL;
	size_t nobj = 0;
	struct pred_calib *calib = NULL;
	struct pred_profile *prof = NULL;
	struct pred_tuner *tuner = NULL;
	struct pred_exc *exc = NULL;
	struct pred_paths *paths = NULL;
	double t_start = now_s();

	if (parse_opts(argc, argv, &o))
		return 2;
	int lr =
	    eval_trace_load(o.path, o.bucket, o.keep_partial, o.row_span, &tr, err, sizeof(err));
	if (lr) {
		fprintf(stderr, "shadow-eval: %s\n", err[0] ? err : strerror(-lr));
		return 1;
	}
	long n = (long)tr.nsteps;
	if (o.steps > 0 && o.steps < n)
		n = o.steps;
	long H = o.horizon, W = o.window, m = o.season, train = o.train;
	if (train >= n || train <= m) {
		fprintf(stderr,
			"shadow-eval: trace has %ld steps of %lds; need more than "
			"--train %ld (and --train > --season %ld)\n",
			n, o.bucket, train, m);
		goto cleanup;
	}
	objs = calloc(tr.nkeys, sizeof(*objs));
	if (!objs)
		goto cleanup;
	struct pred_params params;
	pred_params_default(&params);
	unsigned mseason = m >= 2 && m <= PRED_MAX_SEASON ? (unsigned)m : 0;
	for (size_t k = 0; k < tr.nkeys; k++) {
		if (o.min_steps > 0 && tr.last[k] + 1 < o.min_steps)
			continue;
		struct obj *ob = &objs[nobj];
		ob->key = k;
		ob->y = tr.y + k * tr.nsteps;
		ob->cap = pred_history_quantile(ob->y, (size_t)train, 0.99);
		for (int a = 0; a < NALARMS; a++) {
			ob->alarm[a] = calloc((size_t)n, 1);
			if (!ob->alarm[a])
				goto cleanup;
		}
		ob->prob = calloc((size_t)n, sizeof(float));
		ob->pmodel = calloc((size_t)n, sizeof(float));
		ob->truth = calloc((size_t)n, 1);
		ob->want = calloc((size_t)n, 1);
		nobj++;
		pred_path_asm_init(&ob->pasm);
		if (o.exceed_joint == 2 &&
		    !(ob->own = pred_paths_new((unsigned)W, JOINT_FILE_PATHS, JOINT_FILE_MIN)))
			goto cleanup;
		if (!ob->prob || !ob->pmodel || !ob->truth || pred_exc_file_init(&ob->exf, mseason))
			goto cleanup;
		if (pred_model_init(&ob->model, &params, mseason, (unsigned)H) ||
		    pred_model_fit(&ob->model, ob->y, (size_t)train)) {
			fprintf(stderr, "shadow-eval: cannot fit %s\n", tr.keys[k]);
			goto cleanup;
		}
	}
	if (nobj == 0) {
		fprintf(stderr, "shadow-eval: no key has >= %ld steps\n", o.min_steps);
		goto cleanup;
	}
	calib = pred_calib_new(PRED_CALIB_DECAY);
	prof = m >= 2 ? pred_profile_new((unsigned)m, 0.1) : NULL;
	struct pred_tuner_config tcfg;
	pred_tuner_config_default(&tcfg);
	tcfg.window = (unsigned)W;
	/* The classifier's probability is one number: no dependence to tune. */
	tcfg.tune_dependence = o.exceed_model;
	tuner = pred_tuner_new(&tcfg);
	struct pred_exc_config ecfg;
	pred_exc_config_default(&ecfg);
	ecfg.window = (unsigned)W;
	exc = pred_exc_new(&ecfg);
	paths = pred_paths_new((unsigned)W, JOINT_POOL_PATHS, JOINT_POOL_MIN);
	if (!calib || (m >= 2 && !prof) || !tuner || !exc || !paths)
		goto cleanup;

	double t_fit = now_s();
	/* Pooled accumulators. */
	double smape_sum[NMODELS][PRED_MAX_H] = {{0}};
	long smape_n[PRED_MAX_H] = {0};
	long cov_in[PRED_MAX_LEVELS] = {0}, cov_n = 0;
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.horizon = (unsigned)H;
	req.window = (unsigned)W;
	req.profile = prof;

	for (long t = 0; t < n; t++) {
		if (t >= train) {
			pred_calib_refresh(calib);
			req.bucket = (uint64_t)t;
			for (size_t i = 0; i < nobj; i++) {
				struct obj *ob = &objs[i];
				const double *y = ob->y;
				struct pred_forecast fc;
				req.capacity = ob->cap;
				pred_forecast_compute(&ob->model, calib, &req, &fc);
				double scale = ob->seas_n ? ob->seas_abs / ob->seas_n : 0.0;
				for (long h = 1; h <= H && t + h - 1 < n; h++) {
					double a = y[t + h - 1];
					double f[NMODELS];
					f[M_PRED] = fc.point[h - 1];
					f[M_SNAIVE] = y[t - m + (h - 1) % m];
					f[M_LAST] = y[t - 1];
					for (int md = 0; md < NMODELS; md++) {
						if (scale > 0.0) {
							ob->mase_sum[md][h - 1] +=
							    fabs(a - f[md]) / scale;
							ob->mase_n[md][h - 1]++;
						}
						smape_sum[md][h - 1] += smape(a, f[md]);
					}
					smape_n[h - 1]++;
					for (unsigned l = 0; l < req.nlevels; l++)
						cov_in[l] +=
						    a >= fc.lo[l][h - 1] && a <= fc.hi[l][h - 1];
					cov_n++;
				}
				if (t + W <= n) {
					bool truth = false;
					for (long j = t; j < t + W; j++)
						truth = truth || y[j] > ob->cap;
					float x[PRED_EXC_NF];
					double pd, pi;
					exceed_prob(&o, exc, paths, ob, &fc, W, x, &pd, &pi);
					ob->alarm[A_PRED][t] = pi >= o.threshold;
					ob->alarm[A_MODEL][t] = fc.p_exceed >= o.threshold;
					ob->prob[t] = (float)pi;
					ob->pmodel[t] = (float)fc.p_exceed;
					ob->truth[t] = truth;
					ob->alarm[A_TUNED][t] = pred_tuner_decide(tuner, pd, pi);
					double smax = 0.0;
					for (long j = 0; j < W; j++)
						smax = y[t - m + j % m] > smax ? y[t - m + j % m]
									       : smax;
					ob->alarm[A_SNAIVE][t] = smax > ob->cap;
					ob->alarm[A_REACTIVE][t] = y[t - 1] > ob->cap;
					double hi = y[t - 1];
					for (long h = 0; h < W && h < (long)fc.horizon; h++)
						hi = fmax(hi, fc.hi[1][h]); /* level 0.95 */
					ob->want[t] = (unsigned char)daemon_control_copies_for(
					    hi, ob->cap, (unsigned)(o.sim_replicas ? o.sim_replicas : 1));
					/* Outcome known W steps later; the tuner
					 * only learns it then (pending queue). */
					pred_tuner_record(tuner, (uint64_t)t, pd, pi, truth);
					if (!o.exceed_model && !o.exceed_joint)
						pred_exc_record(exc, (uint64_t)t, x, truth);
				}
			}
			pred_tuner_advance(tuner, (uint64_t)t);
			pred_exc_advance(exc, (uint64_t)t);
		} else if (t >= 2 * m + H && t + W <= train) {
			/* Training part: the tuner already learns from the
			 * decisions it would have made (past data only). */
			pred_calib_refresh(calib);
			req.bucket = (uint64_t)t;
			for (size_t i = 0; i < nobj; i++) {
				struct pred_forecast fc;
				req.capacity = objs[i].cap;
				pred_forecast_compute(&objs[i].model, calib, &req, &fc);
				bool truth = false;
				for (long j = t; j < t + W; j++)
					truth = truth || objs[i].y[j] > objs[i].cap;
				float x[PRED_EXC_NF];
				double pd, pi;
				exceed_prob(&o, exc, paths, &objs[i], &fc, W, x, &pd, &pi);
				pred_tuner_record(tuner, (uint64_t)t, pd, pi, truth);
				if (!o.exceed_model && !o.exceed_joint)
					pred_exc_record(exc, (uint64_t)t, x, truth);
			}
			pred_tuner_advance(tuner, (uint64_t)t);
			pred_exc_advance(exc, (uint64_t)t);
		}
		/* Absorb bucket t into every model. */
		double total = 0.0;
		for (size_t i = 0; i < nobj; i++) {
			struct obj *ob = &objs[i];
			float z[PRED_MAX_H];
			pred_model_update_resid(&ob->model, ob->y[t], z);
			pred_exc_file_update(&ob->exf, ob->y[t], ob->cap);
			int8_t path[PRED_MAX_H];
			if (pred_path_asm_add(&ob->pasm, (unsigned)W, (uint64_t)t, z, path)) {
				pred_paths_push(paths, path);
				if (ob->own)
					pred_paths_push(ob->own, path);
			}
			pred_calib_add(calib, z);
			total += ob->y[t];
			if (m > 0 && t >= m) {
				ob->seas_abs += fabs(ob->y[t] - ob->y[t - m]);
				ob->seas_n++;
			}
		}
		if (prof)
			pred_profile_add(prof, (uint64_t)t, total);
		/* Periodic re-selection of parameters on all data so far, as the
		 * daemon does from the series store; state rebuilt by replay. */
		if (o.refit > 0 && t >= train && (t + 1 - train) % o.refit == 0) {
			for (size_t i = 0; i < nobj; i++) {
				struct obj *ob = &objs[i];
				struct pred_model nm = ob->model;
				if (pred_model_fit(&nm, ob->y, (size_t)t + 1))
					continue;
				for (long j = 0; j <= t; j++)
					pred_model_update(&nm, ob->y[j]);
				ob->model = nm;
			}
		}
	}
	double t_end = now_s();
	if (o.verbose) {
		for (size_t i = 0; i < nobj; i++) {
			const struct obj *ob = &objs[i];
			const struct pred_params *pp = &ob->model.p;
			double s = 0, sn = 0;
			long c = 0;
			for (long h = 0; h < H; h++) {
				s += ob->mase_sum[M_PRED][h];
				sn += ob->mase_sum[M_SNAIVE][h];
				c += ob->mase_n[M_PRED][h];
			}
			char b1[48], b2[48];
			printf("key %-24s a=%.2f b=%.2f g=%.2f phi=%.2f w=%.2f "
			       "flags=%u cap=%.0f mase=%s snaive=%s\n",
			       tr.keys[ob->key], pp->alpha, pp->beta, pp->gamma, pp->phi, pp->w,
			       ob->model.flags, ob->cap, metric_text(c ? s / c : NAN, 3, b1, sizeof(b1)),
			       metric_text(c ? sn / c : NAN, 3, b2, sizeof(b2)));
		}
	}

	/* ---- report ---- */
	printf("trace %s: %zu rows, %zu keys, %zu steps of %lds%s%s; "
	       "evaluated %zu objects, %ld steps, train %ld, m %ld, H %ld, W %ld\n",
	       o.path, tr.rows, tr.nkeys, tr.nsteps, o.bucket,
	       tr.dropped_first ? ", partial first bucket dropped" : "",
	       tr.dropped_last ? ", partial last bucket dropped" : "", nobj, n, train, m, H, W);
	double mase_mean[NMODELS], mase_med[NMODELS];
	double *vals = calloc(nobj, sizeof(double));
	if (!vals)
		goto cleanup;
	printf("\n%-16s %9s %9s   MASE per horizon h=1..%ld\n", "model", "MASE mean", "median", H);
	size_t nscored = 0;
	for (int md = 0; md < NMODELS; md++) {
		size_t nv = 0;
		double hsum[PRED_MAX_H] = {0};
		long hn[PRED_MAX_H] = {0};
		for (size_t i = 0; i < nobj; i++) {
			double s = 0.0;
			long c = 0;
			for (long h = 0; h < H; h++) {
				s += objs[i].mase_sum[md][h];
				c += objs[i].mase_n[md][h];
				if (objs[i].mase_n[md][h]) {
					hsum[h] += objs[i].mase_sum[md][h] / objs[i].mase_n[md][h];
					hn[h]++;
				}
			}
			if (c)
				vals[nv++] = s / c;
		}
		double sum = 0.0;
		for (size_t i = 0; i < nv; i++)
			sum += vals[i];
		mase_mean[md] = nv ? sum / nv : NAN;
		mase_med[md] = median(vals, nv);
		nscored = nv;
		printf("%-16s", model_names[md]);
		print_metric(mase_mean[md], 3, 9);
		print_metric(mase_med[md], 3, 9);
		printf("  ");
		for (long h = 0; h < H; h++)
			print_metric(hn[h] ? hsum[h] / hn[h] : NAN, 3, 6);
		printf("\n");
	}
	printf("(MASE over %zu objects with a non-zero seasonal scale; %zu skipped: constant "
	       "in every origin's past, the scale 0)\n",
	       nscored, nobj - nscored);
	printf("\n%-16s %9s   sMAPE per horizon h=1..%ld\n", "model", "sMAPE", H);
	for (int md = 0; md < NMODELS; md++) {
		double all = 0.0;
		long alln = 0;
		printf("%-16s ", model_names[md]);
		for (long h = 0; h < H; h++) {
			all += smape_sum[md][h];
			alln += smape_n[h];
		}
		print_metric(alln ? all / alln : NAN, 1, 8);
		printf("  ");
		for (long h = 0; h < H; h++)
			print_metric(smape_n[h] ? smape_sum[md][h] / smape_n[h] : NAN, 1, 6);
		printf("\n");
	}
	double cover80 = cov_n ? (double)cov_in[0] / cov_n : NAN;
	double cover95 = cov_n ? (double)cov_in[1] / cov_n : NAN;
	char c80[48], c95[48];
	printf("\ninterval coverage (predictor): 80%% -> %s, 95%% -> %s "
	       "(%ld forecasts)\n",
	       metric_text(cover80, 3, c80, sizeof(c80)), metric_text(cover95, 3, c95, sizeof(c95)),
	       cov_n);

	struct hot hs[NALARMS];
	memset(hs, 0, sizeof(hs));
	for (int a = 0; a < NALARMS; a++)
		for (size_t i = 0; i < nobj; i++)
			score_hot(&objs[i], objs[i].alarm[a], train, n, W, &hs[a]);
	printf("\nhot-object task (C = p99 of training, W = %ld, threshold %.2f, "
	       "self-tuned threshold now %.3f)\n",
	       W, o.threshold, pred_tuner_threshold(tuner));
	printf("%-22s %9s %7s %8s %11s %6s %7s\n", "alarm", "precision", "recall", "onsets",
	       "anticipated", "lead", "alarms");
	for (int a = 0; a < NALARMS; a++) {
		struct hot *h = &hs[a];
		printf("%-22s %9.2f %7.2f %8ld %11.2f %6.2f %7ld\n", alarm_names[a],
		       h->alarms ? (double)h->tp / h->alarms : 0.0,
		       h->truths ? (double)h->tp / h->truths : 0.0, h->onsets,
		       h->onsets ? (double)h->anticipated / h->onsets : 0.0,
		       h->anticipated ? (double)h->lead_sum / h->anticipated : 0.0, h->alarms);
	}
	if (o.pr_table && pr_table(objs, nobj, train, n, W))
		goto cleanup;
	pred_tuner_report(tuner, stdout);
	/* Utility on the test part: fixed threshold, self-tuned, and the best
	 * fixed threshold in hindsight (same cost weights). */
	{
		double best_u = -INFINITY, best_th = 0.0, u_fixed = 0.0, u_tuned = 0.0;
		for (int b = 1; b <= 100; b++) {
			double th = b / 100.0, u = 0.0;
			for (size_t i = 0; i < nobj; i++)
				for (long t = train; t + W <= n; t++) {
					bool al = objs[i].prob[t] >= th;
					u -= (al && !objs[i].truth[t]) * tcfg.w_false +
					     (!al && objs[i].truth[t]) * tcfg.w_miss;
				}
			if (u > best_u) {
				best_u = u;
				best_th = th;
			}
		}
		for (size_t i = 0; i < nobj; i++)
			for (long t = train; t + W <= n; t++) {
				bool tr_ = objs[i].truth[t];
				bool af = objs[i].alarm[A_PRED][t];
				bool at = objs[i].alarm[A_TUNED][t];
				u_fixed -= (af && !tr_) * tcfg.w_false + (!af && tr_) * tcfg.w_miss;
				u_tuned -= (at && !tr_) * tcfg.w_false + (!at && tr_) * tcfg.w_miss;
			}
		printf("test-part utility: threshold %.2f -> %.0f, self-tuned -> "
		       "%.0f, best fixed in hindsight (%.2f) -> %.0f\n",
		       o.threshold, u_fixed, u_tuned, best_th, best_u);
	}
	if (o.simulate && simulate(&o, objs, nobj, train, n, W))
		goto cleanup;
	struct hot *hp = &hs[A_PRED];
	printf("\ntimings: fit %.3f s, evaluation %.3f s (wall); process CPU %.2f s\n",
	       t_fit - t_start, t_end - t_fit, (double)clock() / CLOCKS_PER_SEC);
	char m1[48], m2[48], m3[48];
	printf("eval: mase=%s mase_median=%s snaive_mase=%s cover80=%s "
	       "cover95=%s precision=%.2f recall=%.2f anticipated=%.2f "
	       "lead=%.2f seconds=%.2f\n",
	       metric_text(mase_mean[M_PRED], 3, m1, sizeof(m1)),
	       metric_text(mase_med[M_PRED], 3, m2, sizeof(m2)),
	       metric_text(mase_mean[M_SNAIVE], 3, m3, sizeof(m3)), c80, c95,
	       hp->alarms ? (double)hp->tp / hp->alarms : 0.0,
	       hp->truths ? (double)hp->tp / hp->truths : 0.0,
	       hp->onsets ? (double)hp->anticipated / hp->onsets : 0.0,
	       hp->anticipated ? (double)hp->lead_sum / hp->anticipated : 0.0, now_s() - t_start);
	free(vals);
	rc = 0;
cleanup:
	for (size_t i = 0; i < nobj; i++) {
		for (int a = 0; a < NALARMS; a++)
			free(objs[i].alarm[a]);
		free(objs[i].prob);
		free(objs[i].pmodel);
		free(objs[i].truth);
		free(objs[i].want);
		pred_paths_free(objs[i].own);
	}
	free(objs);
	pred_calib_free(calib);
	pred_profile_free(prof);
	pred_tuner_free(tuner);
	pred_exc_free(exc);
	pred_paths_free(paths);
	eval_trace_free(&tr);
	return rc;
}
