/* Unit tests of daemon/throttle (token buckets over a given clock) and the
 * pure parts of daemon/load (percentiles, /proc parsers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "daemon/load.h"
#include "daemon/throttle.h"

#define MS 1000000ull

/* The burst passes at once; beyond it the wait is debt / rate; tokens refill
 * with time but never above the burst. */
static void test_bucket(void **state)
{
	(void)state;
	struct daemon_bucket b;
	daemon_bucket_init(&b, 1000, 100, 0);
	assert_int_equal(daemon_bucket_reserve(&b, 100, 0), 0);
	assert_int_equal(daemon_bucket_reserve(&b, 50, 0), 50 * MS);
	/* 150 ms later: 150 tokens refilled, debt of 50 paid -> 100 (= burst) */
	assert_int_equal(daemon_bucket_reserve(&b, 100, 150 * MS), 0);
	/* 10 s idle: capped at the burst, so 200 tokens cost a 100 ms wait */
	assert_int_equal(daemon_bucket_reserve(&b, 200, 10150 * MS), 100 * MS);
	daemon_bucket_destroy(&b);
}

/* Over a long run the admitted rate equals the configured rate. */
static void test_bucket_rate(void **state)
{
	(void)state;
	struct daemon_bucket b;
	uint64_t now = 0;
	daemon_bucket_init(&b, 1e6, 1e5, 0); /* 1 MB/s */
	for (int i = 0; i < 1000; i++)	     /* 1000 requests of 10 kB = 10 MB */
		now += daemon_bucket_reserve(&b, 1e4, now);
	/* 10 MB at 1 MB/s, minus the initial 0.1 MB burst: 9.9 s (+-1%) */
	assert_true(now > 9.8e9 && now < 10.0e9);
	daemon_bucket_destroy(&b);
}

/* Rate 0 means unlimited. */
static void test_bucket_unlimited(void **state)
{
	(void)state;
	struct daemon_bucket b;
	daemon_bucket_init(&b, 0, 0, 0);
	assert_int_equal(daemon_bucket_reserve(&b, 1e12, 0), 0);
	daemon_bucket_destroy(&b);
}

/* daemon_throttle_bytes (a long read taken piece by piece) takes bytes only:
 * the read's one I/O token is daemon_throttle_read's. */
static void test_throttle_bytes_no_iop(void **state)
{
	(void)state;
	struct daemon_throttle t;
	daemon_throttle_init(&t, 0, 1); /* bytes unlimited, 1 I/O token of burst */
	double before = t.iops.tokens;
	for (int i = 0; i < 100; i++)
		daemon_throttle_bytes(&t, 1u << 20);
	assert_true(t.iops.tokens == before);
	daemon_throttle_read(&t, 0);
	assert_true(t.iops.tokens < before);
	daemon_throttle_destroy(&t);
}

/* Percentiles land in the bucket of the true value (within 19%). */
static void test_percentiles(void **state)
{
	(void)state;
	uint64_t h[160] = {0};
	for (uint64_t us = 1; us <= 1000; us++)
		h[daemon_load_bucket(us * 10)]++; /* 10 us .. 10 ms uniform */
	uint32_t p50 = daemon_load_percentile(h, 160, 0.5);
	uint32_t p99 = daemon_load_percentile(h, 160, 0.99);
	assert_true(p50 >= 5000 && p50 <= 5000 * 1.19 + 1);
	assert_true(p99 >= 9900 && p99 <= 9900 * 1.19 + 1);
	uint64_t empty[160] = {0};
	assert_int_equal(daemon_load_percentile(empty, 160, 0.5), 0);
	assert_int_equal(daemon_load_bucket(0), 0);
	assert_int_equal(daemon_load_bucket(UINT64_MAX), 159);
}

/* /proc parsers read the fields they promise and reject junk. */
static void test_proc_parsers(void **state)
{
	(void)state;
	uint64_t busy, total, rx, tx, ms[4];
	int n;
	assert_int_equal(
	    daemon_load_parse_stat("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3 4\n", &busy, &total), 0);
	assert_int_equal(total, 100);
	assert_int_equal(busy, 15);
	assert_int_equal(daemon_load_parse_stat("garbage", &busy, &total), -22);
	daemon_load_parse_diskstats("   7       0 loop0 1 0 2 0 0 0 0 0 0 999 0\n"
				    " 254       0 vda 100 0 200 30 40 0 80 60 0 1234 90\n",
				    ms, 4, &n);
	assert_int_equal(n, 1);
	assert_int_equal(ms[0], 1234);
	daemon_load_parse_netdev("Inter-| Receive\n face |bytes\n"
				 "    lo: 500 5 0 0 0 0 0 0 500 5 0 0 0 0 0 0\n"
				 "  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n",
				 &rx, &tx);
	assert_int_equal(rx, 1000);
	assert_int_equal(tx, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bucket),	     cmocka_unit_test(test_bucket_rate),
	    cmocka_unit_test(test_bucket_unlimited), cmocka_unit_test(test_percentiles),
	    cmocka_unit_test(test_proc_parsers),     cmocka_unit_test(test_throttle_bytes_no_iop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
