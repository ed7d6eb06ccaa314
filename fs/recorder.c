/* The access recorder: see recorder.h for the design. This file is the
 * aggregator (drains the rings, folds events, keeps the active set), the
 * writer (names files and flushes buckets to the series store) and the
 * lifetime; the FUSE threads' side is fs/rec_ring.c.
 *
 * Rings: one per FUSE thread, an array of 64-byte items (union rec_item)
 * indexed by free-running head/tail counters. The producer (the thread)
 * writes the event (preceded by its naming claim, struct rec_name_event,
 * when the op claimed the file's name) then publishes head with a release
 * store; the consumer (the aggregator) reads head with an acquire load,
 * folds the events, then publishes tail. head and tail live on separate
 * cache lines.
 *
 * Aggregator state (everything in struct rec_agg) is touched by the
 * aggregator thread only, except during start/stop. */
#include "fs/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "fs/rec_internal.h"
#include "fs/host_metrics.h"
#include "fs/rec_hints.h"
#include "fs/rec_name.h"
#include "fs/status_file.h"
#include "predictor/count_min.h"
#include "predictor/heavy_hitters.h"
#include "predictor/store_locate.h"
#define REC_DEFAULT_BUCKET 60
#define REC_DEFAULT_TRACK 10000
#define REC_DEFAULT_RING 8192
#define REC_DEFAULT_CLAIM_FDS 256
#define REC_DEFAULT_TICK_MS 50
#define REC_GRACE_MS 30 /* a bucket is flushed this long after its end */
#define REC_DEFAULT_HALFLIFE 3600.0


/* ---- aggregator ---- */

/* Identity of the client (uid, process name) behind an event; the pid
 * stands in for the name of a process that was gone before the FUSE thread
 * could read it. */
static uint64_t client_hash(const struct rec_event *ev)
{
	uint64_t name = ev->comm ? ev->comm : pred_hash64(0x70696400ULL ^ ev->pid);
	return pred_hash64(name ^ ((uint64_t)ev->uid * 0x9e3779b97f4a7c15ULL));
}

static uint64_t slot_events(const struct rec_slot *s)
{
	return (uint64_t)s->opens + s->reads + s->writes + s->meta;
}

/* Frees what an entry holds for its name (path of REC_BY_NAME). */
static void entry_unname(struct fs_recorder *rec, struct rec_entry *e)
{
	if (e->naming == REC_BY_NAME && e->u.named.path) {
		rec->agg.path_bytes -= strlen(e->u.named.path) + 1;
		free(e->u.named.path);
	}
	e->naming = REC_UNNAMED;
}

static void on_evict(void *ctx, const uint8_t key[PRED_HH_ID_LEN], void *payload)
{
	(void)key;
	struct fs_recorder *rec = ctx;
	struct rec_entry *e = payload;
	rec->agg.tail[0] += slot_events(&e->slot[0]);
	rec->agg.tail[1] += slot_events(&e->slot[1]);
	entry_unname(rec, e);
}

/* Takes a tracked file's naming claim: keeps its handle for the writer,
 * or (inodes without one) names it now from the claimed fd. */
static void entry_claim(struct fs_recorder *rec, struct rec_entry *e,
			const struct rec_name_event *n, uint64_t now_s)
{
	if (n->handle.len) {
		entry_unname(rec, e);
		e->u.by_handle.handle = n->handle;
		e->u.by_handle.dir_ino = n->dir_ino;
		e->naming = REC_BY_HANDLE;
		return;
	}
	uint8_t id[PRED_ID_LEN];
	char *path;
	int rc = fs_rec_name_fd(&rec->namer, n->fd, n->dir_ino, (int64_t)now_s, id, &path);
	if (!rc && !path)
		rc = -ESTALE; /* no path to keep it by in memory: try again later */
	if (rc == -ENOENT) {
		rec->agg.name_gone++;
		return;
	}
	if (rc) {
		rec->agg.name_failures++;
		return;
	}
	rec->agg.named++;
	entry_unname(rec, e);
	memcpy(e->u.named.id, id, PRED_ID_LEN);
	e->u.named.path = path;
	e->naming = REC_BY_NAME;
	rec->agg.path_bytes += strlen(path) + 1;
}

/* Counts one event in a file's counters of one bucket. */
static void slot_count(struct rec_slot *c, const struct rec_event *ev, unsigned client_bit)
{
	switch (ev->kind) {
	case FS_EV_OPEN:
		c->opens++;
		break;
	case FS_EV_READ:
		c->reads++;
		c->read_bytes += ev->bytes;
		c->lat_sum += ev->latency_ns;
		c->lat_count++;
		c->lat_hist[pred_lat_slot(ev->latency_ns)]++;
		if (ev->latency_ns > c->lat_max)
			c->lat_max = ev->latency_ns;
		break;
	case FS_EV_WRITE:
		c->writes++;
		c->written_bytes += ev->bytes;
		break;
	default:
		c->meta++;
		break;
	}
	c->clients[client_bit >> 6] |= 1ULL << (client_bit & 63);
}

