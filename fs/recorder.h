/* The access recorder: what reaches the filesystem, counted per file and per
 * time bucket, off the hot path, into the series store.
 *
 * Hot path (FUSE threads): a request begins with fs_recorder_req_begin,
 * which finds the thread's ring, reads the clock (time(): seconds are all
 * a bucket needs) and takes the caller once for the whole request; each
 * fs_recorder_req_note then writes one 64-byte event (two with a naming
 * claim, below) into that ring (single producer, single consumer: the
 * aggregator). No lock and no shared write on that path: each thread's ring
 * is found through a thread-local pointer; the first event of a thread
 * registers its ring under rec->rings_lock (once per thread). A full ring
 * drops the event and counts the drop (never blocks).
 *
 * Files are keyed by the backing object's (st_dev, st_ino), which ops have
 * at hand (struct fs_file_ref, built from the fs's inode). Files are not
 * named (stable id, path) when they appear: naming needs I/O, and most
 * files of a metadata-heavy workload live for microseconds. Once per inode
 * and bucket, an op that reads, writes or opens a file claims its name
 * (fs_recorder_claim): a copy of the inode's file handle goes into the
 * ring just before the event (no syscall; an fd is dup'd only for inodes
 * without a handle, see rec_name.h). The aggregator keeps the handle with
 * the file's counters; the writer thread names the file from it when the
 * file's bucket is written, if the file is still in the active set then.
 *
 * Aggregator thread: wakes every tick (50 ms; at once when a thread finds
 * its ring more than half full, and again without sleeping when a ring was
 * more than a quarter full at a drain), drains every ring, sums the drained
 * events per file first (a fold table: one active-set update per file and
 * drain, not per event), then folds them into the active set
 * (predictor/heavy_hitters: at most `track` files with full counters, a
 * count-min sketch for the rest), and when a
 * bucket has ended (plus a grace of 30 ms for requests still in flight)
 * hands it to the writer thread, which names its files and writes it to
 * the store in one transaction with the host metrics, then rolls up and
 * expires old buckets. Counters are kept for two buckets (the
 * one being closed and the next) so events are counted in the bucket of the
 * time they happened. Events of files outside the active set, or of files
 * never named (no claim in the bucket, or unlinked before the bucket was
 * written: short-lived files), are counted anonymously as tail_events in
 * the host bucket.
 *
 * Distinct clients per bucket: (uid, process name from /proc/PID/comm). The
 * name is read on the FUSE thread at req_begin, before the op replies (the
 * process is alive while it waits for its request; after the reply it may
 * have exited), through a per-thread cache, so a process costs one /proc
 * read per thread and bucket; counted by the aggregator in a 128-bit
 * linear-counting bitmap (exact in practice up to a handful, then an
 * estimate).
 *
 * Crash safety: a kill -9 loses the events of the bucket being collected;
 * every flushed bucket is committed (see series_store.h). */
#ifndef SHADOWFS_FS_RECORDER_H
#define SHADOWFS_FS_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "fs/rec_name.h"
#include "predictor/series_store.h"

enum fs_event {
	FS_EV_OPEN = 0, /* open or create of a regular file */
	FS_EV_READ,     /* bytes read, latency_ns of the copy that served it */
	FS_EV_WRITE,    /* bytes written */
	FS_EV_META,     /* getattr, setattr, lookup, rename, unlink, xattr, ... */
};

/* What the recorder needs to know of a file: the backing object's identity,
 * where the file's naming stamp lives (a uint32_t in the inode, zeroed
 * when the inode is created, only ever touched by the recorder through
 * __atomic builtins; NULL: never name this file) and the inode's file
 * handle (immutable while the inode lives; NULL: none, name from an fd),
 * and where the inode keeps the directory it was last seen in through the
 * mount (fs_inode.dir_ino, read atomically by a claim; NULL: unknown; set
 * after init). Cheap to build per call. */
struct fs_file_ref {
	uint64_t dev, ino;
	uint32_t *named;
	const struct file_handle *handle;
	const ino_t *dir_ino;
};

static inline void fs_file_ref_init(struct fs_file_ref *r, uint64_t dev, uint64_t ino,
				    uint32_t *named, const struct file_handle *handle)
{
	r->dev = dev;
	r->ino = ino;
	r->named = named;
	r->handle = handle;
	r->dir_ino = NULL;
}

