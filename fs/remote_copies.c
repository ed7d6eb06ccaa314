/* Remote copies, control-loop side (see remote_copies.h): sync, delete,
 * check and placement inputs through sync/, one connection per host. */
#include "fs/remote_copies.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/control.h"
#include "daemon/shadow_map.h"
#include "fs/copy_pace.h"
#include "fs/hosts.h"
#include "fs/remote_dirty.h"
#include "sync/client.h"
#include "sync/digest.h"
#include "sync/replicate.h"
#include "sync/tls.h"

#define CONNECT_MS 2000u
#define FRAME_MS 5000u		     /* each frame of a sync */
#define CALL_MS 1000u		     /* stats, list, delete */
#define RANGES_MAX_BYTES (64u << 20) /* more written than this: librsync instead */
#define STATS_EVERY_MS 1000u
#define VERIFY_RETRY_MS (600u * 1000u) /* a shadowd without VERIFY is asked again */
/* VERIFY: each frame (the shadowd sends progress about every
 * SYNC_VERIFY_PROGRESS_MS); as short as the listing check's call, so a
 * stopped host holds the control thread no longer than it did. */
#define VERIFY_FRAME_MS CALL_MS
/* fs_remote_commit_bound_ms: a commit's fixed part (a small file's rename
 * and fsyncs on a busy disk) and the slowest re-hash or copy of the new
 * bytes still taken for progress (~40 times slower than measured). */
#define COMMIT_BASE_MS 15000u
#define COMMIT_FLOOR_BYTES_PER_S (16u << 20)

/* A copy whose delete failed (the host stopped or unreachable), deleted
 * when the host is back. */
struct later_delete {
	uint8_t id[16];
	uint64_t version;
};
#define LATER_DELETES_MAX 4096 /* per host; beyond, shadowd's expiry deletes them */
#define LATER_DELETES_PER_TICK 16

struct remote_host {
	struct later_delete *later; /* the control thread's instance only */
	size_t nlater;
	struct sync_client *c; /* NULL until connected, after an error */
	struct sync_wire_stats stats;
	uint64_t stats_ms; /* when stats was asked (0: never) */
	int stats_rc;
	uint64_t no_verify_ms; /* when it closed the connection on VERIFY (0: never) */
	uint64_t no_versions_ms; /* ... on VERSIONS (0: never) */
};

struct fs_remote_copies {
	struct fs_hosts *hosts; /* not owned */
	size_t n;
	struct remote_host *h;
};

const char *fs_remote_method_name(int m)
{
	switch (m) {
	case FS_REMOTE_FULL:
		return "full";
	case FS_REMOTE_RANGES:
		return "ranges";
	case FS_REMOTE_DELTA:
		return "delta";
	case FS_REMOTE_CURRENT:
		return "current";
	}
	return "none";
}

int fs_remote_copies_new(struct fs_hosts *hosts, struct fs_remote_copies **ret)
{
	struct fs_remote_copies *rc = calloc(1, sizeof(*rc));
	size_t n = fs_hosts_count(hosts);
	if (!rc || !(rc->h = calloc(n ? n : 1, sizeof(*rc->h)))) {
		free(rc);
		return -ENOMEM;
	}
	rc->hosts = hosts;
	rc->n = n;
	*ret = rc;
	return 0;
}

void fs_remote_copies_free(struct fs_remote_copies *rc)
{
	if (!rc)
		return;
	for (size_t i = 0; i < rc->n; i++) {
		sync_client_close(rc->h[i].c);
		free(rc->h[i].later);
	}
	free(rc->h);
	free(rc);
}

