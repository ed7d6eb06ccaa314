/* The per-file record of ranges changed since the last remote sync (see
 * remote_dirty.h): a sync_dirty set behind a mutex, hung on the shadow-map
 * entry. */
#include "fs/remote_dirty.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon/shadow_map.h"
#include "sync/dirty_ranges.h"

/* Small: a record per shadowed file. 256 ranges, merged beyond that within
 * 5% (or 64 KiB) of overhead, else UNKNOWN. */
#define DIRTY_MAX_RANGES 256

struct record {
	pthread_mutex_t lock;
	uint64_t base; /* lock: the version the ranges are relative to */
	struct sync_dirty d;
};

static struct record *record_of(struct daemon_shadow_file *s)
{
	return s ? __atomic_load_n((struct record **)&s->dirty, __ATOMIC_ACQUIRE) : NULL;
}

void fs_remote_dirty_write(struct daemon_shadow_file *s, uint64_t off, uint64_t len)
{
	struct record *r = record_of(s);
	if (!r || !len)
		return;
	pthread_mutex_lock(&r->lock);
	sync_dirty_write(&r->d, off, len);
	pthread_mutex_unlock(&r->lock);
}

void fs_remote_dirty_truncate(struct daemon_shadow_file *s, uint64_t size)
{
	struct record *r = record_of(s);
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	sync_dirty_truncate(&r->d, size);
	pthread_mutex_unlock(&r->lock);
}

void fs_remote_dirty_unknown(struct daemon_shadow_file *s)
{
	struct record *r = record_of(s);
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	sync_dirty_mark_unknown(&r->d);
	pthread_mutex_unlock(&r->lock);
}

void fs_remote_dirty_synced(struct daemon_shadow_file *s, uint64_t version, uint64_t size)
{
	struct record *r = record_of(s);
	if (!r) {
		static const struct sync_dirty_config cfg = {
		    .max_ranges = DIRTY_MAX_RANGES, .overhead_pct = 5, .overhead_min = 65536};
		r = calloc(1, sizeof(*r));
		if (!r || sync_dirty_init(&r->d, size, &cfg) < 0) {
			free(r);
			return; /* no record: the next sync uses librsync */
		}
		pthread_mutex_init(&r->lock, NULL);
		sync_dirty_mark_unknown(&r->d);
		struct record *none = NULL;
		if (!__atomic_compare_exchange_n((struct record **)&s->dirty, &none, r, false,
						 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
			sync_dirty_release(&r->d);
			pthread_mutex_destroy(&r->lock);
			free(r);
			r = none;
		}
	}
	pthread_mutex_lock(&r->lock);
	/* Under the lock a writer has either bumped the version already (then
	 * the file moved on: the record keeps its older base) or will note
	 * its range after the reset. */
	if (daemon_shadow_file_version(s) == version) {
		sync_dirty_reset(&r->d, size);
		r->base = version;
	}
	pthread_mutex_unlock(&r->lock);
}

int fs_remote_dirty_ranges(struct daemon_shadow_file *s, uint64_t base, uint64_t size,
			   struct fs_dirty_span **ret, size_t *n)
{
	struct record *r = record_of(s);
	int rc = -ENOENT;
	if (!r)
		return rc;
	pthread_mutex_lock(&r->lock);
	if (sync_dirty_known(&r->d) && r->base == base && r->d.size == size) {
		struct fs_dirty_span *v = malloc((r->d.n ? r->d.n : 1) * sizeof(*v));
		if (v) {
			for (uint32_t i = 0; i < r->d.n; i++)
				v[i] = (struct fs_dirty_span){r->d.r[i].off, r->d.r[i].len};
			*ret = v;
			*n = r->d.n;
			rc = 0;
		} else {
			rc = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void fs_remote_dirty_free(struct daemon_shadow_file *s)
{
	struct record *r = record_of(s);
	if (!r)
		return;
	sync_dirty_release(&r->d);
	pthread_mutex_destroy(&r->lock);
	free(r);
	__atomic_store_n((struct record **)&s->dirty, NULL, __ATOMIC_RELEASE);
}
