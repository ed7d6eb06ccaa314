/* Predictive distribution of demand: calibrated, log-scale, per horizon.
 *
 * A forecast for bucket t+h is the distribution of
 *     y = expm1(F_h + sigma_h * Z_h),  clamped at 0,
 * where F_h is the model's log1p point forecast, sigma_h its running mean
 * absolute h-step residual (model.h), and Z_h a standardised residual whose
 * distribution is *not assumed*: it is the empirical distribution of all
 * standardised residuals observed so far across files (a histogram per
 * horizon, mount-wide). This is split-conformal calibration: quantiles of Z_h
 * are the observed ones, so the central 80% / 95% intervals cover about that
 * share of outcomes, whatever the tails of the counts look like. Before any
 * residual is known, Z_h is Laplace(0, 1), the law for which the mean
 * absolute deviation is the scale.
 *
 * Counts are integers: quantiles are rounded outwards (floor of the lower,
 * ceil of the upper bound), which is what "inside the interval" means for
 * integer outcomes.
 *
 * Not thread-safe: one owner (the control loop). pred_calib_add() marks the
 * tables dirty; pred_calib_refresh() (O(bins)) rebuilds the cumulative table
 * used by pred_calib_quantile()/pred_calib_cdf() (O(log bins)). */
#ifndef SHADOWFS_PREDICTOR_DISTRIBUTION_H
#define SHADOWFS_PREDICTOR_DISTRIBUTION_H

#include <stdbool.h>

#include "predictor/model.h"

#define PRED_CALIB_BINS 480
#define PRED_CALIB_ZMAX 12.0
/* Default decay: the histogram remembers ~1/decay residuals per horizon. */
#define PRED_CALIB_DECAY 0.002

struct pred_calib {
	double decay;		  /* each add multiplies old mass by (1 - decay); 0 = none */
	double mass[PRED_MAX_H];  /* total weight per horizon */
	double inc[PRED_MAX_H];	  /* weight of the next residual (decay) */
	double count[PRED_MAX_H]; /* residuals added */
	double bins[PRED_MAX_H][PRED_CALIB_BINS];
	double cum[PRED_MAX_H][PRED_CALIB_BINS + 1]; /* valid when !dirty */
	bool dirty;
};

/* decay in [0, 1). Returns NULL on bad arguments or no memory. */
struct pred_calib *pred_calib_new(double decay);
void pred_calib_free(struct pred_calib *c);

/* Adds standardised residuals z[0..H-1] (NaN entries skipped; values are
 * clamped to +-PRED_CALIB_ZMAX). */
void pred_calib_add(struct pred_calib *c, const float z[PRED_MAX_H]);
void pred_calib_refresh(struct pred_calib *c);

/* Quantile q in (0,1) of Z_h (h 1-based); needs a refreshed table. */
double pred_calib_quantile(const struct pred_calib *c, unsigned h, double q);
/* P(Z_h <= z). */
double pred_calib_cdf(const struct pred_calib *c, unsigned h, double z);

/* Laplace(0,1) quantile: the prior before residuals exist. */
double pred_laplace_quantile(double q);

/* Quantile q of y for log forecast f and scale sigma (sigma floored at
 * PRED_SIGMA_MIN), rounded outwards for integer counts when q<.5 / q>.5.
 * Capped at cap_log on the log scale. */
#define PRED_SIGMA_MIN 0.05
double pred_count_quantile(const struct pred_calib *c, unsigned h, double f, double sigma, double q,
			   double cap_log);
/* P(y > capacity) for the same distribution. */
double pred_count_exceed(const struct pred_calib *c, unsigned h, double f, double sigma,
			 double capacity);

#endif
