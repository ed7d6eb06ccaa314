/* The rollout state machine (daemon/rollout.c) with a fake clock and
 * synthetic latencies, its latency histograms (daemon/lat_hist.c), and the
 * router's share gate (daemon_shadow_pick in daemon/shadow_map.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/lat_hist.h"
#include "daemon/rollout.h"
#include "daemon/shadow_map.h"

#define US 1000ull

/* The live counters a mount would have for one copy and its origin. */
struct fake {
	struct daemon_rollout_params p;
	struct daemon_rollout r;
	struct daemon_lat_hist copy, origin, origin_busy;
	uint64_t errors;
	uint64_t now_ms;
};

static struct daemon_rollout_input input(struct fake *f)
{
	return (struct daemon_rollout_input){&f->copy, &f->origin, &f->origin_busy, f->errors};
}

static void setup_fake(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	daemon_rollout_defaults(&f->p);
	f->now_ms = 1000000;
	struct daemon_rollout_input in = input(f);
	daemon_rollout_start(&f->r, &f->p, f->now_ms, &in);
}

/* n reads of ns each on the copy and m on the origin. */
static void feed(struct fake *f, int n, uint64_t copy_ns, int m, uint64_t origin_ns)
{
	for (int i = 0; i < n; i++)
		daemon_lat_hist_add(&f->copy, copy_ns);
	for (int i = 0; i < m; i++)
		daemon_lat_hist_add(&f->origin, origin_ns);
}

/* m origin reads of ns each begun while another was in flight (they are
 * origin reads too). */
static void feed_busy(struct fake *f, int m, uint64_t origin_ns)
{
	for (int i = 0; i < m; i++) {
		daemon_lat_hist_add(&f->origin, origin_ns);
		daemon_lat_hist_add(&f->origin_busy, origin_ns);
	}
}

/* Time passes by ms, then one control tick. */
static enum daemon_rollout_event tick(struct fake *f, uint64_t ms)
{
	f->now_ms += ms;
	struct daemon_rollout_input in = input(f);
	return daemon_rollout_advance(&f->r, &f->p, f->now_ms, &in);
}

static uint32_t share(struct fake *f)
{
	return daemon_rollout_share(&f->r, &f->p);
}

/* Steps: a list of increasing percentages ending at 100, at most 8, in
 * steps of 0.1 %; anything else is refused and leaves the params as they
 * were. */
static void test_parse_steps(void **state)
{
	(void)state;
	struct daemon_rollout_params p;
	daemon_rollout_defaults(&p);
	assert_int_equal(daemon_rollout_parse_steps("5/50/100", &p), 0);
	assert_int_equal(p.nsteps, 3);
	assert_int_equal(p.steps[0], 50);
	assert_int_equal(p.steps[2], 1000);
	assert_int_equal(daemon_rollout_parse_steps("100", &p), 0);
	assert_int_equal(p.nsteps, 1);
	assert_int_equal(daemon_rollout_parse_steps("0.5,2.5,100", &p), 0);
	assert_int_equal(p.steps[0], 5);
	assert_int_equal(daemon_rollout_parse_steps("1,2,3,4,5,6,7,100", &p), 0);
	assert_int_equal(p.nsteps, 8);
	const char *bad[] = {"",	 "0,100",  "50,25,100",		  "10,50",   "10,,100",
			     "abc",	 "101",	   "1,2,3,4,5,6,7,8,100", "10,100,", "-10,100",
			     "0.05,100", "10;100", "10/10/100",		  " 10,100", "nan"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(daemon_rollout_parse_steps(bad[i], &p), -EINVAL);
		assert_int_equal(p.nsteps, 8); /* unchanged */
	}
}

/* Buckets: every latency falls in the bucket whose range holds it, ranges
 * are contiguous and at most 1/4 of their lower bound wide; quantiles are
 * within 19 % of the true value. */
