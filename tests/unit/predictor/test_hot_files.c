/* Unit tests of predictor/hot_files: the per-file settings callback
 * (pred_hot_req.tune) on a real series store: a file's own capacity makes
 * it hot where the request's would not, never keeps it cold whatever its
 * forecast, a longer window lengthens the horizon, and `all` returns the
 * files below their threshold too; the reactive trigger (a last bucket over
 * capacity is hot whatever the forecast) and the replica inputs (last
 * bucket, the window's highest 95% bound). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "predictor/hot_files.h"
#include "tests/unit/tmpdir.h"

#define NOW 1800000000 /* a multiple of 60 */
#define NB 120	       /* one-minute buckets of history */

static void make_id(uint8_t id[PRED_ID_LEN], unsigned n)
{
	memset(id, 0, PRED_ID_LEN);
	id[0] = 0xcd;
	id[6] = 0x40;
	id[8] = 0x80;
	id[12] = (uint8_t)n;
}

/* A store of NB one-minute buckets of nfiles files (ids 0.., or id_base..)
 * named paths[], file f read reads(f, k) times in bucket k. */
static struct pred_store *store_of(const char *dir, unsigned nfiles, unsigned id_base,
				   const char *const *paths, uint64_t (*reads)(unsigned f, int k))
{
	struct pred_store *st = NULL;
	char err[256];
	assert_int_equal(pred_store_open(dir, NULL, false, &st, err, sizeof(err)), 0);
	for (int k = 0; k < NB; k++) {
		int64_t start = NOW - (int64_t)(NB - k) * 60;
		struct pred_file_bucket b[2];
		memset(b, 0, sizeof(b));
		for (unsigned f = 0; f < nfiles && f < 2; f++) {
			make_id(b[f].id, id_base + f);
			b[f].path = paths[f];
			b[f].start = start;
			b[f].width = 60;
			b[f].c.opens = 1;
			b[f].c.reads = reads(f, k);
		}
		struct pred_host_bucket h = {.start = start, .width = 60};
		assert_int_equal(pred_store_flush(st, b, nfiles, &h, start + 60), 0);
	}
	return st;
}

/* One one-minute bucket of file id n (a bucket added to a store). */
static struct pred_file_bucket minute_bucket(unsigned n, const char *path, int64_t start,
					     uint64_t reads)
{
	struct pred_file_bucket b;
	memset(&b, 0, sizeof(b));
	make_id(b.id, n);
	b.path = path;
	b.start = start;
	b.width = 60;
	b.c.reads = reads;
	return b;
}

static uint64_t steady_reads(unsigned f, int k)
{
	return (f ? 12 : 18) + (uint64_t)((k * 7 + (int)f * 3) % 5);
}

/* Files "a" and "b" read about 20 and 14 times a minute for two hours. */
static struct pred_store *make_store(const char *dir)
{
	static const char *const paths[] = {"d/a", "d/b"};
	return store_of(dir, 2, 0, paths, steady_reads);
}

struct tune_case {
	double cap_a;
	bool never_a;
	unsigned window_b;
	int calls;
};

static void tune(void *arg, const uint8_t id[PRED_ID_LEN], const char *path,
		 struct pred_hot_tuning *t)
{
	struct tune_case *c = arg;
	c->calls++;
	assert_true(!strcmp(path, "d/a") || !strcmp(path, "d/b"));
	if (id[12] == 0) {
		t->capacity = c->cap_a;
		t->never = c->never_a;
		t->threshold = 0.5;
	} else if (c->window_b) {
		t->window = c->window_b;
	}
}

static const struct pred_hot_file *find(const struct pred_hot_file *f, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].path, p))
			return &f[i];
	return NULL;
}

