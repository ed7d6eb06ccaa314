/* Forecast of one file: per horizon step the point forecast (median of the
 * predictive distribution), interval bounds at configurable levels, and
 * P(demand > capacity at some step of the window).
 *
 * Per-step exceedance probabilities p_h come from the calibrated distribution
 * (distribution.h). Errors of a model at neighbouring steps are positively
 * correlated, so the window probability lies between max_h p_h (fully
 * dependent) and 1 - prod_h (1 - p_h) (independent); `dependence` in [0,1]
 * interpolates (1 = max). self_tuning.h adjusts it from outcomes.
 *
 * Cost: O(H * levels * log bins), no allocation. */
#ifndef SHADOWFS_PREDICTOR_FORECAST_H
#define SHADOWFS_PREDICTOR_FORECAST_H

#include <stdint.h>

#include "predictor/distribution.h"
#include "predictor/global_profile.h"
#include "predictor/model.h"

#define PRED_MAX_LEVELS 4

struct pred_forecast_req {
	unsigned horizon;		    /* 1..PRED_MAX_H */
	unsigned window;		    /* 1..horizon: steps for the exceedance */
	double capacity;		    /* demand per bucket that overloads; < 0: none */
	unsigned nlevels;		    /* 0..PRED_MAX_LEVELS */
	double levels[PRED_MAX_LEVELS];	    /* central interval levels, (0,1) */
	double dependence;		    /* [0,1], see above */
	uint64_t bucket;		    /* absolute index of the next bucket (profile) */
	const struct pred_profile *profile; /* NULL: none */
};

struct pred_forecast {
	unsigned horizon;
	double point[PRED_MAX_H];		/* median, counts */
	double lo[PRED_MAX_LEVELS][PRED_MAX_H]; /* lower bound per level */
	double hi[PRED_MAX_LEVELS][PRED_MAX_H];
	double p_step[PRED_MAX_H]; /* P(y_{t+h} > capacity) */
	double p_exceed;	   /* P(max over window > cap) */
	double p_dep, p_indep;	   /* max_h p_h, and 1 - prod_h (1 - p_h) */
	double loc[PRED_MAX_H];	   /* F_h: log1p location of the distribution */
	double scale[PRED_MAX_H];  /* sigma_h: its scale (before the floor) */
};

/* Default request: H 6, W 6, levels 0.8 and 0.95, dependence 0 (independent steps; the
 * tuner may raise it), no
 * capacity. */
void pred_forecast_req_default(struct pred_forecast_req *r);

/* 0, or -EINVAL on bad request. calib may be NULL (Laplace prior). */
int pred_forecast_compute(const struct pred_model *m, const struct pred_calib *calib,
			  const struct pred_forecast_req *req, struct pred_forecast *ret);

#endif
