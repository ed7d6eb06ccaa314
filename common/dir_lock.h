/* One process per directory: an exclusive flock(2) on an fd of it, held
 * until that fd (and every dup of it, a fork's included) is closed. Used
 * for a mount's state directory (predictor/store_locate.c) and for a host
 * store (daemon/host_store.c), where a second user would corrupt the
 * first's files. A holder that is exiting (a remount right after an
 * unmount, a restarted shadowd) is waited for. */
#ifndef SHADOWFS_COMMON_DIR_LOCK_H
#define SHADOWFS_COMMON_DIR_LOCK_H

#include <stdint.h>

/* Takes the lock on dir_fd, trying every 50 ms for up to wait_ms:
 * 0, -EBUSY (still held by another open file description), or -errno. */
int sfs_dir_lock(int dir_fd, uint64_t wait_ms);

#endif
