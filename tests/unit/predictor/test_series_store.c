/* Unit tests of predictor/series_store: round trips, roll-up, retention,
 * top-N, schema versioning, fallback ids, and crash consistency under kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "predictor/series_store.h"
#include "tests/unit/tmpdir.h"

static void make_id(uint8_t id[PRED_ID_LEN], unsigned n)
{
	memset(id, 0, PRED_ID_LEN);
	id[0] = 0xab;
	memcpy(id + 10, &n, sizeof(n));
	id[6] = 0x40; /* looks like a v4 uuid */
	id[8] = 0x80;
}

static struct pred_file_bucket fb(unsigned n, const char *path, int64_t start, uint64_t reads)
{
	struct pred_file_bucket b;
	memset(&b, 0, sizeof(b));
	make_id(b.id, n);
	b.path = path;
	b.start = start;
	b.c.opens = 1;
	b.c.reads = reads;
	b.c.read_bytes = reads * 4096;
	b.c.clients = 1 + (uint32_t)(reads % 3);
	b.c.lat_sum_ns = reads * 1000;
	b.c.lat_count = reads;
	b.c.lat_max_ns = 5000 + reads;
	b.c.lat_hist[0] = reads;
	return b;
}

static struct pred_store_tiers small_tiers(void)
{
	struct pred_store_tiers t = {.n = 3,
				     .width_s = {10, 60, 300},
				     .keep_s = {120, 600, 3600}};
	return t;
}

static struct pred_store *open_rw(const char *dir, const struct pred_store_tiers *t)
{
	struct pred_store *st = NULL;
	char err[256];
	int rc = pred_store_open(dir, t, false, &st, err, sizeof(err));
	if (rc)
		fprintf(stderr, "open: %s\n", err);
	assert_int_equal(rc, 0);
	return st;
}

/* Buckets of two files and of the host read back exactly as written; a
 * second flush to the same bucket adds to it; paths and ids resolve; a
 * flush without a path (NULL or "") keeps the stored one. */
static void test_round_trip(void **state)
{
	(void)state;
	char *dir = tmpdir_make("store");
	struct pred_store *st = open_rw(dir, NULL);
	struct pred_file_bucket b[2] = {fb(1, "a/x", 600, 100), fb(2, "b", 600, 10)};
	struct pred_disk_bucket disks[2] = {{.device = "sda", .reads = 5, .read_bytes = 4096},
					    {.device = "sdb", .writes = 7}};
	struct pred_host_bucket h = {.start = 600, .cpu_pct = 12.5, .mem_total_kb = 1000,
				     .mem_avail_kb = 400, .net_rx_bytes = 9, .net_tx_bytes = 8,
				     .inflight_max = 3, .inflight_avg = 1.5, .tail_events = 4,
				     .ndisks = 2, .disks = disks};
	assert_int_equal(pred_store_flush(st, b, 2, &h, 660), 0);
	b[0].path = NULL; /* keeps the stored path */
	assert_int_equal(pred_store_flush(st, b, 1, NULL, 661), 0);
	struct pred_file_bucket empty = fb(1, "", 600, 0); /* so does "", stored as none */
	empty.c.opens = 0;
	assert_int_equal(pred_store_flush(st, &empty, 1, NULL, 662), 0);

	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(st, b[0].id, 0, 0, 100000, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].start, 600);
	assert_int_equal(s[0].width, 60);
	assert_string_equal(s[0].path, "a/x");
	assert_int_equal(s[0].c.opens, 2);
	assert_int_equal(s[0].c.reads, 200);
	assert_int_equal(s[0].c.read_bytes, 200 * 4096);
	assert_int_equal(s[0].c.clients, 2);
	assert_int_equal(s[0].c.lat_max_ns, 5100);
	assert_int_equal(s[0].c.lat_hist[0], 200);
	pred_file_buckets_free(s, n);

	uint8_t id[PRED_ID_LEN];
	assert_int_equal(pred_store_file_lookup_path(st, "b", id), 0);
	assert_memory_equal(id, b[1].id, PRED_ID_LEN);
	assert_int_equal(pred_store_file_lookup_path(st, "nope", id), -ENOENT);
	char *path = NULL;
	assert_int_equal(pred_store_file_path(st, b[0].id, &path), 0);
	assert_string_equal(path, "a/x");
	free(path);

	struct pred_host_bucket *hs = NULL;
	assert_int_equal(pred_store_host_series(st, 0, 0, 100000, &hs, &n), 0);
	assert_int_equal(n, 1);
	assert_true(hs[0].cpu_pct == 12.5);
	assert_int_equal(hs[0].mem_avail_kb, 400);
	assert_int_equal(hs[0].inflight_max, 3);
	assert_int_equal(hs[0].tail_events, 4);
	assert_int_equal(hs[0].ndisks, 2);
	assert_string_equal(hs[0].disks[0].device, "sda");
	int64_t end = -1;
	assert_int_equal(pred_store_record_end(st, 0, INT64_MAX, &end), 0);
	assert_int_equal(end, hs[0].start + hs[0].width);
	assert_int_equal(pred_store_record_end(st, 1, INT64_MAX, &end), 0);
	assert_int_equal(end, 0); /* no host bucket in tier 1 */
	assert_int_equal(hs[0].disks[0].read_bytes, 4096);
	assert_int_equal(hs[0].disks[1].writes, 7);
	pred_host_buckets_free(hs, n);
	uint64_t files = 0;
	assert_int_equal(pred_store_file_count(st, &files), 0);
	assert_int_equal(files, 2);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Top-N orders files by the chosen total over the window and honours N and
 * the window bounds. */
