/* shadowd request server: see server.h. One thread per connection (bounded
 * by max_conns, and a spare slot for a newcomer that may take an idle
 * connection's: admit); each thread handshakes, then loops: receive a frame (decoded
 * and validated by sync/frame.c), serve it, answer. A malformed frame or a
 * protocol violation closes the connection and is logged; a failed request
 * (missing copy, bad checksum, ...) is answered with its status and the
 * connection goes on. */
#include "daemon/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/peer_share.h"
#include "sync/frame.h"
#include "sync/wire.h"

#define PEER_NAME_LEN 128 /* as sync/tls.c keeps a peer's CN */

struct daemon_server {
	struct daemon_server_config cfg; /* read-only after new */
	int listen_fd;
	int stop_pipe[2]; /* written by daemon_server_stop */
	uint16_t port;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when active drops to 0 */
	pthread_cond_t freed; /* signalled when a slot is released */
	unsigned active;     /* protected by lock */
	int *conn_fds;	     /* protected by lock; -1 = free slot; for stop */
	/* Protected by lock, per slot: when its connection was accepted while
	 * it is still in its TLS handshake (0 once authenticated), and
	 * whether a new connection cut it (take_handshake_slot). */
	uint64_t *handshake_ms;
	bool *cut;
	/* Protected by lock, per slot: the certificate name (CN) of its
	 * authenticated peer and whether it was admitted (admit); since when
	 * it is idle (0: in a request or its handshake; set_idle); whether it
	 * holds the spare slot (taken when all max_conns are: admit decides
	 * whether it stays, another peer's idle connection giving way). */
	char (*peer_names)[PEER_NAME_LEN];
	bool *admitted;
	uint64_t *idle_ms;
	bool *probation;
	struct daemon_peer_slot *view; /* admit's scratch, under lock */
	unsigned nslots;	       /* max_conns + the spare */
	/* The run loop's only: each slot's last thread, joined before the
	 * slot takes a new one and at stop, so no thread of ours is still
	 * exiting (OpenSSL's per-thread state freed at its exit) when the
	 * daemon does. */
	pthread_t *threads;
	bool *joinable;
	bool stopping;	     /* protected by lock */
	/* Budgets of the warnings a peer can make frequent: refused or
	 * dropped connections (a flood logged ~150 lines a second), and
	 * accept failing at the open files limit (once a minute), refused
	 * uploads. */
	struct sfs_log_limit refusals_log, accept_log, upload_log;
	/* atomic, since start (STATS): */
	uint64_t reads, read_bytes, received_bytes;
};

struct conn {
	struct daemon_server *srv;
	int slot;
	struct sync_tls_conn *tls;
	char peer[96]; /* "addr:port (CN)" for the log */
	uint8_t *buf;  /* SYNC_WIRE_MAX_PAYLOAD: received payloads, read data */
};

/* A copy was used (copy_expiry.h: read, re-hashed, a basis, committed). */
static void used(const struct conn *c, const uint8_t id[16], uint64_t version)
{
	daemon_copy_expiry_touch(c->srv->cfg.expiry, id, version, sync_now_ms());
}

static uint64_t io_deadline(const struct conn *c)
{
	return sync_now_ms() + c->srv->cfg.io_timeout_ms;
}

/* Marks c's connection idle (waiting for a request, or in a heartbeat
 * stream) or not: an idle one may give its slot way (admit). */
static void set_idle(struct conn *c, bool idle)
{
	pthread_mutex_lock(&c->srv->lock);
	c->srv->idle_ms[c->slot] = idle ? sync_now_ms() : 0;
	pthread_mutex_unlock(&c->srv->lock);
}

static int reply(struct conn *c, uint8_t type, uint64_t req_id, int err, const void *prefix,
		 uint32_t plen, const void *data, uint32_t dlen, uint16_t flags)
{
	int32_t st = sync_wire_status_from_errno(err);
	if (st != SYNC_WS_OK)
		plen = dlen = 0;
	return sync_frame_send(c->tls, type, (uint16_t)(SYNC_WIRE_F_RESPONSE | flags), req_id, st,
			       prefix, plen, data, dlen, io_deadline(c));
}

static void protocol_error(struct conn *c, const char *what, int err)
{
	sfs_warn("closing connection from %s: %s%s%s", c->peer, what, err ? ": " : "",
		 err ? strerror(-err) : "");
}

/* ---- streamed uploads: PUT (DATA frames), UPDATE (RANGE), DELTA (DATA) ---- */

struct upload {
	struct conn *c;
	uint64_t req_id;
	uint8_t want;		/* DATA or RANGE */
	bool zeros;		/* ZEROS frames too (a PUT, unless --test-no-zeros) */
	bool ended;		/* END seen */
	bool broken;		/* transport/protocol error: close the connection */
	const uint8_t *pending; /* unread part of the current DATA frame (delta pull) */
	size_t pending_len;
	uint8_t end_sha[32]; /* digest sent with END, if end_has_sha */
	bool end_has_sha;
	struct daemon_store_writer *w; /* a delta's output (writer_out) */
};

/* Next frame of an upload; returns 1 with *m set, 0 at END, -1 broken. */
static int upload_next(struct upload *u, struct sync_wire_msg *m)
{
	int r = sync_frame_recv(u->c->tls, u->c->buf, m, io_deadline(u->c));
	if (r < 0) {
		protocol_error(u->c, "bad frame inside an upload", r);
		u->broken = true;
		return -1;
	}
	if ((m->hdr.flags & SYNC_WIRE_F_RESPONSE) || m->hdr.req_id != u->req_id ||
	    (m->hdr.type != u->want && m->hdr.type != SYNC_WIRE_END &&
	     !(m->hdr.type == SYNC_WIRE_ZEROS && u->zeros))) {
		protocol_error(u->c, "unexpected frame inside an upload", 0);
		u->broken = true;
		return -1;
	}
	if (m->hdr.type == SYNC_WIRE_END) {
		u->ended = true;
		u->end_has_sha = m->has_sha256;
		memcpy(u->end_sha, m->sha256, 32);
		return 0;
	}
	__atomic_add_fetch(&u->c->srv->received_bytes, m->data_len, __ATOMIC_RELAXED);
	return 1;
}

static int drain(struct upload *u)
{
	struct sync_wire_msg m;
	while (!u->ended && !u->broken)
		upload_next(u, &m);
	return u->broken ? -1 : 0;
}

