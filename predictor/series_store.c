/* The series store: see series_store.h for the schema and the contract.
 *
 * Every public call takes st->lock, then talks to sqlite through statements
 * prepared on demand; writes are wrapped in BEGIN IMMEDIATE ... COMMIT so a
 * crash leaves either the whole flush or none of it. */
#include "predictor/series_store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

struct pred_store {
	pthread_mutex_t lock; /* serialises every call below */
	sqlite3 *db;          /* protected by lock */
	bool readonly;
	struct pred_store_tiers tiers;
	char errmsg[256]; /* protected by lock */
	uint64_t damaged; /* rows reads skipped (bucket_ok, file_id_ok); under lock */
};

static const char *const schema_sql =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
	"CREATE TABLE files(id INTEGER PRIMARY KEY, uuid TEXT NOT NULL UNIQUE,"
	" path TEXT, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
	"CREATE INDEX files_by_path ON files(path);"
	"CREATE TABLE file_buckets(tier INTEGER NOT NULL, file INTEGER NOT NULL"
	" REFERENCES files(id), start INTEGER NOT NULL,"
	" width INTEGER NOT NULL,"
	" opens INTEGER NOT NULL DEFAULT 0, reads INTEGER NOT NULL DEFAULT 0,"
	" read_bytes INTEGER NOT NULL DEFAULT 0, writes INTEGER NOT NULL DEFAULT 0,"
	" written_bytes INTEGER NOT NULL DEFAULT 0, meta_ops INTEGER NOT NULL DEFAULT 0,"
	" clients INTEGER NOT NULL DEFAULT 0, lat_sum_ns INTEGER NOT NULL DEFAULT 0,"
	" lat_count INTEGER NOT NULL DEFAULT 0, lat_max_ns INTEGER NOT NULL DEFAULT 0,"
	" lat_h0 INTEGER NOT NULL DEFAULT 0, lat_h1 INTEGER NOT NULL DEFAULT 0,"
	" lat_h2 INTEGER NOT NULL DEFAULT 0, lat_h3 INTEGER NOT NULL DEFAULT 0,"
	" lat_h4 INTEGER NOT NULL DEFAULT 0, lat_h5 INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(tier, file, start)) WITHOUT ROWID;"
	"CREATE INDEX file_buckets_by_time ON file_buckets(tier, start);"
	"CREATE TABLE host_buckets(tier INTEGER NOT NULL, start INTEGER NOT NULL,"
	" width INTEGER NOT NULL, cpu_pct REAL, mem_total_kb INTEGER,"
	" mem_avail_kb INTEGER, net_rx_bytes INTEGER, net_tx_bytes INTEGER,"
	" inflight_max INTEGER, inflight_avg REAL, tail_events INTEGER,"
	" PRIMARY KEY(tier, start)) WITHOUT ROWID;"
	"CREATE TABLE disk_buckets(tier INTEGER NOT NULL, start INTEGER NOT NULL,"
	" device TEXT NOT NULL, width INTEGER NOT NULL, reads INTEGER,"
	" read_bytes INTEGER, writes INTEGER, write_bytes INTEGER, io_ms INTEGER,"
	" PRIMARY KEY(tier, start, device)) WITHOUT ROWID;";

/* Sums of counters are CAST(total(x) AS INTEGER), never sum(x): sqlite's
 * sum() of integers fails the whole statement with "integer overflow", so
 * one bucket edited (or grown) past INT64_MAX stopped every roll-up and,
 * behind them, every expiry for good (the store grew without bound), and
 * failed every top query (shadowctl top, the mount's forecasts); total()
 * is a double and the cast saturates. */

/* Column list shared by inserts and roll-ups of file buckets. */
#define FB_COUNTERS                                                            \
	"opens, reads, read_bytes, writes, written_bytes, meta_ops, clients, "     \
	"lat_sum_ns, lat_count, lat_max_ns, lat_h0, lat_h1, lat_h2, lat_h3, "      \
	"lat_h4, lat_h5"
/* The checks of a row read (bucket_ok, see register_checks), p its table's
 * alias with its dot, or "". */
#define FB_OK(p)                                                               \
	"bucket_ok(" p "start, " p "width, " p "opens, " p "reads, " p             \
	"read_bytes, " p "writes, " p "written_bytes, " p "meta_ops, " p           \
	"clients, " p "lat_sum_ns, " p "lat_count, " p "lat_max_ns, " p "lat_h0, " \
	p "lat_h1, " p "lat_h2, " p "lat_h3, " p "lat_h4, " p "lat_h5)"
#define HB_OK                                                                  \
	"bucket_ok(start, width, cpu_pct, mem_total_kb, mem_avail_kb,"             \
	" net_rx_bytes, net_tx_bytes, inflight_max, inflight_avg, tail_events)"
#define DB_OK "bucket_ok(start, width, reads, read_bytes, writes, write_bytes, io_ms)"
#define FB_UPSERT_ADD                                                          \
	" ON CONFLICT(tier, file, start) DO UPDATE SET"                            \
	" opens = opens + excluded.opens, reads = reads + excluded.reads,"         \
	" read_bytes = read_bytes + excluded.read_bytes,"                          \
	" writes = writes + excluded.writes,"                                      \
	" written_bytes = written_bytes + excluded.written_bytes,"                 \
	" meta_ops = meta_ops + excluded.meta_ops,"                                \
	" clients = max(clients, excluded.clients),"                               \
	" lat_sum_ns = lat_sum_ns + excluded.lat_sum_ns,"                          \
	" lat_count = lat_count + excluded.lat_count,"                             \
	" lat_max_ns = max(lat_max_ns, excluded.lat_max_ns),"                      \
	" lat_h0 = lat_h0 + excluded.lat_h0, lat_h1 = lat_h1 + excluded.lat_h1,"   \
	" lat_h2 = lat_h2 + excluded.lat_h2, lat_h3 = lat_h3 + excluded.lat_h3,"   \
	" lat_h4 = lat_h4 + excluded.lat_h4, lat_h5 = lat_h5 + excluded.lat_h5"

static int set_err(struct pred_store *st, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_err(struct pred_store *st, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return rc;
}

static int db_err(struct pred_store *st, const char *what)
{
	int code = sqlite3_errcode(st->db);
	set_err(st, 0, "%s: %s", what, sqlite3_errmsg(st->db));
	switch (code) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EPROTO;
	default:
		return -EIO;
	}
}

