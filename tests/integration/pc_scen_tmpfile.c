/* pc_scen_tmpfile.c: posix_compare scenarios about open(DIR, O_TMPFILE):
 * the unnamed file (no link, no entry in DIR), its I/O and attributes,
 * linkat() of it into the tree through /proc/self/fd and with
 * AT_EMPTY_PATH, O_EXCL making it unlinkable, the errnos of O_TMPFILE on
 * what is not a writable directory, and as other users (ownership, a
 * setgid directory's group, EACCES). */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* linkat(AT_FDCWD, "/proc/self/fd/FD", AT_FDCWD, name, AT_SYMLINK_FOLLOW):
 * how an unprivileged caller gives an O_TMPFILE a name. */
static long link_proc(int fd, const char *name)
{
	char proc[32];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW);
}

/* The same file opened again through /proc/self/fd (an OPEN of the
 * unnamed inode), read in full. */
static void reopen_proc(int fd)
{
	char proc[32];
	int again;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	again = PC_FD(open(proc, O_RDONLY));
	PC_FSTAT(again, 0);
	PC_FDCONTENT(again);
	if (again >= 0)
		close(again);
}

/* An O_TMPFILE written, read, changed and linked as root. */
static void sc_o_tmpfile(void)
{
	char b[32] = { 0 };
	int fd, fd2, ex, dfd;

	PC_RC(mkdir("d", 0755));
	fd = PC_FD(open(".", O_TMPFILE | O_RDWR, 0640));
	PC_FSTAT(fd, 0);
	PC_RC(write(fd, "unnamed data", 12));
	PC_RC(pread(fd, b, sizeof(b) - 1, 0));
	PC_NOTE("read = %s", b);
	PC_FSTAT(fd, 0);
	PC_LS(".");
	reopen_proc(fd);
	/* attributes of the unnamed inode */
	PC_RC(fchmod(fd, 0600));
	PC_RC(ftruncate(fd, 8));
	PC_RC(fsetxattr(fd, "user.t", "v", 1, 0));
	PC_RC(fgetxattr(fd, "user.t", b, sizeof(b)));
	PC_RC(fsync(fd));
	PC_FSTAT(fd, 0);
	/* named, then changed through the fd and read by the name */
	PC_RC(link_proc(fd, "named"));
	PC_FSTAT(fd, 0);
	PC_STAT("named", 0);
	PC_CONTENT("named");
	PC_RC(pwrite(fd, " more", 5, 8));
	PC_CONTENT("named");
	PC_XATTRS("named");
	PC_RC(link_proc(fd, "d/second"));
	PC_STAT("named", 0);
	PC_SAMEINO("named", "d/second");
	PC_RC(link_proc(fd, "named"));
	PC_LS(".");
	PC_LS("d");
	close(fd);
	PC_CONTENT("d/second");
	PC_RC(unlink("named"));
	PC_STAT("d/second", 0);
	/* in a subdirectory by its fd, linked by AT_EMPTY_PATH (root) */
	dfd = PC_FD(open("d", O_RDONLY | O_DIRECTORY));
	fd = PC_FD(openat(dfd, ".", O_TMPFILE | O_WRONLY, 0666));
	PC_FSTAT(fd, 0);
	PC_RC(write(fd, "by fd", 5));
	PC_RC(linkat(fd, "", dfd, "empty_path", AT_EMPTY_PATH));
	PC_STAT("d/empty_path", 0);
	PC_CONTENT("d/empty_path");
	close(fd);
	close(dfd);
	/* O_EXCL: never linkable; nothing left once closed */
	ex = PC_FD(open(".", O_TMPFILE | O_RDWR | O_EXCL, 0644));
	PC_RC(write(ex, "excl", 4));
	PC_RC(link_proc(ex, "excl"));
	PC_RC(linkat(ex, "", AT_FDCWD, "excl2", AT_EMPTY_PATH));
	PC_FSTAT(ex, 0);
	PC_FDCONTENT(ex);
	close(ex);
	/* one never linked: gone at close; its inode's number reused is no
	 * other file */
	fd = PC_FD(open(".", O_TMPFILE | O_RDWR, 0644));
	PC_RC(write(fd, "dropped", 7));
	fd2 = PC_FD(open(".", O_TMPFILE | O_RDWR, 0644));
	close(fd);
	PC_RC(write(fd2, "kept", 4));
	PC_RC(link_proc(fd2, "kept"));
	close(fd2);
	PC_CONTENT("kept");
	/* the umask applies */
	umask(027);
	fd = PC_FD(open(".", O_TMPFILE | O_RDWR, 0777));
	PC_FSTAT(fd, 0);
	close(fd);
	umask(022);
	/* what is not a directory, or not one to make a file in */
	PC_OPEN_CLOSE("kept", O_TMPFILE | O_RDWR, 0644);
	PC_OPEN_CLOSE("missing", O_TMPFILE | O_RDWR, 0644);
	PC_OPEN_CLOSE("missing/", O_TMPFILE | O_RDWR, 0644);
	PC_OPEN_CLOSE(".", O_TMPFILE | O_RDONLY, 0644);
	PC_OPEN_CLOSE(".", O_TMPFILE | O_RDWR | O_CREAT, 0644);
	PC_LS(".");
	PC_LS("d");
}

/* O_TMPFILE as other users: EACCES without write access to the directory,
 * the caller's ownership, a setgid directory's group, linking by /proc
 * (allowed) and by AT_EMPTY_PATH (not without CAP_DAC_READ_SEARCH). */
static void sc_perm_tmpfile(void)
{
	static const gid_t other[] = { PC_OTHER };
	int fd;

	PC_RC(mkdir("ro", 0755));
	PC_RC(mkdir("rw", 0777));
	PC_RC(chmod("rw", 0777));
	PC_RC(mkdir("sg", 02777));
	PC_RC(chown("sg", 0, PC_OTHER));
	PC_RC(chmod("sg", 02777));
	pc_as_user(PC_NOBODY, PC_NOBODY, 1, other);
	PC_OPEN_CLOSE("ro", O_TMPFILE | O_RDWR, 0644);
	fd = PC_FD(open("rw", O_TMPFILE | O_RDWR, 0640));
	PC_FSTAT(fd, 0);
	PC_RC(write(fd, "mine", 4));
	PC_RC(linkat(fd, "", AT_FDCWD, "rw/by_empty_path", AT_EMPTY_PATH));
	PC_RC(link_proc(fd, "ro/mine"));
	PC_RC(link_proc(fd, "rw/mine"));
	close(fd);
	PC_STAT("rw/mine", 0);
	PC_CONTENT("rw/mine");
	fd = PC_FD(open("sg", O_TMPFILE | O_WRONLY, 02770));
	PC_FSTAT(fd, 0);
	PC_RC(link_proc(fd, "sg/f"));
	close(fd);
	PC_STAT("sg/f", 0);
	pc_as_root();
	PC_LS("rw");
	PC_LS("ro");
}

const struct pc_scenario pc_tmpfile_scenarios[] = {
	{ "o_tmpfile", "O_TMPFILE: unnamed I/O and attributes, linkat, O_EXCL, errnos", sc_o_tmpfile, false },
	{ "perm_tmpfile", "O_TMPFILE as non-root: EACCES, owner, setgid group, linking", sc_perm_tmpfile, true },
	{ NULL, NULL, NULL, false },
};