/* The control connection to host, connected if needed. */
static int conn(struct fs_remote_copies *rc, int host, struct sync_client **ret)
{
	struct remote_host *x = &rc->h[host];
	if (x->c && !sync_client_connected(x->c)) {
		sync_client_close(x->c);
		x->c = NULL;
	}
	if (!x->c) {
		const struct fs_host_spec *spec = fs_hosts_spec(rc->hosts, (size_t)host);
		char why[256] = "";
		int r = sync_client_connect(fs_hosts_tls(rc->hosts), spec->where, spec->port,
					    CONNECT_MS, &x->c, why, sizeof(why));
		if (r < 0) {
			sfs_debug("shadow: cannot connect to %s:%u: %s", spec->where, spec->port,
				  why[0] ? why : strerror(-r));
			x->c = NULL;
			return r;
		}
	}
	*ret = x->c;
	return 0;
}

int fs_remote_copies_host(struct fs_remote_copies *rc, size_t h, struct daemon_control_host *out)
{
	struct remote_host *x = &rc->h[h];
	struct sync_client *c;
	uint64_t now = sync_now_ms();
	struct sync_wire_load l;
	if (!x->stats_ms || now - x->stats_ms >= STATS_EVERY_MS) {
		x->stats_ms = now;
		x->stats_rc = conn(rc, (int)h, &c);
		if (x->stats_rc == 0)
			x->stats_rc = sync_client_stats(c, &x->stats, CALL_MS);
	}
	if (x->stats_rc < 0)
		return x->stats_rc;
	out->budget_bytes = x->stats.budget;
	out->used_bytes = x->stats.used;
	out->thin = (x->stats.features & SYNC_WIRE_FEATURE_THIN) != 0;
	if (fs_hosts_load(rc->hosts, h, &l))
		out->load_permille =
		    l.cpu_permille > l.disk_util_permille ? l.cpu_permille : l.disk_util_permille;
	return 0;
}

/* RANGES: the bytes written since base, read from fd, as a ranged update.
 * -ENOENT when the mount does not know them (the caller goes on with
 * sync_replicate). */
static int send_ranges(struct sync_client *c, struct daemon_shadow_file *s, int fd, uint64_t size,
		       const uint8_t sha256[32], uint64_t version, uint64_t base,
		       struct fs_copy_pace *pace, const bool *stop, uint64_t *read,
		       struct fs_remote_sync_result *res)
{
	struct fs_dirty_span *sp = NULL;
	size_t n = 0;
	uint64_t total = 0;
	int r = fs_remote_dirty_ranges(s, base, size, &sp, &n);
	if (r < 0)
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		total += sp[i].len;
	struct sync_range *v = calloc(n ? n : 1, sizeof(*v));
	uint8_t *data = total <= RANGES_MAX_BYTES ? malloc(total ? total : 1) : NULL;
	r = v && data ? 0 : -ENOENT;
	for (size_t i = 0, at = 0; r == 0 && i < n; i++) {
		if (fs_copy_pace_take_until(pace, sp[i].len, stop) < 0) {
			r = -ECANCELED;
			break;
		}
		if (read)
			__atomic_add_fetch(read, sp[i].len, __ATOMIC_RELAXED);
		ssize_t got = pread(fd, data + at, sp[i].len, (off_t)sp[i].off);
		if (got != (ssize_t)sp[i].len)
			r = -ENOENT; /* the file moved on: the digest check would fail */
		v[i] = (struct sync_range){.off = sp[i].off, .data = data + at, .len = sp[i].len};
		at += sp[i].len;
	}
	if (r == -ECANCELED)
		goto out;
	if (r == 0)
		r = sync_client_update(c, s->id, base, version, size, v, n, sha256, FRAME_MS);
	if (r == 0) {
		res->method = FS_REMOTE_RANGES;
		res->sent = total;
		r = sync_client_delete(c, s->id, base, FRAME_MS);
		if (r == -ENOENT)
			r = 0;
	}
out:
	free(sp);
	free(v);
	free(data);
	return r;
}

static bool stopped(const bool *stop)
{
	return stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE);
}

/* The progress of a full or delta upload: paced; once *stop is set, the
 * upload's source is cut: its fd is replaced (dup3) by /dev/null open for
 * writing only, so the upload's next read of it fails (EBADF) and sync/
 * drops the half upload with its connection (the host discards it, as
 * after any broken upload). A progress callback cannot return an error;
 * the fd is the caller's own reopen of the origin, read by this upload
 * alone (on this thread, or on the delta's generator thread, which calls
 * this between its reads). */
