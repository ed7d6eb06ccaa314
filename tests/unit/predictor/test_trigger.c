/* Unit tests of predictor/trigger together with forecast: fires before a ramp
 * crosses capacity, not on noise; hysteresis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "predictor/distribution.h"
#include "predictor/forecast.h"
#include "predictor/trigger.h"

/* Runs series y through a model + calibration + trigger; returns the first
 * step at which the trigger fired, or -1. */
static int first_fire(const double *y, int n, double capacity, int train)
{
	struct pred_model m;
	struct pred_params p;
	pred_params_default(&p);
	assert_int_equal(pred_model_init(&m, &p, 0, 6), 0);
	assert_int_equal(pred_model_fit(&m, y, (size_t)train), 0);
	struct pred_calib *c = pred_calib_new(PRED_CALIB_DECAY);
	assert_non_null(c);
	struct pred_trigger_config tc;
	pred_trigger_config_default(&tc);
	struct pred_trigger tr = {0};
	struct pred_forecast_req r;
	pred_forecast_req_default(&r);
	r.capacity = capacity;
	int fired = -1;
	for (int t = 0; t < n && fired < 0; t++) {
		if (t >= train) {
			struct pred_forecast f;
			pred_calib_refresh(c);
			assert_int_equal(pred_forecast_compute(&m, c, &r, &f), 0);
			if (pred_trigger_step(&tr, &tc, f.p_exceed) == PRED_TRIGGER_FIRE)
				fired = t;
		}
		float z[PRED_MAX_H];
		assert_int_equal(pred_model_update_resid(&m, y[t], z), 0);
		pred_calib_add(c, z);
	}
	pred_calib_free(c);
	return fired;
}

/* A ramp towards capacity fires the trigger before it crosses capacity. */
static void test_fires_before_ramp_crosses(void **state)
{
	(void)state;
	double y[400];
	unsigned seed = 7;
	int cross = -1;
	for (int i = 0; i < 400; i++) {
		double base = i < 200 ? 100.0 : 100.0 + 4.0 * (i - 200);
		y[i] = base * (0.9 + 0.2 * rand_r(&seed) / (double)RAND_MAX);
		if (cross < 0 && y[i] > 600.0)
			cross = i;
	}
	int fired = first_fire(y, 400, 600.0, 150);
	assert_true(cross > 200);
	assert_true(fired > 200);   /* not during the flat part */
	assert_true(fired < cross); /* ahead of the crossing */
}

/* Stationary noise well below capacity never fires it. */
static void test_quiet_on_noise(void **state)
{
	(void)state;
	double y[600];
	unsigned seed = 11;
	for (int i = 0; i < 600; i++)
		y[i] = 100.0 * (0.8 + 0.4 * rand_r(&seed) / (double)RAND_MAX);
	assert_int_equal(first_fire(y, 600, 200.0, 150), -1);
}

/* Hysteresis: stays on while p hovers just under the threshold, clears
 * below on - margin after hold; bad p is rejected without change. */
static void test_hysteresis(void **state)
{
	(void)state;
	struct pred_trigger_config c;
	pred_trigger_config_default(&c);
	struct pred_trigger t = {0};
	assert_int_equal(pred_trigger_step(&t, &c, 0.5), PRED_TRIGGER_NONE);
	assert_int_equal(pred_trigger_step(&t, &c, 0.85), PRED_TRIGGER_FIRE);
	assert_int_equal(pred_trigger_step(&t, &c, 0.75), PRED_TRIGGER_NONE);
	assert_int_equal(pred_trigger_step(&t, &c, 0.81), PRED_TRIGGER_NONE);
	assert_int_equal(pred_trigger_step(&t, &c, 0.7), PRED_TRIGGER_NONE);
	assert_true(t.active);
	struct pred_trigger before = t;
	assert_int_equal(pred_trigger_step(&t, &c, NAN), -EINVAL);
	assert_int_equal(pred_trigger_step(&t, &c, 1.5), -EINVAL);
	assert_memory_equal(&t, &before, sizeof(t));
	assert_int_equal(pred_trigger_step(&t, &c, 0.1), PRED_TRIGGER_CLEAR);
	assert_false(t.active);
	c.margin = 0.9;
	assert_int_equal(pred_trigger_step(&t, &c, 0.9), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fires_before_ramp_crosses),
	    cmocka_unit_test(test_quiet_on_noise),
	    cmocka_unit_test(test_hysteresis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