static long delta_pull(void *arg, void *buf, size_t cap)
{
	struct upload *u = arg;
	struct sync_wire_msg m;
	while (!u->pending_len) {
		if (u->ended)
			return 0;
		int r = upload_next(u, &m);
		if (r < 0)
			return -EPROTO;
		if (r == 0)
			return 0;
		u->pending = m.data;
		u->pending_len = m.data_len;
	}
	size_t n = u->pending_len < cap ? u->pending_len : cap;
	memcpy(buf, u->pending, n);
	u->pending += n;
	u->pending_len -= n;
	return (long)n;
}

/* A delta's output into the new copy. A delta of a few bytes can expand to
 * the whole declared size (COPY commands of the basis, again and again): a
 * peer that sent 54 KB and left had a core writing and hashing 200 GiB for
 * minutes, and SIGTERM waited for it. The patch stops once the peer has
 * hung up or the server is stopping, as a commit's re-hash does. */
static int writer_out(void *arg, const void *buf, size_t len)
{
	struct upload *u = arg;
	if (sync_tls_peer_gone(u->c->tls))
		return -ECONNABORTED;
	return daemon_store_writer_append(u->w, buf, len);
}

/* The digest a new copy must have: BEGIN's, or END's when BEGIN's is all
 * zero (sender hashed while streaming); both given and different: -EBADMSG. */
static int expected_digest(const struct sync_wire_msg *b, const struct upload *u,
			   const uint8_t **ret)
{
	static const uint8_t zero[32];
	bool begin_has = memcmp(b->sha256, zero, 32) != 0;
	if (u->end_has_sha && begin_has && memcmp(u->end_sha, b->sha256, 32))
		return -EBADMSG;
	if (!u->end_has_sha && !begin_has)
		return -EBADMSG; /* no digest at all: never accept unverified */
	*ret = begin_has ? b->sha256 : u->end_sha;
	return 0;
}

/* Whether this server takes ZEROS frames in a PUT and the 72-byte thin
 * PUT_BEGIN (announced in STATS); --test-no-zeros acts as a shadowd that
 * predates both. */
static bool zeros_accepted(const struct daemon_server *s)
{
	return !(s->cfg.fault && s->cfg.fault->no_zeros);
}

/* Before each chunk of a commit's re-hash (an UPDATE's whole new copy, a
 * sparse one's holes too: hours for a multi-TiB thin image): gives up with
 * -ECONNABORTED once the peer has hung up or the server is stopping (it
 * shuts every connection down), as VERIFY does at its next progress frame.
 * Before, the re-hash ran to its end for nobody, holding the slot, and
 * SIGTERM waited for it. */
static int commit_check(void *arg, uint64_t off, size_t want)
{
	struct conn *c = arg;
	(void)off;
	(void)want;
	return sync_tls_peer_gone(c->tls) ? -ECONNABORTED : 0;
}

/* Whether an upload's declared size is above max_copy_size (refused with
 * -ENOSPC before anything is created). What a commit re-hashes (an UPDATE's
 * whole new copy, holes too; a DELTA's output short of its size) and what a
 * delta may expand to is the size the peer declares, not what it sends: an
 * UPDATE of 1 TiB with one RANGE byte, its peer waiting for the answer, kept
 * a core hashing zeros for ~12 minutes, and up to 1 PiB could be declared. */
static bool above_max_copy_size(const struct conn *c, const struct sync_wire_msg *b)
{
	return b->size > c->srv->cfg.max_copy_size;
}

/* The log line of a refused upload, within the budget of such lines: a
 * peer refused request after request (no room, a bad digest) logged a line
 * each, ~13,600 a second from one connection. */
static void log_refused_upload(struct conn *c, const struct sync_wire_msg *b, int err,
			       bool oversize)
{
	const char *type = sync_wire_type_name(b->hdr.type);
	if (oversize)
		sfs_log_limited(&c->srv->upload_log, SFS_LOG_WARN,
				"%s: %s of a copy of %llu bytes refused: above --max-copy-size "
				"(%llu bytes)",
				c->peer, type, (unsigned long long)b->size,
				(unsigned long long)c->srv->cfg.max_copy_size);
	else if (err == -EMLINK)
		sfs_log_limited(&c->srv->upload_log, SFS_LOG_WARN,
				"%s: %s of a copy refused: its id has %u versions already, the most "
				"a store keeps",
				c->peer, type, DAEMON_STORE_VERSIONS_MAX);
	else
		sfs_log_limited(&c->srv->upload_log, SFS_LOG_INFO, "%s: %s of a copy refused: %s",
				c->peer, type, strerror(-err));
}

/* Serves PUT_BEGIN / UPDATE_BEGIN / DELTA_BEGIN. err: status decided before
 * the upload (fault injection). Returns 0 or -1 (close). */
