/* Unit tests of shadowctl's output helpers (tools/ctl_store.c): which values
 * may be written as bare JSON numbers; file names in table columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A name prints as one line whatever its bytes: newline, tab, backslash
 * and other control bytes escaped, the rest as is, padded to the column. */
static void test_print_name(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
		int width, len;
	} cases[] = {
	    {"a.txt", "a.txt   ", 8, 5},
	    {"nl\nname.txt", "nl\\nname.txt", 0, 12},
	    {"tab\tname", "tab\\tname", 4, 9},
	    {"quote\"back\\slash", "quote\"back\\\\slash", 0, 17},
	    {"bell\a\x7f", "bell\\x07\\x7f", 0, 12},
	    {"caf\xc3\xa9", "caf\xc3\xa9", 0, 5},
	    {"", "  ", 2, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t size = 0;
		FILE *f = open_memstream(&buf, &size);
		assert_non_null(f);
		assert_int_equal(ctl_print_name(f, cases[i].in, cases[i].width), cases[i].len);
		fclose(f);
		assert_string_equal(buf, cases[i].out);
		free(buf);
	}
}

/* Non-finite doubles are JSON null; a time gmtime cannot represent is
 * printed as its digits (it printed whatever an unset struct tm held). */
static void test_json_double_utc(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	assert_non_null(f);
	ctl_json_double(f, 12.345, 2);
	fputc(' ', f);
	ctl_json_double(f, 1.0 / 0.0, 2);
	fputc(' ', f);
	ctl_json_double(f, -1.0 / 0.0, 3);
	fclose(f);
	assert_string_equal(buf, "12.35 null null");
	free(buf);
	char t[32];
	assert_string_equal(ctl_utc_text(0, t, sizeof(t)), "1970-01-01 00:00:00");
	assert_string_equal(ctl_utc_text(1796059573, t, sizeof(t)), "2026-11-30 17:26:13");
	assert_string_equal(ctl_utc_text(9000000000000000000LL, t, sizeof(t)),
			    "9000000000000000000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_numbers),
	    cmocka_unit_test(test_print_name),
	    cmocka_unit_test(test_json_double_utc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
