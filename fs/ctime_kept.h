/* The ctime the kernel keeps for a file with the writeback cache, kept
 * here too so that the kernel is given it again after it forgot the inode.
 *
 * With the writeback cache the kernel stamps a regular file's ctime itself
 * on a setattr (chmod, chown, utimensat, truncate; and when it flushes the
 * times of cached writes), from its clock before the request reaches us,
 * and keeps that value while it holds the inode (FUSE_SET_ATTR_CTIME tells
 * us which). BACKING's ctime, moved when the setattr is applied, is later.
 * Once the kernel forgets the inode (memory pressure, drop_caches) a
 * lookup would bring BACKING's instead: the ctime seen through the mount
 * moved forward with nothing done to the file (natively it stays).
 * fs_ctime_kept_note remembers, per backing inode, the pair (BACKING's
 * ctime after the setattr, the kernel's); fs_ctime_kept_apply gives the
 * kernel's back in attributes while BACKING's ctime has not moved since.
 * A fixed table (a newer note replaces an older one in its slot): a file
 * it no longer holds shows BACKING's ctime, as before. In memory only. */
#ifndef SHADOWFS_FS_CTIME_KEPT_H
#define SHADOWFS_FS_CTIME_KEPT_H

#include <sys/stat.h>
#include <time.h>

/* st: BACKING's attributes after the setattr; kernel: the ctime it set. */
void fs_ctime_kept_note(const struct stat *st, const struct timespec *kernel);
/* st (BACKING's attributes, before they go to the kernel): its ctime
 * replaced by the kernel's when a note for the inode matches it. */
void fs_ctime_kept_apply(struct stat *st);

#endif