static void test_top_n(void **state)
{
	(void)state;
	char *dir = tmpdir_make("top");
	struct pred_store *st = open_rw(dir, NULL);
	struct pred_file_bucket b[4] = {fb(1, "one", 0, 5), fb(2, "two", 0, 50), fb(3, "three", 60, 20),
					fb(2, "two", 60, 1)};
	b[2].c.opens = 9;
	assert_int_equal(pred_store_flush(st, b, 4, NULL, 120), 0);
	struct pred_top_entry *t = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_top(st, 0, 0, 120, 2, PRED_TOP_READS, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].path, "two");
	assert_int_equal(t[0].c.reads, 51);
	assert_string_equal(t[1].path, "three");
	pred_top_entries_free(t, n);
	assert_int_equal(pred_store_top(st, 0, 0, 120, 10, PRED_TOP_OPENS, &t, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(t[0].path, "three");
	pred_top_entries_free(t, n);
	/* Window [60, 120) excludes the first bucket. */
	assert_int_equal(pred_store_top(st, 0, 60, 120, 10, PRED_TOP_READS, &t, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].path, "three");
	assert_int_equal(t[1].c.reads, 1);
	pred_top_entries_free(t, n);
	assert_int_equal(pred_store_top(st, 0, 0, 120, 0, PRED_TOP_READS, &t, &n), -EINVAL);
	assert_int_equal(pred_store_top(st, 7, 0, 120, 3, PRED_TOP_READS, &t, &n), -EINVAL);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Complete coarse buckets are sums of the fine ones (clients and latency max
 * take the max); maintaining twice never counts twice; the incomplete coarse
 * bucket is not rolled up yet. */
static void test_downsampling(void **state)
{
	(void)state;
	char *dir = tmpdir_make("down");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 130; s += 10) { /* 13 tier-0 buckets: 0..120 */
		struct pred_file_bucket b = fb(1, "f", s, (uint64_t)s / 10 + 1);
		struct pred_host_bucket h = {.start = s, .cpu_pct = (double)s, .net_rx_bytes = 10,
					     .inflight_max = (uint32_t)s};
		assert_int_equal(pred_store_flush(st, &b, 1, &h, s + 10), 0);
	}
	assert_int_equal(pred_store_maintain(st, 130), 0);
	assert_int_equal(pred_store_maintain(st, 130), 0);
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	uint8_t id[PRED_ID_LEN];
	make_id(id, 1);
	assert_int_equal(pred_store_file_series(st, id, 1, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 2); /* [0,60) and [60,120); [120,180) is incomplete */
	assert_int_equal(s[0].start, 0);
	assert_int_equal(s[0].width, 60);
	assert_int_equal(s[0].c.reads, 1 + 2 + 3 + 4 + 5 + 6);
	assert_int_equal(s[0].c.opens, 6);
	assert_int_equal(s[1].c.reads, 7 + 8 + 9 + 10 + 11 + 12);
	assert_int_equal(s[1].c.clients, 3); /* max over (reads % 3) + 1 */
	assert_int_equal(s[1].c.lat_max_ns, 5012);
	pred_file_buckets_free(s, n);
	struct pred_host_bucket *h = NULL;
	assert_int_equal(pred_store_host_series(st, 1, 0, 1000, &h, &n), 0);
	assert_int_equal(n, 2);
	assert_true(h[0].cpu_pct == 25.0); /* mean of 0..50 */
	assert_int_equal(h[0].net_rx_bytes, 60);
	assert_int_equal(h[1].inflight_max, 110);
	pred_host_buckets_free(h, n);
	/* Tier 2 (300 s) has no complete bucket yet. */
	assert_int_equal(pred_store_file_series(st, id, 2, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 0);
	assert_null(s);
	/* Later, the rest rolls up: [120,180) into tier 1 and [0,300) into tier 2. */
	assert_int_equal(pred_store_maintain(st, 300), 0);
	assert_int_equal(pred_store_file_series(st, id, 2, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].c.reads, 13 * 14 / 2);
	pred_file_buckets_free(s, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Each tier keeps only its retention window; coarse tiers keep what fine
 * tiers dropped; a file with no recent activity is forgotten. */
static void test_retention(void **state)
{
	(void)state;
	char *dir = tmpdir_make("ret");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 600; s += 10) {
		struct pred_file_bucket b = fb(1, "f", s, 1);
		assert_int_equal(pred_store_flush(st, &b, 1, NULL, s + 10), 0);
		assert_int_equal(pred_store_maintain(st, s + 10), 0);
	}
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	uint8_t id[PRED_ID_LEN];
	make_id(id, 1);
	assert_int_equal(pred_store_file_series(st, id, 0, 0, 100000, &s, &n), 0);
	assert_int_equal(n, 12); /* 120 s of 10 s buckets: starts 480..590 */
	assert_int_equal(s[0].start, 480);
	pred_file_buckets_free(s, n);
	assert_int_equal(pred_store_file_series(st, id, 1, 0, 100000, &s, &n), 0);
	assert_int_equal(n, 10); /* [0,600) in 60 s buckets */
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += s[i].c.reads;
	assert_int_equal(total, 60);
	pred_file_buckets_free(s, n);
	/* After the longest retention, the file and all its buckets are gone. */
	assert_int_equal(pred_store_maintain(st, 600 + 3600 + 300), 0);
	uint64_t files = 9;
	assert_int_equal(pred_store_file_count(st, &files), 0);
	assert_int_equal(files, 0);
	for (int tier = 0; tier < 3; tier++) {
		assert_int_equal(pred_store_file_series(st, id, tier, 0, 100000, &s, &n), 0);
		assert_int_equal(n, 0);
	}
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* The wall clock set ahead for a while (a wrong RTC at boot, then NTP), or a
 * store copied from a host whose clock was ahead: the roll-up watermarks
 * were left in the future, and once the clock was right again nothing was
 * rolled up into the coarser tiers until real time caught up with them; the
 * finest tier expired meanwhile and every bucket recorded in between was
 * lost from all tiers. The roll-up now restarts where the coarser tier's
 * own record ends (nothing is counted twice). */
static void test_rollup_after_clock_back(void **state)
{
	(void)state;
	char *dir = tmpdir_make("clockback");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 120; s += 10) {
		struct pred_file_bucket b = fb(1, "f", s, 1);
		struct pred_host_bucket h = {.start = s};
		assert_int_equal(pred_store_flush(st, &b, 1, &h, s + 10), 0);
		assert_int_equal(pred_store_maintain(st, s + 10), 0);
	}
	/* One maintenance pass with the clock 5 minutes ahead (within every
	 * tier's retention but the finest), then right again. */
	assert_int_equal(pred_store_maintain(st, 420), 0);
	for (int64_t s = 120; s < 600; s += 10) {
		struct pred_file_bucket b = fb(1, "f", s, 1);
		struct pred_host_bucket h = {.start = s};
		assert_int_equal(pred_store_flush(st, &b, 1, &h, s + 10), 0);
		assert_int_equal(pred_store_maintain(st, s + 10), 0);
	}
	uint8_t id[PRED_ID_LEN];
	make_id(id, 1);
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	for (int tier = 1; tier <= 2; tier++) {
		assert_int_equal(pred_store_file_series(st, id, tier, 0, 600, &s, &n), 0);
		uint64_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += s[i].c.reads;
		pred_file_buckets_free(s, n);
		if (tier == 1) { /* every 10 s bucket of [0, 600) once (was 30) */
			assert_int_equal(total, 60);
		} else {
			/* [0, 600) less [120, 300), recorded after its tier-2
			 * bucket was rolled up at 420 (was 30); nothing twice */
			assert_int_equal(total, 42);
		}
	}
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Counters whose sum passes INT64_MAX (a bucket edited into the store, or
 * grown past it): sqlite's sum() failed with "integer overflow", which
 * stopped every roll-up and every expiry behind it for good, and failed
 * every top query. Sums saturate now. */
static void test_sum_overflow(void **state)
{
	(void)state;
	char *dir = tmpdir_make("sumover");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 60; s += 10) {
		struct pred_file_bucket b = fb(1, "f", s, 1);
		b.c.reads = 5000000000000000000ull;
		assert_int_equal(pred_store_flush(st, &b, 1, NULL, s + 10), 0);
	}
	struct pred_top_entry *e = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_top(st, 0, 0, 60, 5, PRED_TOP_READS, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_true(e[0].c.reads == INT64_MAX);
	pred_top_entries_free(e, n);
	assert_int_equal(pred_store_maintain(st, 60), 0);
	uint8_t id[PRED_ID_LEN];
	make_id(id, 1);
	struct pred_file_bucket *s = NULL;
	assert_int_equal(pred_store_file_series(st, id, 1, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_true(s[0].c.reads == INT64_MAX);
	assert_int_equal(s[0].c.opens, 6);
	pred_file_buckets_free(s, n);
	/* expiry runs again: tier 0 is emptied past its retention */
	assert_int_equal(pred_store_maintain(st, 60 + 120 + 60), 0);
	assert_int_equal(pred_store_file_series(st, id, 0, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 0);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Runs sql on the store in dir with sqlite (an edit by hand). */
static void edit_store(const char *dir, const char *sql)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	char *msg = NULL;
	int r = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (r != SQLITE_OK)
		fprintf(stderr, "edit: %s\n", msg);
	assert_int_equal(r, SQLITE_OK);
	sqlite3_close(db);
}

/* A store edited by hand (or damaged): negative counts, text and blobs
 * where numbers belong, a start before 1970, widths of 0 and -7, a
 * malformed file id. Reads skip those rows and count them: a negative
 * count read as 2^64 minus it (top, stats, the forecasts), text as 0, a
 * width of -7 as 4294967289 s and moved the record's end, an infinite
 * inflight_avg printed 'inf' (a cpu_pct of 500 now reads as 100), one bad id
 * failed every top query (shadowctl top, forecast, the mount's forecasts).
 * Roll-ups carry none of them into the coarser tiers. */
static void test_damaged_rows(void **state)
{
	(void)state;
	char *dir = tmpdir_make("damaged");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 120; s += 10) {
		struct pred_file_bucket b[2] = {fb(1, "f", s, 2), fb(2, "g", s, 1)};
		struct pred_disk_bucket d = {.device = "vda", .reads = 1};
		struct pred_host_bucket h = {.start = s, .cpu_pct = 10, .ndisks = 1, .disks = &d};
		assert_int_equal(pred_store_flush(st, b, 2, &h, s + 10), 0);
	}
	pred_store_close(st);
	edit_store(dir, "UPDATE file_buckets SET reads = -500 WHERE start = 0;"
			"UPDATE file_buckets SET opens = 'many' WHERE start = 10;"
			"UPDATE file_buckets SET read_bytes = x'00ff' WHERE start = 20;"
			"UPDATE file_buckets SET width = 0 WHERE start = 30;"
			"UPDATE file_buckets SET width = -7 WHERE start = 40;"
			"UPDATE file_buckets SET clients = -1.5 WHERE start = 50;"
			"INSERT INTO file_buckets(tier, file, start, width, reads)"
			" SELECT 0, file, -3600, 10, 1 FROM file_buckets WHERE start = 60;"
			"UPDATE files SET uuid = 'not-a-uuid' WHERE path = 'g';"
			"UPDATE host_buckets SET width = -100000 WHERE start = 110;"
			"UPDATE host_buckets SET cpu_pct = 'busy' WHERE start = 100;"
			"UPDATE host_buckets SET inflight_avg = 9e999 WHERE start = 80;"
			"UPDATE host_buckets SET cpu_pct = 500 WHERE start = 70;"
			"UPDATE disk_buckets SET reads = -1 WHERE start = 90;");
	st = open_rw(dir, &t);
	assert_int_equal(pred_store_damaged_rows(st), 0);
	uint8_t id[PRED_ID_LEN];
	make_id(id, 1);
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(st, id, 0, -7200, 120, &s, &n), 0);
	assert_int_equal(n, 6); /* 60 .. 110 */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(s[i].start, 60 + 10 * (int64_t)i);
		assert_int_equal(s[i].width, 10);
		assert_int_equal(s[i].c.reads, 2);
	}
	pred_file_buckets_free(s, n);
	assert_int_equal(pred_store_damaged_rows(st), 7); /* 6 edited, 1 before 1970 */
	struct pred_top_entry *e = NULL;
	assert_int_equal(pred_store_top(st, 0, -7200, 120, 5, PRED_TOP_READS, &e, &n), 0);
	assert_int_equal(n, 1); /* g's id is malformed */
	assert_string_equal(e[0].path, "f");
	assert_int_equal(e[0].c.reads, 12);
	assert_int_equal(e[0].c.opens, 6);
	pred_top_entries_free(e, n);
	assert_int_equal(pred_store_file_lookup_path(st, "g", id), -ENOENT);
	struct pred_host_bucket *h = NULL;
	assert_int_equal(pred_store_host_series(st, 0, 0, 120, &h, &n), 0);
	assert_int_equal(n, 9); /* 80 (infinite), 100 and 110 skipped */
	assert_int_equal(h[8].start, 90);
	assert_int_equal(h[8].ndisks, 0); /* its disk row is damaged */
	assert_int_equal(h[7].ndisks, 1);
	assert_int_equal(h[7].start, 70);
	assert_true(h[7].cpu_pct == 100.0); /* 500 clamped */
	pred_host_buckets_free(h, n);
	int64_t end = 0;
	assert_int_equal(pred_store_record_end(st, 0, INT64_MAX, &end), 0);
	assert_int_equal(end, 100); /* 90 + 10: 110's width is -100000 */
	/* roll-ups into 60 s buckets: only the good rows of f */
	assert_int_equal(pred_store_maintain(st, 120), 0);
	make_id(id, 1);
	assert_int_equal(pred_store_file_series(st, id, 1, 0, 120, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].start, 60);
	assert_int_equal(s[0].c.reads, 12);
	pred_file_buckets_free(s, n);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* A roll-up watermark deleted or overwritten by hand (text, negative):
 * it read as 0 and the next roll-up added every finer bucket still kept
 * into the coarser tier again, counting each twice. The roll-up restarts
 * where the coarser tier's record ends, as after a clock put back. */
static void test_rollup_watermark_damaged(void **state)
{
	(void)state;
	static const char *const edits[] = {
	    "DELETE FROM meta WHERE key = 'rollup_1'",
	    "UPDATE meta SET value = 'garbage' WHERE key = 'rollup_1'",
	    "UPDATE meta SET value = -600 WHERE key = 'rollup_1'",
	};
	for (size_t e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
		char *dir = tmpdir_make("watermark");
		struct pred_store_tiers t = small_tiers();
		struct pred_store *st = open_rw(dir, &t);
		for (int64_t s = 0; s < 120; s += 10) {
			struct pred_file_bucket b = fb(1, "f", s, 1);
			assert_int_equal(pred_store_flush(st, &b, 1, NULL, s + 10), 0);
		}
		assert_int_equal(pred_store_maintain(st, 120), 0);
		pred_store_close(st);
		edit_store(dir, edits[e]);
		st = open_rw(dir, &t);
		for (int64_t s = 120; s < 180; s += 10) {
			struct pred_file_bucket b = fb(1, "f", s, 1);
			assert_int_equal(pred_store_flush(st, &b, 1, NULL, s + 10), 0);
		}
		assert_int_equal(pred_store_maintain(st, 180), 0);
		uint8_t id[PRED_ID_LEN];
		make_id(id, 1);
		struct pred_file_bucket *s = NULL;
		size_t n = 0;
		assert_int_equal(pred_store_file_series(st, id, 1, 0, 1000, &s, &n), 0);
		uint64_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += s[i].c.reads;
		pred_file_buckets_free(s, n);
		assert_int_equal(total, 18); /* each 10 s bucket of [0, 180) once (was 30) */
		pred_store_close(st);
		tmpdir_remove(dir);
	}
}

/* A store mounted again with fewer tiers: the rows of the tiers it no
 * longer has were never expired (nor rolled up, nor readable), past their
 * own retention; maintenance drops them. */
static void test_fewer_tiers(void **state)
{
	(void)state;
	char *dir = tmpdir_make("fewer");
	struct pred_store_tiers t = small_tiers();
	struct pred_store *st = open_rw(dir, &t);
	for (int64_t s = 0; s < 300; s += 10) {
		struct pred_file_bucket b = fb(1, "f", s, 1);
		struct pred_host_bucket h = {.start = s};
		assert_int_equal(pred_store_flush(st, &b, 1, &h, s + 10), 0);
	}
	assert_int_equal(pred_store_maintain(st, 300), 0);
	pred_store_close(st);
	struct pred_store_tiers one = {.n = 1, .width_s = {10}, .keep_s = {120}};
	st = open_rw(dir, &one);
	assert_int_equal(pred_store_maintain(st, 310), 0);
	pred_store_close(st);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	static const char *const q[] = {"SELECT count(*) FROM file_buckets WHERE tier > 0",
					 "SELECT count(*) FROM host_buckets WHERE tier > 0"};
	for (int i = 0; i < 2; i++) {
		sqlite3_stmt *s = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, q[i], -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(s, 0), 0); /* was 6 and 6 */
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	tmpdir_remove(dir);
}

/* A store written by another schema version is refused with a clear error;
 * a missing store is ENOENT for readers; bad tiers are EINVAL. */
static void test_schema_and_errors(void **state)
{
	(void)state;
	char *dir = tmpdir_make("schema");
	struct pred_store *st = NULL;
	char err[256] = "";
	assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), -ENOENT);
	assert_null(st);
	assert_non_null(strstr(err, "no series store"));
	struct pred_store_tiers t = small_tiers();
	t.width_s[1] = 25; /* not a multiple of 10 */
	assert_int_equal(pred_store_open(dir, &t, false, &st, err, sizeof(err)), -EINVAL);
	t = small_tiers();
	t.keep_s[0] = 30; /* shorter than one tier-1 bucket */
	assert_int_equal(pred_store_tiers_check(&t), -EINVAL);

	st = open_rw(dir, NULL);
	pred_store_close(st);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pred_store_open(dir, NULL, false, &st, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "schema version 7"));
	assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), -EPROTO);

	/* Garbage instead of a database. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not sqlite, just some text that is long enough to matter......\n", f);
	fclose(f);
	unlink(strcat(strcpy(err, path), "-wal"));
	assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "not a readable series store"));
	tmpdir_remove(dir);
}

/* A store is read by root's shadowctl for a user's mount, and the user
 * writes that file: a table swapped for a view (which could compute what
 * is read, with the schema's functions) is refused when read, not used. */
static void test_views_refused(void **state)
{
	(void)state;
	char *dir = tmpdir_make("view");
	struct pred_store *st = open_rw(dir, NULL);
	struct pred_file_bucket b = fb(1, "f", 60, 3);
	assert_int_equal(pred_store_flush(st, &b, 1, NULL, 120), 0);
	pred_store_close(st);
	uint8_t id[PRED_ID_LEN];
	char path[512], err[256];
	snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
	assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), 0);
	assert_int_equal(pred_store_file_lookup_path(st, "f", id), 0); /* as written */
	pred_store_close(st);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE files RENAME TO files_real;"
					  "CREATE VIEW files AS SELECT * FROM files_real;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), 0);
	int rc = pred_store_file_lookup_path(st, "f", id);
	assert_true(rc < 0 && rc != -ENOENT);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* Without xattrs, a path keeps the first id given to it, and a rename keeps
 * the id with the new path. */
static void test_path_fallback(void **state)
{
	(void)state;
	char *dir = tmpdir_make("path");
	struct pred_store *st = open_rw(dir, NULL);
	uint8_t p1[PRED_ID_LEN], p2[PRED_ID_LEN], got[PRED_ID_LEN];
	make_id(p1, 11);
	make_id(p2, 12);
	assert_int_equal(pred_store_resolve_path(st, "d/f", p1, 100, got), 0);
	assert_memory_equal(got, p1, PRED_ID_LEN);
	assert_int_equal(pred_store_resolve_path(st, "d/f", p2, 101, got), 0);
	assert_memory_equal(got, p1, PRED_ID_LEN);
	assert_int_equal(pred_store_rename_path(st, "d/f", "d/g"), 0);
	assert_int_equal(pred_store_resolve_path(st, "d/g", p2, 102, got), 0);
	assert_memory_equal(got, p1, PRED_ID_LEN);
	pred_store_close(st);
	tmpdir_remove(dir);
}

/* A reader opened read-only sees what a live writer has committed (WAL). */
static void test_reader_beside_writer(void **state)
{
	(void)state;
	char *dir = tmpdir_make("wal");
	struct pred_store *w = open_rw(dir, NULL);
	struct pred_file_bucket b = fb(1, "f", 60, 3);
	assert_int_equal(pred_store_flush(w, &b, 1, NULL, 120), 0);
	struct pred_store *r = NULL;
	char err[256];
	assert_int_equal(pred_store_open(dir, NULL, true, &r, err, sizeof(err)), 0);
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(r, b.id, 0, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].c.reads, 3);
	pred_file_buckets_free(s, n);
	b.start = 120;
	assert_int_equal(pred_store_flush(w, &b, 1, NULL, 180), 0);
	assert_int_equal(pred_store_file_series(r, b.id, 0, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 2);
	pred_file_buckets_free(s, n);
	assert_int_equal(pred_store_flush(r, &b, 1, NULL, 180), -EROFS);
	pred_store_close(r);
	pred_store_close(w);
	tmpdir_remove(dir);
}

/* The writer closed while a reader stays open (the mount: the recorder
 * stops before the shadowing layer's reader): series.db alone, without
 * its -wal, holds the history. Before, it held no schema at all. */
static void test_writer_close_checkpoints(void **state)
{
	(void)state;
	char *dir = tmpdir_make("ckpt");
	struct pred_store *w = open_rw(dir, NULL);
	struct pred_file_bucket b = fb(1, "f", 60, 3);
	assert_int_equal(pred_store_flush(w, &b, 1, NULL, 120), 0);
	struct pred_store *r = NULL;
	char err[256];
	assert_int_equal(pred_store_open(dir, NULL, true, &r, err, sizeof(err)), 0);
	pred_store_close(w);
	pred_store_close(r);
	/* series.db alone, as a backup copies it, in a directory of its own. */
	char *alone = tmpdir_make("ckpt-alone");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp %s/%s %s/", dir, PRED_STORE_DB_NAME, alone);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(pred_store_open(alone, NULL, true, &r, err, sizeof(err)), 0);
	struct pred_file_bucket *s = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(r, b.id, 0, 0, 1000, &s, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].c.reads, 3);
	pred_file_buckets_free(s, n);
	pred_store_close(r);
	tmpdir_remove(alone);
	tmpdir_remove(dir);
}

