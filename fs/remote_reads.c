/* Pooled, deadline-bounded reads of remote copies (see remote_reads.h). */
#include "fs/remote_reads.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/hosts.h"
#include "sync/client.h"
#include "sync/tls.h"
#include "sync/wire.h"

#define IDLE_MAX_MS 60000u
#define SUSPECT_MIN_MS 1000u
#define SUSPECT_MAX_MS 30000u
/* A host that did not commit a copy (fs_remote_reads_copy_stuck): each
 * such try cost the commit's bound (15 s or more), so it is suspect for
 * longer, doubling with each one in a row up to 10 min. */
#define STUCK_MIN_MS SUSPECT_MAX_MS
#define STUCK_MAX_MS (10u * 60 * 1000)

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

struct pool {
	pthread_mutex_t lock;
	struct sync_client *idle[FS_REMOTE_POOL_MAX]; /* lock: stack, top last */
	uint64_t idle_ms[FS_REMOTE_POOL_MAX];	      /* lock: when each was put back */
	unsigned n_idle;			      /* lock */
	unsigned open;				      /* lock: idle + in use */
	unsigned fails_in_row;			      /* lock */
	unsigned stuck_in_row;			      /* lock: commits not answered */
	uint64_t suspect_ms;			      /* atomic: when marked, 0 healthy */
	uint64_t suspect_for_ms;		      /* atomic */
};

struct fs_remote_reads {
	struct fs_hosts *hosts; /* not owned */
	unsigned timeout_ms, pool_max;
	size_t n;
	struct pool *pools; /* one per host (local ones unused) */
};

int fs_remote_reads_new(struct fs_hosts *hosts, unsigned timeout_ms, unsigned pool_max,
			struct fs_remote_reads **ret)
{
	struct fs_remote_reads *r = calloc(1, sizeof(*r));
	size_t n = fs_hosts_count(hosts);
	if (!r)
		return -ENOMEM;
	r->pools = calloc(n ? n : 1, sizeof(*r->pools));
	if (!r->pools) {
		free(r);
		return -ENOMEM;
	}
	r->hosts = hosts;
	r->n = n;
	r->timeout_ms = timeout_ms;
	r->pool_max = pool_max < 1		      ? 1
		      : pool_max > FS_REMOTE_POOL_MAX ? FS_REMOTE_POOL_MAX
						      : pool_max;
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&r->pools[i].lock, NULL);
	*ret = r;
	return 0;
}

void fs_remote_reads_free(struct fs_remote_reads *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		for (unsigned k = 0; k < r->pools[i].n_idle; k++)
			sync_client_close(r->pools[i].idle[k]);
		pthread_mutex_destroy(&r->pools[i].lock);
	}
	free(r->pools);
	free(r);
}

