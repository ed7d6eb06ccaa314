/* shadowd client: see client.h. Each call sends its request frame(s) and
 * waits for the response with the same request id; any frame that does not
 * belong to the call is a protocol error that poisons the connection. */
#include "sync/client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/digest.h"
#include "sync/frame.h"
#include "sync/sync_io.h"

struct sync_client {
	struct sync_tls_conn *tls; /* NULL once poisoned */
	uint64_t next_id;
	uint8_t *buf; /* SYNC_WIRE_MAX_PAYLOAD */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
	uint64_t heartbeat_id; /* request id of the heartbeat stream, 0 = none */
	uint64_t features;     /* SYNC_WIRE_FEATURE_* of the server, */
	bool features_known;   /* ... once a STATS answered */
	uint64_t put_sent;     /* data bytes the last full copy sent */
	bool (*alive)(void *arg, uint64_t waited_ms); /* sync_client_set_alive, or NULL */
	void *alive_arg;
};

void sync_client_set_alive(struct sync_client *c, bool (*alive)(void *arg, uint64_t waited_ms),
			   void *arg)
{
	c->alive = alive;
	c->alive_arg = arg;
}

void sync_client_set_progress(struct sync_client *c,
			      void (*fn)(void *arg, uint64_t done, uint64_t total), void *arg)
{
	c->progress = fn;
	c->progress_arg = arg;
}

static void progress(struct sync_client *c, uint64_t done, uint64_t total)
{
	if (c->progress)
		c->progress(c->progress_arg, done, total);
}

