/* Unit tests of fs/remote_dirty.c: the ranges written since a file's last
 * remote sync are given for a copy at exactly that version and size, and
 * for nothing else (another base, another size, a change the mount could
 * not describe, a file that moved on during the sync). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "daemon/shadow_map.h"
#include "fs/remote_dirty.h"

static struct daemon_shadow_file file(uint64_t version)
{
	return (struct daemon_shadow_file){.version = version, .origin_fd = -1};
}

/* No record before the first sync: notes are ignored, nothing is known. */
static void test_no_record(void **state)
{
	(void)state;
	struct daemon_shadow_file s = file(5);
	struct fs_dirty_span *v = NULL;
	size_t n = 0;
	fs_remote_dirty_write(&s, 0, 10);
	fs_remote_dirty_truncate(&s, 3);
	fs_remote_dirty_unknown(&s);
	assert_int_equal(fs_remote_dirty_ranges(&s, 5, 100, &v, &n), -ENOENT);
	assert_null(s.dirty);
}

/* After a sync at v: writes and truncations give sorted ranges relative to
 * v; another base or size is refused. */
static void test_ranges_since_sync(void **state)
{
	(void)state;
	struct daemon_shadow_file s = file(7);
	struct fs_dirty_span *v = NULL;
	size_t n = 0;
	fs_remote_dirty_synced(&s, 7, 1000);
	assert_int_equal(fs_remote_dirty_ranges(&s, 7, 1000, &v, &n), 0);
	assert_int_equal(n, 0); /* nothing written: an empty update */
	free(v);
	s.version = 9;
	fs_remote_dirty_write(&s, 500, 10);
	fs_remote_dirty_write(&s, 100, 20);
	fs_remote_dirty_truncate(&s, 1200); /* grows: [1000, 1200) reads as zeros */
	assert_int_equal(fs_remote_dirty_ranges(&s, 7, 1000, &v, &n), -ENOENT);
	assert_int_equal(fs_remote_dirty_ranges(&s, 6, 1200, &v, &n), -ENOENT);
	assert_int_equal(fs_remote_dirty_ranges(&s, 7, 1200, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].off, 100);
	assert_int_equal(v[0].len, 20);
	assert_int_equal(v[1].off, 500);
	assert_int_equal(v[2].off, 1000);
	assert_int_equal(v[2].len, 200);
	free(v);
	fs_remote_dirty_free(&s);
	assert_null(s.dirty);
}

/* A change the mount cannot describe makes the record unknown until the
 * next sync; a sync whose file moved on meanwhile does not restart it. */
static void test_unknown_and_moved_on(void **state)
{
	(void)state;
	struct daemon_shadow_file s = file(3);
	struct fs_dirty_span *v = NULL;
	size_t n = 0;
	fs_remote_dirty_synced(&s, 3, 50);
	s.version = 4;
	fs_remote_dirty_unknown(&s);
	assert_int_equal(fs_remote_dirty_ranges(&s, 3, 50, &v, &n), -ENOENT);
	s.version = 6; /* a sync made v5, but the file is at v6 now */
	fs_remote_dirty_synced(&s, 5, 50);
	assert_int_equal(fs_remote_dirty_ranges(&s, 5, 50, &v, &n), -ENOENT);
	fs_remote_dirty_synced(&s, 6, 60);
	fs_remote_dirty_write(&s, 0, 1);
	assert_int_equal(fs_remote_dirty_ranges(&s, 6, 60, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	fs_remote_dirty_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_record),
	    cmocka_unit_test(test_ranges_since_sync),
	    cmocka_unit_test(test_unknown_and_moved_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
