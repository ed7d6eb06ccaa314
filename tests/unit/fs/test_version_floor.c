/* Unit tests of fs/version_floor: each mount's versions start past the
 * range the previous one reserved, whatever the clock says; a damaged
 * record is said and the clock used; a state directory that cannot be
 * written is an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/version_floor.h"

static uint64_t recorded(const char *dir)
{
	char path[256], text[64] = "";
	snprintf(path, sizeof(path), "%s/%s", dir, FS_VERSION_FLOOR_FILE);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	return strtoull(text, NULL, 10);
}

static void put(const char *dir, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, FS_VERSION_FLOOR_FILE);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_ranges(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_version_floor.XXXXXX";
	assert_non_null(mkdtemp(dir));
	uint64_t first = 0, now = 1764000000000000u;
	bool damaged = true;
	/* First mount: the clock; its range recorded. */
	assert_int_equal(fs_version_floor_reserve(dir, now, &first, &damaged), 0);
	assert_false(damaged);
	assert_true(first == now);
	assert_true(recorded(dir) == now + FS_VERSION_SPAN);
	/* The clock set back an hour: the next mount starts past that range. */
	assert_int_equal(fs_version_floor_reserve(dir, now - 3600000000u, &first, &damaged), 0);
	assert_true(first == now + FS_VERSION_SPAN);
	assert_true(recorded(dir) == now + 2 * FS_VERSION_SPAN);
	/* The clock ahead of every range: the clock. */
	uint64_t later = now + 5 * FS_VERSION_SPAN;
	assert_int_equal(fs_version_floor_reserve(dir, later, &first, &damaged), 0);
	assert_true(first == later);
	/* Damaged records: said, the clock used, a good record written. */
	static const char *const bad[] = {"", "\n", "12x\n", "-5\n", "99999999999999999999999\n",
					  " 12\n", "0x10\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		put(dir, bad[i]);
		damaged = false;
		assert_int_equal(fs_version_floor_reserve(dir, now, &first, &damaged), 0);
		assert_true(damaged);
		assert_true(first == now);
		assert_true(recorded(dir) == now + FS_VERSION_SPAN);
	}
	/* No wrap past 64 bits. */
	char text[32];
	snprintf(text, sizeof(text), "%" PRIu64 "\n", UINT64_MAX - 5);
	put(dir, text);
	assert_int_equal(fs_version_floor_reserve(dir, now, &first, &damaged), -EOVERFLOW);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_unwritable(void **state)
{
	(void)state;
	uint64_t first = 7;
	bool damaged;
	assert_true(fs_version_floor_reserve("/nonexistent/state", 1, &first, &damaged) < 0);
	assert_true(first == 7); /* untouched */
	char dir[] = "/tmp/test_version_floor.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, FS_VERSION_FLOOR_FILE);
	assert_int_equal(mkdir(path, 0700), 0); /* a directory in its place */
	assert_true(fs_version_floor_reserve(dir, 1, &first, &damaged) < 0);
	assert_true(first == 7);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_unwritable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
