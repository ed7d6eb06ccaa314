/* user.shadow.* attributes: the reserved namespace (see xattr_shadow.h).
 * A stub until the tuning attributes exist: nothing is stored, nothing is
 * passed to BACKING. */
#include "fs/xattr_shadow.h"

#include <errno.h>
#include <string.h>

bool fs_xattr_is_shadow(const char *name)
{
	return strncmp(name, FS_XATTR_SHADOW_PREFIX, sizeof(FS_XATTR_SHADOW_PREFIX) - 1) == 0;
}

ssize_t fs_xattr_shadow_get(struct fs_ctx *c, struct fs_inode *i, const char *name, void *buf,
			    size_t size)
{
	(void)c, (void)i, (void)name, (void)buf, (void)size;
	return -ENODATA;
}

int fs_xattr_shadow_set(struct fs_ctx *c, struct fs_inode *i, const char *name,
			const void *value, size_t size, int flags)
{
	(void)c, (void)i, (void)name, (void)value, (void)size, (void)flags;
	return -EINVAL;
}

int fs_xattr_shadow_remove(struct fs_ctx *c, struct fs_inode *i, const char *name)
{
	(void)c, (void)i, (void)name;
	return -ENODATA;
}

ssize_t fs_xattr_shadow_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size)
{
	(void)c, (void)i, (void)buf, (void)size;
	return 0;
}