static void test_tune(void **state)
{
	(void)state;
	char *dir = tmpdir_make("hot");
	struct pred_store *st = make_store(dir);
	struct tune_case c = {.cap_a = 2};
	struct pred_hot_req r = {.bucket_s = 60, .history_s = 6 * 3600, .horizon = 2, .window = 2,
				 .top_n = 10, .capacity = 1000, .threshold = 0.8, .now = NOW};
	struct pred_hot_file *f = NULL;
	size_t n = 0;
	/* The request's capacity: nothing is hot. */
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 0);
	pred_hot_files_free(f, n);
	/* a's own capacity 2 and threshold 0.5: a is hot, b (1000) is not. */
	r.tune = tune;
	r.tune_arg = &c;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].path, "d/a");
	assert_true(f[0].hot && f[0].capacity == 2 && f[0].threshold == 0.5);
	assert_true(f[0].p_exceed >= 0.5);
	assert_int_equal(f[0].start, NOW);
	pred_hot_files_free(f, n);
	/* all: b comes too, cold, with the request's settings; b's window 8
	 * lengthens every model's horizon. */
	r.all = true;
	c.window_b = 8;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 2);
	const struct pred_hot_file *a = find(f, n, "d/a"), *b = find(f, n, "d/b");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->hot);
	assert_false(b->hot);
	assert_true(b->capacity == 1000 && b->threshold == 0.8);
	assert_int_equal(b->window, 8);
	assert_int_equal(a->window, 2);
	assert_int_equal(b->fc.horizon, 8);
	assert_true(b->p_exceed < 0.8);
	pred_hot_files_free(f, n);
	/* never: forecast (all) but never hot, whatever its probability. */
	c.never_a = true;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	a = find(f, n, "d/a");
	assert_non_null(a);
	assert_false(a->hot);
	assert_true(a->p_exceed >= 0.5);
	pred_hot_files_free(f, n);
	r.all = false;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 0);
	pred_hot_files_free(f, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Files with settings of their own are forecast even when not among the
 * top_n busiest; ids without a record, and ids already in the top, are
 * skipped. */
static void test_extra(void **state)
{
	(void)state;
	char *dir = tmpdir_make("hotx");
	struct pred_store *st = make_store(dir);
	struct tune_case c = {.cap_a = 2};
	uint8_t extra[3][PRED_ID_LEN];
	make_id(extra[0], 1); /* b */
	make_id(extra[1], 7); /* never recorded */
	make_id(extra[2], 0); /* a, already the busiest */
	struct pred_hot_req r = {.bucket_s = 60, .history_s = 6 * 3600, .horizon = 2, .window = 2,
				 .top_n = 1, .capacity = 1000, .threshold = 0.8, .now = NOW,
				 .tune = tune, .tune_arg = &c, .all = true};
	struct pred_hot_file *f = NULL;
	size_t n = 0;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].path, "d/a");
	pred_hot_files_free(f, n);
	r.extra = (const uint8_t(*)[PRED_ID_LEN])extra;
	r.nextra = 3;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 2);
	assert_non_null(find(f, n, "d/a"));
	assert_non_null(find(f, n, "d/b"));
	pred_hot_files_free(f, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

static uint64_t burst_reads(unsigned f, int k)
{
	(void)f;
	return k == NB - 1 || k % 10 == 5 ? 40 : 3;
}

/* File "s" read 3 times a minute for two hours, with short bursts of 40
 * that never lasted (every tenth minute), the last minute one of them. */
static struct pred_store *make_spike_store(const char *dir)
{
	static const char *const paths[] = {"s"};
	return store_of(dir, 1, 3, paths, burst_reads);
}

/* A burst the forecast does not call at P >= 0.999 (bursts never lasted
 * a second minute): without react
 * the file is not hot; with it, it is, marked reactive, its last bucket
 * known (40 reads), and the 95% bound at least the median. */
static void test_react(void **state)
{
	(void)state;
	char *dir = tmpdir_make("hotr");
	struct pred_store *st = make_spike_store(dir);
	struct pred_hot_req r = {.bucket_s = 60, .history_s = 6 * 3600, .horizon = 2, .window = 2,
				 .top_n = 10, .capacity = 10, .threshold = 0.999, .now = NOW,
				 .all = true};
	struct pred_hot_file *f = NULL;
	size_t n = 0;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 1);
	assert_true(f[0].p_exceed < 0.999);
	assert_false(f[0].hot);
	assert_false(f[0].reactive);
	assert_true(f[0].last_demand == 40);
	pred_hot_files_free(f, n);
	r.react = true;
	r.all = false;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 1);
	assert_true(f[0].hot && f[0].reactive);
	assert_true(f[0].last_demand == 40);
	assert_true(f[0].demand_hi >= f[0].fc.point[0] && f[0].demand_hi >= f[0].fc.point[1]);
	pred_hot_files_free(f, n);
	/* a capacity above the burst: not hot either way */
	r.capacity = 40;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 0);
	pred_hot_files_free(f, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Buckets recorded in the future (the clock was ahead for a while, then put
 * right; they stay until real time passes their retention) are not
 * demand: the busiest files were ranked over [now - history, forever), so a
 * file busy only "tomorrow" took a top_n slot, then had no series before
 * now and was dropped: the files really busy were never forecast; and the
 * record's end is not a future host bucket. */
static void test_future_buckets(void **state)
{
	(void)state;
	char *dir = tmpdir_make("hotf");
	struct pred_store *st = make_store(dir);
	struct pred_file_bucket z = minute_bucket(9, "d/z", NOW + 86400, 1000000);
	struct pred_host_bucket zh = {.start = NOW + 86400, .width = 60};
	assert_int_equal(pred_store_flush(st, &z, 1, &zh, NOW + 86400), 0);
	struct pred_hot_req r = {.bucket_s = 60, .history_s = 6 * 3600, .horizon = 2, .window = 2,
				 .top_n = 1, .capacity = 2, .threshold = 0.8, .now = NOW,
				 .all = true};
	struct pred_hot_file *f = NULL;
	size_t n = 0;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 1); /* was 0: d/z took the one slot */
	assert_string_equal(f[0].path, "d/a");
	assert_true(f[0].hot);
	assert_int_equal(f[0].start, NOW);
	pred_hot_files_free(f, n);
	/* The mount stopped at NOW, looked at an hour later: the record ends
	 * at NOW, not at the future host bucket (was NOW + 3600: the hour
	 * without a mount read as an hour without reads). */
	r.now = NOW + 3600;
	assert_int_equal(pred_hot_files(st, &r, &f, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(f[0].start, NOW);
	pred_hot_files_free(f, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* A row far older than its tier's retention (edited in, or a store that
 * expiry never saw): the series starts at the retention before the
 * record's end, not at the row (400 days of one-minute steps, 576,000;
 * one at 1970 made shadowctl forecast allocate 14 GB). */
static void test_ancient_row(void **state)
{
	(void)state;
	char *dir = tmpdir_make("hota");
	struct pred_store *st = make_store(dir);
	struct pred_file_bucket z = minute_bucket(0, "d/a", NOW - 400 * 86400, 7);
	assert_int_equal(pred_store_flush(st, &z, 1, NULL, NOW), 0);
	double *y = NULL;
	size_t n = 0;
	int64_t first = 0;
	assert_int_equal(pred_hot_series(st, z.id, 0, 0, NOW / 60, 60, PRED_TOP_READS, &y, &n,
					 &first),
			 0);
	const struct pred_store_tiers *t = pred_store_get_tiers(st);
	assert_true(n <= (t->keep_s[0] + t->width_s[0]) / 60);
	assert_int_equal(n, NB); /* the recorded two hours */
	assert_int_equal(first, NOW / 60 - NB);
	free(y);
	pred_store_close(st);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tune),
	    cmocka_unit_test(test_extra),
	    cmocka_unit_test(test_react),
	    cmocka_unit_test(test_future_buckets),
	    cmocka_unit_test(test_ancient_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
