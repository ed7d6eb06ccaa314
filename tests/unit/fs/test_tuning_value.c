/* Unit tests of fs/tuning_value.c: strict parsing of the tuning values,
 * nearest-wins resolution with sources, the hosts list against the
 * mount's hosts, and the STATE/tuning line format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/line_escape.h"
#include "fs/tuning_value.h"
#include "predictor/model.h"

static int parse(enum fs_tune_key k, const char *s, double *v, char *text)
{
	return fs_tune_parse(k, s, strlen(s), v, text);
}

/* Good values are accepted (one trailing newline dropped), text kept as
 * set. */
static void test_parse_good(void **state)
{
	(void)state;
	double v;
	char text[FS_TUNE_TEXT_MAX];
	assert_int_equal(parse(FS_TUNE_THRESHOLD, "0.5", &v, text), 0);
	assert_true(v == 0.5);
	assert_string_equal(text, "0.5");
	assert_int_equal(parse(FS_TUNE_THRESHOLD, "1", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_THRESHOLD, "5e-1\n", &v, text), 0);
	assert_true(v == 0.5);
	assert_string_equal(text, "5e-1");
	assert_int_equal(parse(FS_TUNE_THRESHOLD, ".25", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_CAPACITY, "0", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_CAPACITY, "1e15", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_CAPACITY, "12.75", &v, text), 0);
	assert_true(v == 12.75);
	assert_int_equal(parse(FS_TUNE_WINDOW, "1", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_WINDOW, "8", &v, text), 0);
	assert_true(v == PRED_MAX_H);
	assert_int_equal(parse(FS_TUNE_NEVER, "1", &v, text), 0);
	assert_true(v == 1);
	assert_int_equal(parse(FS_TUNE_NEVER, "0\n", &v, text), 0);
	assert_true(v == 0);
	assert_int_equal(parse(FS_TUNE_COPIES, "1", &v, text), 0);
	assert_int_equal(parse(FS_TUNE_COPIES, "4\n", &v, text), 0);
	assert_true(v == FS_TUNE_COPIES_MAX);
	assert_string_equal(fs_tune_key_name(FS_TUNE_COPIES), "copies");
	assert_int_equal(fs_tune_key_of("copies"), FS_TUNE_COPIES);
}

/* Each key says what its values are, with the bounds the parser holds
 * (the log line of a refused value quotes it). */
static void test_key_values(void **state)
{
	(void)state;
	for (int k = 0; k < FS_TUNE_NKEYS; k++)
		assert_string_not_equal(fs_tune_key_values((enum fs_tune_key)k), "?");
	assert_non_null(strstr(fs_tune_key_values(FS_TUNE_WINDOW), "from 1 to 8"));
	assert_non_null(strstr(fs_tune_key_values(FS_TUNE_COPIES), "from 1 to 4"));
	assert_non_null(strstr(fs_tune_key_values(FS_TUNE_THRESHOLD), "(0, 1]"));
	assert_non_null(strstr(fs_tune_key_values(FS_TUNE_CAPACITY), "0 to 1e15"));
	assert_string_equal(fs_tune_key_values(FS_TUNE_NKEYS), "?");
}

