/* Lock waits on BACKING that end on FUSE_INTERRUPT or when the mount
 * stops: see lock_wait.h. */
#include "fs/lock_wait.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#ifndef sigev_notify_thread_id /* glibc < 2.37 names only the union member */
#define sigev_notify_thread_id _sigev_un._tid
#endif

static atomic_bool waits_ended;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;

/* SIGRTMIN is a function call in glibc (it keeps the first ones). */
static int wake_signal(void)
{
	return SIGRTMIN + 3;
}

static void on_wake(int sig)
{
	(void)sig; /* only there to end the lock call with EINTR */
}

static void install_handler(void)
{
	struct sigaction sa = {.sa_handler = on_wake}; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	if (sigaction(wake_signal(), &sa, NULL) < 0)
		handler_err = errno;
}

struct waiter {
	pthread_t thread;
};

/* libfuse calls it under the request's lock, which fuse_req_interrupt_func
 * takes too: once the waiter has unregistered it, it no longer runs. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct waiter *w = data;
	(void)req;
	pthread_kill(w->thread, wake_signal());
}

static bool is_busy(int res)
{
	return res == -EAGAIN || res == -EACCES || res == -EWOULDBLOCK;
}

/* A timer that sends the calling thread the wake-up signal every
 * FS_LOCK_RECHECK_MS. 0 or -errno. */
static int arm_recheck(timer_t *timer)
{
	struct sigevent ev;
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = wake_signal();
	ev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &ev, timer) < 0)
		return -errno;
	struct timespec every = {.tv_sec = FS_LOCK_RECHECK_MS / 1000,
				 .tv_nsec = (FS_LOCK_RECHECK_MS % 1000) * 1000000L};
	struct itimerspec its = {.it_interval = every, .it_value = every};
	if (timer_settime(*timer, 0, &its, NULL) < 0) {
		int err = errno;
		timer_delete(*timer);
		return -err;
	}
	return 0;
}

/* Drops a wake-up signal left pending (the timer fired, or an INTERRUPT
 * came, after the last lock call): the thread has it blocked again. */
static void drain_wake_signal(void)
{
	sigset_t set;
	struct timespec zero = {0, 0};
	sigemptyset(&set);
	sigaddset(&set, wake_signal());
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
}

int fs_lock_wait(fuse_req_t req, int fd, fs_lock_call_fn call, void *arg)
{
	int res = call(fd, arg, false);
	if (!is_busy(res))
		return res;
	if (atomic_load(&waits_ended))
		return -ENOTCONN;
	pthread_once(&handler_once, install_handler);
	if (handler_err) {
		sfs_warn("lock wait: cannot install the wake-up signal's handler (%s): "
			 "waiting without being interruptible",
			 strerror(handler_err));
		return call(fd, arg, true);
	}
	struct waiter w = {.thread = pthread_self()};
	timer_t timer;
	int err = arm_recheck(&timer);
	if (err < 0) {
		sfs_warn("lock wait: no re-check timer (%s): waiting without being "
			 "interruptible",
			 strerror(-err));
		return call(fd, arg, true);
	}
	sigset_t wake, old;
	sigemptyset(&wake);
	sigaddset(&wake, wake_signal());
	fuse_req_interrupt_func(req, on_interrupt, &w);
	pthread_sigmask(SIG_UNBLOCK, &wake, &old);
	for (;;) {
		if (fuse_req_interrupted(req)) {
			res = -EINTR;
			break;
		}
		if (atomic_load(&waits_ended)) {
			res = -ENOTCONN;
			break;
		}
		res = call(fd, arg, true);
		if (res != -EINTR)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	fuse_req_interrupt_func(req, NULL, NULL);
	timer_delete(timer);
	if (!sigismember(&old, wake_signal()))
		return res; /* the thread had it unblocked: nothing can be pending */
	drain_wake_signal();
	return res;
}

void fs_lock_waits_end(void)
{
	atomic_store(&waits_ended, true);
}
