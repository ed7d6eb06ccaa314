/* Which files does the predictor want shadowed now: the busiest files of a
 * series store's recent history, each modelled from its history
 * (pred_model_from_history, one calibration shared by all), forecast over
 * the window, and kept when P(demand > capacity within the window) >=
 * threshold. What the mount's control loop asks every bucket; `shadowctl
 * forecast` shows the same figures (and shares the tier choice and the end
 * of the record from here).
 *
 * Reactive trigger (req.react): a file whose last recorded bucket was
 * already above its capacity is hot too, whatever the forecast says (the
 * simulator's finding, docs/PREDICTOR.md: the forecast calls onsets, the
 * reaction the rest of an episode the forecast at P >= 0.8 does not).
 *
 * Demand is reads per forecast bucket (what a copy can take over).
 * Capacity < 0: each file's own 99th percentile (the evaluation protocol's
 * rule, floored at 1). */
#ifndef SHADOWFS_PREDICTOR_HOT_FILES_H
#define SHADOWFS_PREDICTOR_HOT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "predictor/forecast.h"
#include "predictor/series_store.h"

/* One file's settings (fs/shadow_tuning.c fills them from the
 * user.shadow.* attributes). */
struct pred_hot_tuning {
	double capacity;  /* reads per bucket; < 0: the file's p99 */
	double threshold; /* P(exceed) at or above: hot */
	unsigned window;  /* 1..PRED_MAX_H steps */
	bool never;	  /* forecast, but never hot */
	unsigned copies;  /* the caller's replica cap, passed through (0: none set) */
};

struct pred_hot_req {
	int64_t bucket_s;  /* forecast bucket, a multiple of a tier's width */
	int64_t history_s; /* how far back to look */
	unsigned season;   /* buckets per season, 0: none */
	unsigned horizon;  /* 1..PRED_MAX_H */
	unsigned window;   /* 1..horizon */
	size_t top_n;	   /* the busiest files considered */
	double capacity;   /* reads per bucket; < 0: per-file p99 */
	double threshold;  /* P(exceed) at or above: hot */
	int64_t now;	   /* seconds since the epoch */
	/* Per-file settings, or NULL (the request's for every file): called
	 * once per file considered, with its store id and last recorded path,
	 * t preset from the request (capacity, threshold, window). A window
	 * longer than horizon lengthens the models' horizon. */
	void (*tune)(void *arg, const uint8_t id[PRED_ID_LEN], const char *path,
		     struct pred_hot_tuning *t);
	void *tune_arg;
	bool all; /* return every file forecast, hot or not (else only hot ones) */
	bool react; /* last bucket above capacity is hot too */
	/* Files considered besides the top_n busiest (files with settings of
	 * their own), by store id; those without a record are skipped. At most
	 * PRED_HOT_MAX_EXTRA are used. */
	const uint8_t (*extra)[PRED_ID_LEN];
	size_t nextra;
};

#define PRED_HOT_MAX_EXTRA 256

struct pred_hot_file {
	char *path; /* relative to BACKING; owned by the array */
	uint8_t id[PRED_ID_LEN];
	double p_exceed;
	double capacity;
	double threshold;
	unsigned window;
	unsigned max_copies;   /* the tuning's copies (0: the caller's default) */
	bool hot;	       /* (p_exceed >= threshold or reactive) and not never */
	bool reactive;	       /* hot by the reaction alone: P below threshold */
	double last_demand;    /* reads in the last recorded bucket */
	double demand_hi;      /* the 95% interval's upper bound, highest step of the window */
	int64_t start;	       /* start of the forecast's first bucket (s) */
	struct pred_forecast fc; /* levels 0.8 and 0.95 */
};

/* The finest tier whose buckets divide bucket_s and whose retention covers
 * history_s (else the coarsest that divides it); -1 when none divides. */
int pred_hot_pick_tier(const struct pred_store_tiers *t, int64_t bucket_s, int64_t history_s);
/* End of the store's record in a tier (pred_store_record_end of the host
 * buckets that start by now), at most now; now when there is none. */
int64_t pred_hot_record_end(struct pred_store *st, int tier, int64_t now);

/* One kind of demand in a bucket's counters (PRED_TOP_EVENTS: opens +
 * reads + writes + metadata operations). */
double pred_demand_of(enum pred_top_order by, const struct pred_file_counters *c);

/* One file's demand per forecast bucket of bucket_s seconds, from its first
 * bucket recorded since `from` (at the earliest the tier's retention
 * before end_idx) up to end_idx (exclusive, a forecast-bucket index): *ret malloc'ed (NULL, *ret_n 0 when nothing is recorded),
 * *ret_first the forecast-bucket index of (*ret)[0]. 0 or -errno. */
int pred_hot_series(struct pred_store *st, const uint8_t id[PRED_ID_LEN], int tier, int64_t from,
		    int64_t end_idx, int64_t bucket_s, enum pred_top_order by, double **ret,
		    size_t *ret_n, int64_t *ret_first);

/* The hot files (p_exceed >= threshold; every file forecast with r->all), *ret malloc'ed (free with
 * pred_hot_files_free). 0 or -errno (-EINVAL: bad request). */
int pred_hot_files(struct pred_store *st, const struct pred_hot_req *r, struct pred_hot_file **ret,
		   size_t *ret_n);
void pred_hot_files_free(struct pred_hot_file *f, size_t n);

#endif