/* Bad values: -EINVAL and the outputs untouched. */
static void test_parse_bad(void **state)
{
	(void)state;
	static const char *const thr[] = {"0", "-0.5", "1.0000001", "2", "0.5x", "x", "", " 0.5",
					  "0.5 ", "nan", "inf", "1e999", "0x1p-1", "+0.5", "0.5\n\n",
					  "1,0", ".", "e1", "0.5e", "00000000000000000000000000000000.5"};
	static const char *const cap[] = {"-1", "1e16", "1e999", "12abc", "", "inf", "-0.0001", "0x10"};
	static const char *const win[] = {"0", "-1", "9", "99999999999999999999999", "3x", "", "2.0",
					  " 2", "+2", "1e1"};
	static const char *const nev[] = {"2", "-1", "", "01", "1 ", "yes", "true", "10"};
	static const char *const cop[] = {"0", "5", "-1", "2.0", "", "two", " 2", "+2", "1e0"};
	static const char *const hos[] = {"",	     ",",	"/a,",	      ",/a",	"/a,,/b",
					  "/a /b",   "/a, /b",	"/a\t",	      "/a\n\n", "/a\x7f",
					  "/a,/a",   "*,/a",	"/a,*",	      "**,*",	" /a",
					  "/a\x01b", "/a,/b,/a", "\n",	      "/a,/a/"};
	struct {
		enum fs_tune_key k;
		const char *const *v;
		size_t n;
	} sets[] = {{FS_TUNE_THRESHOLD, thr, sizeof(thr) / sizeof(*thr)},
		    {FS_TUNE_CAPACITY, cap, sizeof(cap) / sizeof(*cap)},
		    {FS_TUNE_WINDOW, win, sizeof(win) / sizeof(*win)},
		    {FS_TUNE_NEVER, nev, sizeof(nev) / sizeof(*nev)},
		    {FS_TUNE_COPIES, cop, sizeof(cop) / sizeof(*cop)},
		    {FS_TUNE_HOSTS, hos, sizeof(hos) / sizeof(*hos)}};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
		for (size_t i = 0; i < sets[s].n; i++) {
			double v = 42;
			char text[FS_TUNE_TEXT_MAX] = "keep";
			if (parse(sets[s].k, sets[s].v[i], &v, text) != -EINVAL)
				fail_msg("%s='%s' accepted", fs_tune_key_name(sets[s].k), sets[s].v[i]);
			assert_true(v == 42);
			assert_string_equal(text, "keep");
		}
	double v;
	char text[FS_TUNE_TEXT_MAX];
	assert_int_equal(fs_tune_parse(FS_TUNE_THRESHOLD, "0.5\0x", 5, &v, text), -EINVAL);
	assert_int_equal(fs_tune_parse(FS_TUNE_THRESHOLD, NULL, 0, &v, text), -EINVAL);
	assert_int_equal(fs_tune_parse(FS_TUNE_NKEYS, "1", 1, &v, text), -EINVAL);
	/* numbers: at most FS_TUNE_NUMBER_MAX - 1 characters */
	char num[FS_TUNE_NUMBER_MAX + 1];
	memset(num, '0', sizeof(num));
	num[FS_TUNE_NUMBER_MAX - 2] = '1';
	num[FS_TUNE_NUMBER_MAX - 1] = '\0';
	assert_int_equal(parse(FS_TUNE_CAPACITY, num, &v, text), 0);
	num[FS_TUNE_NUMBER_MAX - 1] = '1';
	num[FS_TUNE_NUMBER_MAX] = '\0';
	assert_int_equal(parse(FS_TUNE_CAPACITY, num, &v, text), -EINVAL);
}

/* user.shadow.hosts: names separated by ',', "*" alone, one trailing '\n';
 * the value is the number of names; at most FS_TUNE_TEXT_MAX - 1
 * characters (a longer list is refused, not cut). */
