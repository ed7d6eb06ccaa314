/* Helpers for the store-reading subcommands: see ctl_store.h. */
#include "tools/ctl_store.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common/parse.h"

int ctl_store_open(const char *cmd, const char *state, const char *path, struct pred_location *loc,
		   struct pred_store **ret)
{
	*ret = NULL;
	int rc;
	const char *where = state ? state : path;
	if (!where)
		where = ".";
	rc = pred_locate(where, loc);
	/* A state directory without a store (a mount with norecord and
	 * hosts=): told so below, not called no state directory. */
	if (rc && state && pred_locate_looks_like_state(state))
		rc = pred_locate_state_dir(state, loc);
	if (rc) {
		if (state)
			fprintf(stderr,
				"%s: %s is neither a state directory nor a known "
				"shadowfs mountpoint\n",
				cmd, state);
		else
			fprintf(stderr,
				"%s: %s is not under a known shadowfs mount "
				"(no record in %s/mounts; try --state DIR)\n",
				cmd, where, pred_locate_run_dir());
		return 1;
	}
	if (ctl_state_enter(cmd, loc->state_dir))
		return 1;
	char err[512];
	rc = pred_store_open(loc->state_dir, NULL, true, ret, err, sizeof(err));
	struct stat sb;
	if (rc == -ENOENT && stat(loc->state_dir, &sb) == 0) {
		/* The mount records nothing: said as status says it (this was
		 * "no series store at STATE/series.db: No such file ..."). */
		fprintf(stderr, "%s: %s: recording off (mounted with norecord): nothing recorded\n",
			cmd, loc->mountpoint[0] ? loc->mountpoint : loc->state_dir);
		return 1;
	}
	if (rc) {
		fprintf(stderr, "%s: %s\n", cmd, err);
		return 1;
	}
	return 0;
}

void ctl_store_close(const char *cmd, struct pred_store *st)
{
	uint64_t n = pred_store_damaged_rows(st);
	if (n)
		fprintf(stderr,
			"%s: warning: skipped %" PRIu64 " damaged row%s of the series store (a "
			"negative or non-numeric count, a bad time or width, a malformed file id)\n",
			cmd, n, n == 1 ? "" : "s");
	pred_store_close(st);
}

/* Root reading the state of another user's mount reads it as that user:
 * the user writes those files, and a link planted among them must not
 * make root's shadowctl open (and print) a file of root's. Taken when the
 * directory is another user's and so is the store in it (a directory of a
 * user's that a mount of root's writes into holds root's files: read as
 * root). 0, or 1 after a message. */
static int read_as_owner(const char *cmd, const char *dir)
{
	struct stat d, db;
	char path[PATH_MAX];
	if (geteuid() != 0 || stat(dir, &d) != 0 || d.st_uid == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, PRED_STORE_DB_NAME);
	if (lstat(path, &db) == 0 && db.st_uid != d.st_uid)
		return 0;
	/* The filesystem uid and gid (the kernel drops the capabilities that
	 * override file permissions with them): files are opened as the
	 * owner, and nothing else changes (with seteuid, LeakSanitizer could
	 * no longer stop the process's threads at exit). shadowctl runs on
	 * one thread: setfsuid is per thread. */
	if (setgroups(0, NULL) < 0) {
		fprintf(stderr, "%s: cannot read %s as its owner (uid %u): %s\n", cmd, dir,
			(unsigned)d.st_uid, strerror(errno));
		return 1;
	}
	setfsgid(d.st_gid);
	setfsuid(d.st_uid);
	if ((uid_t)setfsuid((uid_t)-1) != d.st_uid || (gid_t)setfsgid((gid_t)-1) != d.st_gid) {
		fprintf(stderr, "%s: cannot read %s as its owner (uid %u)\n", cmd, dir,
			(unsigned)d.st_uid);
		return 1;
	}
	return 0;
}

int ctl_state_enter(const char *cmd, const char *dir)
{
	struct stat st;
	if (access(dir, R_OK | X_OK) == 0 || errno != EACCES)
		return read_as_owner(cmd, dir); /* other errors: said by whoever opens it */
	if (stat(dir, &st) == 0)
		fprintf(stderr, "%s: the state directory %s is not readable by this user (it "
				"is uid %u's): run as that user or as root\n",
			cmd, dir, (unsigned)st.st_uid);
	else
		fprintf(stderr, "%s: the state directory %s is not readable by this user: "
				"run as its owner or as root\n",
			cmd, dir);
	return 1;
}

int ctl_store_open_view(const char *cmd, int argc, char **argv, const char *usage,
			const char *state, struct pred_location *loc, struct pred_store **ret)
{
	const char *path = optind < argc ? argv[optind++] : NULL;
	if (optind < argc || (state && path)) {
		fputs(usage, stderr);
		return 2;
	}
	return ctl_store_open(cmd, state, path, loc, ret) ? 1 : -1;
}

int ctl_store_open_for_path(const char *cmd, const char *state, const char *path,
			    struct pred_location *loc, struct pred_store **ret)
{
	if (!state)
		return ctl_store_open(cmd, NULL, path, loc, ret);
	if (ctl_store_open(cmd, state, NULL, loc, ret))
		return 1;
	struct pred_location under;
	if (pred_locate(path, &under) == 0 && !strcmp(under.state_dir, loc->state_dir))
		snprintf(loc->rel, sizeof(loc->rel), "%s", under.rel);
	else
		snprintf(loc->rel, sizeof(loc->rel), "%s", path + strspn(path, "/"));
	return 0;
}

