/* The reserved user.shadow.* extended attributes.
 *
 * Names under user.shadow. are shadowfs's own tuning and state attributes
 * (DESIGN.md, "Tuning via extended attributes"): they are never passed to
 * BACKING and never listed from it. This file is the one place that answers
 * them: user.shadow.pin and the read-only user.shadow.state when shadowing
 * is on (fs/shadowing.h); other names get/remove -> ENODATA, set -> EINVAL;
 * list adds nothing.
 * Functions return a size or -errno; they never reply to the kernel. */
#ifndef SHADOWFS_FS_XATTR_SHADOW_H
#define SHADOWFS_FS_XATTR_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define FS_XATTR_SHADOW_PREFIX "user.shadow."

struct fs_ctx;
struct fs_inode;

bool fs_xattr_is_shadow(const char *name);
/* A text value for getxattr: its length with size 0, -ERANGE when buf is
 * too small, else copied (no NUL). */
ssize_t fs_xattr_reply_string(const char *s, char *buf, size_t size);

/* Value of NAME into buf (size 0: just its length). */
ssize_t fs_xattr_shadow_get(struct fs_ctx *c, struct fs_inode *i, const char *name, void *buf,
			    size_t size);
int fs_xattr_shadow_set(struct fs_ctx *c, struct fs_inode *i, const char *name,
			const void *value, size_t size, int flags);
int fs_xattr_shadow_remove(struct fs_ctx *c, struct fs_inode *i, const char *name);
/* Appends the NUL-terminated names this inode has to buf (size 0: just
 * the length needed). */
ssize_t fs_xattr_shadow_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size);

#endif
