/* Hysteresis trigger on the overload probability. See trigger.h. */
#include "predictor/trigger.h"

#include <errno.h>
#include <math.h>

void pred_trigger_config_default(struct pred_trigger_config *c)
{
	c->on = 0.8;
	c->margin = 0.2;
	c->hold = 3;
}

int pred_trigger_config_check(const struct pred_trigger_config *c)
{
	if (!c || !(c->on > 0.0 && c->on <= 1.0) || !(c->margin >= 0.0 && c->margin < c->on) ||
	    c->hold > 65535)
		return -EINVAL;
	return 0;
}

int pred_trigger_step(struct pred_trigger *t, const struct pred_trigger_config *c, double p)
{
	if (!t || pred_trigger_config_check(c) || !(p >= 0.0 && p <= 1.0))
		return -EINVAL;
	if (!t->active) {
		if (p >= c->on) {
			t->active = 1;
			t->held = 0;
			return PRED_TRIGGER_FIRE;
		}
		return PRED_TRIGGER_NONE;
	}
	if (t->held < 65535)
		t->held++;
	if (p < c->on - c->margin && t->held >= c->hold) {
		t->active = 0;
		return PRED_TRIGGER_CLEAR;
	}
	return PRED_TRIGGER_NONE;
}
