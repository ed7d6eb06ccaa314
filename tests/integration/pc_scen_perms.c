/* pc_scen_perms.c: posix_compare scenarios run partly as non-root users
 * (uid 65534 "nobody" and uid/gid 1234 without an account), switching
 * credentials with pc_as_user()/pc_as_root(): EACCES/EPERM on files and
 * directories, ownership of new nodes, chmod/chown/utimes rules, setgid
 * directory inheritance, the sticky bit, set-id clearing on write, xattr
 * permissions, access(), execve with execute-only permission, and the
 * protected_hardlinks/symlinks rules. */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

static const gid_t grp_other[] = { PC_OTHER };

static void as_nobody(void)
{
	pc_as_user(PC_NOBODY, PC_NOBODY, 0, NULL);
}

static void as_nobody_in_other(void)
{
	pc_as_user(PC_NOBODY, PC_NOBODY, 1, grp_other);
}

static void as_other(void)
{
	pc_as_user(PC_OTHER, PC_OTHER, 0, NULL);
}

static void mkfile(const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	pc_puts(name, "content");
	PC_RC(chown(name, uid, gid));
	PC_RC(chmod(name, mode));
}

/* Try read-only, write-only and read-write opens; record each. */
static void try_opens(const char *name)
{
	PC_OPEN_CLOSE(name, O_RDONLY);
	PC_OPEN_CLOSE(name, O_WRONLY);
	PC_OPEN_CLOSE(name, O_RDWR);
}

/* File permission classes: owner, group (primary and supplementary), other;
 * owner class wins even when group or other would allow more. */
static void sc_perm_files(void)
{
	mkfile("root640", 0640, 0, 0);
	mkfile("root644", 0644, 0, 0);
	mkfile("root606", 0606, 0, 0);
	mkfile("nob460", 0460, PC_NOBODY, PC_OTHER);
	mkfile("grp060", 0060, 0, PC_OTHER);
	mkfile("nob000", 0000, PC_NOBODY, PC_NOBODY);
	as_nobody();
	try_opens("root640");
	try_opens("root644");
	try_opens("root606");
	try_opens("nob460");
	try_opens("grp060");
	try_opens("nob000");
	PC_FD(open("root644", O_WRONLY | O_TRUNC));
	PC_RC(truncate("root644", 0));
	PC_FD(open("root644", O_RDONLY | O_TRUNC));
	pc_as_root();
	as_nobody_in_other();
	try_opens("grp060");
	try_opens("nob460");
	pc_as_root();
	PC_CONTENT("root644");
	PC_STAT("root644", 0);
}

/* Directory permissions: search (x) vs list (r) vs modify (w+x). */
static void sc_perm_dirs(void)
{
	static const mode_t modes[] = { 0700, 0711, 0755, 0733, 0777, 0300 };
	char d[32], p[64];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(d, sizeof(d), "d%04o", (unsigned)modes[i]);
		PC_RC(mkdir(d, 0755));
		snprintf(p, sizeof(p), "%s/f", d);
		pc_puts(p, "x");
		PC_RC(chmod(p, 0666));
		PC_RC(chmod(d, modes[i]));
	}
	int here = open(".", O_RDONLY | O_DIRECTORY);

	as_nobody();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(d, sizeof(d), "d%04o", (unsigned)modes[i]);
		PC_LS(d);
		snprintf(p, sizeof(p), "%s/f", d);
		PC_STAT(p, 0);
		PC_OPEN_CLOSE(p, O_RDWR);
		snprintf(p, sizeof(p), "%s/new", d);
		PC_OPEN_CLOSE(p, O_CREAT | O_WRONLY, 0644);
		PC_STAT(p, 0);
		snprintf(p, sizeof(p), "%s/sub", d);
		PC_RC(mkdir(p, 0755));
		snprintf(p, sizeof(p), "%s/f", d);
		PC_RC(rename(p, "moved_out"));
		PC_RC(unlink(p));
		PC_RC(chdir(d));
		if (fchdir(here) < 0)
			PC_NOTE("fchdir back failed");
	}
	pc_as_root();
	close(here);
	PC_LS(".");
}

/* New nodes belong to the creating user and group (files, dirs, fifos,
 * symlinks, hard links keep the target's owner). */
