/* Unit tests of fs/recorder (with the real series store and real xattrs on
 * a temporary backing directory): exact counts per file and per bucket,
 * stable ids across renames (files named from their handles, as the mount
 * does, and from fds, the fallback), short-lived files never named,
 * concurrency without losing events, the active set's bound, and ring
 * clean-up when threads exit. Run as root (open_by_handle_at). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "fs/file_id.h"
#include "fs/recorder.h"
#include "tests/unit/tmpdir.h"

/* Naming stamps and file handles of the files a test creates (what the
 * inode holds). */
#define POOL 320
static uint32_t stamp_pool[POOL];
static union {
	struct file_handle fh;
	char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
} handle_pool[POOL];
static unsigned stamp_next;

struct fixture {
	char *root;
	char backing[512], state[512];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	f->root = tmpdir_make("recorder");
	snprintf(f->backing, sizeof(f->backing), "%s/backing", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	mkdir(f->backing, 0755);
	memset(stamp_pool, 0, sizeof(stamp_pool));
	stamp_next = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tmpdir_remove(f->root);
	free(f);
	return 0;
}

enum naming { BY_HANDLE, BY_FD };

/* Creates backing/name and returns an fd on it with its ref filled: with
 * the file's handle, or without (named from an fd). */
static int make_file_named(struct fixture *f, const char *name, struct fs_file_ref *ref,
			   enum naming how)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", f->backing, name);
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(stamp_next < POOL);
	struct file_handle *h = NULL;
	if (how == BY_HANDLE) {
		int mount_id;
		h = &handle_pool[stamp_next].fh;
		h->handle_bytes = MAX_HANDLE_SZ;
		assert_int_equal(name_to_handle_at(fd, "", h, &mount_id, AT_EMPTY_PATH), 0);
	}
	fs_file_ref_init(ref, st.st_dev, st.st_ino, &stamp_pool[stamp_next], h);
	stamp_next++;
	return fd;
}

static int make_file(struct fixture *f, const char *name, struct fs_file_ref *ref)
{
	return make_file_named(f, name, ref, BY_HANDLE);
}

static struct fs_recorder *start_ring(struct fixture *f, uint32_t bucket, uint32_t track,
				      uint32_t ring_events)
{
	struct fs_recorder_config cfg = {.state_dir = f->state, .backing = f->backing,
					 .bucket_s = bucket, .track = track, .tick_ms = 5,
					 .ring_events = ring_events};
	struct fs_recorder *rec = NULL;
	char err[256];
	int rc = fs_recorder_start(&cfg, &rec, err, sizeof(err));
	if (rc)
		fprintf(stderr, "start: %s\n", err);
	assert_int_equal(rc, 0);
	return rec;
}

static struct fs_recorder *start(struct fixture *f, uint32_t bucket, uint32_t track)
{
	return start_ring(f, bucket, track, 0);
}

static void totals(struct pred_store *st, const char *path, struct pred_file_counters *c,
		   size_t *nbuckets)
{
	uint8_t id[PRED_ID_LEN];
	memset(c, 0, sizeof(*c));
	*nbuckets = 0;
	if (pred_store_file_lookup_path(st, path, id))
		return;
	struct pred_file_bucket *b = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(st, id, 0, 0, INT64_MAX, &b, &n), 0);
	for (size_t i = 0; i < n; i++) {
		c->opens += b[i].c.opens;
		c->reads += b[i].c.reads;
		c->read_bytes += b[i].c.read_bytes;
		c->writes += b[i].c.writes;
		c->written_bytes += b[i].c.written_bytes;
		c->meta_ops += b[i].c.meta_ops;
		c->lat_count += b[i].c.lat_count;
		c->lat_sum_ns += b[i].c.lat_sum_ns;
		if (b[i].c.clients > c->clients)
			c->clients = b[i].c.clients;
		if (b[i].c.lat_max_ns > c->lat_max_ns)
			c->lat_max_ns = b[i].c.lat_max_ns;
		for (int h = 0; h < PRED_LAT_HIST; h++)
			c->lat_hist[h] += b[i].c.lat_hist[h];
	}
	*nbuckets = n;
	pred_file_buckets_free(b, n);
}

/* Every kind of event lands in its file's counters exactly; the file's id is
 * the uuid now stored in its user.shadow.id xattr. */
