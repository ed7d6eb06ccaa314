/* Unit tests of fs/pin_log: records appended and replayed in order, the log
 * emptied, names with a newline kept (escaped), and what a crash or a
 * stranger can leave in it (a last line cut short, lines of another form, a
 * line longer than a path) skipped; rename intents read back as written
 * (tests/fuzz/fuzz_pin_log.c tries many more lines).
 * And of fs/pin_set: the pins a mount starts with, renames applied only
 * when BACKING shows they were made. */
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

#include <fcntl.h>
#include <sys/stat.h>

#include "fs/pin_log.h"
#include "fs/pin_set.h"

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

static void collect_rename(void *arg, const struct fs_pin_rename *rn)
{
	struct seen *s = arg;
	size_t len = strlen(s->text);
	snprintf(s->text + len, sizeof(s->text) - len, "~%c %llu %llu %s>%s|",
		 rn->exchange ? 'x' : 'r', (unsigned long long)rn->from_ino,
		 (unsigned long long)rn->to_ino, rn->from, rn->to);
	s->n++;
}

static int replay(const char *path, struct seen *s)
{
	struct fs_pin_log_reader rd = {.change = collect, .rename = collect_rename, .arg = s};
	return fs_pin_log_replay(path, &rd);
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
	assert_int_equal(replay(path, &s), 0); /* no log yet */
	int fd = fs_pin_log_open(path);
	assert_true(fd >= 0);
	assert_int_equal(fs_pin_log_append(fd, true, "a/b"), 0);
	assert_int_equal(fs_pin_log_append(fd, true, "-odd name+"), 0);
	assert_int_equal(fs_pin_log_append(fd, false, "a/b"), 0);
	/* A newline in a name: written escaped after "./", read back as it was. */
	assert_int_equal(fs_pin_log_append(fd, true, "new\nline\\n"), 0);
	assert_int_equal(replay(path, &s), 4);
	assert_string_equal(s.text, "+a/b|+-odd name+|-a/b|+new\nline\\n|");
	/* Emptied, then appended again: only the new record. */
	assert_int_equal(fs_pin_log_clear(fd), 0);
	assert_int_equal(fs_pin_log_append(fd, true, "c"), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(replay(path, &s), 1);
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
	assert_int_equal(replay(path, &s), 2);
	assert_string_equal(s.text, "+ok|-ok2|");
	unlink(path);
	rmdir(dir);
}

/* A log whose last record was cut short (a crash in the middle of an
 * append; zeros where a power cut lost its bytes): the next mount's first
 * record is a line of its own, not the tail of the cut one (skipped with
 * it: an acknowledged pin lost at the next kill -9). */
static void test_append_after_cut(void **state)
{
	(void)state;
	char dir[] = "/tmp/pin-log-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pins.log", dir);
	const char *tails[] = {"+a\n+partia", "+a\n+b\0\0\0"};
	size_t lens[] = {11, 9};
	for (int i = 0; i < 2; i++) {
		unlink(path);
		write_raw(path, tails[i], lens[i]);
		int fd = fs_pin_log_open(path);
		assert_true(fd >= 0);
		assert_int_equal(fs_pin_log_append(fd, true, "c"), 0);
		close(fd);
		struct seen s = {{0}, 0};
		assert_int_equal(replay(path, &s), 2);
		assert_string_equal(s.text, "+a|+c|");
	}
	/* A FIFO in its place is no log (its appends would block). */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(fs_pin_log_open(path), -EINVAL);
	/* A whole log is left as it is. */
	unlink(path);
	write_raw(path, "+a\n", 3);
	int fd = fs_pin_log_open(path);
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 3);
	unlink(path);
	rmdir(dir);
}

/* Rename intents: both paths whatever they hold (spaces, digits, a
 * newline, the other's prefix), the inode numbers, the kind; a damaged
 * one (a length past its line, no paths, a torn end) is skipped. */
