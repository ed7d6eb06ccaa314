/* The shadow map: for each shadowed file (keyed by the origin's st_dev,
 * st_ino) its version and its copies on hosts, with per-copy state,
 * served-read counters, in-flight reads and latency; and the router's pick
 * among origin and copies (power of two choices on in-flight reads, ties to
 * the origin).
 *
 * Pure C (no FUSE, no I/O but close() of copy fds), so the control loop's
 * tests and a simulator can use it. The mount (fs/shadowing.c) owns one map.
 *
 * Validity (DESIGN.md, consistency contract item 1): a copy serves a read
 * only while
 *     copy.state == SERVING  &&  copy.version == file.version
 * Every modifying operation through the mount bumps file.version BEFORE
 * it touches BACKING, so a copy made earlier stops serving before the
 * modification can be seen; an open for writing alone changes nothing.
 * (With kernel passthrough, writes bypass the mount: there the router also
 * checks that no open for writing exists, fs_inode.writers.)
 *
 * Lifetime: an entry stays until daemon_shadow_map_remove() (or
 * daemon_shadow_map_free()), which its owner calls only once no pointer to
 * it is held outside the map lock: the FUSE read path dereferences the
 * pointer an inode holds without a lock, so the mount counts those
 * (inode_links) and the other holders (holds), both under the map lock,
 * and removes an entry only when both are 0 and nothing wants it
 * (fs/shadow_reclaim.c). An entry made again for the same file starts at
 * a version above every version the removed one had (version_floor), so
 * no copy made under the old entry can match the new one.
 *
 * Remote copies (copy.remote) have no fd: the router reads them from their
 * shadowd (fs/remote_reads.c) under the same inflight / state rule.
 *
 * Copy fds and readers: a reader increments copy.inflight, then checks the
 * state and version, then preads copy.fd (opening it if it is -1), then
 * decrements. Whoever retires a copy stores state=STALE first, then waits
 * for inflight == 0 (daemon_shadow_copy_retire) before closing the fd:
 * with sequentially consistent atomics a reader either sees STALE or is
 * counted. An idle copy's fd is taken away the same way (swapped to -1,
 * then inflight == 0 awaited, daemon_shadow_copy_take_fd).
 *
 * Locking: map.lock protects the hash and every field marked "map lock";
 * fields marked "atomic" are read and written with __atomic builtins. Only
 * one thread (the control loop) changes copies[] slots (host, fd, origin
 * stat); readers use SERVING slots only. */
#ifndef SHADOWFS_DAEMON_SHADOW_MAP_H
#define SHADOWFS_DAEMON_SHADOW_MAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/control.h"
#include "daemon/lat_hist.h"

#define DAEMON_SHADOW_MAX_COPIES 4

struct daemon_rollout;

enum daemon_copy_state {
	DAEMON_COPY_NONE = 0, /* slot unused */
	DAEMON_COPY_SYNCING,  /* being written; never serves */
	DAEMON_COPY_SERVING,  /* verified, at copy.version; serves while valid */
	DAEMON_COPY_STALE,    /* outdated or suspect; never serves */
};

const char *daemon_copy_state_name(enum daemon_copy_state s);

/* What the origin looked like when a copy was made: a file changed behind
 * the mount's back differs in one of these. */
struct daemon_origin_stamp {
	int64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
};

