/* Unit tests of fs/copy_pace.c: the burst rule, the rate a paced reader
 * gets (a lower bound on elapsed time: sleeping is never shorter), no wait
 * without a limit, progress taking only the new bytes, and cancel ending
 * a long wait at once and every later one; the checked hook refusing once
 * the origin has changed; a job with priority making the others wait. */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "fs/copy_pace.h"

#define MIB (1024.0 * 1024.0)

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Burst: 100 ms worth, never less than one 1 MiB chunk. */
static void test_burst(void **state)
{
	(void)state;
	assert_true(fs_copy_pace_burst(0) == MIB);
	assert_true(fs_copy_pace_burst(1e6) == MIB);
	assert_true(fs_copy_pace_burst(100e6) == 10e6);
}

/* No limit (and no pace at all): a gigabyte passes at once. */
static void test_unlimited(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	assert_int_equal(fs_copy_pace_new(0, &p), 0);
	double t0 = now_s();
	assert_int_equal(fs_copy_pace_take(p, 1ull << 30), 0);
	assert_int_equal(fs_copy_pace_take(NULL, 1ull << 30), 0);
	assert_true(now_s() - t0 < 0.5);
	struct sync_pace h = fs_copy_pace_hook(NULL);
	assert_null(h.take);
	assert_int_equal(sync_pace_take(&h, 1ull << 30), 0);
	fs_copy_pace_free(p);
}

/* At 10 MB/s, the burst (1 MiB) then 3 MB more take >= 0.3 s. */
static void test_rate(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	assert_int_equal(fs_copy_pace_new(10, &p), 0);
	double t0 = now_s();
	assert_int_equal(fs_copy_pace_take(p, (uint64_t)MIB), 0);
	assert_true(now_s() - t0 < 0.05); /* the burst does not wait */
	struct sync_pace h = fs_copy_pace_hook(p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sync_pace_take(&h, 1000000), 0);
	double dt = now_s() - t0;
	assert_true(dt >= 0.29);
	assert_true(dt < 3);
	fs_copy_pace_free(p);
}

/* Progress reports: only what was read since the last report is taken,
 * and counted in *read. */
static void test_progress(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	uint64_t read = 0;
	assert_int_equal(fs_copy_pace_new(10, &p), 0);
	struct fs_copy_pace_progress pp = {.p = p, .read = &read};
	double t0 = now_s();
	fs_copy_pace_progress_fn(&pp, (uint64_t)MIB, 0); /* the burst */
	for (int i = 0; i < 20; i++)
		fs_copy_pace_progress_fn(&pp, (uint64_t)MIB, 0); /* nothing new */
	assert_true(now_s() - t0 < 0.05);
	fs_copy_pace_progress_fn(&pp, (uint64_t)MIB + 2000000, 0);
	assert_true(now_s() - t0 >= 0.19);
	assert_int_equal(pp.last, (uint64_t)MIB + 2000000);
	assert_int_equal(read, (uint64_t)MIB + 2000000);
	fs_copy_pace_free(p);
	struct fs_copy_pace_progress unpaced = {.read = &read}; /* no copy_rate: still counted */
	fs_copy_pace_progress_fn(&unpaced, 5000, 0);
	assert_int_equal(read, (uint64_t)MIB + 2005000);
}

/* skip_holes: a span of a sparse source takes (and counts) its data bytes
 * only; without it, every byte. */