bool fs_remote_reads_usable(struct fs_remote_reads *r, int host)
{
	if (!r || host < 0 || (size_t)host >= r->n || !fs_hosts_up(r->hosts, (size_t)host))
		return false;
	struct pool *p = &r->pools[host];
	uint64_t since = LOAD(&p->suspect_ms);
	if (!since)
		return true;
	if (sync_now_ms() < since + LOAD(&p->suspect_for_ms) ||
	    fs_hosts_last_seen_ms(r->hosts, (size_t)host) <= since)
		return false;
	/* Healthy again: the first reader to see it clears the mark. */
	__atomic_compare_exchange_n(&p->suspect_ms, &since, 0, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	return true;
}

/* min_ms doubled for each failure in a row after the first (*in_row,
 * counted up under the pool's lock), at most max_ms. */
static uint64_t suspect_period(struct pool *p, unsigned *in_row, uint64_t min_ms, uint64_t max_ms)
{
	pthread_mutex_lock(&p->lock);
	unsigned fails = ++*in_row;
	pthread_mutex_unlock(&p->lock);
	uint64_t period = min_ms;
	for (unsigned k = 1; k < fails && period < max_ms; k++)
		period *= 2;
	return period > max_ms ? max_ms : period;
}

/* Suspect for period ms and until its next heartbeat; logged when it was
 * not suspect already, or when why is given (a copy abandoned). */
static void mark_suspect(struct fs_remote_reads *r, int host, uint64_t period, const char *what,
			 const char *why, bool always_log)
{
	struct pool *p = &r->pools[host];
	char name[600];
	uint64_t was_for = LOAD(&p->suspect_for_ms), was = LOAD(&p->suspect_ms);
	uint64_t now = sync_now_ms();
	if (was && was + was_for > now + period)
		period = was + was_for - now; /* a longer period under way stays */
	STORE(&p->suspect_for_ms, period);
	STORE(&p->suspect_ms, now);
	if (!was || always_log) {
		fs_hosts_label(r->hosts, (size_t)host, name, sizeof(name));
		sfs_warn("host %s: %s failed (%s): suspect, its copies are not read (nor new "
			 "ones placed there) for %llu ms and until its next heartbeat",
			 name, what, why, (unsigned long long)period);
	}
}

static void mark_failed(struct fs_remote_reads *r, int host, int err, const char *what)
{
	struct pool *p = &r->pools[host];
	mark_suspect(r, host, suspect_period(p, &p->fails_in_row, SUSPECT_MIN_MS, SUSPECT_MAX_MS),
		     what, err == -ETIMEDOUT ? "no answer within remote_timeout" : strerror(-err),
		     false);
}

bool fs_remote_reads_copy_failed(struct fs_remote_reads *r, int host, int err)
{
	if (!r || host < 0 || (size_t)host >= r->n)
		return false;
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EPIPE:
	case -ENOTCONN:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
		mark_failed(r, host, err, "a copy");
		return true;
	}
	return false;
}

void fs_remote_reads_copy_stuck(struct fs_remote_reads *r, int host, uint64_t bound_ms)
{
	if (!r || host < 0 || (size_t)host >= r->n)
		return;
	struct pool *p = &r->pools[host];
	char why[96];
	snprintf(why, sizeof(why), "its commit not answered within %llu ms",
		 (unsigned long long)bound_ms);
	mark_suspect(r, host, suspect_period(p, &p->stuck_in_row, STUCK_MIN_MS, STUCK_MAX_MS),
		     "a copy", why, true);
}

void fs_remote_reads_copy_done(struct fs_remote_reads *r, int host)
{
	if (!r || host < 0 || (size_t)host >= r->n)
		return;
	struct pool *p = &r->pools[host];
	pthread_mutex_lock(&p->lock);
	p->stuck_in_row = 0;
	pthread_mutex_unlock(&p->lock);
}

/* A connection for one read: an idle one (*fresh false) or a new one
 * connected before the deadline; -EBUSY when pool_max are in use. */
