/* The control loop's pure decisions (daemon/control.c) with a fake clock,
 * and the shadow map's router pick and copy states (daemon/shadow_map.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "daemon/control.h"
#include "daemon/host_store.h"
#include "daemon/rollout.h"
#include "daemon/shadow_map.h"

static const struct daemon_control_params P = {.idle_ms = 10000, .quiet_ms = 2000};
#define ANY DAEMON_CONTROL_ANY_HOST
#define BIT DAEMON_CONTROL_HOST_BIT

/* A pinned file without a copy is copied at once; no copy while it is open
 * for writing with writes the mount cannot see (kernel passthrough), while
 * a copy is under way, or when one serves. */
static void test_pin_copies(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.pinned = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &wanted), DAEMON_CONTROL_COPY);
	assert_int_equal(wanted.wanted_ms, 1000);
	f.writes_unseen = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &wanted), DAEMON_CONTROL_NONE);
	f.writes_unseen = false;
	f.copying = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &wanted), DAEMON_CONTROL_NONE);
	f.copying = false;
	f.serving_copies = 1;
	f.has_copies = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1300, &wanted), DAEMON_CONTROL_NONE);
}

/* A file written recently is re-copied only after quiet_ms without change. */
static void test_quiet_before_recopy(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.hot = true, .has_copies = true, .version_ms = 5000};
	assert_int_equal(daemon_control_decide(&P, &f, 6000, &wanted), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 6999, &wanted), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 7000, &wanted), DAEMON_CONTROL_COPY);
}

/* Unpinned: the copies stay for idle_ms after the last time the file was
 * wanted, then are demoted; wanted again in between resets the clock. */
static void test_demote_after_hysteresis(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.pinned = true, .serving_copies = 1, .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &wanted), DAEMON_CONTROL_NONE);
	f.pinned = false;
	assert_int_equal(daemon_control_decide(&P, &f, 5000, &wanted), DAEMON_CONTROL_NONE);
	f.hot = true; /* the forecast flickers: wanted again at 8000 */
	assert_int_equal(daemon_control_decide(&P, &f, 8000, &wanted), DAEMON_CONTROL_NONE);
	f.hot = false;
	assert_int_equal(daemon_control_decide(&P, &f, 17999, &wanted), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 18000, &wanted), DAEMON_CONTROL_DEMOTE);
	f.has_copies = false;
	f.serving_copies = 0;
	assert_int_equal(daemon_control_decide(&P, &f, 19000, &wanted), DAEMON_CONTROL_NONE);
}

/* A copy under way (on the mover) is no copy serving: a wanted file waits
 * for it (no second copy, no trim); unpinned, the file is demoted after
 * idle_ms all the same (the demotion cancels the copy), and gone at once. */
static void test_copy_under_way(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.pinned = true, .has_copies = true, .copying = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	f.serving_copies = 2; /* more than wanted, for long: still no trim while copying */
	assert_int_equal(daemon_control_decide(&P, &f, 2000, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 30000, &m), DAEMON_CONTROL_NONE);
	f.serving_copies = 0;
	f.pinned = false;
	assert_int_equal(daemon_control_decide(&P, &f, 39999, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 40000, &m), DAEMON_CONTROL_DEMOTE);
	struct daemon_control_memory g = {0};
	struct daemon_control_file h = {.pinned = true, .gone = true, .has_copies = true,
					.copying = true};
	assert_int_equal(daemon_control_decide(&P, &h, 1000, &g), DAEMON_CONTROL_DEMOTE);
}

/* A file gone (unlinked through the mount) loses its copies at once, even
 * pinned; an unwanted file without copies needs nothing. */
static void test_gone_demotes(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.pinned = true, .gone = true, .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &wanted), DAEMON_CONTROL_DEMOTE);
	assert_int_equal(wanted.wanted_ms, 0);
	struct daemon_control_file g = {0};
	assert_int_equal(daemon_control_decide(&P, &g, 1000, &wanted), DAEMON_CONTROL_NONE);
}

/* never wins over a pin and a forecast: its copies are demoted at once
 * (no hysteresis), nothing is copied; once never goes, a pinned file is
 * copied again. */