static int serve_upload(struct conn *c, const struct sync_wire_msg *b, int err, uint64_t *written)
{
	struct daemon_store *st = c->srv->cfg.store;
	const struct daemon_delta_ops *ops = c->srv->cfg.delta;
	struct daemon_store_writer *w = NULL;
	struct upload u = {.c = c, .req_id = b->hdr.req_id};
	struct sync_wire_msg m;
	uint8_t type = b->hdr.type;
	const uint8_t *sha;
	uint64_t t_begin = sync_now_ms(), appended = 0;
	int basis = -1;

	u.want = type == SYNC_WIRE_UPDATE_BEGIN ? SYNC_WIRE_RANGE : SYNC_WIRE_DATA;
	u.zeros = type == SYNC_WIRE_PUT_BEGIN && zeros_accepted(c->srv);
	bool oversize = !err && above_max_copy_size(c, b);
	if (oversize)
		err = -ENOSPC;
	if (!err) {
		if (type == SYNC_WIRE_PUT_BEGIN && b->has_data_bytes)
			err = daemon_store_create_thin(st, b->id, b->version, b->size,
						       b->data_bytes, &w);
		else if (type == SYNC_WIRE_PUT_BEGIN)
			err = daemon_store_create(st, b->id, b->version, b->size, &w);
		else if (type == SYNC_WIRE_UPDATE_BEGIN)
			err = daemon_store_create_from(st, b->id, b->base, b->version, b->size, &w);
		else if (!ops || !ops->patch)
			err = -ENOTSUP; /* no delta ops configured */
		else if (!(err = daemon_store_open_copy(st, b->id, b->base, &basis, NULL)))
			err = daemon_store_create_patched(st, b->id, b->version, b->size, basis,
							  &w);
	}
	if (!err && type != SYNC_WIRE_PUT_BEGIN)
		used(c, b->id, b->base);
	if (!err && type == SYNC_WIRE_DELTA_BEGIN) {
		u.w = w;
		err = ops->patch(ops->ctx, basis, delta_pull, &u, writer_out, &u);
	} else {
		int r;
		while (!err && (r = upload_next(&u, &m)) > 0) {
			if (m.hdr.type == SYNC_WIRE_ZEROS)
				err = daemon_store_writer_append_zeros(w, m.size);
			else if (type == SYNC_WIRE_PUT_BEGIN)
				err = daemon_store_writer_append(w, m.data, m.data_len);
			else
				err = daemon_store_writer_write(w, m.offset, m.data, m.data_len);
			*written += m.data_len;
			if (!err)
				appended += m.hdr.type == SYNC_WIRE_ZEROS ? m.size : m.data_len;
		}
		/* A PUT is its size's bytes (DATA and ZEROS frames), every one
		 * of them: one that ended short is refused at once. Its commit
		 * would re-hash the whole declared size (the file reads as zeros
		 * past what came): a 1 TiB thin PUT_BEGIN followed by END, 152
		 * bytes, held this thread and its slot for ~12 minutes of a
		 * core, whoever was left to answer, and SIGTERM waited for it. */
		if (!err && u.ended && type == SYNC_WIRE_PUT_BEGIN && appended != b->size)
			err = -EBADMSG;
	}
	if (basis >= 0)
		close(basis);
	if (err == -ECONNABORTED) {
		protocol_error(c, "gone (or the server stopping) while a delta was applied", 0);
		daemon_store_abort(w);
		return -1;
	}
	if (drain(&u) < 0) {
		daemon_store_abort(w);
		return -1;
	}
	uint64_t t_end = sync_now_ms();
	if (!err && c->srv->cfg.fault)
		daemon_fault_before_commit(c->srv->cfg.fault);
	if (!err)
		err = expected_digest(b, &u, &sha);
	if (!err) {
		err = daemon_store_commit_each(w, sha, commit_check, c);
		if (err == -ECONNABORTED) {
			protocol_error(c, "gone (or the server stopping) during the commit of an upload",
				       0);
			return -1;
		}
	} else {
		daemon_store_abort(w);
	}
	if (!err)
		used(c, b->id, b->version);
	sfs_debug("%s: %s %llu bytes: stream %llu ms, commit %llu ms", c->peer,
		  sync_wire_type_name(type), (unsigned long long)*written,
		  (unsigned long long)(t_end - t_begin),
		  (unsigned long long)(sync_now_ms() - t_end));
	if (err)
		log_refused_upload(c, b, err, oversize);
	if (err == -EMLINK)
		err = -ENOSPC; /* the wire's word for no room (here for that id) */
	return reply(c, SYNC_WIRE_END, b->hdr.req_id, err, NULL, 0, NULL, 0, 0) < 0 ? -1 : 0;
}

struct sig_emit {
	struct conn *c;
	uint64_t req_id;
};

static int sig_emit(void *arg, const void *buf, size_t len)
{
	struct sig_emit *e = arg;
	if (len > SYNC_WIRE_MAX_DATA)
		return -EMSGSIZE;
	return sync_frame_send(e->c->tls, SYNC_WIRE_DATA, SYNC_WIRE_F_RESPONSE | SYNC_WIRE_F_MORE,
			       e->req_id, 0, NULL, 0, buf, (uint32_t)len, io_deadline(e->c));
}

static int serve_signature(struct conn *c, const struct sync_wire_msg *m, int err)
{
	const struct daemon_delta_ops *ops = c->srv->cfg.delta;
	int fd = -1;
	if (!err && (!ops || !ops->signature))
		err = -ENOTSUP; /* no delta ops configured */
	if (!err)
		err = daemon_store_open_copy(c->srv->cfg.store, m->id, m->version, &fd, NULL);
	if (!err) {
		struct sig_emit e = {c, m->hdr.req_id};
		used(c, m->id, m->version);
		err = ops->signature(ops->ctx, fd, sig_emit, &e);
		close(fd);
		if (err == -ETIMEDOUT || err == -EPIPE || err == -ECONNABORTED)
			return -1; /* the transport failed mid-stream */
	}
	return reply(c, SYNC_WIRE_END, m->hdr.req_id, err, NULL, 0, NULL, 0, 0) < 0 ? -1 : 0;
}

/* LIST (every copy) or VERSIONS (the copies of m->id). */
static int serve_list(struct conn *c, const struct sync_wire_msg *m, int err)
{
	struct daemon_store_entry *v = NULL;
	size_t n = 0, i = 0;
	const size_t per = (SYNC_WIRE_MAX_PAYLOAD - 4) / SYNC_WIRE_LIST_ENTRY_SIZE;
	int r = 0, type = m->hdr.type;
	if (!err)
		err = type == SYNC_WIRE_VERSIONS
			  ? daemon_store_list_id(c->srv->cfg.store, m->id, &v, &n)
			  : daemon_store_list(c->srv->cfg.store, &v, &n);
	if (err) {
		free(v);
		return reply(c, type, m->hdr.req_id, err, NULL, 0, NULL, 0, 0);
	}
	do {
		size_t k = n - i < per ? n - i : per;
		uint8_t cnt[4] = {(uint8_t)(k >> 24), (uint8_t)(k >> 16), (uint8_t)(k >> 8),
				  (uint8_t)k};
		for (size_t j = 0; j < k; j++) {
			struct sync_wire_list_entry e;
			memcpy(e.id, v[i + j].id, 16);
			e.version = v[i + j].version;
			e.size = v[i + j].size;
			sync_wire_enc_list_entry(c->buf + j * SYNC_WIRE_LIST_ENTRY_SIZE, &e);
		}
		i += k;
		r = reply(c, type, m->hdr.req_id, 0, cnt, 4, c->buf,
			  (uint32_t)(k * SYNC_WIRE_LIST_ENTRY_SIZE), i < n ? SYNC_WIRE_F_MORE : 0);
	} while (r == 0 && i < n);
	free(v);
	return r;
}

