/* pc_scen_dirs.c: posix_compare scenarios about directories: mkdir/rmdir
 * errors, link counts, directory times, large listings with odd names, and
 * rename corner cases (plain, RENAME_NOREPLACE, RENAME_EXCHANGE). */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir/rmdir/unlink errors, modes, nlink accounting. */
static void sc_dirs_basic(void)
{
	PC_RC(mkdir("a", 0777));
	PC_STAT("a", PC_ST_NOSIZE);
	PC_RC(mkdir("a", 0755));
	PC_RC(mkdir("x/y", 0755));
	PC_RC(mkdir("a/b", 0755));
	PC_RC(mkdir("a/c/", 0755));
	PC_STAT("a", PC_ST_NOSIZE);
	PC_STAT(".", PC_ST_NOSIZE);
	PC_RC(rmdir("a"));
	PC_RC(rmdir("a/b/"));
	PC_STAT("a", PC_ST_NOSIZE);
	pc_puts("file", "f");
	PC_RC(rmdir("file"));
	PC_RC(unlink("a"));
	PC_RC(rmdir("a/."));
	PC_RC(rmdir("a/.."));
	PC_RC(rmdir("nope"));
	PC_RC(mkdir("file", 0755));
	PC_RC(mkdir("file/sub", 0755));
	PC_RC(mkdir("sticky", 01777));
	PC_STAT("sticky", PC_ST_NOSIZE);
	PC_RC(mkdir("sgid", 02755));
	PC_STAT("sgid", PC_ST_NOSIZE);
	PC_RC(mkdir("m700", 0700));
	PC_STAT("m700", PC_ST_NOSIZE);
	PC_RC(chmod("m700", 0555));
	PC_RC(mkdir("m700/in", 0755));
	PC_RC(rmdir("a/c"));
	PC_STAT("a", PC_ST_NOSIZE);
	PC_RC(rmdir("a"));
	PC_LS(".");
}

