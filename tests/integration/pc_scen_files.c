/* pc_scen_files.c: posix_compare scenarios about regular files and special
 * nodes: creation and open flags, O_APPEND/O_TRUNC/O_EXCL/O_DIRECT, reads and
 * writes, truncate, hard links, symlinks, fifos and device nodes,
 * unlink-while-open, copy_file_range, mmap coherence and the sync calls. */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

/* Creation modes under several umasks; creat() and mknod(S_IFREG). */
static void sc_create_modes(void)
{
	int fd = PC_FD(open("f", O_CREAT | O_WRONLY, 0644));

	PC_RC(write(fd, "hello", 5));
	PC_FSTAT(fd, PC_ST_TIMES);
	PC_RC(close(fd));
	PC_STAT("f", PC_ST_TIMES);
	PC_CONTENT("f");
	PC_OPEN_CLOSE("m777", O_CREAT | O_WRONLY, 0777);
	PC_STAT("m777", 0);
	umask(0);
	PC_OPEN_CLOSE("u0", O_CREAT | O_WRONLY, 0777);
	PC_STAT("u0", 0);
	umask(077);
	PC_OPEN_CLOSE("u77", O_CREAT | O_WRONLY, 0777);
	PC_STAT("u77", 0);
	PC_RC(mkdir("d77", 0777));
	PC_STAT("d77", PC_ST_NOSIZE);
	umask(022);
	fd = PC_FD(creat("c", 0600));
	PC_RC(write(fd, "x", 1));
	close(fd);
	PC_STAT("c", 0);
	PC_RC(mknod("r", S_IFREG | 0640, 0));
	PC_STAT("r", 0);
	PC_RC(mknod("r", S_IFREG | 0640, 0));
	PC_OPEN_CLOSE("s", O_CREAT | O_WRONLY, 07777);
	PC_STAT("s", 0);
	PC_LS(".");
}

/* Open flag corner cases: O_EXCL, O_NOFOLLOW, O_DIRECTORY, trailing slashes,
 * dangling symlinks, name length limits. */
static void sc_open_flags(void)
{
	char name[300];
	int fd;

	pc_puts("f", "data");
	PC_RC(mkdir("d", 0755));
	PC_RC(symlink("f", "lf"));
	PC_RC(symlink("missing", "dangle"));
	PC_FD(open("f", O_CREAT | O_EXCL | O_WRONLY, 0644));
	PC_OPEN_CLOSE("new", O_CREAT | O_EXCL | O_WRONLY, 0644);
	PC_FD(open("dangle", O_CREAT | O_EXCL | O_WRONLY, 0644));
	PC_STAT("missing", 0);
	PC_OPEN_CLOSE("dangle", O_CREAT | O_WRONLY, 0600);
	PC_STAT("missing", 0);
	PC_FD(open("lf", O_RDONLY | O_NOFOLLOW));
	fd = PC_FD(open("lf", O_PATH | O_NOFOLLOW));
	PC_FSTAT(fd, PC_ST_NOFOLLOW);
	close(fd);
	PC_FD(open("f", O_RDONLY | O_DIRECTORY));
	PC_FD(open("d", O_WRONLY));
	PC_FD(open("d", O_RDWR));
	PC_OPEN_CLOSE("d", O_RDONLY);
	PC_OPEN_CLOSE("d/", O_RDONLY | O_DIRECTORY);
	PC_FD(open("nope", O_RDONLY));
	PC_FD(open("nodir/x", O_RDONLY));
	PC_FD(open("nodir/x", O_CREAT | O_WRONLY, 0644));
	PC_FD(open("f/", O_RDONLY));
	PC_FD(open("f/x", O_RDONLY));
	PC_FD(open("newdir/", O_CREAT | O_WRONLY, 0644));
	PC_FD(open("cd", O_CREAT | O_DIRECTORY | O_RDONLY, 0644));
	PC_STAT("cd", 0);
	memset(name, 'n', 255);
	name[255] = '\0';
	PC_OPEN_CLOSE(name, O_CREAT | O_WRONLY, 0644);
	PC_STAT(name, 0);
	PC_RC(unlink(name));
	name[255] = 'n';
	name[256] = '\0';
	PC_FD(open(name, O_CREAT | O_WRONLY, 0644));
	PC_RC(mkdir(name, 0755));
	PC_FD(open("", O_RDONLY));
	PC_OPEN_CLOSE(".", O_RDONLY);
	PC_LS(".");
}