static void test_parse_hosts(void **state)
{
	(void)state;
	double v;
	char text[FS_TUNE_TEXT_MAX];
	assert_int_equal(parse(FS_TUNE_HOSTS, "/ssd/shadows", &v, text), 0);
	assert_true(v == 1);
	assert_string_equal(text, "/ssd/shadows");
	assert_int_equal(parse(FS_TUNE_HOSTS, "/ssd/shadows,127.0.0.1:7811,[::1]:7811\n", &v, text),
			 0);
	assert_true(v == 3);
	assert_string_equal(text, "/ssd/shadows,127.0.0.1:7811,[::1]:7811");
	assert_int_equal(parse(FS_TUNE_HOSTS, "*", &v, text), 0);
	assert_true(v == 0);
	/* UTF-8, '*' in a name */
	assert_int_equal(parse(FS_TUNE_HOSTS, "/d\xc3\xa9j\xc3\xa0,/a*b", &v, text), 0);
	assert_true(v == 2);
	assert_string_equal(fs_tune_key_name(FS_TUNE_HOSTS), "hosts");
	assert_int_equal(fs_tune_key_of("hosts"), FS_TUNE_HOSTS);
	char list[FS_TUNE_TEXT_MAX + 1];
	memset(list, 'a', sizeof(list));
	list[0] = '/';
	list[FS_TUNE_TEXT_MAX - 1] = '\0'; /* 1023 characters */
	assert_int_equal(parse(FS_TUNE_HOSTS, list, &v, text), 0);
	assert_int_equal(strlen(text), FS_TUNE_TEXT_MAX - 1);
	list[FS_TUNE_TEXT_MAX - 1] = 'a';
	list[FS_TUNE_TEXT_MAX] = '\0'; /* 1024 */
	assert_int_equal(parse(FS_TUNE_HOSTS, list, &v, text), -EINVAL);
}

/* The mount's check of a hosts list: one bit per listed host of the
 * mount (the order of -o hosts=), unknown names counted and matching
 * nothing, "*" all of them; names match whole, never by prefix, a
 * trailing '/' aside. */
static void test_hosts_mask(void **state)
{
	(void)state;
	const char *const names[] = {"/fast", "/slow", "10.0.0.2:7811"};
	size_t unknown = 99;
	assert_true(fs_tune_hosts_mask("/slow", names, 3, &unknown) == 2);
	assert_int_equal(unknown, 0);
	assert_true(fs_tune_hosts_mask("10.0.0.2:7811,/fast", names, 3, &unknown) == 5);
	assert_int_equal(unknown, 0);
	assert_true(fs_tune_hosts_mask("/gone,/slow", names, 3, &unknown) == 2);
	assert_int_equal(unknown, 1);
	assert_true(fs_tune_hosts_mask("/gone", names, 3, &unknown) == 0);
	assert_int_equal(unknown, 1);
	assert_true(fs_tune_hosts_mask("/fas,/slowe,10.0.0.2", names, 3, &unknown) == 0);
	assert_int_equal(unknown, 3);
	assert_true(fs_tune_hosts_mask("*", names, 3, &unknown) == 7);
	assert_int_equal(unknown, 0);
	/* a directory host spelled with a trailing '/' (the mount's own are
	 * normalized without one) */
	assert_true(fs_tune_hosts_mask("/slow/,/fast//", names, 3, &unknown) == 3);
	assert_int_equal(unknown, 0);
	assert_true(fs_tune_hosts_mask("/x", NULL, 0, NULL) == 0);
}

static void set(struct fs_tune_node *n, enum fs_tune_key k, const char *s)
{
	double v;
	char text[FS_TUNE_TEXT_MAX];
	assert_int_equal(parse(k, s, &v, text), 0);
	fs_tune_node_set(n, k, v, text);
}

/* Key by key, the nearest setting wins: file, then the innermost
 * directory, ..., the root, then the option; sources say which. */