static void test_never_wins(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.pinned = true, .hot = true, .never = true,
					.serving_copies = 1, .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &wanted), DAEMON_CONTROL_DEMOTE);
	assert_int_equal(wanted.wanted_ms, 0);
	f.serving_copies = 0;
	f.has_copies = false;
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &wanted), DAEMON_CONTROL_NONE);
	f.never = false;
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &wanted), DAEMON_CONTROL_COPY);
}

/* Placement: the cheapest up host with room, local or remote; excluded,
 * down and full hosts are skipped; equal costs to the less loaded, then to
 * the first; none -> -1. */
static void test_pick_host(void **state)
{
	(void)state;
	struct daemon_control_host h[4] = {
	    {.up = true, .thin = true, .cost = 3, .avail_bytes = UINT64_MAX},
	    {.up = true,
	     .thin = true,
	     .cost = 1,
	     .budget_bytes = 100 + DAEMON_STORE_COPY_OVERHEAD, /* a copy's own cost too */
	     .used_bytes = 60,
	     .avail_bytes = UINT64_MAX},
	    {.up = false, .thin = false, .cost = 0.5, .avail_bytes = UINT64_MAX},
	    {.up = false, .thin = true, .cost = 0.1, .avail_bytes = UINT64_MAX},
	};
	assert_int_equal(daemon_control_pick_host(h, 4, 40, NULL, ANY), 1);
	assert_int_equal(daemon_control_pick_host(h, 4, 41, NULL, ANY), 0); /* no room on 1 */
	bool ex[4] = {false, true, false, false};
	assert_int_equal(daemon_control_pick_host(h, 4, 10, ex, ANY), 0);
	h[1].cost = 3;
	assert_int_equal(daemon_control_pick_host(h, 4, 10, NULL, ANY), 0); /* tie: first */
	h[0].up = false;
	h[1].used_bytes = 100;
	assert_int_equal(daemon_control_pick_host(h, 4, 1, NULL, ANY), -1);
	h[2].up = true; /* a remote host that is up takes copies */
	assert_int_equal(daemon_control_pick_host(h, 4, 1, NULL, ANY), 2);
	h[0] = (struct daemon_control_host){
	    .up = true, .cost = 0.5, .load_permille = 300, .avail_bytes = UINT64_MAX};
	h[2].load_permille = 700;
	/* same cost, less load */
	assert_int_equal(daemon_control_pick_host(h, 4, 1, NULL, ANY), 0);
	h[2].load_permille = 300;
	assert_int_equal(daemon_control_pick_host(h, 4, 1, NULL, ANY), 0); /* full tie: first */
	/* A filesystem without the free space is skipped, whatever the budget
	 * says (a copy there would fail after reading the whole origin). */
	h[0].avail_bytes = 5;
	assert_int_equal(daemon_control_pick_host(h, 4, 5, NULL, ANY), 0);
	assert_int_equal(daemon_control_pick_host(h, 4, 6, NULL, ANY), 2);
}

/* After failed copies: no new copy before the back-off has passed; the
 * back-off doubles from 1 s and stops at 5 minutes. */
static void test_copy_backoff(void **state)
{
	(void)state;
	struct daemon_control_memory wanted = {0};
	struct daemon_control_file f = {.pinned = true, .retry_ms = 5000};
	assert_int_equal(daemon_control_decide(&P, &f, 4999, &wanted), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 5000, &wanted), DAEMON_CONTROL_COPY);
	assert_int_equal(daemon_control_backoff_ms(0), 0);
	assert_int_equal(daemon_control_backoff_ms(1), 1000);
	assert_int_equal(daemon_control_backoff_ms(2), 2000);
	assert_int_equal(daemon_control_backoff_ms(9), 256000);
	assert_int_equal(daemon_control_backoff_ms(10), 300000);
	assert_int_equal(daemon_control_backoff_ms(4000000000u), 300000);
}

/* Replica counts: the origin and k copies share the demand, so k =
 * ceil(demand / capacity) - 1, at least 1, at most max; bad inputs give
 * the one copy. */
