/* The shadow map (see shadow_map.h): a chained hash of entries keyed by
 * (dev, ino), an insertion-ordered array for walks, the copy states and the
 * router's power-of-two-choices pick. */
#include "daemon/shadow_map.h"
#include "daemon/rollout.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct daemon_shadow_map {
	pthread_mutex_t lock;
	uint64_t first_version;
	struct daemon_shadow_file **buckets; /* map lock */
	size_t nbuckets;		     /* map lock */
	struct daemon_shadow_file **order;   /* map lock: the walk order */
	size_t n, cap;			     /* n: atomic for readers, written under lock */
	/* Map lock: new entries start at this version (first_version, then
	 * above the last version of every removed entry). */
	uint64_t version_floor;
	uint64_t removed; /* atomic for readers, written under lock */
	uint64_t salt[2]; /* daemon_shadow_map_set_salt: before any entry */
};

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SUB(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)

const char *daemon_copy_state_name(enum daemon_copy_state s)
{
	switch (s) {
	case DAEMON_COPY_NONE:
		return "none";
	case DAEMON_COPY_SYNCING:
		return "syncing";
	case DAEMON_COPY_SERVING:
		return "serving";
	case DAEMON_COPY_STALE:
		return "stale";
	}
	return "?";
}

static size_t hash_of(uint64_t dev, uint64_t ino, size_t nb)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ (dev + 0x632BE59BD9B4E019ull);
	h ^= h >> 29;
	return (size_t)(h & (nb - 1));
}

