/* pc_scen_locks.c: posix_compare scenarios about locks across processes:
 * fcntl POSIX record locks (F_SETLK/F_SETLKW/F_GETLK, splitting, release on
 * any close), open file description locks (F_OFD_*) and flock(). Helper
 * processes record into the trace while the scenario process waits, so the
 * order of lines is fixed. */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t lk_parent;

static struct flock lk(short type, off_t start, off_t len)
{
	struct flock f = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };

	return f;
}

/* Record F_GETLK (or F_OFD_GETLK) for a probe lock. */
static void lk_get(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock f = lk(type, start, len);
	const char *who;

	if (fcntl(fd, cmd, &f) < 0) {
		PC_NOTE("getlk(%s %lld+%lld) = -1 %s", cmd == F_GETLK ? "posix" : "ofd",
			(long long)start, (long long)len, strerrorname_np(errno));
		return;
	}
	if (f.l_pid == lk_parent)
		who = "scenario-process";
	else if (f.l_pid == -1)
		who = "-1";
	else if (f.l_pid == 0)
		who = "0";
	else if (f.l_pid == getpid())
		who = "self";
	else
		who = "other";
	PC_NOTE("getlk(%s %lld+%lld) = type=%s start=%lld len=%lld pid=%s",
		cmd == F_GETLK ? "posix" : "ofd", (long long)start, (long long)len,
		f.l_type == F_UNLCK ? "UNLCK" : f.l_type == F_RDLCK ? "RDLCK" : "WRLCK",
		f.l_type == F_UNLCK ? 0LL : (long long)f.l_start,
		f.l_type == F_UNLCK ? 0LL : (long long)f.l_len, f.l_type == F_UNLCK ? "-" : who);
}