static void sc_perm_owner(void)
{
	PC_RC(mkdir("pub", 0777));
	as_nobody();
	umask(0);
	pc_puts("pub/f", "x");
	PC_STAT("pub/f", 0);
	PC_RC(mkdir("pub/d", 0777));
	PC_STAT("pub/d", PC_ST_NOSIZE);
	PC_RC(mkfifo("pub/p", 0666));
	PC_STAT("pub/p", 0);
	PC_RC(symlink("f", "pub/l"));
	PC_STAT("pub/l", PC_ST_NOFOLLOW);
	PC_RC(mknod("pub/r", S_IFREG | 0600, 0));
	PC_STAT("pub/r", 0);
	PC_RC(mknod("pub/c", S_IFCHR | 0600, 0x0103));
	PC_RC(link("pub/f", "pub/f2"));
	PC_STAT("pub/f2", 0);
	PC_RC(rename("pub/f2", "pub/f3"));
	pc_as_root();
	as_other();
	pc_puts("pub/o", "y");
	PC_STAT("pub/o", 0);
	PC_RC(unlink("pub/f"));
	PC_RC(rmdir("pub/d"));
	pc_as_root();
	umask(022);
	PC_RC(mkdir("nobdir", 0755));
	PC_RC(chown("nobdir", PC_NOBODY, PC_NOBODY));
	pc_puts("nobdir/rootfile", "r");
	PC_STAT("nobdir/rootfile", 0);
	PC_LS("pub");
}

/* chmod/chown/chgrp rules for non-root: only the owner may chmod, only to
 * groups they belong to; S_ISGID dropped for non-members. */
static void sc_perm_chmod_chown(void)
{
	mkfile("mine", 0644, PC_NOBODY, PC_NOBODY);
	mkfile("theirs", 0666, 0, 0);
	as_nobody_in_other();
	PC_RC(chmod("mine", 0600));
	PC_RC(chmod("theirs", 0600));
	PC_RC(chown("mine", PC_OTHER, -1));
	PC_RC(chown("mine", PC_NOBODY, -1));
	PC_RC(chown("mine", -1, PC_OTHER));
	PC_STAT("mine", 0);
	PC_RC(chown("mine", -1, 0));
	PC_RC(chown("theirs", -1, PC_OTHER));
	PC_RC(chmod("mine", 02755));
	PC_STAT("mine", 0);
	PC_RC(chown("mine", -1, PC_NOBODY));
	PC_RC(chmod("mine", 02755));
	PC_STAT("mine", 0);
	PC_RC(chown("mine", -1, PC_OTHER));
	PC_STAT("mine", 0);
	pc_as_root();
	as_nobody();
	PC_RC(chmod("mine", 02755));
	PC_RC(chown("mine", -1, PC_OTHER));
	PC_STAT("mine", 0);
	PC_RC(chmod("mine", 04755));
	PC_STAT("mine", 0);
	PC_RC(chmod("mine", 01755));
	PC_STAT("mine", 0);
	pc_as_root();
	PC_RC(chmod("mine", 02755));
	PC_STAT("mine", 0);
}

/* utimensat rules: owner anything; writer may only set "now"; others
 * nothing. */
static void sc_perm_utimes(void)
{
	struct timespec t0[2] = { { PC_T0_SEC, PC_T0_NSEC }, { PC_T0_SEC, PC_T0_NSEC } };
	struct timespec now2[2] = { { 0, UTIME_NOW }, { 0, UTIME_NOW } };
	struct timespec omit_now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };

	mkfile("writable", 0666, 0, 0);
	mkfile("readonly", 0644, 0, 0);
	mkfile("mine", 0400, PC_NOBODY, PC_NOBODY);
	as_nobody();
	PC_RC(utimensat(AT_FDCWD, "writable", NULL, 0));
	PC_RC(utimensat(AT_FDCWD, "writable", now2, 0));
	PC_RC(utimensat(AT_FDCWD, "writable", omit_now, 0));
	PC_RC(utimensat(AT_FDCWD, "writable", t0, 0));
	PC_RC(utimensat(AT_FDCWD, "readonly", NULL, 0));
	PC_RC(utimensat(AT_FDCWD, "readonly", t0, 0));
	PC_RC(utimensat(AT_FDCWD, "mine", t0, 0));
	PC_STAT("mine", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "mine", NULL, 0));
	PC_STAT("mine", PC_ST_TIMES);
	pc_as_root();
	PC_STAT("writable", PC_ST_TIMES);
}

/* setgid directories: files and subdirs inherit the group, subdirs inherit
 * S_ISGID, a non-member's S_ISGID request on a new file is dropped. */
