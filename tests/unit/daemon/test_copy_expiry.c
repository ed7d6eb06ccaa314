/* Unit tests of daemon/copy_expiry: copies unused for the idle time are
 * deleted from a real host store, used ones stay, a copy first seen by a
 * pass counts from then, one committed again during a pass stays, and 0
 * means never. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <pthread.h>

#include "daemon/copy_expiry.h"
#include "daemon/host_store.h"
#include "tests/unit/daemon/store_fixture.h"


static void id_of(unsigned k, uint8_t id[16])
{
	memset(id, 0, 16);
	id[0] = 0xab;
	memcpy(id + 12, &k, sizeof(k));
}

static void put(struct daemon_store *s, unsigned k, uint64_t ver)
{
	struct daemon_store_writer *w;
	uint8_t id[16], sha[32];
	char content[32];
	int n = snprintf(content, sizeof(content), "copy %u v%llu", k, (unsigned long long)ver);
	SHA256((const unsigned char *)content, (size_t)n, sha);
	id_of(k, id);
	assert_int_equal(daemon_store_create(s, id, ver, (uint64_t)n, &w), 0);
	assert_int_equal(daemon_store_writer_append(w, content, (size_t)n), 0);
	assert_int_equal(daemon_store_commit(w, sha), 0);
}

static bool present(struct daemon_store *s, unsigned k, uint64_t ver)
{
	uint8_t id[16];
	char buf[8];
	id_of(k, id);
	return daemon_store_read(s, id, ver, 0, buf, sizeof(buf)) > 0;
}

static void touch(struct daemon_copy_expiry *e, unsigned k, uint64_t ver, uint64_t ms)
{
	uint8_t id[16];
	id_of(k, id);
	daemon_copy_expiry_touch(e, id, ver, ms);
}

static uint64_t pass(struct daemon_copy_expiry *e, uint64_t ms)
{
	uint64_t n = 99, bytes = 99;
	assert_int_equal(daemon_copy_expiry_pass(e, ms, &n, &bytes), 0);
	return n;
}

/* Copies there at start count from the start; a use moves a copy's clock;
 * the idle time is a closed bound. */
static void test_unused_copies_expire(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	put(f->s, 1, 1);
	put(f->s, 2, 1);
	assert_int_equal(daemon_copy_expiry_new(f->s, 1000, 10000, &e), 0);
	touch(e, 1, 1, 10500);
	assert_int_equal(pass(e, 10999), 0);
	assert_int_equal(pass(e, 11000), 1);
	assert_false(present(f->s, 2, 1));
	assert_true(present(f->s, 1, 1));
	assert_int_equal(pass(e, 11499), 0);
	assert_int_equal(pass(e, 11500), 1);
	assert_false(present(f->s, 1, 1));
	daemon_copy_expiry_free(e);
}

/* A copy the table does not know (committed while a pass rebuilt it, or
 * no memory at its use) counts from the pass that first sees it; a copy
 * deleted by a mount is forgotten; versions are told apart. */
static void test_first_seen_and_versions(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	assert_int_equal(daemon_copy_expiry_new(f->s, 1000, 0, &e), 0);
	put(f->s, 3, 7); /* no touch */
	put(f->s, 3, 8);
	touch(e, 3, 8, 4500);
	assert_int_equal(pass(e, 5000), 0); /* v7 first seen now, v8 used at 4500 */
	assert_true(present(f->s, 3, 7));
	assert_int_equal(pass(e, 5500), 1); /* v8 idle since 4500, v7 only since 5000 */
	assert_false(present(f->s, 3, 8));
	assert_true(present(f->s, 3, 7));
	uint8_t id[16];
	id_of(3, id);
	assert_int_equal(daemon_store_delete(f->s, id, 7), 0); /* a mount deleted it */
	assert_int_equal(pass(e, 9000), 0);
	daemon_copy_expiry_free(e);
}