static int take(struct fs_remote_reads *r, int host, uint64_t deadline, struct sync_client **ret,
		bool *fresh)
{
	struct pool *p = &r->pools[host];
	uint64_t now = sync_now_ms();
	struct sync_client *old = NULL;
	pthread_mutex_lock(&p->lock);
	while (p->n_idle > 0) {
		struct sync_client *c = p->idle[--p->n_idle];
		if (now - p->idle_ms[p->n_idle] < IDLE_MAX_MS) {
			pthread_mutex_unlock(&p->lock);
			*ret = c;
			*fresh = false;
			return 0;
		}
		p->open--; /* too old: the host may have closed it */
		old = c;
		break;
	}
	if (p->open >= r->pool_max) {
		pthread_mutex_unlock(&p->lock);
		return -EBUSY;
	}
	p->open++;
	pthread_mutex_unlock(&p->lock);
	sync_client_close(old);
	const struct fs_host_spec *spec = fs_hosts_spec(r->hosts, (size_t)host);
	char why[256];
	unsigned left = deadline > now ? (unsigned)(deadline - now) : 1;
	int rc = sync_client_connect(fs_hosts_tls(r->hosts), spec->where, spec->port, left, ret,
				     why, sizeof(why));
	if (rc < 0) {
		pthread_mutex_lock(&p->lock);
		p->open--;
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	*fresh = true;
	return 0;
}

/* Closes the idle connections of host (after one of them broke: the
 * others were most likely opened to the same, now gone, shadowd process). */
static void drop_idle(struct fs_remote_reads *r, int host)
{
	struct pool *p = &r->pools[host];
	struct sync_client *v[FS_REMOTE_POOL_MAX];
	pthread_mutex_lock(&p->lock);
	unsigned n = p->n_idle;
	for (unsigned k = 0; k < n; k++)
		v[k] = p->idle[k];
	p->open -= n;
	p->n_idle = 0;
	pthread_mutex_unlock(&p->lock);
	for (unsigned k = 0; k < n; k++)
		sync_client_close(v[k]);
}

static void put_back(struct fs_remote_reads *r, int host, struct sync_client *c)
{
	struct pool *p = &r->pools[host];
	pthread_mutex_lock(&p->lock);
	if (sync_client_connected(c) && p->n_idle < FS_REMOTE_POOL_MAX) {
		p->idle_ms[p->n_idle] = sync_now_ms();
		p->idle[p->n_idle++] = c;
		c = NULL;
	} else {
		p->open--;
	}
	pthread_mutex_unlock(&p->lock);
	sync_client_close(c);
}

/* Reads in frames of at most SYNC_WIRE_MAX_DATA until size or a short answer. */
static ssize_t read_all(struct sync_client *c, const uint8_t id[16], uint64_t version, uint64_t off,
			uint8_t *buf, size_t size, uint64_t deadline)
{
	size_t done = 0;
	while (done < size) {
		uint64_t now = sync_now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		size_t want = size - done > SYNC_WIRE_MAX_DATA ? SYNC_WIRE_MAX_DATA : size - done;
		ssize_t n = sync_client_read(c, id, version, off + done, buf + done, want,
					     (unsigned)(deadline - now));
		if (n < 0)
			return n;
		done += (size_t)n;
		if ((size_t)n < want)
			break; /* the end of the copy */
	}
	return (ssize_t)done;
}

ssize_t fs_remote_reads_read(struct fs_remote_reads *r, int host, const uint8_t id[16],
			     uint64_t version, uint64_t off, void *buf, size_t size)
{
	if (!fs_remote_reads_usable(r, host))
		return -EHOSTDOWN;
	struct pool *p = &r->pools[host];
	uint64_t deadline = sync_now_ms() + r->timeout_ms;
	struct sync_client *c = NULL;
	bool fresh = true; /* stays true when connecting fails */
	int rc = take(r, host, deadline, &c, &fresh);
	if (rc == -EBUSY)
		return rc;
	for (;;) {
		ssize_t n = rc < 0 ? rc : read_all(c, id, version, off, buf, size, deadline);
		if (rc == 0 && (n >= 0 || sync_client_connected(c))) {
			put_back(r, host, c); /* an answer, or the host's refusal */
			if (n >= 0) {
				pthread_mutex_lock(&p->lock);
				p->fails_in_row = 0;
				pthread_mutex_unlock(&p->lock);
			}
			return n;
		}
		if (rc == 0)
			put_back(r, host, c); /* broken: closed and uncounted */
		c = NULL;
		if (!fresh && n != -ETIMEDOUT && sync_now_ms() < deadline) {
			/* An idle connection the host closed: once more, fresh. */
			drop_idle(r, host);
			rc = take(r, host, deadline, &c, &fresh);
			if (rc == -EBUSY)
				return rc;
			fresh = true;
			continue;
		}
		mark_failed(r, host, (int)n, "a read");
		return n;
	}
}
