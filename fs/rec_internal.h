/* The access recorder's internals shared by its two halves: the FUSE
 * threads' side (fs/rec_ring.c: per-thread rings, request contexts,
 * notes and claims) and the aggregator, writer and lifetime
 * (fs/recorder.c). The layouts below are hot-path data: one 64-byte item
 * per event, producer and consumer fields on separate cache lines.
 * Nothing outside the recorder includes this. */
#ifndef SHADOWFS_FS_REC_INTERNAL_H
#define SHADOWFS_FS_REC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/host_metrics.h"
#include "fs/rec_hints.h"
#include "fs/rec_name.h"
#include "fs/recorder.h"
#include "predictor/heavy_hitters.h"

#define REC_CACHELINE 64
#define REC_EV_NAME 0x80 /* kind of a struct rec_name_event */
#define REC_EV_GONE 0x81 /* kind of a struct rec_gone_event */

struct rec_event {
	uint8_t kind; /* enum fs_event */
	uint8_t pad[7];
	uint64_t ts_s; /* time(): when the request began */
	uint64_t dev, ino;
	uint64_t bytes, latency_ns;
	uint32_t uid, pid;
	uint64_t comm; /* hash of the process name (opens), 0 unknown */
};

/* A naming claim: always published together with, and just before, the
 * event of the file it names, in the same ring. */
struct rec_name_event {
	uint8_t kind; /* REC_EV_NAME */
	uint8_t pad[3];
	int32_t fd;   /* owned dup, or -1 */
	struct fs_rec_handle handle;
	uint64_t dir_ino; /* the file's last directory through the mount, 0 unknown */
};

/* A file deleted through the mount (not an event). */
struct rec_gone_event {
	uint8_t kind; /* REC_EV_GONE */
	uint8_t pad[3];
	uint32_t handle_hash; /* fs_rec_handle_hash of its handle, 0 unknown */
	uint64_t ts_s;
	uint64_t dev, ino;
};

union rec_item {
	uint8_t kind;
	struct rec_event ev;
	struct rec_name_event name;
	struct rec_gone_event gone;
};
_Static_assert(sizeof(union rec_item) == 64, "one item per cache line");

struct rec_ring {
	/* Producer line: written by the owning thread only. */
	_Alignas(REC_CACHELINE) _Atomic uint64_t head;
	uint64_t cached_tail;
	_Atomic uint64_t dropped;
	_Atomic int64_t inflight;
	/* Owning thread only: process names seen by this thread's opens. */
	struct rec_comm_tls {
		pid_t pid;
		uint32_t stamp;
		uint64_t hash;
	} comm[32];
	uint64_t stamp_s; /* second of the last request */
	uint32_t stamp;   /* its bucket index + 1 */
	/* Consumer line: written by the aggregator only. */
	_Alignas(REC_CACHELINE) _Atomic uint64_t tail;
	uint64_t drain_head; /* head read at the start of a drain */
	bool drain_orphan;   /* orphan, read just before drain_head */
	/* Set at creation. */
	_Alignas(REC_CACHELINE) uint32_t mask;
	union rec_item *items;
	_Atomic int refs;
	_Atomic bool orphan;       /* its thread has let it go */
	struct rec_ring *next;     /* rec->rings_lock */
};

/* Counters of one file in one bucket. */
struct rec_slot {
	uint32_t opens, reads, writes, meta;
	uint64_t read_bytes, written_bytes, lat_sum;
	uint32_t lat_count, lat_hist[PRED_LAT_HIST];
	uint64_t lat_max;
	uint64_t clients[2]; /* 128-bit linear-counting bitmap */
};

enum rec_naming {
	REC_UNNAMED = 0,
	REC_BY_HANDLE, /* named by the writer from the handle, per bucket */
	REC_BY_NAME,   /* named already from an fd (inodes without a handle) */
};

/* Payload of a tracked file in the active set. */
struct rec_entry {
	struct rec_slot slot[2];
	uint8_t naming; /* enum rec_naming */
	union {
		struct {
			struct fs_rec_handle handle;
			uint64_t dir_ino; /* its claim's */
		} by_handle;                 /* REC_BY_HANDLE */
		struct {
			uint8_t id[PRED_ID_LEN];
			char *path; /* relative to BACKING, owned */
		} named;            /* REC_BY_NAME */
	} u;
};

/* Events of one file (and bucket slot) within one drain, summed before
 * they touch the active set: a metadata-heavy workload notes several
 * events in a row for the same inode (create, write, setattr, getattr) and
 * for its directory, and one pred_hh_add with their total weight costs
 * about what one event did. */
