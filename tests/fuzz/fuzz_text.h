/* The two entry points of a text decoder's fuzz target (tests/fuzz): with
 * -DSFS_LIBFUZZER, libFuzzer's; otherwise the regression driver's main,
 *   PROG [-n N] [CORPUS_DIR...]
 * which hands the target's seeds, the files of the corpus directories
 * given and N fixed-seed mutations of its seeds (default 200000) to its
 * one(), then prints one line. A target defines its decoder checks in
 * one(), a `static const struct fuzz_text_target fuzz_target`, and then
 * includes this header. */
#ifndef SHADOWFS_TESTS_FUZZ_TEXT_H
#define SHADOWFS_TESTS_FUZZ_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_corpus.h"
#include "tests/fuzz/fuzz_rng.h"

struct fuzz_text_target {
	const char *name;
	const char *const *seeds;
	size_t nseeds;
	const char *alphabet; /* the bytes a mutation puts in (may hold a NUL) */
	size_t alphabet_len;
	size_t cap;	 /* the longest input a mutation makes */
	bool long_runs;	 /* mutations insert runs near field and PATH_MAX sizes */
	uint64_t rng;	 /* the PRNG's seed */
	void (*one)(const uint8_t *data, size_t size);
	void (*report)(void); /* optional: more of the run's line */
};

/* The seed table and the alphabet with the sizes derived from them, for a
 * target's initializer: FUZZ_TEXT_SEEDS(seeds), FUZZ_TEXT_ALPHABET(alphabet)
 * (a string literal's array: its final NUL is not one of the bytes). */
#define FUZZ_TEXT_SEEDS(a) .seeds = (a), .nseeds = sizeof(a) / sizeof(*(a))
#define FUZZ_TEXT_ALPHABET(a) .alphabet = (a), .alphabet_len = sizeof(a) - 1

static const struct fuzz_text_target fuzz_target;

#ifdef SFS_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_target.one(data, size);
	return 0;
}
#else
static int fuzz_text_input(const uint8_t *data, size_t size)
{
	fuzz_target.one(data, size);
	return 0;
}

int main(int argc, char **argv)
{
	const struct fuzz_text_target *t = &fuzz_target;
	long n = 200000;
	int files = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			n = atol(argv[++i]);
			continue;
		}
		int k = fuzz_run_dir(t->name, argv[i], fuzz_text_input);
		if (k < 0)
			return 1;
		files += k;
	}
	uint8_t *buf = malloc(t->cap);
	if (!buf)
		return 1;
	uint64_t rng = t->rng;
	fuzz_text_run(&rng, n, t->seeds, t->nseeds, t->alphabet, t->alphabet_len, buf, t->cap,
		      t->long_runs, t->one);
	free(buf);
	printf("%s: %d corpus files, %zu seeds, %ld mutations", t->name, files, t->nseeds, n);
	if (t->report)
		t->report();
	printf(": ok\n");
	return 0;
}
#endif

#endif
