/* The fixed-seed PRNG of the fuzz regression drivers (xorshift64): the same
 * mutations on every run, so a failure reproduces; and their mutator of
 * text seeds. */
#ifndef SHADOWFS_TESTS_FUZZ_RNG_H
#define SHADOWFS_TESTS_FUZZ_RNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t fuzz_rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* One to four random edits of buf[0..*len) (capacity cap) in place:
 * replace a byte by one of alphabet, insert a random byte, cut a byte, and
 * with long_runs insert a run of 'a' or '/' of a length near a field's or
 * PATH_MAX's size. */
static inline void fuzz_mutate_text(uint64_t *rng, uint8_t *buf, size_t *len, size_t cap,
				    const char *alphabet, size_t alphabet_len, bool long_runs)
{
	static const size_t runs[] = {62, 63, 64, 254, 255, 256, 4094, 4095};
	size_t n = *len;
	for (int m = (int)(fuzz_rng_next(rng) % 4) + 1; m > 0; m--) {
		size_t at = n ? fuzz_rng_next(rng) % (n + 1) : 0;
		switch (fuzz_rng_next(rng) % (long_runs ? 4 : 3)) {
		case 0: /* replace */
			if (at < n)
				buf[at] = (uint8_t)alphabet[fuzz_rng_next(rng) % alphabet_len];
			break;
		case 1: /* insert */
			if (n < cap) {
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = (uint8_t)(fuzz_rng_next(rng) & 0xff);
				n++;
			}
			break;
		case 2: /* cut */
			if (at < n) {
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
			}
			break;
		default: { /* a long run */
			size_t k = runs[fuzz_rng_next(rng) % (sizeof(runs) / sizeof(*runs))];
			if (n + k <= cap) {
				memmove(buf + at + k, buf + at, n - at);
				memset(buf + at, fuzz_rng_next(rng) % 2 ? 'a' : '/', k);
				n += k;
			}
		}
		}
	}
	*len = n;
}

/* A text decoder's regression run: each seed as it is, then n mutations
 * of seeds picked at random (in buf, cap bytes), each handed to one. */
static inline void fuzz_text_run(uint64_t *rng, long n, const char *const *seeds, size_t nseeds,
				 const char *alphabet, size_t alphabet_len, uint8_t *buf, size_t cap,
				 bool long_runs, void (*one)(const uint8_t *data, size_t size))
{
	for (size_t i = 0; i < nseeds; i++)
		one((const uint8_t *)seeds[i], strlen(seeds[i]));
	for (long i = 0; i < n; i++) {
		const char *s = seeds[fuzz_rng_next(rng) % nseeds];
		size_t len = strlen(s);
		memcpy(buf, s, len);
		fuzz_mutate_text(rng, buf, &len, cap, alphabet, alphabet_len, long_runs);
		one(buf, len);
	}
}

#endif
