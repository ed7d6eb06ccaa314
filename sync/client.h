/* Client of shadowd: one TLS connection, one request at a time, every call
 * bounded by a deadline.
 *
 * timeout_ms: for read, delete, list, stats, load, ping it bounds the whole
 * call; for the streaming calls (put, update, signature, delta, verify) it bounds
 * each frame sent or received, so a large copy may take longer overall but a
 * peer that stops answering fails the call within timeout_ms.
 *
 * A transport error or a timeout leaves the connection unusable: the call
 * returns -ETIMEDOUT/-EPIPE/-ECONNABORTED (TLS), or -EPROTO/-EBADMSG/
 * -EMSGSIZE (malformed or unexpected frame), and later calls -ENOTCONN; close
 * it and connect again. A request the server refused returns its status as
 * -errno (sync_wire_status_to_errno) and the connection stays usable.
 * Thread-safety: one thread at a time per client. */
#ifndef SHADOWFS_SYNC_CLIENT_H
#define SHADOWFS_SYNC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sync/tls.h"
#include "sync/wire.h"

struct sync_client;

/* Connects (TCP + TLS handshake) within timeout_ms. why gets a reason. */
int sync_client_connect(struct sync_tls_ctx *tls, const char *host, uint16_t port,
			unsigned timeout_ms, struct sync_client **ret, char *why, size_t whylen);
void sync_client_close(struct sync_client *c);
/* Whether the connection still serves calls (false after a transport error
 * or timeout): tells a request the server refused from a broken link. */
bool sync_client_connected(const struct sync_client *c);

/* Progress of uploads (put, update, delta): fn(arg, bytes sent, total)
 * after each frame; total is 0 when unknown (delta). NULL turns it off. */
void sync_client_set_progress(struct sync_client *c,
			      void (*fn)(void *arg, uint64_t done, uint64_t total), void *arg);

int sync_client_ping(struct sync_client *c, unsigned timeout_ms);
/* Reads up to len (<= SYNC_WIRE_MAX_DATA) bytes at off; returns the count. */
ssize_t sync_client_read(struct sync_client *c, const uint8_t id[16], uint64_t version,
			 uint64_t off, void *buf, size_t len, unsigned timeout_ms);
/* Full copy: streams size bytes of fd (from offset 0) as (id, version); the
 * server commits it only if its SHA-256 equals sha256. With sha256 NULL the
 * client hashes what it sends, in the same pass, and sends the digest with
 * END (use a known digest when there is one: it also catches a source that
 * changed during the copy). The holes of a sparse fd go as ZEROS frames when
 * the server announces them in STATS (asked once per connection): nothing of
 * a hole is read or sent. */
int sync_client_put(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
		    uint64_t size, const uint8_t sha256[32], unsigned timeout_ms);
/* The file bytes the last full copy on c sent: its size, less the holes
 * of a sparse file sent as ZEROS frames (to a shadowd that takes them). */
uint64_t sync_client_put_sent(const struct sync_client *c);
/* sync_client_put with sha256 NULL that also gives the digest of what it
 * read and sent (ret_sha256, valid when 0 is returned: the server checked
 * the copy against it): one read of fd for a verified copy. */
int sync_client_put_hashed(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
			   uint64_t size, uint8_t ret_sha256[32], unsigned timeout_ms);

/* After the last frame of a PUT, UPDATE or DELTA the host commits before it
 * answers END: a ranged update's commit re-hashes the whole new copy, a
 * delta's patch copies the rest of its basis, time that grows with the
 * file (20 s for a 12 GiB copy) and that one frame's timeout does not
 * bound. With alive set, the wait for that answer is renewed by timeout_ms
 * as long as alive(arg, waited_ms) says to go on (waited_ms: since END was
 * sent; the caller's verdict: the host's heartbeats still come, the wait
 * is within what a commit of that size may take), up to
 * SYNC_CLIENT_COMMIT_MAX_MS in all; -ETIMEDOUT (connection closed) when it
 * says no. NULL (the default): one timeout_ms. */
#define SYNC_CLIENT_COMMIT_MAX_MS (30u * 60 * 1000)
void sync_client_set_alive(struct sync_client *c, bool (*alive)(void *arg, uint64_t waited_ms),
			   void *arg);