/* HEARTBEAT: a load snapshot at once and every interval until the client
 * sends END (answered by a last heartbeat without F_MORE; the connection then
 * serves requests again) or goes away. Not counted as a request in the load
 * figures: a stream that lasts hours is not a slow request. */
static int serve_heartbeat(struct conn *c, const struct sync_wire_msg *m)
{
	struct daemon_server *s = c->srv;
	uint8_t p[SYNC_WIRE_HEARTBEAT_SIZE];
	uint64_t rid = m->hdr.req_id, next = sync_now_ms();

	if (m->interval_ms < SYNC_HEARTBEAT_MIN_MS || m->interval_ms > SYNC_HEARTBEAT_MAX_MS)
		return reply(c, SYNC_WIRE_HEARTBEAT, rid, -EINVAL, NULL, 0, NULL, 0, 0);
	set_idle(c, true); /* a stream: no request the peer waits for */
	for (uint64_t seq = 0;; seq++) {
		struct sync_wire_load l;
		daemon_load_snapshot(s->cfg.load, &l);
		sync_wire_enc_heartbeat(p, sizeof(p), seq, &l);
		if (reply(c, SYNC_WIRE_HEARTBEAT, rid, 0, p, sizeof(p), NULL, 0, SYNC_WIRE_F_MORE) < 0)
			return -1;
		next += m->interval_ms;
		int w = sync_tls_wait_readable(c->tls, next);
		if (w < 0)
			return -1;
		if (w == 0)
			continue;
		struct sync_wire_msg e;
		set_idle(c, false);
		int r = sync_frame_recv(c->tls, c->buf, &e, io_deadline(c));
		if (r == -EPIPE)
			return -1; /* the watcher went away: normal end */
		if (r < 0 || e.hdr.type != SYNC_WIRE_END || e.hdr.req_id != rid ||
		    (e.hdr.flags & SYNC_WIRE_F_RESPONSE)) {
			protocol_error(c, "unexpected frame inside a heartbeat stream", r < 0 ? r : 0);
			return -1;
		}
		daemon_load_snapshot(s->cfg.load, &l);
		sync_wire_enc_heartbeat(p, sizeof(p), seq + 1, &l);
		return reply(c, SYNC_WIRE_HEARTBEAT, rid, 0, p, sizeof(p), NULL, 0, 0) < 0 ? -1 : 0;
	}
}

/* ---- VERIFY: re-hash a copy from the disk ---- */

struct verify_pace {
	struct conn *c;
	uint64_t req_id;
	uint64_t last_frame_ms; /* when the last VERIFY frame went out */
	uint64_t hashed;	/* bytes read for the hash so far */
	bool broken;		/* a progress frame could not be sent */
};

#define VERIFY_PIECE (256u << 10) /* throttled bytes between two progress checks, */
#define VERIFY_PIECE_MIN 4096u	   /* or 100 ms worth at --capacity-read if less */

/* The bytes taken between two progress checks: at most 100 ms worth at the
 * throttle's rate, so that even a host emulating a few KB/s sends frames
 * well within the client's per-frame deadline. */
static size_t verify_piece(const struct daemon_throttle *t)
{
	double tenth = t->bytes.rate / 10;
	if (t->bytes.rate <= 0 || tenth >= VERIFY_PIECE)
		return VERIFY_PIECE;
	return tenth <= VERIFY_PIECE_MIN ? VERIFY_PIECE_MIN : (size_t)tenth;
}

/* A progress frame when SYNC_VERIFY_PROGRESS_MS have passed since the last
 * VERIFY frame. Returns 0 or -EPIPE (the connection is gone). */
static int verify_progress(struct verify_pace *v, uint64_t hashed)
{
	uint8_t p[SYNC_WIRE_VERIFY_SIZE];
	if (sync_now_ms() - v->last_frame_ms < SYNC_VERIFY_PROGRESS_MS)
		return 0;
	sync_wire_enc_verify_resp(p, sizeof(p), hashed);
	if (reply(v->c, SYNC_WIRE_VERIFY, v->req_id, 0, p, sizeof(p), NULL, 0, SYNC_WIRE_F_MORE) <
	    0) {
		v->broken = true;
		return -EPIPE;
	}
	v->last_frame_ms = sync_now_ms();
	return 0;
}

/* Before each chunk (SYNC_SHA256_FD_CHUNK) of the re-hash: the throttle
 * takes it as one read (one I/O token) whose bytes are taken in pieces
 * (verify_piece) with a progress check before each, so a throttled host still
 * sends frames often and never puts the bucket into more debt than one piece
 * (the other connections' reads wait at most that behind a re-hash). The gap
 * between two frames is at most SYNC_VERIFY_PROGRESS_MS + one I/O token's
 * wait (1 / --capacity-iops s) + one piece's wait (<= 100 ms) + one chunk's
 * disk read. */
static int verify_before(void *arg, uint64_t off, size_t want)
{
	struct verify_pace *v = arg;
	struct daemon_throttle *t = v->c->srv->cfg.throttle;
	int r = verify_progress(v, off);
	if (t)
		daemon_throttle_read(t, 0);
	size_t piece = t ? verify_piece(t) : VERIFY_PIECE;
	for (size_t done = 0; r == 0 && t && done < want; done += piece) {
		size_t k = want - done < piece ? want - done : piece;
		daemon_throttle_bytes(t, k);
		r = verify_progress(v, off);
	}
	v->hashed = off + want;
	return r;
}

/* A copy found damaged (a re-hash that differs, a read that finds its file
 * changed on disk), deleted at once by the store (d: how that went), so
 * that no READ serves it again, LIST no longer shows it and no sync takes
 * it for the version it claims to be: logged. The mount makes a new one
 * (its read was refused: the copy goes stale). */
static void copy_damaged(struct conn *c, const uint8_t id[16], uint64_t version, const char *what,
			 int d)
{
	char hex[33];
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	sfs_warn("%s: copy %s version %llu %s: %s", c->peer, hex, (unsigned long long)version, what,
		 d == 0 || d == -ENOENT ? "deleted" : "cannot delete it");
}

