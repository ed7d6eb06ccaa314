/* What rsync_delta.c needs from a loaded signature (internal to sync/). */
#ifndef SHADOWFS_SYNC_RSYNC_SIG_INTERNAL_H
#define SHADOWFS_SYNC_RSYNC_SIG_INTERNAL_H

#include <librsync.h>

#include "sync/rsync_sig.h"

/* The indexed librsync signature; NULL or empty for an empty basis. */
rs_signature_t *sync_sig_rs(struct sync_sig *sig);

#endif
