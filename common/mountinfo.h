/* The mount table of this process (/proc/self/mountinfo), one entry at a
 * time, with the mount points unescaped (the kernel writes a blank as
 * \040). Used to find a mount's device without touching the mount itself
 * (a stat of our own FUSE mount before it serves would never return). */
#ifndef SHADOWFS_COMMON_MOUNTINFO_H
#define SHADOWFS_COMMON_MOUNTINFO_H

#include <limits.h>
#include <stddef.h>

struct sfs_mount_entry {
	unsigned major, minor;      /* st_dev of the mounted filesystem */
	char mountpoint[PATH_MAX];  /* absolute, unescaped */
	char fstype[256];           /* e.g. "ext4", "fuse.shadowfs" */
	long owner_uid;             /* user_id=N of a FUSE mount's super options; -1 */
};

/* Calls fn on every entry in table order (later mounts last); stops at the
 * first nonzero return of fn and returns it. 0 after the last entry, -errno
 * when the table cannot be read. Malformed lines are skipped. */
int sfs_mountinfo_each(int (*fn)(const struct sfs_mount_entry *e, void *arg), void *arg);

/* The mount holding real (an absolute path without symlinks): its
 * mountpoint and type (the longest mountpoint that is a prefix, the later
 * one of equals). 0, -ENOENT, or -errno when the table cannot be read. */
int sfs_mount_of(const char *real, char *mnt, size_t mlen, char *type, size_t tlen);

/* The same, the whole entry (owner_uid included). */
int sfs_mount_entry_of(const char *real, struct sfs_mount_entry *ret);

/* Parses one mountinfo line into *e: 0, or -EINVAL if it is malformed.
 * Exposed for the unit tests. */
int sfs_mountinfo_parse_line(const char *line, struct sfs_mount_entry *e);

#endif
