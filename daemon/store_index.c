/* The host store's index of durable copies by file id (see store_index.h). */
#include "daemon/store_index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* A bijection of 64 bits that spreads every input bit over the output
 * (MurmurHash3's finaliser). */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The home slot of an id: every bit of both halves reaches the slot's bits,
 * through a key drawn when the index is first used. Ids are not uniformly
 * random (a file id is made of the filesystem's and the inode's numbers),
 * and a peer picks the ids it uploads: before, ids whose second half held
 * a number below 2^24 (big-endian) all had homes 512 slots apart, so each
 * add and lookup walked one run; 200,000 such copies took shadowd 36 s of
 * a core to open its store (2.4 s for random ids). */
static size_t home(const struct store_index *x, const uint8_t id[16])
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	return (size_t)mix(mix(a ^ x->key) ^ b) & (x->cap - 1);
}

static bool same(const struct store_index_slot *s, const uint8_t id[16], uint64_t version)
{
	return s->used && s->version == version && !memcmp(s->id, id, 16);
}

static int grow(struct store_index *x)
{
	if (!x->cap && getrandom(&x->key, sizeof(x->key), GRND_NONBLOCK) != sizeof(x->key))
		x->key = (uint64_t)(uintptr_t)x ^ (uint64_t)time(NULL); /* no entropy yet */
	size_t cap = x->cap ? x->cap * 2 : 64;
	struct store_index_slot *old = x->slots, *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	size_t old_cap = x->cap;
	x->slots = slots;
	x->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used) {
			size_t j = home(x, old[i].id);
			while (slots[j].used)
				j = (j + 1) & (cap - 1);
			slots[j] = old[i];
		}
	free(old);
	return 0;
}

int store_index_add(struct store_index *x, const uint8_t id[16], uint64_t version)
{
	if ((x->n + 1) * 4 > x->cap * 3 && grow(x) < 0) { /* load <= 3/4 */
		x->incomplete = true;
		return -ENOMEM;
	}
	size_t i = home(x, id);
	for (; x->slots[i].used; i = (i + 1) & (x->cap - 1))
		if (same(&x->slots[i], id, version))
			return 0;
	memcpy(x->slots[i].id, id, 16);
	x->slots[i].version = version;
	x->slots[i].used = 1;
	x->slots[i].stamp = (struct store_stamp){0};
	x->n++;
	return 0;
}

/* The slot of (id, version), or NULL. */
static struct store_index_slot *slot_of(const struct store_index *x, const uint8_t id[16],
					uint64_t version)
{
	if (!x->cap)
		return NULL;
	for (size_t i = home(x, id); x->slots[i].used; i = (i + 1) & (x->cap - 1))
		if (same(&x->slots[i], id, version))
			return &x->slots[i];
	return NULL;
}

void store_index_set_stamp(struct store_index *x, const uint8_t id[16], uint64_t version,
			   const struct store_stamp *st)
{
	struct store_index_slot *sl = slot_of(x, id, version);
	if (sl)
		sl->stamp = *st;
}

int store_index_stamp(const struct store_index *x, const uint8_t id[16], uint64_t version,
		      struct store_stamp *ret)
{
	const struct store_index_slot *sl = slot_of(x, id, version);
	if (!sl)
		return -ENOENT;
	if (!sl->stamp.known)
		return 0;
	*ret = sl->stamp;
	return 1;
}

void store_index_remove(struct store_index *x, const uint8_t id[16], uint64_t version)
{
	if (!x->cap)
		return;
	size_t mask = x->cap - 1, i = home(x, id);
	for (; x->slots[i].used && !same(&x->slots[i], id, version); i = (i + 1) & mask)
		;
	if (!x->slots[i].used)
		return;
	/* Backward shift: each later entry of the run moves into the hole if
	 * the hole lies between its home and its slot (cyclically). */
	for (size_t j = (i + 1) & mask; x->slots[j].used; j = (j + 1) & mask) {
		size_t k = home(x, x->slots[j].id);
		if (((j - k) & mask) >= ((j - i) & mask)) {
			x->slots[i] = x->slots[j];
			i = j;
		}
	}
	x->slots[i].used = 0;
	x->n--;
}

size_t store_index_versions(const struct store_index *x, const uint8_t id[16], uint64_t *out,
			    size_t max)
{
	size_t found = 0;
	if (!x->cap)
		return 0;
	for (size_t i = home(x, id); x->slots[i].used; i = (i + 1) & (x->cap - 1))
		if (!memcmp(x->slots[i].id, id, 16)) {
			if (found < max)
				out[found] = x->slots[i].version;
			found++;
		}
	return found;
}

void store_index_free(struct store_index *x)
{
	free(x->slots);
	*x = (struct store_index){0};
}