struct daemon_shadow_copy {
	int state;			   /* atomic: enum daemon_copy_state */
	uint32_t inflight;		   /* atomic: reads using fd now */
	int host;			   /* control loop: index of the host */
	/* atomic: read-only fd on a local copy, or -1. Set at publication
	 * (control loop) or by a reader that opened it (-1 -> fd, holding
	 * the copy); taken away by the control loop once no reader uses it
	 * (daemon_shadow_copy_take_fd, retire). A reader's fd stays open
	 * until it releases the copy. */
	int fd;
	uint64_t reads_checked;		   /* control loop: reads at its last look */
	bool remote;			   /* control loop: on a shadowd (no fd: read over TLS) */
	uint8_t sync_method;		   /* control loop: how a remote copy was last synced */
	uint64_t sent_bytes;		   /* control loop: bytes that sync shipped */
	uint64_t version;		   /* control loop: the file version it holds */
	struct daemon_origin_stamp origin; /* control loop: origin at copy time */
	struct daemon_origin_stamp file;   /* control loop: the copy's own file then */
	uint8_t sha256[32];                /* control loop: the content's digest */
	uint64_t verified_ms;              /* control loop: last SHA-256 check */
	uint64_t reads;			   /* atomic: reads served */
	uint64_t bytes;			   /* atomic: bytes served */
	uint64_t lat_ns;		   /* atomic: sum of read latencies */
	uint64_t errors;		   /* atomic: reads that failed and fell back */
	/* Rollout (daemon/rollout.h, fs/rollout.c). */
	uint32_t share;			/* atomic: permille of the file's reads it may take;
					 * DAEMON_SHARE_FULL: in the power-of-two pick */
	uint32_t generation;		/* control loop: bumped at each publication */
	struct daemon_lat_hist lat;	/* atomic buckets: its reads' latencies */
	struct daemon_rollout *rollout; /* map lock: owned, freed with the map */
};

struct daemon_shadow_file {
	/* Immutable after insertion. */
	uint64_t dev, ino;
	uint8_t id[16]; /* the copies' id in host stores */
	uint64_t first_version; /* its version when made (shown as v1) */
	/* atomic */
	uint64_t version;	  /* bumped before every change through the mount */
	uint64_t version_ms;	  /* when it was last bumped (clock of the bumper) */
	uint32_t changing;	  /* changes through the mount under way (each
				   * bumps the version as it starts and ends) */
	uint32_t origin_inflight; /* reads served by the origin, now */
	uint64_t origin_reads;	  /* reads served by the origin */
	uint32_t serving;	  /* SERVING slots (a hint: 0 = origin only) */
	struct daemon_lat_hist origin_lat; /* buckets: latencies of origin reads */
	struct daemon_lat_hist origin_busy_lat; /* ... of those begun while another
						 * origin read was in flight */
	/* map lock */
	bool pinned;
	bool hot;	    /* forecast says shadow it */
	bool hot_mark;	    /* in the forecast being applied (control loop) */
	bool gone;	    /* unlinked / replaced: drop copies, forget pin */
	char *path;	    /* relative to BACKING (pins, status), or NULL: owned */
	void *dirty;	    /* atomic: fs/remote_dirty.c's record, or NULL: owned by it */
	/* The origin (fs/shadow_origin.c): live while the entry is wanted or
	 * has copies (map lock); an O_PATH fd on it, cached or -1 (control
	 * loop while live; map lock); its file handle (struct file_handle,
	 * taken under the map lock as it becomes live, freed as it stops
	 * being), NULL when BACKING gives none: then a live entry's fd stays.
	 * Both owned. */
	bool origin_live;
	int origin_fd;
	void *origin_handle;
	struct daemon_control_memory control; /* the control loop's hysteresis */
	unsigned want_copies;	/* replica count of the last forecast (0: 1) */
	unsigned want_mark;	/* in the forecast being applied (control loop) */
	bool reactive;		/* hot because the last bucket was over capacity */
	bool reactive_mark;
	bool overloaded;	/* the last bucket was over capacity, forecast or not */
	bool overloaded_mark;
	/* user.shadow.hosts as the control loop last read it (the replica
	 * count shown is capped by the allowed hosts, as the decision's is),
	 * and user.shadow.never (no replica wanted, whatever the pin) */
	bool hosts_limited, never;
	uint64_t allowed_hosts;
	/* Failed copies in a row (control loop; read under the map lock by
	 * the state views): the back-off and the last error. */
	unsigned copy_failures;
	uint64_t retry_ms; /* no copy before (daemon_control_backoff_ms) */
	int copy_error;	   /* errno of the last failure, 0 after a success */
	/* Metadata changes through the mount (times, mode, owner: no byte)
	 * at version carried_version (0: none): the origin's stamp before the
	 * first and after the last of a chain of them, so that a copy under
	 * way since carried_from is not taken for changed at carried_to
	 * (fs/shadowing.c, carry_end; fs/shadow_copies.c,
	 * shadow_unchanged_since). Map lock. */
	struct daemon_origin_stamp carried_from, carried_to;
	uint64_t carried_version;
	/* Control thread only: origin_reads at its last tick, and the recent
	 * origin reads (per tick, x8, decaying by 1/8 a tick), which order the
	 * copies waiting for the mover. */
	uint64_t reads_seen;
	uint64_t reads_recent;
	/* Written by the control thread under the map lock (the state views
	 * read them under it): the hosts it is not migrated to before
	 * migrate_block_until_ms (its copy there was dropped rolled back), and
	 * how many times that happened (daemon_control_migrate_block_ms). */
	uint64_t migrate_blocked_hosts;
	uint64_t migrate_block_until_ms;
	unsigned migrate_blocks;
	/* Map lock: a copy more than wanted is kept until another copy's
	 * rollout ends (daemon_control_trim_waits); cleared by the next tick
	 * that does not decide a TRIM. */
	bool surplus_kept;
	/* fs/shadow_quiet.c. Atomic (written by the control thread): whether
	 * its last look found it settled and unread, so passes leave it
	 * alone; and whether a read compared its stamps since (the first read
	 * of a quiet entry does). Control thread only: what it looked like at
	 * that look (flags and slot states, reads of origin and copies,
	 * version), and the pass of that look. */
	bool quiet;
	bool quiet_read_checked;
	uint32_t quiet_sig;
	uint64_t quiet_reads;
	uint64_t quiet_version;
	uint64_t considered_pass;
	/* Map lock: inodes whose pointer is this entry (fs/inode_table.h,
	 * fs_inode.shadow), other holders outside the map lock (an op between
	 * its lookup by name and its end), and its index in the walk order. */
	uint32_t inode_links;
	uint32_t holds;
	size_t order_index;
	struct daemon_shadow_file *hnext;
	struct daemon_shadow_copy copies[DAEMON_SHADOW_MAX_COPIES];
};

