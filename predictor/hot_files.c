/* The predictor's list of files to shadow now (see hot_files.h). */
#include "predictor/hot_files.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/distribution.h"
#include "predictor/forecast.h"
#include "predictor/history.h"
#include "predictor/model.h"

int pred_hot_pick_tier(const struct pred_store_tiers *t, int64_t bucket_s, int64_t history_s)
{
	int best = -1;
	for (unsigned k = 0; k < t->n; k++) {
		if (bucket_s % t->width_s[k])
			continue;
		if (t->keep_s[k] >= history_s)
			return (int)k;
		best = (int)k;
	}
	return best;
}

int64_t pred_hot_record_end(struct pred_store *st, int tier, int64_t now)
{
	int64_t end = 0;
	/* Host buckets that start in the future (recorded while the clock was
	 * ahead) are not the record's end: a stopped mount's history ran to
	 * now, the time without a mount read as time without demand. */
	if (pred_store_record_end(st, tier, now + 1, &end) || end <= 0 || end > now)
		return now;
	return end;
}

double pred_demand_of(enum pred_top_order by, const struct pred_file_counters *c)
{
	switch (by) {
	case PRED_TOP_READS: return (double)c->reads;
	case PRED_TOP_READ_BYTES: return (double)c->read_bytes;
	case PRED_TOP_OPENS: return (double)c->opens;
	case PRED_TOP_EVENTS: break;
	}
	return (double)(c->opens + c->reads + c->writes + c->meta_ops);
}

int pred_hot_series(struct pred_store *st, const uint8_t id[PRED_ID_LEN], int tier, int64_t from,
		    int64_t end_idx, int64_t bucket_s, enum pred_top_order by, double **ret,
		    size_t *ret_n, int64_t *ret_first)
{
	struct pred_file_bucket *b = NULL;
	size_t n = 0;
	*ret = NULL;
	*ret_n = 0;
	*ret_first = end_idx;
	/* No tier keeps more than its retention before the record's end: an
	 * older row is one edited in (or a store's that expiry never saw),
	 * and one at 1970 made `shadowctl forecast --history 60y --bucket 1s`
	 * allocate a series from 1970 on (14 GB, minutes). */
	const struct pred_store_tiers *t = pred_store_get_tiers(st);
	if (tier >= 0 && (unsigned)tier < t->n) {
		int64_t oldest = end_idx * bucket_s - (int64_t)t->keep_s[tier] - t->width_s[tier];
		if (from < oldest)
			from = oldest;
	}
	int rc = pred_store_file_series(st, id, tier, from, end_idx * bucket_s, &b, &n);
	if (rc || n == 0) {
		pred_file_buckets_free(b, n);
		return rc;
	}
	int64_t first = b[0].start / bucket_s;
	size_t len = end_idx > first ? (size_t)(end_idx - first) : 0;
	double *y = len ? calloc(len, sizeof(*y)) : NULL;
	if (len && !y)
		rc = -ENOMEM;
	for (size_t i = 0; y && i < n; i++) {
		int64_t k = b[i].start / bucket_s - first;
		if (k >= 0 && (size_t)k < len)
			y[k] += pred_demand_of(by, &b[i].c);
	}
	pred_file_buckets_free(b, n);
	*ret = y;
	*ret_n = y ? len : 0;
	*ret_first = first;
	return rc;
}

/* Appends r->extra's files that are not among the top ones and have a
 * record (their last path); 0 or -ENOMEM. */
static int add_extra(struct pred_store *st, const struct pred_hot_req *r,
		     struct pred_top_entry **top, size_t *ntop)
{
	size_t n = r->nextra < PRED_HOT_MAX_EXTRA ? r->nextra : PRED_HOT_MAX_EXTRA;
	if (!n)
		return 0;
	struct pred_top_entry *t = realloc(*top, (*ntop + n) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	*top = t;
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < *ntop && !known; k++)
			known = !memcmp(t[k].id, r->extra[i], PRED_ID_LEN);
		char *path = NULL;
		if (known)
			continue;
		int rc = pred_store_file_path(st, r->extra[i], &path);
		if (rc == -ENOMEM)
			return rc;
		if (rc < 0)
			continue; /* no record */
		t[*ntop] = (struct pred_top_entry){.path = path};
		memcpy(t[*ntop].id, r->extra[i], PRED_ID_LEN);
		(*ntop)++;
	}
	return 0;
}

