/* open(DIR, O_TMPFILE | ...) through the mount, which libfuse 3.14 cannot
 * serve on its own.
 *
 * For O_TMPFILE the kernel (Linux 6.0+) sends FUSE_TMPFILE: laid out as
 * FUSE_CREATE (struct fuse_create_in, then the dentry's name, which for a
 * tmpfile is always "/") and answered as it (fuse_entry_out and
 * fuse_open_out). libfuse 3.14 does not know the opcode and answers
 * ENOSYS, after which the kernel gives EOPNOTSUPP to every O_TMPFILE open
 * of the mount for good. So each request is looked at as it is read (on
 * the thread that then handles it: /dev/fuse reads, dev_io.c, and io_uring
 * entries, uring.c) and a FUSE_TMPFILE is turned into the FUSE_CREATE of
 * the name "/" in place. No real create can carry that name (the kernel
 * never sends one with a slash), so the create handler and the layers
 * around it tell a tmpfile by it (fs_tmpfile_name): the file is made
 * with openat(directory, ".", O_TMPFILE | flags, mode) on BACKING, has no
 * name and no path until a link(2) (FUSE_LINK of its inode) gives it one.
 *
 * Not with -o splice: spliced requests are not seen before libfuse parses
 * them, and O_TMPFILE stays EOPNOTSUPP there. */
#ifndef SHADOWFS_FS_TMPFILE_H
#define SHADOWFS_FS_TMPFILE_H

#include <stdbool.h>
#include <stddef.h>

/* The request in buf (as read from /dev/fuse: in header, the op's argument,
 * then its names), len bytes: a FUSE_TMPFILE of the name "/" becomes a
 * FUSE_CREATE of it. Any other request is left alone (a FUSE_TMPFILE of
 * another name, which no kernel sends, stays ENOSYS). */
void fs_tmpfile_rewrite(void *buf, size_t len);

/* Whether NAME of a create is the tmpfile's "/". */
static inline bool fs_tmpfile_name(const char *name)
{
	return name[0] == '/' && name[1] == '\0';
}

#endif
