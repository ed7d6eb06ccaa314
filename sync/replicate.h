/* Origin side of replication: bring the copy of one file on one host to the
 * origin's current content, the cheapest way the host allows.
 *
 *   - the host already holds this version: nothing is sent (CURRENT); one
 *     it holds at another size than the file's is damaged (truncated there)
 *     and replaced as if absent;
 *   - it holds another version of the file (a stale copy, e.g. demoted
 *     yesterday): the librsync signature of that copy comes back, the delta
 *     is computed here while it streams, the host patches (DELTA);
 *   - no copy, a host without delta support, or a delta refused as made for
 *     another basis: full copy (FULL).
 *
 * Everything streams: the delta is computed by a second thread into a bounded
 * pipe that the upload drains, so memory stays bounded (the signature, about
 * 1/170 of the basis, plus fixed buffers) for files larger than RAM. The host
 * commits the new copy only if its SHA-256 matches the content that was read
 * here, so a file that changes during the pass is never committed under the
 * version (-ESTALE or -EBADMSG comes back: the caller retries). */
#ifndef SHADOWFS_SYNC_REPLICATE_H
#define SHADOWFS_SYNC_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/client.h"

enum sync_repl_method {
	SYNC_REPL_CURRENT,
	SYNC_REPL_DELTA,
	SYNC_REPL_FULL,
};

struct sync_repl_opts {
	/* The content's digest when known (a full copy is checked against it),
	 * else NULL: computed in the same read as the upload. */
	const uint8_t *sha256;
	bool full_only;	     /* never use a stale copy */
	bool keep_old;	     /* keep the other versions after success (default: delete) */
	/* Ask the host for its whole LIST instead of VERSIONS of the id (a
	 * shadowd that predates VERSIONS closes the connection on it). */
	bool list_all;
	unsigned timeout_ms; /* per frame; 0 = 10000 */
	/* Progress: bytes of the file read so far, and its size. */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
};

struct sync_repl_result {
	enum sync_repl_method method;
	uint64_t base_version; /* DELTA: the copy the delta was made against */
	uint64_t size;	       /* bytes of the file */
	uint64_t sent_bytes;   /* payload sent: the delta stream or the file
				* (less the holes sent as ZEROS) */
	uint64_t sig_bytes;    /* DELTA: signature bytes received */
	bool delta_refused;    /* a delta was tried and refused: then FULL */
	/* FULL, DELTA: the SHA-256 of the content read here, which the host
	 * checked its new copy against (opts.sha256 when given). CURRENT:
	 * nothing was read (have_sha256 false). */
	bool have_sha256;
	uint8_t sha256[32];
};

/* Replicates the content of fd (read from offset 0 to its current size) as
 * (id, version) on the host behind c. 0 or -errno; ret may be NULL. */
int sync_replicate(struct sync_client *c, const uint8_t id[16], uint64_t version, int fd,
		   const struct sync_repl_opts *opts, struct sync_repl_result *ret);

const char *sync_repl_method_name(enum sync_repl_method m);

#endif