void pred_store_tiers_default(struct pred_store_tiers *t)
{
	memset(t, 0, sizeof(*t));
	t->n = 3;
	t->width_s[0] = 60;
	t->keep_s[0] = 2 * 86400;
	t->width_s[1] = 900;
	t->keep_s[1] = 30 * 86400;
	t->width_s[2] = 3600;
	t->keep_s[2] = 365 * 86400;
}

int pred_store_tiers_check(const struct pred_store_tiers *t)
{
	if (!t || t->n < 1 || t->n > PRED_STORE_MAX_TIERS)
		return -EINVAL;
	for (unsigned k = 0; k < t->n; k++) {
		if (t->width_s[k] == 0 || t->keep_s[k] < t->width_s[k])
			return -EINVAL;
		if (k > 0 && (t->width_s[k] <= t->width_s[k - 1] ||
			      t->width_s[k] % t->width_s[k - 1] != 0))
			return -EINVAL;
		if (k + 1 < t->n && t->keep_s[k] < t->width_s[k + 1])
			return -EINVAL;
	}
	return 0;
}

int pred_parse_duration(const char *buf, uint32_t *ret)
{
	char *end = NULL;
	if (!(buf[0] >= '0' && buf[0] <= '9')) /* strtoull skips blanks, takes signs */
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf || v == 0)
		return -EINVAL;
	unsigned long long mul = 1;
	if (*end) {
		if (end[1])
			return -EINVAL;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		case 'w': mul = 7 * 86400ULL; break;
		case 'y': mul = 365 * 86400ULL; break;
		default: return -EINVAL;
		}
	}
	if (v > UINT32_MAX / mul)
		return -EINVAL;
	*ret = (uint32_t)(v * mul);
	return 0;
}

static int parse_span(const char *s, size_t len, uint32_t *ret)
{
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return pred_parse_duration(buf, ret);
}

int pred_store_tiers_parse(const char *spec, struct pred_store_tiers *ret)
{
	struct pred_store_tiers t;
	memset(&t, 0, sizeof(t));
	const char *p = spec;
	while (p && *p) {
		if (t.n == PRED_STORE_MAX_TIERS)
			return -EINVAL;
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		if (!colon || parse_span(p, (size_t)(colon - p), &t.width_s[t.n]) ||
		    parse_span(colon + 1, len - (size_t)(colon - p) - 1, &t.keep_s[t.n]))
			return -EINVAL;
		t.n++;
		p = slash ? slash + 1 : NULL;
		if (slash && !*p)
			return -EINVAL;
	}
	if (pred_store_tiers_check(&t))
		return -EINVAL;
	*ret = t;
	return 0;
}

unsigned pred_lat_slot(uint64_t ns)
{
	uint64_t limit = 10000; /* 10 us */
	for (unsigned i = 0; i < PRED_LAT_HIST - 1; i++, limit *= 10)
		if (ns < limit)
			return i;
	return PRED_LAT_HIST - 1;
}

const char *pred_store_errmsg(struct pred_store *st) { return st ? st->errmsg : "no store"; }

const struct pred_store_tiers *pred_store_get_tiers(const struct pred_store *st)
{
	return &st->tiers;
}

static int register_checks(struct pred_store *st);

static int exec(struct pred_store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = db_err(st, sql);
		if (msg) {
			snprintf(st->errmsg, sizeof(st->errmsg), "%.60s: %s", sql, msg);
			sqlite3_free(msg);
		}
		return rc;
	}
	return 0;
}

static int prepare(struct pred_store *st, const char *sql, sqlite3_stmt **ret)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, ret, NULL) != SQLITE_OK)
		return db_err(st, "prepare");
	return 0;
}

static int user_version(struct pred_store *st, int *ret)
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "PRAGMA user_version", &s);
	if (rc)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW)
		rc = db_err(st, "read schema version");
	else
		*ret = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc;
}

static int create_schema(struct pred_store *st)
{
	int rc = exec(st, "BEGIN IMMEDIATE");
	if (rc)
		return rc;
	int v = 0;
	rc = user_version(st, &v); /* another opener may have won the race */
	if (!rc && v == 0) {
		rc = exec(st, schema_sql);
		if (!rc) {
			char sql[64];
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", PRED_STORE_SCHEMA);
			rc = exec(st, sql);
		}
	}
	if (rc) {
		exec(st, "ROLLBACK");
		return rc;
	}
	return exec(st, "COMMIT");
}

static int meta_get_int(struct pred_store *st, const char *key, int64_t *ret);
static int meta_set_int(struct pred_store *st, const char *key, int64_t v);

/* The writer records its tiers in meta so that readers (shadowctl) know the
 * widths the buckets were written at (a mount with bucket=10 has 10 s
 * buckets in tier 0, not the default 60 s). */
static int tiers_save(struct pred_store *st)
{
	int rc = meta_set_int(st, "tiers", st->tiers.n);
	for (unsigned k = 0; !rc && k < st->tiers.n; k++) {
		char key[32];
		snprintf(key, sizeof(key), "tier%u_width", k);
		rc = meta_set_int(st, key, st->tiers.width_s[k]);
		snprintf(key, sizeof(key), "tier%u_keep", k);
		if (!rc)
			rc = meta_set_int(st, key, st->tiers.keep_s[k]);
	}
	return rc;
}

/* A reader's tiers: those recorded by the writer, else (a store written
 * before they were recorded) the defaults. */
static int tiers_load(struct pred_store *st)
{
	int64_t n;
	int rc = meta_get_int(st, "tiers", &n);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	struct pred_store_tiers t;
	memset(&t, 0, sizeof(t));
	if (n < 1 || n > PRED_STORE_MAX_TIERS)
		return set_err(st, -EPROTO, "the store records %lld tiers", (long long)n);
	t.n = (unsigned)n;
	for (unsigned k = 0; k < t.n; k++) {
		char key[32];
		int64_t w = 0, keep = 0;
		snprintf(key, sizeof(key), "tier%u_width", k);
		rc = meta_get_int(st, key, &w);
		snprintf(key, sizeof(key), "tier%u_keep", k);
		if (!rc)
			rc = meta_get_int(st, key, &keep);
		if (rc || w < 1 || w > UINT32_MAX || keep < 1 || keep > UINT32_MAX)
			return set_err(st, rc ? rc : -EPROTO, "the store's tier %u is unreadable", k);
		t.width_s[k] = (uint32_t)w;
		t.keep_s[k] = (uint32_t)keep;
	}
	if (pred_store_tiers_check(&t))
		return set_err(st, -EPROTO, "the store records inconsistent tiers");
	st->tiers = t;
	return 0;
}

