/* Unit tests of daemon/host_store: temp + rename, SHA-256 verification,
 * path safety, ranged updates, budget, list/delete/stats, deferred
 * durability (its open files bounded), the versions of an id bounded and
 * crash recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <pthread.h>

#include "daemon/host_store.h"
#include "tests/unit/daemon/store_fixture.h"
#include "sync/digest.h"
#include "sync/sync_io.h"
#include "sync/tls.h"

static const uint8_t ID[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
#define NAME1 "deadbeef0102030405060708090a0b0c-0000000000000001"


static int count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && !strncmp(de->d_name, prefix, strlen(prefix)))
			n++;
	closedir(d);
	return n;
}

static void put_id(struct daemon_store *s, const uint8_t id[16], uint64_t ver, const char *content)
{
	struct daemon_store_writer *w;
	uint8_t sha[32];
	size_t n = strlen(content);
	SHA256((const unsigned char *)content, n, sha);
	assert_int_equal(daemon_store_create(s, id, ver, n, &w), 0);
	assert_int_equal(daemon_store_writer_append(w, content, n), 0);
	assert_int_equal(daemon_store_commit(w, sha), 0);
}

#define OVERHEAD DAEMON_STORE_COPY_OVERHEAD

/* The store's count of copies and the bytes of their data (each copy counts
 * DAEMON_STORE_COPY_OVERHEAD more). */
static void expect_counts(struct daemon_store *s, uint64_t copies, uint64_t bytes)
{
	struct daemon_store_stats st;
	daemon_store_stats(s, &st);
	assert_int_equal(st.copies, copies);
	assert_int_equal(st.used_bytes, bytes + copies * OVERHEAD);
}

static void put(struct daemon_store *s, uint64_t ver, const char *content)
{
	put_id(s, ID, ver, content);
}

static void expect(struct daemon_store *s, uint64_t ver, const char *content)
{
	char buf[256];
	uint8_t sha[32];
	ssize_t n = daemon_store_read(s, ID, ver, 0, buf, sizeof(buf));
	assert_int_equal(n, (ssize_t)strlen(content));
	assert_memory_equal(buf, content, (size_t)n);
	SHA256((const unsigned char *)content, strlen(content), sha);
	assert_int_equal(daemon_store_verify(s, ID, ver, sha), 0);
}

/* A copy being written exists only under a temporary name; at commit it is
 * valid under its unsynced name, and under its real name once synced
 * (flush); abort leaves nothing. */
static void test_temp_then_rename(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	uint8_t sha[32];
	SHA256((const unsigned char *)"hello", 5, sha);
	assert_int_equal(daemon_store_create(f->s, ID, 1, 5, &w), 0);
	assert_int_equal(daemon_store_writer_append(w, "hel", 3), 0);
	assert_int_equal(count_entries(f->dir, "tmp."), 1);
	assert_int_equal(count_entries(f->dir, NAME1), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, (char[8]){0}, 8), -ENOENT);
	assert_int_equal(daemon_store_writer_append(w, "lo", 2), 0);
	assert_int_equal(daemon_store_commit(w, sha), 0);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	assert_int_equal(count_entries(f->dir, NAME1), 0);
	assert_int_equal(count_entries(f->dir, "unsynced." NAME1 "."), 1);
	expect(f->s, 1, "hello");
	daemon_store_flush(f->s);
	assert_int_equal(count_entries(f->dir, "unsynced."), 0);
	assert_int_equal(count_entries(f->dir, NAME1), 1);
	expect(f->s, 1, "hello");

	assert_int_equal(daemon_store_create(f->s, ID, 2, 5, &w), 0);
	daemon_store_abort(w);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef"), 1);
	daemon_store_abort(NULL);
}

/* The file of the only copy in the store whose name starts with prefix. */
static void copy_path(struct fx *f, const char *prefix, char *out, size_t len)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	out[0] = 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			snprintf(out, len, "%s/%s", f->dir, de->d_name);
	closedir(d);
	assert_true(out[0]);
}

/* One byte of path flipped, its mtime put back. */
static void flip_keep_mtime(const char *path, off_t off)
{
	struct stat st;
	char b;
	assert_int_equal(stat(path, &st), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x20;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	struct timespec t[2] = {st.st_atim, st.st_mtim};
	assert_int_equal(futimens(fd, t), 0);
	close(fd);
}

/* A read of a copy whose file changed on disk since the store had it
 * (under its unsynced name, its real name, or found at open) is refused
 * with -EBADMSG, nothing of it returned; a copy committed again at the
 * same version, the syncer's rename and a reopen are not changes. */
static void test_read_changed_on_disk(void **state)
{
	struct fx *f = *state;
	char path[512], buf[64];
	put(f->s, 1, "version one");
	copy_path(f, "unsynced." NAME1, path, sizeof(path));
	flip_keep_mtime(path, 3);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -EBADMSG);
	put(f->s, 1, "version one"); /* committed again: the new file reads */
	expect(f->s, 1, "version one");
	daemon_store_flush(f->s); /* renamed: its ctime moved */
	expect(f->s, 1, "version one");
	copy_path(f, NAME1, path, sizeof(path));
	assert_int_equal(truncate(path, 4), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 8, buf, sizeof(buf)), -EBADMSG);
	/* Found at open: as it is then; changed after, refused. */
	put(f->s, 2, "version two");
	daemon_store_flush(f->s);
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	expect(f->s, 2, "version two");
	copy_path(f, "deadbeef0102030405060708090a0b0c-0000000000000002", path, sizeof(path));
	flip_keep_mtime(path, 0);
	assert_int_equal(daemon_store_read(f->s, ID, 2, 0, buf, sizeof(buf)), -EBADMSG);
}

/* The same copy committed again (a retried upload of the same version and
 * bytes), and renamed by the syncer, while it is read: no read takes that
 * for a copy changed on disk (-EBADMSG, which makes shadowd delete it), nor
 * returns other bytes. Before, a read whose two tries each crossed a
 * re-commit or a rename was refused as damaged: shadowd deleted a good copy
 * (seen over the wire: 2 of 3,014 reads with two clients re-putting). */
struct recommit {
	struct daemon_store *s;
	const char *content;
	atomic_int stop; /* two threads count: atomics (ThreadSanitizer) */
	atomic_int commits, failures;
};

static void *recommit_loop(void *arg)
{
	struct recommit *rc = arg;
	size_t n = strlen(rc->content);
	uint8_t sha[32];
	SHA256((const unsigned char *)rc->content, n, sha);
	while (!atomic_load(&rc->stop)) {
		struct daemon_store_writer *w;
		if (daemon_store_create(rc->s, ID, 1, n, &w) < 0 ||
		    daemon_store_writer_append(w, rc->content, n) < 0 ||
		    daemon_store_commit(w, sha) < 0)
			atomic_fetch_add(&rc->failures, 1);
		else
			atomic_fetch_add(&rc->commits, 1);
	}
	return NULL;
}

/* n bytes of the alphabet, NUL-terminated (malloc'd). */
static char *alphabet(size_t n)
{
	char *content = malloc(n + 1);
	assert_non_null(content);
	for (size_t i = 0; i < n; i++)
		content[i] = (char)('a' + i % 26);
	content[n] = 0;
	return content;
}

/* Two threads committing rc->content again at version 1 until
 * recommit_stop. */
