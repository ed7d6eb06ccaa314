/* The active set: see heavy_hitters.h.
 *
 * Layout, all allocated at create:
 *   ents[capacity]      id, count, position in the heap
 *   payloads            capacity * payload_size bytes, slot i for ents[i]
 *   index[2^k]          open addressing (linear probing) from id hash to
 *                       slot, UINT32_MAX empty; k makes it >= 2 * capacity;
 *                       deletions shift back (no tombstones)
 *   heap[size]          slots ordered by count, smallest first */
#include "predictor/heavy_hitters.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/count_min.h"

#define EMPTY UINT32_MAX

struct hh_ent {
	uint8_t id[PRED_HH_ID_LEN];
	double count;
	uint32_t heap_pos;
};

struct pred_hh {
	uint32_t capacity, size;
	size_t payload_size;
	struct hh_ent *ents;
	unsigned char *payloads;
	uint32_t *index;
	uint32_t index_mask;
	uint32_t *heap;
	struct pred_cms *cms;
	uint64_t evictions;
	pred_hh_evict_fn evict;
	void *ctx;
};

static uint64_t id_key(const uint8_t id[PRED_HH_ID_LEN])
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	return pred_hash64(a ^ pred_hash64(b));
}

int pred_hh_create(const struct pred_hh_config *cfg, pred_hh_evict_fn evict, void *ctx,
		   struct pred_hh **ret)
{
	*ret = NULL;
	if (!cfg || cfg->capacity == 0 || cfg->capacity > (UINT32_MAX >> 2))
		return -EINVAL;
	struct pred_hh *hh = calloc(1, sizeof(*hh));
	if (!hh)
		return -ENOMEM;
	hh->capacity = cfg->capacity;
	hh->payload_size = cfg->payload_size ? cfg->payload_size : 1; /* non-NULL payloads */
	hh->evict = evict;
	hh->ctx = ctx;
	uint32_t isz = 16;
	while (isz < 2 * cfg->capacity)
		isz <<= 1;
	hh->index_mask = isz - 1;
	hh->ents = calloc(cfg->capacity, sizeof(*hh->ents));
	hh->payloads = calloc(cfg->capacity, hh->payload_size);
	hh->index = malloc((size_t)isz * sizeof(*hh->index));
	hh->heap = calloc(cfg->capacity, sizeof(*hh->heap));
	uint32_t width = cfg->cms_width ? cfg->cms_width : (cfg->capacity < 1024 ? 1024 : cfg->capacity);
	uint32_t depth = cfg->cms_depth ? cfg->cms_depth : 4;
	int rc = pred_cms_create(width, depth, cfg->seed, &hh->cms);
	if (rc || !hh->ents || !hh->payloads || !hh->index || !hh->heap) {
		pred_hh_destroy(hh);
		return rc ? rc : -ENOMEM;
	}
	memset(hh->index, 0xff, (size_t)isz * sizeof(*hh->index));
	*ret = hh;
	return 0;
}

static void *payload(const struct pred_hh *hh, uint32_t slot)
{
	return hh->payloads + (size_t)slot * hh->payload_size;
}

void pred_hh_destroy(struct pred_hh *hh)
{
	if (!hh)
		return;
	if (hh->evict && hh->heap && hh->ents && hh->payloads)
		for (uint32_t i = 0; i < hh->size; i++)
			hh->evict(hh->ctx, hh->ents[hh->heap[i]].id, payload(hh, hh->heap[i]));
	free(hh->ents);
	free(hh->payloads);
	free(hh->index);
	free(hh->heap);
	pred_cms_destroy(hh->cms);
	free(hh);
}

/* Index position holding id, or the empty position where it would go. */
static uint32_t probe(const struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN], bool *found)
{
	uint32_t pos = (uint32_t)id_key(id) & hh->index_mask;
	for (;;) {
		uint32_t s = hh->index[pos];
		if (s == EMPTY) {
			*found = false;
			return pos;
		}
		if (!memcmp(hh->ents[s].id, id, PRED_HH_ID_LEN)) {
			*found = true;
			return pos;
		}
		pos = (pos + 1) & hh->index_mask;
	}
}

/* Backward-shift deletion for linear probing. */
static void index_remove(struct pred_hh *hh, uint32_t pos)
{
	uint32_t mask = hh->index_mask;
	uint32_t hole = pos;
	uint32_t j = pos;
	for (;;) {
		j = (j + 1) & mask;
		uint32_t s = hh->index[j];
		if (s == EMPTY)
			break;
		uint32_t home = (uint32_t)id_key(hh->ents[s].id) & mask;
		/* Move s into the hole unless its home lies cyclically in (hole, j]. */
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			hh->index[hole] = s;
			hole = j;
		}
	}
	hh->index[hole] = EMPTY;
}

static void heap_swap(struct pred_hh *hh, uint32_t a, uint32_t b)
{
	uint32_t sa = hh->heap[a], sb = hh->heap[b];
	hh->heap[a] = sb;
	hh->heap[b] = sa;
	hh->ents[sb].heap_pos = a;
	hh->ents[sa].heap_pos = b;
}

static void sift_up(struct pred_hh *hh, uint32_t i)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (hh->ents[hh->heap[p]].count <= hh->ents[hh->heap[i]].count)
			break;
		heap_swap(hh, i, p);
		i = p;
	}
}

static void sift_down(struct pred_hh *hh, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < hh->size && hh->ents[hh->heap[l]].count < hh->ents[hh->heap[m]].count)
			m = l;
		if (r < hh->size && hh->ents[hh->heap[r]].count < hh->ents[hh->heap[m]].count)
			m = r;
		if (m == i)
			return;
		heap_swap(hh, i, m);
		i = m;
	}
}

