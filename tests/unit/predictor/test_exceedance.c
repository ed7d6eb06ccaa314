/* Unit tests of predictor/exceedance: the online classifier of
 * P(max over the next W buckets > C) learns periodic bursts, never looks
 * ahead, starts from the model's probability, rejects bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/exceedance.h"

#define M 24
#define W 6
#define CAP 100.0

/* One file driven through the protocol of tools/shadow_eval.c: at origin t
 * (y[0..t-1] seen) forecast, features, p; record with the outcome of
 * [t, t+W-1]; advance; absorb y[t]. Returns p at every origin in ret_p. */
static void run(const double *y, long n, long from, double *ret_p)
{
	struct pred_params pp;
	pred_params_default(&pp);
	struct pred_model m;
	assert_int_equal(pred_model_init(&m, &pp, M, W), 0);
	struct pred_exc_file f;
	assert_int_equal(pred_exc_file_init(&f, M), 0);
	struct pred_exc_config c;
	pred_exc_config_default(&c);
	c.window = W;
	struct pred_exc *e = pred_exc_new(&c);
	assert_non_null(e);
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.capacity = CAP;
	for (long t = 0; t < n; t++) {
		ret_p[t] = NAN;
		if (t >= from && t + W <= n) {
			struct pred_forecast fc;
			assert_int_equal(pred_forecast_compute(&m, NULL, &req, &fc), 0);
			float x[PRED_EXC_NF];
			assert_int_equal(pred_exc_features(&f, &m, &fc, CAP, W, x), 0);
			ret_p[t] = pred_exc_prob(e, x);
			bool over = false;
			for (long j = t; j < t + W; j++)
				over = over || y[j] > CAP;
			assert_int_equal(pred_exc_record(e, (uint64_t)t, x, over), 0);
			pred_exc_advance(e, (uint64_t)t);
		}
		assert_int_equal(pred_model_update(&m, y[t]), 0);
		assert_int_equal(pred_exc_file_update(&f, y[t], CAP), 0);
	}
	pred_exc_free(e);
}

/* Daily bursts (x100 for 2 buckets at a fixed phase, noise elsewhere): after
 * a few weeks of outcomes, P >= 0.8 is raised before >= 90% of the onsets of
 * the last 10 days, and those alarms are right >= 80% of the time. */
static void test_periodic_bursts_anticipated(void **state)
{
	(void)state;
	enum { DAYS = 40, N = DAYS * M };
	double *y = malloc(N * sizeof(*y)), *p = malloc(N * sizeof(*p));
	assert_non_null(y);
	assert_non_null(p);
	unsigned seed = 7;
	for (long t = 0; t < N; t++) {
		long ph = t % M;
		y[t] = 10.0 + rand_r(&seed) % 8;
		if (ph == 15 || ph == 16)
			y[t] = 1000.0 + rand_r(&seed) % 200;
	}
	run(y, N, 2 * M + W, p);
	long onsets = 0, anticipated = 0, alarms = 0, right = 0;
	for (long tau = (DAYS - 10) * M; tau + W <= N; tau++) {
		if (p[tau] >= 0.8) {
			alarms++;
			for (long j = tau; j < tau + W; j++)
				if (y[j] > CAP) {
					right++;
					break;
				}
		}
		if (!(y[tau] > CAP) || y[tau - 1] > CAP)
			continue;
		onsets++;
		for (long o = tau - W + 1; o <= tau; o++)
			if (p[o] >= 0.8) {
				anticipated++;
				break;
			}
	}
	assert_true(onsets >= 9);
	assert_true(anticipated * 10 >= onsets * 9);
	assert_true(right * 10 >= alarms * 8);
	free(y);
	free(p);
}

/* No look-ahead: two series equal up to t-1 and different from t on (the
 * future shuffled) give the same probability at every origin <= t. */
static void test_future_does_not_matter(void **state)
{
	(void)state;
	enum { N = 20 * M, T = 15 * M + 5 };
	double *a = malloc(N * sizeof(*a)), *b = malloc(N * sizeof(*b));
	double *pa = malloc(N * sizeof(*pa)), *pb = malloc(N * sizeof(*pb));
	assert_true(a && b && pa && pb);
	unsigned seed = 11;
	for (long t = 0; t < N; t++) {
		a[t] = (t % M == 9 ? 400.0 : 20.0) + rand_r(&seed) % 30;
		b[t] = a[t];
	}
	/* Fisher-Yates shuffle of b[T..N-1], plus a burst right at T. */
	for (long i = N - 1; i > T; i--) {
		long j = T + (long)(rand_r(&seed) % (unsigned)(i - T + 1));
		double v = b[i];
		b[i] = b[j];
		b[j] = v;
	}
	b[T] = 5000.0;
	a[T] = 0.0;
	run(a, N, 2 * M + W, pa);
	run(b, N, 2 * M + W, pb);
	for (long t = 2 * M + W; t <= T; t++)
		assert_true(pa[t] == pb[t]);
	/* and the futures do differ afterwards (the test can fail) */
	int differ = 0;
	for (long t = T + 1; t + W <= N; t++)
		differ += pa[t] != pb[t];
	assert_true(differ > 0);
	free(a);
	free(b);
	free(pa);
	free(pb);
}

