/* Unit tests of predictor/heavy_hitters and predictor/count_min: the bound on
 * the tracked set, that heavy ids are found, eviction and decay, index
 * consistency under churn, and the sketch's error bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/count_min.h"
#include "predictor/heavy_hitters.h"

static void make_id(uint8_t id[PRED_HH_ID_LEN], uint32_t n)
{
	memset(id, 0, PRED_HH_ID_LEN);
	memcpy(id, &n, sizeof(n));
	id[15] = 0x5a;
}

static uint32_t id_num(const uint8_t id[PRED_HH_ID_LEN])
{
	uint32_t n;
	memcpy(&n, id, sizeof(n));
	return n;
}

struct evict_log {
	unsigned calls;
	unsigned nonzero_payloads;
};

static void on_evict(void *ctx, const uint8_t id[PRED_HH_ID_LEN], void *payload)
{
	(void)id;
	struct evict_log *l = ctx;
	l->calls++;
	if (*(uint64_t *)payload)
		l->nonzero_payloads++;
}

/* One million distinct ids never grow the set past its capacity nor its
 * memory past what create allocated. */
static void test_bound_million(void **state)
{
	(void)state;
	struct pred_hh_config cfg = {.capacity = 1000, .payload_size = 64};
	struct evict_log log = {0};
	struct pred_hh *hh = NULL;
	assert_int_equal(pred_hh_create(&cfg, on_evict, &log, &hh), 0);
	size_t mem0 = pred_hh_memory(hh);
	uint8_t id[PRED_HH_ID_LEN];
	for (uint32_t i = 0; i < 1000000; i++) {
		make_id(id, i);
		uint64_t *p = pred_hh_add(hh, id, 1.0 + (i % 7 == 0), NULL);
		if (p)
			*p += 1;
	}
	assert_int_equal(pred_hh_size(hh), 1000);
	assert_int_equal(pred_hh_memory(hh), mem0);
	assert_int_equal(log.calls, pred_hh_evictions(hh));
	assert_int_equal(log.nonzero_payloads, log.calls);
	printf("# heavy hitters: capacity 1000, payload 64 B: %zu bytes (%.1f per tracked id), "
	       "%llu evictions\n",
	       mem0, (double)mem0 / 1000, (unsigned long long)pred_hh_evictions(hh));
	uint64_t evictions = pred_hh_evictions(hh);
	assert_true(evictions > 0);
	pred_hh_destroy(hh); /* destroy hands every tracked id to evict too */
	assert_int_equal(log.calls, evictions + 1000);
}

/* Ids with a large share of a long-tailed stream are all tracked, and a
 * tracked count is never below the id's true weight. */
static void test_finds_heavy(void **state)
{
	(void)state;
	struct pred_hh_config cfg = {.capacity = 100, .payload_size = 0, .seed = 7};
	struct pred_hh *hh = NULL;
	assert_int_equal(pred_hh_create(&cfg, NULL, NULL, &hh), 0);
	uint8_t id[PRED_HH_ID_LEN];
	unsigned truth[20] = {0};
	srand(1);
	for (int i = 0; i < 400000; i++) {
		uint32_t n;
		if (rand() % 4 == 0) { /* 25%: 20 heavy ids */
			n = (uint32_t)(rand() % 20);
			truth[n]++;
		} else { /* 75%: 200000 tail ids */
			n = 1000 + (uint32_t)(rand() % 200000);
		}
		make_id(id, n);
		pred_hh_add(hh, id, 1.0, NULL);
	}
	for (uint32_t n = 0; n < 20; n++) {
		make_id(id, n);
		assert_non_null(pred_hh_find(hh, id));
		assert_true(pred_hh_estimate(hh, id) >= truth[n]);
	}
	pred_hh_destroy(hh);
}