static void sc_setgid_dir(void)
{
	PC_RC(mkdir("sg", 0777));
	PC_RC(chown("sg", 0, PC_OTHER));
	PC_RC(chmod("sg", 02777));
	PC_STAT("sg", PC_ST_NOSIZE);
	pc_puts("sg/rootfile", "r");
	PC_STAT("sg/rootfile", 0);
	PC_RC(mkdir("sg/rootdir", 0755));
	PC_STAT("sg/rootdir", PC_ST_NOSIZE);
	as_nobody();
	umask(0);
	PC_OPEN_CLOSE("sg/nobfile", O_CREAT | O_WRONLY, 02777);
	PC_STAT("sg/nobfile", 0);
	PC_RC(mkdir("sg/nobdir", 0777));
	PC_STAT("sg/nobdir", PC_ST_NOSIZE);
	PC_RC(mkfifo("sg/nobfifo", 0666));
	PC_STAT("sg/nobfifo", 0);
	PC_RC(symlink("x", "sg/nobsym"));
	PC_STAT("sg/nobsym", PC_ST_NOFOLLOW);
	PC_RC(mkdir("sg/nobdir/deeper", 0777));
	PC_STAT("sg/nobdir/deeper", PC_ST_NOSIZE);
	pc_as_root();
	as_nobody_in_other();
	PC_OPEN_CLOSE("sg/memberfile", O_CREAT | O_WRONLY, 02777);
	PC_STAT("sg/memberfile", 0);
	pc_as_root();
	umask(022);
	PC_RC(mkdir("plain", 0777));
	as_nobody_in_other();
	PC_OPEN_CLOSE("plain/f", O_CREAT | O_WRONLY, 0644);
	PC_STAT("plain/f", 0);
	pc_as_root();
}

/* Sticky directories: only the file's owner, the directory's owner or root
 * may unlink or rename entries. */
static void sc_sticky(void)
{
	PC_RC(mkdir("t", 0777));
	PC_RC(chmod("t", 01777));
	as_other();
	pc_puts("t/others", "o");
	PC_RC(chmod("t/others", 0666));
	PC_RC(mkdir("t/otherdir", 0777));
	pc_as_root();
	as_nobody();
	pc_puts("t/mine", "m");
	PC_RC(unlink("t/others"));
	PC_RC(rename("t/others", "t/stolen"));
	PC_RC(rename("t/mine", "t/others"));
	PC_RC(rmdir("t/otherdir"));
	PC_RC(rename("t/mine", "t/mine2"));
	{
		int fd = PC_FD(open("t/others", O_WRONLY | O_APPEND));

		if (fd >= 0)
			close(fd);
	}
	PC_RC(unlink("t/mine2"));
	pc_as_root();
	as_other();
	PC_RC(unlink("t/others"));
	pc_as_root();
	PC_RC(rmdir("t/otherdir"));
	PC_LS("t");
}

/* Writing or truncating (also by an O_TRUNC open) as non-root clears
 * S_ISUID and (group-exec) S_ISGID, and a write drops a file capability;
 * root writing keeps them. S_ISGID without group-exec: sc_sgid_nonmember. */
static void sc_suid_clear(void)
{
	int fd;

	mkfile("s1", 06777, 0, 0);
	mkfile("s2", 06777, 0, 0);
	mkfile("s3", 02777, 0, 0);
	mkfile("s4", 06777, 0, 0);
	mkfile("s5", 06777, 0, 0);
	mkfile("s6", 0777, 0, 0);
	/* a file capability (v2, CAP_NET_RAW permitted), dropped by a write */
	static const unsigned char cap[20] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x20};
	PC_RC(setxattr("s6", "security.capability", cap, sizeof(cap), 0));
	as_nobody();
	fd = PC_FD(open("s5", O_WRONLY | O_TRUNC));
	close(fd);
	fd = PC_FD(open("s6", O_WRONLY));
	PC_RC(write(fd, "w", 1));
	close(fd);
	fd = PC_FD(open("s1", O_WRONLY));
	PC_RC(write(fd, "w", 1));
	close(fd);
	PC_RC(truncate("s2", 1));
	fd = PC_FD(open("s3", O_WRONLY));
	PC_RC(write(fd, "w", 1));
	close(fd);
	pc_as_root();
	PC_STAT("s1", 0);
	PC_STAT("s2", 0);
	PC_STAT("s3", 0);
	PC_STAT("s5", 0);
	{
		char got[32];
		PC_RC(getxattr("s6", "security.capability", got, sizeof(got)));
	}
	fd = PC_FD(open("s4", O_WRONLY));
	PC_RC(write(fd, "root", 4));
	close(fd);
	PC_STAT("s4", 0);
}

