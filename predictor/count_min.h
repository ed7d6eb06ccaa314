/* Count-min sketch with conservative update and decay: the demand of the
 * long tail of files that the heavy-hitter set does not track.
 *
 * depth rows of width float counters; row i hashes a 64-bit key with its own
 * seed. An estimate is the minimum over rows, never below the true (decayed)
 * weight, and above it by at most eps * total with probability 1 - delta,
 * where eps = e / width and delta = exp(-depth) (Cormode & Muthukrishnan
 * 2005). Conservative update (raise each row only to the new minimum) keeps
 * that bound and tightens it in practice. Not thread-safe: one owner. */
#ifndef SHADOWFS_PREDICTOR_COUNT_MIN_H
#define SHADOWFS_PREDICTOR_COUNT_MIN_H

#include <stddef.h>
#include <stdint.h>

struct pred_cms;

/* width >= 1, 1 <= depth <= 32. 0, -EINVAL or -ENOMEM. */
int pred_cms_create(uint32_t width, uint32_t depth, uint64_t seed, struct pred_cms **ret);
void pred_cms_destroy(struct pred_cms *cms);

/* Adds w >= 0 to key; returns the new estimate of key. */
double pred_cms_add(struct pred_cms *cms, uint64_t key, double w);
/* Raises the estimate of key to at least v (records an evicted count). */
void pred_cms_raise(struct pred_cms *cms, uint64_t key, double v);
double pred_cms_estimate(const struct pred_cms *cms, uint64_t key);
/* Multiplies every counter (and the total) by factor in [0, 1]. */
void pred_cms_decay(struct pred_cms *cms, double factor);
/* Sum of every weight added (decayed): the N of the error bound. */
double pred_cms_total(const struct pred_cms *cms);
uint32_t pred_cms_width(const struct pred_cms *cms);
size_t pred_cms_memory(const struct pred_cms *cms);

/* 64-bit mix (splitmix64 finaliser), also used to hash file ids. */
uint64_t pred_hash64(uint64_t x);

#endif
