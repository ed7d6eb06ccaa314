/* pc_trace.h: the recording side of posix_compare.
 *
 * A scenario is a plain C function that runs once in each compared directory,
 * in its own child process whose cwd is that scenario's fresh subdirectory.
 * Everything observable it does is appended to a trace, one text line per
 * result ("[file:line] expression = value"). The driver then compares the two
 * traces line by line. So a scenario never decides what is right: the plain
 * directory is the reference, the mount must answer the same.
 *
 * Rules that keep traces comparable:
 * - only relative paths (cwd is the scenario directory);
 * - no fd numbers, inode numbers or absolute times in a trace: fds print as
 *   "fd", inode equality is recorded as yes/no, times are classified against
 *   the fixed values PC_T0/PC_T1 or as "now" (within the run's wall clock);
 * - user.shadow.* xattrs are reserved on the mount and never listed (see
 *   posix_compare.c for the separate check of that namespace).
 */
#ifndef PC_TRACE_H
#define PC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* Fixed timestamps scenarios set with utimensat and recognise in traces. */
#define PC_T0_SEC 1000000000LL
#define PC_T0_NSEC 123456789L
#define PC_T1_SEC 1100000000LL
#define PC_T1_NSEC 500000000L

/* Identities for the non-root scenarios: no accounts are created. */
#define PC_NOBODY 65534
#define PC_OTHER 1234 /* a second uid and gid with no passwd entry */

/* Where the trace goes: set by the driver in the scenario child. */
extern int pc_trace_fd;
/* Wall clock at the start of the run, for the "now" classification. */
extern time_t pc_run_start;

/* Record an arbitrary line. */
void pc_note(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record "expr = rc" or "expr = -1 ENAME"; returns rc with errno kept. */
long pc_rc(const char *file, int line, const char *expr, long rc);
/* Same for fd-returning calls: prints "fd" instead of the number. */
int pc_fd(const char *file, int line, const char *expr, int fd);
/* Same for calls returning an errno value directly (posix_fallocate). */
int pc_err(const char *file, int line, const char *expr, int err);

enum {
	PC_ST_NOFOLLOW = 1, /* lstat */
	PC_ST_BLOCKS = 2,   /* include st_blocks */
	PC_ST_TIMES = 4,    /* include classified atime/mtime/ctime */
	PC_ST_RDEV = 8,     /* include major/minor */
	PC_ST_NOSIZE = 16,  /* omit st_size (directories) */
};
void pc_stat(const char *file, int line, const char *path, int flags);
void pc_fstat(const char *file, int line, const char *what, int fd, int flags);
/* Sorted directory listing with d_type letters. */
void pc_ls(const char *file, int line, const char *path);
/* Size, FNV-1a hash and a printable prefix of a file's content. */
void pc_content(const char *file, int line, const char *path);
void pc_fdcontent(const char *file, int line, const char *what, int fd);
/* Sorted xattr names with values (user.shadow.* left out). */
void pc_xattrs(const char *file, int line, const char *path, bool nofollow);

#define PC_RC(expr) pc_rc(__FILE__, __LINE__, #expr, (long)(expr))
#define PC_FD(expr) pc_fd(__FILE__, __LINE__, #expr, (int)(expr))
#define PC_ERR(expr) pc_err(__FILE__, __LINE__, #expr, (int)(expr))
#define PC_NOTE(...) pc_note(__FILE__, __LINE__, __VA_ARGS__)
#define PC_STAT(path, flags) pc_stat(__FILE__, __LINE__, path, flags)
#define PC_FSTAT(fd, flags) pc_fstat(__FILE__, __LINE__, #fd, fd, flags)
#define PC_LS(path) pc_ls(__FILE__, __LINE__, path)
#define PC_CONTENT(path) pc_content(__FILE__, __LINE__, path)
#define PC_FDCONTENT(fd) pc_fdcontent(__FILE__, __LINE__, #fd, fd)
#define PC_XATTRS(path) pc_xattrs(__FILE__, __LINE__, path, false)
#define PC_LXATTRS(path) pc_xattrs(__FILE__, __LINE__, path, true)
/* Open (recorded like PC_FD) and close again at once. */
#define PC_OPEN_CLOSE(...)                               \
	do {                                             \
		int pc_oc_fd = PC_FD(open(__VA_ARGS__)); \
		if (pc_oc_fd >= 0)                       \
			close(pc_oc_fd);                 \
	} while (0)
/* Record whether two paths name the same inode (lstat). */
#define PC_SAMEINO(a, b) pc_sameino(__FILE__, __LINE__, a, b)
void pc_sameino(const char *file, int line, const char *a, const char *b);

/* Setup helpers: each records one line (ok or the errno). */
void pc_put(const char *path, const void *data, size_t len, mode_t mode);
void pc_puts(const char *path, const char *text);
/* Set atime=T0, mtime=T0 (recorded). */
void pc_settimes_t0(const char *path);
/* ctime of path (lstat), or {0,0} when it fails. */
struct timespec pc_ctime(const char *path);
/* Sleep long enough that the next timestamp differs from the last one. */
void pc_tick(void);
/* Record whether path's ctime moved forward since before. */
#define PC_CTIME_ADVANCED(path, before) pc_ctime_advanced(__FILE__, __LINE__, path, before)
void pc_ctime_advanced(const char *file, int line, const char *path, struct timespec before);

/* Switch credentials of the scenario process, keeping root as the saved
 * uid so pc_as_root() can come back. access() checks the real uid, FUSE sees
 * the fs uid: both follow. groups may be NULL when ngroups is 0. */
void pc_as_user(uid_t uid, gid_t gid, int ngroups, const gid_t *groups);
void pc_as_root(void);

/* Fork a helper process running fn(arg); it may record into the trace while
 * the caller waits. pc_join records only an abnormal exit. */
pid_t pc_spawn(void (*fn)(void *), void *arg);
void pc_join(pid_t pid);

/* Deterministic fill pattern. */
void pc_pattern(void *buf, size_t len, unsigned seed);

#endif
