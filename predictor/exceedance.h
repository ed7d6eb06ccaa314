/* P(demand > capacity at some step of the next W buckets) as an online,
 * calibrated classifier over features of the recent past.
 *
 * The model's window probability (forecast.h) comes from a distribution of
 * log-scale errors; onsets of overload in real traces are better announced by
 * other signals too: the same window one season ago (what seasonal naive
 * uses), how often this phase of the season exceeded capacity lately, how
 * close the last values are to capacity, whether the file is already
 * overloaded, how long ago it last was. This component combines them:
 *
 *     p = sigmoid(w . x(file, origin))
 *
 * with global (mount-wide) weights w learned online by logistic regression
 * (AdaGrad steps on the log loss) from resolved outcomes only: the features
 * of the decision at origin t wait in a pending queue and are learned when
 * the window [t, t+W-1] has been observed (pred_exc_advance(now >= t+W)).
 * Nothing at origin t uses y[t] or later: features read the per-file state
 * (pred_exc_file, updated with y[..t-1]), the model (same) and the model's
 * forecast made at t.
 *
 * Before it has learned anything, the weights give p = the model's
 * independent window probability (the prior), so the classifier starts from
 * the forecaster and moves away from it only on evidence.
 *
 * Costs: per file per bucket O(1) (pred_exc_file_update) and O(W + NF) per
 * forecast; per file 8 + 4 W + season bytes of state (<= 100 B, sizeof
 * checked); the learner is one per mount: O(NF) per resolved outcome, memory
 * O(pending decisions * NF). One owner, not thread-safe. */
#ifndef SHADOWFS_PREDICTOR_EXCEEDANCE_H
#define SHADOWFS_PREDICTOR_EXCEEDANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "predictor/forecast.h"
#include "predictor/model.h"

/* Features, in order (margins are log1p-scale differences to log1p(C),
 * clamped to [-4, 4]):
 *   0 bias                      1 logit(p_indep) / 4    2 logit(p_dep) / 4
 *   3 seasonal-naive margin     4 seasonal-naive > C    5 last-value margin
 *   6 recent-max margin (W)     7 last value > C        8 phase exceedance rate
 *   9 recently over C (decays)  10 EWMA margin          11 short trend
 *   12 max point-forecast margin */
#define PRED_EXC_NF 13

/* Per-file state, owned with the file's model. */
struct pred_exc_file {
	float recent[PRED_MAX_H];	/* last values of log1p(y), ring */
	float ewma;			/* EW mean of log1p(y), alpha 0.1 */
	uint32_t since;			/* buckets since y > C (capped) */
	uint32_t n;			/* buckets absorbed */
	uint16_t season;		/* m, 0 = none */
	uint8_t phase[PRED_MAX_SEASON]; /* EW rate of y > C per slot, x255 */
};

_Static_assert(sizeof(struct pred_exc_file) <= 100, "exceedance state per file");

/* season 0..PRED_MAX_SEASON. 0 or -EINVAL. */
int pred_exc_file_init(struct pred_exc_file *f, unsigned season);
/* Absorbs one bucket (after the forecast made for it). NaN, infinite or
 * negative counts -> -EINVAL, state unchanged. capacity < 0: none. O(1). */
int pred_exc_file_update(struct pred_exc_file *f, double count, double capacity);

/* Features of the decision at the next origin from the file state, its
 * model (both having absorbed the same buckets) and the model's forecast
 * for that origin. 0 or -EINVAL. */
int pred_exc_features(const struct pred_exc_file *f, const struct pred_model *m,
		      const struct pred_forecast *fc, double capacity, unsigned window,
		      float ret_x[PRED_EXC_NF]);

struct pred_exc_config {
	unsigned window; /* W: outcome known W buckets after the origin */
	double lr;	 /* AdaGrad step, default 0.1 */
	double l2;	 /* ridge on the non-bias weights, default 1e-4 */
};

struct pred_exc;

void pred_exc_config_default(struct pred_exc_config *c);
/* NULL on bad configuration or no memory. */
struct pred_exc *pred_exc_new(const struct pred_exc_config *c);
void pred_exc_free(struct pred_exc *e);

/* P(max over window > C) for these features, in [0, 1]. */
double pred_exc_prob(const struct pred_exc *e, const float x[PRED_EXC_NF]);

/* Logs the features of the decision at `origin` with its outcome, learned
 * only once pred_exc_advance(now) has now >= origin + window.
 * 0, -EINVAL (non-finite feature) or -ENOMEM. */
int pred_exc_record(struct pred_exc *e, uint64_t origin, const float x[PRED_EXC_NF], bool overload);
/* Learns one resolved decision directly (live: when its window closes). */
void pred_exc_learn(struct pred_exc *e, const float x[PRED_EXC_NF], bool overload);
/* Learns every pending decision whose window ended before bucket `now`. */
void pred_exc_advance(struct pred_exc *e, uint64_t now);

/* Weights (for reports); outcomes learned so far. */
void pred_exc_weights(const struct pred_exc *e, double ret_w[PRED_EXC_NF]);
uint64_t pred_exc_learned(const struct pred_exc *e);

#endif
