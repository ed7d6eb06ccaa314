/* Unit tests of the shadow map's lifetime (daemon/shadow_map.c): entries
 * removed from the hash and the walk order, and an entry made again for
 * the same file starting above every version the removed one had; copy
 * ids salted per mount. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/shadow_map.h"

/* Every entry of the walk order, found by its key, at its index. */
static void assert_walk_consistent(struct daemon_shadow_map *m)
{
	size_t n = daemon_shadow_map_size(m);
	for (size_t k = 0; k < n; k++) {
		struct daemon_shadow_file *f = daemon_shadow_map_at(m, k);
		assert_non_null(f);
		assert_int_equal(f->order_index, k);
		assert_ptr_equal(daemon_shadow_map_find(m, f->dev, f->ino), f);
	}
	assert_null(daemon_shadow_map_at(m, n));
}

static void test_remove(void **state)
{
	(void)state;
	struct daemon_shadow_map *m;
	assert_int_equal(daemon_shadow_map_new(1000, &m), 0);
	daemon_shadow_map_lock(m);
	/* Enough entries for the hash to grow (rehash keeps chains right). */
	enum { N = 300 };
	for (uint64_t i = 0; i < N; i++) {
		struct daemon_shadow_file *f = daemon_shadow_map_get(m, 7, i);
		assert_non_null(f);
		f->path = strdup("some/path");
	}
	assert_int_equal(daemon_shadow_map_size(m), N);
	/* Removing the first, one in the middle, the last, and every third. */
	daemon_shadow_map_remove(m, daemon_shadow_map_find(m, 7, 0));
	daemon_shadow_map_remove(m, daemon_shadow_map_find(m, 7, 150));
	daemon_shadow_map_remove(m, daemon_shadow_map_find(m, 7, N - 1));
	assert_int_equal(daemon_shadow_map_size(m), N - 3);
	assert_null(daemon_shadow_map_find(m, 7, 0));
	assert_null(daemon_shadow_map_find(m, 7, 150));
	assert_null(daemon_shadow_map_find(m, 7, N - 1));
	assert_walk_consistent(m);
	size_t removed = 3;
	for (uint64_t i = 3; i < N - 1; i += 3) {
		struct daemon_shadow_file *f = daemon_shadow_map_find(m, 7, i);
		if (f) {
			daemon_shadow_map_remove(m, f);
			removed++;
		}
	}
	assert_int_equal(daemon_shadow_map_size(m), N - removed);
	assert_int_equal(daemon_shadow_map_removed(m), removed);
	assert_walk_consistent(m);
	for (uint64_t i = 1; i < N - 1; i++)
		if (i % 3 != 0 && i != 150)
			assert_non_null(daemon_shadow_map_find(m, 7, i));
	/* Removing everything, then the map is usable again. */
	while (daemon_shadow_map_size(m) > 0)
		daemon_shadow_map_remove(m, daemon_shadow_map_at(m, daemon_shadow_map_size(m) / 2));
	assert_null(daemon_shadow_map_at(m, 0));
	assert_non_null(daemon_shadow_map_get(m, 7, 1));
	assert_walk_consistent(m);
	daemon_shadow_map_unlock(m);
	daemon_shadow_map_free(m);
}

/* A copy made under a removed entry (at any of its versions) never
 * matches the entry made again for the same file. */
static void test_version_after_remove(void **state)
{
	(void)state;
	struct daemon_shadow_map *m;
	assert_int_equal(daemon_shadow_map_new(1000, &m), 0);
	daemon_shadow_map_lock(m);
	struct daemon_shadow_file *f = daemon_shadow_map_get(m, 1, 2);
	assert_int_equal(daemon_shadow_file_version(f), 1000);
	for (int i = 0; i < 5; i++)
		daemon_shadow_file_bump(f, 0);
	uint64_t last = daemon_shadow_file_version(f); /* 1005 */
	uint8_t id[16];
	memcpy(id, f->id, sizeof(id));
	daemon_shadow_map_remove(m, f);
	f = daemon_shadow_map_get(m, 1, 2);
	assert_true(daemon_shadow_file_version(f) > last);
	assert_int_equal(f->first_version, daemon_shadow_file_version(f)); /* shown as v1 */
	assert_memory_equal(f->id, id, sizeof(id)); /* same file, same store name */
	/* Another file made afterwards starts above it too (harmless: versions
	 * are only compared for equality within one file). */
	assert_true(daemon_shadow_file_version(daemon_shadow_map_get(m, 1, 3)) > last);
	daemon_shadow_map_unlock(m);
	daemon_shadow_map_free(m);
}