int pred_store_open(const char *state_dir, const struct pred_store_tiers *tiers,
		    bool readonly, struct pred_store **ret, char *errmsg, size_t errlen)
{
	*ret = NULL;
	struct pred_store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutex_init(&st->lock, NULL);
	st->readonly = readonly;
	int rc = 0;
	if (tiers) {
		if (pred_store_tiers_check(tiers)) {
			rc = set_err(st, -EINVAL,
				     "bad store tiers: widths must grow by whole multiples and "
				     "each tier must be kept at least one next-tier bucket");
			goto fail;
		}
		st->tiers = *tiers;
	} else {
		pred_store_tiers_default(&st->tiers);
	}

	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, PRED_STORE_DB_NAME) >=
	    (int)sizeof(path)) {
		rc = set_err(st, -ENAMETOOLONG, "state directory path too long");
		goto fail;
	}
	struct stat sb;
	if (readonly && stat(path, &sb) != 0) {
		rc = set_err(st, -errno, "no series store at %s: %s", path, strerror(errno));
		goto fail;
	}
	int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	flags |= SQLITE_OPEN_NOMUTEX; /* st->lock serialises */
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = st->db ? db_err(st, path) : -ENOMEM;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	sqlite3_extended_result_codes(st->db, 0);
	/* A store may be another user's file (root's shadowctl reads the
	 * state of a user's mount): nothing in it runs as code. The schema
	 * has no views nor triggers; one that has them is refused when read,
	 * and functions stay out of its schema. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	rc = register_checks(st);
	if (rc)
		goto fail;
	if (!readonly) {
		rc = exec(st, "PRAGMA journal_mode = WAL");
		if (!rc)
			rc = exec(st, "PRAGMA synchronous = NORMAL");
		if (rc == -EPROTO) { /* not a database, or a damaged one */
			char why[sizeof(st->errmsg)];
			memcpy(why, st->errmsg, sizeof(why));
			rc = set_err(st, rc,
				     "%.100s is not a readable series store (%.80s): move it "
				     "aside to start a new history",
				     path, why);
		}
		if (rc)
			goto fail;
	}
	int v = -1;
	rc = user_version(st, &v);
	if (rc) {
		char why[sizeof(st->errmsg)];
		memcpy(why, st->errmsg, sizeof(why));
		rc = set_err(st, rc, "%.100s is not a readable series store (%.120s)", path, why);
		goto fail;
	}
	if (v == 0 && readonly) {
		rc = set_err(st, -EPROTO, "%s has no series-store schema yet", path);
		goto fail;
	}
	if (v == 0) {
		rc = create_schema(st);
		if (rc)
			goto fail;
		rc = user_version(st, &v);
		if (rc)
			goto fail;
	}
	if (v != PRED_STORE_SCHEMA) {
		rc = set_err(st, -EPROTO,
			     "%s has series-store schema version %d; this build reads version %d",
			     path, v, PRED_STORE_SCHEMA);
		goto fail;
	}
	rc = readonly ? (tiers ? 0 : tiers_load(st)) : tiers_save(st);
	if (rc)
		goto fail;
	*ret = st;
	return 0;
fail:
	if (errmsg && errlen)
		snprintf(errmsg, errlen, "%s", st->errmsg[0] ? st->errmsg : strerror(-rc));
	pred_store_close(st);
	return rc;
}

void pred_store_close(struct pred_store *st)
{
	if (!st)
		return;
	/* The writer's history into series.db itself before it goes. The
	 * last connection to close checkpoints the WAL, but in the mount that
	 * is the shadowing layer's reader, which cannot: after every clean
	 * unmount the history was in series.db-wal alone, and series.db
	 * without it (a backup of a stopped mount's state) had no schema.
	 * Passive: never waits for a reader (shadowctl) that holds a read. */
	if (st->db && !st->readonly)
		sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (st->db)
		sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static void id_text(const uint8_t id[PRED_ID_LEN], char out[37])
{
	uuid_unparse_lower(id, out);
}

static int id_parse(const unsigned char *text, uint8_t out[PRED_ID_LEN])
{
	if (!text || uuid_parse((const char *)text, out) != 0)
		return -EPROTO;
	return 0;
}

/* A store is a file anyone with its owner's rights may edit (or a disk
 * may damage): every read of a bucket goes through bucket_ok() and every
 * file id through file_id_ok(), SQL functions registered on each handle,
 * so a damaged row is skipped (and counted: pred_store_damaged_rows) in
 * one place rather than read as nonsense (a negative count is 2^64 minus
 * it, text and blobs read as 0, a width of -7 as 4294967289 s) or failing
 * the whole read (one malformed id failed every top query: shadowctl top,
 * forecast and the mount's forecasts).
 *
 * bucket_ok(start, width, value...): start an integer >= 0 (not before
 * 1970), width an integer in 1..UINT32_MAX, each value NULL (reads as 0),
 * or an integer or finite real >= 0 (a sum past INT64_MAX is a real: it
 * reads saturated). Text, blobs, negative numbers and infinities (sqlite
 * keeps REAL ones: shadowctl load printed 'inf') are damage. A host's
 * cpu_pct above 100 reads as 100. */
static bool value_ok(sqlite3_value *v, sqlite3_int64 lo, sqlite3_int64 hi)
{
	switch (sqlite3_value_type(v)) {
	case SQLITE_NULL:
		return true;
	case SQLITE_INTEGER: {
		sqlite3_int64 x = sqlite3_value_int64(v);
		return x >= lo && x <= hi;
	}
	case SQLITE_FLOAT: {
		double x = sqlite3_value_double(v);
		return isfinite(x) && x >= (double)lo && (hi == INT64_MAX || x <= (double)hi);
	}
	default:
		return false;
	}
}

static void sql_bucket_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct pred_store *st = sqlite3_user_data(ctx);
	bool ok = argc >= 2 && sqlite3_value_type(argv[0]) == SQLITE_INTEGER &&
		  sqlite3_value_int64(argv[0]) >= 0 &&
		  sqlite3_value_type(argv[1]) == SQLITE_INTEGER && value_ok(argv[1], 1, UINT32_MAX);
	for (int i = 2; ok && i < argc; i++)
		ok = value_ok(argv[i], 0, INT64_MAX);
	if (!ok)
		st->damaged++;
	sqlite3_result_int(ctx, ok);
}