static void recommit_start(struct recommit *rc, pthread_t t[2])
{
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, recommit_loop, rc), 0);
}

/* Stops them: none failed, and they committed often enough to race.
 * Returns their commits. */
static int recommit_stop(struct recommit *rc, pthread_t t[2])
{
	atomic_store(&rc->stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&rc->failures), 0);
	assert_true(atomic_load(&rc->commits) > 10);
	return atomic_load(&rc->commits);
}

static void test_read_races_recommit(void **state)
{
	struct fx *f = *state;
	enum { N = 64 << 10 };
	char *content = alphabet(N), *buf = malloc(N);
	daemon_store_set_sync_delay(f->s, 1); /* renames by the syncer too */
	put(f->s, 1, content);
	struct recommit rc = {.s = f->s, .content = content};
	pthread_t t[2];
	recommit_start(&rc, t);
	int reads = 0, damaged = 0, wrong = 0, other = 0;
	uint64_t end = sync_now_ms() + 2000;
	while (sync_now_ms() < end) {
		ssize_t n = daemon_store_read(f->s, ID, 1, 0, buf, N);
		reads++;
		if (n == -EBADMSG)
			damaged++;
		else if (n < 0)
			other++;
		else if (n != N || memcmp(buf, content, N))
			wrong++;
	}
	int commits = recommit_stop(&rc, t);
	print_message("%d reads, %d commits: %d refused as changed on disk, %d other errors, "
		      "%d wrong\n", reads, commits, damaged, other, wrong);
	assert_int_equal(wrong, 0);
	assert_int_equal(other, 0);
	assert_int_equal(damaged, 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, N), N);
	assert_memory_equal(buf, content, N);
	free(content);
	free(buf);
}

/* shadowd's VERIFY (daemon_store_verify_drop) deletes a copy that differs,
 * the file it hashed and only that one: the same bytes committed again at
 * the same version while a damaged file is re-hashed (a retried upload)
 * replace it, and the new copy is hashed in its turn, found good and kept,
 * under its unsynced name or its real one. Before, the damaged file's
 * verdict deleted the copy by its name after the re-hash: the good one
 * committed meanwhile went with it. */
struct recommit_once {
	struct daemon_store *s;
	int calls;
};

static int recommit_first_chunk(void *arg, uint64_t off, size_t want)
{
	struct recommit_once *ro = arg;
	(void)off;
	(void)want;
	if (ro->calls++ == 0)
		put(ro->s, 1, "version one");
	return 0;
}

static void test_verify_drops_only_the_file_hashed(void **state)
{
	struct fx *f = *state;
	char path[512], buf[64];
	uint8_t sha[32];
	int deleted = 1;
	SHA256((const unsigned char *)"version one", 11, sha);
	for (int durable = 0; durable < 2; durable++) {
		put(f->s, 1, "version one");
		if (durable)
			daemon_store_flush(f->s);
		copy_path(f, durable ? NAME1 : "unsynced." NAME1, path, sizeof(path));
		flip_keep_mtime(path, 3);
		struct recommit_once ro = {.s = f->s};
		assert_int_equal(
		    daemon_store_verify_drop(f->s, ID, 1, sha, recommit_first_chunk, &ro, &deleted),
		    0);
		assert_int_equal(ro.calls, 2); /* the damaged file, then the new one */
		expect(f->s, 1, "version one");
		expect_counts(f->s, 1, 11);
		daemon_store_flush(f->s);
	}
	/* Damaged and not replaced: deleted, its bytes off the count. */
	copy_path(f, NAME1, path, sizeof(path));
	flip_keep_mtime(path, 3);
	assert_int_equal(daemon_store_verify_drop(f->s, ID, 1, sha, NULL, NULL, &deleted),
			 -EBADMSG);
	assert_int_equal(deleted, 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -ENOENT);
	expect_counts(f->s, 0, 0);
	put(f->s, 1, "version one"); /* and so under its unsynced name */
	copy_path(f, "unsynced." NAME1, path, sizeof(path));
	flip_keep_mtime(path, 3);
	assert_int_equal(daemon_store_verify_drop(f->s, ID, 1, sha, NULL, NULL, &deleted),
			 -EBADMSG);
	assert_int_equal(deleted, 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -ENOENT);
	expect_counts(f->s, 0, 0);
	assert_int_equal(count_entries(f->dir, "unsynced."), 0);
	assert_int_equal(daemon_store_verify_drop(f->s, ID, 1, sha, NULL, NULL, &deleted), -ENOENT);
}

/* VERIFY against the same copy committed again from two threads, and
 * renamed by the syncer, the whole time: every answer is a match, nothing
 * is deleted, and the copy is there at the end. */
static void test_verify_races_recommit(void **state)
{
	struct fx *f = *state;
	enum { N = 64 << 10 };
	char *content = alphabet(N), *buf = malloc(N);
	uint8_t sha[32];
	SHA256((const unsigned char *)content, N, sha);
	daemon_store_set_sync_delay(f->s, 1);
	put(f->s, 1, content);
	struct recommit rc = {.s = f->s, .content = content};
	pthread_t t[2];
	recommit_start(&rc, t);
	int verifies = 0, damaged = 0, other = 0, deleted;
	uint64_t end = sync_now_ms() + 1000;
	while (sync_now_ms() < end) {
		int r = daemon_store_verify_drop(f->s, ID, 1, sha, NULL, NULL, &deleted);
		verifies++;
		damaged += r == -EBADMSG;
		other += r < 0 && r != -EBADMSG;
	}
	int commits = recommit_stop(&rc, t);
	print_message("%d verifies, %d commits: %d found damaged, %d other errors\n", verifies,
		      commits, damaged, other);
	assert_int_equal(damaged, 0);
	assert_int_equal(other, 0);
	daemon_store_flush(f->s);
	expect_counts(f->s, 1, N);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, N), N);
	assert_memory_equal(buf, content, N);
	free(content);
	free(buf);
}

/* shadowd's READ (daemon_store_read_drop) deletes a copy found changed on
 * disk, the file it read and only that one. Each round a damaged copy is
 * read while another thread commits the good bytes again at the same
 * version (its file written already: the rename only), both let go
 * together, one of them delay_ns later: in whatever order they come, the
 * copy is there at the end and reads back good. The delay steers to where
 * the commit lands at the read's verdict: the commit later after a read
 * that found no damage (the commit came first), sooner after one that did.
 * Before, the
 * verdict was carried out by name after the read (shadowd's
 * daemon_store_delete): a commit that landed between the two was deleted
 * with it. */
struct commit_rounds {
	struct daemon_store *s;
	pthread_barrier_t go, done;
	int rounds, failures;
	int64_t delay_ns; /* set before go; below 0: the read waits */
};

static void spin_ns(uint64_t ns)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((uint64_t)((b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec)) < ns);
}

static void *commit_each_round(void *arg)
{
	struct commit_rounds *cr = arg;
	uint8_t sha[32];
	SHA256((const unsigned char *)"version one", 11, sha);
	for (int i = 0; i < cr->rounds; i++) {
		struct daemon_store_writer *w = NULL;
		if (daemon_store_create(cr->s, ID, 1, 11, &w) < 0 ||
		    daemon_store_writer_append(w, "version one", 11) < 0)
			cr->failures++;
		pthread_barrier_wait(&cr->go);
		spin_ns(cr->delay_ns > 0 ? (uint64_t)cr->delay_ns : 0);
		if (w && daemon_store_commit(w, sha) < 0)
			cr->failures++;
		pthread_barrier_wait(&cr->done);
	}
	return NULL;
}

