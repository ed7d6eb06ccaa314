/* Dirty ranges: which bytes of a file changed since the version a copy holds.
 *
 * The mount sees every write and truncate, so it can tell a copy exactly what
 * to fetch (a ranged delta, range_delta.h) instead of running librsync. This
 * is the record it keeps per (file, copy version): a sorted set of disjoint,
 * non-adjacent intervals, the current size, and the size of the base version.
 *
 * Semantics:
 * - write(off, len) marks [off, off+len) dirty; writing past the end also marks
 *   the hole [size, off) (it reads as zeros, unlike the copy's bytes there).
 * - truncate(s) shrinking drops/clips ranges past s; growing marks [size, s).
 * - Bounded memory: at most max_ranges intervals (array allocated once). When
 *   a write would exceed it, the smallest gaps are merged until a quarter of the
 *   slots are free. The bytes merged in that were not written ("overhead",
 *   tracked as an upper bound) may not exceed max(overhead_min,
 *   overhead_pct% of the written bytes); past that bound the set turns
 *   UNKNOWN instead of growing. So the ranges never cover more than
 *   (1 + overhead_pct/100) x the written bytes (or + overhead_min).
 * - UNKNOWN means "use librsync": set after a restart, when a change happened
 *   behind the mount's back, or on overflow as above. Only a reset (after a
 *   successful sync) makes the set known again.
 *
 * Not thread-safe: the owner (the mount's per-file state) serialises calls. */
#ifndef SHADOWFS_SYNC_DIRTY_RANGES_H
#define SHADOWFS_SYNC_DIRTY_RANGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sync_dirty_config {
	uint32_t max_ranges;   /* >= 2; default 4096 */
	uint32_t overhead_pct; /* default 5 */
	uint64_t overhead_min; /* bytes always allowed; default 64 KiB */
};

struct sync_range {
	uint64_t off;
	uint64_t len;
};

struct sync_dirty {
	struct sync_dirty_config cfg;
	struct sync_range *r; /* sorted, disjoint, non-adjacent; cfg.max_ranges slots */
	uint64_t *gaps;	      /* scratch for coalescing; cfg.max_ranges slots */
	uint32_t n;
	uint64_t base_size; /* size of the version the copy holds */
	uint64_t size;	    /* current size of the file */
	uint64_t covered;   /* sum of range lengths */
	uint64_t overhead;  /* upper bound of covered bytes never written */
	bool unknown;
};

/* cfg NULL = defaults. The set starts known and empty at base_size. */
int sync_dirty_init(struct sync_dirty *d, uint64_t base_size, const struct sync_dirty_config *cfg);
void sync_dirty_release(struct sync_dirty *d);

/* A sync brought the copy to the current version (of `size` bytes). */
void sync_dirty_reset(struct sync_dirty *d, uint64_t size);
void sync_dirty_mark_unknown(struct sync_dirty *d);

void sync_dirty_write(struct sync_dirty *d, uint64_t off, uint64_t len);
void sync_dirty_truncate(struct sync_dirty *d, uint64_t size);

static inline bool sync_dirty_known(const struct sync_dirty *d)
{
	return !d->unknown;
}
/* Bytes a ranged delta would carry (0 when unknown). */
static inline uint64_t sync_dirty_bytes(const struct sync_dirty *d)
{
	return d->unknown ? 0 : d->covered;
}

#endif