struct sync_range {
	uint64_t off;
	const void *data;
	size_t len; /* any length; split into frames of SYNC_WIRE_MAX_DATA */
};
/* Ranged update: version = base copy with ranges written, truncated or
 * extended to size; committed only if its SHA-256 equals sha256. */
int sync_client_update(struct sync_client *c, const uint8_t id[16], uint64_t base, uint64_t version,
		       uint64_t size, const struct sync_range *ranges, size_t n,
		       const uint8_t sha256[32], unsigned timeout_ms);

/* librsync: signature of (id, version) streamed to sink; a delta pulled from
 * source (returns bytes, 0 at end, -errno) applied to base to make version.
 * A server built without delta ops answers -ENOTSUP. */
int sync_client_signature(struct sync_client *c, const uint8_t id[16], uint64_t version,
			  int (*sink)(void *arg, const void *buf, size_t len), void *arg,
			  unsigned timeout_ms);
int sync_client_delta(struct sync_client *c, const uint8_t id[16], uint64_t base, uint64_t version,
		      uint64_t size, const uint8_t sha256[32],
		      long (*source)(void *arg, void *buf, size_t cap), void *arg,
		      unsigned timeout_ms);

/* As sync_client_delta, for a delta computed while it streams: the content's
 * SHA-256 is not known up front; end_sha256 is read once source has returned
 * 0 (the source fills it before it ends) and sent with END. */
int sync_client_delta_stream(struct sync_client *c, const uint8_t id[16], uint64_t base,
			     uint64_t version, uint64_t size,
			     long (*source)(void *arg, void *buf, size_t cap), void *arg,
			     const uint8_t end_sha256[32], unsigned timeout_ms);

int sync_client_delete(struct sync_client *c, const uint8_t id[16], uint64_t version,
		       unsigned timeout_ms);
/* *ret malloc'ed (free it). */
int sync_client_list(struct sync_client *c, struct sync_wire_list_entry **ret, size_t *ret_n,
		     unsigned timeout_ms);
/* VERSIONS: the copies of id only (*ret malloc'ed). A shadowd that predates
 * the request closes the connection: an error with the client no longer
 * connected (sync_client_connected). */
int sync_client_versions(struct sync_client *c, const uint8_t id[16],
			 struct sync_wire_list_entry **ret, size_t *ret_n, unsigned timeout_ms);
/* VERIFY: the server re-hashes (id, version) from its disk. 0 when the
 * SHA-256 equals sha256, -EBADMSG when it differs (the server has deleted
 * the damaged copy), -ENOENT when it holds no such copy, another -errno on
 * failure. The server sends progress about every SYNC_VERIFY_PROGRESS_MS
 * (plus one chunk's read): timeout_ms bounds each frame, not the re-hash.
 * A server that predates VERIFY closes the connection (-EPIPE/-ECONNRESET
 * or the like): see wire.h on versioning. *hashed (may be NULL): bytes the
 * server hashed. stop (may be NULL; read atomically) is looked at between
 * frames: once it is set the call gives up with -ECANCELED and closes the
 * connection (the response stream is unfinished), which ends the re-hash at
 * the server's next progress frame. */
int sync_client_verify(struct sync_client *c, const uint8_t id[16], uint64_t version,
		       const uint8_t sha256[32], uint64_t *hashed, const bool *stop,
		       unsigned timeout_ms);
int sync_client_stats(struct sync_client *c, struct sync_wire_stats *ret, unsigned timeout_ms);
int sync_client_load(struct sync_client *c, struct sync_wire_load *ret, unsigned timeout_ms);

/* Heartbeats: the server pushes its load on this connection at once and
 * every interval_ms (SYNC_HEARTBEAT_MIN_MS..MAX_MS). _next waits for the next
 * one: -ETIMEDOUT when none came within timeout_ms (the host is late or dead:
 * the connection is then unusable). _stop ends the stream; the connection
 * serves other calls again. Between _start and _stop only _next and _stop may
 * be called. */
int sync_client_heartbeat_start(struct sync_client *c, unsigned interval_ms, unsigned timeout_ms);
int sync_client_heartbeat_next(struct sync_client *c, uint64_t *seq, struct sync_wire_load *ret,
			       unsigned timeout_ms);
int sync_client_heartbeat_stop(struct sync_client *c, unsigned timeout_ms);

#endif