/* Before any outcome the probability is the model's independent window
 * probability (the prior). */
static void test_prior_is_model(void **state)
{
	(void)state;
	struct pred_params pp;
	pred_params_default(&pp);
	struct pred_model m;
	assert_int_equal(pred_model_init(&m, &pp, M, W), 0);
	struct pred_exc_file f;
	assert_int_equal(pred_exc_file_init(&f, M), 0);
	for (long t = 0; t < 3 * M; t++) {
		double v = 50.0 + 40.0 * sin(t * 2.0 * M_PI / M);
		pred_model_update(&m, v);
		pred_exc_file_update(&f, v, 80.0);
	}
	struct pred_exc_config c;
	pred_exc_config_default(&c);
	struct pred_exc *e = pred_exc_new(&c);
	assert_non_null(e);
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	req.capacity = 80.0;
	struct pred_forecast fc;
	assert_int_equal(pred_forecast_compute(&m, NULL, &req, &fc), 0);
	float x[PRED_EXC_NF];
	assert_int_equal(pred_exc_features(&f, &m, &fc, 80.0, W, x), 0);
	assert_true(fc.p_indep > 0.01 && fc.p_indep < 0.999);
	assert_true(fabs(pred_exc_prob(e, x) - fc.p_indep) < 1e-4);
	pred_exc_free(e);
}

/* Recorded decisions are learned only once their window has passed. */
static void test_pending_until_window(void **state)
{
	(void)state;
	struct pred_exc_config c;
	pred_exc_config_default(&c);
	struct pred_exc *e = pred_exc_new(&c);
	assert_non_null(e);
	float x[PRED_EXC_NF] = {1.0f};
	for (uint64_t t = 0; t < 1000; t++)
		assert_int_equal(pred_exc_record(e, t, x, true), 0);
	pred_exc_advance(e, 5); /* origin 0 ends at bucket 5: not yet seen */
	assert_int_equal(pred_exc_learned(e), 0);
	pred_exc_advance(e, 6);
	assert_int_equal(pred_exc_learned(e), 1);
	pred_exc_advance(e, 1006);
	assert_int_equal(pred_exc_learned(e), 1000);
	assert_true(pred_exc_prob(e, x) > 0.9); /* always overloaded: learned */
	pred_exc_free(e);
}

/* Bad input: rejected with -EINVAL, state unchanged; bad config -> NULL;
 * one file's state fits next to its model in 1 KiB. */
static void test_bad_input(void **state)
{
	(void)state;
	struct pred_exc_file f, g;
	assert_int_equal(pred_exc_file_init(&f, PRED_MAX_SEASON + 1), -EINVAL);
	assert_int_equal(pred_exc_file_init(&f, M), 0);
	pred_exc_file_update(&f, 500.0, CAP);
	g = f;
	assert_int_equal(pred_exc_file_update(&f, NAN, CAP), -EINVAL);
	assert_int_equal(pred_exc_file_update(&f, -1.0, CAP), -EINVAL);
	assert_int_equal(pred_exc_file_update(&f, INFINITY, CAP), -EINVAL);
	assert_memory_equal(&f, &g, sizeof(f));
	assert_int_equal(pred_exc_file_update(&f, 1e300, CAP), 0); /* clamped */
	assert_true(isfinite(f.ewma));

	struct pred_exc_config c;
	pred_exc_config_default(&c);
	c.window = 0;
	assert_null(pred_exc_new(&c));
	pred_exc_config_default(&c);
	c.lr = NAN;
	assert_null(pred_exc_new(&c));
	pred_exc_config_default(&c);
	struct pred_exc *e = pred_exc_new(&c);
	assert_non_null(e);
	float x[PRED_EXC_NF] = {1.0f, NAN};
	assert_int_equal(pred_exc_record(e, 0, x, true), -EINVAL);
	pred_exc_advance(e, 100);
	assert_int_equal(pred_exc_learned(e), 0);

	struct pred_model m;
	struct pred_params pp;
	pred_params_default(&pp);
	assert_int_equal(pred_model_init(&m, &pp, M, W), 0);
	struct pred_forecast fc;
	struct pred_forecast_req req;
	pred_forecast_req_default(&req);
	assert_int_equal(pred_forecast_compute(&m, NULL, &req, &fc), 0);
	assert_int_equal(pred_exc_features(&f, &m, &fc, CAP, 0, x), -EINVAL);
	assert_int_equal(pred_exc_features(&f, &m, &fc, NAN, W, x), -EINVAL);
	assert_int_equal(pred_exc_features(&f, &m, &fc, CAP, W, x), 0);
	for (int i = 0; i < PRED_EXC_NF; i++)
		assert_true(isfinite(x[i]));
	assert_true(sizeof(struct pred_model) + sizeof(struct pred_exc_file) <= 1024);
	pred_exc_free(e);
	pred_exc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_periodic_bursts_anticipated),
	    cmocka_unit_test(test_future_does_not_matter),
	    cmocka_unit_test(test_prior_is_model),
	    cmocka_unit_test(test_pending_until_window),
	    cmocka_unit_test(test_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