struct upload_progress {
	struct fs_copy_pace_progress pp;
	int fd;
	bool cut;
};

static void upload_progress_fn(void *arg, uint64_t done, uint64_t total)
{
	struct upload_progress *u = arg;
	fs_copy_pace_progress_fn(&u->pp, done, total); /* a stop ends its wait */
	if (!u->cut && stopped(u->pp.stop)) {
		int w = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (w >= 0) {
			u->cut = dup3(w, u->fd, O_CLOEXEC) >= 0;
			close(w);
		}
	}
}

uint64_t fs_remote_commit_bound_ms(uint64_t size)
{
	return COMMIT_BASE_MS + size / (COMMIT_FLOOR_BYTES_PER_S / 1000u);
}

/* While an upload waits for the host's commit (sync_client_set_alive):
 * as long as the host's heartbeats come, the copy is not stopped and the
 * wait is within the commit's bound (past it: overdue set). */
struct commit_wait {
	struct fs_hosts *hosts;
	int host;
	const bool *stop;
	uint64_t bound_ms;
	bool overdue;
};

static bool commit_alive(void *arg, uint64_t waited_ms)
{
	struct commit_wait *w = arg;
	if (stopped(w->stop) || !fs_hosts_up(w->hosts, (size_t)w->host))
		return false;
	w->overdue = waited_ms >= w->bound_ms;
	return !w->overdue;
}

/* One attempt of fs_remote_copies_sync; *used: the connection it used
 * (NULL: none). */
static int sync_once(struct fs_remote_copies *rc, struct daemon_shadow_file *s, int host, int fd,
		     uint64_t size, const uint8_t sha256[32], uint64_t version, uint64_t base,
		     struct fs_copy_pace *pace, const bool *stop, uint64_t *read, bool list_all,
		     struct fs_remote_sync_result *res, struct sync_client **used)
{
	struct sync_client *c;
	int r = conn(rc, host, &c);
	*res = (struct fs_remote_sync_result){0};
	*used = NULL;
	if (r < 0)
		return r;
	*used = c;
	struct commit_wait cw = {rc->hosts, host, stop, fs_remote_commit_bound_ms(size), false};
	sync_client_set_alive(c, commit_alive, &cw); /* until out: */
	if (base && base != version && sha256) {
		r = send_ranges(c, s, fd, size, sha256, version, base, pace, stop, read, res);
		if (r == 0 || r == -ECANCELED || !sync_client_connected(c))
			goto out;
		/* Refused (another basis there, digest mismatch): librsync. */
	}
	/* Paced after each frame read (the uploads report progress only);
	 * stopped, the source is cut at the next report. */
	struct upload_progress up = {
	    .pp = {.p = pace, .stop = stop, .read = read, .skip_holes = true, .source = fd},
	    .fd = fd};
	struct sync_repl_opts o = {.sha256 = sha256,
				   .list_all = list_all,
				   .timeout_ms = FRAME_MS,
				   .progress = upload_progress_fn,
				   .progress_arg = &up};
	struct sync_repl_result rr;
	r = sync_replicate(c, s->id, version, fd, &o, &rr);
	if (r < 0 && up.cut)
		r = -ECANCELED;
	if (r == 0) {
		res->method = rr.method == SYNC_REPL_CURRENT ? FS_REMOTE_CURRENT
			      : rr.method == SYNC_REPL_DELTA ? FS_REMOTE_DELTA
							     : FS_REMOTE_FULL;
		res->sent = rr.method == SYNC_REPL_CURRENT ? 0 : rr.sent_bytes;
		res->have_sha256 = rr.have_sha256;
		memcpy(res->sha256, rr.sha256, sizeof(res->sha256));
	}
out:
	sync_client_set_alive(c, NULL, NULL);
	if (r == -ETIMEDOUT && cw.overdue)
		res->commit_overdue_ms = cw.bound_ms;
	if (r == 0 && sha256) {
		res->have_sha256 = true;
		memcpy(res->sha256, sha256, sizeof(res->sha256));
	}
	if (r == 0)
		fs_remote_dirty_synced(s, version, size);
	return r;
}