static void test_hist_buckets(void **state)
{
	(void)state;
	for (unsigned b = 0; b + 1 < DAEMON_LAT_BUCKETS; b++) {
		uint64_t lo = daemon_lat_bucket_low_ns(b), hi = daemon_lat_bucket_low_ns(b + 1);
		assert_true(hi > lo);
		assert_int_equal(daemon_lat_bucket_of(lo), b);
		assert_int_equal(daemon_lat_bucket_of(hi - 1), b);
		if (b >= 4)
			assert_true((hi - lo) * 4 <= lo);
	}
	assert_int_equal(daemon_lat_bucket_of(UINT64_MAX), DAEMON_LAT_BUCKETS - 1);
	struct daemon_lat_hist h = {{0}};
	assert_int_equal(daemon_lat_hist_quantile_ns(&h, 0.5), 0);
	for (uint64_t i = 1; i <= 1000; i++)
		daemon_lat_hist_add(&h, i * 10 * US); /* 10 us .. 10 ms */
	uint64_t p50 = daemon_lat_hist_quantile_ns(&h, 0.5),
		 p95 = daemon_lat_hist_quantile_ns(&h, 0.95);
	assert_true(p50 > 5000 * US * 81 / 100 && p50 < 5000 * US * 119 / 100);
	assert_true(p95 > 9500 * US * 81 / 100 && p95 < 9500 * US * 119 / 100);
	/* Windows are differences of snapshots, right across a 2^32 wrap. */
	struct daemon_lat_hist a = {{0}}, b = {{0}}, d;
	a.n[3] = UINT32_MAX - 1;
	b.n[3] = 5; /* 7 more reads, wrapped */
	daemon_lat_hist_sub(&b, &a, &d);
	assert_int_equal(daemon_lat_hist_count(&d), 7);
}

/* A copy as fast as the origin climbs 10 -> 25 -> 50 -> 100 %, one step per
 * interval, and stays at 100 %, where it is compared with the busy origin
 * only: slower than idle origin reads is no regression there. */
static void test_ramp_to_full(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	assert_int_equal(share(&f), 100);
	uint32_t expect[] = {250, 500, 1000};
	for (int i = 0; i < 3; i++) {
		feed(&f, 100, 200 * US, 900, 200 * US);
		assert_int_equal(tick(&f, 4999), DAEMON_ROLLOUT_NONE); /* not yet */
		assert_int_equal(tick(&f, 1), DAEMON_ROLLOUT_STEP_UP);
		assert_int_equal(share(&f), expect[i]);
	}
	feed(&f, 500, 900 * US, 500, 200 * US); /* no busy origin reads: not judged */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT);
	feed_busy(&f, 100, 800 * US); /* the busy origin is as slow */
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_HOLD);
	assert_int_equal(share(&f), 1000);
	assert_int_equal(f.r.last.copy_reads, 500);
	assert_int_equal(f.r.last.origin_reads, 100); /* the busy ones */
	assert_int_equal(f.r.strikes, 0);
	assert_string_equal(f.r.reason, "");
}

/* Few samples are not judged: the window is extended until both sides have
 * min_reads reads, and restarted after 8 intervals without them. */
static void test_min_reads(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	feed(&f, 31, 200 * US, 1000, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT);
	assert_int_equal(share(&f), 100);
	feed(&f, 1, 200 * US, 0, 0); /* now 32 in the extended window */
	assert_int_equal(tick(&f, 1000), DAEMON_ROLLOUT_STEP_UP);
	/* The origin too: a copy alone is not compared with nothing. */
	feed(&f, 100, 200 * US, 10, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT);
	/* A slow trickle: after 8 intervals the old reads are dropped. */
	assert_int_equal(tick(&f, 35000), DAEMON_ROLLOUT_WAIT);
	feed(&f, 0, 0, 30, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT); /* copy's 100 were dropped */
	assert_int_equal(share(&f), 250);
}

/* A slow copy: a bad window steps it down and strikes; a good window below
 * the step of the strike does not clear it, so bad again at 50 % after
 * recovering at 25 % rolls it back, with the reason. */
