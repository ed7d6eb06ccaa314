/* TESTS ONLY: -o fault_origin_delay_file=PATH, a slow origin on demand.
 * An ops layer around the passthrough's READ (inside the shadowing layer,
 * so the router times the delay as the origin's: copies are read by the
 * router itself and are not delayed) that sleeps the number of
 * microseconds written in PATH before each read. The file is read again
 * at most every 100 ms, by the read that finds the last look too old, so
 * a test changes the delay while the mount runs (echo 8000 >PATH) without
 * a control channel; absent, empty or not a number: no delay.
 * Installed only when the option is given: a mount without it pays
 * nothing. -o fault_copy_delay_us is its counterpart for copies
 * (fs/router.c). */
#ifndef SHADOWFS_FS_FAULT_ORIGIN_H
#define SHADOWFS_FS_FAULT_ORIGIN_H

#include <fuse_lowlevel.h>

/* Wraps ops->read; path is kept (it must outlive the session). */
void fs_ops_fault_origin(struct fuse_lowlevel_ops *ops, const char *path);

#endif
