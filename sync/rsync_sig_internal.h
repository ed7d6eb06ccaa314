/* What rsync_delta.c needs from a loaded signature (internal to sync/). */
#ifndef SHADOWFS_SYNC_RSYNC_SIG_INTERNAL_H
#define SHADOWFS_SYNC_RSYNC_SIG_INTERNAL_H

#include <librsync.h>

#include "sync/rsync_sig.h"

/* Number of identical indexes a loaded signature holds: one per delta worker. */
#define SYNC_SIG_INDEXES 2

/* Index i (< SYNC_SIG_INDEXES) of the librsync signature; empty for an empty
 * basis. Each delta worker uses its own index. */
rs_signature_t *sync_sig_rs(struct sync_sig *sig, int i);

#endif