static void test_read_drops_only_the_file_read(void **state)
{
	struct fx *f = *state;
	char path[512], buf[64];
	struct commit_rounds cr = {.s = f->s, .rounds = 2000};
	int damaged = 0, lost = 0, deleted;
	put(f->s, 1, "version one");
	pthread_barrier_init(&cr.go, NULL, 2);
	pthread_barrier_init(&cr.done, NULL, 2);
	pthread_t t;
	uint64_t t0 = sync_now_ms();
	assert_int_equal(pthread_create(&t, NULL, commit_each_round, &cr), 0);
	for (int i = 0; i < cr.rounds; i++) {
		copy_path(f, "unsynced." NAME1, path, sizeof(path));
		flip_keep_mtime(path, 3);
		pthread_barrier_wait(&cr.go);
		spin_ns(cr.delay_ns < 0 ? (uint64_t)-cr.delay_ns : 0);
		bool found = daemon_store_read_drop(f->s, ID, 1, 0, buf, sizeof(buf), &deleted) ==
			     -EBADMSG;
		pthread_barrier_wait(&cr.done);
		cr.delay_ns += (found ? -1 : 1) * (100 + (i % 5) * 100);
		damaged += found;
		if (daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)) != 11 ||
		    memcmp(buf, "version one", 11)) {
			lost++;
			put(f->s, 1, "version one"); /* for the next round */
		}
	}
	pthread_join(t, NULL);
	print_message("%d rounds in %llu ms: %d reads found the damage, %d good copies lost\n",
		      cr.rounds, (unsigned long long)(sync_now_ms() - t0), damaged, lost);
	assert_int_equal(cr.failures, 0);
	assert_int_equal(lost, 0);
	expect_counts(f->s, 1, 11);
	pthread_barrier_destroy(&cr.go);
	pthread_barrier_destroy(&cr.done);
	/* Damaged and not replaced: deleted, its bytes off the count. */
	copy_path(f, "unsynced." NAME1, path, sizeof(path));
	flip_keep_mtime(path, 3);
	deleted = 1;
	assert_int_equal(daemon_store_read_drop(f->s, ID, 1, 0, buf, sizeof(buf), &deleted),
			 -EBADMSG);
	assert_int_equal(deleted, 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -ENOENT);
	expect_counts(f->s, 0, 0);
}

/* A copy whose SHA-256 does not match is refused, leaves no file, and the
 * existing copy of the same and of older versions stays valid. */
static void test_sha_mismatch_keeps_old(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	uint8_t bad[32] = {0};
	put(f->s, 1, "version one");
	assert_int_equal(daemon_store_create(f->s, ID, 1, 11, &w), 0);
	assert_int_equal(daemon_store_writer_append(w, "VERSION ONE", 11), 0);
	assert_int_equal(daemon_store_commit(w, bad), -EBADMSG);
	expect(f->s, 1, "version one");
	assert_int_equal(daemon_store_create_from(f->s, ID, 1, 2, 11, &w), 0);
	assert_int_equal(daemon_store_writer_write(w, 0, "V", 1), 0);
	assert_int_equal(daemon_store_commit(w, bad), -EBADMSG);
	assert_int_equal(daemon_store_read(f->s, ID, 2, 0, (char[8]){0}, 8), -ENOENT);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	expect(f->s, 1, "version one");
	assert_int_equal(daemon_store_verify(f->s, ID, 1, bad), -EBADMSG);
}

struct chunks {
	uint64_t offs[8];
	size_t wants[8];
	int n;
	int fail_at; /* the call that returns -EPIPE (-1: none) */
};

static int note_chunk(void *arg, uint64_t off, size_t want)
{
	struct chunks *c = arg;
	if (c->n == c->fail_at)
		return -EPIPE;
	if (c->n < 8) {
		c->offs[c->n] = off;
		c->wants[c->n] = want;
	}
	c->n++;
	return 0;
}

/* daemon_store_verify_each (shadowd's VERIFY) calls before() ahead of each
 * chunk of the re-hash, in order, covering the copy once; an error from
 * before() stops the hash and is returned; a missing copy is -ENOENT before
 * any chunk; a copy of 0 bytes needs no chunk. */
static void test_verify_each(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	size_t len = 2 * SYNC_SHA256_FD_CHUNK + 100;
	uint8_t *data = malloc(len), sha[32], empty_sha[32];
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7);
	SHA256(data, len, sha);
	assert_int_equal(daemon_store_create(f->s, ID, 3, len, &w), 0);
	assert_int_equal(daemon_store_writer_append(w, data, len), 0);
	assert_int_equal(daemon_store_commit(w, sha), 0);

	struct chunks c = {.fail_at = -1};
	assert_int_equal(daemon_store_verify_each(f->s, ID, 3, sha, note_chunk, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.offs[0], 0);
	assert_int_equal(c.offs[1], SYNC_SHA256_FD_CHUNK);
	assert_int_equal(c.offs[2], 2 * SYNC_SHA256_FD_CHUNK);
	assert_int_equal(c.wants[0], SYNC_SHA256_FD_CHUNK);
	assert_int_equal(c.wants[2], 100);
	c = (struct chunks){.fail_at = 1};
	assert_int_equal(daemon_store_verify_each(f->s, ID, 3, sha, note_chunk, &c), -EPIPE);
	assert_int_equal(c.n, 1);
	sha[5] ^= 1;
	c = (struct chunks){.fail_at = -1};
	assert_int_equal(daemon_store_verify_each(f->s, ID, 3, sha, note_chunk, &c), -EBADMSG);
	assert_int_equal(c.n, 3);
	c = (struct chunks){.fail_at = -1};
	assert_int_equal(daemon_store_verify_each(f->s, ID, 4, sha, note_chunk, &c), -ENOENT);
	assert_int_equal(c.n, 0);
	SHA256(data, 0, empty_sha);
	assert_int_equal(daemon_store_create(f->s, ID, 5, 0, &w), 0);
	assert_int_equal(daemon_store_commit(w, empty_sha), 0);
	assert_int_equal(daemon_store_verify_each(f->s, ID, 5, empty_sha, note_chunk, &c), 0);
	assert_int_equal(c.n, 0);
	free(data);
}

/* A ranged update starts from the base copy, may grow or shrink it, refuses
 * writes past the declared size, and keeps the base (stale) copy. */
static void test_ranged_update(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	uint8_t sha[32];
	put(f->s, 1, "0123456789");
	SHA256((const unsigned char *)"01ab456789XY", 12, sha);
	assert_int_equal(daemon_store_create_from(f->s, ID, 1, 2, 12, &w), 0);
	assert_int_equal(daemon_store_writer_write(w, 2, "ab", 2), 0);
	assert_int_equal(daemon_store_writer_write(w, 10, "XY", 2), 0);
	assert_int_equal(daemon_store_writer_write(w, 11, "XY", 2), -ERANGE);
	assert_int_equal(daemon_store_writer_write(w, UINT64_MAX, "X", 1), -ERANGE);
	assert_int_equal(daemon_store_writer_append(w, "X", 1), -EINVAL); /* not sequential */
	assert_int_equal(daemon_store_commit(w, sha), 0);
	expect(f->s, 2, "01ab456789XY");
	expect(f->s, 1, "0123456789");
	SHA256((const unsigned char *)"01a", 3, sha);
	assert_int_equal(daemon_store_create_from(f->s, ID, 2, 3, 3, &w), 0);
	assert_int_equal(daemon_store_commit(w, sha), 0);
	expect(f->s, 3, "01a");
	assert_int_equal(daemon_store_create_from(f->s, ID, 9, 10, 3, &w), -ENOENT);
	assert_int_equal(daemon_store_create_from(f->s, ID, 3, 3, 3, &w), -EINVAL);
}

