/* Unit tests of common/log: level filtering, line framing and the budget of
 * frequent messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Capture what the logger writes to stderr during fn. */
static size_t capture_stderr(void (*fn)(void), char *buf, size_t cap)
{
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(pipefd[1]);
	ssize_t n = read(pipefd[0], buf, cap - 1);
	close(pipefd[0]);
	assert_true(n >= 0);
	buf[n] = '\0';
	return (size_t)n;
}

static void log_some(void)
{
	sfs_log_init("t", SFS_LOG_WARN, false);
	sfs_info("hidden %d", 1);
	sfs_warn("shown %d", 2);
	sfs_error("also %s", "shown");
}

/* Messages below the level are dropped; each message is one prefixed line. */
static void test_level_filter(void **state)
{
	(void)state;
	char buf[512];
	capture_stderr(log_some, buf, sizeof(buf));
	assert_string_equal(buf, "t: warning: shown 2\nt: error: also shown\n");
}

static void log_long(void)
{
	char big[4000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	sfs_log_init("t", SFS_LOG_INFO, false);
	sfs_info("%s", big);
}

/* An over-long message is truncated but still ends with exactly one newline. */
static void test_long_line_truncated(void **state)
{
	(void)state;
	char buf[4096];
	size_t n = capture_stderr(log_long, buf, sizeof(buf));
	assert_true(n > 100 && n <= 1024);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
}

static void log_flood(void)
{
	static struct sfs_log_limit l = SFS_LOG_LIMIT_INIT(3, 200);
	sfs_log_init("t", SFS_LOG_INFO, false);
	int passed = 0;
	for (int i = 0; i < 10; i++)
		passed += sfs_log_limited(&l, SFS_LOG_WARN, "refused %d", i);
	assert_int_equal(passed, 3);
	usleep(250 * 1000); /* the next period */
	assert_true(sfs_log_limited(&l, SFS_LOG_WARN, "refused %d", 10));
	assert_true(sfs_log_limited(&l, SFS_LOG_WARN, "refused %d", 11));
	sfs_info("below the level? no: info is shown");
}

/* A flood gives the budget's lines, then the count of those held back
 * before the next line that passes; nothing held back, no count line. */
static void test_limited(void **state)
{
	(void)state;
	char buf[1024];
	capture_stderr(log_flood, buf, sizeof(buf));
	assert_string_equal(buf, "t: warning: refused 0\n"
				 "t: warning: refused 1\n"
				 "t: warning: refused 2\n"
				 "t: warning: (7 more lines of the kind below not logged: at most 3 per 1 s)\n"
				 "t: warning: refused 10\n"
				 "t: warning: refused 11\n"
				 "t: below the level? no: info is shown\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_level_filter),
		cmocka_unit_test(test_long_line_truncated),
		cmocka_unit_test(test_limited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
