/* Unit tests of shadowctl's output helpers (tools/ctl_store.c): which values
 * may be written as bare JSON numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tools/ctl_store.h"

static void test_json_numbers(void **state)
{
	(void)state;
	static const char *const good[] = {"0", "-0", "12", "-3", "0.25", "1e6", "1E-3", "2.5e+10"};
	static const char *const bad[] = {"", "-", "nan", "inf", "-inf", "0x10", ".5", "5.", "007",
					  " 5", "5 ", "+1", "1e", "1e+", "1.2.3", "12ab", "--1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(ctl_json_number_text(good[i]));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ctl_json_number_text(bad[i]));
	assert_false(ctl_json_number_text(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
