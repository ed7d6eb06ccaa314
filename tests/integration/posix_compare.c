/* posix_compare: runs a fixed list of POSIX behaviour scenarios in two
 * directories, a plain one (the reference) and one through a mount, and
 * compares what each operation returned: return values, errno, stat fields,
 * times (classified, see pc_trace.h), sorted listings, xattrs, locks, sparse
 * maps, permission errors as non-root. Every divergence is printed with the
 * source line of the operation; the exit status is 1 if there was any.
 *
 *   posix_compare [--backing DIR] [--only a,b] [--skip a,b] [--root-only] [--list]
 *                 [-v] DIR_NATIVE DIR_MOUNTED
 *
 * Needs root (scenarios switch to uid 65534 and 1234 to check EACCES/EPERM;
 * mount with allow_other). --root-only leaves those scenarios out, for a
 * mount private to root. Two plain directories must compare equal: that is
 * the suite's own sanity check. --skip leaves named scenarios out (a mount
 * mode with a documented divergence: -o passthrough and o_append).
 *
 * The user.shadow.* xattr namespace is reserved by shadowfs, so it differs on
 * purpose: listings leave it out on both sides, and with --backing (the
 * directory DIR_MOUNTED is a view of) a separate check asserts that such
 * names set through the mount never reach the backing files and that ones
 * planted in a backing file are not shown through the mount, while ordinary
 * user.* xattrs do pass through.
 */
#include "pc_scenarios.h"
#include "pc_trace.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const struct pc_scenario *const pc_groups[] = {
	pc_files_scenarios, pc_dirs_scenarios, pc_meta_scenarios,
	pc_locks_scenarios, pc_sparse_scenarios, pc_perms_scenarios,
	pc_tmpfile_scenarios,
};

struct pc_lines {
	char *buf;
	char **line;
	size_t n;
	bool abnormal; /* the scenario process crashed, timed out or failed */
};

static bool verbose;

/* Longest time one scenario may take in one directory (they take < 1 s). */
#define PC_SCENARIO_MS 45000

/* Run one scenario in its own child with cwd DIR; returns its trace. */
static int run_scenario(const struct pc_scenario *s, const char *dir, struct pc_lines *out)
{
	int mfd = memfd_create("pc_trace", 0);
	struct stat st;
	pid_t pid;
	int status;

	if (mfd < 0)
		return -errno;
	/* Everything that touches the directory happens in the child, so a
	 * hung mount cannot hang the driver. */
	pid = fork();
	if (pid < 0) {
		close(mfd);
		return -errno;
	}
	if (pid == 0) {
		pc_trace_fd = mfd;
		if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0 || chdir(dir) < 0) {
			PC_NOTE("[driver] cannot create and enter %s: %s", dir, strerror(errno));
			_exit(97);
		}
		umask(022);
		alarm(30);
		s->run();
		_exit(0);
	}
	/* A scenario stuck in a FUSE request cannot be killed (the kernel
	 * waits for the daemon's answer): give up on the whole run then. */
	for (int ms = 0;; ms += 20) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (ms >= PC_SCENARIO_MS) {
			kill(pid, SIGKILL);
			printf("FAIL %s: no answer after %d s in %s (the mount is hung?); "
			       "giving up\n", s->name, PC_SCENARIO_MS / 1000, dir);
			exit(1);
		}
		usleep(20000);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char msg[128];
		int n;

		if (WIFSIGNALED(status))
			n = snprintf(msg, sizeof(msg), "[driver] scenario process killed by signal %s\n",
				     sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
		else
			n = snprintf(msg, sizeof(msg), "[driver] scenario process exited with %d\n",
				     WEXITSTATUS(status));
		out->abnormal = true;
		lseek(mfd, 0, SEEK_END);
		if (write(mfd, msg, (size_t)n) != n)
			fprintf(stderr, "posix_compare: cannot append to trace\n");
	}
	if (fstat(mfd, &st) < 0) {
		close(mfd);
		return -errno;
	}
	out->buf = calloc(1, (size_t)st.st_size + 1);
	if (!out->buf || pread(mfd, out->buf, (size_t)st.st_size, 0) != st.st_size) {
		close(mfd);
		return -EIO;
	}
	close(mfd);
	out->n = 0;
	out->line = calloc((size_t)st.st_size + 1, sizeof(char *));
	for (char *p = out->buf, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		out->line[out->n++] = p;
		if (!nl)
			break;
		*nl = '\0';
	}
	return 0;
}

static void free_lines(struct pc_lines *l)
{
	free(l->buf);
	free(l->line);
	l->buf = NULL;
	l->line = NULL;
	l->n = 0;
}