/* Nothing outside the store is read or written: a symlink planted under a
 * copy's name is not followed (read fails, a new copy replaces the link
 * itself and the target is untouched); strangers are ignored; leftovers of a
 * crash are removed at open. */
static void test_path_safety(void **state)
{
	struct fx *f = *state;
	char outside[96], link[160], stranger[160], tmpfile[160], buf[64];
	snprintf(outside, sizeof(outside), "%s.outside", f->dir);
	FILE *o = fopen(outside, "w");
	fputs("secret", o);
	fclose(o);
	snprintf(link, sizeof(link), "%s/" NAME1, f->dir);
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, buf, sizeof(buf)), -ELOOP);
	int fd;
	assert_int_equal(daemon_store_open_copy(f->s, ID, 1, &fd, NULL), -ELOOP);
	struct daemon_store_entry *v;
	size_t n;
	assert_int_equal(daemon_store_list(f->s, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	put(f->s, 1, "replaced");
	expect(f->s, 1, "replaced");
	o = fopen(outside, "r");
	assert_non_null(fgets(buf, sizeof(buf), o));
	fclose(o);
	assert_string_equal(buf, "secret");
	unlink(outside);

	snprintf(stranger, sizeof(stranger), "%s/README", f->dir);
	o = fopen(stranger, "w");
	fclose(o);
	snprintf(tmpfile, sizeof(tmpfile), "%s/tmp." NAME1 ".99", f->dir);
	o = fopen(tmpfile, "w");
	fclose(o);
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	assert_int_equal(access(tmpfile, F_OK), -1);
	assert_int_equal(access(stranger, F_OK), 0);
	struct daemon_store_stats st;
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.copies, 1);
	assert_int_equal(st.used_bytes, 8 + OVERHEAD);
}

/* The space budget refuses a copy that does not fit, counting copies being
 * written; deleting frees space. list/delete/stats agree. */
static void test_budget_list_delete(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w1, *w2;
	struct daemon_store_stats st;
	struct daemon_store_entry *v;
	size_t n;
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 100 + 3 * OVERHEAD, &f->s), 0);
	put(f->s, 1, "0123456789");
	put(f->s, 2, "abcdefghijklmnopqrst");
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.used_bytes, 30 + 2 * OVERHEAD);
	assert_int_equal(st.copies, 2);
	assert_int_equal(daemon_store_create(f->s, ID, 3, 60, &w1), 0);
	assert_int_equal(daemon_store_create(f->s, ID, 4, 20, &w2), -ENOSPC);
	daemon_store_abort(w1);
	assert_int_equal(daemon_store_create(f->s, ID, 4, 71, &w2), -ENOSPC);
	assert_int_equal(daemon_store_list(f->s, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true((v[0].version == 1 && v[0].size == 10) ||
		    (v[0].version == 2 && v[0].size == 20));
	free(v);
	assert_int_equal(daemon_store_delete(f->s, ID, 7), -ENOENT);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.copies, 0);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), -ENOENT);
	assert_int_equal(daemon_store_create(f->s, ID, 4, 100, &w2), 0);
	daemon_store_abort(w2);
}

/* Each copy counts DAEMON_STORE_COPY_OVERHEAD against the budget, empty
 * ones too: a peer stored 71,297 empty copies under a 1 MiB budget, which
 * read 0 bytes used (only the inodes bounded them). Now a budget of 4
 * overheads takes 4 empty copies (of other ids) and refuses a fifth; the
 * count survives a reopen and a delete gives the overhead back. */
static void test_budget_counts_copies(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	uint8_t id[16], sha[32];
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 4 * OVERHEAD, &f->s), 0);
	SHA256((const unsigned char *)"", 0, sha);
	memcpy(id, ID, 16);
	for (int i = 0; i < 4; i++) {
		id[0] = (uint8_t)i;
		put_id(f->s, id, 1, "");
	}
	expect_counts(f->s, 4, 0);
	id[0] = 4;
	assert_int_equal(daemon_store_create(f->s, id, 1, 0, &w), -ENOSPC);
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 4 * OVERHEAD, &f->s), 0);
	expect_counts(f->s, 4, 0);
	id[0] = 0;
	assert_int_equal(daemon_store_delete(f->s, id, 1), 0);
	expect_counts(f->s, 3, 0);
	id[0] = 4;
	assert_int_equal(daemon_store_create(f->s, id, 1, 0, &w), 0);
	struct daemon_store_stats st;
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, OVERHEAD);
	assert_int_equal(daemon_store_commit(w, sha), 0);
	expect_counts(f->s, 4, 0);
}

/* One open store per directory: a second open, in this process or in
 * another, is refused with -EBUSY once its wait is over, until the first
 * is closed (or its process exits); the copies are untouched by the
 * refused open. A holder that lets go within the wait is waited for. */
static void test_one_open_store(void **state)
{
	struct fx *f = *state;
	struct daemon_store *other = NULL;
	put(f->s, 1, "kept");
	assert_int_equal(daemon_store_open_waiting(f->dir, 0, 0, &other), -EBUSY);
	assert_null(other);
	assert_int_equal(daemon_store_open_waiting(f->dir, 0, 200, &other), -EBUSY);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct daemon_store *s = NULL;
		_exit(daemon_store_open_waiting(f->dir, 0, 100, &s) == -EBUSY ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect(f->s, 1, "kept");
	/* A child holds it for 300 ms, then exits: the wait covers it. */
	daemon_store_close(f->s);
	f->s = NULL;
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct daemon_store *s = NULL;
		if (daemon_store_open_waiting(f->dir, 0, 0, &s) != 0)
			_exit(1);
		(void)!write(go[1], "x", 1);
		usleep(300 * 1000);
		_exit(0); /* no close: the exit lets go */
	}
	char c;
	assert_int_equal(read(go[0], &c, 1), 1);
	assert_int_equal(daemon_store_open_waiting(f->dir, 0, 0, &f->s), -EBUSY);
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[0]);
	close(go[1]);
	expect(f->s, 1, "kept");
}

/* Copies below a version (an earlier mount's) go, durable and unsynced
 * alike; the rest stay, and the budget gets their room back. */
static void test_delete_older(void **state)
{
	struct fx *f = *state;
	struct daemon_store_stats st;
	uint64_t n = 99, bytes = 99;
	put(f->s, 5, "old and durable");
	daemon_store_flush(f->s);
	put(f->s, 6, "old, unsynced");
	put(f->s, 10, "this mount's");
	put(f->s, 11, "this mount's too");
	assert_int_equal(daemon_store_delete_older(f->s, 10, &n, &bytes), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bytes, strlen("old and durable") + strlen("old, unsynced"));
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.copies, 2);
	assert_int_equal(st.used_bytes,
			 strlen("this mount's") + strlen("this mount's too") + 2 * OVERHEAD);
	expect(f->s, 10, "this mount's");
	expect(f->s, 11, "this mount's too");
	assert_true(daemon_store_read(f->s, ID, 5, 0, (char[8]){0}, 8) < 0);
	assert_int_equal(daemon_store_delete_older(f->s, 10, &n, &bytes), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bytes, 0);
}

