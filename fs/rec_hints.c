/* The recorder's name hints: see rec_hints.h.
 *
 * Slot protocol (a sequence lock): peek reads seq (acquire), the fields,
 * and seq again, and trusts an even, unchanged seq. put and take own the
 * slot while they touch it: they
 * move seq from even to odd with a compare and swap (and give up if they
 * cannot: another thread is at that slot, and a lost hint only costs a
 * syscall later), read or write the fields, and publish seq + 2 (release).
 * take first compares the key without owning the slot, so the common miss
 * writes nothing. Fields are stored with release and loaded with acquire:
 * a reader that reads a field a writer stored synchronises with it, so it
 * then sees that writer's odd seq and discards the read. (They were
 * relaxed, ordered by an acquire fence before the second read of seq, but
 * nothing released the writer's odd seq before its fields: on a weakly
 * ordered CPU a field could be seen rewritten while seq still read even
 * twice, a torn hint. Release and acquire cost nothing more on x86, and
 * ThreadSanitizer, which does not model fences, can check them.) */
#include "fs/rec_hints.h"

#include "predictor/count_min.h" /* pred_hash64 */

uint64_t fs_rec_hint_key(uint64_t dir_dev, uint64_t dir_ino, const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = pred_hash64(h ^ (dir_ino * 0x9e3779b97f4a7c15ULL) ^ (dir_dev * 0xc2b2ae3d27d4eb4fULL));
	return h ? h : 1;
}

static struct fs_rec_hint_slot *slot_of(struct fs_rec_hints *h, uint64_t key)
{
	return &h->slot[key & (FS_REC_HINTS - 1)];
}

/* Locks s for writing; false: busy. *ret_seq: the even seq it had. */
static bool slot_lock(struct fs_rec_hint_slot *s, uint32_t *ret_seq)
{
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
	if (seq & 1)
		return false;
	if (!__atomic_compare_exchange_n(&s->seq, &seq, seq + 1, false, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	*ret_seq = seq;
	return true;
}

static void slot_write(struct fs_rec_hint_slot *s, uint32_t seq, uint64_t key, uint64_t dev,
		       uint64_t ino)
{
	__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
	__atomic_store_n(&s->dev, dev, __ATOMIC_RELEASE);
	__atomic_store_n(&s->ino, ino, __ATOMIC_RELEASE);
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

void fs_rec_hint_put(struct fs_rec_hints *h, uint64_t key, uint64_t dev, uint64_t ino)
{
	struct fs_rec_hint_slot *s = slot_of(h, key);
	uint32_t seq;
	if (slot_lock(s, &seq))
		slot_write(s, seq, key, dev, ino);
}

bool fs_rec_hint_peek(struct fs_rec_hints *h, uint64_t key, uint64_t *ret_dev, uint64_t *ret_ino)
{
	struct fs_rec_hint_slot *s = slot_of(h, key);
	uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
	if ((seq & 1) || __atomic_load_n(&s->key, __ATOMIC_ACQUIRE) != key)
		return false;
	uint64_t dev = __atomic_load_n(&s->dev, __ATOMIC_ACQUIRE);
	uint64_t ino = __atomic_load_n(&s->ino, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq)
		return false; /* rewritten while read */
	*ret_dev = dev;
	*ret_ino = ino;
	return true;
}

bool fs_rec_hint_take(struct fs_rec_hints *h, uint64_t key, uint64_t *ret_dev, uint64_t *ret_ino)
{
	struct fs_rec_hint_slot *s = slot_of(h, key);
	if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) != key)
		return false; /* the common miss, without touching seq */
	uint32_t seq;
	if (!slot_lock(s, &seq))
		return false;
	if (__atomic_load_n(&s->key, __ATOMIC_RELAXED) != key) { /* replaced meanwhile */
		__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
		return false;
	}
	*ret_dev = __atomic_load_n(&s->dev, __ATOMIC_RELAXED);
	*ret_ino = __atomic_load_n(&s->ino, __ATOMIC_RELAXED);
	slot_write(s, seq, 0, 0, 0);
	return true;
}
