/* The librsync delta operations shadowd serves (SIGNATURE, DELTA_BEGIN):
 * daemon_delta_ops (server.h) implemented with sync/rsync_sig.h and
 * sync/rsync_patch.h. The table is static and stateless (ctx NULL), shared by
 * every connection thread. */
#ifndef SHADOWFS_DAEMON_DELTA_OPS_H
#define SHADOWFS_DAEMON_DELTA_OPS_H

#include "daemon/server.h"

const struct daemon_delta_ops *daemon_delta_ops_librsync(void);

#endif