static void test_exact_counts(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start(f, 60, 100);
	struct fs_file_ref ra, rb;
	int fa = make_file(f, "a", &ra), fb = make_file_named(f, "b", &rb, BY_FD);
	uid_t uid = getuid();
	pid_t pid = getpid();
	fs_recorder_note_fd(rec, FS_EV_OPEN, &ra, fa, 0, 0, uid, pid);
	fs_recorder_note_fd(rec, FS_EV_OPEN, &rb, fb, 0, 0, uid, pid);
	for (int i = 0; i < 100; i++)
		fs_recorder_note_fd(rec, FS_EV_READ, &ra, fa, 4096, 5000 + (uint64_t)i, uid, pid);
	for (int i = 0; i < 10; i++)
		fs_recorder_note(rec, FS_EV_READ, &rb, 512, 2000000, uid, pid);
	fs_recorder_note(rec, FS_EV_WRITE, &rb, 77, 0, uid, pid);
	fs_recorder_note(rec, FS_EV_META, &rb, 0, 0, uid, pid);
	assert_int_equal(fs_recorder_flush_now(rec), 0);

	struct pred_file_counters c;
	size_t n;
	totals(fs_recorder_store(rec), "a", &c, &n);
	assert_int_equal(c.opens, 1);
	assert_int_equal(c.reads, 100);
	assert_int_equal(c.read_bytes, 409600);
	assert_int_equal(c.clients, 1);
	assert_int_equal(c.lat_count, 100);
	assert_int_equal(c.lat_max_ns, 5099);
	assert_int_equal(c.lat_hist[0], 100); /* all under 10 us */
	totals(fs_recorder_store(rec), "b", &c, &n);
	assert_int_equal(c.reads, 10);
	assert_int_equal(c.read_bytes, 5120);
	assert_int_equal(c.lat_hist[3], 10); /* 2 ms: [1 ms, 10 ms) */
	assert_int_equal(c.writes, 1);
	assert_int_equal(c.written_bytes, 77);
	assert_int_equal(c.meta_ops, 1);

	uint8_t xid[16], sid[16];
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fa);
	assert_int_equal(fs_file_id_get(proc, false, xid), 0);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "a", sid), 0);
	assert_memory_equal(xid, sid, 16);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fb);
	assert_int_equal(fs_file_id_get(proc, false, xid), 0);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "b", sid), 0);
	assert_memory_equal(xid, sid, 16);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.events, 2 + 100 + 10 + 2);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.tracked, 2);
	close(fa);
	close(fb);
	fs_recorder_stop(rec);
}

/* The aggregator sums a drain's events per file before the active set
 * (recorder.h): counts stay exact when a drain holds more files than the
 * fold table (300 files, 10 events each, noted round-robin), and many
 * events of a few files cost far fewer active-set updates than events. */
static void test_fold(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start_ring(f, 60, 1000, 8192);
	enum { NFILES = 300, ROUNDS = 10, HOT = 2000 };
	static struct fs_file_ref refs[NFILES];
	static int fds[NFILES];
	char name[32];
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		fds[i] = make_file(f, name, &refs[i]);
	}
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < NFILES; i++)
			fs_recorder_note_fd(rec, r == 0 ? FS_EV_OPEN : FS_EV_META,
					    &refs[i], fds[i], 0, 0, 0, 1);
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	struct fs_recorder_stats before;
	fs_recorder_get_stats(rec, &before);
	assert_int_equal(before.events, NFILES * ROUNDS);
	assert_int_equal(before.dropped, 0);
	assert_true(before.set_updates >= NFILES && before.set_updates <= before.events);
	for (int i = 0; i < HOT; i++)
		fs_recorder_note(rec, FS_EV_READ, &refs[i & 1], 4096, 1000, 0, 1);
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	struct fs_recorder_stats after;
	fs_recorder_get_stats(rec, &after);
	assert_int_equal(after.events - before.events, HOT);
	/* One update per file and drain: a handful of drains at most. */
	assert_true(after.set_updates - before.set_updates <= HOT / 10);

	struct pred_file_counters c;
	size_t n;
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		totals(fs_recorder_store(rec), name, &c, &n);
		assert_int_equal(c.opens, 1);
		assert_int_equal(c.meta_ops, ROUNDS - 1);
		assert_int_equal(c.reads, i < 2 ? HOT / 2 : 0);
		assert_int_equal(c.read_bytes, i < 2 ? HOT / 2 * 4096 : 0);
		close(fds[i]);
	}
	fs_recorder_stop(rec);
}