/* The client's bit in the linear-counting bitmap; the last client's is
 * kept, since a drain holds long runs of events of the same process. */
static unsigned client_bit(struct rec_agg *a, const struct rec_event *ev)
{
	struct rec_client_memo *m = &a->last_client;
	if (!m->valid || m->comm != ev->comm || m->uid != ev->uid || (!ev->comm && m->pid != ev->pid)) {
		m->valid = true;
		m->comm = ev->comm;
		m->uid = ev->uid;
		m->pid = ev->pid;
		m->bit = (unsigned)(client_hash(ev) & 127);
	}
	return m->bit;
}

/* Adds the counters of from to those of to. */
static void slot_merge(struct rec_slot *to, const struct rec_slot *from)
{
	to->opens += from->opens;
	to->reads += from->reads;
	to->writes += from->writes;
	to->meta += from->meta;
	to->read_bytes += from->read_bytes;
	to->written_bytes += from->written_bytes;
	if (from->lat_count) {
		to->lat_sum += from->lat_sum;
		to->lat_count += from->lat_count;
		for (unsigned i = 0; i < PRED_LAT_HIST; i++)
			to->lat_hist[i] += from->lat_hist[i];
		if (from->lat_max > to->lat_max)
			to->lat_max = from->lat_max;
	}
	to->clients[0] |= from->clients[0];
	to->clients[1] |= from->clients[1];
}

static uint32_t fold_pos(uint64_t dev, uint64_t ino, uint32_t s)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ (dev * 0xc2b2ae3d27d4eb4fULL) ^ s;
	return (uint32_t)(h >> 32) & (REC_FOLD_SLOTS - 1);
}

static struct rec_gone_recent *gone_recent_of(struct rec_agg *a, uint64_t dev, uint64_t ino)
{
	return &a->gone_recent[fold_pos(dev, ino, 0) & (REC_GONE_RECENT - 1)];
}

/* Whether (dev, ino) was deleted in this drain or the ones just before;
 * *ret_hash: its handle hash then. */
static bool gone_recently(struct rec_agg *a, uint64_t dev, uint64_t ino, uint32_t *ret_hash)
{
	const struct rec_gone_recent *g = gone_recent_of(a, dev, ino);
	if (!g->drain || g->drain + REC_GONE_DRAINS <= a->drains || g->ino != ino || g->dev != dev)
		return false;
	*ret_hash = g->hash;
	return true;
}

/* Applies the folded events to the active set (one pred_hh_add per file
 * and slot, with the claim that came last) and empties the fold table. */
static void fold_apply(struct fs_recorder *rec)
{
	struct rec_agg *a = &rec->agg;
	struct rec_fold_table *t = a->fold;
	for (uint32_t i = 0; i < t->n; i++) {
		struct rec_fold *f = &t->folds[i];
		uint8_t key[PRED_HH_ID_LEN];
		memcpy(key, &f->dev, 8);
		memcpy(key + 8, &f->ino, 8);
		if (f->gone) {
			/* Its counters so far go to the tail (on_evict). */
			pred_hh_remove(a->hh, key);
			a->tail[f->s] += f->events;
			if (f->has_name)
				rec_claim_fd_close(f->name.fd);
			continue;
		}
		a->set_updates++;
		struct rec_entry *e = pred_hh_add(a->hh, key, (double)f->events, NULL);
		if (f->has_name) {
			if (e)
				entry_claim(rec, e, &f->name, f->name_s);
			rec_claim_fd_close(f->name.fd);
		}
		if (e)
			slot_merge(&e->slot[f->s], &f->delta);
		else
			a->tail[f->s] += f->events;
	}
	if (t->n)
		memset(t->pos, 0, sizeof(t->pos)); /* 1 KiB; a drain with events only */
	t->n = 0;
	t->both_slots = false;
	a->slot_memo_s = 0; /* the next item sets first_s */
}

/* The fold entry of (dev, ino) in bucket slot s; made (empty) when
 * there is none and make is set, else NULL. A full table is applied first. */
static inline __attribute__((always_inline)) struct rec_fold *
fold_find(struct fs_recorder *rec, uint64_t dev, uint64_t ino, unsigned s, bool make)
{
	struct rec_fold_table *t = rec->agg.fold;
	uint32_t h = fold_pos(dev, ino, s);
	for (;;) {
		uint16_t p = t->pos[h];
		if (p) {
			struct rec_fold *f = &t->folds[p - 1];
			if (f->ino == ino && f->dev == dev && f->s == s)
				return f;
			h = (h + 1) & (REC_FOLD_SLOTS - 1);
			continue;
		}
		if (!make)
			return NULL;
		if (t->n == REC_FOLD_MAX) { /* full: apply what is there, start again */
			fold_apply(rec);
			h = fold_pos(dev, ino, s);
			continue;
		}
		struct rec_fold *f = &t->folds[t->n++];
		memset(f, 0, sizeof(*f));
		f->dev = dev;
		f->ino = ino;
		f->s = s;
		f->name.fd = -1;
		f->gone = gone_recently(&rec->agg, dev, ino, &f->gone_hash);
		t->pos[h] = (uint16_t)t->n;
		return f;
	}
}

