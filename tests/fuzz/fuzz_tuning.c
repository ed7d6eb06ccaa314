/* Fuzz target for the tuning decoders (fs/tuning_value.c): xattr values
 * from any caller (fs_tune_parse, every key) and STATE/tuning lines
 * (fs_tune_line_parse). Invariants: no crash or out-of-bounds access
 * (sanitizers); an accepted value is in its key's range with its text
 * NUL-terminated and shorter than FS_TUNE_TEXT_MAX (a number's than
 * FS_TUNE_NUMBER_MAX); an accepted hosts list has no blank, its value is
 * its number of names, and matched against a fixed set of host names
 * (fs_tune_hosts_mask) every name is either a known host's (one bit each)
 * or counted unknown; an accepted line's path lies inside the line (abort()
 * otherwise).
 *
 * Built two ways (tests/fuzz/fuzz_text.h): with clang a libFuzzer target;
 * always a regression driver over built-in seeds and N fixed-seed
 * mutations.
 *   fuzz_tuning [-n N] [CORPUS_DIR...]     (default N = 200000) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_text.h"
#include "fs/tuning_value.h"
#include "predictor/model.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

/* The mount's hosts the hosts values are matched against. */
static const char *const host_names[] = {"/ssd/shadows", "127.0.0.1:7811", "[::1]:7811", "/a",
					 "/a,b"};
#define NHOSTS (sizeof(host_names) / sizeof(*host_names))

static void check_hosts(const char *text, double x)
{
	check(x >= 0 && x == floor(x) && x < FS_TUNE_TEXT_MAX);
	check(!strpbrk(text, " \t\n"));
	size_t unknown = NHOSTS + 1;
	uint64_t mask = fs_tune_hosts_mask(text, host_names, NHOSTS, &unknown);
	check(mask < (UINT64_C(1) << NHOSTS));
	if (!strcmp(text, "*")) {
		check(x == 0 && unknown == 0 && mask == (UINT64_C(1) << NHOSTS) - 1);
		return;
	}
	check(!(mask & (UINT64_C(1) << 4))); /* "/a,b" is two names: never that host */
	check((size_t)__builtin_popcountll(mask) + unknown == (size_t)x);
}

static void one(const uint8_t *data, size_t size)
{
	/* Exact-size copy so a sanitizer sees any read past the value. */
	char *v = malloc(size ? size : 1);
	if (size)
		memcpy(v, data, size);
	for (int k = 0; k < FS_TUNE_NKEYS; k++) {
		double x;
		char text[FS_TUNE_TEXT_MAX];
		if (fs_tune_parse((enum fs_tune_key)k, v, size, &x, text) < 0)
			continue;
		check(memchr(text, '\0', sizeof(text)) != NULL);
		check(k == FS_TUNE_HOSTS || strlen(text) < FS_TUNE_NUMBER_MAX);
		check(isfinite(x));
		switch (k) {
		case FS_TUNE_THRESHOLD: check(x > 0 && x <= 1); break;
		case FS_TUNE_CAPACITY: check(x >= 0 && x <= 1e15); break;
		case FS_TUNE_WINDOW: check(x >= 1 && x <= PRED_MAX_H && x == floor(x)); break;
		case FS_TUNE_COPIES: check(x >= 1 && x <= FS_TUNE_COPIES_MAX && x == floor(x)); break;
		case FS_TUNE_NEVER: check(x == 0 || x == 1); break;
		case FS_TUNE_HOSTS: check_hosts(text, x); break;
		default: check(false); break;
		}
	}
	free(v);
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	struct fs_tune_line l;
	if (fs_tune_line_parse(line, &l) == 0) {
		check(l.path > line && l.path <= line + size);
		check(l.key < FS_TUNE_NKEYS);
		check(l.is_dir || strlen(l.id) == 36);
		if (l.key == FS_TUNE_HOSTS)
			check_hosts(l.text, l.value);
	}
	free(line);
}

static const char *const seeds[] = {
    "0.5", "1", "5e-1\n", "12.75", "8", "0", "1\n", "-1", "1e999", "nan", " 0.5", "0x1p-1",
    "d threshold 0.5 /a b/c", "d never 1 /", "f 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 window 3 /d/e/f",
    "f 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 capacity 1e15 /x", "d window 9 /a", "",
    "/ssd/shadows,127.0.0.1:7811", "*", "[::1]:7811\n", "/a,/a", "/a,,/x", "/a,*", "/x,/a",
    "d hosts /ssd/shadows,/a /d e", "f 12b31fa3-a5e1-419d-ab18-9cb8cf16c9f3 hosts * /f"};

static const char alphabet[] = "0123456789.eE+- \n/dfx\0abcnevrthold,*:[]s";

static const struct fuzz_text_target fuzz_target = {
    .name = "fuzz_tuning",
    FUZZ_TEXT_SEEDS(seeds),
    FUZZ_TEXT_ALPHABET(alphabet),
    .cap = 96,
    .long_runs = false,
    .rng = 0x9e3779b97f4a7c15u,
    .one = one,
};
