/* Unit tests of fs/pin_log: records appended and replayed in order, the log
 * emptied, names with a newline kept (escaped), and what a crash or a
 * stranger can leave in it (a last line cut short, lines of another form, a
 * line longer than a path) skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/pin_log.h"

struct seen {
	char text[4096];
	int n;
};

static void collect(void *arg, bool pin, const char *path)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "%c%s|", pin ? '+' : '-', path);
	s->n++;
}

static void write_raw(const char *path, const char *bytes, size_t len)
{
	FILE *f = fopen(path, "ae");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes, 1, len, f), len);
	fclose(f);
}

static void test_append_replay_clear(void **state)
{
	(void)state;
	char dir[] = "/tmp/pin-log-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pins.log", dir);
	struct seen s = {{0}, 0};
	assert_int_equal(fs_pin_log_replay(path, collect, &s), 0); /* no log yet */
	int fd = fs_pin_log_open(path);
	assert_true(fd >= 0);
	assert_int_equal(fs_pin_log_append(fd, true, "a/b"), 0);
	assert_int_equal(fs_pin_log_append(fd, true, "-odd name+"), 0);
	assert_int_equal(fs_pin_log_append(fd, false, "a/b"), 0);
	/* A newline in a name: written escaped after "./", read back as it was. */
	assert_int_equal(fs_pin_log_append(fd, true, "new\nline\\n"), 0);
	assert_int_equal(fs_pin_log_replay(path, collect, &s), 4);
	assert_string_equal(s.text, "+a/b|+-odd name+|-a/b|+new\nline\\n|");
	/* Emptied, then appended again: only the new record. */
	assert_int_equal(fs_pin_log_clear(fd), 0);
	assert_int_equal(fs_pin_log_append(fd, true, "c"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(fs_pin_log_replay(path, collect, &s), 1);
	assert_string_equal(s.text, "+c|");
	close(fd);
	unlink(path);
	rmdir(dir);
}

static void test_damaged_log(void **state)
{
	(void)state;
	char dir[] = "/tmp/pin-log-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pins.log", dir);
	const char *strangers = "x\n+\n\n*a\n+ok\n";
	write_raw(path, strangers, strlen(strangers));
	/* A line longer than any path, and one longer than the reader's
	 * buffer (2 PATH_MAX + 4: escaped paths) whose tail looks like a
	 * record: both skipped whole. */
	size_t sizes[] = {PATH_MAX + 100, 2 * PATH_MAX + 100};
	for (int i = 0; i < 2; i++) {
		size_t big = sizes[i];
		char *line = malloc(big + 1);
		assert_non_null(line);
		memset(line, 'z', big);
		line[0] = '+';
		if (i == 1)
			memcpy(line + 2 * PATH_MAX + 3, "+tail", 5); /* the second fgets */
		line[big - 1] = '\n';
		write_raw(path, line, big);
		free(line);
	}
	const char *torn = "-ok2\n+cut short";
	write_raw(path, torn, strlen(torn));
	struct seen s = {{0}, 0};
	assert_int_equal(fs_pin_log_replay(path, collect, &s), 2);
	assert_string_equal(s.text, "+ok|-ok2|");
	unlink(path);
	rmdir(dir);
}

static void test_errors(void **state)
{
	(void)state;
	assert_true(fs_pin_log_open("/nonexistent-dir/pins.log") == -ENOENT);
	assert_int_equal(fs_pin_log_append(-1, true, "x"), -EBADF);
	char longpath[PATH_MAX + 8];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(fs_pin_log_append(1, true, longpath), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_append_replay_clear),
	    cmocka_unit_test(test_damaged_log),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
