/* Applying an SFDL delta stream (see rsync_delta.h) to a copy.
 *
 * The copy (basis) is only read, with pread, wherever the delta's COPY
 * commands point; the new content is written sequentially to a sink (normally
 * a temp file the caller renames over the copy on success, or discards on
 * error). The old copy is therefore intact whatever the stream holds.
 *
 * Checks, in order: header (magic, version, sizes), basis size equal to the
 * size the signature described (-ESTALE otherwise: the delta was made for
 * another version), each COPY within the basis, the trailer checksum, the
 * output length, and the content SHA-256 when the stream carries one. */
#ifndef SHADOWFS_SYNC_RSYNC_PATCH_H
#define SHADOWFS_SYNC_RSYNC_PATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/sync_io.h"

struct sync_patch_opts {
	bool want_sha256;	       /* hash the output (for the store's check) */
	struct sync_progress progress; /* bytes written / new size */
};

struct sync_patch_result {
	uint64_t basis_size; /* SYNC_DELTA_NO_BASIS for a full copy */
	uint64_t new_size;
	uint64_t stream_bytes; /* bytes read from the source */
	bool have_sha256;      /* sha256 holds the output's SHA-256 */
	uint8_t sha256[32];
};

/* basis_fd: the stale copy, or -1 when none exists (the stream must then be a
 * full copy). opts and ret may be NULL. Returns 0, or -EBADMSG (corrupt or
 * inconsistent stream), -EPROTO (stream cut short), -ESTALE (basis of the
 * wrong size), -EPROTONOSUPPORT, or the -errno of an I/O failure. */
int sync_patch_apply(int basis_fd, const struct sync_source *in, const struct sync_sink *out,
		     const struct sync_patch_opts *opts, struct sync_patch_result *ret);

#endif