static void test_resolve_nearest(void **state)
{
	(void)state;
	const double def[FS_TUNE_NKEYS] = {0.8, -1, 6, 0, 3, 0};
	struct fs_tune_node file = {0}, inner = {0}, outer = {0}, root = {0};
	set(&file, FS_TUNE_WINDOW, "2");
	set(&inner, FS_TUNE_THRESHOLD, "0.5");
	set(&outer, FS_TUNE_THRESHOLD, "0.3");
	set(&outer, FS_TUNE_CAPACITY, "10");
	set(&root, FS_TUNE_CAPACITY, "99");
	set(&root, FS_TUNE_NEVER, "1");
	const struct fs_tune_node *dirs[] = {&inner, NULL, &outer, &root};
	struct fs_tune_effective e;
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_true(e.value[FS_TUNE_WINDOW] == 2);
	assert_int_equal(e.source[FS_TUNE_WINDOW], FS_TUNE_FROM_FILE);
	assert_true(e.value[FS_TUNE_THRESHOLD] == 0.5);
	assert_int_equal(e.source[FS_TUNE_THRESHOLD], FS_TUNE_FROM_DIR);
	assert_int_equal(e.dir_index[FS_TUNE_THRESHOLD], 0);
	assert_true(e.value[FS_TUNE_CAPACITY] == 10);
	assert_int_equal(e.dir_index[FS_TUNE_CAPACITY], 2);
	assert_true(e.value[FS_TUNE_NEVER] == 1);
	assert_int_equal(e.source[FS_TUNE_NEVER], FS_TUNE_FROM_ROOT);
	/* never=0 nearer wins over the root's never=1 */
	set(&inner, FS_TUNE_NEVER, "0");
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_true(e.value[FS_TUNE_NEVER] == 0);
	assert_int_equal(e.source[FS_TUNE_NEVER], FS_TUNE_FROM_DIR);
	/* hosts: the winning node's text; "*" nearer lifts a list above */
	set(&root, FS_TUNE_HOSTS, "/a,/b");
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_string_equal(e.text[FS_TUNE_HOSTS], "/a,/b");
	assert_true(e.value[FS_TUNE_HOSTS] == 2);
	assert_int_equal(e.source[FS_TUNE_HOSTS], FS_TUNE_FROM_ROOT);
	set(&outer, FS_TUNE_HOSTS, "*");
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_string_equal(e.text[FS_TUNE_HOSTS], "*");
	assert_int_equal(e.dir_index[FS_TUNE_HOSTS], 2);
	set(&file, FS_TUNE_HOSTS, "/b");
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_string_equal(e.text[FS_TUNE_HOSTS], "/b");
	assert_int_equal(e.source[FS_TUNE_HOSTS], FS_TUNE_FROM_FILE);
	fs_tune_node_set(&file, FS_TUNE_HOSTS, 0, NULL);
	/* nothing set: the options */
	fs_tune_resolve(def, NULL, NULL, 0, -1, &e);
	for (int k = 0; k < FS_TUNE_NKEYS; k++) {
		assert_true(e.value[k] == def[k]);
		assert_int_equal(e.source[k], FS_TUNE_FROM_OPTION);
		assert_int_equal(e.dir_index[k], -1);
		assert_null(e.text[k]);
	}
	/* clearing a key reverts to inherited */
	fs_tune_node_set(&file, FS_TUNE_WINDOW, 0, NULL);
	assert_true(fs_tune_node_empty(&file));
	fs_tune_resolve(def, &file, dirs, 4, 3, &e);
	assert_int_equal(e.source[FS_TUNE_WINDOW], FS_TUNE_FROM_OPTION);
	/* texts are kept to their length: a setting set again replaces its
	 * text (the old one freed); a freed node is empty */
	set(&root, FS_TUNE_HOSTS, "/a");
	assert_string_equal(root.text[FS_TUNE_HOSTS], "/a");
	fs_tune_node_free(&root);
	assert_true(fs_tune_node_empty(&root));
	assert_null(root.text[FS_TUNE_CAPACITY]);
	fs_tune_node_free(&file);
	fs_tune_node_free(&inner);
	fs_tune_node_free(&outer);
}

/* STATE/tuning lines: directories by path (root "/"), files by id; paths
 * may hold blanks; anything malformed is refused. */
