/* Paths relative to BACKING (see rel_path.h). */
#include "fs/rel_path.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"

int fs_rel_path(struct fs_ctx *c, int fd, char buf[PATH_MAX])
{
	char proc[32], full[PATH_MAX];
	fs_proc_path(proc, fd);
	ssize_t n = readlink(proc, full, sizeof(full) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	full[n] = '\0';
	const char *b = c->opts->backing;
	size_t bl = strlen(b);
	while (bl > 1 && b[bl - 1] == '/')
		bl--;
	if (strncmp(full, b, bl) != 0 || (full[bl] != '/' && full[bl] != '\0'))
		return -ENOENT;
	snprintf(buf, PATH_MAX, "%s", full[bl] ? full + bl + 1 : "");
	return 0;
}

int fs_rel_child(struct fs_ctx *c, fuse_ino_t dir, const char *name, char rel[PATH_MAX],
		 struct stat *st)
{
	struct fs_inode *d = fs_inode_of(c, dir);
	char dpath[PATH_MAX];
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return dfd;
	int r = fs_rel_path(c, dfd, dpath);
	if (r == 0 && fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	fs_inode_fd_put(c->inodes, d);
	if (r == 0 && snprintf(rel, PATH_MAX, "%s%s%s", dpath, dpath[0] ? "/" : "", name) >= PATH_MAX)
		r = -ENAMETOOLONG;
	return r;
}

const char *fs_rel_below(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path + n;
}

char *fs_rel_moved(const char *path, const char *from, const char *to)
{
	const char *rest = fs_rel_below(path, from);
	if (!rest)
		return NULL;
	size_t tl = strlen(to), rl = strlen(rest);
	char *p = malloc(tl + rl + 1);
	if (!p)
		return NULL;
	memcpy(p, to, tl);
	memcpy(p + tl, rest, rl + 1);
	return p;
}

int fs_rel_escape(const char *path, char *out, size_t len)
{
	size_t n = 0;
	for (const char *p = path; *p; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : NULL;
		size_t k = esc ? 2 : 1;
		if (n + k >= len)
			return -ENAMETOOLONG;
		memcpy(out + n, esc ? esc : p, k);
		n += k;
	}
	if (n >= len)
		return -ENAMETOOLONG;
	out[n] = '\0';
	return 0;
}

void fs_rel_unescape(char *s)
{
	char *o = s;
	for (const char *p = s; *p; p++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == 'n'))
			*o++ = *++p == 'n' ? '\n' : '\\';
		else
			*o++ = *p;
	}
	*o = '\0';
}