static void test_regression_steps_down_then_rolls_back(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	for (int i = 0; i < 2; i++) { /* -> 50 % */
		feed(&f, 100, 200 * US, 100, 200 * US);
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	}
	assert_int_equal(share(&f), 500);
	feed(&f, 100, 600 * US, 100, 200 * US); /* 3x slower */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_DOWN);
	assert_int_equal(share(&f), 250);
	assert_int_equal(f.r.strikes, 1);
	assert_non_null(strstr(f.r.reason, "p50_"));
	feed(&f, 100, 200 * US, 100, 200 * US); /* fine again at 25 % */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	assert_int_equal(f.r.strikes, 1); /* not cleared below the step of the strike */
	feed(&f, 100, 700 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(f.r.phase, DAEMON_ROLLOUT_ROLLED_BACK);
	assert_int_equal(share(&f), 0);
	assert_non_null(strstr(f.r.reason, "x"));
}

/* A good window at the step of the strike clears it: two regressions far
 * apart, each recovered from, do not roll back. */
static void test_strike_cleared_at_its_step(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	feed(&f, 100, 200 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP); /* 25 */
	feed(&f, 100, 900 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_DOWN); /* 10, strike at 25 */
	feed(&f, 100, 200 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP); /* 25 */
	feed(&f, 100, 200 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP); /* good at 25: cleared */
	assert_int_equal(f.r.strikes, 0);
	feed(&f, 100, 900 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_DOWN); /* one strike, not two */
	assert_int_equal(share(&f), 250);
}

/* Hysteresis: a copy between the step-up bound (1.25x) and the regression
 * bound (1.5x) holds its step without a strike. Slack: a few microseconds
 * more than a very fast origin is no regression whatever the ratio. */
static void test_hold_band_and_slack(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	feed(&f, 100, 1400 * US, 100, 1000 * US); /* 1.4x */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	assert_int_equal(share(&f), 100);
	assert_int_equal(f.r.strikes, 0);
	feed(&f, 100, 1600 * US, 100, 1000 * US);	       /* 1.6x: bad */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD); /* first step: stays */
	assert_int_equal(f.r.strikes, 1);
	feed(&f, 100, 12 * US, 100, 3 * US); /* 4x, but 9 us */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
}

/* Noise: a few slow outliers in the copy's window (under 5 %) move neither
 * its median nor its p95; a slow tail of more than 5 % does. */
static void test_outliers(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	feed(&f, 97, 300 * US, 100, 300 * US);
	feed(&f, 3, 50000 * US, 0, 0);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	feed(&f, 90, 300 * US, 100, 300 * US);
	feed(&f, 10, 5000 * US, 0, 0);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_DOWN);
	assert_non_null(strstr(f.r.reason, "p95_"));
}

/* A read error rolls back at the next tick, before the interval ends; the
 * copy is retried after the cool-down, which doubles after each rollback
 * in a row and is reset by a good window at full share. */
static void test_errors_and_cooldown(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	f.errors = 1;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	assert_string_equal(f.r.reason, "1_read_errors");
	assert_int_equal(share(&f), 0);
	assert_int_equal(tick(&f, 59999), DAEMON_ROLLOUT_NONE);
	assert_int_equal(tick(&f, 1), DAEMON_ROLLOUT_RETRY); /* 60 s */
	assert_int_equal(share(&f), 100);
	f.errors = 2;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(tick(&f, 119999), DAEMON_ROLLOUT_NONE);
	assert_int_equal(tick(&f, 1), DAEMON_ROLLOUT_RETRY); /* 120 s */
	for (int i = 0; i < 3; i++) {
		feed(&f, 100, 200 * US, 100, 200 * US);
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	}
	feed(&f, 100, 200 * US, 0, 0);
	feed_busy(&f, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD); /* good at full share */
	assert_int_equal(f.r.rollbacks, 0);
	f.errors = 3;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(f.r.retry_ms, f.now_ms + 60000);
	/* Stopped (the copy went stale): nothing happens, share 0. */
	daemon_rollout_stop(&f.r);
	assert_int_equal(tick(&f, 100000), DAEMON_ROLLOUT_NONE);
	assert_int_equal(share(&f), 0);
}

