/* Unit tests of predictor/store_locate: a registered mount is found from
 * its mountpoint, from paths below it (existing or not) and from its state
 * directory, whatever its names hold; unregistered paths are ENOENT. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "predictor/series_store.h"
#include "predictor/store_locate.h"
#include "tests/unit/tmpdir.h"

/* Registration and every way of finding a mount again. */
static void test_register_and_locate(void **state)
{
	(void)state;
	char *root = tmpdir_make("locate");
	char run[512], mnt[512], back[512], st[512], sub[600], p[700];
	snprintf(run, sizeof(run), "%s/run", root);
	/* a '%', a backslash and a newline in the names */
	snprintf(mnt, sizeof(mnt), "%s/m%%n\\t\nx", root);
	snprintf(back, sizeof(back), "%s/back\ning", root);
	snprintf(st, sizeof(st), "%s/state", root);
	mkdir(mnt, 0755);
	mkdir(back, 0755);
	mkdir(st, 0755);
	setenv("SHADOWFS_RUN_DIR", run, 1);
	mode_t old_umask = umask(0); /* as shadowfs runs */
	assert_int_equal(pred_locate_register(mnt, back, st, 1234), 0);
	umask(old_umask);
	/* Both records are the mount's owner's alone to write. */
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", st, PRED_MOUNT_INFO);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	FILE *info = fopen(p, "r");
	assert_non_null(info);
	int lines = 0;
	for (int c; (c = fgetc(info)) != EOF;)
		lines += c == '\n';
	fclose(info);
	assert_int_equal(lines, 5); /* one per key: the newlines escaped */
	snprintf(p, sizeof(p), "%s/mounts", run);
	DIR *d = opendir(p);
	assert_non_null(d);
	int records = 0;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(fstatat(dirfd(d), de->d_name, &sb, 0), 0);
		assert_int_equal(sb.st_mode & 07777, 0644);
		records++;
	}
	closedir(d);
	assert_int_equal(records, 1);

	struct pred_location loc;
	assert_int_equal(pred_locate(mnt, &loc), 0);
	assert_string_equal(loc.state_dir, st);
	assert_string_equal(loc.backing, back);
	assert_string_equal(loc.rel, "");
	assert_int_equal(loc.pid, 1234);
	snprintf(sub, sizeof(sub), "%s/d", mnt);
	mkdir(sub, 0755);
	snprintf(p, sizeof(p), "%s/d/../d/missing-file", mnt);
	assert_int_equal(pred_locate(p, &loc), 0);
	assert_string_equal(loc.rel, "d/missing-file");
	assert_string_equal(loc.mountpoint, mnt);

	/* A state directory is recognised by its database. */
	struct pred_store *s = NULL;
	assert_int_equal(pred_store_open(st, NULL, false, &s, NULL, 0), 0);
	pred_store_close(s);
	assert_int_equal(pred_locate(st, &loc), 0);
	assert_string_equal(loc.state_dir, st);
	assert_string_equal(loc.mountpoint, mnt);

	assert_int_equal(pred_locate(back, &loc), -ENOENT);
	assert_int_equal(pred_locate("/", &loc), -ENOENT);
	unsetenv("SHADOWFS_RUN_DIR");
	tmpdir_remove(root);
}

/* The default state directory is stable for a backing directory and
 * differs between backing directories. */
static void test_default_state(void **state)
{
	(void)state;
	char a[4096], b[4096], c[4096];
	assert_int_equal(pred_locate_default_state("/tmp", a, sizeof(a)), 0);
	assert_int_equal(pred_locate_default_state("/tmp/", b, sizeof(b)), 0);
	assert_int_equal(pred_locate_default_state("/", c, sizeof(c)), 0);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strncmp(a, PRED_STATE_ROOT "/", strlen(PRED_STATE_ROOT) + 1), 0);
	assert_int_equal(pred_locate_default_state("/nonexistent/x", a, sizeof(a)), -ENOENT);
	setenv("SHADOWFS_STATE_ROOT", "/tmp/elsewhere", 1);
	assert_int_equal(pred_locate_default_state("/tmp", c, sizeof(c)), 0);
	assert_string_equal(c + strlen("/tmp/elsewhere"), b + strlen(PRED_STATE_ROOT));
	unsetenv("SHADOWFS_STATE_ROOT");
}

/* Each user records mounts where it can write: root in /run/shadowfs,
 * another user in its runtime directory or beside its state. */
static void test_run_dir_per_user(void **state)
{
	(void)state;
	char d[4096], want[4096];
	struct stat st;
	unsetenv("SHADOWFS_RUN_DIR");
	assert_int_equal(pred_locate_run_dir_of(0, d, sizeof(d)), 0);
	assert_string_equal(d, "/run/shadowfs");
	/* nobody: no runtime directory here (checked), home from passwd. */
	if (stat("/run/user/65534", &st) == 0)
		snprintf(want, sizeof(want), "/run/user/65534/shadowfs");
	else
		snprintf(want, sizeof(want), "/nonexistent/.local/state/shadowfs/run");
	if (getpwuid(65534)) {
		assert_int_equal(pred_locate_run_dir_of(65534, d, sizeof(d)), 0);
		assert_string_equal(d, want);
	}
	/* A uid nobody has: no home, no run dir. */
	if (!getpwuid(4000000000u))
		assert_int_equal(pred_locate_run_dir_of(4000000000u, d, sizeof(d)), -ENOENT);
	assert_int_equal(pred_locate_run_dir_of(0, d, 8), -ENAMETOOLONG);
	setenv("SHADOWFS_RUN_DIR", "/tmp/rd", 1);
	assert_int_equal(pred_locate_run_dir_of(65534, d, sizeof(d)), 0);
	assert_string_equal(d, "/tmp/rd");
	assert_string_equal(pred_locate_run_dir(), "/tmp/rd");
	unsetenv("SHADOWFS_RUN_DIR");
	if (geteuid() == 0)
		assert_string_equal(pred_locate_run_dir(), "/run/shadowfs");
}

/* A state directory is one process's: a second claim waits, then EBUSY;
 * free again once the first fd is closed. Made 0700 (parents 0755). */
static void test_claim_state(void **state)
{
	(void)state;
	char *root = tmpdir_make("claim");
	char dir[600], file[600];
	snprintf(dir, sizeof(dir), "%s/a/b/state", root);
	mode_t old_umask = umask(0);
	int fd = -1, fd2 = -1;
	assert_int_equal(pred_locate_claim_state(dir, 0, &fd), 0);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(file, sizeof(file), "%s/a/b", root);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* flock locks belong to the open file description: a second open
	 * in this process conflicts as another process's would. */
	assert_int_equal(pred_locate_claim_state(dir, 100, &fd2), -EBUSY);
	assert_int_equal(fd2, -1);
	close(fd);
	assert_int_equal(pred_locate_claim_state(dir, 0, &fd2), 0);
	close(fd2);
	snprintf(file, sizeof(file), "%s/plain", root);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(pred_locate_claim_state(file, 0, &fd), -ENOTDIR);
	assert_int_equal(fd, -1);
	umask(old_umask);
	tmpdir_remove(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_locate),
		cmocka_unit_test(test_default_state),
		cmocka_unit_test(test_run_dir_per_user),
		cmocka_unit_test(test_claim_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
