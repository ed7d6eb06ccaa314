/* Per-file online forecasting model of the predictor.
 *
 * Demand per bucket is a count. The model works on x = log1p(count), where
 * bursts of 1000x become additive jumps of ~7 and seasonality is
 * multiplicative. Two forecasters are combined with a per-file weight w:
 *
 *   ETS(A,Ad,A) on x: level l, damped trend b (phi), additive seasonal s[m]
 *     and an additive term per "day" week[7] (period 7m, smoothing delta),
 *     error-correction updates with smoothing alpha, beta, gamma, delta;
 *     with PRED_F_NOSEAS the seasonal and weekly terms are left out;
 *   seasonal naive on x: x[t+h-m] (the value one season ago), kept in a ring.
 *
 *   F_h = w * (l + (phi + .. + phi^h) b + s[(pos+h-1) mod m] + week[day])
 *       + (1 - w) * x[t+h-1-m]
 *
 * pred_model_fit() selects (alpha, beta, gamma, phi, seasonal or not, w) per
 * file on a history by grid search minimising the raw-scale mean absolute
 * 1..H-step error over its last two thirds (the quantity MASE measures);
 * pred_model_update() then costs O(H) per bucket.
 * Forecasts are capped at PRED_CAP_MULT times the largest value seen so that a
 * back-transformed log forecast never blows up.
 *
 * The model also keeps, per horizon h, the forecasts it made for the next H
 * buckets and a running mean absolute h-step residual sigma[h] on the log
 * scale: the scale of the predictive distribution (see distribution.h).
 *
 * Sparse files (fewer than 2 seasons seen, or season longer than
 * PRED_MAX_SEASON) use no seasonal state of their own; forecast.c adds the
 * mount-wide profile (global_profile.h) instead. Files with fewer than
 * PRED_FIT_MIN_EVENTS non-zero buckets keep default parameters.
 *
 * Memory: sizeof(struct pred_model) <= 1 KiB (checked by _Static_assert).
 * Not thread-safe: one owner per model (the control loop). */
#ifndef SHADOWFS_PREDICTOR_MODEL_H
#define SHADOWFS_PREDICTOR_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define PRED_MAX_SEASON 48     /* longest per-file season, in buckets */
#define PRED_MAX_H 8	       /* longest horizon, in buckets */
#define PRED_CAP_MULT 4.0      /* forecasts <= this x historical max */
#define PRED_MAX_COUNT 1e15    /* larger inputs are clamped to this */
#define PRED_FIT_MIN_EVENTS 16 /* fewer non-zero buckets: sparse file */

#define PRED_F_NOSEAS 0x1 /* ETS part without seasonal terms */

struct pred_params {
	float alpha;  /* level smoothing, (0, 1] */
	float beta;   /* trend smoothing, [0, 1] (times alpha) */
	float gamma;  /* seasonal smoothing, [0, 1] */
	float phi;    /* trend damping, [0, 1] */
	float w;      /* weight of ETS against seasonal naive, [0, 1] */
	float delta;  /* weekly (7 seasons) smoothing, [0, 1] */
	float lambda; /* residual-scale smoothing, (0, 1] */
};

struct pred_model {
	struct pred_params p;
	uint32_t n;	  /* observations absorbed */
	uint16_t season;  /* m, 0 = non-seasonal; <= PRED_MAX_SEASON */
	uint16_t horizon; /* H for residual tracking, <= PRED_MAX_H */
	uint16_t pos;	  /* seasonal index of the next bucket */
	uint16_t flags;	  /* PRED_F_* */
	float level, trend;
	float xmax;			    /* largest log1p(count) seen */
	float sigma[PRED_MAX_H];	    /* mean |h-step residual|, log scale */
	float seas[PRED_MAX_SEASON];	    /* additive seasonal terms */
	float week[7];			    /* additive day-of-cycle terms */
	float hist[PRED_MAX_SEASON];	    /* last m values of x, ring by pos */
	float pend[PRED_MAX_H][PRED_MAX_H]; /* [target mod H][h-1] forecasts */
};

_Static_assert(sizeof(struct pred_model) <= 1024, "model must fit in 1 KiB");

/* Defaults: alpha .2, beta .02, gamma .1, phi .95, w .5, lambda .03. */
void pred_params_default(struct pred_params *p);
/* 0 or -EINVAL when a field is out of range or not finite. */
int pred_params_check(const struct pred_params *p);

/* season 0..PRED_MAX_SEASON, horizon 1..PRED_MAX_H. 0 or -EINVAL. */
int pred_model_init(struct pred_model *m, const struct pred_params *p, unsigned season,
		    unsigned horizon);

/* Chooses parameters on y[0..n-1] (grid search) and resets the state with
 * them; the caller then replays y through pred_model_update_resid(). Needs
 * n >= 2 * season + 1 + horizon to search; with less it keeps the given
 * parameters. 0 or -EINVAL (bad arguments, NaN or negative values). */
int pred_model_fit(struct pred_model *m, const double *y, size_t n);

/* Absorbs one bucket. NaN, infinite or negative counts are rejected with
 * -EINVAL and leave the state unchanged; counts above PRED_MAX_COUNT are
 * clamped. O(H). */
int pred_model_update(struct pred_model *m, double count);
/* Same, and returns in ret_z[h-1] the standardised h-step residual
 * (log-scale residual / sigma[h-1] before this update) of the forecast made h
 * buckets ago, NaN where there was none. For the global calibration. */
int pred_model_update_resid(struct pred_model *m, double count, float ret_z[PRED_MAX_H]);

/* Point forecast on the log1p scale for the bucket h (1-based) ahead, capped.
 * h in 1..PRED_MAX_H. */
double pred_model_point_log(const struct pred_model *m, unsigned h);

/* Seasonal index of the bucket h ahead (for the global profile). */
unsigned pred_model_slot(const struct pred_model *m, unsigned h);

#endif