/* A copy committed again at its version after a pass listed it expired
 * (a peer's upload, not yet touched: shadowd touches after the commit) is
 * a new copy, kept: the pass deletes the file it listed only. The pass
 * lists 500 unsynced copies before the durable one it races on, and the
 * commit comes once the pass has begun deleting them. Before, the pass
 * deleted by name: the new copy went. */
struct recommit_during_pass {
	struct daemon_store *s;
	uint64_t before; /* copies when the pass began */
	bool failed;
};

static void *recommit_when_deleting(void *arg)
{
	struct recommit_during_pass *r = arg;
	struct daemon_store_stats st;
	struct daemon_store_writer *w;
	uint8_t id[16], sha[32];
	do
		daemon_store_stats(r->s, &st);
	while (st.copies + 10 > r->before);
	id_of(0, id);
	SHA256((const unsigned char *)"copy 0 v1", 9, sha);
	r->failed = daemon_store_create(r->s, id, 1, 9, &w) < 0 ||
		    daemon_store_writer_append(w, "copy 0 v1", 9) < 0 || daemon_store_commit(w, sha) < 0;
	return NULL;
}

static void test_recommitted_during_pass_kept(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	put(f->s, 0, 1);
	daemon_store_flush(f->s); /* listed after the unsynced ones */
	daemon_store_set_sync_delay(f->s, 600000);
	for (unsigned k = 1; k <= 500; k++)
		put(f->s, k, 1);
	assert_int_equal(daemon_copy_expiry_new(f->s, 1000, 0, &e), 0);
	struct recommit_during_pass r = {.s = f->s, .before = 501};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, recommit_when_deleting, &r), 0);
	uint64_t n = pass(e, 5000);
	pthread_join(t, NULL);
	print_message("%llu copies expired\n", (unsigned long long)n);
	assert_false(r.failed);
	assert_true(present(f->s, 0, 1));
	assert_int_equal(n, 500);
	daemon_copy_expiry_free(e);
}

/* Many copies (the table grows and is rebuilt): exactly the unused half
 * goes. */
static void test_many_copies(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	enum { N = 300 };
	for (unsigned k = 0; k < N; k++)
		put(f->s, k, 1);
	assert_int_equal(daemon_copy_expiry_new(f->s, 1000, 0, &e), 0);
	for (unsigned k = 0; k < N; k += 2)
		touch(e, k, 1, 600);
	assert_int_equal(pass(e, 100), 0);
	assert_int_equal(pass(e, 1000), N / 2);
	for (unsigned k = 0; k < N; k++)
		assert_int_equal(present(f->s, k, 1), k % 2 == 0);
	assert_int_equal(pass(e, 1600), N / 2);
	struct daemon_store_stats st;
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.copies, 0);
	daemon_copy_expiry_free(e);
}

/* 0: never; touch and start do nothing. */
static void test_never(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	put(f->s, 4, 1);
	assert_int_equal(daemon_copy_expiry_new(f->s, 0, 0, &e), 0);
	touch(e, 4, 1, 5);
	assert_int_equal(daemon_copy_expiry_start(e, 10), 0);
	assert_int_equal(pass(e, UINT64_MAX / 2), 0);
	assert_true(present(f->s, 4, 1));
	daemon_copy_expiry_free(e);
}

/* The thread runs passes on its own and stops at free. */
static void test_thread(void **state)
{
	struct fx *f = *state;
	struct daemon_copy_expiry *e;
	put(f->s, 5, 1);
	assert_int_equal(daemon_copy_expiry_new(f->s, 1, 0, &e), 0); /* long idle already */
	assert_int_equal(daemon_copy_expiry_start(e, 10), 0);
	for (int i = 0; i < 200 && present(f->s, 5, 1); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	assert_false(present(f->s, 5, 1));
	daemon_copy_expiry_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_unused_copies_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_first_seen_and_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recommitted_during_pass_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_never, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_thread, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