/* A reader learns the writer's tiers (a 10 s bucket is not read as the
 * default 60 s), and a reader's explicit tiers win. */
static void test_reader_learns_tiers(void **state)
{
	(void)state;
	char *dir = tmpdir_make("tiers");
	struct pred_store_tiers t;
	assert_int_equal(pred_store_tiers_parse("10s:1h/5m:1d", &t), 0);
	struct pred_store *w = open_rw(dir, &t);
	struct pred_store *r = NULL;
	char err[256];
	assert_int_equal(pred_store_open(dir, NULL, true, &r, err, sizeof(err)), 0);
	const struct pred_store_tiers *rt = pred_store_get_tiers(r);
	assert_int_equal(rt->n, 2);
	assert_int_equal(rt->width_s[0], 10);
	assert_int_equal(rt->keep_s[0], 3600);
	assert_int_equal(rt->width_s[1], 300);
	assert_int_equal(rt->keep_s[1], 86400);
	pred_store_close(r);
	struct pred_store_tiers d;
	pred_store_tiers_default(&d);
	assert_int_equal(pred_store_open(dir, &d, true, &r, err, sizeof(err)), 0);
	assert_int_equal(pred_store_get_tiers(r)->width_s[0], 60);
	pred_store_close(r);
	pred_store_close(w);
	tmpdir_remove(dir);
}