/* VERIFY: re-hashes (id, version) from the store (daemon_store_verify_drop),
 * with a progress frame about every SYNC_VERIFY_PROGRESS_MS (verify_before)
 * so the client's per-frame deadline holds however big the copy is. Only
 * this connection waits: every connection has its own thread.
 *
 * A copy whose digest differs is damaged on this host (the digest was
 * checked when it was committed): it is deleted at once (the store deletes
 * the file it hashed, never one committed again meanwhile), so that no READ
 * serves it again and LIST no longer shows it; the mount then makes a new
 * copy (a full one: a damaged copy is no basis for an update). Deleting
 * rather than marking it bad keeps the store stateless beyond its files and
 * gives the space back. Not counted in the load figures (as HEARTBEAT): the
 * re-hash is not a request a reader waits for; its disk reads show in the
 * disk utilisation. Returns 0 or -1 (close). */
static int serve_verify(struct conn *c, const struct sync_wire_msg *m, int err)
{
	struct daemon_store *st = c->srv->cfg.store;
	struct verify_pace v = {.c = c, .req_id = m->hdr.req_id, .last_frame_ms = sync_now_ms()};
	uint8_t p[SYNC_WIRE_VERIFY_SIZE];
	char hex[33];

	int deleted = 0;
	if (!err)
		err = daemon_store_verify_drop(st, m->id, m->version, m->sha256, verify_before, &v,
					       &deleted);
	if (!err)
		used(c, m->id, m->version);
	for (int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", m->id[i]);
	if (v.broken) { /* the client gave up (an unmount, a copy with priority) */
		sfs_info("%s: re-hash of copy %s version %llu stopped after %llu bytes: the "
			 "connection is gone",
			 c->peer, hex, (unsigned long long)m->version,
			 (unsigned long long)v.hashed);
		return -1;
	}
	if (err == -EBADMSG) {
		copy_damaged(c, m->id, m->version, "failed its SHA-256 check", deleted);
	} else if (err && err != -ENOENT) {
		sfs_warn("%s: cannot verify copy %s version %llu: %s", c->peer, hex,
			 (unsigned long long)m->version, strerror(-err));
	}
	sync_wire_enc_verify_resp(p, sizeof(p), v.hashed);
	return reply(c, SYNC_WIRE_VERIFY, m->hdr.req_id, err, p, sizeof(p), NULL, 0, 0) < 0 ? -1
											    : 0;
}

/* Serves one request. Returns 0 to go on, -1 to close the connection. */
static int serve(struct conn *c, const struct sync_wire_msg *m)
{
	struct daemon_server *s = c->srv;
	uint64_t t0 = sync_now_ms() * 1000, rd = 0, wr = 0;
	uint8_t p[SYNC_WIRE_LOAD_SIZE];
	int err = 0, r;

	if (m->hdr.flags & SYNC_WIRE_F_RESPONSE) {
		protocol_error(c, "response frame sent to the server", 0);
		return -1;
	}
	if (m->hdr.type == SYNC_WIRE_HEARTBEAT)
		return serve_heartbeat(c, m);
	if ((m->hdr.type == SYNC_WIRE_VERIFY || m->hdr.type == SYNC_WIRE_VERSIONS) &&
	    s->cfg.fault && s->cfg.fault->no_verify) {
		protocol_error(c, "malformed frame", -EBADMSG); /* as before VERIFY */
		return -1;
	}
	if (m->has_data_bytes && !zeros_accepted(s)) {
		protocol_error(c, "malformed frame", -EBADMSG); /* as before thin PUTs */
		return -1;
	}
	if (m->hdr.type == SYNC_WIRE_VERIFY)
		return serve_verify(c, m, s->cfg.fault ? daemon_fault_before(s->cfg.fault) : 0);
	daemon_load_begin(s->cfg.load);
	if (s->cfg.fault)
		err = daemon_fault_before(s->cfg.fault);
	switch (m->hdr.type) {
	case SYNC_WIRE_PING:
		r = reply(c, SYNC_WIRE_PING, m->hdr.req_id, err, NULL, 0, NULL, 0, 0);
		break;
	case SYNC_WIRE_READ: {
		ssize_t n = 0;
		if (!err && s->cfg.throttle)
			daemon_throttle_read(s->cfg.throttle, m->length);
		if (!err) {
			int deleted = 0;
			n = daemon_store_read_drop(s->cfg.store, m->id, m->version, m->offset,
						   c->buf, m->length, &deleted);
			if (n == -EBADMSG) /* changed on disk: as a failed re-hash */
				copy_damaged(c, m->id, m->version,
					     "changed on disk since it was stored", deleted);
			if (n < 0)
				err = (int)n;
			else
				used(c, m->id, m->version);
		}
		rd = n > 0 ? (uint64_t)n : 0;
		if (!err) {
			__atomic_add_fetch(&s->reads, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&s->read_bytes, rd, __ATOMIC_RELAXED);
		}
		bool bulk = rd >= 65536; /* full segments for big answers */
		if (bulk)
			sync_tls_set_bulk(c->tls, true);
		r = reply(c, SYNC_WIRE_READ, m->hdr.req_id, err, NULL, 0, c->buf, (uint32_t)rd, 0);
		if (bulk)
			sync_tls_set_bulk(c->tls, false);
		break;
	}
	case SYNC_WIRE_PUT_BEGIN:
	case SYNC_WIRE_UPDATE_BEGIN:
	case SYNC_WIRE_DELTA_BEGIN:
		r = serve_upload(c, m, err, &wr);
		break;
	case SYNC_WIRE_SIGNATURE:
		r = serve_signature(c, m, err);
		break;
	case SYNC_WIRE_DELETE:
		if (!err)
			err = daemon_store_delete(s->cfg.store, m->id, m->version);
		r = reply(c, SYNC_WIRE_DELETE, m->hdr.req_id, err, NULL, 0, NULL, 0, 0);
		break;
	case SYNC_WIRE_LIST:
	case SYNC_WIRE_VERSIONS:
		r = serve_list(c, m, err);
		break;
	case SYNC_WIRE_STATS: {
		struct daemon_store_stats st;
		daemon_store_stats(s->cfg.store, &st);
		struct sync_wire_stats ws = {
		    .used = st.used_bytes,
		    .copies = st.copies,
		    .budget = st.budget_bytes,
		    .reads = __atomic_load_n(&s->reads, __ATOMIC_RELAXED),
		    .read_bytes = __atomic_load_n(&s->read_bytes, __ATOMIC_RELAXED),
		    .received_bytes = __atomic_load_n(&s->received_bytes, __ATOMIC_RELAXED),
		    .features = zeros_accepted(s) ? SYNC_WIRE_FEATURE_ZEROS | SYNC_WIRE_FEATURE_THIN
						  : 0,
		};
		int len = sync_wire_enc_stats(p, sizeof(p), &ws);
		if (!zeros_accepted(s))
			len = SYNC_WIRE_STATS_SIZE_V2; /* as a shadowd before features */
		r = reply(c, SYNC_WIRE_STATS, m->hdr.req_id, err, p, (uint32_t)len, NULL, 0, 0);
		break;
	}
	case SYNC_WIRE_LOAD: {
		struct sync_wire_load l;
		daemon_load_snapshot(s->cfg.load, &l);
		l.in_flight--; /* not counting this LOAD request itself */
		sync_wire_enc_load(p, sizeof(p), &l);
		r = reply(c, SYNC_WIRE_LOAD, m->hdr.req_id, err, p, SYNC_WIRE_LOAD_SIZE, NULL, 0,
			  0);
		break;
	}
	default: /* DATA, RANGE, ZEROS, END outside an upload */
		protocol_error(c, "frame outside an upload", 0);
		r = -1;
		break;
	}
	daemon_load_end(s->cfg.load, sync_now_ms() * 1000 - t0, rd, wr);
	return r < 0 ? -1 : 0;
}

static void release_slot(struct daemon_server *s, int slot)
{
	pthread_mutex_lock(&s->lock);
	close(s->conn_fds[slot]);
	s->conn_fds[slot] = -1;
	s->handshake_ms[slot] = 0;
	s->cut[slot] = false;
	s->peer_names[slot][0] = 0;
	s->admitted[slot] = false;
	s->idle_ms[slot] = 0;
	s->probation[slot] = false;
	if (--s->active == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_cond_broadcast(&s->freed);
	pthread_mutex_unlock(&s->lock);
}

enum admit_verdict { ADMITTED, ADMITTED_RECLAIMED, REFUSED_PEER_FULL, REFUSED_FULL };

struct admission {
	unsigned held, most;	      /* the peer's other connections; one peer's most */
	uint64_t victim_idle_ms;      /* ADMITTED_RECLAIMED: how long it idled, */
	char victim[PEER_NAME_LEN];   /* whose it was */
};

/* Called with s->lock held once slot's peer has authenticated as name.
 * A peer holding max_conns_per_peer connections already is refused: one
 * peer with a certificate took every slot (64 HEARTBEAT streams 600,000 ms
 * apart, or 64 idle connections for the 10 min idle deadline) and locked
 * every other mount out of a shadowd of the default --max-conns 64. A
 * connection on the spare slot (every other taken) stays only if another
 * peer's idle connection gives way by the rule of peer_share.h (closed
 * here: its thread ends at once); else it is refused. */
static enum admit_verdict admit(struct daemon_server *s, int slot, const char *name,
				struct admission *a)
{
	size_t k = 0;
	for (unsigned i = 0; i < s->nslots; i++)
		if ((int)i != slot && s->conn_fds[i] >= 0 && s->admitted[i])
			s->view[k++] = (struct daemon_peer_slot){s->peer_names[i], s->idle_ms[i],
								 (int)i};
	a->held = daemon_peer_share_held(s->view, k, name);
	enum admit_verdict v = ADMITTED;
	/* on the spare with every other slot still taken (one may have
	 * freed during its handshake) */
	if (s->probation[slot] && s->active > s->cfg.max_conns) {
		int victim = daemon_peer_share_reclaim(s->view, k, a->held, &a->most);
		if (victim < 0)
			return REFUSED_FULL;
		a->victim_idle_ms = sync_now_ms() - s->idle_ms[victim];
		snprintf(a->victim, sizeof(a->victim), "%s", s->peer_names[victim]);
		s->admitted[victim] = false; /* never chosen twice */
		shutdown(s->conn_fds[victim], SHUT_RDWR);
		v = ADMITTED_RECLAIMED;
	}
	s->probation[slot] = false;
	if (a->held >= s->cfg.max_conns_per_peer)
		return REFUSED_PEER_FULL; /* not after a reclaim: held < most <= the cap */
	snprintf(s->peer_names[slot], PEER_NAME_LEN, "%s", name);
	s->admitted[slot] = true;
	return v;
}

/* The log line of admit's verdict v for c (none for ADMITTED); whether
 * the connection goes on. */
static bool log_admission(struct conn *c, enum admit_verdict v, const struct admission *a)
{
	struct daemon_server *s = c->srv;
	if (v == REFUSED_PEER_FULL)
		sfs_log_limited(&s->refusals_log, SFS_LOG_WARN,
				"refused connection from %s: its certificate holds %u connections "
				"already (--max-conns-per-peer %u)",
				c->peer, a->held, s->cfg.max_conns_per_peer);
	else if (v == REFUSED_FULL)
		sfs_log_limited(&s->refusals_log, SFS_LOG_WARN,
				"refused connection from %s: too many connections (%u), its "
				"certificate holding %u, none more than %u",
				c->peer, s->cfg.max_conns, a->held, a->most);
	else if (v == ADMITTED_RECLAIMED)
		sfs_log_limited(&s->refusals_log, SFS_LOG_WARN,
				"closed a connection of %s idle for %llu ms: its slot given to %s "
				"(every one of --max-conns %u taken, %s holding %u of them, the most; "
				"the newcomer's certificate %u)",
				a->victim, (unsigned long long)a->victim_idle_ms, c->peer,
				s->cfg.max_conns, a->victim, a->most, a->held);
	return v == ADMITTED || v == ADMITTED_RECLAIMED;
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct daemon_server *s = c->srv;
	char why[256];
	int fd = dup(s->conn_fds[c->slot]);
	int r;

	if (fd < 0) {
		sfs_error("%s: dup: %s", c->peer, strerror(errno));
		goto out;
	}
	r = sync_tls_accept(s->cfg.tls, fd, sync_now_ms() + s->cfg.handshake_timeout_ms, &c->tls,
			    why, sizeof(why));
	pthread_mutex_lock(&s->lock);
	bool cut = s->cut[c->slot];
	uint64_t since = s->handshake_ms[c->slot];
	struct admission adm = {0};
	enum admit_verdict verdict = ADMITTED;
	if (r == 0) {
		s->handshake_ms[c->slot] = 0; /* authenticated: never cut */
		verdict = admit(s, c->slot, sync_tls_peer_name(c->tls), &adm);
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0 && cut) {
		sfs_log_limited(&c->srv->refusals_log, SFS_LOG_WARN,
				"dropped connection from %s: TLS handshake not done after %llu ms, "
				"its slot given to a new connection (--max-conns %u)",
				c->peer, (unsigned long long)(sync_now_ms() - since),
				s->cfg.max_conns);
		goto out;
	}
	if (r < 0) {
		sfs_log_limited(&c->srv->refusals_log, SFS_LOG_WARN, "refused connection from %s: %s",
				c->peer, why);
		goto out;
	}
	size_t l = strlen(c->peer);
	snprintf(c->peer + l, sizeof(c->peer) - l, " (%s)", sync_tls_peer_name(c->tls));
	if (!log_admission(c, verdict, &adm))
		goto out;
	sfs_debug("accepted %s", c->peer);
	c->buf = malloc(SYNC_WIRE_MAX_PAYLOAD);
	if (!c->buf)
		goto out;
	for (;;) {
		struct sync_wire_msg m;
		/* Idle between requests up to idle_timeout_ms; a frame, once
		 * begun, must come whole within the I/O deadline. Before, the
		 * idle deadline covered the whole frame: a peer that sent part
		 * of one and stopped held its thread and slot for 10 minutes. */
		set_idle(c, true);
		r = sync_tls_wait_readable(c->tls, sync_now_ms() + s->cfg.idle_timeout_ms);
		set_idle(c, false);
		if (r == 0) {
			sfs_debug("%s: idle for %u ms: closed", c->peer, s->cfg.idle_timeout_ms);
			break;
		}
		if (r > 0)
			r = sync_frame_recv(c->tls, c->buf, &m, io_deadline(c));
		if (r == -EPIPE)
			break; /* peer closed between requests: normal end */
		if (r == -ETIMEDOUT) {
			sfs_warn("closing connection from %s: a request begun and not finished "
				 "within %u ms",
				 c->peer, s->cfg.io_timeout_ms);
			break;
		}
		if (r == -ECONNABORTED) {
			sfs_warn("closing connection from %s: TLS error", c->peer);
			break;
		}
		if (r < 0) {
			if (r == -EPROTO || r == -EBADMSG || r == -EMSGSIZE)
				protocol_error(c, "malformed frame", r);
			else
				sfs_debug("%s: connection ended: %s", c->peer, strerror(-r));
			break;
		}
		if (serve(c, &m) < 0)
			break;
	}
out:
	sync_tls_close(c->tls);
	int slot = c->slot;
	free(c->buf);
	free(c);
	release_slot(s, slot); /* last: daemon_server_run may return right after */
	return NULL;
}

int daemon_server_new(const struct daemon_server_config *cfg, struct daemon_server **ret)
{
	struct daemon_server *s = calloc(1, sizeof(*s));
	struct sockaddr_storage ss;
	socklen_t sl;
	int r, one = 1;

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->refusals_log = (struct sfs_log_limit)SFS_LOG_LIMIT_INIT(10, 10000);
	s->accept_log = (struct sfs_log_limit)SFS_LOG_LIMIT_INIT(1, 60000);
	s->upload_log = (struct sfs_log_limit)SFS_LOG_LIMIT_INIT(10, 10000);
	if (!s->cfg.max_copy_size)
		s->cfg.max_copy_size = SYNC_WIRE_MAX_FILE_SIZE;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 64;
	if (!s->cfg.max_conns_per_peer)
		s->cfg.max_conns_per_peer = DAEMON_SERVER_CONNS_PER_PEER;
	if (s->cfg.max_conns_per_peer > s->cfg.max_conns)
		s->cfg.max_conns_per_peer = s->cfg.max_conns;
	if (!s->cfg.handshake_timeout_ms)
		s->cfg.handshake_timeout_ms = 5000;
	if (!s->cfg.io_timeout_ms)
		s->cfg.io_timeout_ms = 30000;
	if (!s->cfg.idle_timeout_ms)
		s->cfg.idle_timeout_ms = 600000;
	s->listen_fd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->freed, &ca);
	pthread_condattr_destroy(&ca);
	s->nslots = s->cfg.max_conns + 1;
	s->conn_fds = malloc(sizeof(int) * s->nslots);
	s->threads = calloc(s->nslots, sizeof(*s->threads));
	s->joinable = calloc(s->nslots, sizeof(*s->joinable));
	s->handshake_ms = calloc(s->nslots, sizeof(*s->handshake_ms));
	s->cut = calloc(s->nslots, sizeof(*s->cut));
	s->peer_names = calloc(s->nslots, sizeof(*s->peer_names));
	s->admitted = calloc(s->nslots, sizeof(*s->admitted));
	s->idle_ms = calloc(s->nslots, sizeof(*s->idle_ms));
	s->probation = calloc(s->nslots, sizeof(*s->probation));
	s->view = calloc(s->nslots, sizeof(*s->view));
	if (!s->conn_fds || !s->threads || !s->joinable || !s->handshake_ms || !s->cut ||
	    !s->peer_names || !s->admitted || !s->idle_ms || !s->probation || !s->view) {
		r = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < s->nslots; i++)
		s->conn_fds[i] = -1;
	if (pipe2(s->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->listen_addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(cfg->listen_port);
		sl = sizeof(*a4);
	} else if (inet_pton(AF_INET6, cfg->listen_addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(cfg->listen_port);
		sl = sizeof(*a6);
	} else {
		r = -EINVAL;
		goto fail;
	}
	s->listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0) {
		r = -errno;
		goto fail;
	}
	setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&ss, sl) < 0 || listen(s->listen_fd, 64) < 0) {
		r = -errno;
		goto fail;
	}
	sl = sizeof(ss);
	getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl);
	s->port = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
	*ret = s;
	return 0;
