/* The access recorder, the FUSE threads' side (see recorder.h for the
 * design, rec_internal.h for the layouts): one ring per thread, made at
 * its first request and let go at thread exit; the per-request context
 * (begin / note / claim / end) that writes one 64-byte item per event and
 * publishes it with a release store; process names of opens, cached per
 * thread; the in-flight gauge; and the kick that wakes the aggregator when
 * a ring passes half full. Nothing here blocks or allocates on the hot
 * path (the ring is allocated once per thread).
 *
 * Ring lifetime: a ring has two references, its thread (dropped by the
 * thread-exit destructor of rec_key, or when the thread meets a newer
 * recorder) and the recorder (dropped after the aggregator has drained an
 * orphaned ring, or at stop). Whoever drops the last frees it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/small_file.h"
#include "fs/rec_internal.h"

static _Atomic uint64_t rec_gen_counter;

uint64_t rec_next_gen(void)
{
	return atomic_fetch_add(&rec_gen_counter, 1) + 1;
}
static pthread_key_t rec_key;
static pthread_once_t rec_key_once = PTHREAD_ONCE_INIT;
static __thread struct rec_ring *tls_ring;
static __thread uint64_t tls_gen;

void rec_ring_unref(struct rec_ring *r)
{
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1) {
		for (uint64_t t = atomic_load(&r->tail); t != atomic_load(&r->head); t++) {
			union rec_item *it = &r->items[t & r->mask];
			if (it->kind == REC_EV_NAME)
				rec_claim_fd_close(it->name.fd);
		}
		free(r->items);
		free(r);
	}
}

static void ring_let_go(void *p)
{
	struct rec_ring *r = p;
	atomic_store_explicit(&r->orphan, true, memory_order_release);
	rec_ring_unref(r);
}

static void rec_key_create(void) { pthread_key_create(&rec_key, ring_let_go); }

static struct rec_ring *ring_register(struct fs_recorder *rec)
{
	pthread_once(&rec_key_once, rec_key_create);
	struct rec_ring *r = aligned_alloc(REC_CACHELINE, sizeof(*r));
	union rec_item *items = aligned_alloc(REC_CACHELINE, sizeof(*items) * rec->ring_events);
	if (!r || !items) {
		free(r);
		free(items);
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->items = items;
	r->mask = rec->ring_events - 1;
	atomic_init(&r->refs, 2);
	pthread_mutex_lock(&rec->rings_lock);
	r->next = rec->rings;
	rec->rings = r;
	rec->nrings++;
	pthread_mutex_unlock(&rec->rings_lock);
	if (tls_ring)
		ring_let_go(tls_ring);
	tls_ring = r;
	tls_gen = rec->gen;
	pthread_setspecific(rec_key, r);
	return r;
}

static inline struct rec_ring *ring_of(struct fs_recorder *rec)
{
	if (__builtin_expect(tls_gen == rec->gen, 1))
		return tls_ring;
	return ring_register(rec);
}

uint64_t fs_recorder_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Hash of /proc/PID/comm, or 0 when the process is gone. */
static uint64_t read_comm_hash(const char *proc_root, uint32_t pid)
{
	char path[PATH_MAX], comm[64];
	snprintf(path, sizeof(path), "%s/%u/comm", proc_root, pid);
	if (sfs_read_small_file(path, comm, sizeof(comm)) < 0)
		return 0;
	comm[strcspn(comm, "\n")] = '\0';
	uint64_t h = fnv1a(comm);
	return h ? h : 1;
}

/* The name of the process behind a request, resolved on the FUSE thread
 * before the op replies (a short-lived process may be gone by the time the
 * aggregator looks, or even right after the reply), cached
 * per thread and bucket: one /proc read per process, thread and bucket, a
 * compare otherwise. */
static uint64_t thread_comm(const struct fs_recorder *rec, struct rec_ring *r, uint32_t pid,
			    uint32_t stamp)
{
	struct rec_comm_tls *c = &r->comm[pid % 32];
	if (c->pid != (pid_t)pid || c->stamp != stamp) {
		c->pid = (pid_t)pid;
		c->stamp = stamp;
		c->hash = read_comm_hash(rec->proc_root, pid);
	}
	return c->hash;
}

