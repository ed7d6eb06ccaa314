/* Ranged deltas: the new size plus the bytes of the dirty ranges (see
 * dirty_ranges.h), read from the current file, shipped without any rolling
 * checksum. Applied to the copy of the base version they give the new version
 * exactly.
 *
 * Stream (a chunk stream, see chunk_stream.h), magic "SFRD", version 1:
 *   hdr: base_size u64 | new_size u64 | 0 u64
 *   records: type 1 DATA: off u64 | bytes        (len = record len - 8)
 *            type 2 ZERO: off u64 | len u64      (a run of zero bytes)
 *   Records are in increasing offset order, disjoint, inside [0, new_size).
 *
 * Applying (copy mode, out_fd != basis_fd): the copy's bytes are cloned into
 * out_fd (copy_file_range), resized to new_size, and the records written over
 * them; out_fd is a temp file the caller renames on success, unlinks on error.
 * In-place mode (out_fd == basis_fd): the whole stream is first validated while
 * being spooled to spool_fd (a caller-provided empty temp file), and only then
 * applied to the copy. Nothing touches the copy unless the stream is intact
 * (bounds, order, checksum); the in-place write itself is not crash-atomic, so
 * the caller marks the copy invalid before applying and valid after its
 * SHA-256 check. */
#ifndef SHADOWFS_SYNC_RANGE_DELTA_H
#define SHADOWFS_SYNC_RANGE_DELTA_H

#include <stddef.h>
#include <stdint.h>

#include "sync/dirty_ranges.h"
#include "sync/sync_io.h"

struct sync_range_stats {
	uint64_t new_size;
	uint64_t stream_bytes; /* bytes emitted/consumed: what crosses the wire */
	uint64_t data_bytes;   /* bytes carried as DATA */
	uint64_t zero_bytes;   /* bytes described as ZERO runs */
};

/* Encodes the ranges of d (which must be known) from new_fd into out.
 * -ESTALE if new_fd's size is not d's current size (the file changed behind
 * the mount's back: use librsync). -EINVAL if d is unknown. */
int sync_range_delta_write(int new_fd, const struct sync_dirty *d, const struct sync_sink *out,
			   const struct sync_progress *progress, struct sync_range_stats *ret);

/* Same from an explicit list (sorted, disjoint, inside [0, new_size)). */
int sync_range_delta_write_ranges(int new_fd, uint64_t base_size, uint64_t new_size,
				  const struct sync_range *ranges, size_t n,
				  const struct sync_sink *out, const struct sync_progress *progress,
				  struct sync_range_stats *ret);

/* Applies a stream to basis_fd (its size must be the stream's base size, else
 * -ESTALE). Copy mode when out_fd != basis_fd (spool_fd unused, may be -1);
 * in-place mode when out_fd == basis_fd (spool_fd required). Returns 0, or
 * -EBADMSG (corrupt, out of bounds, out of order), -EPROTO (cut short),
 * -EPROTONOSUPPORT, -ESTALE, or an I/O -errno. ret may be NULL. */
int sync_range_delta_apply(const struct sync_source *in, int basis_fd, int out_fd, int spool_fd,
			   struct sync_range_stats *ret);

#endif