int pred_hot_files(struct pred_store *st, const struct pred_hot_req *r, struct pred_hot_file **ret,
		   size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	if (r->bucket_s <= 0 || r->horizon < 1 || r->horizon > PRED_MAX_H || r->window < 1 ||
	    r->window > r->horizon || r->season > PRED_MAX_SEASON)
		return -EINVAL;
	int tier = pred_hot_pick_tier(pred_store_get_tiers(st), r->bucket_s, r->history_s);
	if (tier < 0)
		return -EINVAL;
	int64_t from = r->now - r->history_s;
	int64_t end_idx = pred_hot_record_end(st, tier, r->now) / r->bucket_s;
	struct pred_top_entry *top = NULL;
	size_t ntop = 0;
	/* Ranked over the span the models see: buckets recorded in the future
	 * (a clock put back) would take slots of files with no series. */
	if (pred_store_top(st, tier, from, end_idx * r->bucket_s, r->top_n, PRED_TOP_READS, &top,
			   &ntop))
		return -EIO;
	if (add_extra(st, r, &top, &ntop) < 0) {
		pred_top_entries_free(top, ntop);
		return -ENOMEM;
	}
	struct pred_calib *calib = pred_calib_new(PRED_CALIB_DECAY);
	struct pred_model *models = calloc(ntop ? ntop : 1, sizeof(*models));
	struct pred_hot_tuning *tune = calloc(ntop ? ntop : 1, sizeof(*tune));
	bool *ok = calloc(ntop ? ntop : 1, sizeof(*ok));
	double *last = calloc(ntop ? ntop : 1, sizeof(*last));
	struct pred_hot_file *out = calloc(ntop ? ntop : 1, sizeof(*out));
	size_t nout = 0;
	unsigned horizon = r->horizon;
	int rc = calib && models && tune && ok && last && out ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < ntop; i++) {
		tune[i] = (struct pred_hot_tuning){
		    .capacity = r->capacity, .threshold = r->threshold, .window = r->window};
		if (r->tune && top[i].path)
			r->tune(r->tune_arg, top[i].id, top[i].path, &tune[i]);
		if (tune[i].window < 1 || tune[i].window > PRED_MAX_H)
			tune[i].window = r->window;
		horizon = tune[i].window > horizon ? tune[i].window : horizon;
	}
	for (size_t i = 0; rc == 0 && i < ntop; i++) {
		double *y;
		size_t n;
		int64_t first;
		rc = pred_hot_series(st, top[i].id, tier, from, end_idx, r->bucket_s, PRED_TOP_READS,
				     &y, &n, &first);
		if (rc == 0 && n >= 2 && top[i].path &&
		    pred_model_from_history(&models[i], r->season, horizon, y, n, calib) == 0) {
			if (tune[i].capacity < 0)
				tune[i].capacity = fmax(1.0, pred_history_quantile(y, n, 0.99));
			last[i] = isfinite(y[n - 1]) && y[n - 1] > 0 ? y[n - 1] : 0.0;
			ok[i] = true;
		}
		free(y);
	}
	if (rc == 0)
		pred_calib_refresh(calib);
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.horizon = horizon;
	req.bucket = (uint64_t)end_idx;
	for (size_t i = 0; rc == 0 && i < ntop; i++) {
		struct pred_hot_file *o = &out[nout];
		if (!ok[i])
			continue;
		req.capacity = tune[i].capacity;
		req.window = tune[i].window;
		if (pred_forecast_compute(&models[i], calib, &req, &o->fc) != 0)
			continue;
		bool fired = o->fc.p_exceed >= tune[i].threshold;
		bool over = r->react && last[i] > tune[i].capacity;
		o->hot = (fired || over) && !tune[i].never;
		if (!o->hot && !r->all)
			continue;
		o->reactive = over && !fired;
		o->last_demand = last[i];
		o->demand_hi = 0;
		for (unsigned h = 0; h < tune[i].window && h < o->fc.horizon; h++)
			o->demand_hi = fmax(o->demand_hi, o->fc.hi[1][h]); /* level 0.95 */
		o->path = top[i].path;
		top[i].path = NULL; /* moved */
		memcpy(o->id, top[i].id, PRED_ID_LEN);
		o->p_exceed = o->fc.p_exceed;
		o->capacity = tune[i].capacity;
		o->threshold = tune[i].threshold;
		o->window = tune[i].window;
		o->max_copies = tune[i].copies;
		o->start = end_idx * r->bucket_s;
		nout++;
	}
	pred_top_entries_free(top, ntop);
	pred_calib_free(calib);
	free(models);
	free(tune);
	free(ok);
	free(last);
	if (rc < 0) {
		pred_hot_files_free(out, nout);
		return rc;
	}
	*ret = out;
	*ret_n = nout;
	return 0;
}

void pred_hot_files_free(struct pred_hot_file *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++)
		free(f[i].path);
	free(f);
}
