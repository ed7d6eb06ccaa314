/* Dirty ranges of a file since a copy's version (semantics in dirty_ranges.h).
 * Cost: a write is O(log n) to find its place plus O(n) to shift the array;
 * an overflow costs O(n log n) once per max_ranges/4 new ranges. */
#include "sync/dirty_ranges.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct sync_dirty_config defaults = {
    .max_ranges = 4096,
    .overhead_pct = 5,
    .overhead_min = 64 * 1024,
};

int sync_dirty_init(struct sync_dirty *d, uint64_t base_size, const struct sync_dirty_config *cfg)
{
	*d = (struct sync_dirty){.cfg = cfg ? *cfg : defaults};
	if (d->cfg.max_ranges < 2)
		return -EINVAL;
	d->r = calloc(d->cfg.max_ranges, sizeof(*d->r));
	d->gaps = calloc(d->cfg.max_ranges, sizeof(*d->gaps));
	if (!d->r || !d->gaps) {
		sync_dirty_release(d);
		return -ENOMEM;
	}
	sync_dirty_reset(d, base_size);
	return 0;
}

void sync_dirty_release(struct sync_dirty *d)
{
	if (!d)
		return;
	free(d->r);
	free(d->gaps);
	d->r = NULL;
	d->gaps = NULL;
	d->n = 0;
}

void sync_dirty_reset(struct sync_dirty *d, uint64_t size)
{
	d->n = 0;
	d->base_size = d->size = size;
	d->covered = d->overhead = 0;
	d->unknown = false;
}

void sync_dirty_mark_unknown(struct sync_dirty *d)
{
	d->unknown = true;
	d->n = 0;
	d->covered = d->overhead = 0;
}

static uint64_t end_of(const struct sync_range *r)
{
	return r->off + r->len;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Merges the smallest gaps until n <= 3/4 of the slots, within the overhead
 * bound; otherwise the set becomes unknown. */
static void coalesce(struct sync_dirty *d)
{
	uint32_t target = d->cfg.max_ranges - d->cfg.max_ranges / 4;
	if (target < 1)
		target = 1;
	if (target >= d->n)
		target = d->n - 1;
	uint32_t merges = d->n - target;
	for (uint32_t i = 0; i + 1 < d->n; i++)
		d->gaps[i] = d->r[i + 1].off - end_of(&d->r[i]);
	qsort(d->gaps, d->n - 1, sizeof(*d->gaps), cmp_u64);
	uint64_t threshold = d->gaps[merges - 1];
	/* Gaps strictly below the threshold all merge; ties merge left to right
	 * until the count is reached. */
	uint32_t below = 0;
	for (uint32_t i = 0; i < merges; i++)
		below += d->gaps[i] < threshold;
	uint32_t ties = merges - below;

	uint64_t added = 0;
	uint32_t w = 0;
	for (uint32_t i = 1; i < d->n; i++) {
		uint64_t gap = d->r[i].off - end_of(&d->r[w]);
		bool merge = gap < threshold || (gap == threshold && ties > 0);
		if (merge) {
			if (gap == threshold)
				ties--;
			added += gap;
			d->r[w].len = end_of(&d->r[i]) - d->r[w].off;
		} else {
			d->r[++w] = d->r[i];
		}
	}
	d->n = w + 1;
	d->covered += added;
	d->overhead += added;
	uint64_t written = d->covered - d->overhead;
	uint64_t allowed =
	    written / 100 * d->cfg.overhead_pct + written % 100 * d->cfg.overhead_pct / 100;
	if (allowed < d->cfg.overhead_min)
		allowed = d->cfg.overhead_min;
	if (d->overhead > allowed)
		sync_dirty_mark_unknown(d);
}

/* Inserts [off, off+len), merging overlapping and adjacent ranges. */
static void add_range(struct sync_dirty *d, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	/* first range whose end reaches off (adjacent counts) */
	uint32_t lo = 0, hi = d->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (end_of(&d->r[mid]) < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	uint32_t first = lo, last = lo; /* ranges [first, last) merge */
	uint64_t merged_len = 0;
	while (last < d->n && d->r[last].off <= end) {
		if (d->r[last].off < off)
			off = d->r[last].off;
		if (end_of(&d->r[last]) > end)
			end = end_of(&d->r[last]);
		merged_len += d->r[last].len;
		last++;
	}
	uint32_t removed = last - first;
	if (removed == 0) {
		if (d->n == d->cfg.max_ranges) {
			coalesce(d);
			if (d->unknown)
				return;
			add_range(d, off, end - off); /* slots are free now */
			return;
		}
		memmove(&d->r[first + 1], &d->r[first], (d->n - first) * sizeof(*d->r));
		d->n++;
	} else if (removed > 1) {
		memmove(&d->r[first + 1], &d->r[last], (d->n - last) * sizeof(*d->r));
		d->n -= removed - 1;
	}
	d->r[first] = (struct sync_range){.off = off, .len = end - off};
	d->covered = d->covered - merged_len + (end - off);
	if (d->overhead > d->covered)
		d->overhead = d->covered;
}

void sync_dirty_write(struct sync_dirty *d, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	uint64_t end = off + len < off ? UINT64_MAX : off + len;
	if (!d->unknown) {
		if (off > d->size)
			add_range(d, d->size, off - d->size); /* the hole reads as zeros */
		if (!d->unknown)
			add_range(d, off, end - off);
	}
	if (end > d->size)
		d->size = end;
}

void sync_dirty_truncate(struct sync_dirty *d, uint64_t size)
{
	if (d->unknown) {
		d->size = size;
		return;
	}
	if (size > d->size) {
		add_range(d, d->size, size - d->size);
	} else if (size < d->size) {
		while (d->n && d->r[d->n - 1].off >= size) {
			d->covered -= d->r[d->n - 1].len;
			d->n--;
		}
		if (d->n && end_of(&d->r[d->n - 1]) > size) {
			struct sync_range *r = &d->r[d->n - 1];
			d->covered -= end_of(r) - size;
			r->len = size - r->off;
		}
		if (d->overhead > d->covered)
			d->overhead = d->covered;
	}
	d->size = size;
}
