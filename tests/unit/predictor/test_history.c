/* Unit tests of predictor/history: a model built from a recorded history
 * forecasts what the history implies (a daily shape, a level), feeds the
 * shared calibration, and refuses bad histories; the quantile helper gives
 * numpy's linear-interpolation percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "predictor/forecast.h"
#include "predictor/history.h"

/* Eight days of a daily shape (busy 200, quiet 10): the forecast of the
 * next buckets follows the shape within 15%, and the calibration got the
 * replay's residuals. */
static void test_seasonal_history(void **state)
{
	(void)state;
	enum { M = 24, N = 8 * M };
	double y[N];
	for (int t = 0; t < N; t++)
		y[t] = t % M >= 8 && t % M < 20 ? 200.0 : 10.0;
	struct pred_calib *calib = pred_calib_new(PRED_CALIB_DECAY);
	assert_non_null(calib);
	struct pred_model m;
	assert_int_equal(pred_model_from_history(&m, M, 6, y, N, calib), 0);
	assert_int_equal(m.n, N);
	assert_true(calib->count[0] > N / 2);
	pred_calib_refresh(calib);
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.capacity = 150;
	struct pred_forecast fc;
	/* The history ends at slot 23: the next 6 buckets (slots 0-5) are
	 * quiet. */
	assert_int_equal(pred_forecast_compute(&m, calib, &req, &fc), 0);
	for (unsigned h = 0; h < 6; h++)
		assert_true(fabs(fc.point[h] - 10.0) <= 1.5);
	assert_true(fc.p_exceed < 0.2);
	assert_int_equal(pred_model_from_history(&m, M, 6, y, N - 16, calib), 0);
	/* Now it ends at slot 7: the next 6 (slots 8-13) are busy. */
	assert_int_equal(pred_forecast_compute(&m, calib, &req, &fc), 0);
	for (unsigned h = 0; h < 6; h++)
		assert_true(fabs(fc.point[h] - 200.0) <= 30.0);
	assert_true(fc.p_exceed >= 0.8);
	pred_calib_free(calib);
}

/* Bad histories and arguments are refused; an empty history gives the
 * default model. */
static void test_bad_history(void **state)
{
	(void)state;
	struct pred_model m;
	double y[4] = {1, 2, NAN, 4};
	assert_int_equal(pred_model_from_history(&m, 0, 3, y, 4, NULL), -EINVAL);
	y[2] = -1;
	assert_int_equal(pred_model_from_history(&m, 0, 3, y, 4, NULL), -EINVAL);
	y[2] = INFINITY;
	assert_int_equal(pred_model_from_history(&m, 0, 3, y, 4, NULL), -EINVAL);
	y[2] = 3;
	assert_int_equal(pred_model_from_history(&m, 0, 0, y, 4, NULL), -EINVAL);
	assert_int_equal(pred_model_from_history(&m, PRED_MAX_SEASON + 1, 3, y, 4, NULL), -EINVAL);
	assert_int_equal(pred_model_from_history(&m, 0, 3, NULL, 4, NULL), -EINVAL);
	assert_int_equal(pred_model_from_history(&m, 0, 3, NULL, 0, NULL), 0);
	assert_int_equal(m.n, 0);
	assert_int_equal(pred_model_from_history(&m, 0, 3, y, 4, NULL), 0);
	assert_int_equal(m.n, 4);
}

static void test_quantile(void **state)
{
	(void)state;
	double v[] = {5, 1, 4, 2, 3};
	assert_true(pred_history_quantile(v, 5, 0.0) == 1.0);
	assert_true(pred_history_quantile(v, 5, 1.0) == 5.0);
	assert_true(pred_history_quantile(v, 5, 0.5) == 3.0);
	assert_true(fabs(pred_history_quantile(v, 5, 0.99) - 4.96) < 1e-12);
	assert_true(pred_history_quantile(v, 0, 0.5) == 0.0);
	assert_true(pred_history_quantile(v, 1, 0.99) == 5.0);
	assert_true(v[0] == 5 && v[4] == 3); /* the input is not sorted in place */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seasonal_history),
		cmocka_unit_test(test_bad_history),
		cmocka_unit_test(test_quantile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
