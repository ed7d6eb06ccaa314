/* librsync deltas: from the signature of a copy and the current file, the
 * stream that turns the copy into the current file (sync_delta_write), and its
 * application to the copy (sync_patch_apply, in rsync_patch.h).
 *
 * Stream (a chunk stream, see chunk_stream.h), magic "SFDL", version 1:
 *   hdr: basis_size u64 | new_size u64 | flags u32 | 0 u32
 *        basis_size is SYNC_DELTA_NO_BASIS for a full copy (no copy exists);
 *        flags bit 0 (SYNC_DELTA_F_SHA256): a content hash record follows.
 *   records: type 1, librsync delta bytes (RS_DELTA_MAGIC stream);
 *            type 3, empty: ends a segment. The new content is cut into
 *              segments delta'd in parallel; each segment is one complete
 *              librsync delta (its COPY offsets refer to the whole basis) and
 *              their outputs are concatenated in order;
 *            type 2, 32 bytes: SHA-256 of the new content (last, if flagged).
 *
 * The delta is computed with fixed buffers by up to two librsync jobs in
 * parallel (halves of the file); a third thread can hash the content and emit
 * the signature of the new content for the next sync (so the copy never has
 * to be read back). opts->next_sig is written from that thread. */
#ifndef SHADOWFS_SYNC_RSYNC_DELTA_H
#define SHADOWFS_SYNC_RSYNC_DELTA_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/rsync_sig.h"
#include "sync/sync_io.h"

#define SYNC_DELTA_NO_BASIS UINT64_MAX
#define SYNC_DELTA_F_SHA256 1u

struct sync_delta_opts {
	bool content_sha256;			   /* add SHA-256 of the new content */
	const struct sync_sink *next_sig;	   /* if set: signature blob of the new content */
	const struct sync_sig_params *next_params; /* for next_sig; NULL = recommended */
	struct sync_progress progress;		   /* bytes of the new file read / its size */
};

struct sync_delta_stats {
	uint64_t new_size;
	uint64_t stream_bytes;	/* bytes written to out: what crosses the wire */
	uint64_t literal_bytes; /* new data carried in the delta */
	uint64_t copy_bytes;	/* bytes the copy contributes */
	uint8_t sha256[32];	/* filled when content_sha256 */
};

/* Streams the delta from sig's basis to the content of new_fd (read with
 * pread from offset 0) into out. sig NULL: full copy (no basis exists).
 * opts and ret_stats may be NULL. -ESTALE if the file's size changes during
 * the pass (the caller retries). The sig is used exclusively meanwhile. */
int sync_delta_write(struct sync_sig *sig, int new_fd, const struct sync_sink *out,
		     const struct sync_delta_opts *opts, struct sync_delta_stats *ret_stats);

#endif
