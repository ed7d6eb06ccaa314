/* Unit tests of fs/state_line: a line far longer than any record costs no
 * more memory than a record (before, all of it was read into memory: a
 * STATE/pins.log of 400 MB of zeros took 830 MB at start), the lines
 * around it are kept; a FIFO, a device or a directory in a state file's
 * place is refused at once (a FIFO blocked the start for ever). */
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

#include "fs/state_line.h"

static void test_long_line_bounded(void **state)
{
	(void)state;
	char path[] = "/tmp/test_state_line.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("a\n", f);
	for (int i = 0; i < 4 << 20; i++)
		fputc(i % 1000 ? 'x' : '\0', f);
	static const char tail[] = "\nb\nnul\0here\nc\ncut";
	fwrite(tail, 1, sizeof(tail) - 1, f);
	fclose(f);
	FILE *in;
	assert_int_equal(fs_state_file_open(path, &in), 0);
	char *line = NULL;
	size_t cap = 0;
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), 1);
	assert_string_equal(line, "a");
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), -EINVAL);
	assert_true(cap <= 102); /* not the 4 MiB of the line */
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), 1);
	assert_string_equal(line, "b");
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), -EINVAL); /* NUL */
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), 1);
	assert_string_equal(line, "c");
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), -EINVAL); /* cut */
	assert_int_equal(fs_state_line_read(in, &line, &cap, 100, false), 0);
	fclose(in);
	/* A last line without its newline, where the caller takes it; a line
	 * of exactly max bytes is too long, one byte less is not. */
	f = fopen(path, "w");
	fputs("123456789\n12345678\nlast", f);
	fclose(f);
	assert_int_equal(fs_state_file_open(path, &in), 0);
	assert_int_equal(fs_state_line_read(in, &line, &cap, 9, true), -EINVAL);
	assert_int_equal(fs_state_line_read(in, &line, &cap, 9, true), 1);
	assert_string_equal(line, "12345678");
	assert_int_equal(fs_state_line_read(in, &line, &cap, 9, true), 1);
	assert_string_equal(line, "last");
	assert_int_equal(fs_state_line_read(in, &line, &cap, 9, true), 0);
	fclose(in);
	free(line);
	unlink(path);
}

static void test_not_a_regular_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_state_line.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char fifo[128], zero[128], missing[128];
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(zero, sizeof(zero), "%s/zero", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(symlink("/dev/zero", zero), 0);
	FILE *in = (FILE *)1;
	assert_int_equal(fs_state_file_open(fifo, &in), -EINVAL); /* at once, no writer */
	assert_null(in);
	assert_int_equal(fs_state_file_open(zero, &in), -EINVAL);
	assert_int_equal(fs_state_file_open(dir, &in), -EISDIR);
	assert_int_equal(fs_state_file_open(missing, &in), -ENOENT);
	unlink(fifo);
	unlink(zero);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_long_line_bounded),
	    cmocka_unit_test(test_not_a_regular_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