/* What a file will be named from, claimed by an op before it replies
 * (after the reply the inode, its handle and the op's fds may be gone). */
struct fs_rec_claim {
	int fd;                      /* dup of an fd on the file, or -1 */
	struct fs_rec_handle handle; /* len 0: none */
	uint64_t dir_ino;            /* the file's last directory, 0 unknown */
};

static inline void fs_rec_claim_init(struct fs_rec_claim *c)
{
	c->fd = -1;
	c->handle.len = 0;
	c->dir_ino = 0;
}

struct fs_recorder_config {
	const char *state_dir; /* created (0700) if missing */
	const char *backing;   /* paths are recorded relative to its realpath */
	/* > 0: an fd on the BACKING directory (O_PATH or not), reopened, used
	 * instead of opening backing by path, which is then taken as already
	 * canonical: a mount over BACKING (or over a directory above it) must
	 * not reach it through itself. 0: backing is opened and resolved. */
	int backing_fd;
	uint32_t bucket_s;     /* tier-0 bucket; 0: 60 */
	uint32_t track;        /* files in the active set; 0: 10000 */
	const struct pred_store_tiers *tiers; /* NULL: defaults with tier 0 = bucket_s */
	uint32_t ring_events;  /* per thread, power of two; 0: 8192 (512 KiB) */
	uint32_t tick_ms;      /* aggregator wake-up; 0: 50 */
	double halflife_s;     /* demand decay in the active set; 0: 3600 */
	const char *proc_root; /* NULL: "/proc" */
	/* Files without a file handle are named from an fd dup'ed at the
	 * request and closed by the aggregator: at most this many at once
	 * (past it a file is named at a later request); 0: 256. */
	uint32_t claim_fds;
	/* More KEY=VALUE lines for STATE/recorder.stats (the mount's inode
	 * table), written by the aggregator thread with each; NULL: none. */
	void (*stats_more)(FILE *f, void *arg);
	void *stats_more_arg;
	/* Names a file whose fd is disconnected (rec_name.h, fs_rec_path_of);
	 * NULL: such a file is named by its id alone. */
	fs_rec_path_of_fn *path_of;
	void *path_of_arg;
};

struct fs_recorder_stats {
	uint64_t events;        /* folded by the aggregator */
	uint64_t set_updates;   /* active-set updates: one per file, bucket and drain */
	uint64_t dropped;       /* lost to full rings */
	uint64_t tail_events;   /* not attributed to a named tracked file */
	uint64_t named, name_failures; /* namings (a file once per bucket) */
	uint64_t name_gone;     /* files unlinked before they could be named */
	uint64_t name_unknown;  /* named by id without a path: the kernel had
				 * dropped the file's dentry by its flush (the
				 * series keeps the path it had, if any) */
	uint64_t unlinked;      /* files deleted through the mount (fs_recorder_req_gone) */
	uint64_t flushes, flush_errors;
	uint32_t tracked, track_capacity, rings;
	uint64_t tracked_bytes; /* active set + sketch + recorded paths */
	uint64_t ring_bytes;
	uint64_t bytes_per_file;/* tracked_bytes per tracked-file slot */
};

struct fs_recorder;

/* Builds the store's tiers for a bucket width: tier 0 = bucket_s kept 2 days,
 * then 15 min / 30 days and 1 h / 365 days rounded up to multiples of it. */
void fs_recorder_default_tiers(uint32_t bucket_s, struct pred_store_tiers *ret);

/* Opens the store and starts the aggregator. errmsg gets a one-line reason
 * on failure (-EINVAL bad config, store errors as pred_store_open). */
int fs_recorder_start(const struct fs_recorder_config *cfg, struct fs_recorder **ret,
		      char *errmsg, size_t errlen);
/* Stops the aggregator after a last drain, writes the partial bucket, closes
 * the store. No fs_recorder_note* call may run concurrently or after.
 * NULL is fine. */
void fs_recorder_stop(struct fs_recorder *rec);

/* Hot path, per request: req_begin once (the thread's ring, the time,
 * the caller; counts the request in flight), then claim/note any number
 * of events of that request, then req_end. rec NULL: recording is off,
 * nothing happens. Everything is on the calling thread's own ring. */