struct daemon_shadow_map;

/* first_version: the version new entries start at (make it unique per
 * mount, e.g. the start time in microseconds, so a copy left by an earlier
 * mount never matches). */
int daemon_shadow_map_new(uint64_t first_version, struct daemon_shadow_map **ret);
uint64_t daemon_shadow_map_first_version(const struct daemon_shadow_map *m);
/* Moves the version new entries start at (the mount's reserved range,
 * fs/version_floor.h). Before the first entry is made. */
void daemon_shadow_map_set_first_version(struct daemon_shadow_map *m, uint64_t first_version);
/* Mixed into every entry's id (the name of its copies in host stores): the
 * mount's origin id (fs/origin_id.h), so that mounts sharing a host never
 * name two files alike. Set before the first entry is made; zero until. */
void daemon_shadow_map_set_salt(struct daemon_shadow_map *m, const uint8_t salt[16]);
/* Closes every copy fd. No reader may run. Accepts NULL. */
void daemon_shadow_map_free(struct daemon_shadow_map *m);

void daemon_shadow_map_lock(struct daemon_shadow_map *m);
void daemon_shadow_map_unlock(struct daemon_shadow_map *m);
/* Entries in the map (atomic read: callers use it to skip lookups). */
size_t daemon_shadow_map_size(const struct daemon_shadow_map *m);

/* Finds the entry of (dev, ino), or NULL. */
struct daemon_shadow_file *daemon_shadow_map_find(struct daemon_shadow_map *m, uint64_t dev,
						  uint64_t ino);
/* Finds or inserts (dev, ino); NULL without memory. With the map lock
 * held (both). */
struct daemon_shadow_file *daemon_shadow_map_get(struct daemon_shadow_map *m, uint64_t dev,
						 uint64_t ino);
/* The n-th entry (for walks by the control loop and the status file),
 * or NULL past the end. With the map lock held. Insertion order until an
 * entry is removed: the last entry then takes the removed one's index. */