/* O_TRUNC: size and times on open, including O_RDONLY|O_TRUNC and an
 * already empty file. */
static void sc_o_trunc(void)
{
	char buf[100];
	int fd;

	memset(buf, 'a', sizeof(buf));
	pc_put("f", buf, sizeof(buf), 0644);
	pc_settimes_t0("f");
	fd = PC_FD(open("f", O_WRONLY | O_TRUNC));
	PC_FSTAT(fd, PC_ST_TIMES);
	close(fd);
	PC_STAT("f", PC_ST_TIMES);
	pc_put("g", buf, sizeof(buf), 0644);
	fd = PC_FD(open("g", O_RDONLY | O_TRUNC));
	PC_FSTAT(fd, 0);
	PC_RC(read(fd, buf, sizeof(buf)));
	close(fd);
	PC_STAT("g", 0);
	pc_put("e", "", 0, 0644);
	pc_settimes_t0("e");
	PC_OPEN_CLOSE("e", O_WRONLY | O_TRUNC);
	PC_STAT("e", PC_ST_TIMES);
	fd = PC_FD(open("h", O_WRONLY | O_TRUNC | O_CREAT, 0644));
	PC_RC(write(fd, "xyz", 3));
	close(fd);
	fd = PC_FD(open("h", O_RDWR | O_TRUNC));
	PC_RC(write(fd, "q", 1));
	PC_RC(lseek(fd, 0, SEEK_CUR));
	close(fd);
	PC_CONTENT("h");
}

/* O_APPEND: writes land at EOF whatever the offset (pwrite too, on Linux),
 * two appenders interleave, and F_SETFL can turn O_APPEND on and off. */
static void sc_o_append(void)
{
	int fd, fd2;

	pc_puts("f", "abc");
	fd = PC_FD(open("f", O_WRONLY | O_APPEND));
	PC_RC(write(fd, "de", 2));
	PC_RC(lseek(fd, 0, SEEK_SET));
	PC_RC(write(fd, "fg", 2));
	PC_RC(pwrite(fd, "X", 1, 0));
	PC_RC(lseek(fd, 0, SEEK_CUR));
	fd2 = PC_FD(open("f", O_WRONLY));
	PC_RC(write(fd2, "12", 2));
	PC_RC(write(fd, "hi", 2));
	PC_RC(write(fd2, "34", 2));
	PC_CONTENT("f");
	PC_RC(fcntl(fd, F_SETFL, 0));
	PC_RC(fcntl(fd, F_GETFL) & O_APPEND);
	PC_RC(pwrite(fd, "Z", 1, 1));
	PC_RC(lseek(fd, 0, SEEK_SET));
	PC_RC(write(fd, "Y", 1));
	PC_CONTENT("f");
	PC_RC(fcntl(fd2, F_SETFL, O_APPEND));
	PC_RC(pwrite(fd2, "W", 1, 0));
	PC_CONTENT("f");
	close(fd);
	close(fd2);
	fd = PC_FD(open("g", O_RDWR | O_APPEND | O_CREAT, 0644));
	PC_RC(write(fd, "12345", 5));
	PC_RC(lseek(fd, 1, SEEK_SET));
	{
		char b[4] = { 0 };

		PC_RC(read(fd, b, 3));
		PC_NOTE("read = %s", b);
	}
	PC_RC(write(fd, "6", 1));
	PC_RC(ftruncate(fd, 2));
	PC_RC(write(fd, "7", 1));
	close(fd);
	PC_CONTENT("g");
	PC_STAT("g", 0);
}