static void sql_file_id_ok(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct pred_store *st = sqlite3_user_data(ctx);
	uint8_t id[PRED_ID_LEN];
	bool ok = argc == 1 && sqlite3_value_type(argv[0]) == SQLITE_TEXT &&
		  id_parse(sqlite3_value_text(argv[0]), id) == 0;
	if (!ok)
		st->damaged++;
	sqlite3_result_int(ctx, ok);
}

/* Direct-only: a view or trigger in a (hostile) schema cannot call them. */
static int register_checks(struct pred_store *st)
{
	int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
	if (sqlite3_create_function(st->db, "bucket_ok", -1, flags, st, sql_bucket_ok, NULL,
				    NULL) != SQLITE_OK ||
	    sqlite3_create_function(st->db, "file_id_ok", 1, flags, st, sql_file_id_ok, NULL,
				    NULL) != SQLITE_OK)
		return db_err(st, "register checks");
	return 0;
}

uint64_t pred_store_damaged_rows(struct pred_store *st)
{
	pthread_mutex_lock(&st->lock);
	uint64_t n = st->damaged;
	pthread_mutex_unlock(&st->lock);
	return n;
}

static void bind_counters(sqlite3_stmt *s, int first, const struct pred_file_counters *c)
{
	int i = first;
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->opens);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->reads);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->read_bytes);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->writes);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->written_bytes);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->meta_ops);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->clients);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->lat_sum_ns);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->lat_count);
	sqlite3_bind_int64(s, i++, (sqlite3_int64)c->lat_max_ns);
	for (unsigned h = 0; h < PRED_LAT_HIST; h++)
		sqlite3_bind_int64(s, i++, (sqlite3_int64)c->lat_hist[h]);
}

static void column_counters(sqlite3_stmt *s, int first, struct pred_file_counters *c)
{
	int i = first;
	c->opens = (uint64_t)sqlite3_column_int64(s, i++);
	c->reads = (uint64_t)sqlite3_column_int64(s, i++);
	c->read_bytes = (uint64_t)sqlite3_column_int64(s, i++);
	c->writes = (uint64_t)sqlite3_column_int64(s, i++);
	c->written_bytes = (uint64_t)sqlite3_column_int64(s, i++);
	c->meta_ops = (uint64_t)sqlite3_column_int64(s, i++);
	sqlite3_int64 clients = sqlite3_column_int64(s, i++);
	c->clients = clients > UINT32_MAX ? UINT32_MAX : (uint32_t)clients;
	c->lat_sum_ns = (uint64_t)sqlite3_column_int64(s, i++);
	c->lat_count = (uint64_t)sqlite3_column_int64(s, i++);
	c->lat_max_ns = (uint64_t)sqlite3_column_int64(s, i++);
	for (unsigned h = 0; h < PRED_LAT_HIST; h++)
		c->lat_hist[h] = (uint64_t)sqlite3_column_int64(s, i++);
}

static int step_done(struct pred_store *st, sqlite3_stmt *s, const char *what)
{
	int r = sqlite3_step(s);
	if (r != SQLITE_DONE && r != SQLITE_ROW)
		return db_err(st, what);
	return 0;
}

static int flush_files(struct pred_store *st, const struct pred_file_bucket *files,
		       size_t nfiles, int64_t now)
{
	sqlite3_stmt *up = NULL, *ins = NULL;
	int rc = prepare(st,
			 "INSERT INTO files(uuid, path, first_seen, last_seen) VALUES(?1, ?2, ?3, ?3)"
			 " ON CONFLICT(uuid) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),"
			 " path = coalesce(excluded.path, path) RETURNING id",
			 &up);
	if (!rc)
		rc = prepare(st,
			     "INSERT INTO file_buckets(tier, file, start, width, " FB_COUNTERS ")"
			     " VALUES(0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
			     " ?13, ?14, ?15, ?16, ?17, ?18, ?19)" FB_UPSERT_ADD,
			     &ins);
	for (size_t i = 0; !rc && i < nfiles; i++) {
		const struct pred_file_bucket *b = &files[i];
		char idt[37];
		id_text(b->id, idt);
		sqlite3_bind_text(up, 1, idt, -1, SQLITE_TRANSIENT);
		if (b->path && b->path[0])
			sqlite3_bind_text(up, 2, b->path, -1, SQLITE_TRANSIENT);
		else /* unknown: the path stored, if any, stays (coalesce) */
			sqlite3_bind_null(up, 2);
		sqlite3_bind_int64(up, 3, now);
		if (sqlite3_step(up) != SQLITE_ROW) {
			rc = db_err(st, "record file");
			break;
		}
		sqlite3_int64 fid = sqlite3_column_int64(up, 0);
		rc = step_done(st, up, "record file");
		sqlite3_reset(up);
		if (rc)
			break;
		sqlite3_bind_int64(ins, 1, fid);
		sqlite3_bind_int64(ins, 2, b->start);
		sqlite3_bind_int64(ins, 3, b->width ? b->width : st->tiers.width_s[0]);
		bind_counters(ins, 4, &b->c);
		rc = step_done(st, ins, "record file bucket");
		sqlite3_reset(ins);
	}
	sqlite3_finalize(up);
	sqlite3_finalize(ins);
	return rc;
}