static int count_fds(void)
{
	char path[64];
	int n = 0;
	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* Files without a handle are named from fds dup'ed at the request and held
 * until the aggregator drains: no more than claim_fds at once (a mount
 * without file handles reading thousands of files ran out of fds), the
 * rest named at later requests, and every event counted meanwhile. */
static void test_claim_fds_bounded(void **state)
{
	struct fixture *f = *state;
	enum { NFILES = 50, BOUND = 8 };
	struct fs_recorder_config cfg = {.state_dir = f->state, .backing = f->backing,
					 .bucket_s = 60, .track = 1000, .tick_ms = 10000,
					 .claim_fds = BOUND};
	struct fs_recorder *rec = NULL;
	assert_int_equal(fs_recorder_start(&cfg, &rec, NULL, 0), 0);
	static struct fs_file_ref refs[NFILES];
	static int fds[NFILES];
	char name[32];
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		fds[i] = make_file_named(f, name, &refs[i], BY_FD);
	}
	int rounds = 0;
	struct fs_recorder_stats st;
	do {
		int before = count_fds();
		for (int i = 0; i < NFILES; i++)
			fs_recorder_note_fd(rec, FS_EV_OPEN, &refs[i], fds[i], 0, 0, 0, 1);
		assert_true(count_fds() <= before + BOUND);
		assert_int_equal(fs_recorder_flush_now(rec), 0);
		assert_int_equal(count_fds(), before); /* the aggregator closed them */
		fs_recorder_get_stats(rec, &st);
		rounds++;
	} while (st.named < NFILES && rounds < 20);
	assert_int_equal(st.named, NFILES);
	assert_true(rounds >= NFILES / BOUND);
	assert_int_equal(st.events, (uint64_t)rounds * NFILES);
	struct pred_file_counters c;
	size_t n;
	snprintf(name, sizeof(name), "c%02d", NFILES - 1);
	totals(fs_recorder_store(rec), name, &c, &n);
	assert_true(c.opens >= 1);
	for (int i = 0; i < NFILES; i++)
		close(fds[i]);
	fs_recorder_stop(rec);
	rec = NULL;
	cfg.claim_fds = 0; /* back to the default bound for the next tests */
	assert_int_equal(fs_recorder_start(&cfg, &rec, NULL, 0), 0);
	fs_recorder_stop(rec);
}

/* A thread that finds its ring more than half full wakes the aggregator
 * before its tick: with a 10 s tick and a 64-event ring, 1,280 events
 * noted over ~0.3 s are drained as they come (without the wake-up all but
 * the first 64 would be dropped). */
static void test_kick(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder_config cfg = {.state_dir = f->state, .backing = f->backing,
					 .bucket_s = 60, .track = 100, .tick_ms = 10000,
					 .ring_events = 64};
	struct fs_recorder *rec = NULL;
	char err[256];
	assert_int_equal(fs_recorder_start(&cfg, &rec, err, sizeof(err)), 0);
	struct fs_file_ref r;
	int fd = make_file(f, "k", &r);
	enum { EVENTS = 1280 };
	for (int i = 0; i < EVENTS; i++) {
		fs_recorder_note(rec, FS_EV_META, &r, 0, 0, 0, 1);
		if (i % 4 == 3) {
			struct timespec d = {0, 1000000L};
			nanosleep(&d, NULL);
		}
	}
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.events + st.dropped, EVENTS);
	assert_true(st.dropped <= EVENTS / 4);
	close(fd);
	fs_recorder_stop(rec);
}

static void sleep_to_next_second_boundary(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct timespec d = {0, 1000000000L - ts.tv_nsec + 50000000L};
	if (d.tv_nsec >= 1000000000L) {
		d.tv_sec = 1;
		d.tv_nsec -= 1000000000L;
	}
	nanosleep(&d, NULL);
}

/* Events land in the bucket of the time they happened; a renamed file keeps
 * its id and gets its new path; buckets closed by time are written without
 * a flush request. */