/* A pointer that is not in the map is left alone (no double free). */
static void test_remove_foreign(void **state)
{
	(void)state;
	struct daemon_shadow_map *a, *b;
	assert_int_equal(daemon_shadow_map_new(1, &a), 0);
	assert_int_equal(daemon_shadow_map_new(1, &b), 0);
	daemon_shadow_map_lock(a);
	daemon_shadow_map_lock(b);
	struct daemon_shadow_file *fa = daemon_shadow_map_get(a, 1, 1);
	assert_non_null(daemon_shadow_map_get(b, 1, 1));
	daemon_shadow_map_remove(b, fa); /* same key, other map */
	assert_int_equal(daemon_shadow_map_size(b), 1);
	assert_int_equal(daemon_shadow_map_removed(b), 0);
	assert_ptr_equal(daemon_shadow_map_find(a, 1, 1), fa);
	daemon_shadow_map_unlock(b);
	daemon_shadow_map_unlock(a);
	daemon_shadow_map_free(a);
	daemon_shadow_map_free(b);
}

/* Copy ids: one per file within a map; the same file in maps of two
 * mounts (two salts) gets two ids, and the same salt gives the same id
 * again (a remount finds its copies). */
static void test_ids_salted(void **state)
{
	(void)state;
	static const uint8_t s1[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t s2[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	struct daemon_shadow_map *a, *b, *c;
	assert_int_equal(daemon_shadow_map_new(1, &a), 0);
	assert_int_equal(daemon_shadow_map_new(1, &b), 0);
	assert_int_equal(daemon_shadow_map_new(1, &c), 0);
	daemon_shadow_map_set_salt(a, s1);
	daemon_shadow_map_set_salt(b, s2);
	daemon_shadow_map_set_salt(c, s1);
	daemon_shadow_map_lock(a);
	daemon_shadow_map_lock(b);
	daemon_shadow_map_lock(c);
	struct daemon_shadow_file *fa = daemon_shadow_map_get(a, 2049, 12);
	struct daemon_shadow_file *fb = daemon_shadow_map_get(b, 2049, 12);
	struct daemon_shadow_file *fc = daemon_shadow_map_get(c, 2049, 12);
	assert_true(memcmp(fa->id, fb->id, 16) != 0);
	assert_memory_equal(fa->id, fc->id, 16);
	/* within one map: distinct (dev, ino) pairs, distinct ids */
	struct daemon_shadow_file *g[4] = {daemon_shadow_map_get(a, 2049, 13),
					    daemon_shadow_map_get(a, 2050, 12),
					    daemon_shadow_map_get(a, 0, 12), daemon_shadow_map_get(a, 2049, 0)};
	for (int i = 0; i < 4; i++) {
		assert_true(memcmp(g[i]->id, fa->id, 16) != 0);
		for (int j = 0; j < i; j++)
			assert_true(memcmp(g[i]->id, g[j]->id, 16) != 0);
	}
	daemon_shadow_map_unlock(c);
	daemon_shadow_map_unlock(b);
	daemon_shadow_map_unlock(a);
	daemon_shadow_map_free(a);
	daemon_shadow_map_free(b);
	daemon_shadow_map_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_remove),
	    cmocka_unit_test(test_version_after_remove),
	    cmocka_unit_test(test_remove_foreign),
	    cmocka_unit_test(test_ids_salted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