fail:
	daemon_server_free(s);
	return r;
}

uint16_t daemon_server_port(const struct daemon_server *s)
{
	return s->port;
}

static void peer_string(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *v = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &v->sin_addr, a, sizeof(a));
		port = ntohs(v->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &v->sin6_addr, a, sizeof(a));
		port = ntohs(v->sin6_port);
	}
	snprintf(out, len, "%s:%u", a, port);
}

/* Waits for the last thread of slot i (it has released the slot, or
 * stopping made it do so). */
static void join_slot(struct daemon_server *s, unsigned i)
{
	if (s->joinable[i])
		pthread_join(s->threads[i], NULL);
	s->joinable[i] = false;
}

/* Called with s->lock held: a free slot while fewer than max_conns are
 * taken (spare: while max_conns are, the spare slot), or -1. */
static int free_slot(struct daemon_server *s, bool spare)
{
	if (spare ? s->active != s->cfg.max_conns : s->active >= s->cfg.max_conns)
		return -1;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->conn_fds[i] < 0)
			return (int)i;
	return -1;
}

/* Called with s->lock held: a free slot, or else the spare one, marked on
 * probation (admit decides whether it stays), or -1. */
static int slot_or_spare(struct daemon_server *s)
{
	int slot = free_slot(s, false);
	if (slot < 0 && (slot = free_slot(s, true)) >= 0)
		s->probation[slot] = true;
	return slot;
}

