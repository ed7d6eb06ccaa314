/* pc_trace.c: records scenario results as comparable text lines (see
 * pc_trace.h for the rules that keep the two traces comparable). */
#include "pc_trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

int pc_trace_fd = -1;
time_t pc_run_start;

static const char *pc_errname(int e)
{
	static char buf[16];
	const char *n = strerrorname_np(e);

	if (n)
		return n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

static void pc_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(pc_trace_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(99);
		buf += n;
		len -= (size_t)n;
	}
}

static void pc_vnote(const char *file, int line, const char *fmt, va_list ap)
{
	char buf[16384];
	const char *base = strrchr(file, '/');
	int n, m;

	n = snprintf(buf, sizeof(buf), "[%s:%d] ", base ? base + 1 : file, line);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	pc_write_all(buf, (size_t)n);
}

void pc_note(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	pc_vnote(file, line, fmt, ap);
	va_end(ap);
	errno = e;
}

long pc_rc(const char *file, int line, const char *expr, long rc)
{
	int e = errno;

	if (rc < 0)
		pc_note(file, line, "%s = -1 %s", expr, pc_errname(e));
	else
		pc_note(file, line, "%s = %ld", expr, rc);
	errno = e;
	return rc;
}

int pc_fd(const char *file, int line, const char *expr, int fd)
{
	int e = errno;

	if (fd < 0)
		pc_note(file, line, "%s = -1 %s", expr, pc_errname(e));
	else
		pc_note(file, line, "%s = fd", expr);
	errno = e;
	return fd;
}

int pc_err(const char *file, int line, const char *expr, int err)
{
	pc_note(file, line, "%s = %s", expr, err ? pc_errname(err) : "0");
	return err;
}