/* Directory mtime/ctime move on create, unlink, rename, link, mkdir. */
static void sc_dir_times(void)
{
	PC_RC(mkdir("d", 0755));
	PC_RC(mkdir("e", 0755));
	pc_settimes_t0("d");
	pc_puts("d/f", "x");
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("d");
	PC_RC(link("d/f", "d/g"));
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("d");
	PC_RC(rename("d/g", "d/h"));
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("d");
	pc_settimes_t0("e");
	PC_RC(rename("d/h", "e/h"));
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
	PC_STAT("e", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("e");
	PC_RC(unlink("e/h"));
	PC_STAT("e", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("e");
	PC_RC(mkdir("e/sub", 0755));
	PC_STAT("e", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("e");
	PC_RC(symlink("x", "e/sl"));
	PC_STAT("e", PC_ST_TIMES | PC_ST_NOSIZE);
	pc_settimes_t0("d");
	pc_puts("d/f", "overwrite");
	PC_STAT("d", PC_ST_TIMES | PC_ST_NOSIZE);
	PC_STAT("d/f", PC_ST_TIMES);
}

/* Append up to n names read from d to out (space separated). */
static int read_names(DIR *d, int n, char *out, size_t outsz)
{
	struct dirent *de;
	int got = 0;

	out[0] = '\0';
	while (got < n && (de = readdir(d)) != NULL) {
		strncat(out, de->d_name, outsz - strlen(out) - 2);
		strcat(out, " ");
		got++;
	}
	return got;
}

/* telldir/seekdir/rewinddir: the same names come back after seeking, a
 * rewind sees every entry, including one created meanwhile. */
static void dir_seek_check(const char *path)
{
	static char a[8192], b[8192];
	DIR *d = opendir(path);
	char name[64];
	long pos;
	int n = 0, fd;

	if (!d) {
		PC_NOTE("opendir(%s) = -1 %s", path, strerrorname_np(errno));
		return;
	}
	PC_NOTE("first read = %d", read_names(d, 50, a, sizeof(a)));
	pos = telldir(d);
	PC_NOTE("second read = %d", read_names(d, 20, a, sizeof(a)));
	seekdir(d, pos);
	PC_NOTE("after seekdir = %d", read_names(d, 20, b, sizeof(b)));
	PC_NOTE("same names after seekdir = %s", strcmp(a, b) == 0 ? "yes" : "no");
	snprintf(name, sizeof(name), "%s/created_while_open", path);
	fd = PC_FD(open(name, O_CREAT | O_WRONLY, 0644));
	if (fd >= 0)
		close(fd);
	rewinddir(d);
	while (readdir(d) != NULL)
		n++;
	PC_NOTE("entries after rewinddir = %d", n);
	closedir(d);
}

/* Listing of 300 entries with odd names, before and after removing some,
 * and names with spaces, UTF-8, newline and leading dots. */
static void sc_bigdir(void)
{
	static const char *odd[] = { "a b", "\xc3\xbc\xc3\xb1\xc3\xaf", "x\ny", ".hidden", "..dots",
				     "-dash", "tab\there", "q?*", NULL };
	char name[64];

	PC_RC(mkdir("big", 0755));
	for (int i = 0; i < 300; i++) {
		int fd;

		snprintf(name, sizeof(name), "big/entry_%03d_%s", i, i % 3 ? "file" : "other");
		fd = open(name, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			PC_NOTE("create %s = -1 %s", name, strerrorname_np(errno));
		else
			close(fd);
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "big/subdir_%d", i);
		PC_RC(mkdir(name, 0755));
	}
	PC_LS("big");
	PC_STAT("big", PC_ST_NOSIZE);
	for (int i = 0; i < 300; i += 2) {
		snprintf(name, sizeof(name), "big/entry_%03d_%s", i, i % 3 ? "file" : "other");
		if (unlink(name) < 0)
			PC_NOTE("unlink %s = -1 %s", name, strerrorname_np(errno));
	}
	PC_LS("big");
	dir_seek_check("big");
	for (int i = 0; odd[i]; i++)
		pc_puts(odd[i], odd[i]);
	PC_LS(".");
	for (int i = 0; odd[i]; i++)
		PC_CONTENT(odd[i]);
}

/* rename of files: over files, over self, between hard links of one file,
 * errors, open fds surviving, trailing slashes, cross-directory. */
static void sc_rename_files(void)
{
	int fd;

	pc_puts("a", "A");
	pc_puts("b", "B");
	PC_RC(rename("a", "b"));
	PC_CONTENT("b");
	PC_STAT("a", 0);
	PC_RC(rename("b", "b"));
	PC_CONTENT("b");
	PC_RC(link("b", "b2"));
	PC_RC(rename("b", "b2"));
	PC_STAT("b", 0);
	PC_STAT("b2", 0);
	PC_RC(rename("nope", "x"));
	PC_RC(rename("b", "nodir/x"));
	PC_RC(rename("b/", "x"));
	PC_RC(rename("b", "x/"));
	PC_RC(mkdir("d", 0755));
	PC_RC(rename("b", "d"));
	PC_RC(rename("b", "d/b"));
	PC_STAT("b2", 0);
	PC_STAT("d/b", 0);
	fd = PC_FD(open("d/b", O_RDWR));
	PC_RC(rename("d/b", "moved"));
	PC_RC(write(fd, "+", 1));
	PC_FSTAT(fd, 0);
	close(fd);
	PC_CONTENT("moved");
	PC_SAMEINO("moved", "b2");
	pc_puts("c", "C");
	fd = PC_FD(open("c", O_RDONLY));
	PC_RC(rename("moved", "c"));
	PC_FDCONTENT(fd);
	PC_FSTAT(fd, 0);
	close(fd);
	PC_STAT("c", 0);
	PC_RC(symlink("c", "sl"));
	PC_RC(rename("sl", "sl2"));
	PC_STAT("sl2", PC_ST_NOFOLLOW);
	PC_CONTENT("sl2");
	PC_RC(rename(".", "dot"));
	PC_RC(rename("c", "."));
	PC_RC(rename("c", ".."));
	PC_LS(".");
	PC_LS("d");
}

/* rename of directories: over empty and non-empty dirs, into own subtree,
 * over files, parent link counts. */
static void sc_rename_dirs(void)
{
	PC_RC(mkdir("a", 0755));
	PC_RC(mkdir("a/sub", 0755));
	pc_puts("a/f", "x");
	PC_RC(mkdir("empty", 0755));
	PC_RC(mkdir("full", 0755));
	pc_puts("full/f", "y");
	pc_puts("file", "z");
	PC_RC(rename("a", "full"));
	PC_RC(rename("a", "file"));
	PC_RC(rename("file", "empty"));
	PC_RC(rename("a", "a/sub"));
	PC_RC(rename("a", "a/sub/deeper"));
	PC_RC(rename("a/sub", "a/sub/x"));
	PC_RC(rename("a", "empty"));
	PC_STAT("a", PC_ST_NOSIZE);
	PC_STAT("empty", PC_ST_NOSIZE);
	PC_LS("empty");
	PC_STAT(".", PC_ST_NOSIZE);
	PC_RC(rename("empty/sub", "full/sub"));
	PC_STAT("empty", PC_ST_NOSIZE);
	PC_STAT("full", PC_ST_NOSIZE);
	PC_STAT("full/sub", PC_ST_NOSIZE);
	PC_RC(rename("full/", "full2/"));
	PC_RC(rename("full2", "full2/sub/.."));
	PC_RC(rename("full2/sub", "empty/sub2"));
	PC_RC(rename("empty", "full2/"));
	PC_RC(rename("full2", "empty/x"));
	PC_RC(rename("full2/f", "full2/g"));
	PC_LS(".");
	PC_LS("full2");
	PC_LS("empty");
}

/* renameat2 flags: RENAME_NOREPLACE and RENAME_EXCHANGE on files, dirs,
 * hard links and missing names. */
static void sc_rename_flags(void)
{
	pc_puts("a", "A");
	pc_puts("b", "B");
	PC_RC(mkdir("d", 0755));
	pc_puts("d/in", "I");
	PC_RC(renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
	PC_CONTENT("a");
	PC_RC(renameat2(AT_FDCWD, "a", AT_FDCWD, "c", RENAME_NOREPLACE));
	PC_STAT("a", 0);
	PC_CONTENT("c");
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "c", RENAME_EXCHANGE));
	PC_CONTENT("b");
	PC_CONTENT("c");
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "d", RENAME_EXCHANGE));
	PC_STAT("b", PC_ST_NOSIZE);
	PC_STAT("d", 0);
	PC_CONTENT("b/in");
	PC_CONTENT("d");
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "missing", RENAME_EXCHANGE));
	PC_RC(renameat2(AT_FDCWD, "missing", AT_FDCWD, "b", RENAME_EXCHANGE));
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "c", RENAME_EXCHANGE | RENAME_NOREPLACE));
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "b/in", RENAME_EXCHANGE));
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "c", 0x80));
	PC_RC(link("c", "c2"));
	PC_RC(renameat2(AT_FDCWD, "c", AT_FDCWD, "c2", RENAME_NOREPLACE));
	PC_RC(renameat2(AT_FDCWD, "c", AT_FDCWD, "c2", RENAME_EXCHANGE));
	PC_STAT("c", 0);
	PC_STAT("c2", 0);
	PC_RC(mkdir("e", 0755));
	PC_RC(mkdir("e/sub", 0755));
	PC_RC(renameat2(AT_FDCWD, "b", AT_FDCWD, "e/sub", RENAME_EXCHANGE));
	PC_STAT("b", PC_ST_NOSIZE);
	PC_STAT("e/sub", PC_ST_NOSIZE);
	PC_STAT("e", PC_ST_NOSIZE);
	PC_RC(renameat2(AT_FDCWD, "e", AT_FDCWD, "b", RENAME_NOREPLACE));
	PC_LS(".");
	PC_LS("e");
	PC_LS("e/sub");
}

const struct pc_scenario pc_dirs_scenarios[] = {
	{ "dirs_basic", "mkdir/rmdir errors, modes, nlink", sc_dirs_basic, false },
	{ "dir_times", "directory mtime/ctime after entry changes", sc_dir_times, false },
	{ "bigdir", "300-entry listings, odd names", sc_bigdir, false },
	{ "rename_files", "rename of files: over files, links, errors, open fds", sc_rename_files, false },
	{ "rename_dirs", "rename of dirs: over dirs, into subtree, nlink", sc_rename_dirs, false },
	{ "rename_flags", "RENAME_NOREPLACE and RENAME_EXCHANGE", sc_rename_flags, false },
	{ NULL, NULL, NULL, false },
};
