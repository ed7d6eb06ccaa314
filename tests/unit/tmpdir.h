/* Temporary directories for unit tests: created under $TMPDIR (or /tmp),
 * removed recursively by tmpdir_remove. */
#ifndef SHADOWFS_TESTS_TMPDIR_H
#define SHADOWFS_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline int tmpdir_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline char *tmpdir_make(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path = NULL;
	if (asprintf(&path, "%s/rec-%s-XXXXXX", base ? base : "/tmp", tag) < 0)
		return NULL;
	if (!mkdtemp(path)) {
		free(path);
		return NULL;
	}
	return path;
}

static inline void tmpdir_remove(char *path)
{
	if (!path)
		return;
	nftw(path, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

#endif