static void test_copies_for(void **state)
{
	(void)state;
	assert_int_equal(daemon_control_copies_for(50, 100, 3), 1);  /* still one */
	assert_int_equal(daemon_control_copies_for(200, 100, 3), 1); /* origin + 1 */
	assert_int_equal(daemon_control_copies_for(201, 100, 3), 2);
	assert_int_equal(daemon_control_copies_for(300, 100, 3), 2);
	assert_int_equal(daemon_control_copies_for(301, 100, 3), 3);
	assert_int_equal(daemon_control_copies_for(1e12, 100, 3), 3); /* capped */
	assert_int_equal(daemon_control_copies_for(1.0 / 0.0, 100, 4), 4);
	assert_int_equal(daemon_control_copies_for(0.0 / 0.0, 100, 3), 1);
	assert_int_equal(daemon_control_copies_for(500, 0, 3), 1);
	assert_int_equal(daemon_control_copies_for(500, 100, 0), 1); /* max < 1 is 1 */
}

/* A wanted file gets copies one decision at a time until want_copies
 * serve; more than it wants are trimmed one at a time, but only after
 * they have been surplus for idle_ms without a break. */
static void test_replica_count(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {.hot = true, .want_copies = 3};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_COPY);
	f.serving_copies = 1;
	f.has_copies = true;
	assert_int_equal(daemon_control_decide(&P, &f, 2000, &m), DAEMON_CONTROL_COPY);
	f.copying = true; /* one at a time */
	assert_int_equal(daemon_control_decide(&P, &f, 2100, &m), DAEMON_CONTROL_NONE);
	f.copying = false;
	f.writes_unseen = true; /* no new copy while its writes go unseen */
	assert_int_equal(daemon_control_decide(&P, &f, 2200, &m), DAEMON_CONTROL_NONE);
	f.writes_unseen = false;
	f.serving_copies = 3;
	assert_int_equal(daemon_control_decide(&P, &f, 3000, &m), DAEMON_CONTROL_NONE);
	/* the forecast now wants 1: the two extra stay idle_ms (10 s) after
	 * the last tick that needed them (3000) */
	f.want_copies = 1;
	assert_int_equal(daemon_control_decide(&P, &f, 4000, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 12999, &m), DAEMON_CONTROL_NONE);
	f.want_copies = 3; /* needed again for a tick: the clock restarts */
	assert_int_equal(daemon_control_decide(&P, &f, 13000, &m), DAEMON_CONTROL_NONE);
	f.want_copies = 1;
	assert_int_equal(daemon_control_decide(&P, &f, 22999, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 23000, &m), DAEMON_CONTROL_TRIM);
	f.serving_copies = 2;
	assert_int_equal(daemon_control_decide(&P, &f, 23100, &m), DAEMON_CONTROL_TRIM);
	f.serving_copies = 1;
	assert_int_equal(daemon_control_decide(&P, &f, 23200, &m), DAEMON_CONTROL_NONE);
	/* unwanted: the whole file is demoted after idle_ms, not trimmed */
	f.hot = false;
	f.serving_copies = 2;
	assert_int_equal(daemon_control_decide(&P, &f, 33199, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 33200, &m), DAEMON_CONTROL_DEMOTE);
}

/* Migration to a cheaper host: one copy more while a copy may be made (never
 * a TRIM of the copy that serves), then the surplus trim after idle_ms; not
 * for an unwanted file. */