static void test_progress_holes(void **state)
{
	(void)state;
	char path[] = "/tmp/test_copy_pace.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	const uint64_t M = 1u << 20;
	static char block[4096];
	memset(block, 0x5a, sizeof(block));
	/* 16 MiB: data at 0 (4 KiB) and at 8 MiB (4 KiB), holes elsewhere */
	assert_int_equal(ftruncate(fd, (off_t)(16 * M)), 0);
	assert_int_equal(pwrite(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
	assert_int_equal(pwrite(fd, block, sizeof(block), (off_t)(8 * M)), (ssize_t)sizeof(block));
	struct fs_copy_pace *p;
	uint64_t read = 0;
	assert_int_equal(fs_copy_pace_new(1, &p), 0); /* 1 MB/s: 16 MiB would take seconds */
	struct fs_copy_pace_progress pp = {
	    .p = p, .read = &read, .skip_holes = true, .source = fd};
	double t0 = now_s();
	fs_copy_pace_progress_fn(&pp, 4 * M, 0);
	fs_copy_pace_progress_fn(&pp, 16 * M, 0);
	assert_true(now_s() - t0 < 0.5);
	assert_int_equal(read, 2 * sizeof(block));
	assert_int_equal(pp.last, 16 * M);
	fs_copy_pace_free(p);
	read = 0;
	struct fs_copy_pace_progress every = {.read = &read};
	fs_copy_pace_progress_fn(&every, 16 * M, 0);
	assert_int_equal(read, 16 * M);
	close(fd);
}

static bool flag_is_set(void *arg)
{
	return *(bool *)arg;
}

/* The checked hook: takes (and waits) while the origin is unchanged; once
 * it has changed, -EAGAIN at once, without taking tokens. What it takes is
 * counted in *read (the job's progress). */
static void test_checked(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	bool unchanged = true;
	uint64_t read = 0;
	assert_int_equal(fs_copy_pace_new(10, &p), 0);
	struct fs_copy_pace_check c = {p, flag_is_set, &unchanged, NULL, &read};
	struct sync_pace h = fs_copy_pace_hook_checked(&c);
	double t0 = now_s();
	assert_int_equal(sync_pace_take(&h, (uint64_t)MIB), 0); /* the burst */
	assert_int_equal(sync_pace_take(&h, 1000000), 0);	/* waits ~0.1 s */
	assert_true(now_s() - t0 >= 0.09);
	unchanged = false;
	double t1 = now_s();
	for (int i = 0; i < 10; i++)
		assert_int_equal(sync_pace_take(&h, 1000000), -EAGAIN);
	assert_true(now_s() - t1 < 0.05);
	unchanged = true; /* nothing was taken meanwhile: the next waits ~0.1 s only */
	assert_int_equal(sync_pace_take(&h, 1000000), 0);
	assert_true(now_s() - t1 < 0.5);
	assert_int_equal(read, (uint64_t)MIB + 2000000); /* not the refused takes */
	struct fs_copy_pace_check none = {NULL, NULL, NULL, NULL, NULL};
	h = fs_copy_pace_hook_checked(&none);
	assert_int_equal(sync_pace_take(&h, 1ull << 30), 0);
	fs_copy_pace_free(p);
}

static void *cancel_later(void *arg)
{
	usleep(100 * 1000);
	fs_copy_pace_cancel(arg);
	return NULL;
}

static void *stop_later(void *arg)
{
	usleep(100 * 1000);
	__atomic_store_n((bool *)arg, true, __ATOMIC_RELEASE);
	return NULL;
}

/* One job's stop flag (the mover's cancellation): a wait of ~1000 s on it
 * ends soon after the flag is set, the checked hook then fails at once,
 * and the bucket itself is not cancelled (the next job still takes). */
static void test_stop_one_job(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	pthread_t t;
	bool stop = false;
	assert_int_equal(fs_copy_pace_new(0.001, &p), 0); /* 1000 bytes/s */
	assert_int_equal(fs_copy_pace_take_until(p, (uint64_t)MIB, &stop), 0);
	double t0 = now_s();
	assert_int_equal(pthread_create(&t, NULL, stop_later, &stop), 0);
	assert_int_equal(fs_copy_pace_take_until(p, 1000000, &stop), -ECANCELED);
	double dt = now_s() - t0;
	assert_true(dt >= 0.09);
	assert_true(dt < 2);
	pthread_join(t, NULL);
	struct fs_copy_pace_check c = {p, NULL, NULL, &stop, NULL};
	struct sync_pace h = fs_copy_pace_hook_checked(&c);
	t0 = now_s();
	assert_int_equal(sync_pace_take(&h, 1000000), -ECANCELED);
	struct fs_copy_pace_progress pp = {.p = p, .stop = &stop};
	fs_copy_pace_progress_fn(&pp, 1000000, 0); /* no wait either */
	assert_true(now_s() - t0 < 0.05);
	fs_copy_pace_free(p);
	assert_int_equal(fs_copy_pace_new(0, &p), 0); /* unlimited: the flag still stops */
	bool go = false;
	assert_int_equal(fs_copy_pace_take_until(p, 1ull << 30, &go), 0);
	go = true;
	assert_int_equal(fs_copy_pace_take_until(p, 1, &go), -ECANCELED);
	assert_int_equal(fs_copy_pace_take_until(NULL, 1, &go), -ECANCELED);
	assert_int_equal(fs_copy_pace_take(p, 1), 0); /* the bucket is not cancelled */
	fs_copy_pace_free(p);
}

/* A wait of ~1000 s ends with -ECANCELED soon after the cancel; later takes
 * fail at once. */
static void test_cancel(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	pthread_t t;
	assert_int_equal(fs_copy_pace_new(0.001, &p), 0); /* 1000 bytes/s */
	assert_int_equal(fs_copy_pace_take(p, (uint64_t)MIB), 0);
	double t0 = now_s();
	assert_int_equal(pthread_create(&t, NULL, cancel_later, p), 0);
	assert_int_equal(fs_copy_pace_take(p, 1000000), -ECANCELED);
	double dt = now_s() - t0;
	assert_true(dt >= 0.09);
	assert_true(dt < 2);
	pthread_join(t, NULL);
	assert_int_equal(fs_copy_pace_take(p, 1), -ECANCELED);
	fs_copy_pace_cancel(NULL); /* accepted */
	fs_copy_pace_free(p);
	fs_copy_pace_free(NULL);
}

struct clear_arg {
	struct fs_copy_pace *p;
	double after_s;
};

static void *clear_priority_later(void *arg)
{
	struct clear_arg *c = arg;
	usleep((useconds_t)(c->after_s * 1e6));
	fs_copy_pace_priority(c->p, NULL);
	return NULL;
}

/* While one job has the pace alone, another's take waits (unlimited rate
 * too) until the priority is cleared, and its stop flag still ends the
 * wait; the priority job itself never waits for it. */
static void test_priority(void **state)
{
	(void)state;
	struct fs_copy_pace *p;
	pthread_t t;
	bool urgent = false, other = false;
	assert_int_equal(fs_copy_pace_new(0, &p), 0);
	fs_copy_pace_priority(p, &urgent);
	double t0 = now_s();
	assert_int_equal(fs_copy_pace_take_until(p, 1ull << 30, &urgent), 0);
	assert_true(now_s() - t0 < 0.05);
	struct clear_arg c = {p, 0.3};
	assert_int_equal(pthread_create(&t, NULL, clear_priority_later, &c), 0);
	assert_int_equal(fs_copy_pace_take_until(p, 1, &other), 0);
	double dt = now_s() - t0;
	pthread_join(t, NULL);
	assert_true(dt >= 0.29);
	assert_true(dt < 2);
	/* cleared: no wait */
	t0 = now_s();
	assert_int_equal(fs_copy_pace_take_until(p, 1, &other), 0);
	assert_true(now_s() - t0 < 0.05);
	/* a stopped job does not wait for the priority one */
	fs_copy_pace_priority(p, &urgent);
	other = true;
	assert_int_equal(fs_copy_pace_take_until(p, 1, &other), -ECANCELED);
	fs_copy_pace_priority(p, NULL);
	fs_copy_pace_priority(NULL, &urgent); /* accepted */
	fs_copy_pace_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst),   cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_rate),    cmocka_unit_test(test_progress),
	    cmocka_unit_test(test_progress_holes),
	    cmocka_unit_test(test_checked), cmocka_unit_test(test_cancel),
	    cmocka_unit_test(test_stop_one_job), cmocka_unit_test(test_priority),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
