/* The regression drivers' corpus walk (tests/fuzz): every file of a
 * directory (names starting with '.' skipped) read whole, up to 1 MiB, and
 * handed to the target in a buffer of exactly its length, so that ASan sees
 * a read past the end. */
#ifndef SHADOWFS_TESTS_FUZZ_CORPUS_H
#define SHADOWFS_TESTS_FUZZ_CORPUS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How many files were run, or -1 (said on stderr, as prog) when the
 * directory cannot be opened. */
static inline int fuzz_run_dir(const char *prog, const char *dir,
			       int (*target)(const uint8_t *data, size_t size))
{
	enum { MAX = 1 << 20 };
	DIR *d = opendir(dir);
	uint8_t *buf = malloc(MAX);
	int n = 0;
	if (!d || !buf) {
		fprintf(stderr, "%s: cannot open %s\n", prog, dir);
		if (d)
			closedir(d);
		free(buf);
		return -1;
	}
	for (struct dirent *de; (de = readdir(d));) {
		char path[4096];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		size_t len = fread(buf, 1, MAX, f);
		fclose(f);
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact)
			continue;
		memcpy(exact, buf, len);
		target(exact, len);
		free(exact);
		n++;
	}
	closedir(d);
	free(buf);
	return n;
}

#endif
