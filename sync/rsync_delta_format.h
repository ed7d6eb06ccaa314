/* Constants of the SFDL delta stream shared by rsync_delta.c and rsync_patch.c
 * (internal to sync/; the layout is documented in rsync_delta.h). */
#ifndef SHADOWFS_SYNC_RSYNC_DELTA_FORMAT_H
#define SHADOWFS_SYNC_RSYNC_DELTA_FORMAT_H

#define SYNC_DELTA_MAGIC "SFDL"
#define SYNC_DELTA_VERSION 1
#define SYNC_DELTA_HDR_LEN 24
#define SYNC_DELTA_REC_DATA 1
#define SYNC_DELTA_REC_SHA256 2
#define SYNC_DELTA_REC_SEGMENT 3

#endif