int sync_client_connect(struct sync_tls_ctx *tls, const char *host, uint16_t port,
			unsigned timeout_ms, struct sync_client **ret, char *why, size_t whylen)
{
	struct sync_client *c = calloc(1, sizeof(*c));
	int r;
	if (!c)
		return -ENOMEM;
	c->buf = malloc(SYNC_WIRE_MAX_PAYLOAD);
	if (!c->buf) {
		free(c);
		return -ENOMEM;
	}
	c->next_id = 1;
	r = sync_tls_connect(tls, host, port, sync_now_ms() + timeout_ms, &c->tls, why, whylen);
	if (r < 0) {
		sync_client_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

void sync_client_close(struct sync_client *c)
{
	if (!c)
		return;
	sync_tls_close(c->tls);
	free(c->buf);
	free(c);
}

bool sync_client_connected(const struct sync_client *c)
{
	return c && c->tls;
}

static int poison(struct sync_client *c, int r)
{
	sync_tls_close(c->tls);
	c->tls = NULL;
	return r;
}

static int send_req(struct sync_client *c, uint8_t type, uint64_t id, const void *p, uint32_t plen,
		    const void *d, uint32_t dlen, uint64_t deadline)
{
	int r = sync_frame_send(c->tls, type, 0, id, 0, p, plen, d, dlen, deadline);
	return r < 0 ? poison(c, r) : 0;
}

/* Receives the response frame of request id; transport/protocol errors
 * poison. Returns 0 (frame in *m, status not yet looked at). */
static int recv_resp(struct sync_client *c, uint64_t id, struct sync_wire_msg *m, uint64_t deadline)
{
	int r = sync_frame_recv(c->tls, c->buf, m, deadline);
	if (r < 0)
		return poison(c, r);
	if (!(m->hdr.flags & SYNC_WIRE_F_RESPONSE) || m->hdr.req_id != id)
		return poison(c, -EPROTO);
	return 0;
}

/* Simple request -> one response of the same type; returns status errno. */
static int call(struct sync_client *c, uint8_t type, const void *p, uint32_t plen,
		struct sync_wire_msg *m, unsigned timeout_ms)
{
	uint64_t deadline = sync_now_ms() + timeout_ms, id;
	int r;
	if (!c->tls)
		return -ENOTCONN;
	id = c->next_id++;
	r = send_req(c, type, id, p, plen, NULL, 0, deadline);
	if (r < 0)
		return r;
	r = recv_resp(c, id, m, deadline);
	if (r < 0)
		return r;
	if (m->hdr.type != type)
		return poison(c, -EPROTO);
	return sync_wire_status_to_errno(m->hdr.status);
}

int sync_client_ping(struct sync_client *c, unsigned timeout_ms)
{
	struct sync_wire_msg m;
	return call(c, SYNC_WIRE_PING, NULL, 0, &m, timeout_ms);
}

ssize_t sync_client_read(struct sync_client *c, const uint8_t id[16], uint64_t version,
			 uint64_t off, void *buf, size_t len, unsigned timeout_ms)
{
	uint8_t p[36];
	struct sync_wire_msg m;
	if (len > SYNC_WIRE_MAX_DATA)
		return -EINVAL;
	sync_wire_enc_read(p, sizeof(p), id, version, off, (uint32_t)len);
	int r = call(c, SYNC_WIRE_READ, p, sizeof(p), &m, timeout_ms);
	if (r < 0)
		return r;
	if (m.data_len > len)
		return poison(c, -EPROTO);
	memcpy(buf, m.data, m.data_len);
	return (ssize_t)m.data_len;
}

/* Sends END (with a digest if sha256) and waits for its response. */
static int upload_end(struct sync_client *c, uint64_t id, const uint8_t *sha256,
		      unsigned timeout_ms)
{
	struct sync_wire_msg m;
	uint64_t start = sync_now_ms();
	int r = send_req(c, SYNC_WIRE_END, id, sha256, sha256 ? 32 : 0, NULL, 0,
			 start + timeout_ms);
	if (r < 0)
		return r;
	/* The host commits meanwhile: waited for while it is alive. */
	for (uint64_t until = sync_now_ms() + timeout_ms;;) {
		int w = sync_tls_wait_readable(c->tls, until);
		if (w < 0)
			return poison(c, w);
		if (w > 0)
			break;
		uint64_t waited = sync_now_ms() - start;
		if (!c->alive || !c->alive(c->alive_arg, waited) ||
		    waited >= SYNC_CLIENT_COMMIT_MAX_MS)
			return poison(c, -ETIMEDOUT);
		until = sync_now_ms() + timeout_ms;
	}
	r = recv_resp(c, id, &m, sync_now_ms() + timeout_ms);
	if (r < 0)
		return r;
	if (m.hdr.type != SYNC_WIRE_END)
		return poison(c, -EPROTO);
	return sync_wire_status_to_errno(m.hdr.status);
}

/* The SYNC_WIRE_FEATURE_* the server takes: its STATS says (asked once
 * per connection, before the first PUT, unless a STATS call already told). */
static uint64_t features(struct sync_client *c, unsigned timeout_ms)
{
	struct sync_wire_stats st;
	if (!c->features_known)
		sync_client_stats(c, &st, timeout_ms);
	return c->features;
}

/* PUT: with sha256 NULL the digest is computed as the data is read and
 * sent with END (and copied to ret_sha256 when not NULL). A server that
 * takes them gets the holes of a sparse source as ZEROS frames: nothing
 * of a hole is read or crosses the wire; and one that takes thin PUTs is
 * told the source's data bytes, the budget it needs (not the size). */
static int put(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd, uint64_t size,
	       const uint8_t sha256[32], uint8_t *ret_sha256, unsigned timeout_ms)
{
	static const uint8_t zero[32];
	struct sync_sha256 *running = NULL;
	uint8_t p[SYNC_WIRE_PUT_THIN_SIZE], digest[32];
	uint64_t rid, off = 0;
	uint8_t *chunk;
	int r;
	if (!c->tls)
		return -ENOTCONN;
	if (!sha256 && (r = sync_sha256_new(&running)) < 0)
		return r;
	chunk = malloc(SYNC_WIRE_MAX_DATA);
	if (!chunk) {
		sync_sha256_free(running);
		return -ENOMEM;
	}
	uint64_t feat = features(c, timeout_ms);
	bool zeros = feat & SYNC_WIRE_FEATURE_ZEROS;
	struct stat st;
	bool thin = zeros && (feat & SYNC_WIRE_FEATURE_THIN) && fstat(fd, &st) == 0;
	c->put_sent = 0;
	if (!c->tls) {
		free(chunk);
		sync_sha256_free(running);
		return -ENOTCONN; /* the STATS call broke the connection */
	}
	rid = c->next_id++;
	uint64_t data = thin ? sync_stat_data_bytes(&st) : size;
	int plen = thin ? sync_wire_enc_put_thin(p, sizeof(p), id, version, size,
						 data < size ? data : size, sha256 ? sha256 : zero)
			: sync_wire_enc_put(p, sizeof(p), id, version, size, sha256 ? sha256 : zero);
	sync_tls_set_bulk(c->tls, true);
	r = send_req(c, SYNC_WIRE_PUT_BEGIN, rid, p, (uint32_t)plen, NULL, 0,
		     sync_now_ms() + timeout_ms);
	while (r == 0 && off < size) {
		/* The run at off, looked up again at each frame: a source cut
		 * under the upload (fs/remote_copies.c replaces its fd by
		 * /dev/null to stop it) then reads as data and fails. */
		uint64_t run_end = size;
		bool hole = false;
		int e = zeros ? sync_extent_at(fd, off, size, &run_end, &hole) : 0;
		if (e < 0) {
			r = poison(c, e); /* the source shrank or failed */
			break;
		}
		if (hole) {
			/* Sent before it is hashed here: the server hashes its
			 * zeros meanwhile (2 GiB: 1.5 s on each side). */
			uint8_t z[8];
			uint64_t n = run_end - off < SYNC_WIRE_MAX_ZEROS ? run_end - off
									 : SYNC_WIRE_MAX_ZEROS;
			sync_wire_enc_zeros(z, sizeof(z), n);
			r = send_req(c, SYNC_WIRE_ZEROS, rid, z, sizeof(z), NULL, 0,
				     sync_now_ms() + timeout_ms);
			if (r == 0 && running && (r = sync_sha256_zeros(running, n)) < 0) {
				r = poison(c, r);
				break;
			}
			off += n;
			progress(c, off, size);
			continue;
		}
		uint64_t left = run_end - off;
		size_t want = left < SYNC_WIRE_MAX_DATA ? (size_t)left : SYNC_WIRE_MAX_DATA;
		ssize_t n = pread(fd, chunk, want, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Source failed or shrank: the connection cannot carry a
			 * half upload any further. */
			r = poison(c, n < 0 ? -errno : -EIO);
			break;
		}
		if (running)
			sync_sha256_update(running, chunk, (size_t)n);
		r = send_req(c, SYNC_WIRE_DATA, rid, NULL, 0, chunk, (uint32_t)n,
			     sync_now_ms() + timeout_ms);
		off += (uint64_t)n;
		c->put_sent += (uint64_t)n;
		progress(c, off, size);
	}
	free(chunk);
	if (r == 0 && running && (r = sync_sha256_final(running, digest)) < 0)
		r = poison(c, r);
	sync_sha256_free(running);
	if (c->tls)
		sync_tls_set_bulk(c->tls, false);
	if (r == 0)
		r = upload_end(c, rid, sha256 ? NULL : digest, timeout_ms);
	if (r == 0 && ret_sha256 && !sha256)
		memcpy(ret_sha256, digest, sizeof(digest));
	return r;
}

int sync_client_put(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
		    uint64_t size, const uint8_t sha256[32], unsigned timeout_ms)
{
	return put(c, id, version, fd, size, sha256, NULL, timeout_ms);
}

uint64_t sync_client_put_sent(const struct sync_client *c)
{
	return c->put_sent;
}

int sync_client_put_hashed(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
			   uint64_t size, uint8_t ret_sha256[32], unsigned timeout_ms)
{
	return put(c, id, version, fd, size, NULL, ret_sha256, timeout_ms);
}

int sync_client_update(struct sync_client *c, const uint8_t id[16], uint64_t base, uint64_t version,
		       uint64_t size, const struct sync_range *ranges, size_t n,
		       const uint8_t sha256[32], unsigned timeout_ms)
{
	uint8_t p[72];
	uint64_t rid;
	int r;
	if (!c->tls)
		return -ENOTCONN;
	rid = c->next_id++;
	sync_wire_enc_update(p, sizeof(p), id, base, version, size, sha256);
	r = send_req(c, SYNC_WIRE_UPDATE_BEGIN, rid, p, sizeof(p), NULL, 0,
		     sync_now_ms() + timeout_ms);
	uint64_t total = 0, sent = 0;
	for (size_t i = 0; i < n; i++)
		total += ranges[i].len;
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t done = 0;
		do {
			size_t k = ranges[i].len - done;
			if (k > SYNC_WIRE_MAX_DATA)
				k = SYNC_WIRE_MAX_DATA;
			uint8_t off[8];
			sync_wire_enc_range_off(off, ranges[i].off + done);
			r = send_req(c, SYNC_WIRE_RANGE, rid, off, 8,
				     (const uint8_t *)ranges[i].data + done, (uint32_t)k,
				     sync_now_ms() + timeout_ms);
			done += k;
			sent += k;
			progress(c, sent, total);
		} while (r == 0 && done < ranges[i].len);
	}
	return r < 0 ? r : upload_end(c, rid, NULL, timeout_ms);
}

int sync_client_signature(struct sync_client *c, const uint8_t id[16], uint64_t version,
			  int (*sink)(void *arg, const void *buf, size_t len), void *arg,
			  unsigned timeout_ms)
{
	uint8_t p[24];
	struct sync_wire_msg m;
	uint64_t rid;
	int r, sink_err = 0;
	if (!c->tls)
		return -ENOTCONN;
	rid = c->next_id++;
	sync_wire_enc_id_ver(p, sizeof(p), id, version);
	r = send_req(c, SYNC_WIRE_SIGNATURE, rid, p, sizeof(p), NULL, 0,
		     sync_now_ms() + timeout_ms);
	while (r == 0) {
		r = recv_resp(c, rid, &m, sync_now_ms() + timeout_ms);
		if (r < 0)
			return r;
		if (m.hdr.type == SYNC_WIRE_END)
			return sink_err ? sink_err : sync_wire_status_to_errno(m.hdr.status);
		if (m.hdr.type != SYNC_WIRE_DATA)
			return poison(c, -EPROTO);
		if (!sink_err)
			sink_err = sink(arg, m.data, m.data_len);
	}
	return r;
}

/* DELTA upload: begin_sha in DELTA_BEGIN (zeros: none), end_sha with END
 * (read once the source ended; NULL: none). */
static int delta_upload(struct sync_client *c, const uint8_t id[16], uint64_t base,
			uint64_t version, uint64_t size, const uint8_t begin_sha[32],
			long (*source)(void *arg, void *buf, size_t cap), void *arg,
			const uint8_t *end_sha, unsigned timeout_ms)
{
	uint8_t p[72];
	uint64_t rid, sent = 0;
	uint8_t *chunk;
	int r;
	if (!c->tls)
		return -ENOTCONN;
	chunk = malloc(SYNC_WIRE_MAX_DATA);
	if (!chunk)
		return -ENOMEM;
	rid = c->next_id++;
	sync_wire_enc_update(p, sizeof(p), id, base, version, size, begin_sha);
	r = send_req(c, SYNC_WIRE_DELTA_BEGIN, rid, p, sizeof(p), NULL, 0,
		     sync_now_ms() + timeout_ms);
	while (r == 0) {
		long n = source(arg, chunk, SYNC_WIRE_MAX_DATA);
		if (n < 0) {
			r = poison(c, (int)n);
			break;
		}
		if (n == 0)
			break;
		r = send_req(c, SYNC_WIRE_DATA, rid, NULL, 0, chunk, (uint32_t)n,
			     sync_now_ms() + timeout_ms);
		sent += (uint64_t)n;
		progress(c, sent, 0);
	}
	free(chunk);
	return r < 0 ? r : upload_end(c, rid, end_sha, timeout_ms);
}

int sync_client_delta(struct sync_client *c, const uint8_t id[16], uint64_t base, uint64_t version,
		      uint64_t size, const uint8_t sha256[32],
		      long (*source)(void *arg, void *buf, size_t cap), void *arg,
		      unsigned timeout_ms)
{
	return delta_upload(c, id, base, version, size, sha256, source, arg, NULL, timeout_ms);
}

int sync_client_delta_stream(struct sync_client *c, const uint8_t id[16], uint64_t base,
			     uint64_t version, uint64_t size,
			     long (*source)(void *arg, void *buf, size_t cap), void *arg,
			     const uint8_t end_sha256[32], unsigned timeout_ms)
{
	static const uint8_t zero[32];
	return delta_upload(c, id, base, version, size, zero, source, arg, end_sha256,
			    timeout_ms);
}

int sync_client_delete(struct sync_client *c, const uint8_t id[16], uint64_t version,
		       unsigned timeout_ms)
{
	uint8_t p[24];
	struct sync_wire_msg m;
	sync_wire_enc_id_ver(p, sizeof(p), id, version);
	return call(c, SYNC_WIRE_DELETE, p, sizeof(p), &m, timeout_ms);
}

/* LIST (id NULL) or VERSIONS of id: the entries, in as many frames. */
static int list_entries(struct sync_client *c, const uint8_t *id,
			struct sync_wire_list_entry **ret, size_t *ret_n, unsigned timeout_ms)
{
	uint64_t deadline = sync_now_ms() + timeout_ms, rid;
	struct sync_wire_list_entry *v = NULL;
	struct sync_wire_msg m;
	size_t n = 0;
	int r, type = id ? SYNC_WIRE_VERSIONS : SYNC_WIRE_LIST;
	if (!c->tls)
		return -ENOTCONN;
	rid = c->next_id++;
	r = send_req(c, type, rid, id, id ? 16 : 0, NULL, 0, deadline);
	for (bool more = true; r == 0 && more;) {
		r = recv_resp(c, rid, &m, deadline);
		if (r < 0)
			break;
		if (m.hdr.type != type) {
			r = poison(c, -EPROTO);
			break;
		}
		r = sync_wire_status_to_errno(m.hdr.status);
		if (r < 0)
			break;
		more = m.hdr.flags & SYNC_WIRE_F_MORE;
		if (m.count) {
			void *nv = realloc(v, (n + m.count) * sizeof(*v));
			if (!nv) {
				r = poison(c, -ENOMEM);
				break;
			}
			v = nv;
			for (uint32_t i = 0; i < m.count; i++)
				sync_wire_dec_list_entry(
				    m.data + (size_t)i * SYNC_WIRE_LIST_ENTRY_SIZE, &v[n + i]);
			n += m.count;
		}
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int sync_client_list(struct sync_client *c, struct sync_wire_list_entry **ret, size_t *ret_n,
		     unsigned timeout_ms)
{
	return list_entries(c, NULL, ret, ret_n, timeout_ms);
}

int sync_client_versions(struct sync_client *c, const uint8_t id[16],
			 struct sync_wire_list_entry **ret, size_t *ret_n, unsigned timeout_ms)
{
	return list_entries(c, id, ret, ret_n, timeout_ms);
}

int sync_client_verify(struct sync_client *c, const uint8_t id[16], uint64_t version,
		       const uint8_t sha256[32], uint64_t *hashed, const bool *stop,
		       unsigned timeout_ms)
{
	uint8_t p[SYNC_WIRE_VERIFY_REQ_SIZE];
	struct sync_wire_msg m;
	uint64_t rid;
	int r;
	if (!c->tls)
		return -ENOTCONN;
	rid = c->next_id++;
	sync_wire_enc_verify(p, sizeof(p), id, version, sha256);
	r = send_req(c, SYNC_WIRE_VERIFY, rid, p, sizeof(p), NULL, 0, sync_now_ms() + timeout_ms);
	for (bool more = true; r == 0 && more;) {
		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
			return poison(c, -ECANCELED);
		r = recv_resp(c, rid, &m, sync_now_ms() + timeout_ms);
		if (r < 0)
			return r;
		if (m.hdr.type != SYNC_WIRE_VERIFY)
			return poison(c, -EPROTO);
		more = m.hdr.flags & SYNC_WIRE_F_MORE; /* progress: the next frame is due */
		r = sync_wire_status_to_errno(m.hdr.status);
		if (r == 0 && hashed)
			*hashed = m.size;
	}
	return r;
}

int sync_client_stats(struct sync_client *c, struct sync_wire_stats *ret, unsigned timeout_ms)
{
	struct sync_wire_msg m;
	int r = call(c, SYNC_WIRE_STATS, NULL, 0, &m, timeout_ms);
	if (r < 0)
		return r;
	*ret = m.stats;
	c->features = m.stats.features;
	c->features_known = true;
	return 0;
}

int sync_client_load(struct sync_client *c, struct sync_wire_load *ret, unsigned timeout_ms)
{
	struct sync_wire_msg m;
	int r = call(c, SYNC_WIRE_LOAD, NULL, 0, &m, timeout_ms);
	if (r < 0)
		return r;
	*ret = m.load;
	return 0;
}

int sync_client_heartbeat_start(struct sync_client *c, unsigned interval_ms, unsigned timeout_ms)
{
	uint8_t p[4];
	if (!c->tls)
		return -ENOTCONN;
	if (c->heartbeat_id)
		return -EBUSY;
	sync_wire_enc_heartbeat_req(p, sizeof(p), interval_ms);
	c->heartbeat_id = c->next_id++;
	int r = send_req(c, SYNC_WIRE_HEARTBEAT, c->heartbeat_id, p, sizeof(p), NULL, 0,
			 sync_now_ms() + timeout_ms);
	if (r < 0)
		c->heartbeat_id = 0;
	return r;
}

/* One frame of the heartbeat stream; *more tells whether others follow. */
static int heartbeat_recv(struct sync_client *c, uint64_t *seq, struct sync_wire_load *ret,
			  bool *more, uint64_t deadline)
{
	struct sync_wire_msg m;
	int r = recv_resp(c, c->heartbeat_id, &m, deadline);
	if (r < 0)
		return r;
	if (m.hdr.type != SYNC_WIRE_HEARTBEAT)
		return poison(c, -EPROTO);
	*more = m.hdr.flags & SYNC_WIRE_F_MORE;
	r = sync_wire_status_to_errno(m.hdr.status);
	if (r < 0)
		return r;
	if (seq)
		*seq = m.seq;
	if (ret)
		*ret = m.load;
	return 0;
}

int sync_client_heartbeat_next(struct sync_client *c, uint64_t *seq, struct sync_wire_load *ret,
			       unsigned timeout_ms)
{
	bool more = false;
	if (!c->tls)
		return -ENOTCONN;
	if (!c->heartbeat_id)
		return -EINVAL;
	int r = heartbeat_recv(c, seq, ret, &more, sync_now_ms() + timeout_ms);
	if (r < 0 || !more)
		c->heartbeat_id = 0; /* refused (e.g. bad interval) or ended */
	if (r == 0 && !more)
		return -EPIPE;
	return r;
}

int sync_client_heartbeat_stop(struct sync_client *c, unsigned timeout_ms)
{
	uint64_t deadline = sync_now_ms() + timeout_ms;
	bool more = true;
	if (!c->tls)
		return -ENOTCONN;
	if (!c->heartbeat_id)
		return 0;
	int r = send_req(c, SYNC_WIRE_END, c->heartbeat_id, NULL, 0, NULL, 0, deadline);
	while (r == 0 && more) /* heartbeats already on their way, then the last */
		r = heartbeat_recv(c, NULL, NULL, &more, deadline);
	c->heartbeat_id = 0;
	return r;
}
