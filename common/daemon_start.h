/* Daemonizing that tells the terminal how start-up went, for shadowfs and
 * shadowd.
 *
 * libfuse's fuse_daemonize() (and daemon(3)) let the parent exit 0 as soon
 * as the child exists, so an error the child meets while it starts (a
 * corrupt series store, a state directory it cannot write, a thread it
 * cannot create) reached only syslog, and `mount`, fstab and scripts saw
 * success with nothing mounted. Here the parent waits: the child keeps the
 * terminal as stderr while it starts, so its error lines are seen there,
 * and then reports; the parent exits 0 once the child serves, 1 if it
 * failed or died.
 *
 *   fd = sfs_daemon_start("shadowfs", undo, arg); (forks; returns in the child only)
 *   ... start-up, errors logged to stderr ...
 *   sfs_daemon_ready(fd);                 (logging to syslog, stdio to /dev/null)
 *   or sfs_daemon_failed(fd);             (on the error path; accepts -1)
 *
 * Threads must be started after sfs_daemon_start (fork keeps only the
 * calling thread). */
#ifndef SHADOWFS_COMMON_DAEMON_START_H
#define SHADOWFS_COMMON_DAEMON_START_H

/* Forks. In the parent, waits for the child's report and exits with it;
 * in the child (new session, cwd /), returns the fd to report on. -errno
 * (in the only process) if the pipe or the fork failed. SIGINT, SIGTERM or
 * SIGHUP to the waiting parent abandon the start: undo(undo_arg) (NULL: none;
 * shadowfs unmounts), the child killed, exit 1, so that a start that hangs
 * can be interrupted. */
int sfs_daemon_start(const char *program, void (*undo)(void *), void *undo_arg);
/* The child serves: logging goes to syslog, stdin/stdout/stderr to
 * /dev/null, the parent exits 0. */
void sfs_daemon_ready(int fd);
/* The child failed (its error already logged to stderr): the parent exits
 * 1. Accepts fd < 0 (nothing to report: foreground). */
void sfs_daemon_failed(int fd);

#endif
