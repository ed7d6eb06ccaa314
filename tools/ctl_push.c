/* shadowctl push: replicate one file to a shadowd by hand (what the control
 * loop does when it places a shadow), with progress.
 *   shadowctl push FILE H:P [--id UUID] [--version N] [--full] [--keep-old]
 *                  [--progress|--quiet] [TLS flags]
 * The file id defaults to FILE's user.shadow.id (give the path under BACKING:
 * through the mount user.shadow.* is reserved), the version to FILE's mtime
 * in nanoseconds. sync_replicate() chooses: nothing (the host is current), a
 * librsync delta against the host's stale copy, or a full copy. Prints one
 * line: method=... base=... size=... sent=... sig=... seconds=... */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/parse.h"
#include "sync/replicate.h"
#include "sync/tls.h"
#include "tools/ctl.h"
#include "tools/ctl_remote.h"

#define ID_XATTR "user.shadow.id"

static void push_usage(FILE *out)
{
	fprintf(out, "usage: shadowctl push FILE H:P [--id UUID] [--version N] [--full] "
		     "[--keep-old] [--progress|--quiet] TLS\n"
		     "TLS: --certs DIR [--name NAME] | --cert F --key F --ca F; [--timeout MS]\n");
}

struct progress_state {
	int last_pct;
	uint64_t t0;
};

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress_state *p = arg;
	int pct = total ? (int)(done * 100 / total) : 0;
	if (pct == p->last_pct)
		return;
	p->last_pct = pct;
	double s = (sync_now_ms() - p->t0) / 1000.0;
	fprintf(stderr, "\rpush: %3d%% %.1f/%.1f MiB %.1f MB/s", pct, done / 1048576.0,
		total / 1048576.0, s > 0 ? done / s / 1e6 : 0.0);
	if (done >= total)
		fputc('\n', stderr);
}

static int file_id(const char *path, uint8_t id[16])
{
	char text[64];
	ssize_t n = getxattr(path, ID_XATTR, text, sizeof(text) - 1);
	if (n < 0) {
		int e = errno;
		fprintf(stderr,
			"shadowctl push: %s has no %s (%s): give --id UUID, or the path under "
			"BACKING of a file the mount has seen\n",
			path, ID_XATTR, strerror(e));
		return -1;
	}
	text[n] = '\0';
	if (n > 0 && text[n - 1] == '\0')
		text[n - 1] = '\0';
	if (ctl_remote_id_parse(text, id) < 0) {
		fprintf(stderr, "shadowctl push: %s: %s is not a uuid\n", path, ID_XATTR);
		return -1;
	}
	return 0;
}

int ctl_push_main(int argc, char **argv)
{
	struct ctl_remote rm = {0};
	struct sync_repl_opts o = {0};
	struct sync_repl_result res;
	struct progress_state ps = {.last_pct = -1};
	const char *path = NULL, *addr = NULL, *idarg = NULL, *verarg = NULL;
	int progress = isatty(STDERR_FILENO); /* 1 on, 0 off */
	const char *progress_flag = NULL;
	uint8_t id[16];
	uint64_t version = 0;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		int f = ctl_remote_flag(&rm, "push", argc, argv, &i);
		if (f < 0)
			return 2;
		if (f)
			continue;
		const char *a = argv[i];
		if ((!strcmp(a, "--id") || !strcmp(a, "--version")) && i + 1 < argc) {
			*(a[2] == 'i' ? &idarg : &verarg) = argv[++i];
		} else if (!strcmp(a, "--full")) {
			o.full_only = true;
		} else if (!strcmp(a, "--keep-old")) {
			o.keep_old = true;
		} else if (!strcmp(a, "--progress") || !strcmp(a, "--quiet")) {
			/* Alternatives (the last one won, silently) */
			if (progress_flag && strcmp(progress_flag, a)) {
				fprintf(stderr,
					"shadowctl push: --progress and --quiet exclude each "
					"other\n");
				return 2;
			}
			progress_flag = a;
			progress = a[2] == 'p';
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			push_usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			fprintf(stderr, "shadowctl push: unknown option or missing value: '%s'\n", a);
			push_usage(stderr);
			return 2;
		} else if (!path) {
			path = a;
		} else if (!addr) {
			addr = a;
		} else {
			push_usage(stderr);
			return 2;
		}
	}
	if (!path || !addr) {
		push_usage(stderr);
		return 2;
	}
	if (idarg && ctl_remote_id_parse(idarg, id) < 0) {
		fprintf(stderr, "shadowctl push: --id '%s' is not a uuid\n", idarg);
		return 2;
	}
	if (verarg) {
		char *end;
		errno = 0;
		version = strtoull(verarg, &end, 10);
		/* digits only: strtoull took " 5", "+5" (and "-5" as 2^64 - 5) */
		if (errno || *end || !sfs_decimal_text(verarg, true) || version == UINT64_MAX) {
			fprintf(stderr, "shadowctl push: --version '%s' is not a number\n", verarg);
			return 2;
		}
	}
	/* O_NONBLOCK: the open of a FIFO with no writer waited for one, for
	 * good (push of a FIFO hung instead of saying it is no regular file) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "shadowctl push: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "shadowctl push: %s: not a regular file\n", path);
		close(fd);
		return 1;
	}
	(void)fcntl(fd, F_SETFL, 0); /* (no effect on a regular file's reads) */
	if (!idarg && file_id(path, id) < 0) {
		close(fd);
		return 1;
	}
	if (!verarg)
		version = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	/* A shadowd that goes away mid-copy (stopped, restarted) is an error
	 * said in one line, as any other: before, the write to its closed
	 * connection killed shadowctl by SIGPIPE, silently, status 141. Only
	 * here: the watch's output piped to head(1) still ends it. */
	signal(SIGPIPE, SIG_IGN);
	int c = ctl_remote_connect(&rm, "push", addr);
	if (c < 0) {
		close(fd);
		return c == -2 ? 2 : 1;
	}
	o.timeout_ms = rm.timeout_ms;
	if (progress) {
		ps.t0 = sync_now_ms();
		o.progress = on_progress;
		o.progress_arg = &ps;
	}
	uint64_t t0 = sync_now_ms();
	int r = sync_replicate(rm.client, id, version, fd, &o, &res);
	double secs = (sync_now_ms() - t0) / 1000.0;
	close(fd);
	ctl_remote_close(&rm);
	if (r == -EPIPE || r == -ECONNRESET) { /* as host watch says it */
		fprintf(stderr,
			"shadowctl push: %s to %s: the host closed the connection (shut down or "
			"restarted)\n",
			path, addr);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "shadowctl push: %s to %s: %s%s\n", path, addr, strerror(-r),
			r == -ESTALE || r == -EBADMSG ? " (the file changed during the copy? retry)"
						      : "");
		return 1;
	}
	char idt[37];
	ctl_remote_id_text(id, idt);
	printf("push: id=%s version=%llu method=%s base=%llu size=%llu sent=%llu sig=%llu "
	       "delta_refused=%d seconds=%.3f\n",
	       idt, (unsigned long long)version, sync_repl_method_name(res.method),
	       (unsigned long long)res.base_version, (unsigned long long)res.size,
	       (unsigned long long)res.sent_bytes, (unsigned long long)res.sig_bytes,
	       res.delta_refused, secs);
	return 0;
}