/* The bucket slot of an item's time (the last second's is kept: a drain
 * holds long runs of the same second). */
static inline unsigned slot_of_time(struct fs_recorder *rec, uint64_t ts_s)
{
	struct rec_agg *a = &rec->agg;
	if (ts_s != a->slot_memo_s || a->open_idx != a->slot_memo_open) {
		uint64_t idx = ts_s / rec->width;
		a->slot_memo_s = ts_s;
		a->slot_memo_open = a->open_idx;
		a->slot_memo = (unsigned)((idx <= a->open_idx ? a->open_idx : a->open_idx + 1) & 1);
		if (!a->fold->n)
			a->fold->first_s = a->slot_memo;
		else if (a->slot_memo != a->fold->first_s)
			a->fold->both_slots = true;
	}
	return a->slot_memo;
}

/* Folds one event, with the naming claim that preceded it (or NULL), into
 * the fold table; fold_apply brings it to the active set. */
static void fold(struct fs_recorder *rec, const struct rec_event *ev,
		 const struct rec_name_event *name)
{
	struct rec_agg *a = &rec->agg;
	unsigned s = slot_of_time(rec, ev->ts_s);
	a->events++;
	struct rec_fold *f = fold_find(rec, ev->dev, ev->ino, s, true);
	f->events++;
	if (name) {
		/* A claim folded after the deletion: of the deleted file (rings
		 * are drained one after the other, not in the order the requests
		 * ran), or of a new file that got the inode number (ext4 reuses
		 * them): the handle tells (its generation); unknown, the writer
		 * does (as without the deletion). */
		if (f->gone && (!f->gone_hash || fs_rec_handle_hash(&name->handle) != f->gone_hash))
			f->gone = false;
		if (f->has_name)
			rec_claim_fd_close(f->name.fd);
		f->name = *name;
		f->has_name = true;
		f->name_s = ev->ts_s;
	}
	slot_count(&f->delta, ev, client_bit(a, ev));
}

/* A file deleted through the mount (REC_EV_GONE): its fold entries of
 * this drain (both slots) go to the tail instead of the active set, and
 * fold_apply drops it from the set. */
static void fold_gone(struct fs_recorder *rec, const struct rec_gone_event *ev)
{
	unsigned s = slot_of_time(rec, ev->ts_s);
	rec->agg.unlinked++;
	*gone_recent_of(&rec->agg, ev->dev, ev->ino) = (struct rec_gone_recent){
		.dev = ev->dev, .ino = ev->ino, .drain = rec->agg.drains + 1, .hash = ev->handle_hash};
	struct rec_fold *f = fold_find(rec, ev->dev, ev->ino, s, true);
	f->gone = true;
	f->gone_hash = ev->handle_hash;
	f = rec->agg.fold->both_slots ? fold_find(rec, ev->dev, ev->ino, s ^ 1, false) : NULL;
	if (f) {
		f->gone = true;
		f->gone_hash = ev->handle_hash;
	}
}

/* Drains every ring; returns the in-flight requests summed over threads.
 * *ret_busy: some ring was more than a quarter full (drain again soon). */