/* S_ISGID without group-exec (no set-group-id program: the old mandatory
 * locking mark) is cleared when a caller outside the file's group (and
 * without CAP_FSETID) writes, truncates, opens with O_TRUNC or chowns it;
 * a member keeps it. The FUSE kernel module leaves that to the daemon with
 * FUSE_HANDLE_KILLPRIV_V2 (fs/killpriv.h), and clears only S_ISGID with
 * S_IXGRP itself without it (-o passthrough, -o splice: skipped there). */
static void sc_sgid_nonmember(void)
{
	int fd;

	mkfile("w", 02666, 0, PC_OTHER);
	mkfile("t", 02666, 0, PC_OTHER);
	mkfile("o", 02666, 0, PC_OTHER);
	mkfile("m", 02666, 0, PC_OTHER);
	mkfile("own", 02664, PC_NOBODY, PC_OTHER);
	mkfile("own2", 02664, PC_NOBODY, PC_OTHER);
	mkfile("own3", 02664, PC_NOBODY, PC_OTHER);
	mkfile("own4", 02664, PC_NOBODY, PC_OTHER);
	as_nobody();
	fd = PC_FD(open("w", O_WRONLY | O_APPEND));
	PC_RC(write(fd, "w", 1));
	close(fd);
	PC_RC(truncate("t", 1));
	PC_OPEN_CLOSE("o", O_WRONLY | O_TRUNC);
	PC_RC(chown("own", -1, PC_NOBODY));
	PC_RC(chown("own2", PC_NOBODY, -1));
	PC_RC(chown("own4", -1, -1));
	pc_as_root();
	as_nobody_in_other();
	fd = PC_FD(open("m", O_WRONLY | O_APPEND));
	PC_RC(write(fd, "m", 1));
	close(fd);
	PC_RC(chown("own3", -1, PC_NOBODY));
	pc_as_root();
	PC_STAT("w", 0);
	PC_STAT("t", 0);
	PC_STAT("o", 0);
	PC_STAT("m", 0);
	PC_STAT("own", 0);
	PC_STAT("own2", 0);
	PC_STAT("own3", 0);
	PC_STAT("own4", 0);
}

/* xattr permissions for non-root: user.* needs write access, not on
 * others' fifos/symlinks; trusted.* hidden and denied; security.* denied
 * for writing but readable. */
static void sc_xattr_perms(void)
{
	char buf[64];

	mkfile("ro", 0644, 0, 0);
	mkfile("rw", 0666, 0, 0);
	PC_RC(setxattr("ro", "user.x", "1", 1, 0));
	PC_RC(setxattr("ro", "trusted.t", "t", 1, 0));
	PC_RC(setxattr("ro", "security.s", "s", 1, 0));
	PC_RC(chmod("ro", 0604));
	as_nobody();
	PC_RC(getxattr("ro", "user.x", buf, sizeof(buf)));
	PC_RC(setxattr("ro", "user.y", "2", 1, 0));
	PC_RC(removexattr("ro", "user.x"));
	PC_RC(setxattr("rw", "user.y", "2", 1, 0));
	PC_RC(getxattr("ro", "trusted.t", buf, sizeof(buf)));
	PC_RC(setxattr("rw", "trusted.t", "t", 1, 0));
	PC_RC(getxattr("ro", "security.s", buf, sizeof(buf)));
	PC_RC(setxattr("rw", "security.s", "s", 1, 0));
	PC_XATTRS("ro");
	PC_RC(listxattr("ro", NULL, 0));
	PC_XATTRS("rw");
	pc_as_root();
	PC_RC(chmod("ro", 0600));
	as_nobody();
	PC_RC(getxattr("ro", "user.x", buf, sizeof(buf)));
	PC_RC(listxattr("ro", buf, sizeof(buf)));
	pc_as_root();
	PC_XATTRS("rw");
}

/* access()/faccessat() for non-root against owner/group/other bits. */
static void sc_access_user(void)
{
	static const mode_t modes[] = { 0700, 0070, 0007, 0444, 0222, 0111, 0000 };
	static const int masks[] = { F_OK, R_OK, W_OK, X_OK };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char n[32];

		snprintf(n, sizeof(n), "own%04o", (unsigned)modes[i]);
		mkfile(n, modes[i], PC_NOBODY, PC_NOBODY);
		snprintf(n, sizeof(n), "grp%04o", (unsigned)modes[i]);
		mkfile(n, modes[i], 0, PC_OTHER);
	}
	as_nobody_in_other();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		for (size_t j = 0; j < sizeof(masks) / sizeof(masks[0]); j++) {
			char n[32];
			int rc;

			snprintf(n, sizeof(n), "own%04o", (unsigned)modes[i]);
			rc = access(n, masks[j]);
			PC_NOTE("access(%s, %d) = %d %s", n, masks[j], rc,
				rc ? strerrorname_np(errno) : "");
			snprintf(n, sizeof(n), "grp%04o", (unsigned)modes[i]);
			rc = faccessat(AT_FDCWD, n, masks[j], AT_EACCESS);
			PC_NOTE("faccessat(%s, %d) = %d %s", n, masks[j], rc,
				rc ? strerrorname_np(errno) : "");
		}
	}
	pc_as_root();
	PC_RC(mkdir("closed", 0700));
	pc_puts("closed/f", "x");
	as_nobody();
	PC_RC(access("closed/f", F_OK));
	PC_RC(access("closed", R_OK));
	pc_as_root();
}

