/* The control loop's pure decisions (daemon/control.c) under a file's
 * allowed hosts (user.shadow.hosts): placement only on allowed hosts, a
 * copy on a host no longer allowed replaced then trimmed (make before
 * break), the replica count capped by the allowed hosts, and TRIM's pick
 * dropping a misplaced copy first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/control.h"
#include "daemon/host_store.h"

static const struct daemon_control_params P = {.idle_ms = 10000, .quiet_ms = 2000};
#define BIT DAEMON_CONTROL_HOST_BIT
#define ANY DAEMON_CONTROL_ANY_HOST

/* Three up hosts, the cheapest first. */
static void three_hosts(struct daemon_control_host h[3])
{
	for (int i = 0; i < 3; i++)
		h[i] = (struct daemon_control_host){
		    .up = true, .thin = true, .cost = i + 1, .avail_bytes = UINT64_MAX};
}

/* A sparse file: a thin host (local, or a shadowd that takes thin PUTs)
 * needs room for its data only, another (which reserves the whole size
 * while a copy is written) for its size; free disk space likewise. */
static void test_pick_host_sparse(void **state)
{
	(void)state;
	struct daemon_control_host h[3];
	three_hosts(h);
	h[0].thin = false; /* the cheapest: a shadowd that predates thin PUTs */
	for (int i = 0; i < 3; i++)
		h[i].budget_bytes = 16 + DAEMON_STORE_COPY_OVERHEAD; /* a copy's own cost too */
	h[1].used_bytes = 14; /* room for 2 */
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 4, NULL, ANY), 2);
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 2, NULL, ANY), 1);
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 16, 16, NULL, ANY), 0);
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 64, NULL, ANY), -1);
	assert_int_equal(daemon_control_pick_host(h, 3, 64, NULL, ANY), -1);
	h[2].avail_bytes = 3; /* its disk: no room for the 4 bytes of data */
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 4, NULL, ANY), -1);
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 3, NULL, ANY), 2);
	h[0].thin = true; /* the same shadowd, upgraded: the cheapest fits now */
	assert_int_equal(daemon_control_pick_host_sparse(h, 3, 64, 4, NULL, ANY), 0);
}

/* Placement considers only the allowed hosts: the cheapest of them, not
 * the cheapest of all; down, full or excluded allowed hosts still do not
 * count; no allowed host -> -1. */
static void test_pick_host_allowed(void **state)
{
	(void)state;
	struct daemon_control_host h[3];
	three_hosts(h);
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, ANY), 0);
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, BIT(1) | BIT(2)), 1);
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, BIT(2)), 2);
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, 0), -1);
	bool ex[3] = {false, true, false};
	assert_int_equal(daemon_control_pick_host(h, 3, 10, ex, BIT(1) | BIT(2)), 2);
	assert_int_equal(daemon_control_pick_host(h, 3, 10, ex, BIT(1)), -1);
	h[2].up = false;
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, BIT(2)), -1);
	h[2].up = true;
	h[2].avail_bytes = 5; /* no room */
	assert_int_equal(daemon_control_pick_host(h, 3, 10, NULL, BIT(2)), -1);
	/* hosts from the 64th on are in no mask but ANY */
	assert_true(daemon_control_host_allowed(ANY, 70));
	assert_false(daemon_control_host_allowed(UINT64_MAX - 1, 70));
	assert_false(daemon_control_host_allowed(BIT(1), 0));
	assert_true(daemon_control_host_allowed(BIT(1), 1));
	assert_true(BIT(64) == 0);
}

/* TRIM's pick drops a copy on a host not allowed first, even when it is
 * the cheaper one; among misplaced copies (or with every host allowed)
 * the dearest, as before. */
static void test_pick_surplus_misplaced(void **state)
{
	(void)state;
	struct daemon_control_host h[3];
	three_hosts(h);
	bool holds[3] = {true, false, true};
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, ANY, NULL), 2);
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, BIT(2), NULL), 0);
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, BIT(0), NULL), 2);
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, BIT(1), NULL), 2); /* both out */
	holds[0] = holds[2] = false;
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, BIT(1), NULL), -1);
}

/* A pinned file whose copy is on host 0 when only host 1 is allowed: a
 * copy is made at once (on an allowed host: the caller passes the mask to
 * the pick), then the misplaced one is trimmed at once (no hysteresis),
 * then nothing more. */
