/* Unit tests of predictor/model_state: round trip, corrupted and truncated
 * blobs rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/model_state.h"

static void trained(struct pred_model *m)
{
	struct pred_params p;
	pred_params_default(&p);
	assert_int_equal(pred_model_init(m, &p, 24, 6), 0);
	for (int i = 0; i < 200; i++)
		pred_model_update(m, 50.0 + 30.0 * sin(i * 0.26) + i % 7);
}

/* A model encoded and decoded forecasts exactly as the original. */
static void test_round_trip(void **state)
{
	(void)state;
	struct pred_model m, back;
	trained(&m);
	uint8_t buf[2048];
	long n = pred_model_encode(&m, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n == pred_model_state_size());
	assert_int_equal(pred_model_decode(buf, (size_t)n, &back), 0);
	for (unsigned h = 1; h <= 6; h++)
		assert_true(pred_model_point_log(&m, h) == pred_model_point_log(&back, h));
	/* And they stay identical after more updates. */
	pred_model_update(&m, 77.0);
	pred_model_update(&back, 77.0);
	assert_true(pred_model_point_log(&m, 3) == pred_model_point_log(&back, 3));
	assert_true(m.sigma[0] == back.sigma[0]);
	assert_int_equal(pred_model_encode(&m, buf, 10), -ENOSPC);
}

/* Every single-byte corruption and every truncation is rejected and leaves
 * the destination untouched. */
static void test_corruption_rejected(void **state)
{
	(void)state;
	struct pred_model m, dst, ref;
	trained(&m);
	memset(&dst, 0xab, sizeof(dst));
	ref = dst;
	uint8_t buf[2048];
	long n = pred_model_encode(&m, buf, sizeof(buf));
	for (long i = 0; i < n; i++) {
		buf[i] ^= 0x5a;
		assert_int_equal(pred_model_decode(buf, (size_t)n, &dst), -EINVAL);
		buf[i] ^= 0x5a;
	}
	for (long len = 0; len < n; len++)
		assert_int_equal(pred_model_decode(buf, (size_t)len, &dst), -EINVAL);
	assert_memory_equal(&dst, &ref, sizeof(dst));
	assert_int_equal(pred_model_decode(buf, (size_t)n, &dst), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_corruption_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
