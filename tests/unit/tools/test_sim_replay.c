/* The simulator's core (tools/sim_replay.c): scores of hand-computed
 * replays (a step of demand with an anticipating, a late and no policy),
 * the copy lag, contention for a host's slots, replica counts per bucket,
 * and its parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/sim_replay.h"

#define N 20

/* Demand 1 everywhere except 3 in buckets 10..14; capacity 2: one onset
 * at 10, five overloaded buckets without a copy. */
static void step_demand(double y[N])
{
	for (int t = 0; t < N; t++)
		y[t] = t >= 10 && t < 15 ? 3.0 : 1.0;
}

static const struct sim_host ONE_HOST[] = {{.cost = 2.0, .slots = 0}};

/* Replays buckets 0..N of nf files; the replay must succeed. */
static struct sim_score replay(const struct sim_params *p, const struct sim_file *f, size_t nf)
{
	struct sim_score s;
	memset(&s, 0, sizeof(s));
	assert_int_equal(sim_replay(p, f, nf, 0, N, &s), 0);
	return s;
}

static struct sim_params params(unsigned idle, unsigned lag)
{
	return (struct sim_params){
	    .idle = idle, .lag = lag, .window = 6, .hosts = ONE_HOST, .nhosts = 1};
}

static void test_no_policy_counts_overload(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N] = {0};
	step_demand(y);
	struct sim_file f = {.y = y, .alarm = alarm, .cap = 2.0};
	struct sim_params p = params(1, 0);
	struct sim_score s = replay(&p, &f, 1);
	assert_int_equal(s.buckets, N);
	assert_int_equal(s.overloaded, 5);
	assert_true(s.reads == 30.0);
	assert_true(s.reads_overloaded == 15.0);
	assert_true(s.excess == 5.0);
	assert_int_equal(s.onsets, 1);
	assert_int_equal(s.covered, 0);
	assert_int_equal(s.copies, 0);
	assert_int_equal(s.copy_buckets, 0);
}

/* Alarms from bucket 8 to 14: one copy serves 8..14 (two copies of
 * capacity 2 take the 3 reads), demoted at 15 after idle 1: no overload,
 * the onset covered, 7 copy-buckets at cost 2. */
static void test_anticipation_covers_onset(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N] = {0};
	step_demand(y);
	for (int t = 8; t <= 14; t++)
		alarm[t] = 1;
	struct sim_file f = {.y = y, .alarm = alarm, .cap = 2.0};
	struct sim_params p = params(1, 0);
	struct sim_score s = replay(&p, &f, 1);
	assert_int_equal(s.overloaded, 0);
	assert_true(s.excess == 0.0);
	assert_int_equal(s.onsets, 1);
	assert_int_equal(s.covered, 1);
	assert_int_equal(s.copies, 1);
	assert_int_equal(s.copy_buckets, 7);
	assert_true(s.cost == 14.0);
}

/* A reaction at the onset bucket with a copy lag of 1: the copy serves
 * from 11 (kept by idle 10), so only bucket 10 is overloaded and the onset
 * is not covered. */
static void test_lag_delays_the_copy(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N] = {0};
	step_demand(y);
	alarm[10] = 1;
	struct sim_file f = {.y = y, .alarm = alarm, .cap = 2.0};
	struct sim_params p = params(10, 1);
	struct sim_score s = replay(&p, &f, 1);
	assert_int_equal(s.overloaded, 1);
	assert_true(s.excess == 1.0);
	assert_int_equal(s.covered, 0);
	assert_int_equal(s.copies, 1);
	/* On its way at 10, serving 11..19 (idle 10 outlasts the trace). */
	assert_int_equal(s.copy_buckets, 10);
}

/* Two alarmed files, one host with one slot: the first file met takes it,
 * the second is unplaced every bucket and stays overloaded; the cheaper
 * of two hosts is used first. */
static void test_slots_and_cost(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N];
	step_demand(y);
	memset(alarm, 1, sizeof(alarm));
	struct sim_file f[2] = {{.y = y, .alarm = alarm, .cap = 2.0},
				{.y = y, .alarm = alarm, .cap = 2.0}};
	const struct sim_host one_slot[] = {{.cost = 1.0, .slots = 1}};
	struct sim_params p = {.idle = 1, .window = 6, .hosts = one_slot, .nhosts = 1};
	struct sim_score s = replay(&p, f, 2);
	assert_int_equal(s.copies, 1);
	assert_int_equal(s.unplaced, N);
	assert_int_equal(s.overloaded, 5);
	assert_int_equal(s.covered, 1);
	assert_int_equal(s.onsets, 2);

	const struct sim_host two[] = {{.cost = 5.0, .slots = 0}, {.cost = 1.0, .slots = 1}};
	p.hosts = two;
	p.nhosts = 2;
	s = replay(&p, f, 2);
	assert_int_equal(s.copies, 2);
	assert_int_equal(s.unplaced, 0);
	assert_int_equal(s.overloaded, 0);
	assert_true(s.cost == (1.0 + 5.0) * N);
}

