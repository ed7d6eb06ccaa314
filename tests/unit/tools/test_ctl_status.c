/* Unit tests of tools/ctl_status: a copy of a shadows.status line split at
 * its version field, and its KEY=VALUE fields (one reader, ctl_copy_field,
 * for the reads= of every view and the rollout fields of why). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "tools/ctl_status.h"

/* reads= is the field named reads, wherever it comes among the fields: a
 * field whose name ends in "reads" before it (origin_reads=) made the
 * copy's reads read as absent. */
static void test_parse_copy(void **state)
{
	(void)state;
	struct ctl_copy c;
	assert_int_equal(ctl_status_parse_copy("10.0.0.1:7000:v3:serving:reads=42:errors=0", &c), 0);
	assert_string_equal(c.host, "10.0.0.1:7000");
	assert_string_equal(c.version, "v3");
	assert_string_equal(c.state, "serving");
	assert_string_equal(c.reads, "42");
	assert_int_equal(ctl_status_parse_copy("h:v1:serving:origin_reads=9:reads=7", &c), 0);
	assert_string_equal(c.reads, "7");
	assert_int_equal(ctl_status_parse_copy("h:v1:copying", &c), 0);
	assert_string_equal(c.reads, "");
	assert_int_equal(ctl_status_parse_copy("h:serving", &c), -1);
}

static void test_copy_field(void **state)
{
	(void)state;
	const char *rest = "reads=5:share=25:rollout=rolled-back:why=errors:xshare=9";
	char out[16];
	ctl_copy_field(rest, "share", out, sizeof(out));
	assert_string_equal(out, "25");
	ctl_copy_field(rest, "rollout", out, sizeof(out));
	assert_string_equal(out, "rolled-back");
	ctl_copy_field(rest, "why", out, sizeof(out));
	assert_string_equal(out, "errors");
	ctl_copy_field(rest, "read", out, sizeof(out)); /* not reads= */
	assert_string_equal(out, "");
	ctl_copy_field("why=a-very-long-reason", "why", out, 6);
	assert_string_equal(out, "a-ver");
	ctl_copy_field(NULL, "why", out, sizeof(out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_copy),
		cmocka_unit_test(test_copy_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
