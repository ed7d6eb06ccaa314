/* TLS 1.3 transport with mutual authentication against the cluster CA.
 *
 * Both ends present a certificate signed by the CA (shadowctl ca issue) and
 * verify the peer's (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
 * TLS < 1.3 and session tickets are off. A client that connects to an IP
 * address also checks that the server's certificate names that address.
 *
 * Every operation takes an absolute deadline (sync_now_ms() + timeout): the
 * socket is non-blocking and waits are poll()s bounded by the deadline, so a
 * dead or stopped peer costs at most the deadline, never a hang.
 *
 * Thread-safety: a context is shared read-only after creation; a connection
 * belongs to one thread at a time. */
#ifndef SHADOWFS_SYNC_TLS_H
#define SHADOWFS_SYNC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sync_tls_ctx;
struct sync_tls_conn;

/* Monotonic clock in milliseconds, for deadlines. */
uint64_t sync_now_ms(void);

/* The files of an identity as `shadowctl ca issue DIR NAME` writes them:
 * DIR/NAME.crt, DIR/NAME.key and DIR/ca.crt (each buffer len bytes); name
 * NULL stands for this machine's hostname. */
void sync_tls_identity_paths(const char *dir, const char *name, char *cert, char *key, char *ca,
			     size_t len);

/* Whether name may name an identity: a host name (letters, digits, '.',
 * '-', ':' for an IPv6 address; no leading '.' or '-', no "..") that is also
 * safe as the file name DIR/NAME.crt, so never a path out of DIR.
 * `shadowctl ca issue` issues only such names, and -o tls_name= takes only
 * them. */
bool sync_tls_identity_name_valid(const char *name);

/* Loads cert/key/CA (PEM files). On failure returns -errno and writes a
 * human-readable reason into err. */
int sync_tls_ctx_new(bool server, const char *cert, const char *key, const char *ca,
		     struct sync_tls_ctx **ret, char *err, size_t errlen);
void sync_tls_ctx_free(struct sync_tls_ctx *ctx);
/* Checks that the context's own certificate is a host's (not a CA, fit for
 * TLS server and client authentication, as `shadowctl ca issue` makes them)
 * and valid under its CA (issued by it, not expired, not yet valid): a
 * mix-up of identity files (the CA's certificate as the host's, a host
 * certificate given as the CA, another cluster's CA) is then told at start
 * instead of as failed handshakes later. -EINVAL with the reason in err. */
int sync_tls_ctx_check_identity(struct sync_tls_ctx *ctx, char *err, size_t errlen);

/* Server side: takes ownership of fd (closed on failure). Refuses a peer
 * whose first byte is not a TLS handshake record (plaintext) with -EPROTO and
 * a failed handshake (no certificate, wrong CA, old TLS) with -EACCES, before
 * any protocol byte is read; why receives the reason for the log. */
int sync_tls_accept(struct sync_tls_ctx *ctx, int fd, uint64_t deadline_ms,
		    struct sync_tls_conn **ret, char *why, size_t whylen);

/* Client side: TCP connect + handshake to host:port before the deadline. */
int sync_tls_connect(struct sync_tls_ctx *ctx, const char *host, uint16_t port,
		     uint64_t deadline_ms, struct sync_tls_conn **ret, char *why, size_t whylen);

/* Read/write exactly n bytes; a write is sent before it returns. Return 0,
 * -ETIMEDOUT at the deadline, -EPIPE when the peer closed, -ECONNABORTED on
 * a TLS error (bad record, ...). After an error the connection is unusable
 * (only sync_tls_close). (-EPROTO is left to the frame decoder: it always
 * means a malformed frame.) */
int sync_tls_read(struct sync_tls_conn *c, void *buf, size_t n, uint64_t deadline_ms);
int sync_tls_write(struct sync_tls_conn *c, const void *buf, size_t n, uint64_t deadline_ms);

/* Waits until a read would make progress (TLS data buffered or the socket
 * readable): 1, or 0 when the deadline passed first, or -errno. */
int sync_tls_wait_readable(struct sync_tls_conn *c, uint64_t deadline_ms);

/* Bulk mode (TCP_CORK) while streaming many frames: the kernel sends full
 * segments instead of one per 16 KiB TLS record; turning it off flushes. */
/* Writes a then b (either may be empty) and sends them together: one frame's
 * header and data leave in as few segments as the records need. Returns as
 * sync_tls_write. */
int sync_tls_write2(struct sync_tls_conn *c, const void *a, size_t alen, const void *b, size_t blen,
		    uint64_t deadline_ms);

void sync_tls_set_bulk(struct sync_tls_conn *c, bool on);

/* Whether the peer has hung up or the socket was shut down (a stopping
 * server shuts its connections down), without waiting: lets a long piece of
 * work done for a peer that is not reading (a commit's re-hash) stop when
 * nobody is left to answer. */
bool sync_tls_peer_gone(const struct sync_tls_conn *c);

/* Subject CN of the verified peer certificate ("" if none). */
const char *sync_tls_peer_name(const struct sync_tls_conn *c);
void sync_tls_close(struct sync_tls_conn *c);

#endif
