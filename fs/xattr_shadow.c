/* user.shadow.* attributes: the reserved namespace (see xattr_shadow.h).
 * Known names, with shadowing on (a local host in hosts=):
 *   user.shadow.pin    "1" pins a regular file (always shadowed), "0" or
 *                      removal unpins it; anything else EINVAL, nothing
 *                      changes. Persisted in STATE/pins.
 *   user.shadow.threshold, .capacity, .window, .never, .copies, .hosts
 *                      tuning of a file or of a directory's subtree
 *                      (fs/shadow_tuning.h), persisted in STATE/tuning.
 *   user.shadow.state  read-only: pin, version, copies and their states
 *                      and read counters (fs_shadowing_get_state).
 *   user.shadow.why    read-only: effective settings and their sources,
 *                      the last forecast, the trigger state (shadowctl why).
 * Other names, and every name without shadowing: get/remove -> ENODATA,
 * set -> EINVAL. Nothing is stored in or passed to BACKING; listings show
 * the tuning attributes set on the node, and pin when it is 1. */
#include "fs/xattr_shadow.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "fs/fs.h"
#include "fs/shadow_tuning.h"
#include "fs/shadowing.h"

#define PIN FS_XATTR_SHADOW_PREFIX "pin"
#define STATE FS_XATTR_SHADOW_PREFIX "state"
#define WHY FS_XATTR_SHADOW_PREFIX "why"

/* The tuning key of name, or -1. */
static int tuning_key(struct fs_ctx *c, const char *name)
{
	if (!c->tuning || !fs_xattr_is_shadow(name))
		return -1;
	return fs_tune_key_of(name + sizeof(FS_XATTR_SHADOW_PREFIX) - 1);
}

bool fs_xattr_is_shadow(const char *name)
{
	return strncmp(name, FS_XATTR_SHADOW_PREFIX, sizeof(FS_XATTR_SHADOW_PREFIX) - 1) == 0;
}

ssize_t fs_xattr_reply_string(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s);
	if (size == 0)
		return (ssize_t)n;
	if (size < n)
		return -ERANGE;
	memcpy(buf, s, n);
	return (ssize_t)n;
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
	if (c->tuning && !strcmp(name, WHY))
		return fs_tuning_why(c, i, buf, size);
	int k = tuning_key(c, name);
	if (k >= 0)
		return fs_tuning_get(c, i, (enum fs_tune_key)k, buf, size);
	return -ENODATA;
}

/* Whether name (under the prefix) is one a mount with hosts lets set. */
static bool settable_name(const char *name)
{
	return !strcmp(name, PIN) || fs_tune_key_of(name + sizeof(FS_XATTR_SHADOW_PREFIX) - 1) >= 0;
}

int fs_xattr_shadow_set(struct fs_ctx *c, struct fs_inode *i, const char *name, const void *value,
			size_t size, int flags)
{
	int k = tuning_key(c, name);
	if (k >= 0)
		return fs_tuning_set(c, i, (enum fs_tune_key)k, value, size, flags);
	if (c->shadowing && !strcmp(name, PIN))
		return fs_shadowing_set_pin(c->shadowing, i, value, size, flags);
	/* A pin or a setting on a mount without hosts: EINVAL as for any
	 * name it does not know, and the log says why (once a mount). */
	static atomic_bool said;
	if (!c->shadowing && settable_name(name) && !atomic_exchange(&said, true))
		sfs_warn("%s refused (EINVAL): pins and settings need shadowing on, which "
			 "needs a host (mount with -o hosts=/DIR or hosts=HOST:PORT)", name);
	return -EINVAL; /* unknown, read-only (state), or shadowing off */
}

int fs_xattr_shadow_remove(struct fs_ctx *c, struct fs_inode *i, const char *name)
{
	int k = tuning_key(c, name);
	if (k >= 0)
		return fs_tuning_remove(c, i, (enum fs_tune_key)k);
	if (c->shadowing && !strcmp(name, PIN))
		return fs_shadowing_set_pin(c->shadowing, i, "0", 1, 0);
	return -ENODATA;
}

ssize_t fs_xattr_shadow_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size)
{
	char pin[2];
	bool pinned = c->shadowing && S_ISREG(i->type) &&
		      fs_shadowing_get_pin(c->shadowing, i, pin, sizeof(pin)) == 1 && pin[0] == '1';
	size_t need = pinned ? sizeof(PIN) : 0;
	ssize_t n = c->tuning ? fs_tuning_list(c, i, size ? buf : NULL, 0) : 0;
	if (n < 0)
		return n;
	need += (size_t)n;
	if (size == 0)
		return (ssize_t)need;
	if (size < need)
		return -ERANGE;
	if (pinned)
		memcpy(buf, PIN, sizeof(PIN));
	if (n > 0) {
		ssize_t m = fs_tuning_list(c, i, buf + (pinned ? sizeof(PIN) : 0), (size_t)n);
		if (m < 0)
			return m;
		if (m != n)
			return -ERANGE; /* changed meanwhile */
	}
	return (ssize_t)need;
}