int fs_remote_copies_sync(struct fs_remote_copies *rc, struct daemon_shadow_file *s, int host,
			  int fd, uint64_t size, const uint8_t sha256[32], uint64_t version,
			  uint64_t base, struct fs_copy_pace *pace, const bool *stop,
			  uint64_t *read, struct fs_remote_sync_result *res)
{
	uint64_t mine = 0, *count = read ? read : &mine;
	int r = 0;
	/* Twice, as delete and verify below: the connection may be broken
	 * already (the shadowd restarted since it was last used). A second
	 * attempt, on a new connection, only when the first broke before it
	 * read any of the origin (the uploads read it with pread: nothing to
	 * rewind) and not for a timeout (a host that does not answer would
	 * make the copy wait twice). Before, such a copy failed and waited for
	 * the back-off: 7 s after a shadowd restart in fs_remote. */
	struct remote_host *x = &rc->h[host];
	uint64_t now = sync_now_ms();
	bool list_all = x->no_versions_ms && now - x->no_versions_ms < VERIFY_RETRY_MS;
	bool broken = false;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct sync_client *c;
		uint64_t before = __atomic_load_n(count, __ATOMIC_RELAXED);
		r = sync_once(rc, s, host, fd, size, sha256, version, base, pace, stop, count,
			      list_all, res, &c);
		broken = !(r == 0 || r == -ECANCELED || r == -ETIMEDOUT || stopped(stop) || !c ||
			   sync_client_connected(c) ||
			   __atomic_load_n(count, __ATOMIC_RELAXED) != before);
		if (!broken)
			break;
		sfs_debug("shadow: the connection to host %d was broken (%s): the copy tried again "
			  "on a new one",
			  host, strerror(-r));
	}
	/* A new connection broke too, before anything was read: an older
	 * shadowd refuses VERSIONS (the copy's first request) that way. If it
	 * answers LIST, it is up and does not know VERSIONS: its copies list
	 * the whole store (as before VERSIONS) for a while. */
	if (broken && !list_all) {
		struct sync_client *c;
		int l = fs_remote_copies_check(rc, host, s->id, version, size); /* a LIST */
		if (l == 0 || l == -ENOENT) {
			if (!x->no_versions_ms) {
				const struct fs_host_spec *spec = fs_hosts_spec(rc->hosts, (size_t)host);
				sfs_warn("shadow: %s:%u does not take VERSIONS (older shadowd?): each "
					 "copy there lists its whole store",
					 spec->where, spec->port);
			}
			x->no_versions_ms = now;
			r = sync_once(rc, s, host, fd, size, sha256, version, base, pace, stop,
				      count, true, res, &c);
		}
	}
	return r;
}

/* Whether a ranged update from base is possible (the mount knows what
 * was written since): only then is the digest needed before the upload. */
static bool ranges_known(struct daemon_shadow_file *s, uint64_t base, uint64_t version,
			 uint64_t size)
{
	struct fs_dirty_span *sp = NULL;
	size_t n = 0;
	if (!base || base == version)
		return false;
	int r = fs_remote_dirty_ranges(s, base, size, &sp, &n);
	free(sp);
	return r == 0;
}

