/* Self-tuning of the trigger from the record of decisions and outcomes.
 *
 * Every forecast of P(overload within the window) is a decision: trigger if
 * p >= threshold, not otherwise. The window probability p is a mix of two
 * combinations of the per-step probabilities (forecast.h): p = d * p_dep +
 * (1 - d) * p_indep, d the "dependence". pred_tuner_record() logs (origin,
 * p_dep, p_indep, decision); the outcome (did demand exceed capacity within
 * the window?) is only known W buckets later, so entries wait in a pending
 * queue and are resolved by pred_tuner_advance() (or fed directly with
 * pred_tuner_resolve()).
 *
 * Resolved outcomes go into exponentially forgetting histograms of p (100
 * bins), one per candidate dependence d in {0, .25, .5, .75, 1}. The tuner
 * minimises the cost of the record
 *
 *     cost(d, theta) = w_miss  * #(p_d <  theta and overload)
 *                    + w_false * #(p_d >= theta and no overload)
 *
 * missed overloads costing w_miss, unneeded shadows w_false (configuration;
 * default 4 : 1):
 *   - threshold: moves at most `step` per outcome toward the cost-optimal
 *     threshold for the current d; among thresholds within 0.5% of the
 *     minimum cost the nearest to the current one is taken, so that the
 *     tuner settles instead of hopping across a flat cost curve;
 *   - dependence (a parameter of the model's probability, if tune_dependence):
 *     once 10 x min_record outcomes are known, it switches to another d only
 *     when that d's best cost is 5% lower than the
 *     current d's; the threshold then jumps to that d's optimum.
 * The threshold is clamped to [min, max].
 *
 * The record also counts TP/FP/FN/TN and the utility -(w_miss FN + w_false
 * FP) of the decisions actually taken, and keeps the threshold trajectory so
 * that convergence can be shown (pred_tuner_report()).
 *
 * One owner, not thread-safe. Memory: O(bins * 5 + pending + trajectory). */
#ifndef SHADOWFS_PREDICTOR_SELF_TUNING_H
#define SHADOWFS_PREDICTOR_SELF_TUNING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct pred_tuner_config {
	double threshold;     /* initial, default 0.8 */
	double min, max;      /* clamp, default 0.05 .. 0.99 */
	double w_miss;	      /* cost of a missed overload, default 4 */
	double w_false;	      /* cost of an unneeded shadow, default 1 */
	double decay;	      /* per resolved decision, default 5e-5 */
	double step;	      /* max threshold move per resolution, default .002 */
	unsigned window;      /* W: outcome known W buckets after origin */
	double dependence;    /* initial d, one of 0 .25 .5 .75 1; default 0 */
	bool tune_dependence; /* default true */
	unsigned min_record;  /* decisions before tuning starts, default 200 */
};

struct pred_tuner;

void pred_tuner_config_default(struct pred_tuner_config *c);
/* NULL on bad configuration or no memory. */
struct pred_tuner *pred_tuner_new(const struct pred_tuner_config *c);
void pred_tuner_free(struct pred_tuner *t);

/* Current threshold and dependence; the probability and decision they give
 * for a forecast's (p_dep, p_indep). */
double pred_tuner_threshold(const struct pred_tuner *t);
double pred_tuner_dependence(const struct pred_tuner *t);
double pred_tuner_prob(const struct pred_tuner *t, double p_dep, double p_indep);
bool pred_tuner_decide(const struct pred_tuner *t, double p_dep, double p_indep);

/* Logs the decision made at bucket `origin`; `overload` is the outcome,
 * learned only at pred_tuner_advance(now > origin + window - 1).
 * 0 or -EINVAL (probabilities outside [0,1]) / -ENOMEM. */
int pred_tuner_record(struct pred_tuner *t, uint64_t origin, double p_dep, double p_indep,
		      bool overload);
/* Feeds one resolved decision directly (live: when the window closes). */
void pred_tuner_resolve(struct pred_tuner *t, double p_dep, double p_indep, bool overload);
/* Resolves pending decisions whose window ended before bucket `now`. */
void pred_tuner_advance(struct pred_tuner *t, uint64_t now);

struct pred_tuner_stats {
	uint64_t tp, fp, fn, tn; /* at the threshold in force at decision */
	double utility;		 /* -(w_miss * fn + w_false * fp) */
	uint64_t resolved;
	unsigned dependence_switches;
};
void pred_tuner_stats(const struct pred_tuner *t, struct pred_tuner_stats *ret);

/* Prints the record's counts and the threshold trajectory. */
void pred_tuner_report(const struct pred_tuner *t, FILE *out);

#endif
