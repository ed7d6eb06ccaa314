/* Unit tests of the recording options of fs/options: bucket=, track=,
 * tiers=, norecord / record=: defaults, values, and one clear message per
 * bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "fs/options.h"

static int parse(const char *opt, struct fs_options *o, char *err, size_t errlen)
{
	struct fuse_args a;
	const char *argv[] = {"shadowfs", "/b", "/m", "-o", opt};
	int rc = fs_options_parse(opt ? 5 : 3, (char **)argv, o, &a, err, errlen);
	if (rc == 0)
		fuse_opt_free_args(&a);
	return rc;
}

/* Without options recording is on, 60 s buckets, 10000 tracked files. */
static void test_defaults(void **state)
{
	(void)state;
	struct fs_options o;
	char err[256];
	assert_int_equal(parse(NULL, &o, err, sizeof(err)), 0);
	assert_true(o.record);
	assert_int_equal(o.bucket_s, 60);
	assert_int_equal(o.track, 10000);
	assert_false(o.have_tiers);
	fs_options_free(&o);
}

/* Each option sets what it names; tiers= also sets the bucket. */
static void test_values(void **state)
{
	(void)state;
	struct fs_options o;
	char err[256];
	assert_int_equal(parse("bucket=5,track=2k,record=0", &o, err, sizeof(err)), 0);
	assert_int_equal(o.bucket_s, 5);
	assert_int_equal(o.track, 2048);
	assert_false(o.record);
	fs_options_free(&o);
	assert_int_equal(parse("norecord,record", &o, err, sizeof(err)), 0);
	assert_true(o.record);
	fs_options_free(&o);
	assert_int_equal(parse("tiers=10s:1h/1m:1d", &o, err, sizeof(err)), 0);
	assert_true(o.have_tiers);
	assert_int_equal(o.bucket_s, 10);
	assert_int_equal(o.tiers.n, 2);
	assert_int_equal(o.tiers.keep_s[1], 86400);
	fs_options_free(&o);
	assert_int_equal(parse("bucket=10,tiers=10s:1h", &o, err, sizeof(err)), 0);
	fs_options_free(&o);
}

/* Bad values are refused with a message naming the option. */
static void test_bad(void **state)
{
	(void)state;
	const char *bad[] = {"bucket=0", "bucket=86401", "bucket=x", "track=1", "track=-5",
			     "record=maybe", "tiers=", "tiers=1m", "tiers=1m:2d/90s:1d",
			     "bucket=30,tiers=1m:2d", "tiers=2d:3d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fs_options o;
		char err[256] = "";
		assert_int_equal(parse(bad[i], &o, err, sizeof(err)), -EINVAL);
		assert_true(strstr(err, "bucket") || strstr(err, "track") || strstr(err, "record") ||
			    strstr(err, "tiers"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