static void buckets_and_rename(struct fixture *f, enum naming how)
{
	struct fs_recorder *rec = start(f, 1, 100);
	struct fs_file_ref r;
	int fd = make_file_named(f, "old", &r, how);
	sleep_to_next_second_boundary();
	for (int i = 0; i < 7; i++)
		fs_recorder_note_fd(rec, FS_EV_READ, &r, fd, 1, 1000, getuid(), getpid());
	char from[1024], to[1024];
	snprintf(from, sizeof(from), "%s/old", f->backing);
	snprintf(to, sizeof(to), "%s/new", f->backing);
	assert_int_equal(rename(from, to), 0);
	sleep_to_next_second_boundary();
	for (int i = 0; i < 3; i++)
		fs_recorder_note_fd(rec, FS_EV_READ, &r, fd, 1, 1000, getuid(), getpid());
	/* Wait for the second bucket to close by itself (1 s + grace). */
	sleep_to_next_second_boundary();
	usleep(100000);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_true(st.flushes >= 2);
	uint8_t id[16];
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "new", id), 0);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "old", id), -ENOENT);
	struct pred_file_bucket *b = NULL;
	size_t n = 0;
	assert_int_equal(pred_store_file_series(fs_recorder_store(rec), id, 0, 0, INT64_MAX, &b, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(b[0].c.reads, 7);
	assert_int_equal(b[1].c.reads, 3);
	assert_int_equal(b[1].start, b[0].start + 1);
	assert_int_equal(b[0].width, 1);
	pred_file_buckets_free(b, n);
	/* Host metrics were written with each closed bucket. */
	struct pred_host_bucket *h = NULL;
	assert_int_equal(pred_store_host_series(fs_recorder_store(rec), 0, 0, INT64_MAX, &h, &n), 0);
	assert_true(n >= 2);
	assert_true(h[0].mem_total_kb > 0);
	pred_host_buckets_free(h, n);
	close(fd);
	fs_recorder_stop(rec);
}

static void test_buckets_and_rename(void **state) { buckets_and_rename(*state, BY_HANDLE); }

static void test_buckets_and_rename_fd(void **state) { buckets_and_rename(*state, BY_FD); }

/* Flushes and checks the recorder's counts. */
static void expect_counts(struct fs_recorder *rec, uint64_t events, uint64_t tail,
			  uint64_t name_gone, uint64_t named)
{
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.events, events);
	assert_int_equal(st.tail_events, tail);
	assert_int_equal(st.name_gone, name_gone);
	assert_int_equal(st.named, named);
	assert_int_equal(st.name_failures, 0);
}

/* A deletion through the mount, as ops_record.c notes it. */
static void note_gone(struct fs_recorder *rec, uint64_t dev, uint64_t ino,
		      const struct fs_rec_handle *handle)
{
	struct fs_rec_req q;
	fs_recorder_req_begin(rec, &q, 0, 1);
	fs_recorder_req_gone(&q, dev, ino, handle);
	fs_recorder_req_end(&q);
}

/* A file created, used and unlinked within a bucket is never named: no
 * file in the store, no id xattr written, its events counted anonymously
 * as tail events; a file that survives its bucket is named (and its id
 * stored on it) when the bucket is written. */
static void test_short_lived(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start(f, 60, 100);
	struct fs_file_ref rs, rk;
	int fs = make_file(f, "short", &rs), fk = make_file(f, "kept", &rk);
	char path[1024];
	snprintf(path, sizeof(path), "%s/short", f->backing);
	for (int i = 0; i < 3; i++) {
		fs_recorder_note_fd(rec, FS_EV_OPEN, &rs, fs, 0, 0, 0, 1);
		fs_recorder_note_fd(rec, FS_EV_WRITE, &rs, fs, 1024, 0, 0, 1);
		fs_recorder_note_fd(rec, FS_EV_META, &rs, fs, 0, 0, 0, 1);
	}
	fs_recorder_note_fd(rec, FS_EV_WRITE, &rk, fk, 1024, 0, 0, 1);
	char proc[64];
	uint8_t xid[16];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fk);
	assert_int_equal(fs_file_id_get(proc, false, xid), -ENODATA); /* not named yet */
	assert_int_equal(unlink(path), 0);
	close(fs);
	expect_counts(rec, 10, 9, 1, 1);
	uint8_t sid[16];
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "short", sid), -ENOENT);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "kept", sid), 0);
	assert_int_equal(fs_file_id_get(proc, false, xid), 0);
	assert_memory_equal(xid, sid, 16);
	struct pred_file_counters c;
	size_t n;
	totals(fs_recorder_store(rec), "kept", &c, &n);
	assert_int_equal(c.writes, 1);
	assert_int_equal(c.written_bytes, 1024);
	close(fk);
	fs_recorder_stop(rec);
}

/* A file deleted through the mount (fs_recorder_req_gone) leaves the
 * active set at once: never named (no failed open_by_handle_at: name_gone
 * stays 0, unlinked counts it), its events counted as tail events, nothing
 * of it in the store; a file seen again with a claim after its gone (a new
 * file with the same inode number) is named as before. The name hints:
 * a name seen leads back to its file once, renamed names follow. */
