/* Reader of the mount's status files (see ctl_status.h). */
#include "tools/ctl_status.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mountinfo.h"
#include "common/parse.h"
#include "predictor/store_locate.h"
#include "tools/ctl.h"
#include "tools/ctl_store.h"

/* The byte of two hex digits at s, -1 if they are not. */
static int hex_byte(const char *s)
{
	uint8_t b;
	return sfs_hex_decode(s, &b, 1) == 0 ? b : -1;
}

int ctl_status_split(char *line, struct ctl_field *f)
{
	int n = 0;
	char *p = line;
	while (*p && n < CTL_STATUS_MAX_FIELDS) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		char *eq = strchr(p, '=');
		if (!eq)
			break;
		*eq = '\0';
		f[n].key = p;
		p = eq + 1;
		if (*p == '"') {
			/* \", \\, \n, \t, \xHH undone in place (the writer's
			 * fs_status_put_quoted); another backslash stays. */
			char *o = f[n].value = ++p;
			while (*p && *p != '"') {
				int h;
				if (*p != '\\' || !p[1]) {
					*o++ = *p++;
				} else if (p[1] == '"' || p[1] == '\\') {
					*o++ = p[1];
					p += 2;
				} else if (p[1] == 'n' || p[1] == 't') {
					*o++ = p[1] == 'n' ? '\n' : '\t';
					p += 2;
				} else if (p[1] == 'x' && (h = hex_byte(p + 2)) >= 0) {
					*o++ = (char)h;
					p += 4;
				} else {
					*o++ = *p++;
				}
			}
			if (*p)
				p++;
			*o = '\0';
			n++;
			continue;
		}
		f[n].value = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		if (*p)
			*p++ = '\0';
		n++;
	}
	return n;
}

int ctl_status_parse_copy(const char *value, struct ctl_copy *c)
{
	const char *v = NULL;
	for (const char *p = strchr(value, ':'); p; p = strchr(p + 1, ':')) {
		size_t digits = p[1] == 'v' ? strspn(p + 2, "0123456789") : 0;
		if (digits && p[2 + digits] == ':') {
			v = p;
			break;
		}
	}
	if (!v || (size_t)(v - value) >= sizeof(c->host))
		return -1;
	memcpy(c->host, value, (size_t)(v - value));
	c->host[v - value] = '\0';
	const char *ver = v + 1, *st = ver + strcspn(ver, ":") + 1;
	size_t vlen = (size_t)(st - 1 - ver), slen = strcspn(st, ":");
	if (vlen >= sizeof(c->version) || slen == 0 || slen >= sizeof(c->state))
		return -1;
	memcpy(c->version, ver, vlen);
	c->version[vlen] = '\0';
	memcpy(c->state, st, slen);
	c->state[slen] = '\0';
	c->rest = st[slen] == ':' ? st + slen + 1 : st + slen;
	ctl_copy_field(c->rest, "reads", c->reads, sizeof(c->reads));
	return 0;
}

void ctl_copy_field(const char *rest, const char *key, char *out, size_t len)
{
	size_t klen = strlen(key);
	out[0] = '\0';
	for (const char *p = rest ? strstr(rest, key) : NULL; p; p = strstr(p + 1, key)) {
		if ((p != rest && p[-1] != ':') || p[klen] != '=')
			continue;
		p += klen + 1;
		size_t n = strcspn(p, ": ");
		if (n >= len)
			n = len - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return;
	}
}

const char *ctl_status_get(const struct ctl_field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].key, key))
			return f[i].value;
	return "";
}

static void print_json_object(const struct ctl_field *f, int n)
{
	printf("{");
	for (int i = 0; i < n; i++) {
		printf("%s", i ? "," : "");
		ctl_json_string(stdout, f[i].key);
		putchar(':');
		if (ctl_json_number_text(f[i].value))
			printf("%s", f[i].value);
		else
			ctl_json_string(stdout, f[i].value);
	}
	printf("}");
}

/* where as an absolute path without symlinks, for the mount table: its
 * realpath, or as given when absolute and realpath fails (another user's
 * FUSE mount refuses even root a stat, with EACCES). */
static bool resolve_for_mountinfo(const char *where, char *real, size_t len)
{
	if (realpath(where, real))
		return true;
	return where[0] == '/' && (size_t)snprintf(real, len, "%s", where) < len;
}