static void lk_child_probe1(void *arg)
{
	int fd = open("f", O_RDWR);
	struct flock f;

	(void)arg;
	lk_get(fd, F_GETLK, F_WRLCK, 50, 10);
	lk_get(fd, F_GETLK, F_RDLCK, 100, 10);
	f = lk(F_WRLCK, 50, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(F_WRLCK, 100, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	close(fd);
}

static void lk_child_probe2(void *arg)
{
	int fd = open("f", O_RDWR);
	struct flock f;

	(void)arg;
	lk_get(fd, F_GETLK, F_WRLCK, 45, 5);
	lk_get(fd, F_GETLK, F_WRLCK, 0, 10);
	lk_get(fd, F_GETLK, F_WRLCK, 70, 0);
	f = lk(F_RDLCK, 200, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(F_WRLCK, 200, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	lk_get(fd, F_GETLK, F_WRLCK, 1000, 1);
	close(fd);
}

static void lk_child_probe3(void *arg)
{
	int fd = open("f", O_RDWR);

	(void)arg;
	lk_get(fd, F_GETLK, F_WRLCK, 0, 0);
	close(fd);
}

/* Blocks in F_SETLKW; reports through the pipe when it got the lock. */
static void lk_child_wait(void *arg)
{
	int *p = arg;
	int fd = open("f", O_RDWR);
	struct flock f = lk(F_WRLCK, 0, 10);
	char c = fcntl(fd, F_SETLKW, &f) == 0 ? 'y' : 'n';

	if (write(p[1], &c, 1) != 1)
		_exit(1);
	close(fd);
}

/* Wait up to ms for one byte on a pipe; returns it or 0 on timeout. */
static char lk_poll(int rfd, int ms)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char c = 0;

	if (poll(&pfd, 1, ms) == 1 && read(rfd, &c, 1) != 1)
		c = 0;
	return c;
}

/* POSIX record locks between processes: conflicts, GETLK reporting the
 * holder, splitting on partial unlock, shared read locks, F_SETLKW wakeup,
 * release when any fd of the file is closed, EBADF on mode mismatch. */
static void sc_posix_locks(void)
{
	struct flock f;
	int fd, fd2, ro, p[2];
	char c;

	lk_parent = getpid();
	pc_puts("f", "lock file");
	fd = PC_FD(open("f", O_RDWR));
	f = lk(F_WRLCK, 0, 100);
	PC_RC(fcntl(fd, F_SETLK, &f));
	lk_get(fd, F_GETLK, F_WRLCK, 0, 10);
	pc_join(pc_spawn(lk_child_probe1, NULL));
	f = lk(F_UNLCK, 40, 20);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(F_RDLCK, 200, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(F_WRLCK, 300, 0);
	PC_RC(fcntl(fd, F_SETLK, &f));
	pc_join(pc_spawn(lk_child_probe2, NULL));
	f = lk(F_UNLCK, 0, 0);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(F_WRLCK, 0, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	if (pipe(p) < 0)
		return;
	pid_t w = pc_spawn(lk_child_wait, p);
	c = lk_poll(p[0], 300);
	PC_NOTE("waiter got the lock before unlock = %c", c ? c : '-');
	f = lk(F_UNLCK, 0, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	c = lk_poll(p[0], 5000);
	PC_NOTE("waiter got the lock after unlock = %c", c ? c : '-');
	pc_join(w);
	close(p[0]);
	close(p[1]);
	f = lk(F_WRLCK, 0, 10);
	PC_RC(fcntl(fd, F_SETLK, &f));
	fd2 = PC_FD(open("f", O_RDONLY));
	PC_RC(close(fd2));
	pc_join(pc_spawn(lk_child_probe3, NULL));
	ro = PC_FD(open("f", O_RDONLY));
	f = lk(F_WRLCK, 0, 1);
	PC_RC(fcntl(ro, F_SETLK, &f));
	f = lk(F_RDLCK, 0, 1);
	PC_RC(fcntl(ro, F_SETLK, &f));
	f = lk(F_WRLCK, -5, 1);
	PC_RC(fcntl(fd, F_SETLK, &f));
	f = lk(7, 0, 1);
	PC_RC(fcntl(fd, F_SETLK, &f));
	close(ro);
	close(fd);
}

static void ofd_child(void *arg)
{
	int *fd = arg;
	struct flock f = lk(F_WRLCK, 0, 10);

	/* The inherited descriptor shares the description: same owner. */
	PC_RC(fcntl(*fd, F_OFD_SETLK, &f));
	f = lk(F_WRLCK, 0, 10);
	int other = open("f", O_RDWR);

	PC_RC(fcntl(other, F_OFD_SETLK, &f));
	lk_get(other, F_OFD_GETLK, F_WRLCK, 0, 1);
	lk_get(other, F_GETLK, F_WRLCK, 0, 1);
	close(other);
}

/* Open file description locks: conflicts between two opens in one process,
 * l_pid=-1, interaction with POSIX locks, survival across closing another
 * fd, inheritance by fork, l_pid must be 0. */
static void sc_ofd_locks(void)
{
	struct flock f;
	int fd1, fd2, fd3;

	lk_parent = getpid();
	pc_puts("f", "ofd");
	fd1 = PC_FD(open("f", O_RDWR));
	fd2 = PC_FD(open("f", O_RDWR));
	f = lk(F_WRLCK, 0, 10);
	PC_RC(fcntl(fd1, F_OFD_SETLK, &f));
	f = lk(F_WRLCK, 5, 10);
	PC_RC(fcntl(fd2, F_OFD_SETLK, &f));
	lk_get(fd2, F_OFD_GETLK, F_WRLCK, 5, 10);
	f = lk(F_WRLCK, 5, 1);
	PC_RC(fcntl(fd2, F_SETLK, &f));
	f = lk(F_RDLCK, 20, 1);
	PC_RC(fcntl(fd2, F_SETLK, &f));
	f = lk(F_WRLCK, 20, 1);
	PC_RC(fcntl(fd1, F_OFD_SETLK, &f));
	fd3 = PC_FD(open("f", O_RDONLY));
	PC_RC(close(fd3));
	lk_get(fd2, F_OFD_GETLK, F_WRLCK, 0, 1);
	pc_join(pc_spawn(ofd_child, &fd1));
	f = lk(F_WRLCK, 50, 1);
	f.l_pid = 1;
	PC_RC(fcntl(fd1, F_OFD_SETLK, &f));
	PC_RC(close(fd1));
	f = lk(F_WRLCK, 0, 10);
	PC_RC(fcntl(fd2, F_OFD_SETLK, &f));
	close(fd2);
}

static void fl_child_nb(void *arg)
{
	int *fd = arg;
	int other = open("f", O_RDWR);

	PC_RC(flock(*fd, LOCK_EX | LOCK_NB));
	PC_RC(flock(other, LOCK_SH | LOCK_NB));
	close(other);
}

static void fl_child_wait(void *arg)
{
	int *p = arg;
	int fd;
	char c;

	/* Drop the inherited descriptions, or their flocks would outlive the
	 * parent's close. */
	for (int i = 3; i < 64; i++)
		if (i != p[1] && i != pc_trace_fd)
			close(i);
	fd = open("f", O_RDONLY);
	c = flock(fd, LOCK_EX) == 0 ? 'y' : 'n';

	if (write(p[1], &c, 1) != 1)
		_exit(1);
	close(fd);
}

/* flock(): exclusive vs shared between opens and processes, dup and fork
 * sharing, conversion, blocking wakeup, independence from fcntl locks. */
static void sc_flock(void)
{
	struct flock f;
	int fd1, fd2, fd3, dup1, p[2];
	char c;

	pc_puts("f", "flock");
	fd1 = PC_FD(open("f", O_RDWR));
	fd2 = PC_FD(open("f", O_RDWR));
	PC_RC(flock(fd1, LOCK_EX));
	PC_RC(flock(fd2, LOCK_EX | LOCK_NB));
	PC_RC(flock(fd2, LOCK_SH | LOCK_NB));
	dup1 = PC_FD(dup(fd1));
	PC_RC(flock(dup1, LOCK_EX | LOCK_NB));
	pc_join(pc_spawn(fl_child_nb, &fd1));
	f = lk(F_WRLCK, 0, 0);
	PC_RC(fcntl(fd2, F_SETLK, &f));
	PC_RC(flock(fd1, LOCK_SH));
	PC_RC(flock(fd2, LOCK_SH | LOCK_NB));
	fd3 = PC_FD(open("f", O_RDONLY));
	PC_RC(flock(fd3, LOCK_SH | LOCK_NB));
	PC_RC(flock(fd3, LOCK_EX | LOCK_NB));
	PC_RC(flock(fd1, LOCK_UN));
	PC_RC(flock(fd2, LOCK_UN));
	PC_RC(flock(fd3, LOCK_EX | LOCK_NB));
	if (pipe(p) < 0)
		return;
	pid_t w = pc_spawn(fl_child_wait, p);
	c = lk_poll(p[0], 300);
	PC_NOTE("waiter got flock before release = %c", c ? c : '-');
	PC_RC(close(fd3));
	c = lk_poll(p[0], 5000);
	PC_NOTE("waiter got flock after close = %c", c ? c : '-');
	pc_join(w);
	close(p[0]);
	close(p[1]);
	PC_RC(flock(fd1, 12345));
	PC_RC(flock(-1, LOCK_SH));
	close(dup1);
	close(fd1);
	close(fd2);
}

const struct pc_scenario pc_locks_scenarios[] = {
	{ "posix_locks", "fcntl record locks across processes", sc_posix_locks, false },
	{ "ofd_locks", "open file description locks", sc_ofd_locks, false },
	{ "flock", "flock across opens and processes", sc_flock, false },
	{ NULL, NULL, NULL, false },
};