static uint32_t drain(struct fs_recorder *rec, bool *ret_busy)
{
	int64_t inflight = 0;
	*ret_busy = false;
	rec->agg.drains++;
	pthread_mutex_lock(&rec->rings_lock);
	/* Every ring's head first, then the items: a drain then covers one
	 * short instant of all threads, so a deletion noted on one thread is
	 * not folded ahead of events that came before it on another (which a
	 * ring drained before would otherwise miss until the next drain). */
	for (struct rec_ring *r = rec->rings; r; r = r->next) {
		r->drain_orphan = atomic_load_explicit(&r->orphan, memory_order_acquire);
		r->drain_head = atomic_load_explicit(&r->head, memory_order_acquire);
	}
	struct rec_ring **pp = &rec->rings;
	while (*pp) {
		struct rec_ring *r = *pp;
		bool orphan = r->drain_orphan;
		uint64_t head = r->drain_head;
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		if (head - tail > r->mask / 4)
			*ret_busy = true;
		const struct rec_name_event *name = NULL;
		for (; tail != head; tail++) {
			const union rec_item *it = &r->items[tail & r->mask];
			if (it->kind == REC_EV_NAME) {
				name = &it->name; /* the next item is its event */
				continue;
			}
			if (it->kind == REC_EV_GONE) {
				fold_gone(rec, &it->gone);
				continue;
			}
			fold(rec, &it->ev, name);
			name = NULL;
		}
		atomic_store_explicit(&r->tail, tail, memory_order_release);
		inflight += atomic_load_explicit(&r->inflight, memory_order_relaxed);
		if (orphan) { /* drained after its thread let go: nothing more comes */
			*pp = r->next;
			rec->nrings--;
			pthread_mutex_lock(&rec->lock);
			rec->stats.dropped += atomic_load(&r->dropped);
			pthread_mutex_unlock(&rec->lock);
			rec_ring_unref(r);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&rec->rings_lock);
	fold_apply(rec);
	return inflight > 0 ? (uint32_t)inflight : 0;
}

static uint32_t linear_count(const uint64_t bits[2])
{
	unsigned set = (unsigned)(__builtin_popcountll(bits[0]) + __builtin_popcountll(bits[1]));
	if (set == 0)
		return 0;
	if (set >= 128)
		set = 127; /* saturated: the estimate's ceiling */
	double est = -128.0 * log1p(-(double)set / 128.0);
	return (uint32_t)(est + 0.5);
}

/* One bucket handed from the aggregator to the writer thread. files[i]
 * is named already (path owned) when handles[i].handle.len is 0, else the
 * writer names it from handles[i] first. */
struct rec_batch {
	struct rec_batch *next;
	struct pred_file_bucket *files; /* paths owned */
	struct rec_batch_handle {
		struct fs_rec_handle handle; /* len 0: named already */
		uint64_t dir_ino;
	} *handles;
	size_t n;
	bool with_host;
	struct pred_host_bucket host;
	struct pred_disk_bucket disks[FS_HOST_MAX_DISKS];
	uint64_t req; /* flush request this batch completes, 0 none */
};

static void batch_free(struct rec_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free((char *)b->files[i].path);
	free(b->files);
	free(b->handles);
	free(b);
}

struct collect_ctx {
	struct fs_recorder *rec;
	struct rec_batch *b;
	unsigned s;
	int64_t start;
	uint64_t tail;
};

static void collect(void *ctx, const uint8_t key[PRED_HH_ID_LEN], double count, void *payload)
{
	(void)key;
	(void)count;
	struct collect_ctx *c = ctx;
	struct rec_entry *e = payload;
	struct rec_slot *s = &e->slot[c->s];
	uint64_t events = slot_events(s);
	if (!events)
		return;
	struct pred_file_bucket *b = c->b ? &c->b->files[c->b->n] : NULL;
	char *path = NULL;
	if (b && e->naming == REC_BY_NAME)
		path = strdup(e->u.named.path);
	if (!b || e->naming == REC_UNNAMED || (e->naming == REC_BY_NAME && !path)) {
		/* unnamed, or no memory for the bucket */
		c->tail += events;
		memset(s, 0, sizeof(*s));
		return;
	}
	memset(b, 0, sizeof(*b));
	if (e->naming == REC_BY_HANDLE) {
		c->b->handles[c->b->n].handle = e->u.by_handle.handle; /* named by the writer */
		c->b->handles[c->b->n].dir_ino = e->u.by_handle.dir_ino;
	} else {
		c->b->handles[c->b->n].handle.len = 0;
		memcpy(b->id, e->u.named.id, PRED_ID_LEN);
		b->path = path; /* every flush: a failed write never loses a rename */
	}
	c->b->n++;
	b->start = c->start;
	b->width = c->rec->width;
	b->c.opens = s->opens;
	b->c.reads = s->reads;
	b->c.read_bytes = s->read_bytes;
	b->c.writes = s->writes;
	b->c.written_bytes = s->written_bytes;
	b->c.meta_ops = s->meta;
	b->c.clients = linear_count(s->clients);
	b->c.lat_sum_ns = s->lat_sum;
	b->c.lat_count = s->lat_count;
	b->c.lat_max_ns = s->lat_max;
	for (unsigned i = 0; i < PRED_LAT_HIST; i++)
		b->c.lat_hist[i] = s->lat_hist[i];
	memset(s, 0, sizeof(*s));
}

struct stats_fill {
	const struct fs_recorder *rec;
	const struct fs_recorder_stats *st;
};

static void fill_stats(FILE *f, void *arg)
{
	const struct stats_fill *a = arg;
	const struct fs_recorder *rec = a->rec;
	const struct fs_recorder_stats *st = a->st;
	fprintf(f,
		"pid=%ld\nbucket_s=%u\ntrack=%u\ntracked=%u\ntracked_bytes=%llu\n"
		"bytes_per_file=%llu\nevents=%llu\nset_updates=%llu\ndropped=%llu\ntail_events=%llu\n"
		"named=%llu\nname_failures=%llu\nname_gone=%llu\nname_unknown=%llu\nunlinked=%llu\nflushes=%llu\nflush_errors=%llu\nrings=%u\n",
		(long)getpid(), rec->width, st->track_capacity, st->tracked,
		(unsigned long long)st->tracked_bytes, (unsigned long long)st->bytes_per_file,
		(unsigned long long)st->events, (unsigned long long)st->set_updates,
		(unsigned long long)st->dropped,
		(unsigned long long)st->tail_events, (unsigned long long)st->named,
		(unsigned long long)st->name_failures, (unsigned long long)st->name_gone,
		(unsigned long long)st->name_unknown, (unsigned long long)st->unlinked,
		(unsigned long long)st->flushes,
		(unsigned long long)st->flush_errors, st->rings);
	if (rec->stats_more)
		rec->stats_more(f, rec->stats_more_arg);
}

static void write_stats_file(struct fs_recorder *rec, const struct fs_recorder_stats *st)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/recorder.stats", rec->state_dir);
	struct stats_fill a = {.rec = rec, .st = st};
	fs_status_file_write(path, fill_stats, &a);
}