static int flush_host(struct pred_store *st, const struct pred_host_bucket *h)
{
	sqlite3_stmt *s = NULL, *d = NULL;
	int rc = prepare(st,
			 "INSERT OR REPLACE INTO host_buckets(tier, start, width, cpu_pct,"
			 " mem_total_kb, mem_avail_kb, net_rx_bytes, net_tx_bytes, inflight_max,"
			 " inflight_avg, tail_events) VALUES(0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			 &s);
	if (!rc)
		rc = prepare(st,
			     "INSERT OR REPLACE INTO disk_buckets(tier, start, device, width, reads,"
			     " read_bytes, writes, write_bytes, io_ms)"
			     " VALUES(0, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
			     &d);
	if (rc)
		goto out;
	uint32_t width = h->width ? h->width : st->tiers.width_s[0];
	sqlite3_bind_int64(s, 1, h->start);
	sqlite3_bind_int64(s, 2, width);
	sqlite3_bind_double(s, 3, h->cpu_pct);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)h->mem_total_kb);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)h->mem_avail_kb);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)h->net_rx_bytes);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)h->net_tx_bytes);
	sqlite3_bind_int64(s, 8, h->inflight_max);
	sqlite3_bind_double(s, 9, h->inflight_avg);
	sqlite3_bind_int64(s, 10, (sqlite3_int64)h->tail_events);
	rc = step_done(st, s, "record host bucket");
	for (size_t i = 0; !rc && i < h->ndisks; i++) {
		const struct pred_disk_bucket *k = &h->disks[i];
		sqlite3_bind_int64(d, 1, h->start);
		sqlite3_bind_text(d, 2, k->device, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(d, 3, width);
		sqlite3_bind_int64(d, 4, (sqlite3_int64)k->reads);
		sqlite3_bind_int64(d, 5, (sqlite3_int64)k->read_bytes);
		sqlite3_bind_int64(d, 6, (sqlite3_int64)k->writes);
		sqlite3_bind_int64(d, 7, (sqlite3_int64)k->write_bytes);
		sqlite3_bind_int64(d, 8, (sqlite3_int64)k->io_ms);
		rc = step_done(st, d, "record disk bucket");
		sqlite3_reset(d);
	}
out:
	sqlite3_finalize(s);
	sqlite3_finalize(d);
	return rc;
}

int pred_store_flush(struct pred_store *st, const struct pred_file_bucket *files,
		     size_t nfiles, const struct pred_host_bucket *host, int64_t now)
{
	if (st->readonly)
		return -EROFS;
	pthread_mutex_lock(&st->lock);
	int rc = exec(st, "BEGIN IMMEDIATE");
	if (rc)
		goto out;
	rc = flush_files(st, files, nfiles, now);
	if (!rc && host)
		rc = flush_host(st, host);
	if (rc) {
		char keep[sizeof(st->errmsg)];
		memcpy(keep, st->errmsg, sizeof(keep));
		exec(st, "ROLLBACK");
		memcpy(st->errmsg, keep, sizeof(keep));
		goto out;
	}
	rc = exec(st, "COMMIT");
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int meta_get_int(struct pred_store *st, const char *key, int64_t *ret)
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "SELECT value FROM meta WHERE key = ?1", &s);
	if (rc)
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_INTEGER)
		*ret = sqlite3_column_int64(s, 0);
	else if (r == SQLITE_ROW)
		rc = set_err(st, -EPROTO, "meta %s is not an integer", key);
	else if (r == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = db_err(st, "read meta");
	sqlite3_finalize(s);
	return rc;
}

static int meta_set_int(struct pred_store *st, const char *key, int64_t v)
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", &s);
	if (rc)
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	rc = step_done(st, s, "write meta");
	sqlite3_finalize(s);
	return rc;
}

/* Where tier k's record of buckets starting before b ends (0: none). */
static int rollup_restart(struct pred_store *st, unsigned k, int64_t W, int64_t b, int64_t *ret)
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(st,
			 "SELECT max(e) FROM (SELECT max(start) + ?2 AS e FROM file_buckets"
			 " WHERE tier = ?1 AND start < ?3 UNION ALL SELECT max(start) + ?2"
			 " FROM host_buckets WHERE tier = ?1 AND start < ?3 UNION ALL"
			 " SELECT max(start) + ?2 FROM disk_buckets WHERE tier = ?1 AND start < ?3)",
			 &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, k);
	sqlite3_bind_int64(s, 2, W);
	sqlite3_bind_int64(s, 3, b);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0); /* NULL (no rows) reads as 0 */
	else
		rc = db_err(st, "read roll-up end");
	sqlite3_finalize(s);
	return rc;
}

/* Rolls tier k-1 into tier k for complete tier-k buckets not yet rolled up.
 * Runs inside the caller's transaction. */
static int rollup(struct pred_store *st, unsigned k, int64_t now)
{
	char key[32];
	snprintf(key, sizeof(key), "rollup_%u", k);
	int64_t w = 0;
	int rc = meta_get_int(st, key, &w);
	bool lost = rc == -ENOENT || rc == -EPROTO || w < 0;
	if (lost)
		rc = 0;
	if (rc)
		return rc;
	int64_t W = st->tiers.width_s[k];
	int64_t b = now / W * W; /* start of the current (incomplete) tier-k bucket */
	if (w > b || lost) {
		/* The watermark is ahead of the clock: it was set while the
		 * clock was ahead (then put right) or by another host. Left
		 * alone, nothing would be rolled up until real time caught up
		 * with it, and the finer tier would expire meanwhile. Restart
		 * where tier k's own record below b ends: the finer buckets
		 * after it were never rolled up (each rolled one went into a
		 * tier-k bucket below that end), so none counts twice.
		 * Likewise when it is gone or not a time (deleted or edited:
		 * it read as 0, and every finer bucket still kept was added
		 * again, counted twice); a new store has no tier-k record
		 * yet: the restart is 0. */
		rc = rollup_restart(st, k, W, b, &w);
		if (rc)
			return rc;
	}
	if (b <= w)
		return 0;
	sqlite3_stmt *f = NULL, *h = NULL, *d = NULL;
	rc = prepare(st,
		     "INSERT INTO file_buckets(tier, file, start, width, " FB_COUNTERS ")"
		     " SELECT ?1, file, (start / ?2) * ?2, ?2, CAST(total(opens) AS INTEGER), CAST(total(reads) AS INTEGER),"
		     " CAST(total(read_bytes) AS INTEGER), CAST(total(writes) AS INTEGER), CAST(total(written_bytes) AS INTEGER), CAST(total(meta_ops) AS INTEGER),"
		     " max(clients), CAST(total(lat_sum_ns) AS INTEGER), CAST(total(lat_count) AS INTEGER), max(lat_max_ns),"
		     " CAST(total(lat_h0) AS INTEGER), CAST(total(lat_h1) AS INTEGER), CAST(total(lat_h2) AS INTEGER), CAST(total(lat_h3) AS INTEGER), CAST(total(lat_h4) AS INTEGER), CAST(total(lat_h5) AS INTEGER)"
		     " FROM file_buckets WHERE tier = ?1 - 1 AND start >= ?3 AND start < ?4"
		     " AND " FB_OK("") " GROUP BY file, start / ?2" FB_UPSERT_ADD,
		     &f);
	if (!rc)
		rc = prepare(st,
			     "INSERT OR REPLACE INTO host_buckets(tier, start, width, cpu_pct,"
			     " mem_total_kb, mem_avail_kb, net_rx_bytes, net_tx_bytes, inflight_max,"
			     " inflight_avg, tail_events)"
			     " SELECT ?1, (start / ?2) * ?2, ?2, avg(cpu_pct), max(mem_total_kb),"
			     " min(mem_avail_kb), CAST(total(net_rx_bytes) AS INTEGER), CAST(total(net_tx_bytes) AS INTEGER),"
			     " max(inflight_max), avg(inflight_avg), CAST(total(tail_events) AS INTEGER)"
			     " FROM host_buckets WHERE tier = ?1 - 1 AND start >= ?3 AND start < ?4"
			     " AND " HB_OK " GROUP BY start / ?2",
			     &h);
	if (!rc)
		rc = prepare(st,
			     "INSERT OR REPLACE INTO disk_buckets(tier, start, device, width, reads,"
			     " read_bytes, writes, write_bytes, io_ms)"
			     " SELECT ?1, (start / ?2) * ?2, device, ?2, CAST(total(reads) AS INTEGER), CAST(total(read_bytes) AS INTEGER),"
			     " CAST(total(writes) AS INTEGER), CAST(total(write_bytes) AS INTEGER), CAST(total(io_ms) AS INTEGER)"
			     " FROM disk_buckets WHERE tier = ?1 - 1 AND start >= ?3 AND start < ?4"
			     " AND " DB_OK " GROUP BY start / ?2, device",
			     &d);
	sqlite3_stmt *all[3] = {f, h, d};
	for (int i = 0; !rc && i < 3; i++) {
		sqlite3_bind_int64(all[i], 1, k);
		sqlite3_bind_int64(all[i], 2, W);
		sqlite3_bind_int64(all[i], 3, w);
		sqlite3_bind_int64(all[i], 4, b);
		rc = step_done(st, all[i], "roll up buckets");
	}
	for (int i = 0; i < 3; i++)
		sqlite3_finalize(all[i]);
	if (!rc)
		rc = meta_set_int(st, key, b);
	return rc;
}

