/* Reading /proc/self/mountinfo: see mountinfo.h. A line is
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
 * (proc(5)); kept: the device, the mount point, the type and, of a FUSE
 * mount, the user_id=N of SUPER (who mounted it). */
#include "common/mountinfo.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies the blank-separated field at *s into dst (unescaping \ooo), moves
 * *s past it: 0, or -EINVAL when missing, longer than len - 1, or holding
 * \000 (no name has a NUL: it would cut the field short, a type to ""). */
static int take_field(const char **s, char *dst, size_t len)
{
	const char *p = *s;
	size_t n = 0;
	while (*p == ' ')
		p++;
	if (!*p || *p == '\n')
		return -EINVAL;
	for (; *p && *p != ' ' && *p != '\n'; n++) {
		char c = *p++;
		if (c == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' &&
		    p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 3;
			if (!c)
				return -EINVAL;
		}
		if (n + 1 >= len)
			return -EINVAL;
		dst[n] = c;
	}
	dst[n] = '\0';
	*s = p;
	return 0;
}

int sfs_mountinfo_parse_line(const char *line, struct sfs_mount_entry *e)
{
	char field[64];
	const char *p = line;
	memset(e, 0, sizeof(*e));
	/* ID and PARENT */
	if (take_field(&p, field, sizeof(field)) < 0 || take_field(&p, field, sizeof(field)) < 0)
		return -EINVAL;
	char tail;
	if (take_field(&p, field, sizeof(field)) < 0 ||
	    sscanf(field, "%u:%u%c", &e->major, &e->minor, &tail) != 2)
		return -EINVAL;
	/* ROOT (may be as long as a path) */
	if (take_field(&p, e->mountpoint, sizeof(e->mountpoint)) < 0 ||
	    take_field(&p, e->mountpoint, sizeof(e->mountpoint)) < 0 || e->mountpoint[0] != '/')
		return -EINVAL;
	const char *sep = strstr(p, " - ");
	if (!sep)
		return -EINVAL;
	p = sep + 3;
	e->owner_uid = -1;
	if (take_field(&p, e->fstype, sizeof(e->fstype)) < 0)
		return -EINVAL;
	/* SOURCE, then SUPER: "rw,user_id=1000,group_id=1000" (missing or
	 * odd fields only leave owner_uid unknown). */
	char source[PATH_MAX], super[1024];
	if (take_field(&p, source, sizeof(source)) < 0 || take_field(&p, super, sizeof(super)) < 0)
		return 0;
	for (char *save = NULL, *o = strtok_r(super, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *end;
		if (strncmp(o, "user_id=", 8) || o[8] < '0' || o[8] > '9')
			continue;
		errno = 0;
		unsigned long v = strtoul(o + 8, &end, 10);
		if (!errno && !*end && v <= 0xfffffffeUL)
			e->owner_uid = (long)v;
	}
	return 0;
}

int sfs_mountinfo_each(int (*fn)(const struct sfs_mount_entry *e, void *arg), void *arg)
{
	FILE *in = fopen("/proc/self/mountinfo", "re");
	struct sfs_mount_entry *e = malloc(sizeof(*e));
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;
	if (!in || !e) {
		ret = in ? -ENOMEM : -errno;
		goto out;
	}
	while (getline(&line, &cap, in) > 0)
		if (sfs_mountinfo_parse_line(line, e) == 0 && (ret = fn(e, arg)) != 0)
			break;
	if (ret == 0 && ferror(in))
		ret = -EIO;
out:
	free(line);
	free(e);
	if (in)
		fclose(in);
	return ret;
}

struct mount_search {
	const char *real;
	size_t best;
	struct sfs_mount_entry *ret;
};

static int longer_prefix(const struct sfs_mount_entry *e, void *arg)
{
	struct mount_search *m = arg;
	const char *mp = e->mountpoint;
	size_t n = strlen(mp);
	bool root = !strcmp(mp, "/");
	bool under = root || (!strncmp(m->real, mp, n) && (m->real[n] == '/' || !m->real[n]));
	if (under && (n > m->best || (n == m->best && !root))) {
		m->best = n;
		*m->ret = *e;
	}
	return 0;
}

int sfs_mount_entry_of(const char *real, struct sfs_mount_entry *ret)
{
	struct mount_search m = {.real = real, .ret = ret};
	int res = sfs_mountinfo_each(longer_prefix, &m);
	if (res < 0)
		return res;
	return m.best ? 0 : -ENOENT;
}

int sfs_mount_of(const char *real, char *mnt, size_t mlen, char *type, size_t tlen)
{
	struct sfs_mount_entry *e = malloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	int res = sfs_mount_entry_of(real, e);
	if (res == 0) {
		snprintf(mnt, mlen, "%s", e->mountpoint);
		snprintf(type, tlen, "%s", e->fstype);
	}
	free(e);
	return res;
}
