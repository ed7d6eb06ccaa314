/* Copy expiry for shadowd: when each copy of its store was last used, and
 * the deletion of copies no mount has used for a long time.
 *
 * A mount deletes the copies it drops, but a copy can outlive every mount
 * that knows it: the delete failed while the host was stopped or
 * unreachable, the mount was killed or restarted (its older versions are
 * kept as the basis of the next delta, and the files it no longer shadows
 * are never copied again), the origin host is gone. Such copies would hold
 * the shadowd's space budget forever. A copy is "used" when it is read,
 * re-hashed (VERIFY: a mount re-hashes each serving copy every
 * shadow_verify, default an hour), the basis of an update, a signature or
 * a delta, or committed; a copy unused for idle_ms is deleted (the file a
 * pass listed: one committed again since is a new copy, kept). A copy
 * already in the store when shadowd starts counts from the start, as does
 * a copy first seen by a pass: a restart never makes a copy expire early.
 * Times are in memory only (CLOCK_MONOTONIC milliseconds).
 *
 * Thread-safety: touch may be called from any thread; passes run on the
 * expiry thread (start) or, in tests, from the caller. */
#ifndef SHADOWFS_DAEMON_COPY_EXPIRY_H
#define SHADOWFS_DAEMON_COPY_EXPIRY_H

#include <stdint.h>

#include "daemon/host_store.h"

struct daemon_copy_expiry;

/* Expiry of the copies of st after idle_ms without use (0: never; touch
 * then does nothing and no thread runs). now_ms: the store's open time. */
int daemon_copy_expiry_new(struct daemon_store *st, uint64_t idle_ms, uint64_t now_ms,
			   struct daemon_copy_expiry **ret);
/* Stops the thread (if started) and frees. Accepts NULL. */
void daemon_copy_expiry_free(struct daemon_copy_expiry *e);
/* Copy (id, version) used at now_ms. Accepts NULL e. */
void daemon_copy_expiry_touch(struct daemon_copy_expiry *e, const uint8_t id[16],
			      uint64_t version, uint64_t now_ms);
/* One pass at now_ms: deletes every copy of the store unused for idle_ms
 * (each logged), forgets the copies no longer there; how many were
 * deleted and their bytes. */
int daemon_copy_expiry_pass(struct daemon_copy_expiry *e, uint64_t now_ms, uint64_t *ret_copies,
			    uint64_t *ret_bytes);
/* Runs a pass every period_ms on a thread of its own until free. */
int daemon_copy_expiry_start(struct daemon_copy_expiry *e, uint64_t period_ms);

#endif