static int expire(struct pred_store *st, unsigned k, int64_t now)
{
	static const char *const tables[] = {"file_buckets", "host_buckets", "disk_buckets"};
	int64_t cutoff = now - (int64_t)st->tiers.keep_s[k];
	int rc = 0;
	for (int i = 0; !rc && i < 3; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tier = ?1 AND start < ?2", tables[i]);
		sqlite3_stmt *s = NULL;
		rc = prepare(st, sql, &s);
		if (rc)
			break;
		sqlite3_bind_int64(s, 1, k);
		sqlite3_bind_int64(s, 2, cutoff);
		rc = step_done(st, s, "expire buckets");
		sqlite3_finalize(s);
	}
	return rc;
}

/* Tiers above the last (a store mounted with fewer tiers than before) are
 * neither rolled up, nor expired, nor read: their rows stayed for good,
 * past their own retention. They go. */
static int drop_extra_tiers(struct pred_store *st)
{
	static const char *const tables[] = {"file_buckets", "host_buckets", "disk_buckets"};
	int rc = 0;
	for (int i = 0; !rc && i < 3; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tier >= ?1", tables[i]);
		sqlite3_stmt *s = NULL;
		rc = prepare(st, sql, &s);
		if (rc)
			break;
		sqlite3_bind_int64(s, 1, st->tiers.n);
		rc = step_done(st, s, "drop extra tiers");
		sqlite3_finalize(s);
	}
	return rc;
}

