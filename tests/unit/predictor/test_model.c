/* Unit tests of predictor/model: learning seasonality, trend, steps; bad
 * inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <string.h>

#include "predictor/model.h"

static void init(struct pred_model *m, unsigned season)
{
	struct pred_params p;
	pred_params_default(&p);
	assert_int_equal(pred_model_init(m, &p, season, 6), 0);
}

/* Mean relative error of the h=1..6 forecasts of y[t..] from origin t. */
static double rel_err(const struct pred_model *m, const double *y, size_t t)
{
	double s = 0.0;
	for (unsigned h = 1; h <= 6; h++) {
		double f = expm1(pred_model_point_log(m, h));
		s += fabs(f - y[t + h - 1]) / y[t + h - 1];
	}
	return s / 6.0;
}

/* A pure daily pattern is learned to within 5% after a few periods. */
static void test_seasonality_learned(void **state)
{
	(void)state;
	double y[24 * 8];
	for (int i = 0; i < 24 * 8; i++)
		y[i] = 100.0 + 80.0 * sin(2 * M_PI * i / 24.0);
	struct pred_model m;
	init(&m, 24);
	assert_int_equal(pred_model_fit(&m, y, 24 * 4), 0);
	for (int i = 0; i < 24 * 4; i++)
		assert_int_equal(pred_model_update(&m, y[i]), 0);
	assert_true(rel_err(&m, y, 24 * 4) < 0.05);
	/* Also online only, with the default parameters. */
	init(&m, 24);
	for (int i = 0; i < 24 * 5; i++)
		pred_model_update(&m, y[i]);
	assert_true(rel_err(&m, y, 24 * 5) < 0.05);
}

/* A linear trend is extrapolated: forecasts keep rising. */
static void test_trend_extrapolated(void **state)
{
	(void)state;
	double y[200];
	for (int i = 0; i < 200; i++)
		y[i] = 10.0 + 5.0 * i;
	struct pred_model m;
	init(&m, 0);
	assert_int_equal(pred_model_fit(&m, y, 150), 0);
	for (int i = 0; i < 150; i++)
		pred_model_update(&m, y[i]);
	assert_true(rel_err(&m, y, 150) < 0.03);
	assert_true(pred_model_point_log(&m, 6) > pred_model_point_log(&m, 1));
	assert_true(expm1(pred_model_point_log(&m, 6)) > y[149]);
}

/* After a level step x10 the forecast follows within a few buckets. */
static void test_step_followed(void **state)
{
	(void)state;
	double y[300];
	for (int i = 0; i < 300; i++)
		y[i] = i < 200 ? 50.0 : 500.0;
	struct pred_model m;
	init(&m, 24);
	assert_int_equal(pred_model_fit(&m, y, 150), 0);
	for (int i = 0; i < 215; i++)
		pred_model_update(&m, y[i]);
	assert_true(rel_err(&m, y, 215) < 0.25);
}

/* A 1000x burst does not make the forecast explode past the cap. */
static void test_burst_capped(void **state)
{
	(void)state;
	struct pred_model m;
	init(&m, 0);
	for (int i = 0; i < 100; i++)
		pred_model_update(&m, 10.0);
	pred_model_update(&m, 1e7);
	pred_model_update(&m, 1e9);
	for (unsigned h = 1; h <= 6; h++) {
		double f = expm1(pred_model_point_log(&m, h));
		assert_true(isfinite(f));
		assert_true(f <= PRED_CAP_MULT * 1e9 * 1.01);
	}
}

/* NaN, infinite, negative counts are rejected and change nothing; huge
 * counts are clamped. */
static void test_bad_inputs(void **state)
{
	(void)state;
	struct pred_model m, before;
	init(&m, 24);
	for (int i = 0; i < 60; i++)
		pred_model_update(&m, 20.0 + i % 24);
	before = m;
	assert_int_equal(pred_model_update(&m, NAN), -EINVAL);
	assert_int_equal(pred_model_update(&m, INFINITY), -EINVAL);
	assert_int_equal(pred_model_update(&m, -1.0), -EINVAL);
	assert_memory_equal(&m, &before, sizeof(m));
	assert_int_equal(pred_model_update(&m, 1e300), 0);
	assert_true(m.xmax <= log1p(PRED_MAX_COUNT) + 1e-3);
	assert_true(isfinite(pred_model_point_log(&m, 1)));
	double bad[3] = {1.0, NAN, 2.0};
	assert_int_equal(pred_model_fit(&m, bad, 3), -EINVAL);
	struct pred_params p;
	pred_params_default(&p);
	p.alpha = 2.0f;
	assert_int_equal(pred_model_init(&m, &p, 24, 6), -EINVAL);
	pred_params_default(&p);
	assert_int_equal(pred_model_init(&m, &p, PRED_MAX_SEASON + 1, 6), -EINVAL);
	assert_int_equal(pred_model_init(&m, &p, 24, PRED_MAX_H + 1), -EINVAL);
}

/* The model's memory is within 1 KiB. */
static void test_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct pred_model) <= 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seasonality_learned), cmocka_unit_test(test_trend_extrapolated),
	    cmocka_unit_test(test_step_followed),	cmocka_unit_test(test_burst_capped),
	    cmocka_unit_test(test_bad_inputs),		cmocka_unit_test(test_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