/* Reads and writes: holes, EOF, bad fds, directories, large offsets, a
 * 1 MiB pattern round trip through two file descriptors.
 * Not compared: a write beyond the backing filesystem's maximum file size
 * (EFBIG natively). With the FUSE writeback cache the kernel accepts it into
 * the page cache (FUSE cannot tell the kernel a maximum file size) and the
 * error can only surface at writeback. */
static void sc_read_write(void)
{
	char b[64];
	unsigned char *big = malloc(1 << 20), *back = malloc(1 << 20);
	int fd, rfd, dfd;

	fd = PC_FD(open("f", O_RDWR | O_CREAT, 0644));
	PC_RC(pwrite(fd, "tail", 4, 10000));
	PC_RC(pread(fd, b, 8, 9998));
	PC_RC(memcmp(b, "\0\0tail", 6) == 0);
	PC_RC(pread(fd, b, 8, 10004));
	PC_RC(pread(fd, b, 8, 99999));
	PC_RC(lseek(fd, 0, SEEK_END));
	PC_RC(lseek(fd, -5, SEEK_SET));
	PC_RC(lseek(fd, 10, SEEK_END));
	PC_RC(write(fd, "!", 1));
	PC_FSTAT(fd, 0);
	rfd = PC_FD(open("f", O_RDONLY));
	PC_RC(write(rfd, "x", 1));
	close(rfd);
	rfd = PC_FD(open("f", O_WRONLY));
	PC_RC(read(rfd, b, 1));
	close(rfd);
	PC_RC(mkdir("d", 0755));
	dfd = PC_FD(open("d", O_RDONLY));
	PC_RC(read(dfd, b, 1));
	PC_RC(write(dfd, b, 1));
	close(dfd);
	PC_RC(write(-1, b, 1));
	pc_pattern(big, 1 << 20, 7);
	PC_RC(pwrite(fd, big, 1 << 20, 12345));
	rfd = PC_FD(open("f", O_RDONLY));
	PC_RC(pread(rfd, back, 1 << 20, 12345));
	PC_RC(memcmp(big, back, 1 << 20) == 0);
	close(rfd);
	PC_RC(pwrite(fd, "far", 3, 5LL << 30));
	PC_FSTAT(fd, 0);
	PC_RC(pread(fd, b, 3, 5LL << 30));
	PC_RC(pwrite(fd, "x", 1, -1));
	PC_RC(ftruncate(fd, 0));
	PC_RC(write(fd, b, 0));
	PC_FSTAT(fd, 0);
	close(fd);
	PC_CONTENT("f");
	free(big);
	free(back);
}

/* truncate/ftruncate: grow with zeros, shrink, errors, times.
 * Not compared: the times after truncate(path) to the current size (ext4
 * updates mtime, POSIX requires it only when the size changes; the FUSE
 * writeback cache keeps its own mtime then). */
