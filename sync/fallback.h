/* Read with fallback: tries the copies of a file in the caller's order
 * (connect + read, each attempt bounded by timeout_ms) and returns the first
 * answer, so a dead or stopped host costs at most timeout_ms per attempt.
 * A small helper for tests and tools; the mount's router has its own
 * connection pool and ordering and uses the same rule. */
#ifndef SHADOWFS_SYNC_FALLBACK_H
#define SHADOWFS_SYNC_FALLBACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sync/tls.h"

struct sync_endpoint {
	const char *host;
	uint16_t port;
};

/* Returns bytes read (<= len) and sets *ret_used to the index of the copy
 * that answered; -errno of the last attempt if every copy failed. */
ssize_t sync_fallback_read(struct sync_tls_ctx *tls, const struct sync_endpoint *copies, size_t n,
			   const uint8_t id[16], uint64_t version, uint64_t off, void *buf,
			   size_t len, unsigned timeout_ms, size_t *ret_used);

#endif