/* Escape bytes so a value is one printable token. */
static void pc_escape(char *out, size_t outsz, const unsigned char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < outsz; i++) {
		unsigned char c = s[i];

		if (c >= 0x21 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static void pc_fmt_time(char *out, size_t n, const struct timespec *t)
{
	time_t now = time(NULL);

	if (t->tv_sec == PC_T0_SEC && t->tv_nsec == PC_T0_NSEC)
		snprintf(out, n, "T0");
	else if (t->tv_sec == PC_T1_SEC && t->tv_nsec == PC_T1_NSEC)
		snprintf(out, n, "T1");
	else if (t->tv_sec >= pc_run_start - 5 && t->tv_sec <= now + 5)
		snprintf(out, n, "now");
	else
		snprintf(out, n, "%lld.%09ld", (long long)t->tv_sec, t->tv_nsec);
}

static const char *pc_type(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	default: return "?";
	}
}

static void pc_fmt_stat(char *out, size_t n, const struct stat *st, int flags)
{
	size_t o = 0;

	o += (size_t)snprintf(out + o, n - o, "%s mode=%04o nlink=%lu uid=%u gid=%u",
			      pc_type(st->st_mode), (unsigned)(st->st_mode & 07777),
			      (unsigned long)st->st_nlink, st->st_uid, st->st_gid);
	if (!(flags & PC_ST_NOSIZE))
		o += (size_t)snprintf(out + o, n - o, " size=%lld", (long long)st->st_size);
	if (flags & PC_ST_BLOCKS)
		o += (size_t)snprintf(out + o, n - o, " blocks=%lld", (long long)st->st_blocks);
	if (flags & PC_ST_RDEV)
		o += (size_t)snprintf(out + o, n - o, " rdev=%u:%u", major(st->st_rdev),
				      minor(st->st_rdev));
	if (flags & PC_ST_TIMES) {
		char a[40], m[40], c[40];

		pc_fmt_time(a, sizeof(a), &st->st_atim);
		pc_fmt_time(m, sizeof(m), &st->st_mtim);
		pc_fmt_time(c, sizeof(c), &st->st_ctim);
		snprintf(out + o, n - o, " atime=%s mtime=%s ctime=%s", a, m, c);
	}
}

void pc_stat(const char *file, int line, const char *path, int flags)
{
	struct stat st;
	char buf[512];
	int rc = (flags & PC_ST_NOFOLLOW) ? lstat(path, &st) : stat(path, &st);

	if (rc < 0) {
		pc_note(file, line, "%s(%s) = -1 %s", (flags & PC_ST_NOFOLLOW) ? "lstat" : "stat",
			path, pc_errname(errno));
		return;
	}
	pc_fmt_stat(buf, sizeof(buf), &st, flags);
	pc_note(file, line, "%s(%s) = %s", (flags & PC_ST_NOFOLLOW) ? "lstat" : "stat", path, buf);
}

void pc_fstat(const char *file, int line, const char *what, int fd, int flags)
{
	struct stat st;
	char buf[512];

	if (fstat(fd, &st) < 0) {
		pc_note(file, line, "fstat(%s) = -1 %s", what, pc_errname(errno));
		return;
	}
	pc_fmt_stat(buf, sizeof(buf), &st, flags);
	pc_note(file, line, "fstat(%s) = %s", what, buf);
}

void pc_sameino(const char *file, int line, const char *a, const char *b)
{
	struct stat sa, sb;

	if (lstat(a, &sa) < 0 || lstat(b, &sb) < 0) {
		pc_note(file, line, "same inode(%s, %s) = -1 %s", a, b, pc_errname(errno));
		return;
	}
	pc_note(file, line, "same inode(%s, %s) = %s", a, b,
		sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev ? "yes" : "no");
}

static int pc_cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void pc_ls(const char *file, int line, const char *path)
{
	DIR *d = opendir(path);
	char **names = NULL, *out = NULL;
	size_t n = 0, cap = 0, outlen = 0;
	struct dirent *de;

	if (!d) {
		pc_note(file, line, "ls(%s) = -1 %s", path, pc_errname(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char esc[1100];
		char t;

		switch (de->d_type) {
		case DT_REG: t = 'f'; break;
		case DT_DIR: t = 'd'; break;
		case DT_LNK: t = 'l'; break;
		case DT_FIFO: t = 'p'; break;
		case DT_SOCK: t = 's'; break;
		case DT_CHR: t = 'c'; break;
		case DT_BLK: t = 'b'; break;
		case DT_UNKNOWN: t = 'u'; break;
		default: t = '?'; break;
		}
		pc_escape(esc, sizeof(esc), (const unsigned char *)de->d_name, strlen(de->d_name));
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				abort();
		}
		if (asprintf(&names[n++], "%s/%c", esc, t) < 0)
			abort();
	}
	closedir(d);
	qsort(names, n, sizeof(*names), pc_cmpstr);
	for (size_t i = 0; i < n; i++)
		outlen += strlen(names[i]) + 1;
	out = calloc(1, outlen + 1);
	if (!out)
		abort();
	for (size_t i = 0; i < n; i++) {
		strcat(out, names[i]);
		if (i + 1 < n)
			strcat(out, " ");
		free(names[i]);
	}
	free(names);
	pc_note(file, line, "ls(%s) = [%zu] %s", path, n, out);
	free(out);
}

static uint64_t pc_fnv(const unsigned char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void pc_fdcontent(const char *file, int line, const char *what, int fd)
{
	unsigned char buf[65536], head[24];
	uint64_t h = 1469598103934665603ULL;
	size_t headlen = 0;
	off_t off = 0;
	char esc[128];

	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);

		if (n < 0) {
			pc_note(file, line, "content(%s) = -1 %s", what, pc_errname(errno));
			return;
		}
		if (n == 0)
			break;
		if (headlen < sizeof(head)) {
			size_t k = sizeof(head) - headlen < (size_t)n ? sizeof(head) - headlen : (size_t)n;

			memcpy(head + headlen, buf, k);
			headlen += k;
		}
		h = pc_fnv(buf, (size_t)n, h);
		off += n;
	}
	pc_escape(esc, sizeof(esc), head, headlen);
	pc_note(file, line, "content(%s) = size=%lld fnv=%016llx head=%s", what, (long long)off,
		(unsigned long long)h, esc);
}

void pc_content(const char *file, int line, const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		pc_note(file, line, "content(%s) = -1 %s", path, pc_errname(errno));
		return;
	}
	pc_fdcontent(file, line, path, fd);
	close(fd);
}