/* A new copy on the same host after the file changed resumes where the
 * last one stopped: at its step when stepping, still rolled back (same
 * cool-down) when rolled back; a machine that never ran starts afresh. */
static void test_resume(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	for (int i = 0; i < 2; i++) {
		feed(&f, 100, 200 * US, 100, 200 * US);
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	}
	assert_int_equal(f.r.step, 2);
	daemon_rollout_stop(&f.r); /* a write: the copy is stale */
	assert_int_equal(share(&f), 0);
	struct daemon_rollout_input in = input(&f);
	daemon_rollout_resume(&f.r, &f.p, f.now_ms += 3000, &in); /* re-made */
	assert_int_equal(f.r.phase, DAEMON_ROLLOUT_STEPPING);
	assert_int_equal(f.r.step, 2);
	assert_int_equal(share(&f), f.p.steps[2]);
	/* The window restarted at the resume: reads before it do not count. */
	feed(&f, 100, 200 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	assert_int_equal(share(&f), f.p.steps[3]);

	/* Rolled back (read errors), then the file changes: the re-made copy
	 * stays out until the same cool-down ends. */
	f.errors = 2;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	uint64_t retry = f.r.retry_ms;
	int rollbacks = f.r.rollbacks;
	daemon_rollout_stop(&f.r);
	f.errors = 0; /* the new copy's counters start at 0 */
	in = input(&f);
	daemon_rollout_resume(&f.r, &f.p, f.now_ms += 1000, &in);
	assert_int_equal(f.r.phase, DAEMON_ROLLOUT_ROLLED_BACK);
	assert_int_equal(f.r.retry_ms, retry);
	assert_int_equal(f.r.rollbacks, rollbacks);
	assert_int_equal(share(&f), 0);
	assert_int_not_equal(tick(&f, 1000), DAEMON_ROLLOUT_RETRY);
	assert_int_equal(share(&f), 0);
	f.now_ms = retry;
	assert_int_equal(tick(&f, 0), DAEMON_ROLLOUT_RETRY);
	assert_int_equal(share(&f), f.p.steps[0]);

	/* A machine that never ran (fresh, zeroed): the first step. */
	struct daemon_rollout fresh;
	memset(&fresh, 0, sizeof(fresh));
	fresh.step = 3;
	daemon_rollout_resume(&fresh, &f.p, f.now_ms, &in);
	assert_int_equal(fresh.phase, DAEMON_ROLLOUT_STEPPING);
	assert_int_equal(fresh.step, 0);
}

/* A copy slower than a quiet origin (a remote copy against page-cache
 * hits), rolled back by two bad windows (at the first step, or the second
 * and then the first). */
static void roll_back_slow(struct fake *f, uint64_t copy_ns, uint64_t origin_ns)
{
	feed(f, 100, copy_ns, 100, origin_ns);
	enum daemon_rollout_event ev = tick(f, 5000); /* a strike */
	assert_true(ev == DAEMON_ROLLOUT_HOLD || ev == DAEMON_ROLLOUT_STEP_DOWN);
	assert_int_equal(f->r.step, 0);
	assert_int_equal(f->r.strikes, 1);
	feed(f, 100, copy_ns, 100, origin_ns);
	assert_int_equal(tick(f, 5000), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(share(f), 0);
}

/* Rolled back for latency: the copy's p50 of that window is remembered;
 * while the origin stays quiet the copy stays out (no retry before the
 * cool-down); once a window of the origin's reads has a p50 above 1.2x
 * the copy's + 50 us it is retried at the first step at once. The
 * rollback that ends such a retry (the origin quiet again) keeps the
 * previous cool-down (60 s, not 120 s); a rollback after a plain retry
 * doubles it as before. */
static void test_early_retry_when_origin_slows(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	roll_back_slow(&f, 800 * US, 30 * US);
	uint64_t rolled_at = f.now_ms;
	assert_int_equal(f.r.retry_ms, rolled_at + 60000);
	int q;
	uint64_t copy_p50 = f.r.back.copy_p50_ns;
	assert_true(copy_p50 > 700 * US && copy_p50 < 900 * US);
	assert_int_equal(daemon_rollout_early_bound_ns(&f.r, &f.p, &q),
			 (uint64_t)(1.2 * (double)copy_p50) + 50 * US);
	assert_int_equal(q, 50);
	for (int i = 0; i < 10; i++) { /* quiet origin: 50 s, still out */
		feed(&f, 0, 0, 500, 30 * US);
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
		assert_int_equal(share(&f), 0);
	}
	feed(&f, 0, 0, 500, 2000 * US);			       /* loaded: 2 ms a read */
	assert_int_equal(tick(&f, 4999), DAEMON_ROLLOUT_NONE); /* a whole window first */
	assert_int_equal(tick(&f, 1), DAEMON_ROLLOUT_EARLY_RETRY);
	assert_true(f.now_ms < rolled_at + 60000);
	assert_int_equal(f.r.phase, DAEMON_ROLLOUT_STEPPING);
	assert_int_equal(share(&f), 100);
	assert_int_equal(f.r.watch.origin_reads, 500);
	assert_true(f.r.watch.origin_p50_ns > 1700 * US);
	assert_int_equal(daemon_rollout_early_bound_ns(&f.r, &f.p, &q), 0); /* stepping */
	/* Judged against the loaded origin, the copy is good: it climbs. */
	feed(&f, 100, 800 * US, 100, 2000 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	/* The origin quiet again: rolled back, the cool-down not doubled. */
	roll_back_slow(&f, 800 * US, 30 * US);
	assert_int_equal(f.r.retry_ms, f.now_ms + 60000);
	assert_int_equal(f.r.rollbacks, 1);
	/* Quiet to the end of the cool-down: a plain retry, rolled back
	 * again: that one is in a row, 120 s. */
	feed(&f, 0, 0, 500, 30 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	assert_int_equal(tick(&f, 55000), DAEMON_ROLLOUT_RETRY);
	roll_back_slow(&f, 800 * US, 30 * US);
	assert_int_equal(f.r.retry_ms, f.now_ms + 120000);
	assert_int_equal(f.r.rollbacks, 2);
}

/* A rollback for read errors is never retried early, however slow the
 * origin gets: only the cool-down brings the copy back. */
static void test_no_early_retry_after_errors(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	f.errors = 1;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	int q;
	assert_int_equal(daemon_rollout_early_bound_ns(&f.r, &f.p, &q), 0);
	assert_int_equal(q, 0);
	for (int i = 0; i < 11; i++) {
		feed(&f, 0, 0, 1000, 50000 * US); /* 50 ms a read */
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_NONE);
		assert_int_equal(share(&f), 0);
	}
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_RETRY); /* 60 s */
	/* A latency rollback after an error one: early retry again. */
	roll_back_slow(&f, 800 * US, 30 * US);
	assert_int_equal(f.r.retry_ms, f.now_ms + 120000); /* in a row */
	feed(&f, 0, 0, 100, 5000 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_EARLY_RETRY);
	/* An error rollback after an early retry counts in a row: 240 s. */
	f.errors = 3;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(f.r.retry_ms, f.now_ms + 240000);
	feed(&f, 0, 0, 1000, 50000 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_NONE);
}

/* Few origin reads decide nothing: a window with fewer than min_reads is
 * extended (WAIT), then judged once it has them. */
static void test_early_retry_needs_min_reads(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	roll_back_slow(&f, 800 * US, 30 * US);
	feed(&f, 0, 0, 31, 5000 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT);
	assert_int_equal(share(&f), 0);
	feed(&f, 0, 0, 1, 5000 * US); /* the 32nd */
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_EARLY_RETRY);
	/* A trickle: after 8 intervals the old reads are dropped. */
	setup_fake(&f);
	roll_back_slow(&f, 800 * US, 30 * US);
	feed(&f, 0, 0, 20, 5000 * US);
	assert_int_equal(tick(&f, 40000), DAEMON_ROLLOUT_WAIT); /* restarted */
	feed(&f, 0, 0, 20, 5000 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_WAIT); /* 20, not 40 */
	assert_int_equal(share(&f), 0);
}

/* Hysteresis: an origin p50 at the copy's, or above it but within 1.2x +
 * 50 us, does not retry; only a clearly slower one does. */
static void test_early_retry_hysteresis(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	roll_back_slow(&f, 800 * US, 30 * US);
	uint64_t copy_p50 = f.r.back.copy_p50_ns;
	feed(&f, 0, 0, 100, 800 * US); /* the copy's own figure */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	assert_int_equal(f.r.watch.origin_p50_ns, copy_p50); /* same bucket */
	feed(&f, 0, 0, 100, 1000 * US);			     /* above it, within the margin */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	assert_true(f.r.watch.origin_p50_ns > copy_p50);
	assert_int_equal(share(&f), 0);
	feed(&f, 0, 0, 100, 1100 * US); /* past 1.2x + 50 us */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_EARLY_RETRY);
	assert_true(f.r.watch.origin_p50_ns > (uint64_t)(1.2 * (double)copy_p50) + 50 * US);
}

