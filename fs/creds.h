/* Per-request caller credentials.
 *
 * Operations that create objects or depend on permissions run, on the
 * worker thread that serves them, with the caller's fsuid, fsgid and
 * supplementary groups (setfsuid/setfsgid and the raw setgroups syscall are
 * per-thread; glibc's setgroups wrapper would change every thread). The
 * backing filesystem then decides exactly as it would natively: mode bits,
 * ACLs, the owner of new files, the group inherited from a setgid parent,
 * sticky directories, and the loss of CAP_DAC_* while a non-root fsuid is
 * in effect. A non-root caller also runs with no effective capability at
 * all (setfsuid drops only the file system ones), so that, e.g., trusted.*
 * and security.* xattrs need the caller's own privilege.
 *
 * Only a daemon running as root can switch; otherwise (a user mount, where
 * every caller is the mounting user anyway) enter/leave do nothing.
 * Requests from root with gid 0, the common case, switch nothing either.
 *
 * Usage: fs_creds_enter(req, &saved) ... syscalls ... fs_creds_leave(&saved).
 * Get every O_PATH fd you need (fs_inode_fd_get) before entering. */
#ifndef SHADOWFS_FS_CREDS_H
#define SHADOWFS_FS_CREDS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/types.h>

struct fs_creds_saved {
	bool switched_uid;
	bool switched_gid;
	bool switched_groups;
	bool switched_caps;
};

/* Called once at start (before threads): records whether we can switch. */
void fs_creds_init(void);

/* Switches to the request's caller. Returns 0 or -errno (the request must
 * then fail with that error; nothing is switched). */
int fs_creds_enter(fuse_req_t req, struct fs_creds_saved *saved);

/* Sets the calling thread's umask to the request's (FUSE_CAP_DONT_MASK:
 * the kernel left it to us; 0 otherwise, the kernel applied it already).
 * The first call in a thread gives it its own umask (unshare(CLONE_FS)).
 * For mknod, mkdir and create; returns 0 or -errno. */
int fs_creds_umask(fuse_req_t req);

/* fs_creds_enter then fs_creds_umask, for a request that makes a node:
 * 0, or -errno with nothing switched. */
int fs_creds_enter_creator(fuse_req_t req, struct fs_creds_saved *saved);

/* Writes of a non-root writer (uid, gid: the request's caller, or the
 * file's opener for the writeback cache's flushes, which come with no
 * caller; see fs/ops_file.c enter_writer): runs the calling
 * thread with that fsuid and fsgid and no capability but CAP_FSETID (the
 * set-id bits are fs/killpriv.c's to clear) until fs_creds_leave,
 * so BACKING keeps the blocks it reserves for root (ext4 lets fsuid 0 or
 * CAP_SYS_RESOURCE into them) and quota hard limits hold, as natively for
 * that caller. Nothing for root or on a daemon that cannot switch;
 * a switch that fails leaves the daemon's credentials (a write is never
 * refused for it). */
void fs_creds_enter_writer(uid_t uid, gid_t gid, struct fs_creds_saved *saved);

/* Whether the request's caller is in group gid: its gid or one of its
 * supplementary groups (the kernel's in_group_p). Callers whose groups
 * cannot be read (gone, /proc unreadable) count as members of their
 * primary group only. */
bool fs_creds_in_group(fuse_req_t req, gid_t gid);

/* Whether the request's caller holds capability cap (CAP_*) in its
 * effective set, from /proc (false when it cannot be read). For the few
 * answers the daemon, not BACKING, must judge for a root caller. */
bool fs_creds_caller_capable(fuse_req_t req, int cap);

/* Restores the daemon's credentials. Accepts a saved set that switched nothing. */
void fs_creds_leave(const struct fs_creds_saved *saved);

#endif