static void test_rename_records(void **state)
{
	(void)state;
	char dir[] = "/tmp/pin-log-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pins.log", dir);
	int fd = fs_pin_log_open(path);
	assert_true(fd >= 0);
	struct fs_pin_rename a = {.from = "d 1/x 2", .to = "d 1/x 2 3", .from_ino = 12,
				  .exchange = false};
	struct fs_pin_rename b = {.from = "n\nl", .to = "y", .from_ino = 18446744073709551615ull,
				  .to_ino = 7, .exchange = true};
	assert_int_equal(fs_pin_log_append_rename(fd, &a), 0);
	assert_int_equal(fs_pin_log_append(fd, false, "d 1/x 2"), 0);
	assert_int_equal(fs_pin_log_append_rename(fd, &b), 0);
	/* Leading blanks are part of a name (the parser once ate them). */
	struct fs_pin_rename c0 = {.from = " lead", .to = "\ttab", .from_ino = 3};
	assert_int_equal(fs_pin_log_append_rename(fd, &c0), 0);
	const char *bad = "~r 1 2 99 ab\n~r 1 2 0 ab\n~r 1 2 1 a\n~q 1 2 1 ab\n~r 1 2 1 ab";
	write_raw(path, bad, strlen(bad));
	struct seen s = {{0}, 0};
	assert_int_equal(replay(path, &s), 4);
	assert_string_equal(s.text, "~r 12 0 d 1/x 2>d 1/x 2 3|-d 1/x 2|"
				    "~x 18446744073709551615 7 n\nl>y|~r 3 0  lead>\ttab|");
	char longpath[PATH_MAX + 8];
	memset(longpath, 'p', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	struct fs_pin_rename c = {.from = "a", .to = longpath};
	assert_int_equal(fs_pin_log_append_rename(fd, &c), -ENAMETOOLONG);
	close(fd);
	unlink(path);
	rmdir(dir);
}

struct tree {
	char root[64], pins[96], log[96];
	int fd, rootfd;
};

static void tree_make(struct tree *t, const char *const *files)
{
	snprintf(t->root, sizeof(t->root), "/tmp/pin-set-XXXXXX");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->pins, sizeof(t->pins), "%s/pins", t->root);
	snprintf(t->log, sizeof(t->log), "%s/pins.log", t->root);
	t->rootfd = open(t->root, O_PATH | O_DIRECTORY);
	assert_true(t->rootfd >= 0);
	for (; *files; files++) {
		const char *f = *files;
		if (f[strlen(f) - 1] == '/') {
			assert_int_equal(mkdirat(t->rootfd, f, 0755), 0);
		} else {
			int fd = openat(t->rootfd, f, O_CREAT | O_WRONLY, 0644);
			assert_true(fd >= 0);
			close(fd);
		}
	}
	t->fd = fs_pin_log_open(t->log);
	assert_true(t->fd >= 0);
}

static uint64_t ino_of(struct tree *t, const char *path)
{
	struct stat st;
	assert_int_equal(fstatat(t->rootfd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
	return st.st_ino;
}

static void tree_rename(struct tree *t, const char *from, const char *to, unsigned flags)
{
	assert_int_equal(renameat2(t->rootfd, from, t->rootfd, to, flags), 0);
}

static void add_pinned(void *arg, const char *path)
{
	collect(arg, true, path);
}

static void expect_pins(struct tree *t, const char *want)
{
	struct seen s = {{0}, 0};
	bool unread = true;
	assert_true(fs_pin_set_load(t->pins, t->log, t->rootfd, add_pinned, &s, &unread) >= 0);
	assert_string_equal(s.text, want);
	assert_false(unread);
}

static void tree_free(struct tree *t)
{
	close(t->fd);
	close(t->rootfd);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->root);
	assert_int_equal(system(cmd), 0);
}

/* STATE/pins that cannot be read (a directory in its place here; another
 * user's file, an I/O error): the caller is told, so that it does not
 * replace it with the pins it knows (none of those it holds). */
static void test_set_unread(void **state)
{
	(void)state;
	struct tree t;
	const char *files[] = {"a", "pins/", NULL};
	tree_make(&t, files);
	assert_int_equal(fs_pin_log_append(t.fd, true, "a"), 0);
	struct seen s = {{0}, 0};
	bool unread = false;
	assert_int_equal(fs_pin_set_load(t.pins, t.log, t.rootfd, add_pinned, &s, &unread), 1);
	assert_true(unread);
	assert_string_equal(s.text, "+a|");
	tree_free(&t);
}

/* A rename whose intent is logged but whose "-OLD" "+NEW" never came (the
 * mount died between the two): the pin follows the file when BACKING shows
 * it was made, and stays where it was when it was not. */
static void test_set_rename_made_or_not(void **state)
{
	(void)state;
	struct tree t;
	const char *files[] = {"a", "b", "c", "d/", "d/f", "e", NULL};
	tree_make(&t, files);
	FILE *p = fopen(t.pins, "w");
	fputs("a\nc\nd/f\ne\n", p);
	fclose(p);
	struct fs_pin_rename ra = {.from = "a", .to = "a2", .from_ino = ino_of(&t, "a")};
	struct fs_pin_rename rc = {.from = "c", .to = "c2", .from_ino = ino_of(&t, "c")};
	struct fs_pin_rename rd = {.from = "d", .to = "d2", .from_ino = ino_of(&t, "d")};
	/* e renamed over b: e's pin goes to b; b (not pinned) stays so. */
	struct fs_pin_rename re = {.from = "e", .to = "b", .from_ino = ino_of(&t, "e")};
	assert_int_equal(fs_pin_log_append_rename(t.fd, &ra), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rc), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rd), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &re), 0);
	tree_rename(&t, "a", "a2", 0);
	tree_rename(&t, "d", "d2", 0);
	tree_rename(&t, "e", "b", 0); /* c's was never made */
	expect_pins(&t, "+a2|+b|+c|+d2/f|");
	tree_free(&t);
}