/* A copy rolled back for its tail alone (median as the origin's) is
 * retried early on the p95 only: an origin whose median slows but whose
 * tail stays below the copy's would see it rolled back again for the
 * same tail. */
static void test_early_retry_on_tail(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	for (int i = 0; i < 2; i++) {
		feed(&f, 90, 200 * US, 100, 200 * US);
		feed(&f, 10, 5000 * US, 0, 0);
		assert_int_equal(tick(&f, 5000), i ? DAEMON_ROLLOUT_ROLLBACK : DAEMON_ROLLOUT_HOLD);
	}
	int q;
	uint64_t bound = daemon_rollout_early_bound_ns(&f.r, &f.p, &q);
	assert_int_equal(q, 95);
	assert_true(bound > 5000 * US);
	feed(&f, 0, 0, 100, 2000 * US); /* median 10x the copy's, tail below its */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	feed(&f, 0, 0, 90, 2000 * US);
	feed(&f, 0, 0, 10, 9000 * US); /* the tail too */
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_EARLY_RETRY);
}

/* One step to 100 % (rollout=100): full share at once, judged against the
 * busy origin: slower than it twice -> rolled back; errors at once. */
static void test_single_step(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	assert_int_equal(daemon_rollout_parse_steps("100", &f.p), 0);
	struct daemon_rollout_input in = input(&f);
	daemon_rollout_start(&f.r, &f.p, f.now_ms, &in);
	assert_int_equal(share(&f), 1000);
	feed(&f, 100, 5000 * US, 100, 200 * US);
	feed_busy(&f, 100, 300 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD); /* a strike, no step below */
	assert_int_equal(f.r.strikes, 1);
	assert_true(f.r.last.copy_p50_ns > 4000 * US && f.r.last.copy_p50_ns < 6000 * US);
	feed(&f, 100, 5000 * US, 0, 0);
	feed_busy(&f, 100, 300 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_ROLLBACK);
	assert_int_equal(share(&f), 0);
	in = input(&f);
	daemon_rollout_start(&f.r, &f.p, f.now_ms, &in);
	f.errors = 1;
	assert_int_equal(tick(&f, 100), DAEMON_ROLLOUT_ROLLBACK);
}

