/* Helpers for the store-reading subcommands: see ctl_store.h. */
#include "tools/ctl_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int ctl_store_open(const char *state, const char *path, struct pred_location *loc,
		   struct pred_store **ret)
{
	*ret = NULL;
	int rc;
	const char *where = state ? state : path;
	if (!where)
		where = ".";
	rc = pred_locate(where, loc);
	if (rc) {
		if (state)
			fprintf(stderr, "shadowctl: %s is neither a state directory nor a known "
					"shadowfs mountpoint\n", state);
		else
			fprintf(stderr, "shadowctl: %s is not under a known shadowfs mount "
					"(no record in %s/mounts; try --state DIR)\n",
				where, pred_locate_run_dir());
		return 1;
	}
	char err[512];
	rc = pred_store_open(loc->state_dir, NULL, true, ret, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "shadowctl: %s\n", err);
		return 1;
	}
	return 0;
}

int ctl_parse_duration(const char *s, int64_t *ret)
{
	uint32_t v;
	if (!s || pred_parse_duration(s, &v))
		return -EINVAL;
	*ret = v;
	return 0;
}

void ctl_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
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