struct rec_ring;
struct fs_rec_req {
	struct fs_recorder *rec;
	struct rec_ring *ring; /* NULL: no ring (events counted as lost) */
	uint64_t now_s;        /* time() at begin: the events' time */
	uint32_t stamp;        /* bucket index of now_s + 1 */
	uint32_t uid, pid;
	uint64_t comm;         /* hash of the caller's process name, 0 unknown */
};
void fs_recorder_req_begin(struct fs_recorder *rec, struct fs_rec_req *q, uid_t uid, pid_t pid);
void fs_recorder_req_end(const struct fs_rec_req *q);
/* Naming, in two steps so an op can claim before it replies and note
 * after (when the latency is known). claim fills *ret (always initialised)
 * when the file has not been claimed in this bucket: with a copy of its
 * handle, else with a dup of fd (any fd on the backing file, O_PATH
 * included; -1: none at hand, not claimed). note takes ownership of
 * claim->fd (claim NULL: none) and notes the event with the claim. */
void fs_recorder_req_claim(const struct fs_rec_req *q, const struct fs_file_ref *file, int fd,
			   struct fs_rec_claim *ret);
/* Whether claim would want an fd now (to skip finding one when not). */
bool fs_recorder_req_claim_needs_fd(const struct fs_rec_req *q, const struct fs_file_ref *file);
void fs_recorder_req_note(const struct fs_rec_req *q, enum fs_event kind,
			  const struct fs_file_ref *file, struct fs_rec_claim *claim,
			  uint64_t bytes, uint64_t latency_ns);

/* Deletions seen through the mount. name_seen: NAME in the directory dir
 * leads to the file (dev, ino), as an entry reply told the kernel (a hint
 * kept in a fixed table, rec_hints.h). name_key: the key of NAME in dir
 * for the next two. name_lookup: the file NAME leads to, if known (the hint
 * stays). name_removed: NAME in dir is gone
 * (unlinked, renamed away or over): takes its hint, true and the file it
 * led to when there was one. req_gone: the file (dev, ino) was deleted
 * (its last name went; handle: a copy of its file handle, or NULL), which
 * tells it from a new file given the same inode number: the aggregator
 * drops it from the active set and
 * counts its events of the bucket so far as tail events, so it is neither
 * admitted nor named (short-lived files). rec NULL: nothing. */
void fs_recorder_name_seen(struct fs_recorder *rec, const struct fs_file_ref *dir,
			   const char *name, uint64_t dev, uint64_t ino);
uint64_t fs_recorder_name_key(const struct fs_file_ref *dir, const char *name);
bool fs_recorder_name_lookup(struct fs_recorder *rec, uint64_t key, uint64_t *ret_dev,
			     uint64_t *ret_ino);
bool fs_recorder_name_removed(struct fs_recorder *rec, uint64_t key, uint64_t *ret_dev,
			      uint64_t *ret_ino);
void fs_recorder_req_gone(const struct fs_rec_req *q, uint64_t dev, uint64_t ino,
			  const struct fs_rec_handle *handle);

/* One-call forms, each a request of its own not counted in flight (tests,
 * benchmarks). note_fd claims with fd first. */
void fs_recorder_note(struct fs_recorder *rec, enum fs_event kind, const struct fs_file_ref *file,
		      uint64_t bytes, uint64_t latency_ns, uid_t uid, pid_t pid);
void fs_recorder_note_fd(struct fs_recorder *rec, enum fs_event kind,
			 const struct fs_file_ref *file, int fd, uint64_t bytes,
			 uint64_t latency_ns, uid_t uid, pid_t pid);
/* A request in flight without events. */
void fs_recorder_op_begin(struct fs_recorder *rec);
void fs_recorder_op_end(struct fs_recorder *rec);

/* Monotonic nanoseconds, for latencies passed to note. */
uint64_t fs_recorder_now_ns(void);

/* Makes the aggregator flush everything collected so far as if the bucket
 * had ended (tests, shutdown paths); waits until it is written. */
int fs_recorder_flush_now(struct fs_recorder *rec);
void fs_recorder_get_stats(struct fs_recorder *rec, struct fs_recorder_stats *ret);
/* The store the recorder writes (for in-process readers; do not close). */
struct pred_store *fs_recorder_store(struct fs_recorder *rec);

#endif