/* Adds the namings done by the writer thread to stats of the aggregator's. */
static void add_writer_namings(struct fs_recorder *rec, struct fs_recorder_stats *st)
{
	st->named += atomic_load_explicit(&rec->w_named, memory_order_relaxed);
	st->name_failures += atomic_load_explicit(&rec->w_name_failures, memory_order_relaxed);
	st->name_gone += atomic_load_explicit(&rec->w_name_gone, memory_order_relaxed);
	st->name_unknown = atomic_load_explicit(&rec->w_name_unknown, memory_order_relaxed);
}

static void update_stats(struct fs_recorder *rec)
{
	struct rec_agg *a = &rec->agg;
	/* nrings is rings_lock's (a FUSE thread's first request adds a ring):
	 * read under rec->lock it was a data race (ThreadSanitizer in
	 * fs_crash_loop). */
	pthread_mutex_lock(&rec->rings_lock);
	uint32_t nrings = rec->nrings;
	pthread_mutex_unlock(&rec->rings_lock);
	pthread_mutex_lock(&rec->lock);
	struct fs_recorder_stats *st = &rec->stats;
	st->events = a->events;
	st->set_updates = a->set_updates;
	st->named = a->named;
	st->name_failures = a->name_failures;
	st->name_gone = a->name_gone;
	st->unlinked = a->unlinked;
	st->tracked = pred_hh_size(a->hh);
	st->track_capacity = pred_hh_capacity(a->hh);
	st->tracked_bytes = pred_hh_memory(a->hh) + a->path_bytes;
	st->bytes_per_file = pred_hh_memory(a->hh) / st->track_capacity +
			     (st->tracked ? a->path_bytes / st->tracked : 0);
	st->rings = nrings;
	st->ring_bytes = (uint64_t)nrings * (rec->ring_events * sizeof(struct rec_event) +
					     sizeof(struct rec_ring));
	struct fs_recorder_stats copy = *st;
	pthread_mutex_unlock(&rec->lock);
	pthread_mutex_lock(&rec->rings_lock); /* drops of live rings, as get_stats */
	for (struct rec_ring *r = rec->rings; r; r = r->next)
		copy.dropped += atomic_load_explicit(&r->dropped, memory_order_relaxed);
	pthread_mutex_unlock(&rec->rings_lock);
	copy.dropped += atomic_load(&rec->lost);
	add_writer_namings(rec, &copy);
	write_stats_file(rec, &copy);
}

/* Hands bucket idx (slot idx & 1) to the writer; with_host adds a host
 * sample and a roll-up. req: the flush request this completes (0 none). */
static void flush_bucket(struct fs_recorder *rec, uint64_t idx, bool with_host, uint64_t req)
{
	struct rec_agg *a = &rec->agg;
	unsigned s = (unsigned)(idx & 1);
	struct rec_batch *b = calloc(1, sizeof(*b));
	if (b) {
		b->files = calloc(pred_hh_size(a->hh) + 1, sizeof(*b->files));
		b->handles = malloc((pred_hh_size(a->hh) + 1) * sizeof(*b->handles));
		if (!b->files || !b->handles) {
			batch_free(b);
			b = NULL;
		}
	}
	struct collect_ctx c = {.rec = rec, .b = b, .s = s, .start = (int64_t)(idx * rec->width)};
	pred_hh_foreach(a->hh, collect, &c);
	uint64_t tail = a->tail[s] + c.tail;
	a->tail[s] = 0;
	pthread_mutex_lock(&rec->lock);
	rec->stats.tail_events += tail;
	if (!b)
		rec->stats.flush_errors++;
	pthread_mutex_unlock(&rec->lock);
	if (!b)
		return;
	b->req = req;
	if (with_host) {
		struct pred_host_bucket *h = &b->host;
		b->with_host = true;
		fs_host_sample(a->host, h);
		h->ndisks = h->ndisks < FS_HOST_MAX_DISKS ? h->ndisks : FS_HOST_MAX_DISKS;
		memcpy(b->disks, h->disks, h->ndisks * sizeof(*h->disks));
		h->disks = b->disks;
		h->start = c.start;
		h->width = rec->width;
		h->inflight_max = a->inflight_max;
		h->inflight_avg = a->inflight_samples ? (double)a->inflight_sum / (double)a->inflight_samples : 0;
		h->tail_events = tail;
		a->inflight_max = 0;
		a->inflight_sum = a->inflight_samples = 0;
	}
	pthread_mutex_lock(&rec->wq_lock);
	*rec->wq_tail = b;
	rec->wq_tail = &b->next;
	rec->wq_len++;
	pthread_cond_signal(&rec->wq_cond);
	pthread_mutex_unlock(&rec->wq_lock);
}

/* Names the batch's files that came with a handle (writer thread). Files
 * that are gone (unlinked since: short-lived files) or cannot be named
 * leave the batch; their events are counted anonymously as tail events. */
