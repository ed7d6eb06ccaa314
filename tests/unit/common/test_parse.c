/* Unit tests of common/parse.c: sizes and HOST:PORT as users type them. */
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
			     "18446744073709551616"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sfs_parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(sfs_parse_size(NULL, &v), -EINVAL);
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
			     "[::1]80", "[]:80", "[::1:80", "a-very-long-host-name:1"};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