#define CUT_WAIT_MS 1000

/* Called with s->lock held when every slot is taken: cuts the connection
 * that has been in its TLS handshake longest (shutdown: its thread ends at
 * once, logging why) and waits for a slot to free, at most CUT_WAIT_MS.
 * Returns the slot, or -1 (none in a handshake: every slot is an
 * authenticated peer's, which keeps it). Without this, peers that connect
 * and send nothing (no certificate needed) held every slot for their
 * handshake deadline each: --max-conns of them, renewed, locked every mount
 * out. Now they must open connections faster than a mount handshakes. */
static int take_handshake_slot(struct daemon_server *s)
{
	int oldest = -1;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->handshake_ms[i] && !s->cut[i] &&
		    (oldest < 0 || s->handshake_ms[i] < s->handshake_ms[oldest]))
			oldest = (int)i;
	if (oldest < 0)
		return -1;
	s->cut[oldest] = true;
	shutdown(s->conn_fds[oldest], SHUT_RDWR);
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CUT_WAIT_MS / 1000;
	int slot;
	/* the spare's connection cut: the spare frees, not another slot */
	bool spare = s->probation[oldest];
	while ((slot = spare ? slot_or_spare(s) : free_slot(s, false)) < 0 && !s->stopping &&
	       pthread_cond_timedwait(&s->freed, &s->lock, &until) == 0)
		;
	return slot;
}

