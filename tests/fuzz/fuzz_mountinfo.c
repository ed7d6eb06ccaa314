/* Fuzz target for the mount table line parser (common/mountinfo.c,
 * sfs_mountinfo_parse_line): the lines of /proc/self/mountinfo, whose mount
 * points, roots, sources and FUSE subtypes any user may choose (fusermount).
 * Invariants: no crash or out-of-bounds access (sanitizers); an accepted
 * line gives an absolute mount point and a non-empty type, both
 * NUL-terminated within their fields; and the input taken as a mount point
 * name, escaped as the kernel escapes it (blank, tab, newline and backslash
 * as \ooo) into a well-formed line, parses back to the same name when it
 * fits in PATH_MAX, and is refused otherwise (abort() if not).
 *
 * Built two ways, as fuzz_wire: with clang a libFuzzer target; always a
 * regression driver over built-in seeds, the files in the corpus
 * directories given and N fixed-seed mutations.
 *   fuzz_mountinfo [-n N] [CORPUS_DIR...]     (default N = 200000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mountinfo.h"
#include "tests/fuzz/fuzz_corpus.h"
#include "tests/fuzz/fuzz_rng.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void check_entry(const struct sfs_mount_entry *e)
{
	check(memchr(e->mountpoint, '\0', sizeof(e->mountpoint)) != NULL);
	check(memchr(e->fstype, '\0', sizeof(e->fstype)) != NULL);
	check(e->mountpoint[0] == '/');
	check(e->fstype[0] != '\0');
}

/* The name (bytes up to the first NUL, after a '/') escaped as the kernel
 * does, inside a line of the usual form; parsed back. */
static void round_trip(const uint8_t *data, size_t size, struct sfs_mount_entry *e)
{
	size_t n = strnlen((const char *)data, size);
	char *name = malloc(n + 2), *line = malloc(4 * n + 128);
	name[0] = '/';
	memcpy(name + 1, data, n);
	name[n + 1] = '\0';
	char *w = line + sprintf(line, "36 25 0:45 / ");
	for (const char *c = name; *c; c++)
		if (strchr(" \t\n\\", *c))
			w += sprintf(w, "\\%03o", (unsigned char)*c);
		else
			*w++ = *c;
	strcpy(w, " rw,nosuid shared:7 master:1 - fuse.shadowfs /b rw,user_id=0\n");
	int r = sfs_mountinfo_parse_line(line, e);
	check((r == 0) == (n + 1 < sizeof(e->mountpoint)));
	if (r == 0) {
		check_entry(e);
		check(!strcmp(e->mountpoint, name));
		check(!strcmp(e->fstype, "fuse.shadowfs"));
		check(e->major == 0 && e->minor == 45);
	}
	free(name);
	free(line);
}

static void one(const uint8_t *data, size_t size)
{
	struct sfs_mount_entry *e = malloc(sizeof(*e));
	/* Exact-size copy, NUL-terminated as getline leaves a line. */
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	if (sfs_mountinfo_parse_line(line, e) == 0)
		check_entry(e);
	free(line);
	round_trip(data, size, e);
	free(e);
}

#ifdef SFS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	return 0;
}
#else
static const char *const seeds[] = {
    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n",
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n",
    ("640 22 0:58 / /m\\040nt/a\\134b rw,nosuid,nodev,relatime shared:340 - fuse.shadowfs /b "
     "rw,user_id=0,group_id=0,default_permissions,allow_other\n"),
    "99 22 0:60 / /x rw - fuse /dev/fuse rw\n",
    "1 2 3:4 / /a rw -  ext4 x\n",
    "1 2 3:4 / /a rw - \n",
    "1 2 3:4x / /a rw - ext4 x\n",
    "1 2 4294967296:1 / /a rw - t s\n",
    "1 2 3:4 / /a\\777\\400\\0 rw - t s\n",
    "1 2 3:4 / a rw - t s\n",
    "",
    "a b c d e f - g",
};

static uint64_t rng = 0x6d6f756e74696e66u;

/* The corpus walk's target: one input. */
static int one_input(const uint8_t *data, size_t size)
{
	one(data, size);
	return 0;
}

int main(int argc, char **argv)
{
	long n = 200000;
	int files = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = atol(argv[++i]);
			continue;
		}
		int k = fuzz_run_dir("fuzz_mountinfo", argv[i], one_input);
		if (k < 0)
			return 1;
		files += k;
	}
	size_t ns = sizeof(seeds) / sizeof(*seeds);
	static const char alphabet[] = "0123456789:/\\ -\n\t.abcx";
	static uint8_t buf[8192];
	fuzz_text_run(&rng, n, seeds, ns, alphabet, sizeof(alphabet) - 1, buf, sizeof(buf), true, one);
	printf("fuzz_mountinfo: %d corpus files, %zu seeds, %ld mutations: ok\n", files, ns, n);
	return 0;
}
#endif
