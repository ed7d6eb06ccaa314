/* Unit tests of predictor/path_pool: the joint (path) exceedance
 * probability equals the single-step one for perfectly correlated paths and
 * the independent combination for independent ones; paths are assembled
 * from a model's residuals only once complete (no look-ahead); the ring keeps
 * the newest; bad arguments are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/path_pool.h"

#define W 6

/* A forecast with location 0 and scale 1 at every step: the pool's paths
 * are then compared with need = log1p(floor(C) + 0.5) directly. */
static void flat_forecast(struct pred_forecast *fc)
{
	memset(fc, 0, sizeof(*fc));
	fc->horizon = W;
	for (unsigned h = 0; h < W; h++) {
		fc->loc[h] = 0.0;
		fc->scale[h] = 1.0;
	}
}

/* Capacity C such that log1p(floor(C) + 0.5) is close to x (C integer). */
static double cap_for(double x)
{
	return floor(expm1(x) - 0.5);
}

/* Perfectly correlated paths (z_h = u for every h, u on a uniform grid in
 * [-2, 2)): P(max > c) is P(u > c), the single-step probability, far below
 * the independent combination. */
static void test_correlated_paths_give_single_step(void **state)
{
	(void)state;
	struct pred_paths *p = pred_paths_new(W, 200, 50);
	assert_non_null(p);
	for (int i = 0; i < 200; i++) {
		int8_t path[PRED_MAX_H];
		for (unsigned h = 0; h < W; h++)
			path[h] = (int8_t)(-20 + i / 5); /* u = -2.0 .. 1.9 */
		pred_paths_push(p, path);
	}
	struct pred_forecast fc;
	flat_forecast(&fc);
	double C = cap_for(1.0), c = log1p(floor(C) + 0.5);
	double share = 0.0;
	for (int i = 0; i < 200; i++)
		share += (-20 + i / 5) / PRED_PATH_ZSCALE > c;
	share /= 200.0;
	double pj = pred_paths_exceed(p, &fc, C);
	assert_true(fabs(pj - share) < 1e-12);
	assert_true(pj > 0.15 && pj < 0.35);
	assert_true(pj < 1.0 - pow(1.0 - share, W) - 0.3);
	pred_paths_free(p);
}

/* Independent paths (every combination of two values per step, each
 * exceeding with probability 1/2 at step 1 and never elsewhere except
 * step 2 which exceeds independently): P = 1 - (1/2)(1/2) = 3/4. */
static void test_independent_paths_give_product(void **state)
{
	(void)state;
	struct pred_paths *p = pred_paths_new(W, 64, 4);
	assert_non_null(p);
	for (int i = 0; i < 64; i++) {
		int8_t path[PRED_MAX_H] = {0};
		path[0] = (i & 1) ? 30 : -30;
		path[1] = (i & 2) ? 30 : -30;
		for (unsigned h = 2; h < W; h++)
			path[h] = -30;
		pred_paths_push(p, path);
	}
	struct pred_forecast fc;
	flat_forecast(&fc);
	assert_true(fabs(pred_paths_exceed(p, &fc, cap_for(1.0)) - 0.75) < 1e-12);
	/* Raising the location of step 3 above capacity: certain. */
	fc.loc[2] = 5.0;
	assert_true(fabs(pred_paths_exceed(p, &fc, cap_for(1.0)) - 1.0) < 1e-12);
	/* capacity < 0: no capacity, always over. */
	assert_true(pred_paths_exceed(p, &fc, -1.0) == 1.0);
	pred_paths_free(p);
}

/* Paths built from a model's residuals: a path enters the pool only W
 * buckets after its origin, once every step is known; before min_paths the
 * pool declines; the probability is a share in [0, 1] that rises with the
 * forecast's location. */
