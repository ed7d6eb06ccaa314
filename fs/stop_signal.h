/* Stopping on SIGTERM, SIGINT or SIGHUP without losing what was written.
 *
 * With the writeback cache the kernel holds a mount's written pages and
 * sends them to us later (up to the mount's dirty share, GiBs). libfuse's
 * own handlers end the session loop at once, and the mount is undone with
 * those pages still unwritten: they are lost (a writer's 100 MiB, still
 * open, left 52 MiB in BACKING). Here a signal only wakes a stopper
 * thread, which first has the kernel write the mount's dirty pages back
 * (syncfs on the mount, served by the still-running loop) and waits until
 * no WRITE is under way nor begun for 100 ms (syncfs does not wait for a
 * FUSE mount's writeback), for at most FS_STOP_SYNC_GRACE_MS or until a
 * second signal, and then ends the loop.
 *
 * A pipe carries the signal from the handler (write(2) is async-signal
 * safe) to the stopper; the stopper interrupts the thread running the loop
 * with the same signal (handlers installed without SA_RESTART) until
 * fs_stop_free says the loop has returned. */
#ifndef SHADOWFS_FS_STOP_SIGNAL_H
#define SHADOWFS_FS_STOP_SIGNAL_H

#include <fuse_lowlevel.h>

struct fs_ctx;

#define FS_STOP_SYNC_GRACE_MS 60000

struct fs_stop;

/* Before mounting (in place of fuse_set_signal_handlers): catches SIGTERM,
 * SIGINT and SIGHUP (noted, nothing more) and ignores SIGPIPE. 0 or
 * -errno. */
int fs_stop_install(struct fs_stop **ret);
/* Once the daemon runs, just before the calling thread serves se's loop on
 * mountpoint (ctx: the mount's, whose WRITE counters say when the last
 * write-back is written): starts the stopper (a signal that came before is
 * acted on now). 0 or -errno. */
int fs_stop_arm(struct fs_stop *s, struct fuse_session *se, struct fs_ctx *ctx,
		const char *mountpoint);
/* Right after the loop returned (signal or unmount): stops the stopper.
 * Signals from then on are noted and ignored. */
void fs_stop_loop_returned(struct fs_stop *s);
/* At the very end (or when the start failed): as fs_stop_loop_returned if
 * not done, puts the default handlers back, frees s. NULL: no-op. */
void fs_stop_free(struct fs_stop *s);

#endif
