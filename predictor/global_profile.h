/* Mount-wide seasonal profile, borrowed by sparse files.
 *
 * A file with few observations cannot learn a daily shape of its own, but the
 * mount as a whole usually has one (office hours, nightly jobs). The profile
 * keeps, per seasonal slot, an exponentially weighted mean of log1p(total
 * demand of all files in the bucket) and exposes the deviation of a slot from
 * the mean over slots; forecast.c adds that deviation to the log forecast of
 * files whose model has no seasonal state (see pred_forecast_compute()).
 *
 * One per mount, one owner (the control loop); not thread-safe. */
#ifndef SHADOWFS_PREDICTOR_GLOBAL_PROFILE_H
#define SHADOWFS_PREDICTOR_GLOBAL_PROFILE_H

#include <stdint.h>

#define PRED_PROFILE_MAX_SEASON 10080 /* a week of minutes */

struct pred_profile;

/* season 2..PRED_PROFILE_MAX_SEASON buckets, rate in (0,1]. NULL if bad. */
struct pred_profile *pred_profile_new(unsigned season, double rate);
void pred_profile_free(struct pred_profile *p);

/* Adds the total demand of the mount in bucket index `bucket` (absolute;
 * slot = bucket mod season). -EINVAL for NaN/negative totals. */
int pred_profile_add(struct pred_profile *p, uint64_t bucket, double total);

/* Log-scale deviation of the slot of `bucket` from the profile's mean; 0
 * until every slot has been seen at least once. */
double pred_profile_shape(const struct pred_profile *p, uint64_t bucket);

#endif