static void test_migrate(void **state)
{
	(void)state;
	struct daemon_control_memory m = {0};
	struct daemon_control_file f = {
	    .pinned = true, .want_copies = 1, .serving_copies = 1, .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 1000, &m), DAEMON_CONTROL_NONE);
	f.migrate = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1100, &m), DAEMON_CONTROL_COPY);
	f.writes_unseen = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1200, &m), DAEMON_CONTROL_NONE);
	f.writes_unseen = false;
	f.version_ms = 1000; /* changed 300 ms ago: quiet_ms is 2000 */
	assert_int_equal(daemon_control_decide(&P, &f, 1300, &m), DAEMON_CONTROL_NONE);
	f.version_ms = 0;
	f.retry_ms = 5000; /* backing off after a failed copy */
	assert_int_equal(daemon_control_decide(&P, &f, 1400, &m), DAEMON_CONTROL_NONE);
	f.retry_ms = 0;
	f.copying = true;
	assert_int_equal(daemon_control_decide(&P, &f, 1500, &m), DAEMON_CONTROL_NONE);
	/* the new copy serves: one more than wanted, the dearest goes after
	 * idle_ms (10 s) from the last tick that needed no more (1500) */
	f.copying = false;
	f.migrate = false;
	f.serving_copies = 2;
	assert_int_equal(daemon_control_decide(&P, &f, 1600, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 11499, &m), DAEMON_CONTROL_NONE);
	assert_int_equal(daemon_control_decide(&P, &f, 11500, &m), DAEMON_CONTROL_TRIM);
	/* want 2 with one serving: a copy for the count, migrate or not */
	f = (struct daemon_control_file){
	    .pinned = true, .want_copies = 2, .serving_copies = 1, .has_copies = true};
	assert_int_equal(daemon_control_decide(&P, &f, 20000, &m), DAEMON_CONTROL_COPY);
	/* unwanted: no migration (demoted after idle_ms instead) */
	m = (struct daemon_control_memory){0};
	f = (struct daemon_control_file){
	    .want_copies = 1, .serving_copies = 1, .has_copies = true, .migrate = true};
	assert_int_equal(daemon_control_decide(&P, &f, 30000, &m), DAEMON_CONTROL_DEMOTE);
}

/* The copy a TRIM drops: the most expensive host, then the more loaded,
 * then the later; only among the hosts holding one. */
static void test_pick_surplus(void **state)
{
	(void)state;
	struct daemon_control_host h[4] = {
	    {.up = true, .cost = 1}, {.up = true, .cost = 3}, {.up = true, .cost = 3, .load_permille = 10},
	    {.up = true, .cost = 9}};
	bool holds[4] = {true, true, true, false};
	assert_int_equal(daemon_control_pick_surplus(h, 4, holds, ANY, NULL), 2);
	h[2].load_permille = 0;
	assert_int_equal(daemon_control_pick_surplus(h, 4, holds, ANY, NULL), 2); /* tie: the later */
	holds[2] = false;
	assert_int_equal(daemon_control_pick_surplus(h, 4, holds, ANY, NULL), 1);
	holds[0] = holds[1] = false;
	assert_int_equal(daemon_control_pick_surplus(h, 4, holds, ANY, NULL), -1);
	assert_string_equal(daemon_control_action_name(DAEMON_CONTROL_TRIM), "trim");
}

/* A rolled-back copy serves no read: a TRIM drops it before a dearer copy
 * that serves (a migration whose cheaper copy lost its rollout keeps the
 * copy that worked); a misplaced copy still goes first. */
static void test_pick_surplus_rolled_back(void **state)
{
	(void)state;
	struct daemon_control_host h[3] = {
	    {.up = true, .cost = 1}, {.up = true, .cost = 2}, {.up = true, .cost = 3}};
	bool holds[3] = {true, true, false};
	enum daemon_control_verdict v[3] = {DAEMON_CONTROL_ROLLED_BACK, DAEMON_CONTROL_PROVEN,
					    DAEMON_CONTROL_PROVEN};
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, ANY, NULL), 1);
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, ANY, v), 0);
	v[0] = DAEMON_CONTROL_UNPROVEN; /* not rolled back: cost decides */
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, ANY, v), 1);
	v[0] = DAEMON_CONTROL_ROLLED_BACK;
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, BIT(0), v), 1); /* misplaced */
	holds[2] = true;
	v[2] = DAEMON_CONTROL_ROLLED_BACK; /* two rolled back: the dearer */
	assert_int_equal(daemon_control_pick_surplus(h, 3, holds, ANY, v), 2);
}

/* Make before break: the proven copy picked waits while another is still
 * stepping up, until the bound; never for a misplaced or rolled-back pick,
 * nor when the others are proven or rolled back. */