static void name_batch(struct fs_recorder *rec, struct rec_batch *b, int64_t now_s)
{
	uint64_t tail = 0, named = 0, gone = 0, failed = 0, unknown = 0;
	size_t kept = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct pred_file_bucket *f = &b->files[i];
		const struct rec_batch_handle *h = &b->handles[i];
		if (h->handle.len) {
			char *path;
			int rc = fs_rec_name_handle(&rec->namer, &h->handle, h->dir_ino, now_s, f->id, &path);
			if (rc) {
				if (rc == -ENOENT)
					gone++;
				else
					failed++;
				tail += (uint64_t)f->c.opens + f->c.reads + f->c.writes + f->c.meta_ops;
				continue;
			}
			f->path = path;
			named++;
			unknown += !path;
		}
		if (kept != i)
			b->files[kept] = *f;
		kept++;
	}
	b->n = kept;
	atomic_fetch_add_explicit(&rec->w_named, named, memory_order_relaxed);
	atomic_fetch_add_explicit(&rec->w_name_gone, gone, memory_order_relaxed);
	atomic_fetch_add_explicit(&rec->w_name_failures, failed, memory_order_relaxed);
	atomic_fetch_add_explicit(&rec->w_name_unknown, unknown, memory_order_relaxed);
	if (!tail)
		return;
	if (b->with_host)
		b->host.tail_events += tail;
	pthread_mutex_lock(&rec->lock);
	rec->stats.tail_events += tail;
	pthread_mutex_unlock(&rec->lock);
}

/* Writer thread: the only one that writes to the store, so a slow disk
 * (fsync at checkpoints) never stalls the aggregator and fills rings. */
static void *writer(void *arg)
{
	struct fs_recorder *rec = arg;
	pthread_mutex_lock(&rec->wq_lock);
	for (;;) {
		while (!rec->wq_head && !rec->wq_stop)
			pthread_cond_wait(&rec->wq_cond, &rec->wq_lock);
		struct rec_batch *b = rec->wq_head;
		if (!b)
			break; /* stopping and nothing left */
		rec->wq_head = b->next;
		if (!rec->wq_head)
			rec->wq_tail = &rec->wq_head;
		rec->wq_len--;
		pthread_mutex_unlock(&rec->wq_lock);

		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		name_batch(rec, b, now.tv_sec);
		int rc = 0;
		if (b->n || b->with_host)
			rc = pred_store_flush(rec->store, b->files, b->n, b->with_host ? &b->host : NULL,
					      now.tv_sec);
		if (!rc && b->with_host)
			rc = pred_store_maintain(rec->store, now.tv_sec);
		pthread_mutex_lock(&rec->lock);
		if (rc) {
			rec->stats.flush_errors++;
			if (rec->stats.flush_errors == 1 || rec->stats.flush_errors % 100 == 0)
				sfs_warn("recorder: cannot write to %s/%s: %s", rec->state_dir,
					 PRED_STORE_DB_NAME, pred_store_errmsg(rec->store));
		} else if (b->n || b->with_host) {
			rec->stats.flushes++;
		}
		if (b->req > rec->flush_done) {
			rec->flush_done = b->req;
			pthread_cond_broadcast(&rec->flushed);
		}
		pthread_mutex_unlock(&rec->lock);
		batch_free(b);
		pthread_mutex_lock(&rec->wq_lock);
	}
	pthread_mutex_unlock(&rec->wq_lock);
	return NULL;
}

static uint64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *aggregator(void *arg)
{
	struct fs_recorder *rec = arg;
	struct rec_agg *a = &rec->agg;
	uint64_t handled = 0; /* flush requests served */
	pthread_mutex_lock(&rec->lock);
	for (;;) {
		bool stop = rec->stop;
		uint64_t req = rec->flush_req;
		pthread_mutex_unlock(&rec->lock);
		bool requested = req != handled;

		bool busy;
		atomic_store_explicit(&rec->kicked, false, memory_order_release);
		uint32_t inflight = drain(rec, &busy);
		a->inflight_sum += inflight;
		a->inflight_samples++;
		if (inflight > a->inflight_max)
			a->inflight_max = inflight;
		uint64_t now = realtime_ms();
		int catchup = 0;
		while (now >= (a->open_idx + 1) * rec->width * 1000u + REC_GRACE_MS) {
			flush_bucket(rec, a->open_idx, true, 0);
			pred_hh_decay(a->hh, rec->decay);
			a->open_idx++;
			if (++catchup == 8) { /* asleep for long (suspend): skip ahead */
				a->open_idx = now / 1000u / rec->width;
				break;
			}
		}
		if (catchup)
			update_stats(rec);
		if (stop || requested) {
			/* Stats first: the waiter wakes when the writer has
			 * written the tagged batch, and reads them then. */
			update_stats(rec);
			flush_bucket(rec, a->open_idx, stop, 0);
			flush_bucket(rec, a->open_idx + 1, false, requested ? req : 0);
			handled = req;
		}
		pthread_mutex_lock(&rec->lock);
		if (stop)
			break;
		if (rec->flush_req == req && !busy &&
		    !atomic_load_explicit(&rec->kicked, memory_order_acquire)) {
			/* One tick, or less when the open bucket's flush is due
			 * sooner (buckets are written promptly, not a tick late). */
			uint64_t wait_ms = rec->tick_ms;
			uint64_t flush_at = (a->open_idx + 1) * rec->width * 1000u + REC_GRACE_MS;
			if (flush_at > now && flush_at - now < wait_ms)
				wait_ms = flush_at - now;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)wait_ms * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			if (!rec->stop && rec->flush_req == req)
				pthread_cond_timedwait(&rec->wake, &rec->lock, &ts);
		}
	}
	pthread_mutex_unlock(&rec->lock);
	return NULL;
}

