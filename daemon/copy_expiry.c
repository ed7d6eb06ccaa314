/* Copy expiry for shadowd: last use per copy in an open-addressing table,
 * rebuilt from the store's listing at each pass (so it holds only copies
 * that exist), and the expiry thread. See copy_expiry.h. */
#include "daemon/copy_expiry.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "sync/tls.h"

struct use {
	uint8_t id[16];
	uint64_t version;
	uint64_t last_ms;
	bool taken;
};

struct table {
	struct use *v;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

struct daemon_copy_expiry {
	struct daemon_store *st;
	uint64_t idle_ms;
	pthread_mutex_t lock;
	struct table t; /* protected by lock */
	pthread_cond_t wake;
	bool stopping; /* protected by lock */
	bool running;
	uint64_t period_ms;
	pthread_t thread;
};

static size_t slot_of(const struct table *t, const uint8_t id[16], uint64_t version)
{
	uint64_t h = version * 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 16; i++)
		h = (h ^ id[i]) * 0x100000001b3ull;
	size_t k = (size_t)(h ^ h >> 29) & (t->cap - 1);
	while (t->v[k].taken && (t->v[k].version != version || memcmp(t->v[k].id, id, 16)))
		k = (k + 1) & (t->cap - 1);
	return k;
}

static struct use *find(const struct table *t, const uint8_t id[16], uint64_t version)
{
	if (!t->cap)
		return NULL;
	struct use *u = &t->v[slot_of(t, id, version)];
	return u->taken ? u : NULL;
}

/* Room for `more` more entries at a load of at most one half. */
static int reserve(struct table *t, size_t more)
{
	if (2 * (t->n + more) <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 64;
	while (2 * (t->n + more) > cap)
		cap *= 2;
	struct table nt = {calloc(cap, sizeof(struct use)), cap, 0};
	if (!nt.v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].taken) {
			nt.v[slot_of(&nt, t->v[i].id, t->v[i].version)] = t->v[i];
			nt.n++;
		}
	free(t->v);
	*t = nt;
	return 0;
}

/* Sets the last use of (id, version) to at least ms. */
static int put(struct table *t, const uint8_t id[16], uint64_t version, uint64_t ms)
{
	int r = reserve(t, 1);
	if (r < 0)
		return r;
	struct use *u = &t->v[slot_of(t, id, version)];
	if (!u->taken) {
		memcpy(u->id, id, 16);
		u->version = version;
		u->taken = true;
		u->last_ms = ms;
		t->n++;
	} else if (ms > u->last_ms) {
		u->last_ms = ms;
	}
	return 0;
}

int daemon_copy_expiry_new(struct daemon_store *st, uint64_t idle_ms, uint64_t now_ms,
			   struct daemon_copy_expiry **ret)
{
	struct daemon_copy_expiry *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->st = st;
	e->idle_ms = idle_ms;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* The copies there now count from now. */
	struct daemon_store_entry *v = NULL;
	size_t n = 0;
	int r = idle_ms ? daemon_store_list(st, &v, &n) : 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = put(&e->t, v[i].id, v[i].version, now_ms);
	free(v);
	if (r < 0) {
		daemon_copy_expiry_free(e);
		return r;
	}
	*ret = e;
	return 0;
}

void daemon_copy_expiry_free(struct daemon_copy_expiry *e)
{
	if (!e)
		return;
	if (e->running) {
		pthread_mutex_lock(&e->lock);
		e->stopping = true;
		pthread_cond_broadcast(&e->wake);
		pthread_mutex_unlock(&e->lock);
		pthread_join(e->thread, NULL);
	}
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
	free(e->t.v);
	free(e);
}

void daemon_copy_expiry_touch(struct daemon_copy_expiry *e, const uint8_t id[16],
			      uint64_t version, uint64_t now_ms)
{
	if (!e || !e->idle_ms)
		return;
	pthread_mutex_lock(&e->lock);
	(void)put(&e->t, id, version, now_ms); /* no memory: the next pass counts it from then */
	pthread_mutex_unlock(&e->lock);
}

int daemon_copy_expiry_pass(struct daemon_copy_expiry *e, uint64_t now_ms, uint64_t *ret_copies,
			    uint64_t *ret_bytes)
{
	struct daemon_store_entry *v = NULL;
	size_t n = 0;
	uint64_t copies = 0, bytes = 0;
	*ret_copies = *ret_bytes = 0;
	if (!e->idle_ms)
		return 0;
	int r = daemon_store_list(e->st, &v, &n);
	if (r < 0)
		return r;
	struct table nt = {0};
	size_t expired = 0; /* v[0..expired) are the copies to delete */
	pthread_mutex_lock(&e->lock);
	r = reserve(&nt, n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct use *u = find(&e->t, v[i].id, v[i].version);
		/* Not known: committed while the last pass rebuilt the table. */
		uint64_t last = u ? u->last_ms : now_ms;
		if (now_ms >= last && now_ms - last >= e->idle_ms)
			v[expired++] = v[i];
		else
			r = put(&nt, v[i].id, v[i].version, last);
	}
	/* Touched since the listing, not in it yet: kept. */
	for (size_t i = 0; r == 0 && i < e->t.cap; i++)
		if (e->t.v[i].taken && e->t.v[i].last_ms >= now_ms &&
		    !find(&nt, e->t.v[i].id, e->t.v[i].version))
			r = put(&nt, e->t.v[i].id, e->t.v[i].version, e->t.v[i].last_ms);
	if (r == 0) {
		free(e->t.v);
		e->t = nt;
	} else {
		free(nt.v);
		expired = 0;
	}
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; i < expired; i++) {
		/* The file listed only: the same version committed again since
		 * is a new copy (its touch comes after its commit). */
		if (daemon_store_delete_listed(e->st, &v[i]) < 0)
			continue;
		char name[DAEMON_STORE_COPY_NAME_LEN + 1];
		daemon_store_copy_name(v[i].id, v[i].version, name);
		double s = (double)e->idle_ms / 1000.0;
		sfs_info("copy %s (%llu bytes) unused for %.1f %s: deleted", name,
			 (unsigned long long)v[i].size, s >= 7200 ? s / 3600 : s,
			 s >= 7200 ? "h" : "s");
		copies++;
		bytes += v[i].size;
	}
	free(v);
	*ret_copies = copies;
	*ret_bytes = bytes;
	return r;
}

static void *expiry_thread(void *arg)
{
	struct daemon_copy_expiry *e = arg;
	pthread_mutex_lock(&e->lock);
	while (!e->stopping) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t ns = (uint64_t)ts.tv_nsec + (e->period_ms % 1000) * 1000000u;
		ts.tv_sec += (time_t)(e->period_ms / 1000 + ns / 1000000000u);
		ts.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&e->wake, &e->lock, &ts);
		if (e->stopping)
			break;
		pthread_mutex_unlock(&e->lock);
		uint64_t n, bytes;
		int r = daemon_copy_expiry_pass(e, sync_now_ms(), &n, &bytes);
		if (r < 0)
			sfs_warn("copy expiry: cannot list the store: %s", strerror(-r));
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int daemon_copy_expiry_start(struct daemon_copy_expiry *e, uint64_t period_ms)
{
	if (!e->idle_ms)
		return 0;
	e->period_ms = period_ms ? period_ms : 1;
	int r = pthread_create(&e->thread, NULL, expiry_thread, e);
	if (r != 0)
		return -r;
	e->running = true;
	return 0;
}
