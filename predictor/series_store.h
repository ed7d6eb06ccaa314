/* The series store: per-file demand buckets and host-metric buckets in sqlite.
 *
 * One database file, <state_dir>/series.db, in WAL mode (synchronous=NORMAL).
 * The recorder (fs/) writes one transaction per flushed bucket, so a crash
 * (even kill -9) loses at most the bucket being flushed and never leaves the
 * database unreadable. Readers (predictor, shadowctl) may open the same file
 * read-only while a mount writes it: WAL lets them coexist.
 *
 * Schema (PRAGMA user_version = PRED_STORE_SCHEMA):
 *   meta(key TEXT PRIMARY KEY, value)            rollup watermarks, created-at
 *   files(id INTEGER PRIMARY KEY, uuid TEXT UNIQUE, path TEXT,
 *         first_seen INTEGER, last_seen INTEGER)  stable file id -> last path
 *   file_buckets(tier, file -> files.id, start, width, opens, reads,
 *         read_bytes, writes, written_bytes, meta_ops, clients,
 *         lat_sum_ns, lat_count, lat_max_ns, lat_h0..lat_h5)
 *         PRIMARY KEY (tier, file, start); index (tier, start)
 *   host_buckets(tier, start, width, cpu_pct, mem_total_kb, mem_avail_kb,
 *         net_rx_bytes, net_tx_bytes, inflight_max, inflight_avg,
 *         tail_events)  PRIMARY KEY (tier, start)
 *   disk_buckets(tier, start, device, width, reads, read_bytes, writes,
 *         write_bytes, io_ms)  PRIMARY KEY (tier, start, device)
 * Times are unix seconds; a bucket covers [start, start + width).
 *
 * Tiers: tier 0 holds the recorder's buckets (default 60 s, kept 2 days);
 * tier k > 0 holds roll-ups of tier k-1 (default 15 min for 30 days, 1 h for
 * 365 days). pred_store_maintain() rolls up every complete tier-k bucket
 * (sums; clients and latency max take the max, so "clients" of a coarse
 * bucket is the busiest fine bucket's distinct-client count) and deletes
 * what is older than each tier's retention. Roll-up and its watermark are one
 * transaction, so re-running after a crash never counts twice.
 *
 * Every read skips damaged rows (pred_store_damaged_rows counts them).
 *
 * Thread safety: a store handle may be used from several threads; a mutex in
 * the handle serialises calls. Library code: returns 0 or -errno and never
 * logs; pred_store_errmsg() says what went wrong in words. */
#ifndef SHADOWFS_PREDICTOR_SERIES_STORE_H
#define SHADOWFS_PREDICTOR_SERIES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PRED_STORE_SCHEMA 1
#define PRED_STORE_DB_NAME "series.db"
#define PRED_STORE_MAX_TIERS 4
#define PRED_LAT_HIST 6 /* read latency: <10us <100us <1ms <10ms <100ms >=100ms */
#define PRED_ID_LEN 16  /* a file id is a binary uuid */
#define PRED_TIER_AUTO (-1)

struct pred_store;

struct pred_store_tiers {
	unsigned n;                             /* 1..PRED_STORE_MAX_TIERS */
	uint32_t width_s[PRED_STORE_MAX_TIERS]; /* each a multiple of the previous */
	uint32_t keep_s[PRED_STORE_MAX_TIERS];  /* keep_s[k] >= width_s[k + 1] */
};

/* 60 s for 2 days, 15 min for 30 days, 1 h for 365 days. */
void pred_store_tiers_default(struct pred_store_tiers *t);
/* Checks the rules above; 0 or -EINVAL. */
int pred_store_tiers_check(const struct pred_store_tiers *t);
/* Parses a duration: a positive number of seconds, or with s, m, h, d, w or
 * y; 0 or -EINVAL (also above UINT32_MAX seconds). */
int pred_parse_duration(const char *s, uint32_t *ret);
/* Parses "WIDTH:KEEP/WIDTH:KEEP/..." (durations: a number with s, m, h, d,
 * w or y; e.g. "1m:2d/15m:30d/1h:1y") and checks it; 0 or -EINVAL. */
int pred_store_tiers_parse(const char *spec, struct pred_store_tiers *ret);

struct pred_file_counters {
	uint64_t opens, reads, read_bytes, writes, written_bytes, meta_ops;
	uint32_t clients; /* distinct (uid, process name) in the bucket */
	uint64_t lat_sum_ns, lat_count, lat_max_ns;
	uint64_t lat_hist[PRED_LAT_HIST];
};

/* Histogram slot of a read latency. */
unsigned pred_lat_slot(uint64_t latency_ns);

struct pred_file_bucket {
	uint8_t id[PRED_ID_LEN];
	const char *path; /* flush: NULL or "" keeps the stored path; reads: owned by the array */
	int64_t start;
	uint32_t width;
	struct pred_file_counters c;
};

