/* Unit tests of predictor/self_tuning: convergence to the cost-optimal
 * threshold, outcomes resolved only after the window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "predictor/self_tuning.h"

/* With calibrated probabilities and miss:false costs 4:1 the best threshold
 * is 1/(1+4) = 0.2; the tuner moves there from 0.8. */
static void test_converges(void **state)
{
	(void)state;
	struct pred_tuner_config c;
	pred_tuner_config_default(&c);
	struct pred_tuner *t = pred_tuner_new(&c);
	assert_non_null(t);
	unsigned seed = 3;
	for (int i = 0; i < 40000; i++) {
		double p = rand_r(&seed) / (double)RAND_MAX;
		bool over = rand_r(&seed) / (double)RAND_MAX < p;
		pred_tuner_resolve(t, p, p, over);
	}
	assert_true(fabs(pred_tuner_threshold(t) - 0.2) < 0.05);
	struct pred_tuner_stats s;
	pred_tuner_stats(t, &s);
	assert_int_equal(s.resolved, 40000);
	pred_tuner_free(t);
}

/* Recorded decisions are learned only once their window has passed. */
static void test_pending_until_window(void **state)
{
	(void)state;
	struct pred_tuner_config c;
	pred_tuner_config_default(&c);
	c.window = 6;
	struct pred_tuner *t = pred_tuner_new(&c);
	assert_int_equal(pred_tuner_record(t, 10, 0.9, 0.9, true), 0);
	assert_int_equal(pred_tuner_record(t, 10, NAN, 0.5, true), -EINVAL);
	assert_int_equal(pred_tuner_record(t, 10, 0.5, 1.5, true), -EINVAL);
	struct pred_tuner_stats s;
	pred_tuner_advance(t, 15);
	pred_tuner_stats(t, &s);
	assert_int_equal(s.resolved, 0);
	pred_tuner_advance(t, 16);
	pred_tuner_stats(t, &s);
	assert_int_equal(s.resolved, 1);
	assert_int_equal(s.tp, 1);
	pred_tuner_free(t);
	c.w_miss = -1;
	assert_null(pred_tuner_new(&c));
}

/* When only the independent combination carries information, the tuner
 * leaves a starting dependence of 1 for 0 and the threshold follows. */
static void test_dependence_tuned(void **state)
{
	(void)state;
	struct pred_tuner_config c;
	pred_tuner_config_default(&c);
	c.dependence = 1.0;
	struct pred_tuner *t = pred_tuner_new(&c);
	assert_non_null(t);
	assert_true(pred_tuner_dependence(t) == 1.0);
	unsigned seed = 5;
	for (int i = 0; i < 40000; i++) {
		double p = rand_r(&seed) / (double)RAND_MAX;
		double noise = rand_r(&seed) / (double)RAND_MAX;
		bool over = rand_r(&seed) / (double)RAND_MAX < p;
		pred_tuner_resolve(t, noise, p, over);
	}
	assert_true(pred_tuner_dependence(t) == 0.0);
	assert_true(fabs(pred_tuner_threshold(t) - 0.2) < 0.05);
	struct pred_tuner_stats s;
	pred_tuner_stats(t, &s);
	assert_true(s.dependence_switches >= 1);
	pred_tuner_free(t);
	c.dependence = 0.3; /* not on the grid */
	assert_null(pred_tuner_new(&c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_converges),
	    cmocka_unit_test(test_pending_until_window),
	    cmocka_unit_test(test_dependence_tuned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
