/* Unit tests of sync/dirty_ranges: merging, coalescing within the overhead
 * bound, truncation and growth, the unknown state; checked against a byte map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "sync/dirty_ranges.h"

/* Invariants: sorted, disjoint, non-adjacent, inside the size, covered = sum. */
static void check_invariants(const struct sync_dirty *d)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < d->n; i++) {
		assert_true(d->r[i].len > 0);
		assert_true(d->r[i].off + d->r[i].len <= d->size);
		if (i)
			assert_true(d->r[i].off > d->r[i - 1].off + d->r[i - 1].len);
		sum += d->r[i].len;
	}
	assert_int_equal(sum, d->covered);
	assert_true(d->n <= d->cfg.max_ranges);
}

/* Overlapping and adjacent writes merge into one range; disjoint ones don't. */
static void test_merge(void **state)
{
	(void)state;
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, 1000, NULL), 0);
	sync_dirty_write(&d, 100, 10);
	sync_dirty_write(&d, 110, 10); /* adjacent */
	sync_dirty_write(&d, 105, 2);  /* inside */
	sync_dirty_write(&d, 300, 50);
	sync_dirty_write(&d, 200, 10);
	assert_int_equal(d.n, 3);
	sync_dirty_write(&d, 90, 300); /* swallows all three */
	assert_int_equal(d.n, 1);
	assert_int_equal(d.r[0].off, 90);
	assert_int_equal(d.r[0].len, 300);
	assert_int_equal(sync_dirty_bytes(&d), 300);
	assert_int_equal(d.size, 1000);
	check_invariants(&d);
	sync_dirty_release(&d);
}

/* Random writes: the set covers exactly the bytes written (byte map) while it
 * has room for them. */
static void test_matches_byte_map(void **state)
{
	(void)state;
	th_seed(11);
	enum { SIZE = 1 << 16 };
	uint8_t *map = calloc(SIZE, 1);
	struct sync_dirty d;
	struct sync_dirty_config cfg = {.max_ranges = 100000, .overhead_pct = 5};
	assert_int_equal(sync_dirty_init(&d, SIZE, &cfg), 0);
	for (int i = 0; i < 3000; i++) {
		uint64_t off = th_rand() % SIZE, len = 1 + th_rand() % 64;
		if (off + len > SIZE)
			len = SIZE - off;
		sync_dirty_write(&d, off, len);
		memset(map + off, 1, len);
		if (i % 500 == 0)
			check_invariants(&d);
	}
	check_invariants(&d);
	uint64_t set = 0;
	for (uint32_t i = 0; i < d.n; i++)
		for (uint64_t b = d.r[i].off; b < d.r[i].off + d.r[i].len; b++) {
			assert_int_equal(map[b], 1);
			set++;
		}
	uint64_t written = 0;
	for (int b = 0; b < SIZE; b++)
		written += map[b];
	assert_int_equal(set, written);
	assert_int_equal(d.overhead, 0);
	sync_dirty_release(&d);
	free(map);
}

/* Past max_ranges the smallest gaps merge: the count stays bounded, every
 * written byte stays covered, and the extra bytes stay within the bound. */
static void test_coalesce_bounded(void **state)
{
	(void)state;
	th_seed(12);
	enum { SIZE = 1 << 22 };
	uint8_t *map = calloc(SIZE, 1);
	struct sync_dirty d;
	struct sync_dirty_config cfg = {.max_ranges = 64, .overhead_pct = 5, .overhead_min = 0};
	assert_int_equal(sync_dirty_init(&d, SIZE, &cfg), 0);
	/* clusters of writes: 8 clusters of 40 writes each, small gaps inside */
	for (int c = 0; c < 8; c++) {
		uint64_t base = (uint64_t)c * (SIZE / 8);
		for (int i = 0; i < 40; i++) {
			uint64_t off = base + (uint64_t)i * 4096 + th_rand() % 64;
			sync_dirty_write(&d, off, 4000);
			memset(map + off, 1, 4000);
		}
		check_invariants(&d);
	}
	assert_true(sync_dirty_known(&d));
	assert_true(d.n <= 64);
	uint64_t written = 0;
	for (uint64_t b = 0; b < SIZE; b++)
		written += map[b];
	for (uint64_t b = 0, i = 0; b < SIZE; b++) { /* every written byte covered */
		if (!map[b])
			continue;
		while (i < d.n && d.r[i].off + d.r[i].len <= b)
			i++;
		assert_true(i < d.n && d.r[i].off <= b);
	}
	assert_true(d.covered >= written);
	assert_true(d.covered * 100 <= written * 105);
	sync_dirty_release(&d);
	free(map);
}

