/* Reads of copies on remote shadowd hosts, for the router (fs/router.c): a
 * small pool of TLS connections per host, a deadline on every read, and a
 * host marked suspect after a read that failed on the wire.
 *
 * Pool: at most pool_max connections per host, each used by one FUSE thread
 * at a time (the idle one used last, or a new one while fewer exist). When
 * all are busy the read is not queued: -EBUSY, and the router answers from
 * the origin, so FUSE threads never wait for each other on a connection.
 * A connection idle for more than a minute is closed rather than reused.
 *
 * Deadline: connect (when needed), request and answer within timeout_ms
 * (-o remote_timeout=MS). A reused connection that breaks (closed by the
 * host while idle: a restarted shadowd) is retried once on a fresh one,
 * same deadline, and the other idle connections of that host are closed.
 *
 * Suspect: a timeout or a broken connection marks the host suspect; its
 * copies are not read (fs_remote_reads_usable is false) until the suspect
 * period is over (1 s, doubling with each failure in a row up to 30 s) AND
 * a heartbeat has arrived since it was marked. A host the heartbeat watcher
 * (fs/hosts.c) sees down is not read either. A read the host refuses (its
 * copy is missing, damaged, an I/O error) is returned as -errno with the
 * host left healthy; the router then stops a missing or damaged copy
 * serving, and counts any other refusal as a read error of the copy.
 *
 * Thread-safety: every function may be called from any thread. */
#ifndef SHADOWFS_FS_REMOTE_READS_H
#define SHADOWFS_FS_REMOTE_READS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fs_hosts;
struct fs_remote_reads;

#define FS_REMOTE_POOL_MAX 4 /* connections per host */

/* hosts is not owned and must outlive the object. */
int fs_remote_reads_new(struct fs_hosts *hosts, unsigned timeout_ms, unsigned pool_max,
			struct fs_remote_reads **ret);
/* Closes the pooled connections. No read may run. Accepts NULL. */
void fs_remote_reads_free(struct fs_remote_reads *r);

/* Whether copies on host may be read now (up, not suspect). Lock-free. */
bool fs_remote_reads_usable(struct fs_remote_reads *r, int host);
/* A copy to host failed with err: one that says the host cannot be reached
 * (refused, reset, broken) marks it suspect as a failed read does, so that
 * the copies queued behind it are not placed there until it answers a
 * heartbeat again. Returns whether it did. */
bool fs_remote_reads_copy_failed(struct fs_remote_reads *r, int host, int err);
/* A copy to host abandoned because the host did not answer its commit
 * within bound_ms while its heartbeats came (a stuck store, not an
 * unreachable host): suspect as above, but for 30 s, doubling with each
 * such copy in a row up to 10 min (a copy there that succeeds ends the
 * row: fs_remote_reads_copy_done), so the copies behind it go to other
 * hosts rather than waiting out the bound there again. */
void fs_remote_reads_copy_stuck(struct fs_remote_reads *r, int host, uint64_t bound_ms);
void fs_remote_reads_copy_done(struct fs_remote_reads *r, int host);

/* Reads up to size bytes at off of (id, version) on host into buf, within
 * the deadline. Returns the count (short at the end of the copy), or
 * -EHOSTDOWN (host not usable: nothing tried), -EBUSY (every connection in
 * use), a transport error (the host is now suspect), or the host's refusal. */
ssize_t fs_remote_reads_read(struct fs_remote_reads *r, int host, const uint8_t id[16],
			     uint64_t version, uint64_t off, void *buf, size_t size);

#endif