/* At full share only the median counts; a copy slow there steps down to the
 * last partial step, where the gate samples fairly; fine there, it climbs
 * back with its strike, and slow at full share again it is rolled back. */
static void test_full_share_regression(void **state)
{
	(void)state;
	struct fake f;
	setup_fake(&f);
	for (int i = 0; i < 3; i++) {
		feed(&f, 100, 200 * US, 100, 200 * US);
		assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	}
	/* A heavier tail alone (median as the busy origin's): holds. */
	feed(&f, 90, 300 * US, 0, 0);
	feed(&f, 10, 3000 * US, 0, 0);
	feed_busy(&f, 100, 300 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_HOLD);
	assert_int_equal(f.r.strikes, 0);
	feed(&f, 100, 2000 * US, 0, 0);
	feed_busy(&f, 100, 300 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_DOWN);
	assert_int_equal(share(&f), 500);
	feed(&f, 100, 200 * US, 100, 200 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_STEP_UP);
	assert_int_equal(f.r.strikes, 1);
	feed(&f, 100, 2000 * US, 0, 0);
	feed_busy(&f, 100, 300 * US);
	assert_int_equal(tick(&f, 5000), DAEMON_ROLLOUT_ROLLBACK);
}

/* The router's gate: a copy at share S takes about S of a lone reader's
 * reads (the origin idle: without the gate it would take none); a copy at
 * share 0 none; at full share the power-of-two pick decides as before. */
