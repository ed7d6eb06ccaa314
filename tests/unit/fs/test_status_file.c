/* Unit tests of fs/status_file: a state or status file is replaced by a
 * new file of its own; a link planted at PATH.tmp (or a stale one) is not
 * written through, and PATH does not become a link. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/status_file.h"

static void fill(FILE *f, void *arg)
{
	fputs(arg, f);
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void expect(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, text);
}

static void check_writer(int (*write)(const char *, void (*)(FILE *, void *), void *))
{
	char dir[] = "/tmp/test_status_file.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256], tmp[256], victim[256];
	snprintf(path, sizeof(path), "%s/pins", dir);
	snprintf(tmp, sizeof(tmp), "%s/pins.tmp", dir);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	/* A plain replacement. */
	assert_int_equal(write(path, fill, "a\n"), 0);
	expect(path, "a\n");
	/* A link planted at PATH.tmp: the file it names is left alone. */
	put(victim, "precious\n");
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(write(path, fill, "b\n"), 0);
	expect(victim, "precious\n");
	expect(path, "b\n");
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(lstat(tmp, &st), -1);
	/* A dangling one: nothing made where it points. */
	char nowhere[256];
	snprintf(nowhere, sizeof(nowhere), "%s/nowhere", dir);
	assert_int_equal(symlink(nowhere, tmp), 0);
	assert_int_equal(write(path, fill, "c\n"), 0);
	expect(path, "c\n");
	assert_int_equal(lstat(nowhere, &st), -1);
	/* A stale PATH.tmp left by a crash: replaced. */
	put(tmp, "stale, and longer than the new text\n");
	assert_int_equal(write(path, fill, "d\n"), 0);
	expect(path, "d\n");
	unlink(path);
	unlink(victim);
	rmdir(dir);
}

static void test_state_file(void **state)
{
	(void)state;
	check_writer(fs_state_file_write);
}

static void test_status_file(void **state)
{
	(void)state;
	check_writer(fs_status_file_write);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_file),
	    cmocka_unit_test(test_status_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