void pc_xattrs(const char *file, int line, const char *path, bool nofollow)
{
	char list[65536], *names[512], out[16384];
	ssize_t len = nofollow ? llistxattr(path, list, sizeof(list))
			       : listxattr(path, list, sizeof(list));
	size_t n = 0, o = 0;

	if (len < 0) {
		pc_note(file, line, "xattrs(%s) = -1 %s", path, pc_errname(errno));
		return;
	}
	for (char *p = list; p < list + len && n < 512; p += strlen(p) + 1) {
		if (strncmp(p, "user.shadow.", 12) == 0)
			continue; /* reserved on the mount, checked separately */
		names[n++] = p;
	}
	qsort(names, n, sizeof(*names), pc_cmpstr);
	out[0] = '\0';
	for (size_t i = 0; i < n && o < sizeof(out) - 200; i++) {
		unsigned char val[4096];
		char esc[300];
		ssize_t vl = nofollow ? lgetxattr(path, names[i], val, sizeof(val))
				      : getxattr(path, names[i], val, sizeof(val));

		if (vl < 0)
			snprintf(esc, sizeof(esc), "<%s>", pc_errname(errno));
		else
			pc_escape(esc, sizeof(esc), val, vl > 64 ? 64 : (size_t)vl);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s=%s(%zd)", i ? " " : "",
				      names[i], esc, vl);
	}
	pc_note(file, line, "xattrs(%s) = [%zu] %s", path, n, out);
}

void pc_put(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	int e;

	if (fd < 0) {
		pc_note(__FILE__, __LINE__, "put(%s) = -1 %s", path, pc_errname(errno));
		return;
	}
	if (write(fd, data, len) != (ssize_t)len) {
		e = errno;
		close(fd);
		pc_note(__FILE__, __LINE__, "put(%s) write = -1 %s", path, pc_errname(e));
		return;
	}
	close(fd);
	pc_note(__FILE__, __LINE__, "put(%s, %zu bytes) = ok", path, len);
}

void pc_puts(const char *path, const char *text)
{
	pc_put(path, text, strlen(text), 0644);
}

void pc_settimes_t0(const char *path)
{
	struct timespec ts[2] = { { PC_T0_SEC, PC_T0_NSEC }, { PC_T0_SEC, PC_T0_NSEC } };

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		pc_note(__FILE__, __LINE__, "set times T0 on %s = -1 %s", path, pc_errname(errno));
	else
		pc_note(__FILE__, __LINE__, "set times T0 on %s = 0", path);
}

struct timespec pc_ctime(const char *path)
{
	struct stat st;
	struct timespec z = { 0, 0 };

	if (lstat(path, &st) < 0)
		return z;
	return st.st_ctim;
}

void pc_tick(void)
{
	/* Kernel timestamps may be jiffy-coarse: sleep over several jiffies. */
	struct timespec d = { 0, 25 * 1000 * 1000 };

	nanosleep(&d, NULL);
}

void pc_ctime_advanced(const char *file, int line, const char *path, struct timespec before)
{
	struct timespec now = pc_ctime(path);
	bool adv = now.tv_sec > before.tv_sec ||
		   (now.tv_sec == before.tv_sec && now.tv_nsec > before.tv_nsec);

	pc_note(file, line, "ctime of %s advanced = %s", path, adv ? "yes" : "no");
}

void pc_as_user(uid_t uid, gid_t gid, int ngroups, const gid_t *groups)
{
	if (setgroups((size_t)ngroups, groups) < 0 || setresgid(gid, gid, 0) < 0 ||
	    setresuid(uid, uid, 0) < 0) {
		pc_note(__FILE__, __LINE__, "pc_as_user(%u) = -1 %s", uid, pc_errname(errno));
		_exit(98);
	}
}

void pc_as_root(void)
{
	if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0) {
		pc_note(__FILE__, __LINE__, "pc_as_root = -1 %s", pc_errname(errno));
		_exit(98);
	}
}

pid_t pc_spawn(void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (pid < 0)
		pc_note(__FILE__, __LINE__, "fork = -1 %s", pc_errname(errno));
	return pid;
}

void pc_join(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			pc_note(__FILE__, __LINE__, "waitpid = -1 %s", pc_errname(errno));
			return;
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		pc_note(__FILE__, __LINE__, "helper process ended abnormally (status 0x%x)", st);
}

void pc_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = buf;
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}
