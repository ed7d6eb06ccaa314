/* One-call librsync update of a copy on this machine: delta generation and
 * patching run concurrently (two threads joined by a bounded in-memory pipe),
 * as the two ends do over the network.
 *
 * - sig given: the kept signature of the copy; only the delta is computed.
 * - sig NULL, basis_fd >= 0: a stale copy without a kept signature; its
 *   signature is computed first (a pass over the copy), then the delta.
 * - sig NULL, basis_fd < 0: no copy exists: a full copy.
 * out_fd receives the new content sequentially (a fresh temp file that the
 * caller renames over the copy on success and unlinks on error); basis_fd is
 * only read. The delta-side callbacks (opts->delta.progress, next_sig) run on
 * a worker thread, the patch-side ones on the calling thread. */
#ifndef SHADOWFS_SYNC_RSYNC_UPDATE_H
#define SHADOWFS_SYNC_RSYNC_UPDATE_H

#include "sync/rsync_delta.h"
#include "sync/rsync_patch.h"
#include "sync/rsync_sig.h"

struct sync_update_opts {
	struct sync_delta_opts delta; /* origin side: hash, next signature, progress */
	struct sync_patch_opts patch; /* copy side: output hash, progress */
};

struct sync_update_stats {
	struct sync_delta_stats delta;
	struct sync_patch_result patch;
};

int sync_rsync_update(struct sync_sig *sig, int new_fd, int basis_fd, int out_fd,
		      const struct sync_update_opts *opts, struct sync_update_stats *ret);

#endif