struct pace_log {
	uint64_t bytes, calls, fail_after; /* fail_after: calls that succeed (0: all) */
};

static int pace_count(void *ctx, uint64_t bytes)
{
	struct pace_log *p = ctx;
	if (p->fail_after && p->calls == p->fail_after)
		return -ECANCELED;
	p->calls++;
	p->bytes += bytes;
	return 0;
}

/* A source file next to the store holding len bytes of data, open O_RDWR. */
static int write_src(struct fx *f, const void *data, size_t len, char path[96])
{
	snprintf(path, 96, "%s.src", f->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

/* A local first copy from an fd: the digest returned is the SHA-256 of the
 * source; committed with it the copy is valid; a wrong digest or a short
 * source is refused. */
static void test_create_from_fd(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	char src[96];
	uint8_t sha[32], got[32], bad[32] = {0};
	int fd = write_src(f, "origin bytes", 12, src);
	SHA256((const unsigned char *)"origin bytes", 12, sha);
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 1, fd, 12, NULL, got, &w), 0);
	assert_memory_equal(got, sha, 32);
	assert_int_equal(daemon_store_commit(w, got), 0);
	expect(f->s, 1, "origin bytes");
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 2, fd, 12, NULL, got, &w), 0);
	assert_int_equal(daemon_store_commit(w, bad), -EBADMSG);
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 3, fd, 13, NULL, got, &w), -EIO);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	close(fd);
	unlink(src);
}

/* A source of several chunks is read once: the pace hook is asked for
 * exactly its size in total, one chunk (<= 1 MiB) at a time; the copy is
 * byte-identical. A hook error aborts with that error and leaves nothing. */
static void test_create_from_fd_paced(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	enum { SIZE = (5 << 19) + 77 }; /* 2.5 MiB + 77: three chunks */
	char src[96];
	uint8_t *data = malloc(SIZE), *back = malloc(SIZE), sha[32], got[32];
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 13);
	int fd = write_src(f, data, SIZE, src);
	SHA256(data, SIZE, sha);
	struct pace_log log = {0};
	struct sync_pace pace = {pace_count, &log};
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 1, fd, SIZE, &pace, got, &w), 0);
	assert_int_equal(log.bytes, SIZE);
	assert_int_equal(log.calls, 3);
	assert_memory_equal(got, sha, 32);
	assert_int_equal(daemon_store_commit(w, got), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, back, SIZE), SIZE);
	assert_memory_equal(back, data, SIZE);
	log = (struct pace_log){.fail_after = 1};
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 2, fd, SIZE, &pace, got, &w),
			 -ECANCELED);
	assert_int_equal(log.calls, 1);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	close(fd);
	unlink(src);
	free(data);
	free(back);
}

/* A sparse copy counts its data against the budget, not its holes (the
 * lesser of its size and its blocks); appended zeros (ZEROS frames) are
 * holes; the count stays right across the durability pass, a delete and a
 * reopen. A copy being written still reserves its whole size. */
static void test_budget_sparse(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	struct daemon_store_stats st;
	enum { SIZE = 64 << 20 };
	uint8_t *dense = calloc(1, SIZE), sha[32];
	memset(dense, 0x5a, 4096);
	SHA256(dense, SIZE, sha);
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 128 << 20, &f->s), 0);
	for (uint64_t v = 1; v <= 4; v++) { /* 4 x 64 MiB in a 128 MiB budget */
		assert_int_equal(daemon_store_create(f->s, ID, v, SIZE, &w), 0);
		assert_int_equal(daemon_store_writer_append(w, dense, 4096), 0);
		assert_int_equal(daemon_store_writer_append_zeros(w, (32 << 20) - 4096), 0);
		assert_int_equal(daemon_store_writer_append_zeros(w, 32 << 20), 0);
		assert_int_equal(daemon_store_commit(w, sha), 0);
		daemon_store_stats(f->s, &st);
		assert_true(st.used_bytes >= v * 4096 && st.used_bytes <= v * 65536);
	}
	assert_int_equal(daemon_store_read(f->s, ID, 4, 0, (char[8]){0}, 8), 8);
	daemon_store_flush(f->s); /* durable: counted by its written-back blocks */
	daemon_store_stats(f->s, &st);
	uint64_t used = st.used_bytes;
	assert_true(used >= 4 * 4096 && used <= 4 * 65536);
	/* Writing reserves the whole size: a fifth does not start when the
	 * budget could not hold it dense. */
	assert_int_equal(daemon_store_create(f->s, ID, 5, 128 << 20, &w), -ENOSPC);
	/* More zeros than the copy holds, or after a positional write: refused. */
	assert_int_equal(daemon_store_create(f->s, ID, 6, 8192, &w), 0);
	assert_int_equal(daemon_store_writer_append_zeros(w, 8193), -ERANGE);
	assert_int_equal(daemon_store_writer_write(w, 4096, dense, 10), 0);
	assert_int_equal(daemon_store_writer_append_zeros(w, 10), -EINVAL);
	daemon_store_abort(w);
	assert_int_equal(daemon_store_delete(f->s, ID, 1), 0);
	daemon_store_stats(f->s, &st);
	assert_true(st.used_bytes < used && st.used_bytes >= 3 * 4096);
	used = st.used_bytes;
	daemon_store_close(f->s); /* reopened: counted from the directory, the same */
	assert_int_equal(daemon_store_open(f->dir, 128 << 20, &f->s), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.used_bytes, used);
	assert_int_equal(st.copies, 3);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.used_bytes, 0);
	/* A local copy of a sparse source reserves its data only: 64 MiB
	 * holding 4 KiB fits a 1 MiB budget; a dense 2 MiB source does not. */
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 1 << 20, &f->s), 0);
	char src[96];
	int fd = write_src(f, "", 0, src);
	assert_int_equal(ftruncate(fd, SIZE), 0);
	assert_int_equal(pwrite(fd, dense, 4096, 0), 4096);
	uint8_t got[32];
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 7, fd, SIZE, NULL, got, &w), 0);
	assert_memory_equal(got, sha, 32);
	daemon_store_stats(f->s, &st);
	assert_true(st.reserved_bytes >= 4096 && st.reserved_bytes <= 65536);
	assert_int_equal(daemon_store_commit(w, got), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 0);
	assert_true(st.used_bytes >= 4096 && st.used_bytes <= 65536);
	assert_int_equal(ftruncate(fd, 0), 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(write(fd, dense, 4096), 4096); /* 2 MiB of data */
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 8, fd, 2 << 20, NULL, got, &w),
			 -ENOSPC);
	close(fd);
	unlink(src); /* next to the store dir, which the teardown removes: left in /tmp before */
	free(dense);
}

/* A thin writer (a shadowd's PUT that said how much of the file is data)
 * reserves that much, not the size: a 64 MiB copy holding 4 KiB is
 * written into a 1 MiB budget. Data beyond what was said reserves more as
 * it is written, up to the budget: a sender that understated its data
 * gets -ENOSPC at the write that does not fit, and the reservation goes
 * back whole at the abort (or the commit). */
