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
 * Built two ways (tests/fuzz/fuzz_text.h): with clang a libFuzzer target;
 * always a regression driver over built-in seeds, the files in the corpus
 * directories given and N fixed-seed mutations.
 *   fuzz_mountinfo [-n N] [CORPUS_DIR...]     (default N = 200000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mountinfo.h"
#include "tests/fuzz/fuzz_text.h"

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
	check(e->owner_uid >= -1 && e->owner_uid <= 0xfffffffeL);
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
		check(e->owner_uid == 0);
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

static const char alphabet[] = "0123456789:/\\ -\n\t.abcx";

static const struct fuzz_text_target fuzz_target = {
    .name = "fuzz_mountinfo",
    FUZZ_TEXT_SEEDS(seeds),
    FUZZ_TEXT_ALPHABET(alphabet),
    .cap = 8192,
    .long_runs = true,
    .rng = 0x6d6f756e74696e66u,
    .one = one,
};
