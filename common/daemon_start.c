/* Daemonizing with a start-up report to the parent: see daemon_start.h. */
#include "common/daemon_start.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

enum { STARTED = 'S', FAILED = 'F' };

int sfs_daemon_start(const char *program)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid > 0) {
		char verdict = 0;
		close(p[1]);
		ssize_t n;
		do
			n = read(p[0], &verdict, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1 && verdict == STARTED)
			_exit(0);
		if (n != 1) /* no verdict: it died (a signal, a crash) while starting */
			fprintf(stderr, "%s: error: the daemon exited while starting\n", program);
		_exit(1);
	}
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
