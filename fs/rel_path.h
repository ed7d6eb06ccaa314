/* Paths relative to BACKING, as the shadowing and tuning layers key files
 * and directories by them: of an open fd (from /proc), of a directory
 * inode's child, and the rewriting of a path below a renamed directory. */
#ifndef SHADOWFS_FS_REL_PATH_H
#define SHADOWFS_FS_REL_PATH_H

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>

struct fs_ctx;

/* The path of the object open as fd relative to BACKING into buf ("" for
 * BACKING itself; "NAME (deleted)" for an unlinked file, as /proc names
 * it); -ENOENT when it is not below BACKING, or /proc names it by a name
 * it no longer has while it has others (an O_TMPFILE's nameless dentry,
 * linked since). */
int fs_rel_path(struct fs_ctx *c, int fd, char buf[PATH_MAX]);
/* The same for inode i open as fd; when fd is disconnected (reopened from
 * its handle after the kernel dropped BACKING's dentry: /proc shows "/"),
 * by its name in the directory it was last seen in through the mount
 * (fs_inode.dir_ino). -ENOENT when neither names it. */
struct fs_inode;
int fs_rel_path_of(struct fs_ctx *c, struct fs_inode *i, int fd, char buf[PATH_MAX]);
/* The same for the file (dev, ino) last seen in the directory dir_ino (0
 * unknown), whose inode may be gone: the recorder names files after the
 * kernel may have forgotten them. recorded: that as the recorder's
 * fs_rec_path_of_fn (rec_name.h), ctx the fs_ctx. */
int fs_rel_path_in(struct fs_ctx *c, dev_t dev, ino_t ino, ino_t dir_ino, int fd,
		   char buf[PATH_MAX]);
int fs_rel_path_recorded(void *ctx, int fd, dev_t dev, ino_t ino, uint64_t dir_ino,
			 char buf[PATH_MAX]);
/* "DIR/NAME" relative to BACKING for NAME in directory inode dir, whether
 * NAME is there or not (the target of a rename); -errno. */
int fs_rel_name(struct fs_ctx *c, fuse_ino_t dir, const char *name, char rel[PATH_MAX]);
/* "DIR/NAME" relative to BACKING for NAME in directory inode dir, and the
 * object's stat (not following a symlink); -errno. On -ENAMETOOLONG (a
 * path deeper than PATH_MAX) *st is filled all the same. */
int fs_rel_child(struct fs_ctx *c, fuse_ino_t dir, const char *name, char rel[PATH_MAX],
		 struct stat *st);
/* What follows prefix in path when path is prefix or below it ("" or
 * "/..."), else NULL. */
const char *fs_rel_below(const char *path, const char *prefix);
/* path with prefix from replaced by to (malloc'ed), or NULL when path is
 * not from or below it (or without memory). */
char *fs_rel_moved(const char *path, const char *from, const char *to);

#endif
