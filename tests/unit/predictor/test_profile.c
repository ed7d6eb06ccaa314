/* Unit tests of predictor/global_profile: a sparse file's forecast follows
 * the mount-wide daily shape; bad totals rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>

#include "predictor/forecast.h"
#include "predictor/global_profile.h"

/* The profile's slot deviations reproduce a known log-scale daily shape. */
static void test_shape_learned(void **state)
{
	(void)state;
	struct pred_profile *p = pred_profile_new(24, 0.2);
	assert_non_null(p);
	assert_true(pred_profile_shape(p, 3) == 0.0); /* nothing seen yet */
	for (uint64_t b = 0; b < 24 * 10; b++)
		assert_int_equal(pred_profile_add(p, b, b % 24 < 12 ? 999.0 : 9.0), 0);
	/* log1p(999) - log1p(9) = log(100); deviation is half of it. */
	assert_true(fabs(pred_profile_shape(p, 5) - log(100.0) / 2) < 1e-6);
	assert_true(fabs(pred_profile_shape(p, 24 * 11 + 15) + log(100.0) / 2) < 1e-6);
	assert_int_equal(pred_profile_add(p, 0, NAN), -EINVAL);
	assert_int_equal(pred_profile_add(p, 0, -1.0), -EINVAL);
	assert_true(fabs(pred_profile_shape(p, 5) - log(100.0) / 2) < 1e-6);
	pred_profile_free(p);
	assert_null(pred_profile_new(1, 0.1));
	assert_null(pred_profile_new(24, 0.0));
}

/* A file with too little history of its own borrows the profile: its
 * forecast is higher in the busy half of the day than in the quiet half. */
static void test_sparse_file_borrows(void **state)
{
	(void)state;
	struct pred_profile *p = pred_profile_new(24, 0.2);
	for (uint64_t b = 0; b < 24 * 10; b++)
		pred_profile_add(p, b, b % 24 < 12 ? 999.0 : 9.0);
	struct pred_model m;
	struct pred_params pp;
	pred_params_default(&pp);
	assert_int_equal(pred_model_init(&m, &pp, 24, 6), 0);
	for (int i = 0; i < 10; i++)
		pred_model_update(&m, 3.0);
	struct pred_forecast_req r;
	pred_forecast_req_default(&r);
	r.profile = p;
	struct pred_forecast busy, quiet;
	r.bucket = 24 * 20 + 2; /* busy half */
	assert_int_equal(pred_forecast_compute(&m, NULL, &r, &busy), 0);
	r.bucket = 24 * 20 + 14; /* quiet half */
	assert_int_equal(pred_forecast_compute(&m, NULL, &r, &quiet), 0);
	assert_true(busy.point[0] > 3.0 * (quiet.point[0] + 1.0));
	pred_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shape_learned),
	    cmocka_unit_test(test_sparse_file_borrows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
