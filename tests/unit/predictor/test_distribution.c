/* Unit tests of predictor/distribution and forecast: quantiles of a known
 * distribution, calibration, exceedance probability. */
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

/* Standard normal deviate from a fixed-seed generator. */
static double normal(unsigned *seed)
{
	double u1 = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	double u2 = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	return sqrt(-2.0 * log(u1)) * cos(2 * M_PI * u2);
}

/* Fed N(0,1) residuals, the calibrated quantiles are the normal ones. */
static void test_quantiles_of_normal(void **state)
{
	(void)state;
	struct pred_calib *c = pred_calib_new(0.0);
	assert_non_null(c);
	unsigned seed = 42;
	for (int i = 0; i < 200000; i++) {
		float z[PRED_MAX_H];
		for (int h = 0; h < PRED_MAX_H; h++)
			z[h] = NAN;
		z[0] = (float)normal(&seed);
		pred_calib_add(c, z);
	}
	pred_calib_refresh(c);
	assert_true(fabs(pred_calib_quantile(c, 1, 0.5)) < 0.03);
	assert_true(fabs(pred_calib_quantile(c, 1, 0.9) - 1.2816) < 0.03);
	assert_true(fabs(pred_calib_quantile(c, 1, 0.975) - 1.96) < 0.04);
	assert_true(fabs(pred_calib_quantile(c, 1, 0.025) + 1.96) < 0.04);
	assert_true(fabs(pred_calib_cdf(c, 1, 1.0) - 0.8413) < 0.01);
	/* Horizon 2 saw nothing: Laplace prior. */
	assert_true(fabs(pred_calib_quantile(c, 2, 0.9) - pred_laplace_quantile(0.9)) < 1e-9);
	pred_calib_free(c);
}

/* Count quantiles are rounded outwards and never negative. */
static void test_count_quantile(void **state)
{
	(void)state;
	double lo = pred_count_quantile(NULL, 1, log1p(10.0), 0.5, 0.1, 100.0);
	double hi = pred_count_quantile(NULL, 1, log1p(10.0), 0.5, 0.9, 100.0);
	assert_true(lo == floor(lo) && hi == ceil(hi));
	assert_true(lo >= 0.0 && lo < 10.0 && hi > 10.0);
	assert_true(pred_count_quantile(NULL, 1, 0.0, 3.0, 0.01, 100.0) == 0.0);
}

/* The window probability grows with the number of steps near capacity and
 * lies between the fully dependent and independent combinations. */
static void test_window_probability(void **state)
{
	(void)state;
	struct pred_model m;
	struct pred_params p;
	pred_params_default(&p);
	assert_int_equal(pred_model_init(&m, &p, 0, 6), 0);
	for (int i = 0; i < 50; i++)
		pred_model_update(&m, 100.0 + (i % 2) * 10.0);
	struct pred_forecast_req r;
	pred_forecast_req_default(&r);
	struct pred_forecast f;
	r.capacity = 110.0;
	r.dependence = 1.0;
	assert_int_equal(pred_forecast_compute(&m, NULL, &r, &f), 0);
	double dep = f.p_exceed;
	r.dependence = 0.0;
	pred_forecast_compute(&m, NULL, &r, &f);
	assert_true(f.p_exceed >= dep);
	assert_true(f.p_exceed > 0.0 && f.p_exceed <= 1.0);
	r.capacity = 1e6;
	pred_forecast_compute(&m, NULL, &r, &f);
	assert_true(f.p_exceed < 0.01);
	r.window = 7; /* > horizon */
	assert_int_equal(pred_forecast_compute(&m, NULL, &r, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quantiles_of_normal),
	    cmocka_unit_test(test_count_quantile),
	    cmocka_unit_test(test_window_probability),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