static void sc_truncate(void)
{
	int fd;

	pc_puts("f", "0123456789");
	PC_RC(truncate("f", 5));
	PC_CONTENT("f");
	PC_RC(truncate("f", 10000));
	PC_CONTENT("f");
	PC_STAT("f", 0);
	PC_RC(truncate("f", -1));
	PC_RC(mkdir("d", 0755));
	PC_RC(truncate("d", 0));
	PC_RC(truncate("nope", 0));
	PC_RC(symlink("f", "l"));
	PC_RC(truncate("l", 3));
	PC_STAT("f", 0);
	PC_STAT("l", PC_ST_NOFOLLOW);
	fd = PC_FD(open("f", O_RDONLY));
	PC_RC(ftruncate(fd, 1));
	close(fd);
	fd = PC_FD(open("f", O_RDWR));
	pc_settimes_t0("f");
	PC_RC(ftruncate(fd, 3));
	PC_FSTAT(fd, PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(ftruncate(fd, 100));
	PC_FSTAT(fd, PC_ST_TIMES);
	PC_RC(write(fd, "w", 1));
	PC_RC(ftruncate(fd, 1));
	PC_RC(write(fd, "v", 1));
	PC_FSTAT(fd, 0);
	close(fd);
	PC_CONTENT("f");
	pc_settimes_t0("f");
	PC_RC(truncate("f", 7));
	PC_STAT("f", PC_ST_TIMES);
}

/* Hard links: counts, same inode, attribute coherence across names, errors,
 * linkat with and without AT_SYMLINK_FOLLOW. */
static void sc_hardlinks(void)
{
	int fd;

	pc_puts("f", "one");
	PC_RC(link("f", "g"));
	PC_STAT("f", 0);
	PC_STAT("g", 0);
	PC_SAMEINO("f", "g");
	PC_RC(link("f", "g"));
	PC_RC(link("nope", "h"));
	PC_RC(mkdir("d", 0755));
	PC_RC(link("d", "dl"));
	PC_RC(link("f", "d/f2"));
	PC_STAT("g", 0);
	PC_RC(chmod("f", 0600));
	PC_STAT("g", 0);
	PC_STAT("d/f2", 0);
	fd = PC_FD(open("g", O_WRONLY | O_APPEND));
	PC_RC(write(fd, "two", 3));
	close(fd);
	PC_CONTENT("d/f2");
	PC_STAT("f", 0);
	PC_RC(unlink("g"));
	PC_STAT("f", 0);
	PC_STAT("d/f2", 0);
	PC_RC(symlink("f", "sl"));
	PC_RC(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl_nofollow", 0));
	PC_STAT("sl_nofollow", PC_ST_NOFOLLOW);
	PC_SAMEINO("sl", "sl_nofollow");
	PC_RC(linkat(AT_FDCWD, "sl", AT_FDCWD, "sl_follow", AT_SYMLINK_FOLLOW));
	PC_STAT("sl_follow", PC_ST_NOFOLLOW);
	PC_SAMEINO("f", "sl_follow");
	PC_STAT("f", 0);
	PC_RC(unlink("f"));
	PC_RC(unlink("d/f2"));
	PC_STAT("sl_follow", 0);
	PC_RC(link("sl_follow", "f"));
	PC_STAT("f", 0);
	PC_LS(".");
}

/* Symlinks: lstat, readlink (also truncated), loops, dangling, lchown,
 * nofollow chmod and times, long targets. */
static void sc_symlinks(void)
{
	char buf[5000];
	struct timespec ts[2] = { { PC_T0_SEC, PC_T0_NSEC }, { PC_T1_SEC, PC_T1_NSEC } };

	pc_puts("target", "t");
	PC_RC(symlink("target", "l"));
	PC_STAT("l", PC_ST_NOFOLLOW);
	PC_STAT("l", 0);
	memset(buf, 0, sizeof(buf));
	PC_RC(readlink("l", buf, sizeof(buf)));
	PC_NOTE("readlink = %s", buf);
	memset(buf, 0, sizeof(buf));
	PC_RC(readlink("l", buf, 3));
	PC_NOTE("readlink short = %s", buf);
	PC_RC(readlink("target", buf, sizeof(buf)));
	PC_RC(readlink("nope", buf, sizeof(buf)));
	PC_RC(symlink("x", "l"));
	PC_RC(symlink("", "empty"));
	PC_RC(symlink("l2", "l1"));
	PC_RC(symlink("l1", "l2"));
	PC_FD(open("l1", O_RDONLY));
	PC_STAT("l1", 0);
	PC_RC(symlink("missing", "dangle"));
	PC_STAT("dangle", 0);
	PC_STAT("dangle", PC_ST_NOFOLLOW);
	PC_RC(lchown("l", PC_OTHER, PC_OTHER));
	PC_STAT("l", PC_ST_NOFOLLOW);
	PC_STAT("target", 0);
	PC_RC(fchmodat(AT_FDCWD, "l", 0600, AT_SYMLINK_NOFOLLOW));
	PC_RC(chmod("l", 0600));
	PC_STAT("target", 0);
	PC_RC(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
	PC_STAT("l", PC_ST_NOFOLLOW | PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "l", ts, 0));
	PC_STAT("target", PC_ST_TIMES);
	memset(buf, 'a', 4095);
	buf[4095] = '\0';
	PC_RC(symlink(buf, "long"));
	PC_STAT("long", PC_ST_NOFOLLOW);
	PC_RC(readlink("long", buf, sizeof(buf)));
	buf[4095] = 'a';
	buf[4096] = '\0';
	PC_RC(symlink(buf, "toolong"));
	PC_RC(mkdir("d", 0755));
	PC_RC(symlink("../target", "d/up"));
	PC_CONTENT("d/up");
	PC_RC(symlink("d", "ld"));
	PC_RC(symlink("../ld/up", "d/chain"));
	PC_CONTENT("d/chain");
	PC_LS(".");
}

/* fifos, sockets and device nodes: types, modes, rdev, fifo I/O. */
static void sc_special_nodes(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r, w, s, c;
	char b[4] = { 0 };

	PC_RC(mkfifo("p", 0640));
	PC_STAT("p", 0);
	r = PC_FD(open("p", O_RDONLY | O_NONBLOCK));
	w = PC_FD(open("p", O_WRONLY | O_NONBLOCK));
	PC_RC(write(w, "xyz", 3));
	PC_RC(read(r, b, 3));
	PC_NOTE("fifo read = %s", b);
	close(w);
	close(r);
	PC_FD(open("p", O_WRONLY | O_NONBLOCK));
	PC_RC(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	PC_STAT("chr", PC_ST_RDEV);
	PC_RC(mknod("blk", S_IFBLK | 0600, makedev(7, 200)));
	PC_STAT("blk", PC_ST_RDEV);
	PC_RC(mknod("sock", S_IFSOCK | 0600, 0));
	PC_STAT("sock", 0);
	PC_RC(mknod("p", S_IFIFO | 0600, 0));
	PC_RC(mknod("dir", S_IFDIR | 0755, 0));
	PC_RC(mkfifo("nodir/p", 0600));
	s = PC_FD(socket(AF_UNIX, SOCK_STREAM, 0));
	strcpy(sa.sun_path, "bound");
	PC_RC(bind(s, (struct sockaddr *)&sa, sizeof(sa)));
	PC_RC(listen(s, 1));
	PC_STAT("bound", 0);
	c = PC_FD(socket(AF_UNIX, SOCK_STREAM, 0));
	PC_RC(connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	close(c);
	close(s);
	PC_LS(".");
}

/* Unlink, rmdir and rename-over while open: the open file lives on. */
static void sc_unlink_open(void)
{
	int fd, fd2, dfd;
	char b[16] = { 0 };

	pc_puts("f", "alive");
	fd = PC_FD(open("f", O_RDWR));
	PC_RC(unlink("f"));
	PC_FSTAT(fd, 0);
	PC_RC(pwrite(fd, "!", 1, 5));
	PC_RC(pread(fd, b, 10, 0));
	PC_NOTE("read = %s", b);
	PC_STAT("f", 0);
	PC_LS(".");
	fd2 = PC_FD(open("f", O_RDWR | O_CREAT, 0644));
	PC_RC(write(fd2, "new", 3));
	PC_FDCONTENT(fd);
	PC_FDCONTENT(fd2);
	PC_RC(fchmod(fd, 0600));
	PC_FSTAT(fd, 0);
	PC_RC(ftruncate(fd, 2));
	PC_FSTAT(fd, 0);
	close(fd);
	close(fd2);
	pc_puts("a", "old a");
	pc_puts("b", "new b");
	fd = PC_FD(open("a", O_RDONLY));
	PC_RC(rename("b", "a"));
	PC_FDCONTENT(fd);
	PC_FSTAT(fd, 0);
	PC_CONTENT("a");
	close(fd);
	PC_RC(mkdir("d", 0755));
	dfd = PC_FD(open("d", O_RDONLY | O_DIRECTORY));
	PC_RC(rmdir("d"));
	PC_FSTAT(dfd, PC_ST_NOSIZE);
	PC_FD(openat(dfd, "x", O_CREAT | O_WRONLY, 0644));
	PC_RC(mkdirat(dfd, "sub", 0755));
	close(dfd);
	PC_LS(".");
}

/* copy_file_range: full and offset copies, holes, EOF, overlap and fd mode
 * errors. */
static void sc_copy_range(void)
{
	unsigned char *buf = malloc(100000);
	loff_t in = 10, out = 5000;
	int src, dst, ro, ap;

	pc_pattern(buf, 100000, 3);
	pc_put("src", buf, 100000, 0644);
	src = PC_FD(open("src", O_RDONLY));
	dst = PC_FD(open("dst", O_WRONLY | O_CREAT, 0644));
	PC_RC(copy_file_range(src, NULL, dst, NULL, 100000, 0));
	PC_RC(lseek(src, 0, SEEK_CUR));
	PC_RC(lseek(dst, 0, SEEK_CUR));
	PC_CONTENT("dst");
	close(dst);
	dst = PC_FD(open("dst2", O_WRONLY | O_CREAT, 0644));
	PC_RC(copy_file_range(src, &in, dst, &out, 777, 0));
	PC_NOTE("offsets after = %lld %lld", (long long)in, (long long)out);
	PC_CONTENT("dst2");
	in = 200000;
	PC_RC(copy_file_range(src, &in, dst, NULL, 10, 0));
	PC_RC(copy_file_range(src, NULL, dst, NULL, 0, 0));
	close(dst);
	dst = PC_FD(open("src", O_RDWR));
	in = 0;
	out = 100;
	PC_RC(copy_file_range(src, &in, dst, &out, 1000, 0));
	close(dst);
	ro = PC_FD(open("dst", O_RDONLY));
	PC_RC(copy_file_range(src, NULL, ro, NULL, 10, 0));
	close(ro);
	ro = PC_FD(open("dst", O_WRONLY));
	PC_RC(copy_file_range(ro, NULL, ro, NULL, 10, 0));
	close(ro);
	ap = PC_FD(open("dst", O_WRONLY | O_APPEND));
	PC_RC(copy_file_range(src, NULL, ap, NULL, 10, 0));
	close(ap);
	PC_RC(copy_file_range(src, NULL, src, NULL, 10, 1));
	close(src);
	PC_CONTENT("src");
	free(buf);
}

/* mmap: MAP_SHARED stores are seen by read(), write() is seen by the
 * mapping, msync + fresh open, MAP_PRIVATE isolation, mapping errors. */
static void sc_mmap(void)
{
	unsigned char buf[8192];
	char *m, *p;
	int fd, fd2;

	pc_pattern(buf, sizeof(buf), 11);
	pc_put("f", buf, sizeof(buf), 0644);
	fd = PC_FD(open("f", O_RDWR));
	m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	PC_RC(m == MAP_FAILED ? -1 : 0);
	if (m == MAP_FAILED) {
		close(fd);
		return;
	}
	memcpy(m + 100, "mapped-write", 12);
	fd2 = PC_FD(open("f", O_RDONLY));
	PC_FDCONTENT(fd2);
	PC_RC(pwrite(fd, "via-write", 9, 5000));
	PC_RC(memcmp(m + 5000, "via-write", 9) == 0);
	PC_RC(msync(m, 8192, MS_SYNC));
	PC_RC(munmap(m, 8192));
	close(fd2);
	PC_CONTENT("f");
	PC_RC(ftruncate(fd, 12288));
	m = mmap(NULL, 12288, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	PC_RC(m == MAP_FAILED ? -1 : 0);
	if (m != MAP_FAILED) {
		memcpy(m + 9000, "grown", 5);
		PC_RC(munmap(m, 12288));
	}
	close(fd);
	PC_CONTENT("f");
	fd = PC_FD(open("f", O_RDONLY));
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	PC_RC(p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED) {
		memcpy(p, "private", 7);
		munmap(p, 4096);
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	PC_RC(p == MAP_FAILED ? -1 : 0);
	close(fd);
	fd = PC_FD(open("f", O_WRONLY));
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	PC_RC(p == MAP_FAILED ? -1 : 0);
	close(fd);
	PC_CONTENT("f");
	fd = PC_FD(open("empty", O_RDWR | O_CREAT, 0644));
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	PC_RC(p == MAP_FAILED ? -1 : 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
}

/* O_DIRECT with aligned buffers, offsets and sizes, and coherence with a
 * buffered descriptor of the same file. */
static void sc_o_direct(void)
{
	unsigned char *wbuf = aligned_alloc(4096, 16384), *rbuf = aligned_alloc(4096, 16384);
	char b[16] = { 0 };
	int fd, bfd;
	void *m;

	if (!wbuf || !rbuf)
		abort();
	pc_pattern(wbuf, 16384, 5);
	fd = PC_FD(open("f", O_RDWR | O_CREAT | O_DIRECT, 0644));
	PC_RC(fcntl(fd, F_GETFL) & O_DIRECT ? 1 : 0);
	PC_RC(pwrite(fd, wbuf, 16384, 0));
	PC_RC(pread(fd, rbuf, 4096, 4096));
	PC_RC(memcmp(rbuf, wbuf + 4096, 4096) == 0);
	PC_RC(pread(fd, rbuf, 8192, 12288));
	PC_FSTAT(fd, 0);
	bfd = PC_FD(open("f", O_RDWR));
	PC_RC(pwrite(bfd, "buffered", 8, 8192));
	PC_RC(pread(fd, rbuf, 4096, 8192));
	PC_RC(memcmp(rbuf, "buffered", 8) == 0);
	PC_RC(pwrite(fd, wbuf, 4096, 4096));
	PC_RC(pread(bfd, b, 8, 4096));
	PC_RC(memcmp(b, wbuf, 8) == 0);
	PC_RC(pwrite(fd, wbuf, 4096, 1 << 20));
	PC_FSTAT(fd, 0);
	/* a shared mapping of the O_DIRECT fd, read and stored through */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	PC_RC(m != MAP_FAILED);
	if (m != MAP_FAILED) {
		PC_RC(memcmp(m, wbuf, 8) == 0);
		memcpy(m, "mapped", 6);
		PC_RC(msync(m, 4096, MS_SYNC));
		munmap(m, 4096);
	}
	PC_RC(pread(fd, rbuf, 4096, 0));
	PC_RC(memcmp(rbuf, "mapped", 6) == 0);
	close(bfd);
	close(fd);
	PC_CONTENT("f");
	/* Another open's dirty pages, flushed while a direct open is the
	 * inode's newest writable one (the kernel writes them back through
	 * it: a partial page, unaligned). */
	bfd = PC_FD(open("g", O_RDWR | O_CREAT, 0644));
	PC_RC(pwrite(bfd, "dirty pages, 21 bytes", 21, 0));
	fd = PC_FD(open("g", O_RDWR | O_DIRECT));
	PC_RC(fsync(bfd));
	close(bfd);
	close(fd);
	PC_CONTENT("g");
	free(wbuf);
	free(rbuf);
}

/* O_DIRECT cleared by fcntl(F_SETFL): the open's I/O needs no alignment
 * any more; set again, it does. */
static void sc_o_direct_setfl(void)
{
	unsigned char *wbuf = aligned_alloc(4096, 4096);
	char b[8] = { 0 };
	int fd;

	if (!wbuf)
		abort();
	pc_pattern(wbuf, 4096, 6);
	fd = PC_FD(open("f", O_RDWR | O_CREAT | O_DIRECT, 0644));
	PC_RC(pwrite(fd, wbuf, 4096, 0));
	PC_RC(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT));
	PC_RC(pwrite(fd, "XYZ", 3, 3));
	PC_RC(pread(fd, b, 5, 1));
	PC_RC(memcmp(b, wbuf + 1, 2) == 0 && memcmp(b + 2, "XYZ", 3) == 0);
	PC_RC(pwrite(fd, "tail", 4, 4096));
	PC_FSTAT(fd, 0);
	PC_RC(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_DIRECT));
	PC_RC(pwrite(fd, "unaligned", 9, 7));
	PC_RC(pwrite(fd, wbuf, 4096, 8192));
	PC_FSTAT(fd, 0);
	close(fd);
	PC_CONTENT("f");
	free(wbuf);
}

/* fsync, fdatasync, syncfs, sync_file_range on files and directories. */
static void sc_sync_calls(void)
{
	int fd, dfd, ro;

	fd = PC_FD(open("f", O_RDWR | O_CREAT, 0644));
	PC_RC(write(fd, "data", 4));
	PC_RC(fsync(fd));
	PC_RC(fdatasync(fd));
	PC_RC(syncfs(fd));
	PC_RC(sync_file_range(fd, 0, 4, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER));
	PC_RC(sync_file_range(fd, 0, 4, 0xff));
	ro = PC_FD(open("f", O_RDONLY));
	PC_RC(fsync(ro));
	close(ro);
	close(fd);
	PC_RC(mkdir("d", 0755));
	dfd = PC_FD(open("d", O_RDONLY | O_DIRECTORY));
	PC_RC(fsync(dfd));
	PC_RC(fdatasync(dfd));
	close(dfd);
	PC_RC(fsync(-1));
	PC_CONTENT("f");
}

const struct pc_scenario pc_files_scenarios[] = {
	{ "create_modes", "creation modes under umasks, creat, mknod S_IFREG", sc_create_modes, false },
	{ "open_flags", "O_EXCL/O_NOFOLLOW/O_DIRECTORY/trailing slash/name length", sc_open_flags, false },
	{ "o_trunc", "O_TRUNC sizes and times", sc_o_trunc, false },
	{ "o_append", "O_APPEND offsets, pwrite, F_SETFL toggling", sc_o_append, false },
	{ "read_write", "pread/pwrite, holes, EOF, EBADF/EISDIR, large offsets", sc_read_write, false },
	{ "truncate", "truncate grow/shrink, errors, times", sc_truncate, false },
	{ "hardlinks", "link counts, same inode, coherence across names", sc_hardlinks, false },
	{ "symlinks", "readlink, loops, dangling, lchown, nofollow ops", sc_symlinks, false },
	{ "special_nodes", "fifo, socket, char/block nodes", sc_special_nodes, false },
	{ "unlink_open", "unlink/rmdir/rename-over while open", sc_unlink_open, false },
	{ "copy_range", "copy_file_range offsets and errors", sc_copy_range, false },
	{ "mmap", "mmap/read/write coherence, msync, mapping errors", sc_mmap, false },
	{ "o_direct", "aligned O_DIRECT I/O, buffered coherence, shared mmap, another open's pages flushed", sc_o_direct, false },
	{ "o_direct_setfl", "O_DIRECT cleared and set again by fcntl(F_SETFL)", sc_o_direct_setfl, false },
	{ "sync_calls", "fsync/fdatasync/syncfs/sync_file_range", sc_sync_calls, false },
	{ NULL, NULL, NULL, false },
};