int fs_remote_copies_make(struct fs_remote_copies *rc, struct daemon_shadow_file *s,
			  const struct fs_remote_make *m, struct fs_remote_sync_result *res)
{
	uint8_t sha[SYNC_SHA256_LEN];
	*res = (struct fs_remote_sync_result){0};
	/* A ranged update carries the digest in its first frame: one paced
	 * pass to compute it first. Full copies and deltas hash what they
	 * read as they upload (one pass); the host checks either way. */
	bool pre = ranges_known(s, m->base, m->version, m->size);
	struct fs_copy_pace_check chk = {m->pace, m->unchanged, m->arg, m->stop, m->read};
	struct sync_pace pace = fs_copy_pace_hook_checked(&chk);
	int r = pre ? sync_sha256_fd_paced(m->fd, m->size, &pace, sha) : 0;
	if (r == 0)
		r = fs_remote_copies_sync(rc, s, m->host, m->fd, m->size, pre ? sha : NULL,
					  m->version, m->base, m->pace, m->stop, m->read, res);
	/* CURRENT (the host held the version already): nothing was read, so
	 * the digest VERIFY checks the copy against is the origin's at this
	 * version, read here (one paced pass; a zero digest failed the first
	 * VERIFY, and the shadowd deleted a good copy). */
	if (r == 0 && !res->have_sha256 && !pre) {
		r = sync_sha256_fd_paced(m->fd, m->size, &pace, sha);
		if (r == 0) {
			memcpy(res->sha256, sha, sizeof(res->sha256));
			res->have_sha256 = true;
		}
	}
	/* CURRENT says the host holds the version at this size, no more: a
	 * copy it kept from before a change behind the mount's back that did
	 * not move the version (made while the origin changed, its delete
	 * lost with the host; edited in its store while the shadowd was
	 * down) would be published with the old bytes. So the host re-hashes
	 * it against the origin's digest first (VERIFY, one read there); a
	 * copy that differs (the host deletes it) is made again at once. */
	if (r == 0 && res->method == FS_REMOTE_CURRENT) {
		int v = fs_remote_copies_verify(rc, m->host, s->id, m->version, res->sha256,
						m->size, m->stop);
		if (v == -EBADMSG || v == -ENOENT) {
			char where[600];
			fs_hosts_label(rc->hosts, (size_t)m->host, where, sizeof(where));
			sfs_warn("shadow: %s: %s held this version of it with other bytes (its "
				 "store changed): copied again",
				 m->path, where);
			memcpy(sha, res->sha256, sizeof(sha));
			r = fs_remote_copies_sync(rc, s, m->host, m->fd, m->size, sha, m->version,
						  m->base, m->pace, m->stop, m->read, res);
		} else {
			r = v;
		}
	}
	if (r == 0 && (stopped(m->stop) || !m->unchanged(m->arg))) {
		fs_remote_copies_delete(rc, m->host, s->id, m->version); /* not valid */
		r = stopped(m->stop) ? -ECANCELED : -EAGAIN;
	} else if (r < 0 && stopped(m->stop)) {
		r = -ECANCELED; /* whatever error the cut source made */
	}
	/* The slot of the stale copy goes on failure: so does that copy. */
	if (r < 0 && m->base && r != -EAGAIN)
		fs_remote_copies_delete(rc, m->host, s->id, SYNC_WIRE_ALL_VERSIONS);
	if (r == -ETIMEDOUT && res->commit_overdue_ms) {
		char where[600];
		fs_hosts_label(rc->hosts, (size_t)m->host, where, sizeof(where));
		sfs_warn("shadow: %s: %s did not commit its copy (%llu bytes) within %llu ms "
			 "while its heartbeats came: the copy there is abandoned",
			 m->path, where, (unsigned long long)m->size,
			 (unsigned long long)res->commit_overdue_ms);
	}
	if (r == 0)
		sfs_debug("shadow: %s synced to host %d (version %llu, %s, %llu bytes shipped)",
			  m->path, m->host, (unsigned long long)m->version,
			  fs_remote_method_name(res->method), (unsigned long long)res->sent);
	return r;
}

int fs_remote_copies_delete(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			    uint64_t version)
{
	struct sync_client *c;
	int r = 0;
	/* Twice: this instance's connection may be broken already (the
	 * shadowd restarted since it was last used: the other instance's
	 * connection saw it); the second is new. */
	for (int attempt = 0; attempt < 2; attempt++) {
		r = conn(rc, host, &c);
		if (r < 0)
			break;
		r = sync_client_delete(c, id, version, CALL_MS);
		if (r == 0 || r == -ENOENT || sync_client_connected(c) || r == -ETIMEDOUT)
			break;
	}
	return r == -ENOENT ? 0 : r;
}

