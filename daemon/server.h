/* shadowd's server: accepts TLS connections (mutual auth, tls.h), one thread
 * per connection up to max_conns, and serves the requests of wire.h against
 * a host store. A connection that finds every slot taken cuts the one longest
 * in its TLS handshake, if any (peers without a certificate cannot hold the
 * slots); else it goes through its handshake on a spare slot and stays only
 * if an idle connection of the peer holding the most gives way
 * (peer_share.h: shares only even out). Once authenticated, a connection
 * whose certificate (its CN) holds max_conns_per_peer connections already
 * is closed (one peer cannot hold every slot). All are logged, within a
 * budget of lines.
 *
 * librsync requests (SIGNATURE, DELTA_BEGIN) go through struct
 * daemon_delta_ops so the delta library plugs in without touching the
 * server; with no ops they answer SYNC_WS_NOTSUP (after draining the
 * request's frames, so the connection stays usable).
 *
 * Lifecycle: new -> run (blocks in the accept loop) -> stop (from a signal
 * handler or another thread; async-signal-safe) -> run returns after every
 * connection thread has ended -> free. */
#ifndef SHADOWFS_DAEMON_SERVER_H
#define SHADOWFS_DAEMON_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/copy_expiry.h"
#include "daemon/fault_inject.h"
#include "daemon/host_store.h"
#include "daemon/load.h"
#include "daemon/throttle.h"
#include "sync/tls.h"

/* Delta-library hooks; shadowd passes daemon_delta_ops_librsync() (delta_ops.h). */
struct daemon_delta_ops {
	void *ctx;
	/* Writes the librsync signature of basis_fd through emit (each call one
	 * chunk of at most SYNC_WIRE_MAX_DATA bytes). Returns 0 or -errno. */
	int (*signature)(void *ctx, int basis_fd,
			 int (*emit)(void *arg, const void *buf, size_t len), void *emit_arg);
	/* Applies a delta against basis_fd: pull() returns up to cap delta bytes
	 * (0 at end of the delta, -errno on error); the result goes through out()
	 * in order. Returns 0 or -errno. */
	int (*patch)(void *ctx, int basis_fd, long (*pull)(void *arg, void *buf, size_t cap),
		     void *pull_arg, int (*out)(void *arg, const void *buf, size_t len),
		     void *out_arg);
};

/* The default bound of one peer's connections: a mount holds up to 6 to a
 * shadowd (4 pooled for reads, fs/remote_reads.h; its heartbeat stream,
 * fs/hosts.c; one for copies, fs/remote_copies.c), and the mounts of one
 * machine share its certificate (tls_name= defaults to the hostname): two
 * mounts and a few shadowctl connections. */
#define DAEMON_SERVER_CONNS_PER_PEER 16

struct daemon_server_config {
	struct daemon_store *store;	      /* borrowed */
	struct sync_tls_ctx *tls;	      /* borrowed, server context */
	const char *listen_addr;	      /* numeric IPv4/IPv6 address */
	uint16_t listen_port;		      /* 0 = ephemeral (see daemon_server_port) */
	unsigned max_conns;		      /* 0 = 64 */
	/* Connections of one certificate (CN) at once; 0 =
	 * DAEMON_SERVER_CONNS_PER_PEER; at most max_conns. */
	unsigned max_conns_per_peer;
	unsigned handshake_timeout_ms;	      /* 0 = 5000 */
	unsigned io_timeout_ms;		      /* inside a request; 0 = 30000 */
	unsigned idle_timeout_ms;	      /* between requests; 0 = 600000 */
	struct daemon_throttle *throttle;     /* borrowed, may be NULL */
	struct daemon_fault *fault;	      /* borrowed, may be NULL (test-only) */
	struct daemon_load *load;	      /* borrowed */
	const struct daemon_delta_ops *delta; /* borrowed, may be NULL */
	struct daemon_copy_expiry *expiry;    /* borrowed, may be NULL: told of
						 every use of a copy */
	/* Largest copy an upload may declare (its size, holes included),
	 * refused with NOSPC above: its commit's re-hash, or a delta's output,
	 * is that size whatever the peer sent. 0 = SYNC_WIRE_MAX_FILE_SIZE. */
	uint64_t max_copy_size;
};

struct daemon_server;

/* Binds and listens. Returns 0 or -errno. */
int daemon_server_new(const struct daemon_server_config *cfg, struct daemon_server **ret);
uint16_t daemon_server_port(const struct daemon_server *s);
int daemon_server_run(struct daemon_server *s);
void daemon_server_stop(struct daemon_server *s);
void daemon_server_free(struct daemon_server *s);

#endif