/* Requests in flight on the ring's thread (its only writer). */
static inline void ring_inflight_add(struct rec_ring *r, int64_t d)
{
	atomic_store_explicit(&r->inflight,
			      atomic_load_explicit(&r->inflight, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

void fs_recorder_req_begin(struct fs_recorder *rec, struct fs_rec_req *q, uid_t uid, pid_t pid)
{
	q->rec = rec;
	if (!rec)
		return;
	struct rec_ring *r = ring_of(rec);
	q->ring = r;
	q->uid = (uint32_t)uid;
	q->pid = (uint32_t)pid;
	/* Seconds are all a bucket needs; time() is the cheapest clock read
	 * (vDSO, the coarse clock's seconds) and the bucket index is cached
	 * per thread, so no division per request. */
	uint64_t now_s = (uint64_t)time(NULL);
	q->now_s = now_s;
	if (!r) {
		q->stamp = (uint32_t)(now_s / rec->width) + 1;
		q->comm = 0;
		return;
	}
	if (now_s != r->stamp_s) {
		r->stamp_s = now_s;
		r->stamp = (uint32_t)(now_s / rec->width) + 1;
	}
	q->stamp = r->stamp;
	/* Before the op replies: until then the caller waits for us, so its
	 * /proc entry is there (after the reply it may have exited). */
	q->comm = pid > 0 ? thread_comm(rec, r, (uint32_t)pid, q->stamp) : 0;
	ring_inflight_add(r, 1);
}

void fs_recorder_req_end(const struct fs_rec_req *q)
{
	if (q->rec && q->ring)
		ring_inflight_add(q->ring, -1);
}

/* Wakes the aggregator before its tick: a ring is more than half full.
 * Once until the aggregator has drained (it clears kicked), so a ring that
 * stays full costs one atomic load per event, and no lock: a signal sent
 * while the aggregator is between its last check and its wait is lost, and
 * then it drains one tick later (the ring's other half is the margin). */
static void ring_kick(struct fs_recorder *rec)
{
	if (atomic_load_explicit(&rec->kicked, memory_order_relaxed) ||
	    atomic_exchange_explicit(&rec->kicked, true, memory_order_acq_rel))
		return;
	pthread_cond_signal(&rec->wake);
}

/* Naming claims' fds held now, and their bound (rec_internal.h). */
static _Atomic uint32_t claim_fds_held;
static _Atomic uint32_t claim_fds_max = 256;

void rec_claim_fds_bound(uint32_t max)
{
	atomic_store_explicit(&claim_fds_max, max, memory_order_relaxed);
}

void rec_claim_fd_close(int fd)
{
	if (fd < 0)
		return;
	close(fd);
	atomic_fetch_sub_explicit(&claim_fds_held, 1, memory_order_relaxed);
}

/* Gives a claim back unused: the file's next claim may try again. */
static void claim_drop(const struct fs_file_ref *file, struct fs_rec_claim *claim)
{
	if (!claim || (claim->fd < 0 && !claim->handle.len))
		return;
	if (file->named)
		__atomic_store_n(file->named, 0, __ATOMIC_RELAXED);
	rec_claim_fd_close(claim->fd);
	fs_rec_claim_init(claim);
}

/* Room for need items on q's ring: the head to write them at, or false
 * (no ring, or full: the event is counted as lost or dropped). */
static inline __attribute__((always_inline)) bool ring_reserve(const struct fs_rec_req *q,
								 uint64_t need, uint64_t *ret_head)
{
	struct rec_ring *r = q->rec ? q->ring : NULL;
	if (!r) {
		if (q->rec)
			atomic_fetch_add_explicit(&q->rec->lost, 1, memory_order_relaxed);
		return false;
	}
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t half = ((uint64_t)r->mask + 1) / 2;
	if (head + need - r->cached_tail > half) { /* once per half ring at most */
		r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
		uint64_t used = head + need - r->cached_tail;
		if (used > (uint64_t)r->mask + 1) {
			atomic_store_explicit(&r->dropped,
					      atomic_load_explicit(&r->dropped, memory_order_relaxed) + 1,
					      memory_order_relaxed);
			ring_kick(q->rec);
			return false;
		}
		if (used > half)
			ring_kick(q->rec);
	}
	*ret_head = head;
	return true;
}

void fs_recorder_req_note(const struct fs_rec_req *q, enum fs_event kind,
			  const struct fs_file_ref *file, struct fs_rec_claim *claim,
			  uint64_t bytes, uint64_t latency_ns)
{
	bool named = claim && (claim->fd >= 0 || claim->handle.len);
	uint64_t head;
	if (!ring_reserve(q, named ? 2 : 1, &head)) {
		claim_drop(file, claim);
		return;
	}
	struct rec_ring *r = q->ring;
	if (named) {
		struct rec_name_event *n = &r->items[head & r->mask].name;
		n->kind = REC_EV_NAME;
		n->fd = claim->fd;
		n->handle = claim->handle;
		n->dir_ino = claim->dir_ino;
		fs_rec_claim_init(claim); /* the ring owns the fd now */
		head++;
	}
	struct rec_event *e = &r->items[head & r->mask].ev;
	e->kind = (uint8_t)kind;
	e->ts_s = q->now_s;
	e->dev = file->dev;
	e->ino = file->ino;
	e->bytes = bytes;
	e->latency_ns = latency_ns;
	e->uid = q->uid;
	e->pid = q->pid;
	e->comm = q->comm;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

void fs_recorder_req_gone(const struct fs_rec_req *q, uint64_t dev, uint64_t ino,
			  const struct fs_rec_handle *handle)
{
	uint64_t head;
	if (!q->rec || !q->ring || !ring_reserve(q, 1, &head))
		return; /* the file stays tracked; the writer will find it gone */
	struct rec_ring *r = q->ring;
	struct rec_gone_event *e = &r->items[head & r->mask].gone;
	e->kind = REC_EV_GONE;
	e->handle_hash = handle ? fs_rec_handle_hash(handle) : 0;
	e->ts_s = q->now_s;
	e->dev = dev;
	e->ino = ino;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

void fs_recorder_name_seen(struct fs_recorder *rec, const struct fs_file_ref *dir,
			   const char *name, uint64_t dev, uint64_t ino)
{
	if (rec)
		fs_rec_hint_put(rec->hints, fs_rec_hint_key(dir->dev, dir->ino, name), dev, ino);
}

uint64_t fs_recorder_name_key(const struct fs_file_ref *dir, const char *name)
{
	return fs_rec_hint_key(dir->dev, dir->ino, name);
}

bool fs_recorder_name_lookup(struct fs_recorder *rec, uint64_t key, uint64_t *ret_dev,
			     uint64_t *ret_ino)
{
	return rec && fs_rec_hint_peek(rec->hints, key, ret_dev, ret_ino);
}

bool fs_recorder_name_removed(struct fs_recorder *rec, uint64_t key, uint64_t *ret_dev,
			      uint64_t *ret_ino)
{
	return rec && fs_rec_hint_take(rec->hints, key, ret_dev, ret_ino);
}

bool fs_recorder_req_claim_needs_fd(const struct fs_rec_req *q, const struct fs_file_ref *file)
{
	return q->rec && file->named && !fs_rec_handle_fits(file->handle) &&
	       __atomic_load_n(file->named, __ATOMIC_RELAXED) != q->stamp;
}

void fs_recorder_req_claim(const struct fs_rec_req *q, const struct fs_file_ref *file, int fd,
			   struct fs_rec_claim *ret)
{
	fs_rec_claim_init(ret);
	if (!q->rec || !file->named)
		return;
	if (__atomic_load_n(file->named, __ATOMIC_RELAXED) == q->stamp)
		return;
	if (!fs_rec_handle_copy(&ret->handle, file->handle)) {
		if (fd < 0)
			return;
		if (atomic_fetch_add_explicit(&claim_fds_held, 1, memory_order_relaxed) >=
		    atomic_load_explicit(&claim_fds_max, memory_order_relaxed)) {
			atomic_fetch_sub_explicit(&claim_fds_held, 1, memory_order_relaxed);
			return; /* named at a later request */
		}
		ret->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (ret->fd < 0) {
			atomic_fetch_sub_explicit(&claim_fds_held, 1, memory_order_relaxed);
			return;
		}
	}
	if (file->dir_ino) /* once per file and bucket */
		ret->dir_ino = (uint64_t)__atomic_load_n(file->dir_ino, __ATOMIC_RELAXED);
	__atomic_store_n(file->named, q->stamp, __ATOMIC_RELAXED);
}

/* ---- one-call forms (tests, benchmarks): a request per call ---- */

static inline void req_start(struct fs_recorder *rec, struct fs_rec_req *q, uid_t uid, pid_t pid)
{
	fs_recorder_req_begin(rec, q, uid, pid);
	fs_recorder_req_end(q); /* not a request in flight */
}

void fs_recorder_note(struct fs_recorder *rec, enum fs_event kind, const struct fs_file_ref *file,
		      uint64_t bytes, uint64_t latency_ns, uid_t uid, pid_t pid)
{
	struct fs_rec_req q;
	req_start(rec, &q, uid, pid);
	fs_recorder_req_note(&q, kind, file, NULL, bytes, latency_ns);
}

void fs_recorder_note_fd(struct fs_recorder *rec, enum fs_event kind,
			 const struct fs_file_ref *file, int fd, uint64_t bytes,
			 uint64_t latency_ns, uid_t uid, pid_t pid)
{
	struct fs_rec_req q;
	struct fs_rec_claim claim;
	req_start(rec, &q, uid, pid);
	fs_recorder_req_claim(&q, file, fd, &claim);
	fs_recorder_req_note(&q, kind, file, &claim, bytes, latency_ns);
}

void fs_recorder_op_begin(struct fs_recorder *rec)
{
	struct rec_ring *r = rec ? ring_of(rec) : NULL;
	if (r)
		ring_inflight_add(r, 1);
}

void fs_recorder_op_end(struct fs_recorder *rec)
{
	struct rec_ring *r = rec ? ring_of(rec) : NULL;
	if (r)
		ring_inflight_add(r, -1);
}