struct daemon_shadow_file *daemon_shadow_map_at(struct daemon_shadow_map *m, size_t n);
/* Removes f from the map and frees it (its rollouts, path, handle and any
 * fd left). With the map lock held; the caller has made sure no pointer
 * to f is held elsewhere (inode_links and holds 0, no job, no reader). An
 * entry made later for the same file starts above f's version. */
void daemon_shadow_map_remove(struct daemon_shadow_map *m, struct daemon_shadow_file *f);
/* Entries removed so far (atomic read). */
uint64_t daemon_shadow_map_removed(const struct daemon_shadow_map *m);

/* Bumps the file's version (before a modification); now_ms is recorded. */
void daemon_shadow_file_bump(struct daemon_shadow_file *f, uint64_t now_ms);
static inline uint64_t daemon_shadow_file_version(const struct daemon_shadow_file *f)
{
	return __atomic_load_n(&f->version, __ATOMIC_SEQ_CST);
}

/* Router's choice for one read. First the rollout gate: copies rolling out
 * (0 < share < DAEMON_SHARE_FULL) take their share of the reads at random
 * (one compare of a value drawn from rnd; several such copies carve their
 * shares out of [0, 1000) in slot order), whatever the load; a gated copy
 * that is not valid leaves the read to the pick. Otherwise,
 * among the origin and the copies at full share that may
 * serve (SERVING at the file's current version), two candidates drawn with
 * rnd (any random 64 bits; the origin is always one of them when fewer than
 * two copies serve), the one with fewer in-flight reads wins, ties to the
 * origin (then the lower slot). Returns the slot, or -1 for the origin. On a
 * slot >= 0 the copy's inflight has been incremented: the caller must call
 * daemon_shadow_copy_done() (it may still fall back to the origin). */
int daemon_shadow_pick(struct daemon_shadow_file *f, uint64_t rnd);
/* Ends a read picked on slot: counts it (ok: bytes served; else an error). */
void daemon_shadow_copy_done(struct daemon_shadow_file *f, int slot, bool ok, uint64_t bytes,
			     uint64_t lat_ns);
/* Ends a read picked on slot that did not use the copy (its host is known
 * to be down or busy: the origin answers), without counting it. */
void daemon_shadow_copy_release(struct daemon_shadow_file *f, int slot);
/* Origin reads, for the in-flight comparison and the counters. Begin
 * returns how many other origin reads were in flight. */
uint32_t daemon_shadow_origin_begin(struct daemon_shadow_file *f);
void daemon_shadow_origin_end(struct daemon_shadow_file *f);

/* Control loop: publishes a verified copy in slot (fd, version, origin
 * stamp set by the caller) as SERVING at share (permille: the rollout's
 * first step, DAEMON_SHARE_FULL without a rollout; 0: it serves no read
 * until the rollout gives it a share, see fs_rollout_first_share). */
void daemon_shadow_copy_publish(struct daemon_shadow_file *f, int slot, uint32_t share);
/* Marks the copy STALE (no new reader takes it); true if this call took
 * it from SERVING (one caller does, however many race). */
bool daemon_shadow_copy_mark_stale(struct daemon_shadow_file *f, int slot);
/* Control loop: STALE, waits for its readers, closes its fd, frees the slot
 * (counters kept until the slot is reused; share 0). Returns whether it
 * had an fd open. */
bool daemon_shadow_copy_retire(struct daemon_shadow_file *f, int slot);
/* Holds a SERVING copy as a reader does (inflight counted; false, not held,
 * when it does not serve): its fd is not closed until
 * daemon_shadow_copy_release(). */
bool daemon_shadow_copy_hold(struct daemon_shadow_file *f, int slot);
/* Control loop: takes the copy's fd away (-1 from now on: the next reader
 * opens it again) once no reader uses it; returns it for the caller to
 * close, or -1 when it had none. The copy keeps serving. */
int daemon_shadow_copy_take_fd(struct daemon_shadow_file *f, int slot);

#endif