int ctl_status_args(int argc, char **argv, const char *cmd, struct pred_location *loc, bool *json)
{
	const char *state = NULL, *path = NULL;
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			state = argv[++i];
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: shadowctl %s [MNT|--state DIR] [--json]\n", cmd);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: shadowctl %s [MNT|--state DIR] [--json]\n", cmd);
			return 2;
		} else {
			path = argv[i];
		}
	}
	const char *where = state ? state : path ? path : ".";
	struct stat st;
	/* --state of a directory no mount ever wrote to (was: "not running",
	 * "recording off", status 0, as for a real one). */
	if (state && stat(state, &st) == 0 && S_ISDIR(st.st_mode) &&
	    !pred_locate_looks_like_state(state)) {
		fprintf(stderr,
			"shadowctl %s: %s holds no shadowfs state (none of mount.info, "
			"series.db, hosts.status, shadows.status)\n",
			cmd, state);
		return 1;
	}
	/* Not a mount: a state directory if given as one (--state) or if it
	 * holds what a mount writes there. */
	bool located = pred_locate(where, loc) == 0 ||
		       ((state || pred_locate_looks_like_state(where)) &&
			pred_locate_state_dir(where, loc) == 0);
	char real[PATH_MAX];
	struct sfs_mount_entry *e = located || state ? NULL : malloc(sizeof(*e));
	if (e && resolve_for_mountinfo(where, real, sizeof(real)) &&
	    sfs_mount_entry_of(real, e) == 0 && !strcmp(e->fstype, "fuse.shadowfs")) {
		if (e->owner_uid >= 0 && (uid_t)e->owner_uid != geteuid())
			fprintf(stderr,
				"shadowctl %s: %s is a shadowfs mount by uid %ld, which records "
				"itself where that user can write and this user did not find it; "
				"try --state DIR (that user's ~/.local/state/shadowfs/MOUNT-ID "
				"by default)\n",
				cmd, e->mountpoint, e->owner_uid);
		else
			fprintf(stderr,
				"shadowctl %s: %s is a shadowfs mount without a state directory "
				"(mounted with norecord and no hosts=): nothing to show\n",
				cmd, e->mountpoint);
		free(e);
		return 1;
	}
	free(e);
	if (!located || stat(loc->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"shadowctl %s: %s is neither a state directory nor under a known "
			"shadowfs mount (try --state DIR)\n",
			cmd, where);
		return 1;
	}
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "shadowctl %s", cmd);
	if (ctl_state_enter(prefix, loc->state_dir))
		return 1;
	return -1;
}

FILE *ctl_status_open(const struct pred_location *loc, const char *name)
{
	char file[sizeof(loc->state_dir) + 64];
	snprintf(file, sizeof(file), "%s/%s", loc->state_dir, name);
	return fopen(file, "re");
}

int ctl_status_next(FILE *in, char *line, size_t len, struct ctl_field *f)
{
	while (fgets(line, (int)len, in)) {
		int n = ctl_status_split(line, f);
		if (n > 0)
			return n;
	}
	return 0;
}

void ctl_status_print_json(const struct ctl_field *f, int n)
{
	print_json_object(f, n);
}

int ctl_status_main(int argc, char **argv, const struct ctl_status_kind *k)
{
	bool json;
	struct pred_location loc;
	int rc = ctl_status_args(argc, argv, k->cmd, &loc, &json);
	if (rc >= 0)
		return rc;
	FILE *in = ctl_status_open(&loc, k->file);
	if (!in) {
		if (errno == ENOENT)
			fprintf(stderr, "shadowctl %s: %s %s\n", k->cmd,
				loc.mountpoint[0] ? loc.mountpoint : loc.state_dir, k->missing);
		else
			fprintf(stderr, "shadowctl %s: %s/%s: %s\n", k->cmd, loc.state_dir,
				k->file, strerror(errno));
		return 1;
	}
	char line[8192];
	struct ctl_field f[CTL_STATUS_MAX_FIELDS];
	bool first = true;
	if (json)
		printf("[");
	else
		k->header();
	int n;
	while ((n = ctl_status_next(in, line, sizeof(line), f)) > 0) {
		if (json) {
			printf("%s", first ? "" : ",");
			print_json_object(f, n);
			first = false;
		} else {
			k->row(f, n);
		}
	}
	if (json)
		printf("]\n");
	fclose(in);
	return 0;
}