int ctl_store_file_id(const struct pred_location *loc, struct pred_store *st,
		      uint8_t id[PRED_ID_LEN])
{
	if (loc->backing[0]) {
		char p[PATH_MAX * 2 + 2], text[64];
		snprintf(p, sizeof(p), "%s/%s", loc->backing, loc->rel);
		ssize_t n = getxattr(p, "user.shadow.id", text, sizeof(text) - 1);
		if (n == 36) {
			text[n] = '\0';
			if (uuid_parse(text, id) == 0)
				return 0;
		}
	}
	return pred_store_file_lookup_path(st, loc->rel, id);
}

int ctl_parse_demand(const char *s, enum pred_top_order *ret)
{
	static const struct { const char *name; enum pred_top_order o; } names[] = {
		{"reads", PRED_TOP_READS}, {"bytes", PRED_TOP_READ_BYTES},
		{"opens", PRED_TOP_OPENS}, {"events", PRED_TOP_EVENTS}};
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*ret = names[i].o;
			return 0;
		}
	return -EINVAL;
}

int ctl_parse_duration(const char *s, int64_t *ret)
{
	uint32_t v;
	if (!s || pred_parse_duration(s, &v))
		return -EINVAL;
	*ret = v;
	return 0;
}

int ctl_opt_window(const char *cmd, const char *arg, int64_t *ret)
{
	if (ctl_parse_duration(arg, ret) == 0)
		return 0;
	fprintf(stderr, "%s: bad --window '%s' (e.g. 90s, 15m, 2h, 3d)\n", cmd, arg);
	return 2;
}

int ctl_opt_tier(const char *cmd, const char *arg, int *ret)
{
	long long v;
	if (sfs_parse_integer(arg, 0, PRED_STORE_MAX_TIERS - 1, &v)) {
		fprintf(stderr, "%s: bad --tier '%s' (0..%d)\n", cmd, arg, PRED_STORE_MAX_TIERS - 1);
		return 2;
	}
	*ret = (int)v;
	return 0;
}

int ctl_parse_view_opts(int argc, char **argv, const char *cmd, const char *usage,
			struct ctl_view_opts *o)
{
	static const struct option opts[] = {
		{"state", required_argument, NULL, 's'}, {"window", required_argument, NULL, 'w'},
		{"tier", required_argument, NULL, 't'},  {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
	o->state = NULL;
	o->tier = PRED_TIER_AUTO;
	o->json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->state = optarg; break;
		case 'w':
			if (ctl_opt_window(cmd, optarg, &o->window))
				return 2;
			break;
		case 't':
			if (ctl_opt_tier(cmd, optarg, &o->tier))
				return 2;
			break;
		case 'j': o->json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	return -1;
}

int ctl_view_tier(struct pred_store *st, const char *cmd, const struct ctl_view_opts *o,
		  int64_t now)
{
	int tier = o->tier == PRED_TIER_AUTO ? pred_store_pick_tier(st, now - o->window, now)
					      : o->tier;
	unsigned have = pred_store_get_tiers(st)->n;
	if (tier >= (int)have) {
		/* A --tier the store lacks is a bad value (status 2), named
		 * with the ones it has, as --tier's own range is. */
		fprintf(stderr, "%s: bad --tier '%d': this store has tier%s 0..%d\n", cmd, tier,
			have == 1 ? "" : "s", (int)have - 1);
		return o->tier == PRED_TIER_AUTO ? -1 : -2;
	}
	return tier;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no
 * overlong forms, no surrogates, at most U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	size_t n = 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	for (size_t i = 1; i < n; i++)
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
			return 0;
	return n;
}

void ctl_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
		size_t n = utf8_len(p);
		if (n == 0) { /* JSON text is UTF-8: a byte that is not, as U+FFFD */
			fputs("\\ufffd", out);
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, out);
			p += n - 1;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

int ctl_print_name(FILE *out, const char *s, int width)
{
	int len = 0;
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
		if (*p == '\n')
			len += fprintf(out, "\\n");
		else if (*p == '\t')
			len += fprintf(out, "\\t");
		else if (*p == '\\')
			len += fprintf(out, "\\\\");
		else if (*p < 0x20 || *p == 0x7f)
			len += fprintf(out, "\\x%02x", *p);
		else
			len += fputc(*p, out) == EOF ? 0 : 1;
	fprintf(out, "%*s", len < width ? width - len : 0, "");
	return len;
}

static const char *skip_digits(const char *p)
{
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

bool ctl_json_number_text(const char *s)
{
	const char *p = s, *q;
	if (!p)
		return false;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p = skip_digits(p);
	else
		return false;
	if (*p == '.') {
		if ((q = skip_digits(p + 1)) == p + 1)
			return false;
		p = q;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if ((q = skip_digits(p)) == p)
			return false;
		p = q;
	}
	return *p == '\0';
}

const char *ctl_human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double d = (double)v;
	unsigned u = 0;
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

void ctl_json_double(FILE *out, double v, int prec)
{
	if (isfinite(v))
		fprintf(out, "%.*f", prec, v);
	else
		fputs("null", out);
}

const char *ctl_utc_text(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if ((int64_t)tt != t || !gmtime_r(&tt, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}
