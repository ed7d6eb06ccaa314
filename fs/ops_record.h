/* The recording layer around the operations table: see ops_record.c. */
#ifndef SHADOWFS_FS_OPS_RECORD_H
#define SHADOWFS_FS_OPS_RECORD_H

#include <fuse_lowlevel.h>

/* Wraps every op of *ops that carries demand so it is noted to the
 * session's recorder (fs_ctx.recorder, which must be set before the first
 * request). Call once, before fuse_session_new. */
void fs_ops_record(struct fuse_lowlevel_ops *ops);

#endif