static void test_lines(void **state)
{
	(void)state;
	struct fs_tune_line l;
	char a[] = "d threshold 0.5 /a b/c";
	assert_int_equal(fs_tune_line_parse(a, &l), 0);
	assert_true(l.is_dir);
	assert_int_equal(l.key, FS_TUNE_THRESHOLD);
	assert_string_equal(l.path, "a b/c");
	assert_string_equal(l.text, "0.5");
	char r[] = "d never 1 /";
	assert_int_equal(fs_tune_line_parse(r, &l), 0);
	assert_string_equal(l.path, "");
	char f[] = "f 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 window 3 /d/e/f";
	assert_int_equal(fs_tune_line_parse(f, &l), 0);
	assert_false(l.is_dir);
	assert_string_equal(l.id, "12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3");
	assert_true(l.value == 3);
	assert_false(l.is_handle);
	/* "h": the handle of the file whose settings they are */
	char fh[] = "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 0a0bff00 /d/e f";
	assert_int_equal(fs_tune_line_parse(fh, &l), 0);
	assert_true(l.is_handle);
	assert_false(l.is_dir);
	assert_string_equal(l.id, "12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3");
	assert_int_equal(l.handle_type, 1);
	assert_int_equal(l.handle_len, 4);
	assert_memory_equal(l.handle, "\x0a\x0b\xff\x00", 4);
	assert_string_equal(l.path, "d/e f");
	char h[] = "d hosts /ssd/shadows,127.0.0.1:7811 /a b";
	assert_int_equal(fs_tune_line_parse(h, &l), 0);
	assert_int_equal(l.key, FS_TUNE_HOSTS);
	assert_string_equal(l.text, "/ssd/shadows,127.0.0.1:7811");
	assert_string_equal(l.path, "a b");
	/* "D": a directory whose path holds a newline, escaped */
	char e[] = "D capacity 9 /d\\nx/back\\\\slash";
	assert_int_equal(fs_tune_line_parse(e, &l), 0);
	assert_true(l.is_dir);
	assert_string_equal(l.path, "d\nx/back\\slash");
	char esc[64];
	assert_int_equal(sfs_line_escape("d\nx/back\\slash", esc, sizeof(esc)), 0);
	assert_string_equal(esc, "d\\nx/back\\\\slash");
	assert_int_equal(sfs_line_escape("d\nx", esc, 4), -ENAMETOOLONG); /* 4 + the NUL */
	assert_int_equal(sfs_line_escape("d\nx", esc, 5), 0);
	static const char *const bad[] = {
	    "", "d", "x threshold 0.5 /a", "d threshold 0.5 a", "d threshold 2 /a",
	    "d bogus 1 /a", "d threshold  /a", "f short window 3 /a",
	    "f 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 window 30 /a", "d threshold 0.5",
	    "d hosts /a,,/b /d", "d hosts /a,/a /d",
	    /* handles: odd or no hex, not hex (nor upper case: the one spelling
	     * written), a sign or no digits in the type, no path */
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 0a0bFf00 /a",
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 0a0 /a",
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 0x0a /a",
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 -1 0a /a",
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 x 0a /a",
	    "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 0a0b",
	    "h short 1 0a /a"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (fs_tune_line_parse(buf, &l) != -EINVAL)
			fail_msg("line '%s' accepted", bad[i]);
	}
	char longh[512]; /* 129 bytes: more than a handle holds */
	int n = snprintf(longh, sizeof(longh), "h 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 1 ");
	for (int b = 0; b <= FS_TUNE_HANDLE_MAX; b++)
		n += snprintf(longh + n, sizeof(longh) - (size_t)n, "ab");
	snprintf(longh + n, sizeof(longh) - (size_t)n, " /a");
	assert_int_equal(fs_tune_line_parse(longh, &l), -EINVAL);
	assert_int_equal(fs_tune_key_of("never"), FS_TUNE_NEVER);
	assert_int_equal(fs_tune_key_of("pin"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_key_values),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_parse_hosts),
	    cmocka_unit_test(test_hosts_mask),
	    cmocka_unit_test(test_resolve_nearest),
	    cmocka_unit_test(test_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