/* fs.protected_hardlinks / protected_symlinks as they apply to both trees:
 * linking to another user's unreadable file, following another user's
 * symlink in a sticky world-writable directory. */
static void sc_protected_links(void)
{
	mkfile("secret", 0600, 0, 0);
	PC_RC(mkdir("tmp", 0777));
	PC_RC(chmod("tmp", 01777));
	as_other();
	PC_RC(symlink("../secret_pub", "tmp/otherlink"));
	pc_as_root();
	mkfile("secret_pub", 0644, 0, 0);
	as_nobody();
	PC_RC(link("secret", "tmp/hl"));
	PC_RC(link("secret_pub", "tmp/hl2"));
	PC_OPEN_CLOSE("tmp/otherlink", O_RDONLY);
	PC_RC(symlink("../secret_pub", "tmp/mylink"));
	PC_OPEN_CLOSE("tmp/mylink", O_RDONLY);
	pc_as_root();
	PC_LS("tmp");
}

/* Copies /bin/true to name with mode (root's). */
static void copy_true(const char *name, mode_t mode)
{
	char buf[65536];
	int in = open("/bin/true", O_RDONLY), out = PC_FD(open(name, O_WRONLY | O_CREAT, 0700));
	ssize_t n;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	PC_RC(chmod(name, mode));
}

/* Runs name as the current user: the spawn's errno or the exit status. */
static void try_exec(const char *name)
{
	char path[64];
	char *argv[] = { path, NULL }, *envp[] = { NULL };
	pid_t pid;
	int st = 0;

	snprintf(path, sizeof(path), "./%s", name);
	int rc = posix_spawn(&pid, path, NULL, NULL, argv, envp);
	if (rc != 0) {
		PC_NOTE("exec(%s) = %s", name, strerrorname_np(rc));
		return;
	}
	waitpid(pid, &st, 0);
	PC_NOTE("exec(%s) = exit %d", name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* execve needs execute permission only: a program of mode 0711 or 0111
 * runs for others (through the mount it was refused: the daemon opened it
 * to be read as the caller); 0700 and 0744 do not, 0755 does. */
static void sc_perm_exec(void)
{
	static const mode_t modes[] = { 0755, 0711, 0111, 0744, 0700, 0000 };
	char n[32];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(n, sizeof(n), "prog%04o", (unsigned)modes[i]);
		copy_true(n, modes[i]);
	}
	as_nobody();
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(n, sizeof(n), "prog%04o", (unsigned)modes[i]);
		try_exec(n);
		PC_OPEN_CLOSE(n, O_RDONLY);
	}
	pc_as_root();
}

const struct pc_scenario pc_perms_scenarios[] = {
	{ "perm_files", "owner/group/other classes on open (non-root)", sc_perm_files, true },
	{ "perm_dirs", "directory r/w/x rules (non-root)", sc_perm_dirs, true },
	{ "perm_owner", "ownership of nodes created by non-root", sc_perm_owner, true },
	{ "perm_chmod_chown", "chmod/chown/chgrp rules for non-root", sc_perm_chmod_chown, true },
	{ "perm_utimes", "utimensat permission rules", sc_perm_utimes, true },
	{ "setgid_dir", "setgid directory group inheritance", sc_setgid_dir, true },
	{ "sticky", "sticky directory deletion rules", sc_sticky, true },
	{ "suid_clear", "set-id bits cleared on non-root write", sc_suid_clear, true },
	{ "sgid_nonmember", "S_ISGID without g+x cleared for non-members", sc_sgid_nonmember, true },
	{ "xattr_perms", "xattr permission rules for non-root", sc_xattr_perms, true },
	{ "access_user", "access()/faccessat for non-root", sc_access_user, true },
	{ "perm_exec", "execve with execute-only permission (non-root)", sc_perm_exec, true },
	{ "protected_links", "protected hardlinks/symlinks", sc_protected_links, true },
	{ NULL, NULL, NULL, false },
};