void *pred_hh_find(const struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN])
{
	bool found;
	uint32_t pos = probe(hh, id, &found);
	return found ? payload(hh, hh->index[pos]) : NULL;
}

double pred_hh_estimate(const struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN])
{
	bool found;
	uint32_t pos = probe(hh, id, &found);
	if (found)
		return hh->ents[hh->index[pos]].count;
	return pred_cms_estimate(hh->cms, id_key(id));
}

/* Takes a slot for id at index position pos with count. */
static uint32_t admit(struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN], uint32_t pos,
		      double count)
{
	uint32_t slot;
	if (hh->size < hh->capacity) {
		slot = hh->size;
		hh->heap[hh->size] = slot;
		hh->ents[slot].heap_pos = hh->size;
		hh->size++;
	} else {
		/* Evict the minimum; its count goes back to the sketch. */
		slot = hh->heap[0];
		struct hh_ent *old = &hh->ents[slot];
		pred_cms_raise(hh->cms, id_key(old->id), old->count);
		if (hh->evict)
			hh->evict(hh->ctx, old->id, payload(hh, slot));
		bool f;
		uint32_t opos = probe(hh, old->id, &f);
		index_remove(hh, opos);
		hh->evictions++;
		/* The removal may have moved entries: find id's place again. */
		pos = probe(hh, id, &f);
	}
	memset(payload(hh, slot), 0, hh->payload_size);
	memcpy(hh->ents[slot].id, id, PRED_HH_ID_LEN);
	hh->ents[slot].count = count;
	hh->index[pos] = slot;
	uint32_t hp = hh->ents[slot].heap_pos;
	sift_up(hh, hp);
	sift_down(hh, hh->ents[slot].heap_pos);
	return slot;
}

void *pred_hh_add(struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN], double weight,
		  bool *ret_admitted)
{
	bool found;
	if (ret_admitted)
		*ret_admitted = false;
	uint32_t pos = probe(hh, id, &found);
	if (found) {
		uint32_t slot = hh->index[pos];
		hh->ents[slot].count += weight;
		sift_down(hh, hh->ents[slot].heap_pos);
		return payload(hh, slot);
	}
	double est;
	if (hh->size < hh->capacity) {
		/* Room: admit directly, carrying what the sketch remembers. */
		est = pred_cms_estimate(hh->cms, id_key(id)) + weight;
	} else {
		est = pred_cms_add(hh->cms, id_key(id), weight);
		if (est <= hh->ents[hh->heap[0]].count)
			return NULL;
	}
	uint32_t slot = admit(hh, id, pos, est);
	if (ret_admitted)
		*ret_admitted = true;
	return payload(hh, slot);
}

/* Removes the entry at heap position hp: the last heap entry takes its
 * place and moves up or down. */
static void heap_remove(struct pred_hh *hh, uint32_t hp)
{
	hh->size--;
	if (hp == hh->size)
		return;
	hh->heap[hp] = hh->heap[hh->size];
	hh->ents[hh->heap[hp]].heap_pos = hp;
	sift_up(hh, hp);
	sift_down(hh, hh->ents[hh->heap[hp]].heap_pos);
}

bool pred_hh_remove(struct pred_hh *hh, const uint8_t id[PRED_HH_ID_LEN])
{
	bool found;
	uint32_t pos = probe(hh, id, &found);
	if (!found)
		return false;
	uint32_t slot = hh->index[pos];
	if (hh->evict)
		hh->evict(hh->ctx, hh->ents[slot].id, payload(hh, slot));
	index_remove(hh, pos);
	heap_remove(hh, hh->ents[slot].heap_pos);
	/* Slots stay dense (0..size-1): the last one moves into the hole. */
	uint32_t last = hh->size;
	if (slot != last) {
		hh->ents[slot] = hh->ents[last];
		memcpy(payload(hh, slot), payload(hh, last), hh->payload_size);
		hh->heap[hh->ents[slot].heap_pos] = slot;
		bool f;
		hh->index[probe(hh, hh->ents[slot].id, &f)] = slot;
	}
	return true;
}

void pred_hh_decay(struct pred_hh *hh, double factor)
{
	for (uint32_t i = 0; i < hh->size; i++)
		hh->ents[i].count *= factor;
	pred_cms_decay(hh->cms, factor);
}

void pred_hh_foreach(struct pred_hh *hh, pred_hh_visit_fn fn, void *ctx)
{
	for (uint32_t i = 0; i < hh->size; i++)
		fn(ctx, hh->ents[i].id, hh->ents[i].count, payload(hh, i));
}

uint32_t pred_hh_size(const struct pred_hh *hh) { return hh->size; }
uint32_t pred_hh_capacity(const struct pred_hh *hh) { return hh->capacity; }
uint64_t pred_hh_evictions(const struct pred_hh *hh) { return hh->evictions; }

double pred_hh_min_count(const struct pred_hh *hh)
{
	return hh->size < hh->capacity || hh->size == 0 ? 0 : hh->ents[hh->heap[0]].count;
}

size_t pred_hh_memory(const struct pred_hh *hh)
{
	return sizeof(*hh) + (size_t)hh->capacity * (sizeof(*hh->ents) + hh->payload_size +
						     sizeof(*hh->heap)) +
	       ((size_t)hh->index_mask + 1) * sizeof(*hh->index) + pred_cms_memory(hh->cms);
}