static void test_trim_waits(void **state)
{
	(void)state;
	bool holds[3] = {true, true, false};
	enum daemon_control_verdict v[3] = {DAEMON_CONTROL_UNPROVEN, DAEMON_CONTROL_PROVEN,
					    DAEMON_CONTROL_UNPROVEN};
	assert_true(daemon_control_trim_waits(3, holds, ANY, v, 1, 1000, 5000));
	assert_false(daemon_control_trim_waits(3, holds, ANY, v, 1, 5000, 5000)); /* bound */
	assert_false(daemon_control_trim_waits(3, holds, BIT(0), v, 1, 1000, 5000)); /* misplaced */
	assert_false(daemon_control_trim_waits(3, holds, ANY, NULL, 1, 1000, 5000));
	assert_false(daemon_control_trim_waits(3, holds, ANY, v, -1, 1000, 5000));
	v[0] = DAEMON_CONTROL_ROLLED_BACK; /* the verdict is in */
	assert_false(daemon_control_trim_waits(3, holds, ANY, v, 1, 1000, 5000));
	v[0] = DAEMON_CONTROL_PROVEN;
	assert_false(daemon_control_trim_waits(3, holds, ANY, v, 1, 1000, 5000));
	v[0] = DAEMON_CONTROL_UNPROVEN;
	v[1] = DAEMON_CONTROL_UNPROVEN; /* the pick itself unproven: nothing to keep */
	assert_false(daemon_control_trim_waits(3, holds, ANY, v, 1, 1000, 5000));
	assert_int_equal(daemon_control_migrate_block_ms(0), 0);
	assert_int_equal(daemon_control_migrate_block_ms(1), 3600000);
	assert_int_equal(daemon_control_migrate_block_ms(2), 7200000);
	assert_int_equal(daemon_control_migrate_block_ms(5), 16 * 3600000);
	assert_int_equal(daemon_control_migrate_block_ms(6), 24 * 3600000);
	assert_int_equal(daemon_control_migrate_block_ms(1000), 24 * 3600000);
}

/* The router's pick: origin only without a serving copy; a copy at an older
 * version never serves; ties go to the origin; the less loaded wins. */
static void test_pick_copy(void **state)
{
	(void)state;
	struct daemon_shadow_map *m;
	assert_int_equal(daemon_shadow_map_new(100, &m), 0);
	daemon_shadow_map_lock(m);
	struct daemon_shadow_file *f = daemon_shadow_map_get(m, 1, 2);
	assert_ptr_equal(daemon_shadow_map_get(m, 1, 2), f);
	daemon_shadow_map_unlock(m);
	assert_int_equal(daemon_shadow_pick(f, 12345), -1);
	f->copies[0].version = 100;
	daemon_shadow_copy_publish(f, 0, DAEMON_SHARE_FULL);
	assert_int_equal(f->serving, 1);
	/* idle: a tie, the origin */
	for (uint64_t r = 0; r < 64; r++)
		assert_int_equal(daemon_shadow_pick(f, r * 0x9E3779B97F4A7C15ull), -1);
	/* the origin busy: the copy */
	daemon_shadow_origin_begin(f);
	int s = daemon_shadow_pick(f, 7);
	assert_int_equal(s, 0);
	assert_int_equal(f->copies[0].inflight, 1);
	daemon_shadow_copy_done(f, 0, true, 4096, 1000);
	assert_int_equal(f->copies[0].inflight, 0);
	assert_int_equal(f->copies[0].reads, 1);
	/* a write bumps the version: the copy no longer serves */
	daemon_shadow_file_bump(f, 5);
	assert_int_equal(daemon_shadow_pick(f, 7), -1);
	assert_int_equal(f->copies[0].inflight, 0);
	daemon_shadow_origin_end(f);
	/* stale: never picked; retire frees the slot */
	f->copies[0].version = 101;
	daemon_shadow_copy_publish(f, 0, DAEMON_SHARE_FULL);
	daemon_shadow_origin_begin(f);
	assert_int_equal(daemon_shadow_pick(f, 7), 0);
	daemon_shadow_copy_done(f, 0, false, 0, 0);
	daemon_shadow_copy_mark_stale(f, 0);
	assert_int_equal(f->serving, 0);
	assert_int_equal(daemon_shadow_pick(f, 7), -1);
	daemon_shadow_copy_retire(f, 0);
	assert_int_equal(f->copies[0].state, DAEMON_COPY_NONE);
	daemon_shadow_origin_end(f);
	daemon_shadow_map_free(m);
}

