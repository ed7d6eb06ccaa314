/* pc_scen_meta.c: posix_compare scenarios about metadata as root: times
 * (utimensat incl. UTIME_NOW/UTIME_OMIT, which ops move which time),
 * chmod/chown, access(), statfs, xattrs in user/trusted/security and POSIX
 * ACLs. */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* utimensat/futimens: explicit ns times, UTIME_NOW, UTIME_OMIT, NULL,
 * invalid nsec, directories. */
static void sc_utimens(void)
{
	struct timespec t01[2] = { { PC_T0_SEC, PC_T0_NSEC }, { PC_T1_SEC, PC_T1_NSEC } };
	struct timespec now_omit[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	struct timespec omit2[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
	struct timespec exact[2] = { { 1234567890, 987654321 }, { 1234567891, 1 } };
	struct timespec bad[2] = { { 0, 1000000000 }, { 0, 0 } };
	struct timespec old[2] = { { -1, 0 }, { 0, 0 } };
	struct timespec ct;
	int fd;

	pc_puts("f", "x");
	PC_RC(utimensat(AT_FDCWD, "f", t01, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "f", now_omit, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "f", t01, 0));
	ct = pc_ctime("f");
	pc_tick();
	PC_RC(utimensat(AT_FDCWD, "f", omit2, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_CTIME_ADVANCED("f", ct);
	PC_RC(utimensat(AT_FDCWD, "f", NULL, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "f", exact, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "f", bad, 0));
	PC_RC(utimensat(AT_FDCWD, "f", old, 0));
	PC_STAT("f", PC_ST_TIMES);
	PC_RC(utimensat(AT_FDCWD, "nope", NULL, 0));
	fd = PC_FD(open("f", O_RDONLY));
	PC_RC(futimens(fd, t01));
	PC_FSTAT(fd, PC_ST_TIMES);
	now_omit[0].tv_nsec = UTIME_NOW;
	now_omit[1].tv_nsec = UTIME_OMIT;
	PC_RC(futimens(fd, now_omit));
	PC_FSTAT(fd, PC_ST_TIMES);
	close(fd);
	PC_RC(mkdir("d", 0755));
	PC_RC(utimensat(AT_FDCWD, "d", t01, 0));
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
}

/* Which operations move atime/mtime/ctime of a file (times preset to T0). */
static void sc_times_ops(void)
{
	struct timespec ct;
	int fd;

	pc_puts("f", "0123456789");
	pc_settimes_t0("f");
	fd = PC_FD(open("f", O_WRONLY));
	PC_RC(write(fd, "w", 1));
	close(fd);
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(chmod("f", 0600));
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(chown("f", PC_OTHER, PC_OTHER));
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(link("f", "g"));
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(rename("g", "h"));
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	PC_RC(setxattr("f", "user.t", "v", 1, 0));
	PC_STAT("f", PC_ST_TIMES);
	pc_settimes_t0("f");
	fd = PC_FD(open("f", O_RDWR));
	PC_RC(fallocate(fd, 0, 0, 100000));
	PC_FSTAT(fd, PC_ST_TIMES);
	close(fd);
	pc_settimes_t0("f");
	ct = pc_ctime("f");
	pc_tick();
	PC_OPEN_CLOSE("f", O_RDONLY);
	PC_STAT("f", PC_ST_TIMES | PC_ST_NOSIZE);
	PC_CTIME_ADVANCED("f", ct);
	ct = pc_ctime("f");
	pc_tick();
	PC_RC(chmod("f", 0600));
	PC_CTIME_ADVANCED("f", ct);
	ct = pc_ctime("f");
	pc_tick();
	PC_RC(truncate("f", 3));
	PC_CTIME_ADVANCED("f", ct);
	ct = pc_ctime("f");
	pc_tick();
	PC_RC(removexattr("f", "user.t"));
	PC_CTIME_ADVANCED("f", ct);
	pc_settimes_t0("f");
	fd = PC_FD(open("f", O_WRONLY));
	PC_RC(pwrite(fd, "", 0, 0));
	close(fd);
	PC_STAT("f", PC_ST_TIMES);
}

/* chmod/fchmod/chown/fchownat as root: all mode bits, set-id clearing on
 * chown, -1 arguments, directories. */
static void sc_chmod_chown(void)
{
	int fd;

	pc_puts("f", "x");
	PC_RC(chmod("f", 07777));
	PC_STAT("f", 0);
	PC_RC(chmod("f", 0));
	PC_STAT("f", 0);
	fd = PC_FD(open("f", O_RDONLY));
	PC_RC(fchmod(fd, 0640));
	PC_FSTAT(fd, 0);
	close(fd);
	PC_RC(chmod("nope", 0644));
	PC_RC(chown("f", PC_OTHER, PC_OTHER));
	PC_STAT("f", 0);
	PC_RC(chown("f", -1, 0));
	PC_STAT("f", 0);
	PC_RC(chown("f", 0, -1));
	PC_STAT("f", 0);
	PC_RC(chown("f", -1, -1));
	PC_RC(chmod("f", 06755));
	PC_RC(chown("f", PC_NOBODY, -1));
	PC_STAT("f", 0);
	PC_RC(chmod("f", 06745));
	PC_RC(chown("f", -1, PC_OTHER));
	PC_STAT("f", 0);
	PC_RC(chmod("f", 06755));
	PC_RC(chown("f", -1, -1));
	PC_STAT("f", 0);
	PC_RC(mkdir("d", 0755));
	PC_RC(chmod("d", 03777));
	PC_RC(chown("d", PC_OTHER, PC_OTHER));
	PC_STAT("d", PC_ST_NOSIZE);
	fd = PC_FD(open("d", O_RDONLY));
	PC_RC(fchown(fd, PC_NOBODY, PC_NOBODY));
	PC_FSTAT(fd, PC_ST_NOSIZE);
	close(fd);
	PC_RC(symlink("f", "l"));
	PC_RC(fchownat(AT_FDCWD, "l", PC_OTHER, PC_OTHER, AT_SYMLINK_NOFOLLOW));
	PC_STAT("l", PC_ST_NOFOLLOW);
	PC_RC(chown("l", 0, 0));
	PC_STAT("f", 0);
	PC_RC(chown("f", 4000000000u, 4000000000u));
	PC_STAT("f", 0);
}

/* access/faccessat as root: modes without any x bit, F_OK, nofollow. */
static void sc_access_root(void)
{
	static const mode_t modes[] = { 0, 0100, 0010, 0001, 0644, 0755 };
	static const int masks[] = { F_OK, R_OK, W_OK, X_OK, R_OK | W_OK | X_OK };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "m%04o", (unsigned)modes[i]);
		pc_puts(name, "x");
		chmod(name, modes[i]);
		for (size_t j = 0; j < sizeof(masks) / sizeof(masks[0]); j++) {
			errno = 0;
			int rc = access(name, masks[j]);

			PC_NOTE("access(%s, %d) = %d %s", name, masks[j], rc,
				rc ? strerrorname_np(errno) : "");
			rc = faccessat(AT_FDCWD, name, masks[j], AT_EACCESS);
			PC_NOTE("faccessat(%s, %d, AT_EACCESS) = %d %s", name, masks[j], rc,
				rc ? strerrorname_np(errno) : "");
		}
	}
	PC_RC(mkdir("d", 0));
	PC_RC(access("d", X_OK));
	PC_RC(access("d", R_OK | W_OK));
	PC_RC(access("nope", F_OK));
	PC_RC(symlink("missing", "dangle"));
	PC_RC(access("dangle", F_OK));
	PC_RC(faccessat(AT_FDCWD, "dangle", F_OK, AT_SYMLINK_NOFOLLOW));
	PC_RC(access("m0644/x", F_OK));
	PC_RC(access("m0644", 0x40));
}

/* statfs: internal consistency and the values that do not move. */
static void sc_statfs(void)
{
	struct statfs s;
	struct statvfs v;

	pc_puts("f", "x");
	if (PC_RC(statfs("f", &s)) == 0) {
		PC_NOTE("bsize>0=%d blocks>0=%d bfree<=blocks=%d bavail<=bfree=%d files>0=%d "
			"ffree<=files=%d namelen=%ld",
			s.f_bsize > 0, s.f_blocks > 0, s.f_bfree <= s.f_blocks,
			s.f_bavail <= s.f_bfree, s.f_files > 0, s.f_ffree <= s.f_files,
			(long)s.f_namelen);
	}
	if (PC_RC(statvfs(".", &v)) == 0)
		PC_NOTE("statvfs namemax=%lu frsize>0=%d readonly=%d", v.f_namemax, v.f_frsize > 0,
			!!(v.f_flag & ST_RDONLY));
	PC_RC(statfs("nope", &s));
}

/* user.* xattrs: create/replace flags, sizes, ERANGE, E2BIG, binary and
 * empty values, fd variants, on dirs, symlinks and fifos. */
static void sc_xattr_user(void)
{
	char buf[70000], big[70000];
	int fd;

	pc_puts("f", "x");
	PC_RC(setxattr("f", "user.a", "1", 1, 0));
	PC_RC(getxattr("f", "user.a", NULL, 0));
	memset(buf, 0, sizeof(buf));
	PC_RC(getxattr("f", "user.a", buf, sizeof(buf)));
	PC_NOTE("value = %s", buf);
	PC_RC(setxattr("f", "user.long", "0123456789", 10, 0));
	PC_RC(getxattr("f", "user.long", buf, 4));
	PC_RC(setxattr("f", "user.a", "2", 1, XATTR_CREATE));
	PC_RC(setxattr("f", "user.b", "2", 1, XATTR_REPLACE));
	PC_RC(setxattr("f", "user.a", "22", 2, XATTR_REPLACE));
	PC_RC(setxattr("f", "user.a", "22", 2, XATTR_CREATE | XATTR_REPLACE));
	PC_RC(getxattr("f", "user.missing", buf, sizeof(buf)));
	PC_RC(setxattr("f", "user.empty", "", 0, 0));
	PC_RC(getxattr("f", "user.empty", buf, sizeof(buf)));
	pc_pattern(big, sizeof(big), 9);
	big[3] = 0;
	PC_RC(setxattr("f", "user.bin", big, 256, 0));
	PC_RC(getxattr("f", "user.bin", buf, sizeof(buf)));
	PC_RC(memcmp(buf, big, 256) == 0);
	PC_RC(setxattr("f", "user.big", big, 3000, 0));
	PC_RC(getxattr("f", "user.big", buf, sizeof(buf)));
	PC_RC(setxattr("f", "user.huge", big, 65537, 0));
	memset(buf, 'n', 260);
	memcpy(buf, "user.", 5);
	buf[256] = '\0';
	PC_RC(setxattr("f", buf, "v", 1, 0));
	PC_RC(setxattr("f", "", "v", 1, 0));
	PC_RC(setxattr("f", "user.", "v", 1, 0));
	PC_RC(setxattr("f", "bogus.ns", "v", 1, 0));
	PC_RC(getxattr("f", "bogus.ns", buf, sizeof(buf)));
	PC_RC(listxattr("f", NULL, 0));
	PC_RC(listxattr("f", buf, 3));
	PC_XATTRS("f");
	PC_RC(removexattr("f", "user.a"));
	PC_RC(removexattr("f", "user.a"));
	PC_RC(removexattr("nope", "user.a"));
	PC_XATTRS("f");
	fd = PC_FD(open("f", O_RDONLY));
	PC_RC(fsetxattr(fd, "user.fd", "viafd", 5, 0));
	PC_RC(fgetxattr(fd, "user.fd", buf, sizeof(buf)));
	PC_RC(flistxattr(fd, NULL, 0));
	PC_RC(fremovexattr(fd, "user.big"));
	close(fd);
	PC_XATTRS("f");
	PC_RC(mkdir("d", 0755));
	PC_RC(setxattr("d", "user.dir", "d", 1, 0));
	PC_XATTRS("d");
	PC_RC(symlink("f", "l"));
	PC_RC(lsetxattr("l", "user.onlink", "v", 1, 0));
	PC_RC(setxattr("l", "user.through", "v", 1, 0));
	PC_LXATTRS("l");
	PC_XATTRS("l");
	PC_RC(mkfifo("p", 0644));
	PC_RC(setxattr("p", "user.fifo", "v", 1, 0));
	PC_LXATTRS("p");
	PC_RC(link("f", "f2"));
	PC_XATTRS("f2");
}

/* trusted.* and security.* xattrs as root, security.capability validation. */
static void sc_xattr_priv(void)
{
	char buf[256];
	/* VFS_CAP_REVISION_2 with CAP_NET_RAW permitted. */
	unsigned char cap[20] = { 0x00, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00 };

	pc_puts("f", "x");
	PC_RC(setxattr("f", "trusted.t", "tv", 2, 0));
	PC_RC(getxattr("f", "trusted.t", buf, sizeof(buf)));
	PC_RC(setxattr("f", "security.s", "sv", 2, 0));
	PC_RC(getxattr("f", "security.s", buf, sizeof(buf)));
	PC_RC(setxattr("f", "security.capability", "junk", 4, 0));
	PC_RC(setxattr("f", "security.capability", cap, sizeof(cap), 0));
	PC_RC(getxattr("f", "security.capability", buf, sizeof(buf)));
	PC_XATTRS("f");
	PC_RC(chown("f", PC_OTHER, -1));
	PC_RC(getxattr("f", "security.capability", buf, sizeof(buf)));
	PC_RC(removexattr("f", "trusted.t"));
	PC_RC(setxattr("f", "system.bogus", "v", 1, 0));
	PC_XATTRS("f");
	PC_RC(mkdir("d", 0755));
	PC_RC(setxattr("d", "trusted.dir", "v", 1, 0));
	PC_XATTRS("d");
}

/* POSIX ACLs (system.posix_acl_*): an extended ACL grants uid PC_OTHER
 * write access that the mode bits deny; default ACLs are inherited. */
static void sc_posix_acl(void)
{
	/* Little-endian posix_acl_xattr: version 2, then (tag, perm, id). */
	static const unsigned char acl[] = {
		2, 0, 0, 0,
		0x01, 0, 0x06, 0, 0xff, 0xff, 0xff, 0xff,  /* USER_OBJ rw- */
		0x02, 0, 0x06, 0, 0xd2, 0x04, 0, 0,        /* USER 1234 rw- */
		0x04, 0, 0x04, 0, 0xff, 0xff, 0xff, 0xff,  /* GROUP_OBJ r-- */
		0x10, 0, 0x06, 0, 0xff, 0xff, 0xff, 0xff,  /* MASK rw- */
		0x20, 0, 0x00, 0, 0xff, 0xff, 0xff, 0xff,  /* OTHER --- */
	};
	unsigned char buf[256];

	pc_puts("f", "x");
	PC_RC(setxattr("f", "system.posix_acl_access", acl, sizeof(acl), 0));
	PC_STAT("f", 0);
	PC_RC(getxattr("f", "system.posix_acl_access", buf, sizeof(buf)));
	pc_as_user(PC_OTHER, PC_OTHER, 0, NULL);
	PC_OPEN_CLOSE("f", O_WRONLY);
	pc_as_root();
	pc_as_user(PC_NOBODY, PC_NOBODY, 0, NULL);
	PC_FD(open("f", O_RDONLY));
	pc_as_root();
	PC_RC(mkdir("d", 0755));
	PC_RC(setxattr("d", "system.posix_acl_default", acl, sizeof(acl), 0));
	pc_puts("d/inherit", "y");
	PC_STAT("d/inherit", 0);
	/* A default ACL replaces the umask (022 here) for new entries. */
	PC_OPEN_CLOSE("d/um", O_CREAT | O_WRONLY, 0666);
	PC_STAT("d/um", 0);
	PC_RC(mkdir("d/sub", 0777));
	PC_STAT("d/sub", PC_ST_NOSIZE);
	PC_RC(getxattr("d/sub", "system.posix_acl_default", buf, sizeof(buf)));
	PC_OPEN_CLOSE("um_noacl", O_CREAT | O_WRONLY, 0666);
	PC_STAT("um_noacl", 0);
	PC_RC(getxattr("d/inherit", "system.posix_acl_access", buf, sizeof(buf)));
	PC_RC(removexattr("f", "system.posix_acl_access"));
	PC_STAT("f", 0);
}

/* Default ACLs replace the caller's umask for new files, directories and
 * nodes; without one the umask applies. Root only, so that it also runs on
 * a mount private to root (where the kernel does not check permissions and
 * only BACKING applies the umask or the ACL). */
static void sc_acl_umask(void)
{
	/* Default ACL: USER_OBJ rwx, GROUP_OBJ rw-, MASK rwx, OTHER r-x. */
	static const unsigned char dacl[] = {
		2, 0, 0, 0,
		0x01, 0, 0x07, 0, 0xff, 0xff, 0xff, 0xff,
		0x04, 0, 0x06, 0, 0xff, 0xff, 0xff, 0xff,
		0x10, 0, 0x07, 0, 0xff, 0xff, 0xff, 0xff,
		0x20, 0, 0x05, 0, 0xff, 0xff, 0xff, 0xff,
	};
	static const mode_t umasks[] = { 022, 077, 0 };
	unsigned char buf[256];
	char name[64];

	PC_RC(mkdir("acl", 0755));
	PC_RC(setxattr("acl", "system.posix_acl_default", dacl, sizeof(dacl), 0));
	PC_RC(getxattr("acl", "system.posix_acl_default", buf, sizeof(buf)));
	PC_RC(mkdir("plain", 0755));
	for (size_t u = 0; u < sizeof(umasks) / sizeof(umasks[0]); u++) {
		umask(umasks[u]);
		for (int d = 0; d < 2; d++) {
			const char *dir = d ? "acl" : "plain";

			snprintf(name, sizeof(name), "%s/f%zu", dir, u);
			PC_OPEN_CLOSE(name, O_CREAT | O_WRONLY, 0666);
			PC_STAT(name, 0);
			PC_RC(getxattr(name, "system.posix_acl_access", buf, sizeof(buf)));
			snprintf(name, sizeof(name), "%s/g%zu", dir, u);
			PC_OPEN_CLOSE(name, O_CREAT | O_EXCL | O_RDWR, 0640);
			PC_STAT(name, 0);
			snprintf(name, sizeof(name), "%s/d%zu", dir, u);
			PC_RC(mkdir(name, 0777));
			PC_STAT(name, PC_ST_NOSIZE);
			PC_RC(getxattr(name, "system.posix_acl_default", buf, sizeof(buf)));
			snprintf(name, sizeof(name), "%s/p%zu", dir, u);
			PC_RC(mknod(name, S_IFIFO | 0666, 0));
			PC_STAT(name, 0);
		}
	}
	umask(022);
	/* chmod through the mount updates the ACL's mask entry. */
	PC_RC(chmod("acl/f0", 0600));
	PC_STAT("acl/f0", 0);
	PC_RC(getxattr("acl/f0", "system.posix_acl_access", buf, sizeof(buf)));
	PC_RC(removexattr("acl", "system.posix_acl_default"));
	PC_OPEN_CLOSE("acl/after", O_CREAT | O_WRONLY, 0666);
	PC_STAT("acl/after", 0);
}

const struct pc_scenario pc_meta_scenarios[] = {
	{ "utimens", "utimensat/futimens incl. UTIME_NOW/UTIME_OMIT", sc_utimens, false },
	{ "times_ops", "which ops move atime/mtime/ctime", sc_times_ops, false },
	{ "chmod_chown", "chmod/chown as root, set-id clearing", sc_chmod_chown, false },
	{ "access_root", "access/faccessat as root", sc_access_root, false },
	{ "statfs", "statfs/statvfs consistency", sc_statfs, false },
	{ "xattr_user", "user.* xattrs: flags, sizes, errors, node types", sc_xattr_user, false },
	{ "xattr_priv", "trusted.* and security.* xattrs as root", sc_xattr_priv, false },
	{ "posix_acl", "POSIX ACL xattrs grant and inherit access", sc_posix_acl, true },
	{ "acl_umask", "default ACLs replace the umask, ACL xattrs (root)", sc_acl_umask, false },
	{ NULL, NULL, NULL, false },
};