static void test_create_thin(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	struct daemon_store_stats st;
	enum { SIZE = 64 << 20, MIB = 1 << 20 };
	uint8_t *dense = calloc(1, SIZE), sha[32];
	memset(dense, 0x5a, 4096);
	SHA256(dense, SIZE, sha);
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, MIB, &f->s), 0);
	assert_int_equal(daemon_store_create(f->s, ID, 1, SIZE, &w), -ENOSPC); /* dense: no */
	assert_int_equal(daemon_store_create_thin(f->s, ID, 1, SIZE, 4096, &w), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 4096 + OVERHEAD);
	assert_int_equal(daemon_store_writer_append(w, dense, 4096), 0);
	assert_int_equal(daemon_store_writer_append_zeros(w, SIZE - 4096), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 4096 + OVERHEAD); /* zeros reserve nothing */
	assert_int_equal(daemon_store_commit(w, sha), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 0);
	assert_true(st.used_bytes >= 4096 && st.used_bytes <= 65536);
	/* Said 4 KiB, sends 2 MiB of data: more is reserved as it comes, the
	 * write that passes the budget fails, nothing is left reserved. */
	assert_int_equal(daemon_store_create_thin(f->s, ID, 2, SIZE, 4096, &w), 0);
	int r = 0;
	uint64_t sent = 0;
	while (r == 0 && sent < 2 * MIB) {
		r = daemon_store_writer_append(w, dense, 4096);
		sent += r == 0 ? 4096 : 0;
		daemon_store_stats(f->s, &st);
		assert_true(st.used_bytes + st.reserved_bytes <= MIB);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(sent >= MIB - 65536 - 4096 && sent < MIB);
	daemon_store_abort(w);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 0);
	/* An update of the thin copy (a ranged UPDATE starts from a clone of
	 * its base): the clone keeps the base's holes and reserves its data,
	 * each range written reserves more; 64 MiB never needed. */
	assert_int_equal(daemon_store_create_from(f->s, ID, 1, 4, SIZE, &w), 0);
	daemon_store_stats(f->s, &st);
	assert_true(st.reserved_bytes >= 4096 && st.reserved_bytes <= 65536);
	uint64_t r0 = st.reserved_bytes;
	assert_int_equal(daemon_store_writer_write(w, 8 << 20, dense, 4096), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, r0 + 4096);
	memcpy(dense + (8 << 20), dense, 4096);
	SHA256(dense, SIZE, sha);
	assert_int_equal(daemon_store_commit(w, sha), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 0);
	int ufd = -1;
	uint64_t usize = 0;
	assert_int_equal(daemon_store_open_copy(f->s, ID, 4, &ufd, &usize), 0);
	struct stat ust;
	assert_int_equal(fstat(ufd, &ust), 0);
	assert_int_equal(usize, SIZE);
	assert_true((uint64_t)ust.st_blocks * 512 <= 256 * 1024); /* two 4 KiB runs, not 64 MiB */
	close(ufd);
	/* Data said larger than the size: the size is reserved. */
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	assert_int_equal(daemon_store_create_thin(f->s, ID, 3, 8192, 1 << 20, &w), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.reserved_bytes, 8192 + OVERHEAD);
	daemon_store_abort(w);
	free(dense);
}

/* A sparse origin gives a sparse copy: its holes are neither read nor
 * written (the pace is asked only for the data), hashed as the zeros they
 * read as, so the digest is the file's and the copy reads back the same,
 * with about the blocks of the data only. Holes inside, and at the end.
 * A copy sent whole (zeros included) is sparse too. */
static void test_create_from_fd_sparse(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	enum { SIZE = 64 << 20, TAIL_SIZE = 32 << 20 };
	char src[96];
	uint8_t *dense = calloc(1, SIZE), *back = malloc(SIZE), sha[32], got[32];
	int fd = write_src(f, "head", 4, src);
	static const struct {
		uint64_t off;
		size_t len;
	} pieces[] = {{0, 4096}, {20 << 20, 8192}, {SIZE - 100, 100}};
	uint64_t data_bytes = 0;
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		for (size_t k = 0; k < pieces[i].len; k++)
			dense[pieces[i].off + k] = (uint8_t)(k * 31 + i + 1);
		assert_int_equal(pwrite(fd, dense + pieces[i].off, pieces[i].len,
					(off_t)pieces[i].off),
				 (ssize_t)pieces[i].len);
		data_bytes += pieces[i].len;
	}
	SHA256(dense, SIZE, sha);
	struct pace_log log = {0};
	struct sync_pace pace = {pace_count, &log};
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 1, fd, SIZE, &pace, got, &w), 0);
	assert_memory_equal(got, sha, 32);
	assert_true(log.bytes >= data_bytes && log.bytes < data_bytes + (1 << 20));
	assert_int_equal(daemon_store_commit(w, got), 0);
	assert_int_equal(daemon_store_verify(f->s, ID, 1, sha), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, back, SIZE), SIZE);
	assert_memory_equal(back, dense, SIZE);
	int cfd;
	struct stat st;
	assert_int_equal(daemon_store_open_copy(f->s, ID, 1, &cfd, NULL), 0);
	assert_int_equal(fstat(cfd, &st), 0);
	close(cfd);
	assert_int_equal(st.st_size, SIZE);
	assert_true((uint64_t)st.st_blocks * 512 < 1 << 20); /* not 64 MiB */
	/* A trailing hole: data only at the start. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(ftruncate(fd, TAIL_SIZE), 0);
	memset(dense, 0, SIZE);
	memcpy(dense, "start", 5);
	assert_int_equal(pwrite(fd, "start", 5, 0), 5);
	SHA256(dense, TAIL_SIZE, sha);
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 2, fd, TAIL_SIZE, NULL, got, &w), 0);
	assert_memory_equal(got, sha, 32);
	assert_int_equal(daemon_store_commit(w, got), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 2, 0, back, TAIL_SIZE), TAIL_SIZE);
	assert_memory_equal(back, dense, TAIL_SIZE);
	/* Shorter than announced, the end a hole or not: refused. */
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 3, fd, TAIL_SIZE + 1, NULL, got, &w),
			 -EIO);
	uint8_t d2[32];
	assert_int_equal(sync_sha256_fd(fd, TAIL_SIZE, d2), 0);
	assert_memory_equal(d2, sha, 32);
	assert_int_equal(sync_sha256_fd(fd, TAIL_SIZE + 1, d2), -EIO);
	/* Sent whole (a remote full copy: zeros on the wire), appended in
	 * pieces not aligned to blocks: the zero blocks are not written. */
	memset(dense, 0, SIZE);
	memcpy(dense + 5000, "mid", 3);		    /* inside a block */
	memset(dense + (3 << 20) - 10, 0xab, 20);   /* across a piece and a block */
	memset(dense + TAIL_SIZE - 4096, 0xcd, 4096); /* the last block */
	SHA256(dense, TAIL_SIZE, sha);
	assert_int_equal(daemon_store_create(f->s, ID, 4, TAIL_SIZE, &w), 0);
	for (size_t off = 0; off < TAIL_SIZE; off += 100003) {
		size_t k = TAIL_SIZE - off < 100003 ? TAIL_SIZE - off : 100003;
		assert_int_equal(daemon_store_writer_append(w, dense + off, k), 0);
	}
	assert_int_equal(daemon_store_commit(w, sha), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 4, 0, back, TAIL_SIZE), TAIL_SIZE);
	assert_memory_equal(back, dense, TAIL_SIZE);
	assert_int_equal(daemon_store_open_copy(f->s, ID, 4, &cfd, NULL), 0);
	assert_int_equal(fstat(cfd, &st), 0);
	close(cfd);
	assert_true((uint64_t)st.st_blocks * 512 < 1 << 20); /* not 32 MiB */
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	close(fd);
	unlink(src);
	free(dense);
	free(back);
}

