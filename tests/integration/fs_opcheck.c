/* fs_opcheck DIR [locks|native]: exercises every passthrough operation of shadowfs
 * inside DIR (a directory on the mount) and checks each result against what
 * Linux gives natively. Prints "ok NAME" or "FAIL NAME: why" per check;
 * exit status 1 if any check failed. With "locks", also checks POSIX record
 * locks between two processes (run it on a mount with -o locks=backing and
 * with the default kernel locks). Used by fs_smoke.sh. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int failures;
static int dfd;
static bool native; /* checking a plain directory: no reserved xattrs */

static void check(bool ok, const char *name, const char *fmt, ...)
{
	if (ok) {
		printf("ok %s\n", name);
		return;
	}
	va_list ap;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	failures++;
}

static int put(const char *name, const char *data, int flags)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | flags, 0644);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static ssize_t get(const char *name, char *buf, size_t len)
{
	int fd = openat(dfd, name, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static void check_files(void)
{
	char buf[256];
	struct stat st = {0};
	check(put("f", "hello", O_EXCL) == 0, "create", "create f");
	check(get("f", buf, sizeof(buf)) == 5 && strcmp(buf, "hello") == 0, "read", "got '%s'", buf);
	check(put("f", "HE", 0) == 0 && get("f", buf, sizeof(buf)) == 5 &&
		      strcmp(buf, "HEllo") == 0,
	      "write-overwrite", "got '%s'", buf);
	check(put("f", "!", O_APPEND) == 0 && get("f", buf, sizeof(buf)) == 6 &&
		      strcmp(buf, "HEllo!") == 0,
	      "write-append", "got '%s'", buf);
	check(put("f", "x", O_TRUNC) == 0 && get("f", buf, sizeof(buf)) == 1, "open-trunc",
	      "size after O_TRUNC");
	errno = 0;
	check(openat(dfd, "f", O_WRONLY | O_CREAT | O_EXCL, 0644) < 0 && errno == EEXIST,
	      "create-excl", "O_EXCL on existing file");
	errno = 0;
	check(openat(dfd, "missing", O_RDONLY) < 0 && errno == ENOENT, "lookup-enoent",
	      "missing file");
	check(fstatat(dfd, "f", &st, 0) == 0 && S_ISREG(st.st_mode) && st.st_size == 1 &&
		      (st.st_mode & 07777) == 0644,
	      "getattr", "mode %o size %lld", st.st_mode, (long long)st.st_size);
	int fd = openat(dfd, "f", O_RDWR);
	check(fd >= 0 && fsync(fd) == 0 && fdatasync(fd) == 0, "fsync", "fsync");
	check(fd >= 0 && ftruncate(fd, 10000) == 0 && fstat(fd, &st) == 0 && st.st_size == 10000,
	      "setattr-size-fd", "size %lld", (long long)st.st_size);
	check(fd >= 0 && close(fd) == 0, "flush-release", "close");
}

static void check_setattr(void)
{
	struct stat st = {0};
	check(fchmodat(dfd, "f", 0600, 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 &&
		      (st.st_mode & 07777) == 0600,
	      "setattr-mode", "mode %o", st.st_mode & 07777);
	check(fchownat(dfd, "f", 12345, 23456, 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 &&
		      st.st_uid == 12345 && st.st_gid == 23456,
	      "setattr-owner", "owner %u:%u", st.st_uid, st.st_gid);
	int fd = openat(dfd, "f", O_WRONLY);
	check(fd >= 0 && ftruncate(fd, 4096) == 0, "setattr-size", "ftruncate");
	if (fd >= 0)
		close(fd);
	struct timespec ts[2] = {{.tv_sec = 1000000000, .tv_nsec = 5}, {.tv_sec = 1100000000, .tv_nsec = 7}};
	check(utimensat(dfd, "f", ts, 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 &&
		      st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec == 1100000000 &&
		      st.st_mtim.tv_nsec == 7,
	      "setattr-times", "atime %ld mtime %ld.%ld", (long)st.st_atim.tv_sec,
	      (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	struct timespec omit_now[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_NOW}};
	time_t now = time(NULL);
	check(utimensat(dfd, "f", omit_now, 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 &&
		      st.st_atim.tv_sec == 1000000000 && st.st_mtim.tv_sec >= now - 5,
	      "setattr-utime-omit-now", "atime %ld mtime %ld", (long)st.st_atim.tv_sec,
	      (long)st.st_mtim.tv_sec);
	check(fchownat(dfd, "f", 0, 0, 0) == 0, "setattr-owner-back", "chown back");
}

static void check_names(void)
{
	struct stat st = {0}, st2 = {0};
	char buf[256];
	check(mkdirat(dfd, "d", 0755) == 0 && fstatat(dfd, "d", &st, 0) == 0 && S_ISDIR(st.st_mode),
	      "mkdir", "mkdir d");
	check(symlinkat("f", dfd, "sl") == 0, "symlink", "symlink");
	ssize_t n = readlinkat(dfd, "sl", buf, sizeof(buf));
	check(n == 1 && buf[0] == 'f', "readlink", "readlink gave %zd", n);
	check(fstatat(dfd, "sl", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode), "lstat-symlink",
	      "mode %o", st.st_mode);
	check(mknodat(dfd, "fifo", S_IFIFO | 0644, 0) == 0 && fstatat(dfd, "fifo", &st, 0) == 0 &&
		      S_ISFIFO(st.st_mode),
	      "mknod-fifo", "mode %o", st.st_mode);
	check(mknodat(dfd, "chr", S_IFCHR | 0600, makedev(1, 3)) == 0 &&
		      fstatat(dfd, "chr", &st, 0) == 0 && S_ISCHR(st.st_mode) &&
		      st.st_rdev == makedev(1, 3),
	      "mknod-chr", "mode %o", st.st_mode);
	check(linkat(dfd, "f", dfd, "hard", 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 &&
		      fstatat(dfd, "hard", &st2, 0) == 0 && st.st_nlink == 2 &&
		      st.st_ino == st2.st_ino,
	      "link", "nlink %lu", (unsigned long)st.st_nlink);
	check(unlinkat(dfd, "hard", 0) == 0 && fstatat(dfd, "f", &st, 0) == 0 && st.st_nlink == 1,
	      "unlink", "nlink %lu", (unsigned long)st.st_nlink);
	errno = 0;
	check(unlinkat(dfd, "d", 0) < 0 && errno == EISDIR, "unlink-dir", "unlink of a dir");
	check(put("d/inner", "in", 0) == 0, "create-in-subdir", "");
	errno = 0;
	check(unlinkat(dfd, "d", AT_REMOVEDIR) < 0 && errno == ENOTEMPTY, "rmdir-notempty", "");
	check(renameat(dfd, "d/inner", dfd, "moved") == 0 && get("moved", buf, sizeof(buf)) == 2,
	      "rename", "");
	check(unlinkat(dfd, "d", AT_REMOVEDIR) == 0, "rmdir", "");
	check(put("a", "A", 0) == 0 && put("b", "B", 0) == 0, "setup-exchange", "");
	errno = 0;
	check(renameat2(dfd, "a", dfd, "b", RENAME_NOREPLACE) < 0 && errno == EEXIST,
	      "rename-noreplace-exists", "");
	check(renameat2(dfd, "a", dfd, "c", RENAME_NOREPLACE) == 0 && get("c", buf, sizeof(buf)) == 1 &&
		      buf[0] == 'A',
	      "rename-noreplace", "");
	check(renameat2(dfd, "b", dfd, "c", RENAME_EXCHANGE) == 0 && get("c", buf, sizeof(buf)) == 1 &&
		      buf[0] == 'B' && get("b", buf, sizeof(buf)) == 1 && buf[0] == 'A',
	      "rename-exchange", "");
	check(renameat(dfd, "b", dfd, "c") == 0 && fstatat(dfd, "b", &st, 0) < 0 &&
		      get("c", buf, sizeof(buf)) == 1 && buf[0] == 'A',
	      "rename-replace", "");
}

static void check_dirs(void)
{
	int n = 0;
	bool dot = false, dotdot = false, sawf = false;
	for (int k = 0; k < 300; k++) {
		char name[32];
		snprintf(name, sizeof(name), "many/e%03d", k);
		if (k == 0)
			check(mkdirat(dfd, "many", 0755) == 0, "mkdir-many", "");
		if (put(name, "", 0) < 0)
			check(false, "create-many", "%s", name);
	}
	DIR *d = fdopendir(openat(dfd, "many", O_RDONLY | O_DIRECTORY));
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0)
			dot = true;
		else if (strcmp(e->d_name, "..") == 0)
			dotdot = true;
		else
			n++;
	}
	check(d && n == 300 && dot && dotdot, "readdir", "%d entries", n);
	if (d) {
		rewinddir(d);
		int again = 0;
		while ((e = readdir(d)))
			again++;
		check(again == 302, "readdir-rewind", "%d entries", again);
		check(fsync(dirfd(d)) == 0, "fsyncdir", "");
		/* setattr through a directory fd (with a handle or not, per kernel) */
		struct timespec ts[2] = {{.tv_sec = 1200000000}, {.tv_sec = 1300000000}};
		struct stat st;
		check(futimens(dirfd(d), ts) == 0 && fchmod(dirfd(d), 0750) == 0 &&
			      fstat(dirfd(d), &st) == 0 && st.st_mtim.tv_sec == 1300000000 &&
			      (st.st_mode & 07777) == 0750,
		      "setattr-dir-fd", "mtime %ld mode %o", (long)st.st_mtim.tv_sec, st.st_mode);
		closedir(d);
	}
	d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY));
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, "f") == 0 && e->d_type == DT_REG)
			sawf = true;
	check(sawf, "readdir-type", "f with DT_REG");
	if (d)
		closedir(d);
}

static void check_misc(void)
{
	struct statvfs sv;
	check(fstatvfs(dfd, &sv) == 0 && sv.f_blocks > 0 && sv.f_bsize > 0, "statfs", "");
	check(faccessat(dfd, "f", R_OK | W_OK, 0) == 0, "access", "");
	errno = 0;
	check(faccessat(dfd, "f", X_OK, 0) < 0 && errno == EACCES, "access-x-denied",
	      "f has no x bit");
}

static void check_xattrs(void)
{
	char buf[256];
	check(setxattr("f", "user.color", "blue", 4, 0) == 0, "setxattr", "");
	ssize_t n = getxattr("f", "user.color", buf, sizeof(buf));
	check(n == 4 && memcmp(buf, "blue", 4) == 0, "getxattr", "got %zd", n);
	check(getxattr("f", "user.color", NULL, 0) == 4, "getxattr-size", "");
	errno = 0;
	check(getxattr("f", "user.color", buf, 2) < 0 && errno == ERANGE, "getxattr-erange", "");
	errno = 0;
	check(setxattr("f", "user.color", "red", 3, XATTR_CREATE) < 0 && errno == EEXIST,
	      "setxattr-create-exists", "");
	if (!native) {
		errno = 0;
		check(setxattr("f", "user.shadow.pin", "1", 1, 0) < 0 && errno == EINVAL,
		      "setxattr-shadow-reserved", "");
		errno = 0;
		check(getxattr("f", "user.shadow.pin", buf, sizeof(buf)) < 0 && errno == ENODATA,
		      "getxattr-shadow-reserved", "");
		/* Set behind the mount's back: must stay invisible. */
		check(setxattr(getenv("OPCHECK_BACKING_F") ? getenv("OPCHECK_BACKING_F") : "f",
			       "user.shadow.hidden", "1", 1, 0) == 0 ||
			      !getenv("OPCHECK_BACKING_F"),
		      "setxattr-backing", "");
		errno = 0;
		check(!getenv("OPCHECK_BACKING_F") ||
			      (getxattr("f", "user.shadow.hidden", buf, sizeof(buf)) < 0 &&
			       errno == ENODATA),
		      "getxattr-shadow-not-passed", "");
	}
	n = listxattr("f", buf, sizeof(buf));
	bool has_color = false, has_shadow = false;
	for (ssize_t k = 0; n > 0 && k < n; k += (ssize_t)strlen(buf + k) + 1) {
		if (strcmp(buf + k, "user.color") == 0)
			has_color = true;
		if (strncmp(buf + k, "user.shadow.", 12) == 0)
			has_shadow = true;
	}
	check(has_color && !has_shadow && listxattr("f", NULL, 0) == n, "listxattr",
	      "n=%zd color=%d shadow=%d", n, has_color, has_shadow);
	check(setxattr("f", "trusted.t", "v", 1, 0) == 0 &&
		      getxattr("f", "trusted.t", buf, sizeof(buf)) == 1,
	      "xattr-trusted", "");
	check(removexattr("f", "user.color") == 0, "removexattr", "");
	errno = 0;
	check(getxattr("f", "user.color", buf, sizeof(buf)) < 0 && errno == ENODATA,
	      "removexattr-gone", "");
}

static void check_ranges(void)
{
	int fd = openat(dfd, "sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	char block[4096];
	memset(block, 'z', sizeof(block));
	check(fd >= 0 && pwrite(fd, block, sizeof(block), 1 << 20) == sizeof(block), "sparse-write",
	      "");
	/* With the writeback cache, SEEK_DATA/SEEK_HOLE see written-back data. */
	check(fsync(fd) == 0, "fsync-sparse", "");
	off_t data = lseek(fd, 0, SEEK_DATA);
	off_t hole = lseek(fd, 0, SEEK_HOLE);
	check(data == 1 << 20 && hole == 0, "lseek-data-hole", "data %lld hole %lld",
	      (long long)data, (long long)hole);
	check(fallocate(fd, 0, 0, 8192) == 0, "fallocate", "");
	check(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 4096) == 0 &&
		      pread(fd, block, 16, 1 << 20) == 16 && block[0] == 0,
	      "fallocate-punch", "");
	memset(block, 'q', sizeof(block));
	check(pwrite(fd, block, sizeof(block), 0) == sizeof(block), "pwrite", "");
	int out = openat(dfd, "copy", O_RDWR | O_CREAT | O_TRUNC, 0644);
	loff_t in_off = 0, out_off = 0;
	ssize_t n = copy_file_range(fd, &in_off, out, &out_off, 4096, 0);
	char got[16] = {0};
	check(out >= 0 && n == 4096 && pread(out, got, 4, 0) == 4 && memcmp(got, "qqqq", 4) == 0,
	      "copy_file_range", "copied %zd", n);
	check(flock(fd, LOCK_EX | LOCK_NB) == 0, "flock", "");
	int other = openat(dfd, "sparse", O_RDONLY);
	errno = 0;
	check(other >= 0 && flock(other, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK,
	      "flock-conflict", "");
	check(flock(fd, LOCK_UN) == 0 && flock(other, LOCK_SH | LOCK_NB) == 0, "flock-unlock", "");
	if (other >= 0)
		close(other);
	if (out >= 0)
		close(out);
	if (fd >= 0)
		close(fd);
}

static void check_direct(void)
{
	void *buf = NULL;
	if (posix_memalign(&buf, 4096, 65536) != 0 || !buf) {
		check(false, "odirect-alloc", "");
		return;
	}
	memset(buf, 'd', 65536);
	int fd = openat(dfd, "direct", O_RDWR | O_CREAT | O_DIRECT, 0644);
	check(fd >= 0, "odirect-open", "");
	check(fd >= 0 && pwrite(fd, buf, 65536, 0) == 65536, "odirect-write", "");
	memset(buf, 0, 65536);
	check(fd >= 0 && pread(fd, buf, 4096, 8192) == 4096 && ((char *)buf)[4095] == 'd',
	      "odirect-read", "");
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* A child holds a write lock; the parent must see it and fail to lock. */
static void check_posix_locks(void)
{
	int fd = openat(dfd, "lockf", O_RDWR | O_CREAT, 0644);
	int ready[2], done[2];
	if (fd < 0 || pipe(ready) < 0 || pipe(done) < 0) {
		check(false, "posix-lock-setup", "");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* Its own open: with -o locks=backing, locks belong to opens. */
		int cfd = openat(dfd, "lockf", O_RDWR);
		struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
		char c = cfd >= 0 && fcntl(cfd, F_SETLK, &l) == 0 ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char c = 0;
	if (read(ready[0], &c, 1) != 1)
		c = 0;
	check(c == 'y', "posix-setlk", "child could not lock");
	struct flock l = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	check(fcntl(fd, F_GETLK, &l) == 0 && l.l_type == F_WRLCK, "posix-getlk",
	      "type %d", l.l_type);
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
	errno = 0;
	check(fcntl(fd, F_SETLK, &l) < 0 && (errno == EAGAIN || errno == EACCES),
	      "posix-setlk-conflict", "");
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 5};
	check(fcntl(fd, F_SETLK, &l) == 0, "posix-setlk-disjoint", "");
	if (write(done[1], "x", 1) != 1)
		check(false, "posix-lock-pipe", "");
	waitpid(pid, NULL, 0);
	l = (struct flock){.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
	check(fcntl(fd, F_SETLKW, &l) == 0, "posix-setlkw-after-exit", "");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: fs_opcheck DIR [locks|native]\n");
		return 2;
	}
	if (chdir(argv[1]) < 0) {
		perror(argv[1]);
		return 2;
	}
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	native = argc > 2 && strcmp(argv[2], "native") == 0;
	if (argc > 2 && strcmp(argv[2], "locks") == 0) {
		check_posix_locks();
	} else {
		check_files();
		check_setattr();
		check_names();
		check_dirs();
		check_misc();
		check_xattrs();
		check_ranges();
		check_direct();
		check_posix_locks();
	}
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