void fs_recorder_default_tiers(uint32_t bucket_s, struct pred_store_tiers *t)
{
	pred_store_tiers_default(t);
	if (!bucket_s)
		bucket_s = REC_DEFAULT_BUCKET;
	t->width_s[0] = bucket_s;
	for (unsigned k = 1; k < t->n; k++) {
		uint32_t prev = t->width_s[k - 1];
		uint32_t w = (t->width_s[k] + prev - 1) / prev * prev;
		t->width_s[k] = w > prev ? w : prev * 2;
	}
	for (unsigned k = 0; k < t->n; k++) {
		if (t->keep_s[k] < t->width_s[k])
			t->keep_s[k] = t->width_s[k];
		if (k + 1 < t->n && t->keep_s[k] < t->width_s[k + 1])
			t->keep_s[k] = t->width_s[k + 1];
	}
}

int fs_recorder_start(const struct fs_recorder_config *cfg, struct fs_recorder **ret,
		      char *errmsg, size_t errlen)
{
	*ret = NULL;
	if (errmsg && errlen)
		errmsg[0] = '\0';
	struct fs_recorder *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return -ENOMEM;
	rec->namer.mount_fd = -1;
	pthread_mutex_init(&rec->rings_lock, NULL);
	pthread_mutex_init(&rec->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rec->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&rec->flushed, NULL);
	pthread_mutex_init(&rec->wq_lock, NULL);
	pthread_cond_init(&rec->wq_cond, NULL);
	rec->wq_tail = &rec->wq_head;
	rec->gen = rec_next_gen();
	int rc = 0;

	rec->width = cfg->bucket_s ? cfg->bucket_s : REC_DEFAULT_BUCKET;
	rec->tick_ms = cfg->tick_ms ? cfg->tick_ms : REC_DEFAULT_TICK_MS;
	rec->ring_events = cfg->ring_events ? cfg->ring_events : REC_DEFAULT_RING;
	rec_claim_fds_bound(cfg->claim_fds ? cfg->claim_fds : REC_DEFAULT_CLAIM_FDS);
	rec->stats_more = cfg->stats_more;
	rec->stats_more_arg = cfg->stats_more_arg;
	uint32_t track = cfg->track ? cfg->track : REC_DEFAULT_TRACK;
	double halflife = cfg->halflife_s > 0 ? cfg->halflife_s : REC_DEFAULT_HALFLIFE;
	rec->decay = pow(0.5, rec->width / halflife);
	if (!cfg->state_dir || !cfg->backing || (rec->ring_events & (rec->ring_events - 1)) ||
	    rec->ring_events < 16 || rec->width > 86400 || track > (1u << 26) || rec->tick_ms > 10000) {
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: bad configuration (state dir, backing, "
						 "bucket <= 86400 s, track <= 67108864)");
		rc = -EINVAL;
		goto fail;
	}
	rec->backing = cfg->backing_fd > 0 ? strdup(cfg->backing) : realpath(cfg->backing, NULL);
	rec->state_dir = strdup(cfg->state_dir);
	rec->proc_root = strdup(cfg->proc_root ? cfg->proc_root : "/proc");
	if (!rec->backing || !rec->state_dir || !rec->proc_root) {
		rc = rec->backing ? -ENOMEM : -errno;
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: %s: %s", cfg->backing, strerror(-rc));
		goto fail;
	}
	rec->namer.backing = rec->backing;
	rec->namer.backing_len = strlen(rec->backing);
	if (rec->namer.backing_len == 1) /* "/" */
		rec->namer.backing_len = 0;
	/* Not O_PATH: open_by_handle_at refuses those as mount fds (EBADF). */
	rec->namer.mount_fd = cfg->backing_fd > 0
				  ? openat(cfg->backing_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
				  : open(rec->backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rec->namer.mount_fd < 0) {
		rc = -errno;
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: %s: %s", rec->backing, strerror(-rc));
		goto fail;
	}
	rc = pred_locate_mkdirs(rec->state_dir, 0700);
	if (rc) {
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: cannot create state directory %s: %s",
				 rec->state_dir, strerror(-rc));
		goto fail;
	}
	struct pred_store_tiers tiers;
	if (cfg->tiers) {
		tiers = *cfg->tiers;
		tiers.width_s[0] = rec->width;
	} else {
		fs_recorder_default_tiers(rec->width, &tiers);
	}
	rc = pred_store_open(rec->state_dir, &tiers, false, &rec->store, errmsg, errlen);
	if (rc)
		goto fail;
	rec->namer.store = rec->store;
	rec->namer.path_of = cfg->path_of;
	rec->namer.path_of_arg = cfg->path_of_arg;
	struct pred_hh_config hc = {.capacity = track, .payload_size = sizeof(struct rec_entry),
				    .seed = rec->gen};
	rc = pred_hh_create(&hc, on_evict, rec, &rec->agg.hh);
	if (!rc && !(rec->agg.fold = calloc(1, sizeof(*rec->agg.fold)))) /* both_slots too */
		rc = -ENOMEM;
	if (!rc && !(rec->hints = calloc(1, sizeof(*rec->hints))))
		rc = -ENOMEM;
	if (!rc && !(rec->agg.gone_recent = calloc(REC_GONE_RECENT, sizeof(*rec->agg.gone_recent))))
		rc = -ENOMEM;
	if (!rc)
		rc = fs_host_sampler_new(rec->proc_root, rec->namer.mount_fd, &rec->agg.host);
	if (rc) {
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: %s", strerror(-rc));
		goto fail;
	}
	rec->agg.open_idx = realtime_ms() / 1000u / rec->width;
	rec->stats.track_capacity = track;
	/* Stats from the start (nothing recorded yet), not from the first
	 * flush a bucket later: shadowctl status then tells recording on from
	 * off, and an earlier run's figures are gone. */
	update_stats(rec);
	rc = -pthread_create(&rec->writer, NULL, writer, rec);
	if (rc) {
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: cannot start thread: %s", strerror(-rc));
		goto fail;
	}
	rec->writer_running = true;
	rc = -pthread_create(&rec->thread, NULL, aggregator, rec);
	if (rc) {
		if (errmsg)
			snprintf(errmsg, errlen, "recorder: cannot start thread: %s", strerror(-rc));
		goto fail;
	}
	rec->running = true;
	*ret = rec;
	return 0;
fail:
	fs_recorder_stop(rec);
	return rc;
}