/* Two copies and a busy origin: the load spreads over both copies. */
static void test_pick_spreads(void **state)
{
	(void)state;
	struct daemon_shadow_map *m;
	assert_int_equal(daemon_shadow_map_new(1, &m), 0);
	daemon_shadow_map_lock(m);
	struct daemon_shadow_file *f = daemon_shadow_map_get(m, 3, 4);
	daemon_shadow_map_unlock(m);
	for (int k = 0; k < 2; k++) {
		f->copies[k].version = 1;
		daemon_shadow_copy_publish(f, k, DAEMON_SHARE_FULL);
	}
	for (int i = 0; i < 4; i++)
		daemon_shadow_origin_begin(f);
	int count[3] = {0};
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 3000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int s = daemon_shadow_pick(f, x);
		count[s + 1]++;
		if (s >= 0)
			daemon_shadow_copy_done(f, s, true, 1, 1);
	}
	assert_int_equal(count[0], 0); /* the origin is the busiest */
	assert_true(count[1] > 1000 && count[2] > 1000);
	daemon_shadow_map_free(m);
}

/* Settled: wanted with exactly its copies serving on allowed hosts and
 * nothing under way; then no clock moves the decision off NONE (the
 * control loop then looks at it less often, fs/shadow_quiet.c). Each
 * input that can make it act unsettles it. */
static void test_settled(void **state)
{
	(void)state;
	struct daemon_control_file f = {
	    .hot = true, .serving_copies = 1, .has_copies = true, .serving_hosts = BIT(0)};
	assert_true(daemon_control_settled(&f));
	struct daemon_control_memory mem = {0};
	for (uint64_t t = 1000; t < 10000000; t *= 3)
		assert_int_equal(daemon_control_decide(&P, &f, t, &mem), DAEMON_CONTROL_NONE);
	struct daemon_control_file g = f;
	g.hot = false; /* unwanted: demoted after idle_ms */
	assert_false(daemon_control_settled(&g));
	g = f;
	g.want_copies = 2; /* one copy short */
	assert_false(daemon_control_settled(&g));
	g = f;
	g.serving_copies = 2; /* one too many: trimmed after idle_ms */
	g.serving_hosts = BIT(0) | BIT(1);
	assert_false(daemon_control_settled(&g));
	g = f;
	g.copying = true;
	assert_false(daemon_control_settled(&g));
	g = f;
	g.migrate = true;
	assert_false(daemon_control_settled(&g));
	g = f;
	g.writes_unseen = true;
	assert_false(daemon_control_settled(&g));
	g = f;
	g.never = true;
	assert_false(daemon_control_settled(&g));
	g = f;
	g.gone = true;
	assert_false(daemon_control_settled(&g));
	g = f;
	g.hosts_limited = true; /* its copy on a host no longer allowed */
	g.allowed_hosts = BIT(1);
	assert_false(daemon_control_settled(&g));
	g.allowed_hosts = BIT(0) | BIT(1);
	assert_true(daemon_control_settled(&g));
	g = f;
	g.pinned = true;
	g.hot = false;
	g.want_copies = 2;
	g.hosts_limited = true; /* two wanted, one host allowed: one is all */
	g.allowed_hosts = BIT(0);
	assert_true(daemon_control_settled(&g));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pin_copies),
	    cmocka_unit_test(test_settled),
	    cmocka_unit_test(test_quiet_before_recopy),
	    cmocka_unit_test(test_demote_after_hysteresis),
	    cmocka_unit_test(test_copy_under_way),
	    cmocka_unit_test(test_gone_demotes),
	    cmocka_unit_test(test_never_wins),
	    cmocka_unit_test(test_pick_host),
	    cmocka_unit_test(test_copy_backoff),
	    cmocka_unit_test(test_copies_for),
	    cmocka_unit_test(test_replica_count),
	    cmocka_unit_test(test_migrate),
	    cmocka_unit_test(test_pick_surplus),
	    cmocka_unit_test(test_pick_surplus_rolled_back),
	    cmocka_unit_test(test_trim_waits),
	    cmocka_unit_test(test_pick_copy),
	    cmocka_unit_test(test_pick_spreads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