/* Capacity 1 and demand 3: one copy (k = 2) still leaves 1 read of excess
 * per hot bucket; a group of two copies (k = 3) leaves none, at twice the
 * copies and copy-buckets. */
static void test_copy_groups(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N] = {0};
	step_demand(y);
	for (int t = 8; t <= 14; t++)
		alarm[t] = 1;
	struct sim_file f = {.y = y, .alarm = alarm, .cap = 1.0};
	struct sim_params p = params(1, 0);
	struct sim_score s = replay(&p, &f, 1);
	assert_int_equal(s.overloaded, 5);
	assert_true(s.excess == 5.0);
	assert_int_equal(s.copies, 1);
	p.copies = 2;
	s = replay(&p, &f, 1);
	assert_int_equal(s.overloaded, 0);
	assert_true(s.excess == 0.0);
	assert_int_equal(s.copies, 2);
	assert_int_equal(s.copy_buckets, 14);
	/* A host with one slot cannot take a group of two. */
	const struct sim_host small[] = {{.cost = 1.0, .slots = 1}};
	p.hosts = small;
	s = replay(&p, &f, 1);
	assert_int_equal(s.copies, 0);
	assert_int_equal(s.unplaced, 7);
}

/* A replica count per bucket (the mount's, from the forecast): one copy
 * from the alarm at 8, a second while the count says 2 (10..12), trimmed
 * at 13 once the count is back to 1 (idle 1 bucket): the last two hot
 * buckets have one read of excess each. */
static void test_replica_counts(void **state)
{
	(void)state;
	double y[N];
	unsigned char alarm[N] = {0}, want[N] = {0};
	step_demand(y);
	for (int t = 8; t <= 14; t++) {
		alarm[t] = 1;
		want[t] = t >= 10 && t <= 12 ? 2 : 1;
	}
	struct sim_file f = {.y = y, .alarm = alarm, .want = want, .cap = 1.0};
	struct sim_params p = params(1, 0);
	struct sim_score s = replay(&p, &f, 1);
	assert_int_equal(s.copies, 2);
	assert_int_equal(s.overloaded, 2);
	assert_true(s.excess == 2.0);
	assert_int_equal(s.copy_buckets, 2 + 6 + 2);
	/* A copy that takes a bucket: the second serves from 11, so 10 has
	 * one read of excess too (and 8, before the first arrives, is not hot). */
	p.lag = 1;
	s = replay(&p, &f, 1);
	assert_int_equal(s.overloaded, 3);
	assert_true(s.excess == 3.0);
}

static void test_bad_parameters(void **state)
{
	(void)state;
	double y[N] = {0};
	unsigned char alarm[N] = {0};
	struct sim_file f = {.y = y, .alarm = alarm, .cap = 1.0};
	struct sim_score s;
	memset(&s, 0, sizeof(s));
	struct sim_params p = params(0, 0);
	assert_int_equal(sim_replay(&p, &f, 1, 0, N, &s), -EINVAL);
	p = params(1, 0);
	assert_int_equal(sim_replay(&p, &f, 1, 5, 4, &s), -EINVAL);
	p.nhosts = 0;
	assert_int_equal(sim_replay(&p, &f, 1, 0, N, &s), -EINVAL);
	assert_int_equal(sim_replay(NULL, &f, 1, 0, N, &s), -EINVAL);
	assert_int_equal(s.buckets, 0);
}

static void test_parse_hosts(void **state)
{
	(void)state;
	struct sim_host h[4];
	assert_int_equal(sim_parse_hosts("1", h, 4), 1);
	assert_true(h[0].cost == 1.0);
	assert_int_equal(h[0].slots, 0);
	assert_int_equal(sim_parse_hosts("0.5:10,2", h, 4), 2);
	assert_true(h[0].cost == 0.5);
	assert_int_equal(h[0].slots, 10);
	assert_true(h[1].cost == 2.0);
	assert_int_equal(h[1].slots, 0);
	static const char *bad[] = {"",	   "x",	    "1:",   "1,",	  "-1", "1:2:3",
				    "1:-2", "1:+2", "nan", "1,,2", "1 ", "1,2,3,4,5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sim_parse_hosts(bad[i], h, 4), -EINVAL);
	assert_int_equal(sim_parse_hosts(NULL, h, 4), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_policy_counts_overload),
	    cmocka_unit_test(test_anticipation_covers_onset),
	    cmocka_unit_test(test_lag_delays_the_copy),
	    cmocka_unit_test(test_slots_and_cost),
	    cmocka_unit_test(test_copy_groups),
	    cmocka_unit_test(test_replica_counts),
	    cmocka_unit_test(test_bad_parameters),
	    cmocka_unit_test(test_parse_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
