/* Unit tests of common/parse.c: numbers, sizes and HOST:PORT as users type them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/parse.h"

static void test_sizes(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(sfs_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sfs_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(sfs_parse_size("1k", &v), 0);
	assert_int_equal(v, 1024);
	assert_int_equal(sfs_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ull << 20);
	assert_int_equal(sfs_parse_size("20g", &v), 0);
	assert_int_equal(v, 20ull << 30);
	assert_int_equal(sfs_parse_size("3T", &v), 0);
	assert_int_equal(v, 3ull << 40);
	const char *bad[] = {"", "-1", "+1", "k", "1q", "1kk", "1 k", "99999999999t",
			     "18446744073709551616", " 8", "\t8", "\n8", " -1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sfs_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(sfs_parse_size(NULL, &v), -EINVAL);
}

/* Counts: digits only, in range (strtol took " 5" and "+5"). */
static void test_integer(void **state)
{
	(void)state;
	long long v;
	assert_int_equal(sfs_parse_integer("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(sfs_parse_integer("36500", 1, 36500, &v), 0);
	assert_int_equal(v, 36500);
	const char *bad[] = {"", " 5", "\t5", "+5", "-5", "5 ", "5x", "0x5", "1e3", "5.0", "11",
			     "99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sfs_parse_integer(bad[i], 0, 10, &v) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	assert_int_equal(sfs_parse_integer(NULL, 0, 10, &v), -EINVAL);
}

static void test_hostport(void **state)
{
	(void)state;
	char host[16];
	uint16_t port;
	assert_int_equal(sfs_parse_hostport("127.0.0.1:7811", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 7811);
	assert_int_equal(sfs_parse_hostport("[fd00::2]:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "fd00::2");
	assert_int_equal(port, 0);
	assert_int_equal(sfs_parse_hostport("h:65535", host, sizeof(host), &port), 0);
	assert_int_equal(port, 65535);
	const char *bad[] = {"host", ":80", "h:", "h:65536", "h:-1", "h:+1", "h:8x",
			     "[::1]80", "[]:80", "[::1:80", "a-very-long-host-name:1",
			     "h: 80", "h:\t80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sfs_parse_hostport(bad[i], host, sizeof(host), &port) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

/* Lowercase hex only (what ids, digests and names are written in). */
static void test_hex(void **state)
{
	(void)state;
	uint8_t b[3];
	assert_int_equal(sfs_hex_decode("00ff7a", b, 3), 0);
	assert_int_equal(b[0], 0x00);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(b[2], 0x7a);
	assert_int_equal(sfs_hex_decode("0a", b, 1), 0);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(sfs_hex_decode("0A", b, 1), -EINVAL);
	assert_int_equal(sfs_hex_decode("g0", b, 1), -EINVAL);
	assert_int_equal(sfs_hex_decode("1", b, 1), -EINVAL); /* the terminator is not a digit */
	assert_int_equal(sfs_hex_decode("", b, 0), 0);
	assert_int_equal(sfs_hex_value('9'), 9);
	assert_int_equal(sfs_hex_value('f'), 15);
	assert_int_equal(sfs_hex_value('-'), -1);
}

static void test_numbers(void **state)
{
	(void)state;
	double v = -1;
	assert_int_equal(sfs_parse_number("0.8", 0, 1, &v), 0);
	assert_true(v == 0.8);
	assert_int_equal(sfs_parse_number("1e6", 0, 1e9, &v), 0);
	assert_true(v == 1e6);
	assert_int_equal(sfs_parse_number(".5", 0, 1, &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(sfs_parse_number("7", 7, 7, &v), 0);
	assert_true(v == 7);
	v = 42;
	static const char *const bad[] = {"", "nan", "inf", "-1", "+1", " 5", "5 ", "0x10", "1e",
					  "1e+", ".", "e5", "1..2", "1,5", "2", "1e400", "1e-400"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sfs_parse_number(bad[i], 0, 1.5, &v), -EINVAL);
	assert_int_equal(sfs_parse_number(NULL, 0, 1, &v), -EINVAL);
	assert_true(v == 42); /* untouched on refusal */
	assert_true(sfs_decimal_text("12", true));
	assert_false(sfs_decimal_text("1.2", true));
	assert_false(sfs_decimal_text("", true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_integer),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