int daemon_shadow_map_new(uint64_t first_version, struct daemon_shadow_map **ret)
{
	struct daemon_shadow_map *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->nbuckets = 64;
	m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
	if (!m->buckets) {
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->first_version = first_version;
	m->version_floor = first_version;
	*ret = m;
	return 0;
}

/* An entry's memory, and the fds it still has. */
static void file_free(struct daemon_shadow_file *f)
{
	for (int s = 0; s < DAEMON_SHADOW_MAX_COPIES; s++) {
		if (f->copies[s].fd >= 0)
			close(f->copies[s].fd);
		free(f->copies[s].rollout);
	}
	if (f->origin_fd >= 0)
		close(f->origin_fd);
	free(f->origin_handle);
	free(f->path);
	free(f);
}

void daemon_shadow_map_free(struct daemon_shadow_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		file_free(m->order[i]);
	pthread_mutex_destroy(&m->lock);
	free(m->order);
	free(m->buckets);
	free(m);
}

void daemon_shadow_map_lock(struct daemon_shadow_map *m)
{
	pthread_mutex_lock(&m->lock);
}
void daemon_shadow_map_unlock(struct daemon_shadow_map *m)
{
	pthread_mutex_unlock(&m->lock);
}

size_t daemon_shadow_map_size(const struct daemon_shadow_map *m)
{
	return LOAD(&m->n);
}

struct daemon_shadow_file *daemon_shadow_map_find(struct daemon_shadow_map *m, uint64_t dev,
						  uint64_t ino)
{
	for (struct daemon_shadow_file *f = m->buckets[hash_of(dev, ino, m->nbuckets)]; f;
	     f = f->hnext)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

static int grow(struct daemon_shadow_map *m)
{
	if (m->n < m->cap)
		return 0;
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct daemon_shadow_file **o = realloc(m->order, cap * sizeof(*o));
	if (!o)
		return -ENOMEM;
	m->order = o;
	m->cap = cap;
	if (m->n >= m->nbuckets) { /* rehash to keep chains short */
		size_t nb = m->nbuckets * 4;
		struct daemon_shadow_file **b = calloc(nb, sizeof(*b));
		if (!b)
			return 0; /* longer chains, still correct */
		for (size_t i = 0; i < m->n; i++) {
			struct daemon_shadow_file *f = m->order[i];
			size_t h = hash_of(f->dev, f->ino, nb);
			f->hnext = b[h];
			b[h] = f;
		}
		free(m->buckets);
		m->buckets = b;
		m->nbuckets = nb;
	}
	return 0;
}

void daemon_shadow_map_set_salt(struct daemon_shadow_map *m, const uint8_t salt[16])
{
	memcpy(m->salt, salt, 16);
}

/* A stable 16-byte id from (dev, ino) and the map's salt: copies in the
 * store are named by it. Different files of one mount never share it (each
 * half is a bijection of dev, resp. ino); files of mounts with other salts
 * meet it by chance only (2^-128 a pair); versions (unique per mount) keep
 * a reused inode number from matching an old copy. */
static void make_id(const struct daemon_shadow_map *m, uint64_t dev, uint64_t ino,
		    uint8_t id[16])
{
	uint64_t a = dev * 0xff51afd7ed558ccdull ^ 0x5348414430574653ull ^ m->salt[0]; /* "SHAD0WFS" */
	uint64_t b = ino ^ m->salt[1];
	memcpy(id, &a, 8);
	memcpy(id + 8, &b, 8);
}

struct daemon_shadow_file *daemon_shadow_map_get(struct daemon_shadow_map *m, uint64_t dev,
						 uint64_t ino)
{
	struct daemon_shadow_file *f = daemon_shadow_map_find(m, dev, ino);
	if (f)
		return f;
	if (grow(m) < 0)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->dev = dev;
	f->ino = ino;
	make_id(m, dev, ino, f->id);
	f->version = f->first_version = m->version_floor;
	f->origin_fd = -1;
	for (int s = 0; s < DAEMON_SHADOW_MAX_COPIES; s++)
		f->copies[s].fd = -1;
	size_t h = hash_of(dev, ino, m->nbuckets);
	f->hnext = m->buckets[h];
	m->buckets[h] = f;
	f->order_index = m->n;
	m->order[m->n] = f;
	STORE(&m->n, m->n + 1);
	return f;
}

struct daemon_shadow_file *daemon_shadow_map_at(struct daemon_shadow_map *m, size_t n)
{
	return n < m->n ? m->order[n] : NULL;
}

void daemon_shadow_map_remove(struct daemon_shadow_map *m, struct daemon_shadow_file *f)
{
	struct daemon_shadow_file **p = &m->buckets[hash_of(f->dev, f->ino, m->nbuckets)];
	while (*p && *p != f)
		p = &(*p)->hnext;
	if (!*p || f->order_index >= m->n || m->order[f->order_index] != f)
		return; /* not in this map: a caller bug, nothing freed */
	*p = f->hnext;
	struct daemon_shadow_file *last = m->order[m->n - 1];
	m->order[f->order_index] = last;
	last->order_index = f->order_index;
	STORE(&m->n, m->n - 1);
	uint64_t v = LOAD(&f->version);
	if (v >= m->version_floor)
		m->version_floor = v + 1;
	STORE(&m->removed, m->removed + 1);
	file_free(f);
}

uint64_t daemon_shadow_map_removed(const struct daemon_shadow_map *m)
{
	return LOAD(&m->removed);
}

void daemon_shadow_file_bump(struct daemon_shadow_file *f, uint64_t now_ms)
{
	ADD(&f->version, 1);
	STORE(&f->version_ms, now_ms);
}

/* Takes a reader's reference on slot s if it may serve; false otherwise. */
static bool copy_take(struct daemon_shadow_file *f, int s, uint64_t version)
{
	struct daemon_shadow_copy *c = &f->copies[s];
	if (LOAD(&c->state) != DAEMON_COPY_SERVING)
		return false;
	ADD(&c->inflight, 1);
	/* Re-check after counting ourselves: a retirer stores STALE before it
	 * waits for inflight == 0, so either it sees us or we see STALE. */
	if (LOAD(&c->state) != DAEMON_COPY_SERVING || c->version != version) {
		SUB(&c->inflight, 1);
		return false;
	}
	return true;
}

/* A draw in [0, 1000) for the rollout gate, from bits the pick below
 * barely depends on. */
static uint32_t gate_draw(uint64_t rnd)
{
	return (uint32_t)(((rnd * 0x9E3779B97F4A7C15ull) >> 40) % DAEMON_SHARE_FULL);
}

int daemon_shadow_pick(struct daemon_shadow_file *f, uint64_t rnd)
{
	uint64_t version = daemon_shadow_file_version(f);
	int cand[DAEMON_SHADOW_MAX_COPIES], n = 0;
	uint32_t g = UINT32_MAX; /* drawn at the first copy rolling out */
	for (int s = 0; s < DAEMON_SHADOW_MAX_COPIES; s++) {
		uint32_t share = LOAD(&f->copies[s].share);
		if (share == 0) /* free slot, or rolled back */
			continue;
		if (share < DAEMON_SHARE_FULL) { /* rolling out: the gate */
			if (g == UINT32_MAX)
				g = gate_draw(rnd);
			if (g >= share) {
				g -= share;
				continue;
			}
			if (!copy_take(f, s, version)) {
				g = UINT32_MAX - 1; /* not valid: the pick decides */
				continue;
			}
			for (int i = 0; i < n; i++)
				SUB(&f->copies[cand[i]].inflight, 1);
			return s;
		}
		if (copy_take(f, s, version))
			cand[n++] = s;
	}
	if (n == 0)
		return -1;
	/* Two distinct candidates among origin (index n) and the n copies. */
	uint32_t total = (uint32_t)n + 1;
	uint32_t a = (uint32_t)(rnd % total);
	uint32_t b = (uint32_t)((rnd >> 32) % (total - 1));
	if (b >= a)
		b++;
	int x = a == (uint32_t)n ? -1 : cand[a];
	int y = b == (uint32_t)n ? -1 : cand[b];
	uint32_t lx = x < 0 ? LOAD(&f->origin_inflight) : LOAD(&f->copies[x].inflight) - 1;
	uint32_t ly = y < 0 ? LOAD(&f->origin_inflight) : LOAD(&f->copies[y].inflight) - 1;
	int pick;
	if (lx != ly)
		pick = lx < ly ? x : y;
	else
		pick = x < y ? x : y; /* -1 (origin) first, then the lower slot */
	for (int i = 0; i < n; i++)
		if (cand[i] != pick)
			SUB(&f->copies[cand[i]].inflight, 1);
	return pick;
}

void daemon_shadow_copy_done(struct daemon_shadow_file *f, int slot, bool ok, uint64_t bytes,
			     uint64_t lat_ns)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	if (ok) {
		ADD(&c->reads, 1);
		ADD(&c->bytes, bytes);
		ADD(&c->lat_ns, lat_ns);
	} else {
		ADD(&c->errors, 1);
	}
	SUB(&c->inflight, 1);
}

void daemon_shadow_copy_release(struct daemon_shadow_file *f, int slot)
{
	SUB(&f->copies[slot].inflight, 1);
}

bool daemon_shadow_copy_hold(struct daemon_shadow_file *f, int slot)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	ADD(&c->inflight, 1);
	if (LOAD(&c->state) == DAEMON_COPY_SERVING)
		return true;
	SUB(&c->inflight, 1);
	return false;
}

