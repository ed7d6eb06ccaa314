/* Self-tuning of the trigger threshold from the record of decisions.
 *
 * Every forecast of P(overload within the window) is a decision: trigger if
 * p >= threshold, not otherwise. pred_tuner_record() logs (origin, p,
 * decision); the outcome (did demand exceed capacity within the window?) is
 * only known W buckets later, so entries wait in a pending queue and are
 * resolved by pred_tuner_advance(). Resolved decisions go into an
 * exponentially decayed table of outcomes by probability bin (100 bins), and
 * the threshold becomes the one that would have minimised
 *
 *     cost(theta) = w_miss  * #(p <  theta and overload)
 *                 + w_false * #(p >= theta and no overload)
 *
 * over that record: missed overloads cost w_miss, unneeded shadows w_false
 * (configuration; default 4 : 1). The move per resolution is bounded (step)
 * so the threshold does not jump; it is clamped to [min, max].
 *
 * The record also counts TP/FP/FN/TN, early triggers (lead) and the utility,
 * and keeps the threshold trajectory so that convergence can be shown
 * (pred_tuner_report()).
 *
 * One owner, not thread-safe. Memory: O(bins + pending + trajectory). */
#ifndef SHADOWFS_PREDICTOR_SELF_TUNING_H
#define SHADOWFS_PREDICTOR_SELF_TUNING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct pred_tuner_config {
	double threshold;    /* initial, default 0.8 */
	double min, max;     /* clamp, default 0.05 .. 0.99 */
	double w_miss;	     /* cost of a missed overload, default 4 */
	double w_false;	     /* cost of an unneeded shadow, default 1 */
	double decay;	     /* per resolved decision, default 5e-5 */
	double step;	     /* max threshold move per resolution, default .002 */
	unsigned window;     /* W: outcome known W buckets after origin */
	double dependence;   /* forecast.h dependence, default 0 */
	unsigned min_record; /* decisions before tuning starts, default 200 */
};

struct pred_tuner;

void pred_tuner_config_default(struct pred_tuner_config *c);
/* NULL on bad configuration or no memory. */
struct pred_tuner *pred_tuner_new(const struct pred_tuner_config *c);
void pred_tuner_free(struct pred_tuner *t);

/* Current threshold, and the decision it gives for p. */
double pred_tuner_threshold(const struct pred_tuner *t);
bool pred_tuner_decide(const struct pred_tuner *t, double p);
double pred_tuner_dependence(const struct pred_tuner *t);

/* Logs a decision made at bucket `origin` with probability p; `overload`
 * is the outcome, revealed to the tuner only at pred_tuner_advance(origin +
 * window). (Live, the caller records the outcome when the window closes via
 * pred_tuner_resolve().) 0 or -EINVAL / -ENOMEM. */
int pred_tuner_record(struct pred_tuner *t, uint64_t origin, double p, bool overload);
/* Feeds one resolved decision directly. */
void pred_tuner_resolve(struct pred_tuner *t, double p, bool overload);
/* Resolves pending decisions whose window ended before bucket `now`. */
void pred_tuner_advance(struct pred_tuner *t, uint64_t now);

struct pred_tuner_stats {
	uint64_t tp, fp, fn, tn; /* at the threshold in force at decision */
	double utility;		 /* -(w_miss * fn + w_false * fp) */
	uint64_t resolved;
};
void pred_tuner_stats(const struct pred_tuner *t, struct pred_tuner_stats *ret);

/* Prints the record's counts and the threshold trajectory. */
void pred_tuner_report(const struct pred_tuner *t, FILE *out);

#endif