/* The commit checks the copy's file, not the bytes handed over: a byte
 * changed in the temporary file after the copy makes it refused. */
static void test_create_from_fd_commit_rereads(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	char src[96];
	uint8_t got[32];
	int fd = write_src(f, "origin bytes", 12, src);
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 1, fd, 12, NULL, got, &w), 0);
	assert_int_equal(pwrite(daemon_store_writer_fd(w), "X", 1, 3), 1);
	assert_int_equal(daemon_store_commit(w, got), -EBADMSG);
	assert_int_equal(daemon_store_open_copy(f->s, ID, 1, &(int){0}, NULL), -ENOENT);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	close(fd);
	unlink(src);
}

/* The commit's re-read of a copy from a file calls before() ahead of each
 * chunk; an error from it (a cancelled job) stops the commit with that
 * error: nothing committed, no temporary file left, an older copy kept. */
static void test_commit_each_stops(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	enum { SIZE = 2 * SYNC_SHA256_FD_CHUNK + 5 };
	char src[96];
	uint8_t *data = malloc(SIZE), got[32];
	for (size_t i = 0; i < SIZE; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	int fd = write_src(f, data, SIZE, src);
	put(f->s, 1, "older copy");
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 2, fd, SIZE, NULL, got, &w), 0);
	struct chunks c = {.fail_at = 1};
	assert_int_equal(daemon_store_commit_each(w, got, note_chunk, &c), -EPIPE);
	assert_int_equal(c.n, 1);
	assert_int_equal(daemon_store_open_copy(f->s, ID, 2, &(int){0}, NULL), -ENOENT);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	expect(f->s, 1, "older copy");
	assert_int_equal(daemon_store_create_from_fd(f->s, ID, 2, fd, SIZE, NULL, got, &w), 0);
	c = (struct chunks){.fail_at = -1};
	assert_int_equal(daemon_store_commit_each(w, got, note_chunk, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.wants[2], 5);
	int cfd = -1;
	uint64_t csize = 0;
	assert_int_equal(daemon_store_open_copy(f->s, ID, 2, &cfd, &csize), 0);
	assert_int_equal(csize, SIZE);
	close(cfd);
	close(fd);
	unlink(src);
	free(data);
}

/* A copy larger than the filesystem's free space is refused up front. */
static void test_larger_than_disk(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	assert_int_equal(daemon_store_create(f->s, ID, 1, 1ull << 49, &w), -ENOSPC);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
}

/* The version that means "all versions" to delete is not a copy's: a peer
 * that puts one gets EINVAL and nothing is written. */
static void test_all_versions_is_not_a_version(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w;
	assert_int_equal(daemon_store_create(f->s, ID, DAEMON_STORE_ALL_VERSIONS, 8, &w), -EINVAL);
	assert_int_equal(daemon_store_create_thin(f->s, ID, DAEMON_STORE_ALL_VERSIONS, 8, 0, &w),
			 -EINVAL);
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
	put(f->s, 1, "kept");
	assert_int_equal(daemon_store_create_from(f->s, ID, 1, DAEMON_STORE_ALL_VERSIONS, 4, &w),
			 -EINVAL);
	expect(f->s, 1, "kept");
	assert_int_equal(count_entries(f->dir, "tmp."), 0);
}

/* Reads past the end return short counts, then 0. */
static void test_read_ranges(void **state)
{
	struct fx *f = *state;
	char buf[16];
	put(f->s, 5, "abcdef");
	assert_int_equal(daemon_store_read(f->s, ID, 5, 4, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "ef", 2);
	assert_int_equal(daemon_store_read(f->s, ID, 5, 6, buf, sizeof(buf)), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 5, 1000, buf, sizeof(buf)), 0);
}

/* Name of the only "unsynced." entry of version ver in dir (into out). */
static void unsynced_path(const char *dir, uint64_t ver, char *out, size_t len)
{
	char prefix[80];
	DIR *d = opendir(dir);
	struct dirent *de;
	snprintf(prefix, sizeof(prefix), "unsynced.deadbeef0102030405060708090a0b0c-%016llx.",
		 (unsigned long long)ver);
	out[0] = 0;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			snprintf(out, len, "%s/%s", dir, de->d_name);
	closedir(d);
	assert_true(out[0] != 0);
}

/* A crash after commit and before the sync pass: at the next open an
 * unsynced copy whose bytes still match its digest is valid (and now
 * durable), one whose bytes do not (lost writeback) is removed, never
 * served. The crash is a child process that commits and _exits. */
static void test_crash_before_sync(void **state)
{
	struct fx *f = *state;
	char path[512];
	struct daemon_store_stats st;
	daemon_store_close(f->s);
	f->s = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct daemon_store *s;
		if (daemon_store_open(f->dir, 0, &s) != 0)
			_exit(2);
		put(s, 1, "survives the crash");
		put(s, 2, "loses its writeback");
		_exit(0); /* no close: nothing synced */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(count_entries(f->dir, "unsynced."), 2);
	assert_int_equal(count_entries(f->dir, "deadbeef"), 0);
	unsynced_path(f->dir, 2, path, sizeof(path));
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\0\0\0\0", 4, 3), 4); /* what a lost page looks like */
	close(fd);

	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.recovered_copies, 1);
	assert_int_equal(st.discarded_copies, 1);
	assert_int_equal(st.unsynced_copies, 0);
	assert_int_equal(st.copies, 1);
	assert_int_equal(st.used_bytes, strlen("survives the crash") + OVERHEAD);
	assert_int_equal(count_entries(f->dir, "unsynced."), 0);
	assert_int_equal(count_entries(f->dir, NAME1), 1);
	expect(f->s, 1, "survives the crash");
	assert_int_equal(daemon_store_read(f->s, ID, 2, 0, path, 8), -ENOENT);
}

/* An unsynced copy is served, listed, replaced and deleted like a durable
 * one; a replacement of a durable copy hides it at once; the accounting
 * stays exact. */
static void test_unsynced_replace_delete(void **state)
{
	struct fx *f = *state;
	struct daemon_store_stats st;
	struct daemon_store_entry *v;
	size_t n;
	put(f->s, 1, "first");
	put(f->s, 1, "second!");
	expect(f->s, 1, "second!");
	assert_int_equal(count_entries(f->dir, "unsynced."), 1);
	assert_int_equal(daemon_store_list(f->s, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].size, 7);
	free(v);
	assert_int_equal(daemon_store_delete(f->s, ID, 1), 0);
	assert_int_equal(daemon_store_read(f->s, ID, 1, 0, (char[8]){0}, 8), -ENOENT);
	assert_int_equal(count_entries(f->dir, "unsynced."), 0);
	expect_counts(f->s, 0, 0);

	put(f->s, 2, "durable");
	daemon_store_flush(f->s);
	put(f->s, 2, "newer copy");
	expect(f->s, 2, "newer copy");
	assert_int_equal(count_entries(f->dir, "deadbeef"), 0);
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.copies, 1);
	assert_int_equal(st.used_bytes, 10 + OVERHEAD);
	assert_int_equal(st.unsynced_copies, 1);
	daemon_store_flush(f->s);
	expect(f->s, 2, "newer copy");
	daemon_store_stats(f->s, &st);
	assert_int_equal(st.unsynced_copies, 0);
	assert_int_equal(st.copies, 1);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef"), 0);
}