#define CRASH_FILES 300

static void crash_child(const char *dir, int fd)
{
	struct pred_store *st = NULL;
	if (pred_store_open(dir, NULL, false, &st, NULL, 0))
		_exit(3);
	static struct pred_file_bucket b[CRASH_FILES];
	for (int64_t bucket = 0;; bucket++) {
		for (unsigned i = 0; i < CRASH_FILES; i++)
			b[i] = fb(i, "crash/file", bucket * 60, (uint64_t)bucket + 1);
		if (pred_store_flush(st, b, CRASH_FILES, NULL, bucket * 60 + 60))
			_exit(4);
		if (write(fd, &bucket, sizeof(bucket)) != sizeof(bucket))
			_exit(5);
	}
}

/* kill -9 in the middle of flushing: the database opens, passes sqlite's
 * integrity check, holds every bucket whose flush completed, and no bucket
 * is half written. */
static void test_crash_consistency(void **state)
{
	(void)state;
	char *dir = tmpdir_make("crash");
	for (int round = 0; round < 3; round++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(p[0]);
			crash_child(dir, p[1]);
		}
		close(p[1]);
		int64_t done = -1, v;
		for (int k = 0; k < 4 + round * 3; k++) {
			assert_int_equal(read(p[0], &v, sizeof(v)), sizeof(v));
			done = v;
		}
		kill(pid, SIGKILL);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while (read(p[0], &v, sizeof(v)) == sizeof(v)) /* reports before the kill */
			done = v;
		close(p[0]);

		struct pred_store *st = NULL;
		char err[256];
		assert_int_equal(pred_store_open(dir, NULL, true, &st, err, sizeof(err)), 0);
		for (unsigned i = 0; i < CRASH_FILES; i += 37) {
			uint8_t id[PRED_ID_LEN];
			make_id(id, i);
			struct pred_file_bucket *s = NULL;
			size_t n = 0;
			assert_int_equal(pred_store_file_series(st, id, 0, 0, 1 << 30, &s, &n), 0);
			assert_true((int64_t)n >= done + 1);
			pred_file_buckets_free(s, n);
		}
		struct pred_top_entry *t = NULL;
		size_t n = 0;
		/* Per bucket: either every file's row or none (all have equal counts). */
		assert_int_equal(pred_store_top(st, 0, 0, 1 << 30, CRASH_FILES + 1, PRED_TOP_READS, &t, &n), 0);
		assert_int_equal(n, CRASH_FILES);
		for (size_t i = 1; i < n; i++)
			assert_int_equal(t[i].c.reads, t[0].c.reads);
		pred_top_entries_free(t, n);
		pred_store_close(st);

		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
		sqlite3 *db = NULL;
		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_stmt *s = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	tmpdir_remove(dir);
}