uint32_t daemon_shadow_origin_begin(struct daemon_shadow_file *f)
{
	ADD(&f->origin_reads, 1);
	return ADD(&f->origin_inflight, 1) - 1;
}

void daemon_shadow_origin_end(struct daemon_shadow_file *f)
{
	SUB(&f->origin_inflight, 1);
}

void daemon_shadow_copy_publish(struct daemon_shadow_file *f, int slot, uint32_t share)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	STORE(&c->reads, 0);
	STORE(&c->bytes, 0);
	STORE(&c->lat_ns, 0);
	STORE(&c->errors, 0);
	STORE(&c->share, share);
	c->generation++;
	int was = LOAD(&c->state);
	STORE(&c->state, DAEMON_COPY_SERVING);
	if (was != DAEMON_COPY_SERVING)
		ADD(&f->serving, 1);
}

bool daemon_shadow_copy_mark_stale(struct daemon_shadow_file *f, int slot)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	int expect = DAEMON_COPY_SERVING;
	if (__atomic_compare_exchange_n(&c->state, &expect, DAEMON_COPY_STALE, false,
					__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		SUB(&f->serving, 1);
		return true;
	}
	if (expect == DAEMON_COPY_SYNCING)
		__atomic_compare_exchange_n(&c->state, &expect, DAEMON_COPY_STALE, false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return false;
}

/* Waits until no reader holds the copy. */
static void wait_readers(struct daemon_shadow_copy *c)
{
	while (LOAD(&c->inflight) != 0) {
		struct timespec ts = {0, 100000}; /* a pread's time at most */
		nanosleep(&ts, NULL);
	}
}

int daemon_shadow_copy_take_fd(struct daemon_shadow_file *f, int slot)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	int fd = __atomic_exchange_n(&c->fd, -1, __ATOMIC_SEQ_CST);
	if (fd >= 0)
		wait_readers(c); /* a reader that loaded it is counted */
	return fd;
}

bool daemon_shadow_copy_retire(struct daemon_shadow_file *f, int slot)
{
	struct daemon_shadow_copy *c = &f->copies[slot];
	daemon_shadow_copy_mark_stale(f, slot);
	wait_readers(c);
	int fd = LOAD(&c->fd); /* readers may have opened it: none is left */
	if (fd >= 0)
		close(fd);
	STORE(&c->fd, -1);
	c->remote = false;
	c->version = 0;
	STORE(&c->share, 0);
	STORE(&c->state, DAEMON_COPY_NONE);
	return fd >= 0;
}

void daemon_shadow_map_set_first_version(struct daemon_shadow_map *m, uint64_t first_version)
{
	daemon_shadow_map_lock(m);
	m->first_version = m->version_floor = first_version;
	daemon_shadow_map_unlock(m);
}

uint64_t daemon_shadow_map_first_version(const struct daemon_shadow_map *m)
{
	return m->first_version;
}