int pred_store_maintain(struct pred_store *st, int64_t now)
{
	if (st->readonly)
		return -EROFS;
	pthread_mutex_lock(&st->lock);
	int rc = 0;
	for (unsigned k = 1; !rc && k < st->tiers.n; k++) {
		rc = exec(st, "BEGIN IMMEDIATE");
		if (rc)
			break;
		rc = rollup(st, k, now);
		rc = rc ? rc : exec(st, "COMMIT");
		if (rc)
			exec(st, "ROLLBACK");
	}
	if (!rc) {
		rc = exec(st, "BEGIN IMMEDIATE");
		for (unsigned k = 0; !rc && k < st->tiers.n; k++)
			rc = expire(st, k, now);
		if (!rc)
			rc = drop_extra_tiers(st);
		if (!rc) {
			/* A file seen last before the longest retention has no
			 * buckets left; forget its id and path too. */
			sqlite3_stmt *s = NULL;
			rc = prepare(st, "DELETE FROM files WHERE last_seen < ?1", &s);
			if (!rc) {
				sqlite3_bind_int64(s, 1, now - (int64_t)st->tiers.keep_s[st->tiers.n - 1]);
				rc = step_done(st, s, "expire files");
				sqlite3_finalize(s);
			}
		}
		rc = rc ? rc : exec(st, "COMMIT");
		if (rc)
			exec(st, "ROLLBACK");
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static int lookup_path_locked(struct pred_store *st, const char *path, uint8_t ret_id[PRED_ID_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(st,
			 "SELECT uuid FROM files WHERE path = ?1 AND file_id_ok(uuid)"
			 " ORDER BY last_seen DESC LIMIT 1", &s);
	if (rc)
		return rc;
	sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		rc = id_parse(sqlite3_column_text(s, 0), ret_id);
	else if (r == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = db_err(st, "look up path");
	sqlite3_finalize(s);
	return rc;
}

int pred_store_file_lookup_path(struct pred_store *st, const char *path, uint8_t ret_id[PRED_ID_LEN])
{
	pthread_mutex_lock(&st->lock);
	int rc = lookup_path_locked(st, path, ret_id);
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pred_store_resolve_path(struct pred_store *st, const char *path,
			    const uint8_t provisional[PRED_ID_LEN], int64_t now,
			    uint8_t ret_id[PRED_ID_LEN])
{
	if (st->readonly)
		return -EROFS;
	pthread_mutex_lock(&st->lock);
	int rc = lookup_path_locked(st, path, ret_id);
	if (rc == -ENOENT) {
		sqlite3_stmt *s = NULL;
		rc = prepare(st,
			     "INSERT INTO files(uuid, path, first_seen, last_seen) VALUES(?1, ?2, ?3, ?3)"
			     " ON CONFLICT(uuid) DO UPDATE SET path = excluded.path",
			     &s);
		if (!rc) {
			char idt[37];
			id_text(provisional, idt);
			sqlite3_bind_text(s, 1, idt, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 3, now);
			rc = step_done(st, s, "record path id");
			sqlite3_finalize(s);
		}
		if (!rc)
			memcpy(ret_id, provisional, PRED_ID_LEN);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pred_store_rename_path(struct pred_store *st, const char *from, const char *to)
{
	if (st->readonly)
		return -EROFS;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "UPDATE files SET path = ?2 WHERE path = ?1", &s);
	if (!rc) {
		sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, to, -1, SQLITE_STATIC);
		rc = step_done(st, s, "rename path");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pred_store_file_path(struct pred_store *st, const uint8_t id[PRED_ID_LEN], char **ret_path)
{
	*ret_path = NULL;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "SELECT path FROM files WHERE uuid = ?1", &s);
	if (!rc) {
		char idt[37];
		id_text(id, idt);
		sqlite3_bind_text(s, 1, idt, -1, SQLITE_TRANSIENT);
		int r = sqlite3_step(s);
		if (r == SQLITE_ROW) {
			const unsigned char *p = sqlite3_column_text(s, 0);
			*ret_path = strdup(p ? (const char *)p : "");
			if (!*ret_path)
				rc = -ENOMEM;
		} else {
			rc = r == SQLITE_DONE ? -ENOENT : db_err(st, "look up file");
		}
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pred_store_pick_tier(const struct pred_store *st, int64_t from, int64_t now)
{
	for (unsigned k = 0; k < st->tiers.n; k++)
		if (now - from <= (int64_t)st->tiers.keep_s[k])
			return (int)k;
	return (int)st->tiers.n - 1;
}

static int resolve_tier(struct pred_store *st, int tier, int64_t from)
{
	if (tier == PRED_TIER_AUTO) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		return pred_store_pick_tier(st, from, ts.tv_sec);
	}
	if (tier < 0 || tier >= (int)st->tiers.n)
		return -EINVAL;
	return tier;
}

/* Grows a typed array by doubling; 0 or -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *p = realloc(*arr, nc * elem);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
	*arr = p;
	*cap = nc;
	return 0;
}

int pred_store_file_series(struct pred_store *st, const uint8_t id[PRED_ID_LEN], int tier,
			   int64_t from, int64_t to, struct pred_file_bucket **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	pthread_mutex_lock(&st->lock);
	struct pred_file_bucket *arr = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = resolve_tier(st, tier, from);
	if (rc < 0)
		goto out;
	tier = rc;
	rc = prepare(st,
		     "SELECT b.start, b.width, f.path, " FB_COUNTERS
		     " FROM file_buckets b JOIN files f ON f.id = b.file"
		     " WHERE f.uuid = ?1 AND b.tier = ?2 AND b.start >= ?3 AND b.start < ?4"
		     " AND " FB_OK("b.") " ORDER BY b.start",
		     &s);
	if (rc)
		goto out;
	char idt[37];
	id_text(id, idt);
	sqlite3_bind_text(s, 1, idt, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, tier);
	sqlite3_bind_int64(s, 3, from);
	sqlite3_bind_int64(s, 4, to);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		rc = grow((void **)&arr, &cap, n, sizeof(*arr));
		if (rc)
			goto out;
		struct pred_file_bucket *b = &arr[n++];
		memcpy(b->id, id, PRED_ID_LEN);
		b->start = sqlite3_column_int64(s, 0);
		b->width = (uint32_t)sqlite3_column_int64(s, 1);
		const unsigned char *p = sqlite3_column_text(s, 2);
		b->path = strdup(p ? (const char *)p : "");
		if (!b->path) {
			rc = -ENOMEM;
			goto out;
		}
		column_counters(s, 3, &b->c);
	}
	if (r != SQLITE_DONE)
		rc = db_err(st, "read file series");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (rc) {
		pred_file_buckets_free(arr, n);
		return rc;
	}
	*ret = arr;
	*ret_n = n;
	return 0;
}

void pred_file_buckets_free(struct pred_file_bucket *b, size_t n)
{
	if (!b)
		return;
	for (size_t i = 0; i < n; i++)
		free((char *)b[i].path);
	free(b);
}

int pred_store_top(struct pred_store *st, int tier, int64_t from, int64_t to, size_t n,
		   enum pred_top_order order, struct pred_top_entry **ret, size_t *ret_n)
{
	static const char *const order_sql[] = {
		[PRED_TOP_READS] = "CAST(total(b.reads) AS INTEGER) DESC",
		[PRED_TOP_READ_BYTES] = "CAST(total(b.read_bytes) AS INTEGER) DESC",
		[PRED_TOP_OPENS] = "CAST(total(b.opens) AS INTEGER) DESC",
		[PRED_TOP_EVENTS] = "total(b.opens + b.reads + b.writes + b.meta_ops) DESC",
	};
	*ret = NULL;
	*ret_n = 0;
	if ((unsigned)order > PRED_TOP_EVENTS || n == 0 || n > INT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	struct pred_top_entry *arr = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = resolve_tier(st, tier, from);
	if (rc < 0)
		goto out;
	tier = rc;
	/* A file's id is checked once per file (HAVING), its buckets row by
	 * row: the id checked per row doubled the query's time. */
	char sql[3072];
	snprintf(sql, sizeof(sql),
		 "SELECT f.uuid, f.path, CAST(total(b.opens) AS INTEGER), CAST(total(b.reads) AS INTEGER), CAST(total(b.read_bytes) AS INTEGER),"
		 " CAST(total(b.writes) AS INTEGER), CAST(total(b.written_bytes) AS INTEGER), CAST(total(b.meta_ops) AS INTEGER), max(b.clients),"
		 " CAST(total(b.lat_sum_ns) AS INTEGER), CAST(total(b.lat_count) AS INTEGER), max(b.lat_max_ns), CAST(total(b.lat_h0) AS INTEGER),"
		 " CAST(total(b.lat_h1) AS INTEGER), CAST(total(b.lat_h2) AS INTEGER), CAST(total(b.lat_h3) AS INTEGER), CAST(total(b.lat_h4) AS INTEGER), CAST(total(b.lat_h5) AS INTEGER)"
		 " FROM file_buckets b JOIN files f ON f.id = b.file"
		 " WHERE b.tier = ?1 AND b.start >= ?2 AND b.start < ?3"
		 " AND " FB_OK("b.") " GROUP BY b.file HAVING file_id_ok(f.uuid) ORDER BY %s, f.path LIMIT ?4",
		 order_sql[order]);
	rc = prepare(st, sql, &s);
	if (rc)
		goto out;
	sqlite3_bind_int(s, 1, tier);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, to);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)n);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		rc = grow((void **)&arr, &cap, cnt, sizeof(*arr));
		if (rc)
			goto out;
		struct pred_top_entry *e = &arr[cnt++];
		rc = id_parse(sqlite3_column_text(s, 0), e->id);
		if (rc) {
			set_err(st, rc, "bad file id in store");
			goto out;
		}
		const unsigned char *p = sqlite3_column_text(s, 1);
		e->path = strdup(p ? (const char *)p : "");
		if (!e->path) {
			rc = -ENOMEM;
			goto out;
		}
		column_counters(s, 2, &e->c);
	}
	if (r != SQLITE_DONE)
		rc = db_err(st, "read top files");
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (rc) {
		pred_top_entries_free(arr, cnt);
		return rc;
	}
	*ret = arr;
	*ret_n = cnt;
	return 0;
}

void pred_top_entries_free(struct pred_top_entry *e, size_t n)
{
	if (!e)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].path);
	free(e);
}