/* When merging would exceed the byte-overhead bound, the set turns unknown
 * (forcing librsync) instead of overshooting; a reset makes it known again. */
static void test_overflow_turns_unknown(void **state)
{
	(void)state;
	struct sync_dirty d;
	struct sync_dirty_config cfg = {.max_ranges = 16, .overhead_pct = 5, .overhead_min = 0};
	assert_int_equal(sync_dirty_init(&d, 1 << 30, &cfg), 0);
	for (int i = 0; i < 17; i++) /* 1-byte writes 1 MiB apart: any merge is huge */
		sync_dirty_write(&d, (uint64_t)i << 20, 1);
	assert_false(sync_dirty_known(&d));
	assert_int_equal(sync_dirty_bytes(&d), 0);
	sync_dirty_write(&d, (1u << 30) + 10, 5); /* size still tracked */
	assert_int_equal(d.size, (1u << 30) + 15);
	sync_dirty_reset(&d, d.size);
	assert_true(sync_dirty_known(&d));
	assert_int_equal(d.base_size, (1u << 30) + 15);
	assert_int_equal(d.n, 0);
	sync_dirty_mark_unknown(&d);
	assert_false(sync_dirty_known(&d));
	sync_dirty_release(&d);
}

/* Shrinking drops and clips ranges; growing (truncate or a write past the end)
 * marks the zero-filled bytes dirty. */
static void test_truncate_and_growth(void **state)
{
	(void)state;
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, 1000, NULL), 0);
	sync_dirty_write(&d, 100, 100);
	sync_dirty_write(&d, 500, 100);
	sync_dirty_truncate(&d, 550);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.r[1].len, 50);
	sync_dirty_truncate(&d, 150);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.r[0].len, 50);
	assert_int_equal(d.size, 150);
	sync_dirty_truncate(&d, 400); /* growth: [150, 400) reads as zeros */
	assert_int_equal(d.n, 1);
	assert_int_equal(d.r[0].off, 100);
	assert_int_equal(d.r[0].len, 300);
	sync_dirty_write(&d, 2000, 10); /* hole [400, 2000) + data */
	assert_int_equal(d.n, 1);
	assert_int_equal(d.r[0].len, 1910);
	assert_int_equal(d.size, 2010);
	assert_int_equal(d.base_size, 1000);
	check_invariants(&d);
	sync_dirty_truncate(&d, 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(sync_dirty_bytes(&d), 0);
	assert_int_equal(d.size, 0);
	sync_dirty_release(&d);
}

/* Writes near UINT64_MAX and zero-length writes do not wrap or add ranges. */
static void test_edges(void **state)
{
	(void)state;
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, 10, NULL), 0);
	sync_dirty_write(&d, 5, 0);
	assert_int_equal(d.n, 0);
	sync_dirty_write(&d, UINT64_MAX - 4, 100);
	assert_int_equal(d.size, UINT64_MAX);
	check_invariants(&d);
	struct sync_dirty_config bad = {.max_ranges = 1};
	struct sync_dirty e;
	assert_int_equal(sync_dirty_init(&e, 0, &bad), -22);
	sync_dirty_release(&e);
	sync_dirty_release(&d);
	sync_dirty_release(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_matches_byte_map),
	    cmocka_unit_test(test_coalesce_bounded),
	    cmocka_unit_test(test_overflow_turns_unknown),
	    cmocka_unit_test(test_truncate_and_growth),
	    cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