/* With decay, a newly hot id displaces one that was hot long ago. */
static void test_decay_follows_recent(void **state)
{
	(void)state;
	struct pred_hh_config cfg = {.capacity = 2, .payload_size = 8};
	struct pred_hh *hh = NULL;
	assert_int_equal(pred_hh_create(&cfg, NULL, NULL, &hh), 0);
	uint8_t a[16], b[16], c[16];
	make_id(a, 1);
	make_id(b, 2);
	make_id(c, 3);
	pred_hh_add(hh, a, 1000, NULL);
	pred_hh_add(hh, b, 1000, NULL);
	for (int i = 0; i < 10; i++)
		pred_hh_decay(hh, 0.5);
	assert_true(pred_hh_estimate(hh, a) < 1.0);
	bool admitted = false;
	for (int i = 0; i < 5 && !admitted; i++)
		pred_hh_add(hh, c, 1.0, &admitted);
	assert_true(admitted);
	assert_non_null(pred_hh_find(hh, c));
	assert_int_equal(pred_hh_size(hh), 2);
	/* Exactly one of the old ids was evicted. */
	assert_true((pred_hh_find(hh, a) == NULL) != (pred_hh_find(hh, b) == NULL));
	pred_hh_destroy(hh);
}

static void count_visit(void *ctx, const uint8_t id[PRED_HH_ID_LEN], double count, void *payload)
{
	(void)count;
	uint8_t *seen = ctx;
	uint32_t n = id_num(id);
	assert_true(n < 5000);
	assert_int_equal(seen[n], 0); /* no duplicates */
	seen[n] = 1;
	assert_int_equal(*(uint32_t *)payload, n); /* payload follows its id */
}

/* Under heavy churn the index, heap and payloads stay consistent: every
 * tracked id is found with its own payload, no id is tracked twice, and an
 * id found is one the set reports. */
static void test_churn_consistency(void **state)
{
	(void)state;
	struct pred_hh_config cfg = {.capacity = 64, .payload_size = 4, .cms_width = 64};
	struct pred_hh *hh = NULL;
	assert_int_equal(pred_hh_create(&cfg, NULL, NULL, &hh), 0);
	srand(3);
	uint8_t id[16];
	for (int i = 0; i < 200000; i++) {
		uint32_t n = (uint32_t)(rand() % 5000);
		if (n % 10 == 0)
			n %= 100; /* a warm subset */
		make_id(id, n);
		bool adm;
		uint32_t *p = pred_hh_add(hh, id, 1.0 + (double)(rand() % 3), &adm);
		if (p && adm) {
			assert_int_equal(*p, 0);
			*p = n;
		}
		if (i % 1000 == 0)
			pred_hh_decay(hh, 0.9);
	}
	uint8_t *seen = calloc(5000, 1);
	pred_hh_foreach(hh, count_visit, seen);
	unsigned tracked = 0;
	for (uint32_t n = 0; n < 5000; n++) {
		make_id(id, n);
		uint32_t *p = pred_hh_find(hh, id);
		assert_int_equal(p != NULL, seen[n]);
		tracked += seen[n];
	}
	assert_int_equal(tracked, pred_hh_size(hh));
	assert_int_equal(tracked, 64);
	free(seen);
	pred_hh_destroy(hh);
}

/* Removing ids (deleted files) keeps the index, heap and payloads
 * consistent, calls evict for each, frees their places for new ids
 * (admitted with room, nothing evicted), and a removed id is no longer
 * found; removing an id that is not tracked is refused. */