static int host_disks(struct pred_store *st, int tier, struct pred_host_bucket *h)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc = prepare(st,
			 "SELECT device, reads, read_bytes, writes, write_bytes, io_ms"
			 " FROM disk_buckets WHERE tier = ?1 AND start = ?2 AND " DB_OK
			 " ORDER BY device",
			 &s);
	if (rc)
		return rc;
	sqlite3_bind_int(s, 1, tier);
	sqlite3_bind_int64(s, 2, h->start);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		rc = grow((void **)&h->disks, &cap, h->ndisks, sizeof(*h->disks));
		if (rc)
			break;
		struct pred_disk_bucket *d = &h->disks[h->ndisks++];
		const unsigned char *dev = sqlite3_column_text(s, 0);
		snprintf(d->device, sizeof(d->device), "%s", dev ? (const char *)dev : "");
		d->reads = (uint64_t)sqlite3_column_int64(s, 1);
		d->read_bytes = (uint64_t)sqlite3_column_int64(s, 2);
		d->writes = (uint64_t)sqlite3_column_int64(s, 3);
		d->write_bytes = (uint64_t)sqlite3_column_int64(s, 4);
		d->io_ms = (uint64_t)sqlite3_column_int64(s, 5);
	}
	if (!rc && r != SQLITE_DONE)
		rc = db_err(st, "read disk buckets");
	sqlite3_finalize(s);
	return rc;
}

int pred_store_host_series(struct pred_store *st, int tier, int64_t from, int64_t to,
			   struct pred_host_bucket **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	pthread_mutex_lock(&st->lock);
	struct pred_host_bucket *arr = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = resolve_tier(st, tier, from);
	if (rc < 0)
		goto out;
	tier = rc;
	rc = prepare(st,
		     "SELECT start, width, cpu_pct, mem_total_kb, mem_avail_kb, net_rx_bytes,"
		     " net_tx_bytes, inflight_max, inflight_avg, tail_events FROM host_buckets"
		     " WHERE tier = ?1 AND start >= ?2 AND start < ?3 AND " HB_OK
		     " ORDER BY start",
		     &s);
	if (rc)
		goto out;
	sqlite3_bind_int(s, 1, tier);
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, to);
	int r;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		rc = grow((void **)&arr, &cap, n, sizeof(*arr));
		if (rc)
			goto out;
		struct pred_host_bucket *h = &arr[n++];
		h->start = sqlite3_column_int64(s, 0);
		h->width = (uint32_t)sqlite3_column_int64(s, 1);
		h->cpu_pct = fmin(sqlite3_column_double(s, 2), 100.0);
		h->mem_total_kb = (uint64_t)sqlite3_column_int64(s, 3);
		h->mem_avail_kb = (uint64_t)sqlite3_column_int64(s, 4);
		h->net_rx_bytes = (uint64_t)sqlite3_column_int64(s, 5);
		h->net_tx_bytes = (uint64_t)sqlite3_column_int64(s, 6);
		h->inflight_max = (uint32_t)sqlite3_column_int64(s, 7);
		h->inflight_avg = sqlite3_column_double(s, 8);
		h->tail_events = (uint64_t)sqlite3_column_int64(s, 9);
	}
	if (r != SQLITE_DONE) {
		rc = db_err(st, "read host buckets");
		goto out;
	}
	for (size_t i = 0; !rc && i < n; i++)
		rc = host_disks(st, tier, &arr[i]);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (rc) {
		pred_host_buckets_free(arr, n);
		return rc;
	}
	*ret = arr;
	*ret_n = n;
	return 0;
}

void pred_host_buckets_free(struct pred_host_bucket *b, size_t n)
{
	if (!b)
		return;
	for (size_t i = 0; i < n; i++)
		free(b[i].disks);
	free(b);
}

int pred_store_record_end(struct pred_store *st, int tier, int64_t before, int64_t *ret)
{
	*ret = 0;
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = NULL;
	int rc = prepare(
	    st, "SELECT max(start + width) FROM host_buckets WHERE tier = ?1 AND start < ?2"
		" AND " HB_OK, &s);
	if (!rc) {
		sqlite3_bind_int(s, 1, tier);
		sqlite3_bind_int64(s, 2, before);
		if (sqlite3_step(s) == SQLITE_ROW)
			*ret = sqlite3_column_int64(s, 0); /* NULL (no rows) reads as 0 */
		else
			rc = db_err(st, "read the end of the record");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int pred_store_file_count(struct pred_store *st, uint64_t *ret)
{
	pthread_mutex_lock(&st->lock);
	sqlite3_stmt *s = NULL;
	int rc = prepare(st, "SELECT count(*) FROM files", &s);
	if (!rc) {
		if (sqlite3_step(s) == SQLITE_ROW)
			*ret = (uint64_t)sqlite3_column_int64(s, 0);
		else
			rc = db_err(st, "count files");
		sqlite3_finalize(s);
	}
	pthread_mutex_unlock(&st->lock);
	return rc;
}