void fs_recorder_stop(struct fs_recorder *rec)
{
	if (!rec)
		return;
	if (rec->running) {
		pthread_mutex_lock(&rec->lock);
		rec->stop = true;
		pthread_cond_signal(&rec->wake);
		pthread_mutex_unlock(&rec->lock);
		pthread_join(rec->thread, NULL);
	}
	if (rec->writer_running) { /* after the aggregator: it writes what is queued */
		pthread_mutex_lock(&rec->wq_lock);
		rec->wq_stop = true;
		pthread_cond_signal(&rec->wq_cond);
		pthread_mutex_unlock(&rec->wq_lock);
		pthread_join(rec->writer, NULL);
	}
	while (rec->wq_head) {
		struct rec_batch *b = rec->wq_head;
		rec->wq_head = b->next;
		batch_free(b);
	}
	/* The rings: the recorder's reference. Threads keep theirs. */
	while (rec->rings) {
		struct rec_ring *r = rec->rings;
		rec->rings = r->next;
		rec_ring_unref(r);
	}
	pred_hh_destroy(rec->agg.hh); /* frees the paths through on_evict */
	free(rec->agg.fold);     /* empty: every drain applies it */
	free(rec->hints);
	free(rec->agg.gone_recent);
	fs_host_sampler_free(rec->agg.host);
	pred_store_close(rec->store);
	pthread_cond_destroy(&rec->wake);
	pthread_cond_destroy(&rec->flushed);
	pthread_mutex_destroy(&rec->lock);
	pthread_mutex_destroy(&rec->rings_lock);
	pthread_cond_destroy(&rec->wq_cond);
	pthread_mutex_destroy(&rec->wq_lock);
	if (rec->namer.mount_fd >= 0)
		close(rec->namer.mount_fd);
	free(rec->backing);
	free(rec->state_dir);
	free(rec->proc_root);
	free(rec);
}

int fs_recorder_flush_now(struct fs_recorder *rec)
{
	if (!rec || !rec->running)
		return -EINVAL;
	pthread_mutex_lock(&rec->lock);
	uint64_t want = ++rec->flush_req;
	pthread_cond_signal(&rec->wake);
	while (rec->flush_done < want)
		pthread_cond_wait(&rec->flushed, &rec->lock);
	int rc = rec->stats.flush_errors ? -EIO : 0;
	pthread_mutex_unlock(&rec->lock);
	return rc;
}

void fs_recorder_get_stats(struct fs_recorder *rec, struct fs_recorder_stats *ret)
{
	pthread_mutex_lock(&rec->lock);
	*ret = rec->stats;
	uint64_t dropped = 0;
	pthread_mutex_unlock(&rec->lock);
	pthread_mutex_lock(&rec->rings_lock);
	for (struct rec_ring *r = rec->rings; r; r = r->next)
		dropped += atomic_load_explicit(&r->dropped, memory_order_relaxed);
	ret->rings = rec->nrings;
	pthread_mutex_unlock(&rec->rings_lock);
	ret->dropped += dropped + atomic_load(&rec->lost);
	add_writer_namings(rec, ret);
}

struct pred_store *fs_recorder_store(struct fs_recorder *rec) { return rec->store; }
