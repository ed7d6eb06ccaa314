/* The active set: a bounded Space-Saving set of the files with the most
 * (decayed) demand, with a count-min sketch for everything else.
 *
 * At most `capacity` ids are tracked, each with a count and a fixed-size
 * caller payload (the recorder keeps per-bucket counters there). A weight for
 * an untracked id goes to the sketch; the id is admitted when the set has
 * room, or when its sketch estimate exceeds the smallest tracked count, which
 * is then evicted (its count goes back to the sketch). This is Space-Saving
 * (Metwally et al. 2005) with a sketch filter in front of admission, so a
 * stream of one-off files cannot churn the set. Counts decay by a factor per
 * bucket so the set follows recent demand.
 *
 * Memory is allocated once at create, so pred_hh_memory() is exact and does
 * not grow with the number of distinct ids seen. Not thread-safe: one owner
 * (the recorder's aggregator thread). */
#ifndef SHADOWFS_PREDICTOR_HEAVY_HITTERS_H
#define SHADOWFS_PREDICTOR_HEAVY_HITTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRED_HH_ID_LEN 16

struct pred_hh;

struct pred_hh_config {
	uint32_t capacity;   /* tracked ids, >= 1 */
	size_t payload_size; /* bytes of caller data per tracked id (0 acts as 1) */
	uint32_t cms_width;  /* 0: derived from capacity */
	uint32_t cms_depth;  /* 0: 4 */
	uint64_t seed;
};

/* Called before the slot of an evicted id is reused for another id; the
 * payload is zeroed afterwards. May be NULL. */
typedef void (*pred_hh_evict_fn)(void *ctx, const uint8_t id[PRED_HH_ID_LEN], void *payload);

int pred_hh_create(const struct pred_hh_config *cfg, pred_hh_evict_fn evict, void *ctx,
		   struct pred_hh **ret);
/* Calls evict for every tracked id, then frees. NULL is fine. */
void pred_hh_destroy(struct pred_hh *hh);

/* Adds weight (> 0) to id. Returns its payload when id is tracked after the
 * call (*ret_admitted true when it just got in, payload zeroed), NULL when
 * it stays in the tail. */
void *pred_hh_add(struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN], double weight,
		  bool *ret_admitted);
void *pred_hh_find(const struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN]);
/* Drops id from the set (evict is called for it; its count is forgotten,
 * not given to the sketch: for ids that will not come back, such as files
 * that were deleted). Returns whether it was tracked. */
bool pred_hh_remove(struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN]);
/* Tracked count, or the sketch's estimate for an untracked id. */
double pred_hh_estimate(const struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN]);
/* Multiplies every count by factor in (0, 1]. */
void pred_hh_decay(struct pred_hh *hh, double factor);

typedef void (*pred_hh_visit_fn)(void *ctx, const uint8_t id[PRED_HH_ID_LEN], double count,
				 void *payload);
/* Visits every tracked id (in no particular order). */
void pred_hh_foreach(struct pred_hh *hh, pred_hh_visit_fn fn, void *ctx);

uint32_t pred_hh_size(const struct pred_hh *hh);
uint32_t pred_hh_capacity(const struct pred_hh *hh);
double pred_hh_min_count(const struct pred_hh *hh); /* 0 when not full */
uint64_t pred_hh_evictions(const struct pred_hh *hh);
/* Bytes allocated by the structure (set, index, heap, payloads, sketch). */
size_t pred_hh_memory(const struct pred_hh *hh);

#endif