struct pred_disk_bucket {
	char device[32];
	uint64_t reads, read_bytes, writes, write_bytes, io_ms;
};

struct pred_host_bucket {
	int64_t start;
	uint32_t width;
	double cpu_pct; /* busy share of all CPUs over the bucket, 0..100 */
	uint64_t mem_total_kb, mem_avail_kb;
	uint64_t net_rx_bytes, net_tx_bytes; /* all interfaces but lo */
	uint32_t inflight_max;               /* mount requests in progress */
	double inflight_avg;
	uint64_t tail_events; /* events of files outside the tracked set */
	size_t ndisks;
	struct pred_disk_bucket *disks; /* owned by the array on reads */
};

/* Totals of one file over a window (top-N). */
struct pred_top_entry {
	uint8_t id[PRED_ID_LEN];
	char *path; /* owned by the array */
	struct pred_file_counters c;
};

enum pred_top_order {
	PRED_TOP_READS = 0,
	PRED_TOP_READ_BYTES,
	PRED_TOP_OPENS,
	PRED_TOP_EVENTS, /* opens + reads + writes + meta_ops */
};

/* Opens (creating when writable and absent) <state_dir>/series.db.
 * readonly: for shadowctl and other readers; never creates or migrates.
 * tiers: NULL for the defaults (readers may pass NULL: they do not roll up).
 * Errors: -ENOENT (no store), -EPROTO (schema version mismatch),
 * -EINVAL (tiers), -EIO (sqlite). errmsg (may be NULL) gets the reason. */
int pred_store_open(const char *state_dir, const struct pred_store_tiers *tiers,
		    bool readonly, struct pred_store **ret, char *errmsg, size_t errlen);
void pred_store_close(struct pred_store *st);
/* The reason for the last failed call on this handle. */
const char *pred_store_errmsg(struct pred_store *st);
const struct pred_store_tiers *pred_store_get_tiers(const struct pred_store *st);

/* Writes tier-0 buckets of files and (host may be NULL) of the host in one
 * transaction. Adds to a bucket already stored for the same start. */
int pred_store_flush(struct pred_store *st, const struct pred_file_bucket *files,
		     size_t nfiles, const struct pred_host_bucket *host, int64_t now);

/* Rolls complete buckets up into coarser tiers, then applies retention. */
int pred_store_maintain(struct pred_store *st, int64_t now);

/* Fallback ids when xattrs are unsupported: the id stored for path, or
 * provisional (recorded as the id of path) when none is. */
int pred_store_resolve_path(struct pred_store *st, const char *path,
			    const uint8_t provisional[PRED_ID_LEN], int64_t now,
			    uint8_t ret_id[PRED_ID_LEN]);
/* Renames the stored path of a file (fallback ids: keeps the id). */
int pred_store_rename_path(struct pred_store *st, const char *from, const char *to);

/* Reads. tier PRED_TIER_AUTO: the finest tier whose retention covers from
 * (relative to now). Windows are [from, to). Arrays are freed with the
 * matching _free function; *ret_n may be 0 (then *ret is NULL). */
int pred_store_pick_tier(const struct pred_store *st, int64_t from, int64_t now);
int pred_store_file_lookup_path(struct pred_store *st, const char *path,
				uint8_t ret_id[PRED_ID_LEN]);
int pred_store_file_path(struct pred_store *st, const uint8_t id[PRED_ID_LEN], char **ret_path);
int pred_store_file_series(struct pred_store *st, const uint8_t id[PRED_ID_LEN], int tier,
			   int64_t from, int64_t to, struct pred_file_bucket **ret,
			   size_t *ret_n);
void pred_file_buckets_free(struct pred_file_bucket *b, size_t n);
int pred_store_top(struct pred_store *st, int tier, int64_t from, int64_t to, size_t n,
		   enum pred_top_order order, struct pred_top_entry **ret, size_t *ret_n);
void pred_top_entries_free(struct pred_top_entry *e, size_t n);
int pred_store_host_series(struct pred_store *st, int tier, int64_t from, int64_t to,
			   struct pred_host_bucket **ret, size_t *ret_n);
void pred_host_buckets_free(struct pred_host_bucket *b, size_t n);
/* End of the record in a tier: the latest start + width of its host
 * buckets (written every bucket, busy or not) that start before `before`
 * (INT64_MAX: any); 0 when there is none. */
int pred_store_record_end(struct pred_store *st, int tier, int64_t before, int64_t *ret);
/* Damaged rows (hand-edited or corrupt: a negative count, text or a blob
 * where a number belongs, a start before 1970, a width outside
 * 1..UINT32_MAX, a malformed file id) that reads on this handle skipped,
 * so far: the caller warns once when it becomes non-zero. */
uint64_t pred_store_damaged_rows(struct pred_store *st);
/* Number of distinct files in the store (for shadowctl and tests). */
int pred_store_file_count(struct pred_store *st, uint64_t *ret);

#endif
