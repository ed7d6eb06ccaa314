/* POSIX record locks on BACKING per lock owner (-o locks=backing).
 *
 * The kernel sends each F_SETLK, F_SETLKW and F_GETLK with its lock owner:
 * the calling process for POSIX record locks, the open file description
 * for F_OFD_* locks. BACKING offers locks per open file description only
 * (F_OFD_*), so each (inode, owner) gets a backing open file description
 * of its own, reopened from the request's backing fd, which holds that
 * owner's locks: one process's locks through two opens do not conflict,
 * and processes sharing an inherited open (fork) do, as natively. One
 * description per open, as before, broke both: SQLite in WAL mode, with
 * writers forked from a process that had the database open, shared the
 * -shm file's description and so its locks, and the database came out
 * "malformed".
 *
 * An owner's description, and its locks with it, goes when that owner
 * closes any fd of the file (FLUSH carries the closing owner: POSIX drops
 * a process's locks on a file at any close of it) or when the open it was
 * made through is released (an F_OFD_* owner's locks live as long as the
 * open). A request using it holds a reference: a blocked F_SETLKW keeps
 * the fd open until its wait ends. */
#ifndef SHADOWFS_FS_LOCK_OWNERS_H
#define SHADOWFS_FS_LOCK_OWNERS_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct flock;
struct fs_ctx;
struct fs_file;
struct fs_lock_owners;
struct fs_lock_owner;

/* 0 or -errno. */
int fs_lock_owners_new(struct fs_lock_owners **ret);
/* Closes every description left. NULL: no-op. */
void fs_lock_owners_free(struct fs_lock_owners *t);

/* owner's description of ino (a reference to give back with
 * fs_lock_owner_put), made from via's backing fd when there is none and
 * create: NULL with *err = -ENOENT when there is none and !create, or the
 * reopen's -errno. */
struct fs_lock_owner *fs_lock_owner_get(struct fs_ctx *c, fuse_ino_t ino, uint64_t owner,
					struct fs_file *via, bool create, int *err);
/* The process that takes o's locks (the kernel's lk.pid of a SETLK). */
void fs_lock_owner_set_pid(struct fs_lock_owner *o, pid_t pid);
/* F_GETLK for owner on ino: probes through probe_fd (which holds none of
 * owner's locks but its own description's); a conflicting lock reports the
 * pid of the owner holding it (0 if none known: another program on
 * BACKING). 0 or -errno. */
int fs_lock_owners_getlk(struct fs_ctx *c, fuse_ino_t ino, int probe_fd, struct flock *lock);
int fs_lock_owner_fd(const struct fs_lock_owner *o);
void fs_lock_owner_put(struct fs_ctx *c, struct fs_lock_owner *o);
/* After a lock was granted on o: if the owner closed the file during the
 * wait (o was unlisted, its fd to close with the last reference), o is
 * listed again, as made through via (the request's open), so the lock
 * granted after that close stays, as natively.
 * False when the owner has made another description since (the lock then
 * goes with o). */
bool fs_lock_owner_keep(struct fs_ctx *c, struct fs_lock_owner *o, const struct fs_file *via);

/* owner closed an fd of ino (FLUSH): its locks there go. */
void fs_lock_owners_closed(struct fs_ctx *c, fuse_ino_t ino, uint64_t owner);
/* via is released: the descriptions made through it go. */
void fs_lock_owners_released(struct fs_ctx *c, const struct fs_file *via);

#endif
