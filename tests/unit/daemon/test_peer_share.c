/* Fair shares of shadowd's connection slots (daemon/peer_share.c): a
 * newcomer takes the slot of the connection idle longest of the peer
 * holding the most, only when that evens the shares out, and never a
 * connection in a request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/peer_share.h"

/* One peer holds every slot (the HEARTBEAT streams of one certificate): a
 * newcomer of another peer takes its connection idle longest; one of that
 * same peer does not. */
static void test_one_peer_gives_way(void **state)
{
	(void)state;
	struct daemon_peer_slot v[4] = {
	    {"hog", 300, 0}, {"hog", 100, 1}, {"hog", 200, 2}, {"hog", 0, 3}};
	unsigned most = 0;
	assert_int_equal(daemon_peer_share_held(v, 4, "hog"), 4);
	assert_int_equal(daemon_peer_share_held(v, 4, "mount"), 0);
	assert_int_equal(daemon_peer_share_reclaim(v, 4, 0, &most), 1);
	assert_int_equal(most, 4);
	assert_int_equal(daemon_peer_share_reclaim(v, 4, 4, &most), -1);
	/* held + 1 == most: taking one would only swap the shares */
	assert_int_equal(daemon_peer_share_reclaim(v, 4, 3, &most), -1);
	assert_int_equal(daemon_peer_share_reclaim(v, 4, 2, &most), 1);
}

/* The peer holding the most gives way, not the one with the oldest idle
 * connection; a peer whose connections are all in requests keeps them, the
 * next largest share giving way if it is above held + 1. */
static void test_largest_share_first(void **state)
{
	(void)state;
	struct daemon_peer_slot v[6] = {{"a", 10, 0},  {"b", 50, 1}, {"b", 60, 2},
					{"b", 70, 3},  {"a", 20, 4}, {"c", 5, 5}};
	unsigned most = 0;
	assert_int_equal(daemon_peer_share_reclaim(v, 6, 0, &most), 1);
	assert_int_equal(most, 3);
	struct daemon_peer_slot busy[6] = {{"a", 10, 0}, {"b", 0, 1},  {"b", 0, 2},
					   {"b", 0, 3},	 {"a", 20, 4}, {"c", 5, 5}};
	assert_int_equal(daemon_peer_share_reclaim(busy, 6, 0, &most), 0);
	assert_int_equal(daemon_peer_share_reclaim(busy, 6, 1, &most), -1);
	/* equal shares: the connection idle longest */
	struct daemon_peer_slot tie[4] = {{"a", 30, 0}, {"a", 40, 1}, {"b", 20, 2}, {"b", 50, 3}};
	assert_int_equal(daemon_peer_share_reclaim(tie, 4, 0, &most), 2);
	assert_int_equal(daemon_peer_share_reclaim(NULL, 0, 0, &most), -1);
	assert_int_equal(most, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_peer_gives_way),
	    cmocka_unit_test(test_largest_share_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