static void test_remove(void **state)
{
	(void)state;
	struct pred_hh_config cfg = {.capacity = 64, .payload_size = 8, .cms_width = 64};
	struct evict_log log = {0};
	struct pred_hh *hh = NULL;
	assert_int_equal(pred_hh_create(&cfg, on_evict, &log, &hh), 0);
	uint8_t id[16];
	for (uint32_t n = 0; n < 64; n++) {
		make_id(id, n);
		uint64_t *p = pred_hh_add(hh, id, 1.0 + n, NULL);
		assert_non_null(p);
		*p = n + 1000;
	}
	for (uint32_t n = 0; n < 64; n += 3) { /* every third, smallest and largest counts too */
		make_id(id, n);
		assert_true(pred_hh_remove(hh, id));
		assert_false(pred_hh_remove(hh, id));
	}
	assert_int_equal(log.calls, 22);
	assert_int_equal(log.nonzero_payloads, 22);
	assert_int_equal(pred_hh_size(hh), 64 - 22);
	for (uint32_t n = 0; n < 64; n++) {
		make_id(id, n);
		uint64_t *p = pred_hh_find(hh, id);
		if (n % 3 == 0) {
			assert_null(p);
		} else {
			assert_non_null(p);
			assert_int_equal(*p, n + 1000); /* payload follows its id */
			assert_true(pred_hh_estimate(hh, id) == 1.0 + n);
		}
	}
	/* The smallest remaining count is the heap's minimum once full again. */
	for (uint32_t n = 100; n < 122; n++) {
		make_id(id, n);
		bool adm;
		assert_non_null(pred_hh_add(hh, id, 500.0, &adm));
		assert_true(adm);
	}
	assert_int_equal(pred_hh_size(hh), 64);
	assert_int_equal(pred_hh_evictions(hh), 0);
	assert_true(pred_hh_min_count(hh) == 2.0); /* id 1 */
	pred_hh_destroy(hh);
}

/* Bad configurations are refused. */
static void test_bad_config(void **state)
{
	(void)state;
	struct pred_hh *hh = NULL;
	struct pred_hh_config cfg = {.capacity = 0};
	assert_int_equal(pred_hh_create(&cfg, NULL, NULL, &hh), -EINVAL);
	assert_null(hh);
	struct pred_cms *c = NULL;
	assert_int_equal(pred_cms_create(0, 4, 0, &c), -EINVAL);
	assert_int_equal(pred_cms_create(16, 33, 0, &c), -EINVAL);
	pred_hh_destroy(NULL);
	pred_cms_destroy(NULL);
}

/* The sketch never underestimates, and overestimates by more than
 * eps * N (eps = e / width) for at most a delta = exp(-depth) share of keys. */
static void test_cms_error_bound(void **state)
{
	(void)state;
	const uint32_t width = 272, depth = 5; /* eps ~ 0.01, delta ~ 0.0067 */
	struct pred_cms *c = NULL;
	assert_int_equal(pred_cms_create(width, depth, 42, &c), 0);
	enum { KEYS = 20000 };
	static uint32_t truth[KEYS];
	memset(truth, 0, sizeof(truth));
	srand(5);
	for (int i = 0; i < 200000; i++) {
		/* long-tailed: key = floor(KEYS * u^3) */
		double u = (double)rand() / RAND_MAX;
		uint32_t k = (uint32_t)(KEYS * u * u * u);
		if (k >= KEYS)
			k = KEYS - 1;
		truth[k]++;
		pred_cms_add(c, pred_hash64(k), 1.0);
	}
	double n = pred_cms_total(c);
	assert_true(fabs(n - 200000) < 1e-6);
	double eps = M_E / width;
	unsigned over = 0;
	for (uint32_t k = 0; k < KEYS; k++) {
		double est = pred_cms_estimate(c, pred_hash64(k));
		assert_true(est >= truth[k]);
		if (est > truth[k] + eps * n)
			over++;
	}
	printf("# count-min %ux%u: %u of %u keys above eps*N (delta bound %.4f)\n", width, depth,
	       over, KEYS, exp(-(double)depth));
	assert_true(over <= exp(-(double)depth) * KEYS);
	/* Decay scales estimates and the total. */
	double before = pred_cms_estimate(c, pred_hash64(0));
	pred_cms_decay(c, 0.5);
	assert_true(fabs(pred_cms_estimate(c, pred_hash64(0)) - before / 2) <= 1.0);
	assert_true(fabs(pred_cms_total(c) - 100000) < 1e-6);
	pred_cms_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_million),
		cmocka_unit_test(test_finds_heavy),
		cmocka_unit_test(test_decay_follows_recent),
		cmocka_unit_test(test_churn_consistency),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_cms_error_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
