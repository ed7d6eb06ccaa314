/* A file's model built from its recorded history: what the control loop does
 * at start-up for every active file, and what `shadowctl forecast` does on a
 * stopped or running mount's series store.
 *
 * Parameters are chosen on the history (pred_model_fit: grid search), then
 * the whole history is replayed through pred_model_update_resid() so that the
 * level, trend, seasonal terms and residual scales are those of its last
 * bucket; the standardised residuals of the replay go to the mount-wide
 * calibration, which the caller shares between files. */
#ifndef SHADOWFS_PREDICTOR_HISTORY_H
#define SHADOWFS_PREDICTOR_HISTORY_H

#include <stddef.h>

#include "predictor/distribution.h"
#include "predictor/model.h"

/* y[0..n-1]: demand per bucket, oldest first, zeros where nothing was
 * recorded. season 0..PRED_MAX_SEASON (0: none of its own), horizon
 * 1..PRED_MAX_H. calib may be NULL. 0, or -EINVAL (bad arguments, a NaN,
 * infinite or negative value in y: *m is then unusable). */
int pred_model_from_history(struct pred_model *m, unsigned season, unsigned horizon,
			    const double *y, size_t n, struct pred_calib *calib);

/* The q-quantile (linear interpolation, q in [0,1]) of y[0..n-1]; 0 when
 * n == 0. The evaluation protocol's default capacity is the 0.99 quantile of
 * a file's own history (numpy.percentile's default). Sorts a copy; NaN
 * when out of memory. */
double pred_history_quantile(const double *y, size_t n, double q);

#endif