/* Compare traces; print differences; returns the number of differing lines. */
static size_t compare(const struct pc_scenario *s, const struct pc_lines *a,
		      const struct pc_lines *b)
{
	size_t n = a->n > b->n ? a->n : b->n, diffs = 0;

	for (size_t i = 0; i < n; i++) {
		const char *x = i < a->n ? a->line[i] : "(no line)";
		const char *y = i < b->n ? b->line[i] : "(no line)";

		if (strcmp(x, y) == 0)
			continue;
		if (diffs == 0)
			printf("DIFF %s (%s):\n", s->name, s->what);
		if (diffs < 40)
			printf("  native : %.600s\n  mounted: %.600s\n", x, y);
		diffs++;
	}
	if (diffs > 40)
		printf("  ... %zu more differing lines\n", diffs - 40);
	return diffs;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Whether NAME is in the comma-separated LIST. */
static bool listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		if (l == len && strncmp(p, name, len) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

static bool selected(const char *only, const char *skip, const char *name)
{
	return (!only || listed(only, name)) && !listed(skip, name);
}

/* Whether uid 65534 can search DIR (needed by the non-root scenarios). */
static bool others_can_search(const char *dir)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(PC_NOBODY) < 0 || setuid(PC_NOBODY) < 0)
			_exit(2);
		_exit(access(dir, X_OK) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Whether PATH lists the name EXACT or, with EXACT NULL, any user.shadow.*
 * name but user.shadow.id: that one is the file's stable id, which shadowfs
 * itself stores in BACKING when it records or tunes the file (README,
 * fs/file_id.h), at a moment of its own choosing. */
static bool has_shadow_name(const char *path, const char *exact)
{
	char list[65536];
	ssize_t len = llistxattr(path, list, sizeof(list));

	for (char *p = list; len > 0 && p < list + len; p += strlen(p) + 1) {
		if (exact ? strcmp(p, exact) == 0
			  : strncmp(p, "user.shadow.", 12) == 0 && strcmp(p, "user.shadow.id") != 0) {
			printf("  %s lists %s\n", path, p);
			return true;
		}
	}
	return false;
}

/* The reserved user.shadow.* namespace (see the file comment). Returns the
 * number of failed assertions. */
static int check_reserved(const char *mwork, const char *bwork)
{
	char mf[PATH_MAX + 32], bf[PATH_MAX + 32], val[64];
	const char *planted = "user.shadow.posix_compare_planted";
	int fails = 0, fd, rc;
	ssize_t n;

	snprintf(mf, sizeof(mf), "%s/reserved_ns_file", mwork);
	snprintf(bf, sizeof(bf), "%s/reserved_ns_file", bwork);
	fd = open(mf, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || access(bf, F_OK) < 0) {
		printf("FAIL reserved_ns: file created through the mount is not in the backing "
		       "directory (%s)\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	close(fd);
	rc = setxattr(mf, "user.shadow.posix_compare_probe", "1", 1, 0);
	printf("info reserved_ns: setxattr(user.shadow.posix_compare_probe) through the mount = %d %s\n",
	       rc, rc ? strerrorname_np(errno) : "");
	rc = setxattr(mf, "user.shadow.pin", "1", 1, 0);
	printf("info reserved_ns: setxattr(user.shadow.pin=1) through the mount = %d %s\n", rc,
	       rc ? strerrorname_np(errno) : "");
	if (has_shadow_name(bf, NULL)) {
		printf("FAIL reserved_ns: a user.shadow.* name set through the mount reached the "
		       "backing file\n");
		fails++;
	}
	if (setxattr(mf, "user.pc_pass", "through", 7, 0) < 0 ||
	    (n = getxattr(bf, "user.pc_pass", val, sizeof(val))) != 7 ||
	    memcmp(val, "through", 7) != 0) {
		printf("FAIL reserved_ns: an ordinary user.* xattr set through the mount is not in "
		       "the backing file\n");
		fails++;
	}
	if (setxattr(bf, planted, "planted", 7, 0) < 0) {
		printf("FAIL reserved_ns: cannot plant %s in the backing file: %s\n", planted,
		       strerror(errno));
		return fails + 1;
	}
	n = getxattr(mf, planted, val, sizeof(val));
	if (n == 7 && memcmp(val, "planted", 7) == 0) {
		printf("FAIL reserved_ns: %s planted in the backing file is returned through the "
		       "mount\n", planted);
		fails++;
	}
	if (has_shadow_name(mf, planted)) {
		printf("FAIL reserved_ns: %s planted in the backing file is listed through the "
		       "mount\n", planted);
		fails++;
	}
	removexattr(bf, planted);
	if (!fails)
		printf("ok   reserved_ns (user.shadow.* stays out of the backing files, planted "
		       "names stay hidden, user.* passes)\n");
	return fails;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: posix_compare [--backing DIR] [--only NAME,...] [--skip NAME,...] "
		   "[--root-only] [--list] [-v] DIR_NATIVE DIR_MOUNTED\n"
		   "  Runs the scenarios in DIR_NATIVE (reference) and DIR_MOUNTED and prints\n"
		   "  every divergence. --backing names the directory DIR_MOUNTED mirrors, for\n"
		   "  the user.shadow.* reserved-namespace check. --root-only leaves out the\n"
		   "  scenarios that switch to other users (for a mount without allow_other),\n"
		   "  --skip the named ones.\n"
		   "  Needs root.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "backing", required_argument, NULL, 'b' }, { "only", required_argument, NULL, 'o' },
		{ "list", no_argument, NULL, 'l' },	     { "verbose", no_argument, NULL, 'v' },
		{ "root-only", no_argument, NULL, 'r' },   { "skip", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },	     { NULL, 0, NULL, 0 },
	};
	const char *backing = NULL, *only = NULL, *skip = NULL;
	bool root_only = false;
	char nwork[PATH_MAX], mwork[PATH_MAX], bwork[PATH_MAX];
	size_t nscen = 0, nchecks = 0, ndiff_scen = 0, ndiff_lines = 0;
	struct timespec t0, t1;
	int c, fails = 0;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'b': backing = optarg; break;
		case 'o': only = optarg; break;
		case 's': skip = optarg; break;
		case 'v': verbose = true; break;
		case 'r': root_only = true; break;
		case 'l':
			for (size_t g = 0; g < sizeof(pc_groups) / sizeof(pc_groups[0]); g++)
				for (const struct pc_scenario *s = pc_groups[g]; s->name; s++)
					printf("%-18s %s\n", s->name, s->what);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	/* Only the scenarios of other users switch uids; the rest run as the
	 * caller (a non-root user compares what it may do on its own mount). */
	if (geteuid() != 0 && !root_only) {
		fprintf(stderr, "posix_compare: must run as root (scenarios switch to uid %d and %d; "
				"--root-only runs as any user)\n",
			PC_NOBODY, PC_OTHER);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pc_run_start = time(NULL);
	snprintf(nwork, sizeof(nwork), "%s/posix_compare.%d", argv[optind], (int)getpid());
	snprintf(mwork, sizeof(mwork), "%s/posix_compare.%d", argv[optind + 1], (int)getpid());
	if (backing)
		snprintf(bwork, sizeof(bwork), "%s/posix_compare.%d", backing, (int)getpid());
	for (int i = 0; i < 2; i++) {
		const char *w = i ? mwork : nwork;

		if (mkdir(w, 0755) < 0 || chmod(w, 0755) < 0) {
			fprintf(stderr, "posix_compare: cannot create %s: %s\n", w, strerror(errno));
			return 2;
		}
		if (!root_only && !others_can_search(w)) {
			fprintf(stderr, "posix_compare: %s is not searchable by uid %d: its parents "
					"need o+x (and the mount allow_other)\n", w, PC_NOBODY);
			rm_tree(nwork);
			rm_tree(mwork);
			return 2;
		}
	}
	if (backing && access(bwork, F_OK) < 0) {
		fprintf(stderr, "posix_compare: --backing %s does not mirror %s (no %s)\n", backing,
			argv[optind + 1], bwork);
		rm_tree(nwork);
		rm_tree(mwork);
		return 2;
	}
	printf("posix_compare: native=%s mounted=%s\n", nwork, mwork);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t g = 0; g < sizeof(pc_groups) / sizeof(pc_groups[0]); g++) {
		for (const struct pc_scenario *s = pc_groups[g]; s->name; s++) {
			struct pc_lines a = { 0 }, b = { 0 };
			char da[PATH_MAX + 64], db[PATH_MAX + 64];
			size_t d;
			int ra, rb;

			if (!selected(only, skip, s->name) || (root_only && s->other_users))
				continue;
			snprintf(da, sizeof(da), "%s/%s", nwork, s->name);
			snprintf(db, sizeof(db), "%s/%s", mwork, s->name);
			ra = run_scenario(s, da, &a);
			rb = run_scenario(s, db, &b);
			nscen++;
			if (ra < 0 || rb < 0) {
				printf("FAIL %s: cannot run scenario: native %s, mounted %s\n", s->name,
				       strerror(-ra), strerror(-rb));
				fails++;
				continue;
			}
			nchecks += a.n;
			d = compare(s, &a, &b);
			if (a.abnormal || b.abnormal) {
				printf("FAIL %s: scenario process ended abnormally (%s%s)\n", s->name,
				       a.abnormal ? "native " : "", b.abnormal ? "mounted" : "");
				fails++;
			}
			if (d) {
				ndiff_scen++;
				ndiff_lines += d;
			} else if (!a.abnormal && !b.abnormal) {
				printf("ok   %-18s %4zu checks  %s\n", s->name, a.n, s->what);
			}
			if (verbose)
				for (size_t i = 0; i < a.n; i++)
					printf("     %s\n", a.line[i]);
			free_lines(&a);
			free_lines(&b);
		}
	}
	if (backing && !only)
		fails += check_reserved(mwork, bwork);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	rm_tree(nwork);
	rm_tree(mwork);
	printf("posix_compare: %zu scenarios, %zu checks, %zu divergent scenarios (%zu lines), "
	       "%d other failures, %.1f s\n",
	       nscen, nchecks, ndiff_scen, ndiff_lines, fails,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (nscen == 0) {
		printf("posix_compare: no scenario selected\n");
		return 2;
	}
	return ndiff_scen || fails ? 1 : 0;
}
