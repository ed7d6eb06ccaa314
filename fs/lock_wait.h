/* Waiting for a lock on BACKING (-o locks=backing) without holding the
 * mount hostage.
 *
 * A blocking F_OFD_SETLKW or flock on BACKING parks the worker thread that
 * serves it until the lock is granted. Two things must be able to end that
 * wait: the caller giving up (a signal to the locking process makes the
 * kernel send FUSE_INTERRUPT; a process killed meanwhile stays in D state
 * until its request is answered) and the mount stopping (libfuse's loop,
 * told to end, joins every worker: a parked one never returns and the stop
 * never completes).
 *
 * A contended lock is first tried without blocking. Then the waiting
 * thread unblocks a real-time signal of its own (libfuse's workers run
 * with every signal blocked; its handler, installed at the first wait,
 * does nothing), arms a per-thread timer that sends it that signal every
 * FS_LOCK_RECHECK_MS, and blocks in the lock call: each signal ends the
 * call with EINTR (the handler is installed without SA_RESTART), the
 * thread looks whether its request was interrupted or the mount is
 * stopping, and waits again. An INTERRUPT sends the signal at once as
 * well; the timer only closes the window between the look and the call. */
#ifndef SHADOWFS_FS_LOCK_WAIT_H
#define SHADOWFS_FS_LOCK_WAIT_H

#include <fuse_lowlevel.h>
#include <stdbool.h>

#define FS_LOCK_RECHECK_MS 250

/* One attempt at the lock on fd: waiting for it when wait, else failing
 * with EAGAIN/EACCES/EWOULDBLOCK if it is held. 0 or -errno. */
typedef int (*fs_lock_call_fn)(int fd, void *arg, bool wait);

/* Takes the lock with call, waiting for it as long as req's caller does:
 * 0, -EINTR when req was interrupted, -ENOTCONN when the mount is stopping
 * (fs_lock_waits_end), or call's own -errno. */
int fs_lock_wait(fuse_req_t req, int fd, fs_lock_call_fn call, void *arg);

/* The mount is stopping: every wait ends within FS_LOCK_RECHECK_MS, and
 * later ones do not start. */
void fs_lock_waits_end(void);

#endif
