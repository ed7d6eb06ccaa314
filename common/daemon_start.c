/* Daemonizing with a start-up report to the parent: see daemon_start.h. */
#include "common/daemon_start.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"

enum { STARTED = 'S', FAILED = 'F' };

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
}

/* The parent was told to stop (Ctrl-C, SIGTERM, SIGHUP) before the child
 * reported: the start is abandoned, the child killed, and what undo undoes
 * (the mount) undone, so that a start that hangs can be given up. */
static _Noreturn void abandon(const char *program, pid_t pid, void (*undo)(void *),
			      void *undo_arg)
{
	fprintf(stderr, "%s: interrupted while the daemon was starting: stopped it\n", program);
	if (undo)
		undo(undo_arg); /* first: the child may be waiting on it */
	kill(pid, SIGKILL);
	for (int i = 0; i < 500 && waitpid(pid, NULL, WNOHANG) == 0; i++)
		usleep(10000);
	_exit(1);
}

int sfs_daemon_start(const char *program, void (*undo)(void *), void *undo_arg)
{
	static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
	sigset_t block, old;
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		sigaddset(&block, stops[i]);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	/* Blocked across the fork: one arriving before the parent's handlers
	 * are in place waits for them (the child gets the caller's). */
	sigprocmask(SIG_BLOCK, &block, &old);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid > 0) {
		struct sigaction sa = {.sa_handler = on_interrupt};
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
			sigaction(stops[i], &sa, NULL);
		/* The stops stay blocked but while ppoll waits (it unblocks them
		 * atomically): one that comes at any moment ends the wait, none
		 * is handled just before a wait that would then not end. */
		sigset_t waiting = old;
		for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
			sigdelset(&waiting, stops[i]);
		char verdict = 0;
		close(p[1]);
		ssize_t n = -1;
		for (;;) {
			struct pollfd pfd = {.fd = p[0], .events = POLLIN};
			int r = ppoll(&pfd, 1, NULL, &waiting);
			if (interrupted)
				abandon(program, pid, undo, undo_arg);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				break;
			do
				n = read(p[0], &verdict, 1);
			while (n < 0 && errno == EINTR);
			break;
		}
		if (n == 1 && verdict == STARTED)
			_exit(0);
		if (n != 1) /* no verdict: it died (a signal, a crash) while starting */
			fprintf(stderr, "%s: error: the daemon exited while starting\n", program);
		_exit(1);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[0]);
	if (setsid() < 0 || chdir("/") < 0) {
		/* Cannot happen for a fresh child; go on as a plain background process. */
	}
	return p[1];
}

static void report(int fd, char verdict)
{
	ssize_t n;
	do
		n = write(fd, &verdict, 1);
	while (n < 0 && errno == EINTR);
	close(fd);
}

void sfs_daemon_ready(int fd)
{
	if (fd < 0)
		return;
	sfs_log_to_syslog();
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	report(fd, STARTED);
}

void sfs_daemon_failed(int fd)
{
	if (fd >= 0)
		report(fd, FAILED);
}
