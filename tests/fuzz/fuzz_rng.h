/* The fixed-seed PRNG of the fuzz regression drivers (xorshift64): the same
 * mutations on every run, so a failure reproduces. */
#ifndef SHADOWFS_TESTS_FUZZ_RNG_H
#define SHADOWFS_TESTS_FUZZ_RNG_H

#include <stdint.h>

static inline uint64_t fuzz_rng_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

#endif