/* Deleting every version of one id (which no longer reads the directory:
 * the store's index of durable copies) removes exactly that id's copies,
 * durable and unsynced, as recorded by commits and the syncer and, after
 * a reopen, as found on disk; the other ids' copies stay. */
static void test_delete_all_versions_index(void **state)
{
	struct fx *f = *state;
	uint8_t other[16];
	memcpy(other, ID, 16);
	other[15] ^= 0xff;
	for (uint64_t v = 1; v <= 20; v++) {
		put(f->s, v, "one of twenty");
		put_id(f->s, other, v, "other file");
	}
	daemon_store_flush(f->s); /* durable names, recorded by the syncer */
	put(f->s, 21, "unsynced one");
	assert_int_equal(count_entries(f->dir, "deadbeef0102030405060708090a0b0c-"), 20);
	/* Listed by id: 20 durable and 1 unsynced, with their sizes, no other id. */
	struct daemon_store_entry *v;
	size_t n;
	assert_int_equal(daemon_store_list_id(f->s, ID, &v, &n), 0);
	assert_int_equal(n, 21);
	uint64_t seen = 0;
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(v[i].id, ID, 16);
		assert_int_equal(v[i].size, v[i].version == 21 ? 12 : 13);
		seen |= 1ull << v[i].version;
	}
	assert_int_equal(seen, ((1ull << 22) - 1) & ~1ull);
	free(v);
	uint8_t none[16] = {0};
	assert_int_equal(daemon_store_list_id(f->s, none, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef0102030405060708090a0b0c-"), 0);
	assert_int_equal(count_entries(f->dir, "unsynced.deadbeef0102030405060708090a0b0c"), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef0102030405060708090a0bf3-"), 20);
	expect_counts(f->s, 20, 20 * strlen("other file"));
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), -ENOENT);
	/* Reopened: the index comes from the directory. */
	put(f->s, 5, "again");
	daemon_store_close(f->s);
	assert_int_equal(daemon_store_open(f->dir, 0, &f->s), 0);
	expect(f->s, 5, "again");
	assert_int_equal(daemon_store_delete(f->s, other, 3), 0);
	assert_int_equal(daemon_store_delete(f->s, other, DAEMON_STORE_ALL_VERSIONS), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef0102030405060708090a0bf3-"), 0);
	expect(f->s, 5, "again");
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	expect_counts(f->s, 0, 0);
	/* A copy replaced at the same version, then deleted: nothing left. */
	put(f->s, 9, "first");
	daemon_store_flush(f->s);
	put(f->s, 9, "second");
	daemon_store_flush(f->s);
	assert_int_equal(count_entries(f->dir, "deadbeef"), 1);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), 0);
	assert_int_equal(count_entries(f->dir, "deadbeef"), 0);
	assert_int_equal(daemon_store_delete(f->s, ID, DAEMON_STORE_ALL_VERSIONS), -ENOENT);
}

/* The background syncer makes a copy durable by itself shortly after its
 * commit. */
static void test_background_sync(void **state)
{
	struct fx *f = *state;
	struct daemon_store_stats st;
	put(f->s, 3, "synced in the background");
	for (int i = 0; i < 100; i++) {
		daemon_store_stats(f->s, &st);
		if (!st.unsynced_copies)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(st.unsynced_copies, 0);
	assert_int_equal(count_entries(f->dir, "deadbeef0102030405060708090a0b0c-0000000000000003"),
			 1);
	expect(f->s, 3, "synced in the background");
}

static int open_fds(void)
{
	return count_entries("/proc/self/fd", "");
}

/* Unsynced copies are bounded: each holds its file open until synced, and
 * a peer committing faster than the syncer's fdatasyncs took every file
 * descriptor. Past DAEMON_STORE_UNSYNCED_MAX a commit waits for a pass,
 * which starts at once however long the sync delay. */
static void test_unsynced_bounded(void **state)
{
	struct fx *f = *state;
	struct daemon_store_stats st;
	const int n = DAEMON_STORE_UNSYNCED_MAX + 100;
	int fds0 = open_fds();
	daemon_store_set_sync_delay(f->s, 3600000); /* no pass for an hour */
	for (int i = 0; i < n; i++) {
		uint8_t id[16] = {0x0b, (uint8_t)(i >> 8), (uint8_t)i};
		put_id(f->s, id, 1, "x");
		daemon_store_stats(f->s, &st);
		assert_true(st.unsynced_copies <= DAEMON_STORE_UNSYNCED_MAX);
		assert_true(open_fds() <= fds0 + DAEMON_STORE_UNSYNCED_MAX + 4);
	}
	expect_counts(f->s, (uint64_t)n, (uint64_t)n);
	uint8_t last[16] = {0x0b, (uint8_t)((n - 1) >> 8), (uint8_t)(n - 1)};
	char c;
	assert_int_equal(daemon_store_read(f->s, last, 1, 0, &c, 1), 1);
	assert_int_equal(c, 'x');
}

/* The versions of one id are bounded: the index keeps them in one run of
 * slots that every add and lookup of that id walks. Past the bound a new
 * version is refused; an existing one may be written again, another id
 * is not affected. */
static void test_versions_bounded(void **state)
{
	struct fx *f = *state;
	struct daemon_store_writer *w = NULL;
	for (uint64_t v = 1; v <= DAEMON_STORE_VERSIONS_MAX; v++)
		put(f->s, v, "v");
	daemon_store_flush(f->s); /* durable ones (the index), and unsynced ones: */
	for (uint64_t v = 1; v <= DAEMON_STORE_VERSIONS_MAX / 2; v++)
		assert_int_equal(daemon_store_delete(f->s, ID, v), 0);
	for (uint64_t v = 1; v <= DAEMON_STORE_VERSIONS_MAX / 2; v++)
		put(f->s, v, "v");
	assert_int_equal(daemon_store_create(f->s, ID, DAEMON_STORE_VERSIONS_MAX + 1, 1, &w),
			 -EMLINK);
	assert_null(w);
	put(f->s, 1, "again"); /* present: written again */
	put(f->s, DAEMON_STORE_VERSIONS_MAX, "again");
	expect(f->s, DAEMON_STORE_VERSIONS_MAX, "again");
	uint8_t other[16] = {1};
	put_id(f->s, other, DAEMON_STORE_VERSIONS_MAX + 1, "other");
	assert_int_equal(daemon_store_delete(f->s, ID, 7), 0);
	put(f->s, DAEMON_STORE_VERSIONS_MAX + 1, "room again");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_temp_then_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sha_mismatch_keeps_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_changed_on_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_races_recommit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_drops_only_the_file_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_each, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_drops_only_the_file_hashed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_races_recommit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ranged_update, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_path_safety, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_list_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_counts_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_one_open_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_older, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_from_fd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_from_fd_paced, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_from_fd_commit_rereads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_each_stops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_larger_than_disk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_all_versions_is_not_a_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_before_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsynced_replace_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_background_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsynced_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_all_versions_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_from_fd_sparse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget_sparse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_thin, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