static void test_moves_make_before_break(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {
	    .pinned = true, .serving_copies = 1, .serving_hosts = BIT(0), .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_misplaced(&f), 0);
	assert_true(daemon_control_allowed(&f) == ANY);
	f.hosts_limited = true;
	f.allowed_hosts = BIT(1);
	assert_int_equal(daemon_control_misplaced(&f), 1);
	assert_true(daemon_control_allowed(&f) == BIT(1));
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &m), DAEMON_CONTROL_COPY);
	f.copying = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &m), DAEMON_CONTROL_NONE);
	f.copying = false;
	f.serving_copies = 2;
	f.serving_hosts = BIT(0) | BIT(1);
	assert_int_equal(daemon_control_decide(&P, &f, 1300, &m), DAEMON_CONTROL_TRIM);
	f.serving_copies = 1;
	f.serving_hosts = BIT(1);
	assert_int_equal(daemon_control_decide(&P, &f, 1400, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 30000, &m), DAEMON_CONTROL_NONE);
}

/* When no copy may be made now (a failed copy's back-off, e.g. the
 * allowed host is full or down; writes the mount cannot see; the quiet
 * period) the misplaced copy goes anyway: it is not kept waiting for its
 * replacement. */
static void test_misplaced_trimmed_when_no_copy(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.hot = true,
					.serving_copies = 1,
					.serving_hosts = BIT(0),
					.has_copies = true,
					.hosts_limited = true,
					.allowed_hosts = BIT(2),
					.retry_ms = 5000};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_TRIM);
	f.retry_ms = 0;
	f.writes_unseen = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &m), DAEMON_CONTROL_TRIM);
	f.writes_unseen = false;
	f.version_ms = 1000; /* written 200 ms ago: quiet_ms not over */
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &m), DAEMON_CONTROL_TRIM);
	f.version_ms = 0;
	assert_int_equal(daemon_control_decide(&P, &f, 1300, &m), DAEMON_CONTROL_COPY);
	/* a copy under way: nothing until it ends */
	f.copying = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1400, &m), DAEMON_CONTROL_NONE);
}

/* An allow-list that names no host of the mount (allowed_hosts 0: its
 * hosts are gone): no copy is made, a copy left is trimmed. */
static void test_no_allowed_host(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.pinned = true, .hosts_limited = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	f.serving_copies = 1;
	f.serving_hosts = BIT(3);
	f.has_copies = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &m), DAEMON_CONTROL_TRIM);
	/* not limited: the mask means nothing, the file is copied */
	struct daemon_control_file g = {.pinned = true, .allowed_hosts = 0};
	assert_int_equal(daemon_control_decide(&P, &g, 1000, &m), DAEMON_CONTROL_COPY);
}

/* The replica count is capped by the allowed hosts (one copy per host):
 * three wanted, one host allowed and holding a copy -> no further copy
 * attempt; two allowed -> one more. */
static void test_want_capped_by_allowed(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.hot = true,
					.want_copies = 3,
					.serving_copies = 1,
					.serving_hosts = BIT(1),
					.has_copies = true,
					.hosts_limited = true,
					.allowed_hosts = BIT(1)};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	f.allowed_hosts = BIT(1) | BIT(2);
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &m), DAEMON_CONTROL_COPY);
	/* a copy on a disallowed host does not count towards the three */
	f.allowed_hosts = BIT(1) | BIT(2) | BIT(3);
	f.serving_copies = 3;
	f.serving_hosts = BIT(0) | BIT(1) | BIT(2);
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &m), DAEMON_CONTROL_COPY);
}

/* An unwanted file within its idle_ms hysteresis keeps its copies on
 * allowed hosts but loses a misplaced one at once; after idle_ms the
 * whole file is demoted as before. */
static void test_unwanted_misplaced(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.hot = true,
					.serving_copies = 2,
					.serving_hosts = BIT(0) | BIT(1),
					.has_copies = true,
					.hosts_limited = true,
					.allowed_hosts = BIT(0) | BIT(1)};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	f.hot = false;
	assert_int_equal(daemon_control_decide(&P, &f, 2000, &m), DAEMON_CONTROL_NONE);
	f.allowed_hosts = BIT(1);
	assert_int_equal(daemon_control_decide(&P, &f, 3000, &m), DAEMON_CONTROL_TRIM);
	f.serving_copies = 1;
	f.serving_hosts = BIT(1);
	assert_int_equal(daemon_control_decide(&P, &f, 4000, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 11000, &m), DAEMON_CONTROL_DEMOTE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pick_host_allowed),
	    cmocka_unit_test(test_pick_host_sparse),
	    cmocka_unit_test(test_pick_surplus_misplaced),
	    cmocka_unit_test(test_moves_make_before_break),
	    cmocka_unit_test(test_misplaced_trimmed_when_no_copy),
	    cmocka_unit_test(test_no_allowed_host),
	    cmocka_unit_test(test_want_capped_by_allowed),
	    cmocka_unit_test(test_unwanted_misplaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