static void test_assembly_from_model(void **state)
{
	(void)state;
	struct pred_params pp;
	pred_params_default(&pp);
	struct pred_model m;
	assert_int_equal(pred_model_init(&m, &pp, 24, W), 0);
	struct pred_path_asm a;
	pred_path_asm_init(&a);
	struct pred_paths *p = pred_paths_new(W, 64, 20);
	assert_non_null(p);
	unsigned seed = 3;
	uint64_t first_complete = 0;
	for (uint64_t t = 0; t < 200; t++) {
		float z[PRED_MAX_H];
		double y = 100.0 + 50.0 * sin((double)t * 2.0 * M_PI / 24.0) + rand_r(&seed) % 20;
		assert_int_equal(pred_model_update_resid(&m, y, z), 0);
		int8_t path[PRED_MAX_H];
		bool done = pred_path_asm_add(&a, W, t, z, path);
		/* The first origin with a forecast has seen bucket 0: origin 1;
		 * its last step (bucket W) completes it. */
		if (done && !first_complete)
			first_complete = t;
		assert_true(!done || t >= W);
		if (done)
			pred_paths_push(p, path);
		if (t == W + 10)
			assert_true(pred_paths_added(p) <= 11);
	}
	assert_true(first_complete >= W);
	assert_int_equal(pred_paths_count(p), 64);
	assert_true(pred_paths_added(p) > 150);
	struct pred_forecast fc;
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.capacity = 200.0;
	assert_int_equal(pred_forecast_compute(&m, NULL, &req, &fc), 0);
	double lo = pred_paths_exceed(p, &fc, 200.0);
	assert_true(lo >= 0.0 && lo <= 1.0);
	for (unsigned h = 0; h < W; h++)
		fc.loc[h] += 1.0;
	double hi = pred_paths_exceed(p, &fc, 200.0);
	assert_true(hi >= lo && hi <= 1.0);
	assert_true(pred_paths_exceed(p, &fc, 1e12) == 0.0);
	pred_paths_free(p);
}

/* Missing residuals (NaN) drop the origins they belong to. */
static void test_incomplete_paths_dropped(void **state)
{
	(void)state;
	struct pred_path_asm a;
	pred_path_asm_init(&a);
	float z[PRED_MAX_H];
	int8_t path[PRED_MAX_H];
	unsigned complete = 0;
	for (uint64_t t = 0; t < 40; t++) {
		for (unsigned h = 0; h < PRED_MAX_H; h++)
			z[h] = t == 20 ? NAN : 0.5f;
		memset(path, 0, sizeof(path));
		if (pred_path_asm_add(&a, W, t, z, path)) {
			complete++;
			for (unsigned h = 0; h < W; h++)
				assert_int_equal(path[h], 5); /* 0.5 quantised */
		}
	}
	/* Origins 0..34 complete at t = W-1 .. 39; the W origins that had a
	 * step at bucket 20 (origins 15..20) are dropped. */
	assert_int_equal(complete, 35 - W);
}

/* The ring keeps the newest paths: after old paths far above capacity are
 * replaced by paths far below it, P is 0. Not ready below min_paths; bad
 * arguments refused. */
static void test_ring_and_bad_arguments(void **state)
{
	(void)state;
	assert_null(pred_paths_new(0, 10, 1));
	assert_null(pred_paths_new(PRED_MAX_H + 1, 10, 1));
	assert_null(pred_paths_new(W, 0, 1));
	assert_null(pred_paths_new(W, 10, 11));
	assert_null(pred_paths_new(W, PRED_PATH_MAX_CAP + 1, 1));
	pred_paths_free(NULL);
	struct pred_paths *p = pred_paths_new(W, 8, 4);
	assert_non_null(p);
	struct pred_forecast fc;
	flat_forecast(&fc);
	int8_t up[PRED_MAX_H], down[PRED_MAX_H];
	memset(up, 100, sizeof(up));
	memset(down, -100, sizeof(down));
	for (int i = 0; i < 3; i++)
		pred_paths_push(p, up);
	assert_true(pred_paths_exceed(p, &fc, cap_for(1.0)) == -1.0);
	for (int i = 0; i < 5; i++)
		pred_paths_push(p, up);
	assert_true(pred_paths_exceed(p, &fc, cap_for(1.0)) == 1.0);
	for (int i = 0; i < 8; i++)
		pred_paths_push(p, down);
	assert_int_equal(pred_paths_count(p), 8);
	assert_true(pred_paths_exceed(p, &fc, cap_for(1.0)) == 0.0);
	/* A window longer than the forecast's horizon is declined. */
	fc.horizon = W - 1;
	assert_true(pred_paths_exceed(p, &fc, cap_for(1.0)) == -1.0);
	assert_true(pred_paths_size(W, 32) <= 32 * W + 32);
	pred_paths_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_correlated_paths_give_single_step),
	    cmocka_unit_test(test_independent_paths_give_product),
	    cmocka_unit_test(test_assembly_from_model),
	    cmocka_unit_test(test_incomplete_paths_dropped),
	    cmocka_unit_test(test_ring_and_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
