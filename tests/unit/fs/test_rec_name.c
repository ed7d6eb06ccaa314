/* Unit tests of fs/rec_name: a file is named from its handle with its path
 * relative to BACKING and the id of its user.shadow.id xattr; when the
 * kernel has dropped its dentry, the handle opens a disconnected file that
 * /proc shows as "/": the id still comes back, the path is unknown (NULL),
 * never "/" (it was recorded as the file's path before). An unlinked file
 * is -ENOENT; one reached through a name it lost while it has others (a
 * linked O_TMPFILE's first, nameless dentry: "sub/#INO (deleted)") is
 * named by path_of, and a file whose name ends in " (deleted)" by that
 * name. Needs root (open_by_handle_at, drop_caches). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/file_id.h"
#include "fs/rec_name.h"
#include "tests/unit/tmpdir.h"

struct fixture {
	char *dir;
	char backing[PATH_MAX];
	struct fs_rec_namer namer;
	struct fs_rec_handle h;
	uint8_t id[PRED_ID_LEN];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->dir = tmpdir_make("name");
	if (!f->dir || !realpath(f->dir, f->backing))
		return -1;
	char p[PATH_MAX + 16];
	snprintf(p, sizeof(p), "%s/sub", f->backing);
	if (mkdir(p, 0755))
		return -1;
	snprintf(p, sizeof(p), "%s/sub/file", f->backing);
	int fd = open(p, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd))
		return -1;
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 128];
	} u;
	u.fh.handle_bytes = 128;
	int mid;
	if (name_to_handle_at(AT_FDCWD, p, &u.fh, &mid, 0) || !fs_rec_handle_copy(&f->h, &u.fh))
		return -1;
	f->namer.mount_fd = open(f->backing, O_RDONLY | O_DIRECTORY);
	f->namer.backing = f->backing;
	f->namer.backing_len = strlen(f->backing);
	*state = f;
	return f->namer.mount_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	close(f->namer.mount_fd);
	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void test_named_then_disconnected(void **state)
{
	struct fixture *f = *state;
	uint8_t id[PRED_ID_LEN], id2[PRED_ID_LEN];
	char *path = NULL;
	assert_int_equal(fs_rec_name_handle(&f->namer, &f->h, 0, 1000, id, &path), 0);
	assert_non_null(path);
	assert_string_equal(path, "sub/file");
	free(path);
	/* Drop the dentries: the handle now opens a disconnected alias. */
	sync();
	int dc = open("/proc/sys/vm/drop_caches", O_WRONLY);
	assert_true(dc >= 0);
	assert_int_equal(write(dc, "2", 1), 1);
	close(dc);
	path = (char *)1;
	assert_int_equal(fs_rec_name_handle(&f->namer, &f->h, 0, 1001, id2, &path), 0);
	assert_null(path);
	assert_memory_equal(id, id2, PRED_ID_LEN);
}

static void test_unlinked(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16], *path = NULL;
	uint8_t id[PRED_ID_LEN];
	snprintf(p, sizeof(p), "%s/sub/file", f->backing);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(fs_rec_name_handle(&f->namer, &f->h, 0, 1002, id, &path), -ENOENT);
	assert_null(path);
}

/* path_of for the tests: says where it was asked about. */
static int asked_dir;
static int path_of_stub(void *arg, int fd, dev_t dev, ino_t ino, uint64_t dir_ino,
			char buf[PATH_MAX])
{
	(void)arg;
	(void)fd;
	(void)dev;
	(void)ino;
	asked_dir = (int)dir_ino;
	snprintf(buf, PATH_MAX, "sub/linked");
	return 0;
}

/* An O_TMPFILE, kept as an O_PATH fd through its nameless dentry (as the
 * inode table keeps one without handles), then linked: named through
 * path_of, not taken for unlinked (-ENOENT). Never linked: -ENOENT. */
static void test_linked_tmpfile(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 16], proc[32], *path = NULL;
	uint8_t id[PRED_ID_LEN];
	f->namer.path_of = path_of_stub;
	snprintf(p, sizeof(p), "%s/sub", f->backing);
	int tfd = open(p, O_TMPFILE | O_RDWR, 0644);
	assert_true(tfd >= 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tfd);
	int opath = open(proc, O_PATH | O_CLOEXEC);
	assert_true(opath >= 0);
	assert_int_equal(fs_rec_name_fd(&f->namer, opath, 7, 1003, id, &path), -ENOENT);
	snprintf(p, sizeof(p), "%s/sub/linked", f->backing);
	assert_int_equal(linkat(AT_FDCWD, proc, AT_FDCWD, p, AT_SYMLINK_FOLLOW), 0);
	asked_dir = 0;
	assert_int_equal(fs_rec_name_fd(&f->namer, opath, 7, 1004, id, &path), 0);
	assert_int_equal(asked_dir, 7);
	assert_non_null(path);
	assert_string_equal(path, "sub/linked");
	free(path);
	close(opath);
	close(tfd);
}

/* A file whose name really ends in " (deleted)" is named by it. */
static void test_name_ending_deleted(void **state)
{
	struct fixture *f = *state;
	char p[PATH_MAX + 32], *path = NULL;
	uint8_t id[PRED_ID_LEN];
	snprintf(p, sizeof(p), "%s/sub/x (deleted)", f->backing);
	int fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fs_rec_name_fd(&f->namer, fd, 0, 1005, id, &path), 0);
	assert_non_null(path);
	assert_string_equal(path, "sub/x (deleted)");
	free(path);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_named_then_disconnected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlinked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linked_tmpfile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_ending_deleted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
