/* Stopping on a signal, the mount's dirty pages written back first: see
 * stop_signal.h. */
#include "fs/stop_signal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/fs.h"
#include "fs/lock_wait.h"

#define LOOP_ENDED 0 /* byte fs_stop_free writes: not a signal number */
#define QUIET_MS 100 /* no WRITE under way nor begun for that long: done */

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};

/* The handler's end of the pipe (one mount per process). */
static int signal_pipe_w = -1;

struct fs_stop {
	int pipe_r;
	struct fuse_session *se;
	struct fs_ctx *ctx; /* its WRITE counters */
	char *mountpoint;
	pthread_t loop_thread; /* the thread serving the loop, to interrupt */
	pthread_t stopper;
	bool stopper_started;
	atomic_bool loop_ended;
};

/* What the background syncfs needs, its own: the stopper may stop
 * waiting for it (grace over, second signal) and the mount end under it. */
struct sync_job {
	char *mountpoint;
	int done_w; /* one byte when syncfs returned */
};

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (write(signal_pipe_w, &b, 1) < 0) { /* full: a signal is pending already */
	}
	errno = saved;
}

static int set_handlers(void (*handler)(int))
{
	struct sigaction sa = {.sa_handler = handler}; /* no SA_RESTART: interrupts */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
		if (sigaction(stop_signals[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

int fs_stop_install(struct fs_stop **ret)
{
	struct fs_stop *s = calloc(1, sizeof(*s));
	int p[2];
	if (!s)
		return -ENOMEM;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(s);
		return -errno;
	}
	s->pipe_r = p[0];
	signal_pipe_w = p[1];
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigemptyset(&ign.sa_mask);
	int res = set_handlers(on_signal);
	if (res == 0 && sigaction(SIGPIPE, &ign, NULL) < 0)
		res = -errno;
	if (res < 0) {
		fs_stop_free(s);
		return res;
	}
	*ret = s;
	return 0;
}

static void *sync_main(void *arg)
{
	struct sync_job *j = arg;
	int fd = open(j->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		sfs_warn("stopping: cannot write the mount's dirty pages back (%s on %s)",
			 strerror(errno), j->mountpoint);
	if (fd >= 0)
		close(fd);
	unsigned char b = 1;
	if (write(j->done_w, &b, 1) < 0) { /* the stopper stopped waiting */
	}
	close(j->done_w);
	free(j->mountpoint);
	free(j);
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads the pipe's next byte, waiting up to ms (-1: for ever): the byte,
 * or -1 when none came in time. */
static int next_byte(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	for (;;) {
		unsigned char b;
		if (read(fd, &b, 1) == 1)
			return b;
		int r = poll(&pfd, 1, ms);
		if (r == 0)
			return -1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* Writes the dirty pages back, waiting up to the grace period, a second
 * signal or the loop's end (unmounted meanwhile). */
static void write_back(struct fs_stop *s, int sig)
{
	int done[2];
	pthread_t t;
	struct sync_job *j = calloc(1, sizeof(*j));
	sfs_info("%s: writing the mount's dirty pages back to BACKING, then stopping "
		 "(a second signal stops at once)",
		 strsignal(sig));
	if (!j || pipe2(done, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(j);
		sfs_warn("stopping without writing dirty pages back: %s", strerror(errno));
		return;
	}
	j->mountpoint = strdup(s->mountpoint);
	j->done_w = done[1];
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int res = j->mountpoint ? pthread_create(&t, &attr, sync_main, j) : ENOMEM;
	pthread_attr_destroy(&attr);
	if (res != 0) {
		sfs_warn("stopping without writing dirty pages back: %s", strerror(res));
		free(j->mountpoint);
		free(j);
		close(done[0]);
		close(done[1]);
		return;
	}
	/* syncfs returns once the pages are handed to us, not once we have
	 * written them (the kernel does not wait for a FUSE mount's writeback,
	 * which a daemon could hold for ever): a 1 MiB WRITE still under way
	 * when the loop ended was lost, one stop in eight under TSan. So the
	 * wait goes on until no WRITE is under way nor begun for QUIET_MS. */
	struct pollfd pfd[2] = {{.fd = done[0], .events = POLLIN}, {.fd = s->pipe_r, .events = POLLIN}};
	uint64_t start = now_ms(), deadline = start + FS_STOP_SYNC_GRACE_MS;
	bool synced = false;
	uint64_t begun = 0;
	for (;;) {
		uint64_t t_now = now_ms();
		if (t_now >= deadline) {
			sfs_warn("stopping: the dirty pages were not all written back after %u s; "
				 "what is left is lost",
				 FS_STOP_SYNC_GRACE_MS / 1000);
			break;
		}
		uint64_t left = deadline - t_now;
		int r = poll(synced ? pfd + 1 : pfd, synced ? 1 : 2,
			     (int)(synced && left > QUIET_MS ? QUIET_MS : left));
		if (r < 0 && errno != EINTR)
			break;
		if (pfd[1].revents) {
			int b = next_byte(s->pipe_r, 0);
			if (b == LOOP_ENDED)
				break;
			if (b > 0) {
				sfs_warn("%s again: stopping without waiting for the dirty pages",
					 strsignal(b));
				break;
			}
			continue;
		}
		if (!synced && !pfd[0].revents)
			continue;
		/* syncfs returned (synced), or QUIET_MS passed since the last look */
		uint64_t now_begun = atomic_load_explicit(&s->ctx->writes_begun, memory_order_relaxed);
		uint64_t done_n = atomic_load_explicit(&s->ctx->writes_done, memory_order_acquire);
		if (synced && now_begun == begun && done_n == now_begun) {
			sfs_debug("stopping: dirty pages written back in %llu ms",
				  (unsigned long long)(now_ms() - start));
			break;
		}
		synced = true;
		begun = now_begun;
	}
	close(done[0]);
}

static void *stopper_main(void *arg)
{
	struct fs_stop *s = arg;
	int sig = next_byte(s->pipe_r, -1);
	if (sig <= LOOP_ENDED)
		return NULL; /* unmounted: the loop ended by itself */
	/* First: a worker parked in a lock wait would hold the write-back's
	 * own requests (threads=1) and, later, the loop's end (it joins every
	 * worker). */
	fs_lock_waits_end();
	write_back(s, sig);
	fuse_session_exit(s->se);
	/* The loop notices at its next wake-up: interrupt its thread every
	 * 100 ms until it has returned (a signal that came just before it
	 * blocked is lost); the bytes those signals write are dropped. */
	while (!atomic_load(&s->loop_ended)) {
		pthread_kill(s->loop_thread, SIGTERM);
		for (uint64_t until = now_ms() + 100, t; (t = now_ms()) < until;) {
			int b = next_byte(s->pipe_r, (int)(until - t));
			if (b == LOOP_ENDED)
				return NULL;
			if (b < 0)
				break;
		}
	}
	return NULL;
}

int fs_stop_arm(struct fs_stop *s, struct fuse_session *se, struct fs_ctx *ctx,
		const char *mountpoint)
{
	s->se = se;
	s->ctx = ctx;
	s->mountpoint = strdup(mountpoint);
	if (!s->mountpoint)
		return -ENOMEM;
	s->loop_thread = pthread_self();
	int res = pthread_create(&s->stopper, NULL, stopper_main, s);
	if (res != 0)
		return -res;
	s->stopper_started = true;
	return 0;
}

void fs_stop_loop_returned(struct fs_stop *s)
{
	if (!s || atomic_exchange(&s->loop_ended, true))
		return;
	if (s->stopper_started) {
		unsigned char b = LOOP_ENDED;
		/* The pipe full: the stopper has bytes to read, and loop_ended. */
		while (write(signal_pipe_w, &b, 1) < 0 && errno == EINTR)
			;
		pthread_join(s->stopper, NULL);
		s->stopper_started = false;
	}
}

void fs_stop_free(struct fs_stop *s)
{
	if (!s)
		return;
	fs_stop_loop_returned(s);
	(void)set_handlers(SIG_DFL);
	if (signal_pipe_w >= 0)
		close(signal_pipe_w);
	signal_pipe_w = -1;
	close(s->pipe_r);
	free(s->mountpoint);
	free(s);
}
