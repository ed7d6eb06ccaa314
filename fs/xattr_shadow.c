/* user.shadow.* attributes: the reserved namespace (see xattr_shadow.h).
 * Known names, with shadowing on (a local host in hosts=):
 *   user.shadow.pin    "1" pins a regular file (always shadowed), "0" or
 *                      removal unpins it; anything else EINVAL, nothing
 *                      changes. Persisted in STATE/pins.
 *   user.shadow.state  read-only: pin, version, copies and their states
 *                      and read counters (fs_shadowing_get_state).
 * Other names, and every name without shadowing: get/remove -> ENODATA,
 * set -> EINVAL. Nothing is stored in or passed to BACKING; listings add
 * nothing. */
#include "fs/xattr_shadow.h"

#include <errno.h>
#include <string.h>

#include "fs/fs.h"
#include "fs/shadowing.h"

#define PIN FS_XATTR_SHADOW_PREFIX "pin"
#define STATE FS_XATTR_SHADOW_PREFIX "state"

bool fs_xattr_is_shadow(const char *name)
{
	return strncmp(name, FS_XATTR_SHADOW_PREFIX, sizeof(FS_XATTR_SHADOW_PREFIX) - 1) == 0;
}

ssize_t fs_xattr_shadow_get(struct fs_ctx *c, struct fs_inode *i, const char *name, void *buf,
			    size_t size)
{
	if (!c->shadowing)
		return -ENODATA;
	if (!strcmp(name, PIN))
		return fs_shadowing_get_pin(c->shadowing, i, buf, size);
	if (!strcmp(name, STATE))
		return fs_shadowing_get_state(c->shadowing, i, buf, size);
	return -ENODATA;
}

int fs_xattr_shadow_set(struct fs_ctx *c, struct fs_inode *i, const char *name, const void *value,
			size_t size, int flags)
{
	(void)flags;
	if (c->shadowing && !strcmp(name, PIN))
		return fs_shadowing_set_pin(c->shadowing, i, value, size);
	return -EINVAL; /* unknown, read-only (state), or shadowing off */
}

int fs_xattr_shadow_remove(struct fs_ctx *c, struct fs_inode *i, const char *name)
{
	if (c->shadowing && !strcmp(name, PIN))
		return fs_shadowing_set_pin(c->shadowing, i, "0", 1);
	return -ENODATA;
}

ssize_t fs_xattr_shadow_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size)
{
	(void)c, (void)i, (void)buf, (void)size;
	return 0;
}