struct rec_fold {
	uint64_t dev, ino;
	uint32_t s;      /* bucket slot */
	uint32_t events; /* weight for the active set */
	bool gone;       /* deleted through the mount: drop it, events to the tail */
	uint32_t gone_hash; /* the deleted file's handle hash, 0 unknown */
	bool has_name;
	uint64_t name_s; /* time of the claim's event, seconds */
	struct rec_name_event name; /* the latest claim (fd owned) */
	struct rec_slot delta;
};

#define REC_FOLD_SLOTS 512 /* hash positions, power of two */
#define REC_FOLD_MAX 256   /* distinct files per fold; more: apply and go on */

struct rec_fold_table {
	uint16_t pos[REC_FOLD_SLOTS]; /* index into folds + 1, 0 empty */
	uint32_t n;
	unsigned first_s;  /* slot of the first item since the table was empty */
	bool both_slots;   /* items of both slots since: fold_gone looks at both */
	struct rec_fold folds[REC_FOLD_MAX];
};

/* Files deleted in the last drains (REC_EV_GONE), direct-mapped: FUSE
 * threads note a request's event after its reply, so an event of a file
 * (a stat just before the unlink) can reach its ring after the deletion
 * reached another ring, and be drained after it. */
#define REC_GONE_RECENT 1024 /* power of two */
#define REC_GONE_DRAINS 2    /* drains a deletion is remembered for */
struct rec_gone_recent {
	uint64_t dev, ino;
	uint64_t drain; /* drain number + 1 when noted; 0 empty */
	uint32_t hash;  /* its handle hash, 0 unknown */
};

struct rec_agg {
	struct pred_hh *hh;
	uint64_t drains; /* drains so far */
	uint64_t slot_memo_s, slot_memo_open; /* slot_of_time's last answer */
	unsigned slot_memo;
	struct rec_gone_recent *gone_recent;
	struct fs_host_sampler *host;
	uint64_t open_idx;      /* bucket being collected (not yet flushed) */
	uint64_t tail[2];       /* tail events per slot */
	uint64_t inflight_sum, inflight_samples;
	uint32_t inflight_max;
	uint64_t path_bytes;    /* of REC_BY_NAME entries */
	uint64_t events, named, name_failures, name_gone; /* published by update_stats */
	uint64_t unlinked;          /* deletions seen through the mount (REC_EV_GONE) */
	uint64_t set_updates;       /* pred_hh_add calls (events / set_updates: folding) */
	struct rec_client_memo {
		bool valid;
		uint32_t uid, pid;
		uint64_t comm;
		unsigned bit;
	} last_client;
	struct rec_fold_table *fold;
};

struct fs_recorder {
	uint64_t gen; /* unique per recorder: matches the thread-local cache */
	uint32_t width, tick_ms, ring_events;
	double decay; /* per bucket */
	char *state_dir, *backing, *proc_root;
	void (*stats_more)(FILE *f, void *arg); /* fs_recorder_config's */
	void *stats_more_arg;
	struct fs_rec_namer namer; /* aggregator (fd claims) and writer (handles) */
	struct pred_store *store;

	pthread_mutex_t rings_lock; /* protects rings and nrings */
	struct rec_ring *rings;
	uint32_t nrings;
	_Atomic uint64_t lost; /* events lost before a ring existed */
	_Atomic bool kicked;   /* a ring passed half full: drain now (ring_kick) */
	struct fs_rec_hints *hints; /* any thread (rec_hints.h) */

	pthread_mutex_t lock; /* protects stop, flush_req, flush_done, stats */
	pthread_cond_t wake, flushed;
	bool stop;
	uint64_t flush_req, flush_done;
	struct fs_recorder_stats stats;

	pthread_mutex_t wq_lock; /* protects the writer queue below */
	pthread_cond_t wq_cond;
	struct rec_batch *wq_head, **wq_tail;
	size_t wq_len;
	bool wq_stop;
	/* Namings done by the writer thread (add_writer_namings). */
	_Atomic uint64_t w_named, w_name_failures, w_name_gone, w_name_unknown;
	pthread_t writer;
	bool writer_running;

	pthread_t thread;
	bool running;
	struct rec_agg agg; /* aggregator thread only */
};

/* fs/rec_ring.c */
/* Drops one reference of a ring (its thread's or the recorder's); the
 * last frees it. */
void rec_ring_unref(struct rec_ring *r);
/* The fds of naming claims (dup'ed at a request for a file without a
 * handle, closed by the aggregator) are counted process-wide, like the fd
 * limit they count against: a claim past the bound is not made (the file
 * is named at a later request). rec_claim_fd_close closes one (fd >= 0). */
void rec_claim_fds_bound(uint32_t max);
void rec_claim_fd_close(int fd);
/* A number no other recorder of this process had (the thread-local ring
 * cache tells recorders apart by it). */
uint64_t rec_next_gen(void);

#endif