static void test_gone(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start(f, 60, 100);
	struct fs_file_ref rs, rk, dir;
	int fs = make_file(f, "short", &rs), fk = make_file(f, "kept", &rk);
	fs_file_ref_init(&dir, 1, 2, NULL, NULL);
	fs_recorder_name_seen(rec, &dir, "short", rs.dev, rs.ino);
	fs_recorder_name_seen(rec, &dir, "kept", rk.dev, rk.ino);
	for (int i = 0; i < 3; i++) {
		fs_recorder_note_fd(rec, FS_EV_OPEN, &rs, fs, 0, 0, 0, 1);
		fs_recorder_note_fd(rec, FS_EV_WRITE, &rs, fs, 1024, 0, 0, 1);
	}
	fs_recorder_note_fd(rec, FS_EV_WRITE, &rk, fk, 1024, 0, 0, 1);
	uint64_t dev = 0, ino = 0;
	assert_false(fs_recorder_name_removed(rec, fs_recorder_name_key(&dir, "nope"), &dev, &ino));
	assert_true(fs_recorder_name_lookup(rec, fs_recorder_name_key(&dir, "kept"), &dev, &ino));
	assert_true(dev == rk.dev && ino == rk.ino); /* and the hint stays: */
	assert_true(fs_recorder_name_lookup(rec, fs_recorder_name_key(&dir, "kept"), &dev, &ino));
	fs_recorder_name_seen(rec, &dir, "kept", rs.dev, rs.ino); /* the name now leads elsewhere */
	assert_true(fs_recorder_name_lookup(rec, fs_recorder_name_key(&dir, "kept"), &dev, &ino));
	assert_true(dev == rs.dev && ino == rs.ino);
	fs_recorder_name_seen(rec, &dir, "kept", rk.dev, rk.ino);
	assert_true(fs_recorder_name_removed(rec, fs_recorder_name_key(&dir, "short"), &dev, &ino));
	assert_true(dev == rs.dev && ino == rs.ino);
	assert_false(fs_recorder_name_removed(rec, fs_recorder_name_key(&dir, "short"), &dev, &ino)); /* taken */
	note_gone(rec, dev, ino, NULL);
	expect_counts(rec, 7, 6, 0, 1);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.unlinked, 1);
	assert_int_equal(st.tracked, 1);
	uint8_t sid[16];
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "short", sid), -ENOENT);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "kept", sid), 0);

	/* Gone, then claimed again in the same drain: named as without hints. */
	*rs.named = 0; /* a new inode: no claim yet */
	note_gone(rec, rs.dev, rs.ino, NULL);
	fs_recorder_note_fd(rec, FS_EV_READ, &rs, fs, 10, 5, 0, 1);
	expect_counts(rec, 8, 6, 0, 2);
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.unlinked, 2);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "short", sid), 0);
	close(fs);
	close(fk);
	fs_recorder_stop(rec);
}

/* A deletion folded before a claim of the same file (its handle: rings are
 * drained one after the other, not in request order) keeps the file out
 * of the set; a claim of a new file with the same inode number (another
 * handle) brings it back. Slow ticks: everything in one drain. */
static void test_gone_handle(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder_config cfg = {.state_dir = f->state, .backing = f->backing,
					 .bucket_s = 60, .track = 100, .tick_ms = 5000};
	struct fs_recorder *rec = NULL;
	char err[256];
	assert_int_equal(fs_recorder_start(&cfg, &rec, err, sizeof(err)), 0);
	struct fs_file_ref ra, rb;
	int fa = make_file(f, "a", &ra), fb = make_file(f, "b", &rb);
	struct fs_rec_handle ha;
	assert_true(fs_rec_handle_copy(&ha, ra.handle));
	note_gone(rec, ra.dev, ra.ino, &ha);
	fs_recorder_note_fd(rec, FS_EV_WRITE, &ra, fa, 100, 0, 0, 1); /* a's claim */
	/* b stands for a new file with a deleted file's inode number: a gone with another handle than its own. */
	note_gone(rec, rb.dev, rb.ino, &ha); /* another handle than b's */
	fs_recorder_note_fd(rec, FS_EV_WRITE, &rb, fb, 7, 0, 0, 1);
	expect_counts(rec, 2, 1, 0, 1); /* a's write in the tail, b named */
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.unlinked, 2);
	uint8_t sid[16];
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "a", sid), -ENOENT);
	assert_int_equal(pred_store_file_lookup_path(fs_recorder_store(rec), "b", sid), 0);
	close(fa);
	close(fb);
	fs_recorder_stop(rec);
}