static void test_pick_share(void **state)
{
	(void)state;
	struct daemon_shadow_map *m;
	assert_int_equal(daemon_shadow_map_new(1, &m), 0);
	daemon_shadow_map_lock(m);
	struct daemon_shadow_file *f = daemon_shadow_map_get(m, 1, 2);
	daemon_shadow_map_unlock(m);
	f->copies[0].version = 1;
	daemon_shadow_copy_publish(f, 0, 250);
	assert_int_equal(f->copies[0].share, 250);
	uint64_t x = 88172645463325252ull;
	int copy = 0;
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int s = daemon_shadow_pick(f, x);
		if (s >= 0) {
			copy++;
			daemon_shadow_copy_done(f, s, true, 1, 1);
		}
	}
	assert_true(copy > 2300 && copy < 2700);
	f->copies[0].share = 0; /* rolled back */
	for (int i = 0; i < 1000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		assert_int_equal(daemon_shadow_pick(f, x), -1);
	}
	f->copies[0].share = DAEMON_SHARE_FULL; /* a lone reader ties to the origin */
	for (int i = 0; i < 1000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		assert_int_equal(daemon_shadow_pick(f, x), -1);
	}
	daemon_shadow_origin_begin(f); /* a busy origin: the copy takes the read */
	assert_int_equal(daemon_shadow_pick(f, x), 0);
	daemon_shadow_copy_done(f, 0, true, 1, 1);
	daemon_shadow_origin_end(f);
	daemon_shadow_copy_retire(f, 0);
	assert_int_equal(f->copies[0].share, 0);
	/* A gated copy that is not valid (older version) leaves the read to
	 * the pick: with the origin busy, the copy at full share takes all. */
	f->copies[0].version = 1;
	daemon_shadow_copy_publish(f, 0, 250);
	f->copies[0].version = 0; /* as if the file had moved on */
	f->copies[1].version = 1;
	daemon_shadow_copy_publish(f, 1, DAEMON_SHARE_FULL);
	daemon_shadow_origin_begin(f);
	for (int i = 0; i < 1000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		assert_int_equal(daemon_shadow_pick(f, x), 1);
		daemon_shadow_copy_done(f, 1, true, 1, 1);
	}
	daemon_shadow_origin_end(f);
	assert_int_equal(f->copies[0].inflight, 0);
	daemon_shadow_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_steps),
	    cmocka_unit_test(test_hist_buckets),
	    cmocka_unit_test(test_ramp_to_full),
	    cmocka_unit_test(test_min_reads),
	    cmocka_unit_test(test_regression_steps_down_then_rolls_back),
	    cmocka_unit_test(test_strike_cleared_at_its_step),
	    cmocka_unit_test(test_hold_band_and_slack),
	    cmocka_unit_test(test_outliers),
	    cmocka_unit_test(test_errors_and_cooldown),
	    cmocka_unit_test(test_early_retry_when_origin_slows),
	    cmocka_unit_test(test_no_early_retry_after_errors),
	    cmocka_unit_test(test_early_retry_needs_min_reads),
	    cmocka_unit_test(test_early_retry_hysteresis),
	    cmocka_unit_test(test_early_retry_on_tail),
	    cmocka_unit_test(test_single_step),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_full_share_regression),
	    cmocka_unit_test(test_pick_share),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
