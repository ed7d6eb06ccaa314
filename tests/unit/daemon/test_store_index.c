/* Unit tests of daemon/store_index: the host store's multimap of durable
 * copies by file id, checked against a plain array model through random
 * adds and removes (runs, wrap-around and backward-shift deletion), and
 * its growth, and ids picked to collide spread all the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/store_index.h"

#define IDS 40
#define VERSIONS 12

static void make_id(unsigned k, uint8_t id[16])
{
	memset(id, 0, 16);
	/* file ids share most bytes (the filesystem's part): vary few */
	id[0] = 0x53;
	id[7] = (uint8_t)k;
	id[15] = (uint8_t)(k * 7);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The index's versions of every id equal the model's. */
static void check(const struct store_index *x, bool model[IDS][VERSIONS])
{
	size_t total = 0;
	for (unsigned k = 0; k < IDS; k++) {
		uint8_t id[16];
		uint64_t got[VERSIONS + 1], want[VERSIONS];
		size_t nw = 0;
		make_id(k, id);
		for (unsigned v = 0; v < VERSIONS; v++)
			if (model[k][v])
				want[nw++] = v + 1;
		size_t ng = store_index_versions(x, id, got, VERSIONS + 1);
		assert_int_equal(ng, nw);
		qsort(got, ng, sizeof(got[0]), cmp_u64);
		for (size_t i = 0; i < nw; i++)
			assert_int_equal(got[i], want[i]);
		total += nw;
	}
	assert_int_equal(x->n, total);
}

static void test_random_against_model(void **state)
{
	(void)state;
	struct store_index x = {0};
	static bool model[IDS][VERSIONS];
	memset(model, 0, sizeof(model));
	srandom(7);
	for (int op = 0; op < 20000; op++) {
		unsigned k = (unsigned)random() % IDS, v = (unsigned)random() % VERSIONS;
		uint8_t id[16];
		make_id(k, id);
		if (random() % 3) {
			assert_int_equal(store_index_add(&x, id, v + 1), 0);
			model[k][v] = true;
		} else {
			store_index_remove(&x, id, v + 1);
			model[k][v] = false;
		}
		if (op % 97 == 0)
			check(&x, model);
	}
	check(&x, model);
	/* Everything removed: empty, and still usable. */
	for (unsigned k = 0; k < IDS; k++)
		for (unsigned v = 0; v < VERSIONS; v++) {
			uint8_t id[16];
			make_id(k, id);
			store_index_remove(&x, id, v + 1);
			model[k][v] = false;
		}
	check(&x, model);
	assert_false(x.incomplete);
	store_index_free(&x);
}

static void test_add_twice_grow_max(void **state)
{
	(void)state;
	struct store_index x = {0};
	uint8_t id[16], other[16];
	uint64_t out[4];
	make_id(1, id);
	make_id(2, other);
	assert_int_equal(store_index_versions(&x, id, out, 4), 0); /* empty, no table */
	store_index_remove(&x, id, 1);				  /* no-op */
	assert_int_equal(store_index_add(&x, id, 5), 0);
	assert_int_equal(store_index_add(&x, id, 5), 0);
	assert_int_equal(x.n, 1);
	/* Past several growths: 10,000 versions of other, 9 of id. */
	for (uint64_t v = 0; v < 10000; v++)
		assert_int_equal(store_index_add(&x, other, v), 0);
	for (uint64_t v = 6; v < 14; v++)
		assert_int_equal(store_index_add(&x, id, v), 0);
	assert_int_equal(x.n, 10009);
	assert_true(x.cap * 3 >= x.n * 4);
	/* More versions than asked for: the count, max written. */
	out[3] = 77;
	assert_int_equal(store_index_versions(&x, id, out, 3), 9);
	assert_int_equal(out[3], 77);
	assert_int_equal(store_index_versions(&x, other, NULL, 0), 10000);
	store_index_free(&x);
	assert_int_equal(x.cap, 0);
}

/* The longest run of used slots (a lookup walks at most its length). */
static size_t longest_run(const struct store_index *x)
{
	size_t best = 0, run = 0;
	for (size_t i = 0; i < 2 * x->cap; i++) { /* twice: a run may wrap */
		run = x->slots[i & (x->cap - 1)].used ? run + 1 : 0;
		best = run > best ? run : best;
	}
	return best;
}

/* Ids a peer picks to collide: the first half zero, the second a number
 * below 2^24 in big-endian. Their homes were 512 slots apart, one run of
 * 100,000 slots, each add or lookup walking it; now the runs are short. */
static void test_crafted_ids_spread(void **state)
{
	(void)state;
	struct store_index x = {0};
	uint8_t id[16] = {0};
	for (uint32_t i = 0; i < 100000; i++) {
		id[13] = (uint8_t)(i >> 16);
		id[14] = (uint8_t)(i >> 8);
		id[15] = (uint8_t)i;
		assert_int_equal(store_index_add(&x, id, 1), 0);
	}
	size_t run = longest_run(&x);
	print_message("100000 crafted ids in %zu slots: longest run %zu\n", x.cap, run);
	assert_true(run < 1000);
	assert_int_equal(store_index_versions(&x, id, NULL, 0), 1);
	store_index_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_against_model),
	    cmocka_unit_test(test_add_twice_grow_max),
	    cmocka_unit_test(test_crafted_ids_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