struct worker {
	struct fs_recorder *rec;
	struct fs_file_ref *refs;
	int nrefs;
	int events;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->events; i++) {
		fs_recorder_op_begin(w->rec);
		fs_recorder_note(w->rec, FS_EV_READ, &w->refs[i % w->nrefs], 4096, 100, 0, 1);
		fs_recorder_op_end(w->rec);
		if (i % 64 == 0)
			usleep(200); /* at most ~300k events/s per thread, above FUSE rates */
	}
	return NULL;
}

/* Four threads noting at once, concurrently with the aggregator draining
 * their rings, lose nothing: each ring holds more than its thread's 40,000
 * events, so however late the aggregator runs (a loaded machine), nothing
 * may be dropped, and every event must be in the store. Their rings are
 * freed once the threads have exited. */
static void test_threads(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start_ring(f, 60, 100, 65536);
	struct fs_file_ref refs[8];
	int fds[8];
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		fds[i] = make_file(f, name, &refs[i]);
		fs_recorder_note_fd(rec, FS_EV_OPEN, &refs[i], fds[i], 0, 0, 0, 1);
	}
	pthread_t th[4];
	struct worker w = {.rec = rec, .refs = refs, .nrefs = 8, .events = 40000};
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, work, &w);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	assert_int_equal(fs_recorder_flush_now(rec), 0); /* orphaned rings are drained and freed */
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	uint64_t reads = 0;
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		struct pred_file_counters c;
		size_t n;
		totals(fs_recorder_store(rec), name, &c, &n);
		reads += c.reads;
		close(fds[i]);
	}
	printf("# threads: %llu recorded, %llu dropped\n", (unsigned long long)reads,
	       (unsigned long long)st.dropped);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(reads, 4 * 40000);
	assert_int_equal(st.rings, 1); /* only this thread's ring is left */
	fs_recorder_stop(rec);
}

/* 200,000 distinct files keep the active set at its bound and its memory
 * constant; their events are counted in the tail. */
static void test_bound(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = start(f, 60, 1000);
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	struct fs_recorder_stats st0, st;
	fs_recorder_get_stats(rec, &st0);
	struct fs_file_ref r;
	for (uint64_t i = 0; i < 200000; i++) {
		fs_file_ref_init(&r, 1, i + 1, NULL, NULL);
		fs_recorder_note(rec, FS_EV_META, &r, 0, 0, 0, 1);
		if (i % 1024 == 0)
			usleep(500);
	}
	assert_int_equal(fs_recorder_flush_now(rec), 0);
	fs_recorder_get_stats(rec, &st);
	assert_int_equal(st.tracked, 1000);
	assert_int_equal(st.tracked_bytes, st0.tracked_bytes);
	assert_int_equal(st.events + st.dropped, 200000);
	assert_int_equal(st.tail_events, st.events); /* never named: all tail */
	printf("# bound: track 1000 -> %llu bytes, %llu per file\n",
	       (unsigned long long)st.tracked_bytes, (unsigned long long)st.bytes_per_file);
	fs_recorder_stop(rec);
}

/* Bad configurations are refused with a message; a NULL recorder is a
 * no-op on the hot path. */
static void test_bad_config(void **state)
{
	struct fixture *f = *state;
	struct fs_recorder *rec = NULL;
	char err[256] = "";
	struct fs_recorder_config cfg = {.state_dir = f->state, .backing = f->backing,
					 .ring_events = 1000};
	assert_int_equal(fs_recorder_start(&cfg, &rec, err, sizeof(err)), -EINVAL);
	assert_null(rec);
	assert_true(strlen(err) > 0);
	cfg.ring_events = 0;
	cfg.backing = "/nonexistent/backing";
	assert_int_equal(fs_recorder_start(&cfg, &rec, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/backing"));
	struct fs_file_ref r;
	fs_file_ref_init(&r, 1, 1, NULL, NULL);
	fs_recorder_note(NULL, FS_EV_READ, &r, 1, 1, 0, 0);
	fs_recorder_op_begin(NULL);
	fs_recorder_stop(NULL);
	struct pred_store_tiers t;
	fs_recorder_default_tiers(7, &t);
	assert_int_equal(pred_store_tiers_check(&t), 0);
	assert_int_equal(t.width_s[0], 7);
	assert_int_equal(t.width_s[1] % 7, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_fds_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buckets_and_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buckets_and_rename_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_lived, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
