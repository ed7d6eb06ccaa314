/* Hot-file trigger with hysteresis.
 *
 * Fires when P(demand > capacity within the window) >= on (default 0.8).
 * Once fired it stays on while p >= on - margin (default margin 0.2), and
 * for at least `hold` buckets (default 3) in any case, so a file whose
 * probability hovers around the threshold does not flap between shadowed and
 * not shadowed. One small state per file (2 bytes), owned by the caller. */
#ifndef SHADOWFS_PREDICTOR_TRIGGER_H
#define SHADOWFS_PREDICTOR_TRIGGER_H

#include <stdbool.h>
#include <stdint.h>

struct pred_trigger_config {
	double on;     /* (0, 1] */
	double margin; /* [0, on) */
	unsigned hold; /* buckets, <= 65535 */
};

struct pred_trigger {
	uint8_t active;
	uint8_t pad;
	uint16_t held; /* buckets since it fired, saturating */
};

enum pred_trigger_event {
	PRED_TRIGGER_NONE = 0,	/* no change */
	PRED_TRIGGER_FIRE = 1,	/* became active */
	PRED_TRIGGER_CLEAR = 2, /* became inactive */
};

void pred_trigger_config_default(struct pred_trigger_config *c);
int pred_trigger_config_check(const struct pred_trigger_config *c);

/* Feeds the probability of one bucket. Returns a pred_trigger_event, or
 * -EINVAL (NaN or out-of-range p, bad config) leaving the state unchanged. */
int pred_trigger_step(struct pred_trigger *t, const struct pred_trigger_config *c, double p);

#endif