/* Tier specifications parse into widths and retentions; malformed or
 * inconsistent ones are refused. */
static void test_tiers_parse(void **state)
{
	(void)state;
	struct pred_store_tiers t;
	assert_int_equal(pred_store_tiers_parse("1m:2d/15m:30d/1h:1y", &t), 0);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.width_s[0], 60);
	assert_int_equal(t.keep_s[0], 2 * 86400);
	assert_int_equal(t.width_s[2], 3600);
	assert_int_equal(t.keep_s[2], 365 * 86400);
	assert_int_equal(pred_store_tiers_parse("10:1h", &t), 0);
	assert_int_equal(t.n, 1);
	assert_int_equal(t.width_s[0], 10);
	const char *bad[] = {"", "1m", "1m:", ":2d", "1m:2d/", "1m:2d/90s:1d", "0:1d", "1x:1d",
			     "1m:2d/15m:30d/1h:1y/2h:2y/4h:3y", "-1:1d", "1m:30s", "99999999999:1d",
			     " 1m:2d", "1m: 2d", "1m:2d/ 15m:30d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(pred_store_tiers_parse(bad[i], &t), -EINVAL);
	/* durations are digits first (shadowctl --window ' 5m' was 5m) */
	uint32_t d;
	assert_int_equal(pred_parse_duration("5m", &d), 0);
	assert_int_equal(d, 300);
	const char *bad_d[] = {" 5m", "\t5", "+5", "-5", "5m ", ""};
	for (size_t i = 0; i < sizeof(bad_d) / sizeof(bad_d[0]); i++)
		if (pred_parse_duration(bad_d[i], &d) != -EINVAL)
			fail_msg("duration '%s' accepted", bad_d[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_top_n),
		cmocka_unit_test(test_downsampling),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_rollup_after_clock_back),
		cmocka_unit_test(test_sum_overflow),
		cmocka_unit_test(test_fewer_tiers),
		cmocka_unit_test(test_damaged_rows),
		cmocka_unit_test(test_rollup_watermark_damaged),
		cmocka_unit_test(test_schema_and_errors),
		cmocka_unit_test(test_views_refused),
		cmocka_unit_test(test_path_fallback),
		cmocka_unit_test(test_reader_beside_writer),
		cmocka_unit_test(test_reader_learns_tiers),
		cmocka_unit_test(test_writer_close_checkpoints),
		cmocka_unit_test(test_crash_consistency),
		cmocka_unit_test(test_tiers_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