void fs_remote_copies_delete_later(struct fs_remote_copies *rc, int host, const uint8_t id[16],
				   uint64_t version)
{
	struct remote_host *x = &rc->h[host];
	for (size_t i = 0; i < x->nlater; i++)
		if (x->later[i].version == version && !memcmp(x->later[i].id, id, 16))
			return;
	if (!x->later && !(x->later = calloc(LATER_DELETES_MAX, sizeof(*x->later))))
		return; /* no memory: the shadowd's expiry deletes it */
	if (x->nlater == LATER_DELETES_MAX) /* the oldest goes: expiry's then */
		memmove(x->later, x->later + 1, --x->nlater * sizeof(*x->later));
	memcpy(x->later[x->nlater].id, id, 16);
	x->later[x->nlater++].version = version;
}

void fs_remote_copies_keep(struct fs_remote_copies *rc, int host, const uint8_t id[16])
{
	struct remote_host *x = &rc->h[host];
	size_t k = 0;
	for (size_t i = 0; i < x->nlater; i++)
		if (memcmp(x->later[i].id, id, 16))
			x->later[k++] = x->later[i];
	x->nlater = k;
}

size_t fs_remote_copies_retry_deletes(struct fs_remote_copies *rc, int host)
{
	struct remote_host *x = &rc->h[host];
	size_t done = 0;
	while (x->nlater && done < LATER_DELETES_PER_TICK) {
		struct later_delete *d = &x->later[x->nlater - 1];
		if (fs_remote_copies_delete(rc, host, d->id, d->version) < 0)
			break; /* not reachable after all: next time */
		x->nlater--;
		done++;
	}
	return done;
}

size_t fs_remote_copies_later_count(const struct fs_remote_copies *rc, int host)
{
	return rc->h[host].nlater;
}

int fs_remote_copies_verify(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			    uint64_t version, const uint8_t sha256[32], uint64_t size,
			    const bool *stop)
{
	struct remote_host *x = &rc->h[host];
	struct sync_client *c;
	uint64_t now = sync_now_ms();
	int r = 0;
	if (x->no_verify_ms && now - x->no_verify_ms < VERIFY_RETRY_MS)
		return fs_remote_copies_check(rc, host, id, version, size);
	/* Twice: the first connection may have been broken already (the
	 * shadowd restarted since it was last used); the second is new. */
	for (int attempt = 0; attempt < 2; attempt++) {
		r = conn(rc, host, &c);
		if (r < 0)
			return r;
		r = sync_client_verify(c, id, version, sha256, NULL, stop, VERIFY_FRAME_MS);
		if (r == 0 || sync_client_connected(c) || r == -ETIMEDOUT || r == -ECANCELED)
			return r; /* an answer, a host too slow to answer, or a stop */
	}
	/* A new connection broke on VERIFY too: an older shadowd refuses the
	 * unknown request that way. If it answers LIST, it is up and does not
	 * know VERIFY. */
	int l = fs_remote_copies_check(rc, host, id, version, size);
	if (l == 0 || l == -ENOENT) {
		if (!x->no_verify_ms) {
			const struct fs_host_spec *spec = fs_hosts_spec(rc->hosts, (size_t)host);
			sfs_warn("shadow: %s:%u does not take VERIFY (older shadowd?): its copies "
				 "are checked by listing only",
				 spec->where, spec->port);
		}
		x->no_verify_ms = now;
		return l;
	}
	return r;
}

int fs_remote_copies_check(struct fs_remote_copies *rc, int host, const uint8_t id[16],
			   uint64_t version, uint64_t size)
{
	struct sync_client *c;
	struct sync_wire_list_entry *v = NULL;
	size_t n = 0;
	int r = conn(rc, host, &c);
	if (r == 0)
		r = sync_client_list(c, &v, &n, CALL_MS);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(v[i].id, id, 16) && v[i].version == version && v[i].size == size)
			r = 0;
	free(v);
	return r;
}