#define ACCEPT_RETRY_MS 100

/* accept4 failed with err for want of file descriptors or memory (EMFILE,
 * ENFILE, ENOBUFS, ENOMEM): the peer stays in the backlog and the listening
 * socket readable, so polling it again at once spun a core, silently, until
 * a connection ended. Waits ACCEPT_RETRY_MS (less if a stop comes: the stop
 * pipe stays readable for the run loop). Logged at most once a minute: a
 * shadowd at its limit accepts and fails by turns as connections end. */
static void accept_wait(struct daemon_server *s, int err)
{
	struct rlimit rl = {0, 0};
	getrlimit(RLIMIT_NOFILE, &rl);
	sfs_log_limited(&s->accept_log, SFS_LOG_WARN,
			"cannot accept connections: %s (open files limit %llu, --max-conns %u: "
			"2 per connection and 1 per request); new ones wait until one ends",
			strerror(err), (unsigned long long)rl.rlim_cur, s->cfg.max_conns);
	struct pollfd p = {s->stop_pipe[0], POLLIN, 0};
	poll(&p, 1, ACCEPT_RETRY_MS);
}

int daemon_server_run(struct daemon_server *s)
{
	for (;;) {
		struct pollfd p[2] = {{s->listen_fd, POLLIN, 0}, {s->stop_pipe[0], POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				accept_wait(s, errno);
			continue; /* else the peer is gone (ECONNABORTED), EINTR... */
		}
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		peer_string(&ss, c->peer, sizeof(c->peer));
		pthread_mutex_lock(&s->lock);
		c->slot = free_slot(s, false);
		if (c->slot < 0)
			c->slot = take_handshake_slot(s);
		if (c->slot < 0)
			c->slot = slot_or_spare(s);
		if (c->slot >= 0) {
			s->conn_fds[c->slot] = fd;
			s->handshake_ms[c->slot] = sync_now_ms();
			s->active++;
		}
		pthread_mutex_unlock(&s->lock);
		if (c->slot < 0) {
			sfs_log_limited(&s->refusals_log, SFS_LOG_WARN,
					"refused connection from %s: too many connections (%u)",
					c->peer, s->cfg.max_conns);
			close(fd);
			free(c);
			continue;
		}
		/* c belongs to the thread once it runs: it may end, free c and
		 * release the slot before pthread_create returns (a peer that
		 * left before its handshake: the backlog of a stopped shadowd
		 * after SIGCONT). The slot is ours to mark until we reuse it. */
		int slot = c->slot;
		join_slot(s, (unsigned)slot);
		if (pthread_create(&s->threads[slot], NULL, conn_thread, c) != 0) {
			sfs_error("cannot start a connection thread for %s", c->peer);
			release_slot(s, slot);
			free(c);
			continue;
		}
		s->joinable[slot] = true;
	}
	/* Stop: end every connection and wait for the threads. */
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->conn_fds[i] >= 0)
			shutdown(s->conn_fds[i], SHUT_RDWR);
	while (s->active)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->nslots; i++)
		join_slot(s, i);
	return 0;
}

void daemon_server_stop(struct daemon_server *s)
{
	char b = 1;
	if (s && write(s->stop_pipe[1], &b, 1) < 0) {
		/* pipe full: a stop is already pending */
	}
}

void daemon_server_free(struct daemon_server *s)
{
	if (!s)
		return;
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->stop_pipe[0] >= 0)
		close(s->stop_pipe[0]);
	if (s->stop_pipe[1] >= 0)
		close(s->stop_pipe[1]);
	free(s->conn_fds);
	free(s->threads);
	free(s->joinable);
	free(s->handshake_ms);
	free(s->cut);
	free(s->peer_names);
	free(s->admitted);
	free(s->idle_ms);
	free(s->probation);
	free(s->view);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->freed);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