/* A pinned file replaced by a rename loses its pin, and the replacing
 * file has one only if it had; an exchange swaps the pins of both sides
 * (and of what is below them) at once; a rename followed by its own
 * records, and one made back since, end where the files are. */
static void test_set_replace_exchange_done(void **state)
{
	(void)state;
	struct tree t;
	const char *files[] = {"v", "w", "x/", "x/1", "y/", "y/2", "k", "m", NULL};
	tree_make(&t, files);
	FILE *p = fopen(t.pins, "w");
	fputs("v\nx/1\ny/2\nk\n", p);
	fclose(p);
	/* w (not pinned) over v (pinned): v's pin is gone. */
	struct fs_pin_rename rw = {.from = "w", .to = "v", .from_ino = ino_of(&t, "w")};
	struct fs_pin_rename rx = {.from = "x", .to = "y", .from_ino = ino_of(&t, "x"),
				   .to_ino = ino_of(&t, "y"), .exchange = true};
	uint64_t k = ino_of(&t, "k");
	struct fs_pin_rename rk = {.from = "k", .to = "k2", .from_ino = k};
	struct fs_pin_rename back = {.from = "k2", .to = "k", .from_ino = k};
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rw), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rx), 0);
	/* k renamed to k2 and back, both through the mount and recorded. */
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rk), 0);
	assert_int_equal(fs_pin_log_append(t.fd, false, "k"), 0);
	assert_int_equal(fs_pin_log_append(t.fd, true, "k2"), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &back), 0);
	assert_int_equal(fs_pin_log_append(t.fd, false, "k2"), 0);
	assert_int_equal(fs_pin_log_append(t.fd, true, "k"), 0);
	/* m pinned after a rename that put another file at its name... */
	tree_rename(&t, "w", "v", 0);
	tree_rename(&t, "x", "y", RENAME_EXCHANGE);
	tree_rename(&t, "k", "k2", 0);
	tree_rename(&t, "k2", "k", 0);
	expect_pins(&t, "+k|+x/2|+y/1|");
	/* ... and a rename that failed (its intent alone) changes nothing. */
	struct fs_pin_rename rm = {.from = "m", .to = "nodir/m", .from_ino = ino_of(&t, "m")};
	assert_int_equal(fs_pin_log_append(t.fd, true, "m"), 0);
	assert_int_equal(fs_pin_log_append_rename(t.fd, &rm), 0);
	expect_pins(&t, "+k|+m|+x/2|+y/1|");
	tree_free(&t);
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
	    cmocka_unit_test(test_append_after_cut),
	    cmocka_unit_test(test_rename_records),
	    cmocka_unit_test(test_set_rename_made_or_not),
	    cmocka_unit_test(test_set_replace_exchange_done),
	    cmocka_unit_test(test_set_unread),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
