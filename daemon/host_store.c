/* Host store: names, writers, commit, reads, list/delete/stats. The layout
 * and guarantees are in host_store.h; deferred durability (the unsynced
 * list, the syncer, crash recovery) is in store_durability.c. */
#include "common/dir_lock.h"
#include "common/parse.h"
#include "daemon/host_store.h"
#include "daemon/store_internal.h"
#include "sync/sync_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "sync/digest.h"

struct daemon_store_writer {
	struct daemon_store *s;
	uint8_t id[16];
	uint64_t version;
	uint64_t size; /* declared size of the new copy */
	uint64_t reserved; /* of the budget while it is written (at most size +
			     DAEMON_STORE_COPY_OVERHEAD) */
	uint64_t written;  /* bytes given to writes (more is reserved past reserved) */
	int fd;	       /* temporary file, O_RDWR */
	char tmp[NAME_LEN + 32];
	struct sync_sha256 *sha; /* running digest while writes are sequential */
	uint64_t seq_off;	 /* bytes written sequentially from 0 */
	bool sequential;
};

void daemon_store_copy_name(const uint8_t id[16], uint64_t version,
			    char out[DAEMON_STORE_COPY_NAME_LEN + 1])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
	snprintf(out + 32, NAME_LEN + 1 - 32, "-%016llx", (unsigned long long)version);
}

/* Parses a copy name; anything else (temp files, strangers) returns false. */
bool store_parse_name(const char *name, uint8_t id[16], uint64_t *version)
{
	if (strlen(name) != NAME_LEN || name[32] != '-')
		return false;
	if (sfs_hex_decode(name, id, 16) < 0)
		return false;
	uint64_t v = 0;
	for (int i = 33; i < NAME_LEN; i++) {
		int x = sfs_hex_value(name[i]);
		if (x < 0)
			return false;
		v = v << 4 | (uint64_t)x;
	}
	*version = v;
	return true;
}

/* The stat of a valid copy: a regular file, not followed if a symlink. */
static int copy_stat(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISREG(st->st_mode) ? 0 : -ELOOP;
}

static uint64_t space_of_stat(const struct stat *st)
{
	return sync_stat_data_bytes(st) + DAEMON_STORE_COPY_OVERHEAD;
}

int store_copy_space(int dirfd, const char *name, uint64_t *ret)
{
	struct stat st;
	int r = copy_stat(dirfd, name, &st);
	if (r == 0)
		*ret = space_of_stat(&st);
	return r;
}

uint64_t store_fd_data(int fd, uint64_t size)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? sync_stat_data_bytes(&st) : size;
}

uint64_t store_fd_space(int fd, uint64_t size)
{
	return store_fd_data(fd, size) + DAEMON_STORE_COPY_OVERHEAD;
}

static struct store_stamp stamp_of_stat(const struct stat *st)
{
	return (struct store_stamp){
	    .ino = (uint64_t)st->st_ino,
	    .size = st->st_size,
	    .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec,
	    .ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec,
	    .known = true,
	};
}

struct store_stamp store_stamp_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? stamp_of_stat(&st) : (struct store_stamp){0};
}

static bool stamp_eq(const struct store_stamp *a, const struct store_stamp *b)
{
	return a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns;
}

static int scan(struct daemon_store *s, int (*fn)(void *, const char *, const uint8_t *, uint64_t),
		void *arg);

/* Counts a durable copy into used/copies (open; no lock needed yet). */
static int count_fn(void *arg, const char *name, const uint8_t *id, uint64_t v)
{
	struct daemon_store *s = arg;
	struct stat st;
	if (copy_stat(s->dirfd, name, &st) == 0) {
		s->used += space_of_stat(&st);
		s->copies++;
		/* Its file as found: a change from now on is seen by reads. */
		struct store_stamp stamp = stamp_of_stat(&st);
		if (store_index_add(&s->durable, id, v) == 0)
			store_index_set_stamp(&s->durable, id, v, &stamp);
	}
	return 0;
}

int daemon_store_open(const char *dir, uint64_t budget_bytes, struct daemon_store **ret)
{
	return daemon_store_open_waiting(dir, budget_bytes, DAEMON_STORE_LOCK_WAIT_MS, ret);
}

int daemon_store_open_waiting(const char *dir, uint64_t budget_bytes, uint64_t lock_wait_ms,
			      struct daemon_store **ret)
{
	struct daemon_store *s;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->pass_done, NULL);
	s->budget = budget_bytes;
	s->sync_delay_ms = DAEMON_STORE_SYNC_DELAY_MS;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		goto fail;
	}
	/* One open store per directory: a second one (another mount, a
	 * shadowd, the same directory twice in hosts=) would remove the
	 * first's temporary files below and keep a budget of its own. A
	 * holder that is exiting (a remount right after an unmount, a
	 * restarted shadowd) is waited for. */
	r = sfs_dir_lock(s->dirfd, lock_wait_ms);
	if (r < 0)
		goto fail;
	int scan_fd = dup(s->dirfd);
	if (scan_fd < 0 || !(d = fdopendir(scan_fd))) {
		r = -errno;
		if (scan_fd >= 0)
			close(scan_fd);
		goto fail;
	}
	char **unsynced = NULL;
	size_t n_unsynced = 0;
	while ((de = readdir(d))) {
		if (!strncmp(de->d_name, "tmp.", 4) && strlen(de->d_name) <= NAME_LEN + 32) {
			unlinkat(s->dirfd, de->d_name, 0); /* partial copy from a crash */
			continue;
		}
		if (!strncmp(de->d_name, UNSYNCED_PREFIX, UNSYNCED_PREFIX_LEN) &&
		    strlen(de->d_name) <= UNSYNCED_LEN) {
			void *p = realloc(unsynced, (n_unsynced + 1) * sizeof(*unsynced));
			char *dup_name = p ? strdup(de->d_name) : NULL;
			if (p)
				unsynced = p;
			if (!dup_name) {
				r = -ENOMEM;
				break;
			}
			unsynced[n_unsynced++] = dup_name;
		}
	}
	closedir(d);
	if (r == 0)
		store_recover_unsynced(s, unsynced, n_unsynced);
	for (size_t i = 0; i < n_unsynced; i++)
		free(unsynced[i]);
	free(unsynced);
	if (r < 0)
		goto fail;
	r = scan(s, count_fn, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	daemon_store_close(s);
	return r;
}

void daemon_store_close(struct daemon_store *s)
{
	if (!s)
		return;
	store_syncer_stop(s);
	daemon_store_flush(s); /* a clean stop leaves every copy durable */
	if (s->dirfd >= 0)
		close(s->dirfd);
	store_index_free(&s->durable);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->pass_done);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int reserve(struct daemon_store *s, uint64_t size)
{
	int r = 0;
	pthread_mutex_lock(&s->lock);
	if (s->budget && (s->used + s->reserved + size > s->budget || size > s->budget))
		r = -ENOSPC;
	else
		s->reserved += size;
	pthread_mutex_unlock(&s->lock);
	return r;
}

static void unreserve(struct daemon_store *s, uint64_t size)
{
	pthread_mutex_lock(&s->lock);
	s->reserved -= size;
	pthread_mutex_unlock(&s->lock);
}

/* Free bytes on the store's filesystem; UINT64_MAX when it says nothing: a
 * filesystem of no fixed size (ramfs) reports 0 blocks and 0 free, and a
 * store there refused every copy with ENOSPC (the budget still bounds it). */
static uint64_t fs_free_bytes(int dirfd)
{
	struct statvfs vfs;
	if (fstatvfs(dirfd, &vfs) < 0 || vfs.f_blocks == 0)
		return UINT64_MAX;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize;
}

/* Whether id has DAEMON_STORE_VERSIONS_MAX versions or more, version not
 * among them (durable ones in the index, unsynced ones in their list). */
static bool versions_full(struct daemon_store *s, const uint8_t id[16], uint64_t version)
{
	pthread_mutex_lock(&s->lock);
	size_t n = store_index_versions(&s->durable, id, NULL, 0);
	bool present = store_index_stamp(&s->durable, id, version, &(struct store_stamp){0}) >= 0;
	for (struct unsynced *u = s->unsynced; u; u = u->next)
		if (!u->dropped && !memcmp(u->id, id, 16)) {
			n++;
			present = present || u->version == version;
		}
	pthread_mutex_unlock(&s->lock);
	return n >= DAEMON_STORE_VERSIONS_MAX && !present;
}

/* A writer of a copy of size bytes that will hold at most need bytes of
 * data (need < size: a sparse source whose holes are not written), which
 * it reserves of the budget until it ends, with the copy's overhead
 * (DAEMON_STORE_COPY_OVERHEAD). */
static int writer_new(struct daemon_store *s, const uint8_t id[16], uint64_t version, uint64_t size,
		      uint64_t need, struct daemon_store_writer **ret)
{
	struct daemon_store_writer *w;
	char name[NAME_LEN + 1];
	int r;

	/* That number means "every version" to delete and list: a copy by it
	 * could not be deleted alone. */
	if (version == DAEMON_STORE_ALL_VERSIONS)
		return -EINVAL;
	if (size > (1ull << 50))
		return -EFBIG;
	if (versions_full(s, id, version))
		return -EMLINK;
	if (need > fs_free_bytes(s->dirfd))
		return -ENOSPC; /* would not fit on the filesystem at all */
	r = reserve(s, need + DAEMON_STORE_COPY_OVERHEAD);
	if (r < 0)
		return r;
	w = calloc(1, sizeof(*w));
	if (!w) {
		unreserve(s, need + DAEMON_STORE_COPY_OVERHEAD);
		return -ENOMEM;
	}
	w->reserved = need + DAEMON_STORE_COPY_OVERHEAD;
	w->s = s;
	w->fd = -1;
	memcpy(w->id, id, 16);
	w->version = version;
	w->size = size;
	w->sequential = true;
	daemon_store_copy_name(id, version, name);
	pthread_mutex_lock(&s->lock);
	uint64_t seq = s->tmp_seq++;
	pthread_mutex_unlock(&s->lock);
	snprintf(w->tmp, sizeof(w->tmp), "tmp.%s.%llx", name, (unsigned long long)seq);
	w->fd = openat(s->dirfd, w->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		r = -errno;
		goto fail;
	}
	r = sync_sha256_new(&w->sha);
	if (r < 0)
		goto fail;
	if (ftruncate(w->fd, (off_t)size) < 0) {
		r = -errno;
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	daemon_store_abort(w);
	return r;
}

int daemon_store_create(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			uint64_t size, struct daemon_store_writer **ret)
{
	return writer_new(s, id, version, size, size, ret);
}

int daemon_store_create_thin(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     uint64_t size, uint64_t data, struct daemon_store_writer **ret)
{
	return writer_new(s, id, version, size, data < size ? data : size, ret);
}

int daemon_store_create_patched(struct daemon_store *s, const uint8_t id[16], uint64_t version,
				uint64_t size, int basis_fd, struct daemon_store_writer **ret)
{
	return daemon_store_create_thin(s, id, version, size, store_fd_data(basis_fd, size), ret);
}

/* Before a write of len bytes: the writer's reservation covers every byte
 * written so far (overwrites counted again: an estimate from above; zero
 * blocks appended in order are not written, so not counted), up to its
 * size. */
static int reserve_written(struct daemon_store_writer *w, size_t len)
{
	uint64_t want = (w->written + len < w->size ? w->written + len : w->size) +
			DAEMON_STORE_COPY_OVERHEAD;
	if (want > w->reserved) {
		int r = reserve(w->s, want - w->reserved);
		if (r < 0)
			return r;
		w->reserved = want;
	}
	w->written += len;
	return 0;
}

/* Copies len bytes of in to out from offset 0 (reflink / in-kernel copy where
 * the filesystem can), its data only: a hole of in stays one in out. */
static int clone_range(int in, int out, uint64_t len)
{
	char buf[65536];
	return sync_copy_prefix(in, out, len, buf, sizeof(buf));
}

int daemon_store_create_from(struct daemon_store *s, const uint8_t id[16], uint64_t base,
			     uint64_t version, uint64_t size, struct daemon_store_writer **ret)
{
	struct daemon_store_writer *w = NULL;
	uint64_t base_size;
	int bfd = -1, r;

	if (base == version)
		return -EINVAL;
	r = daemon_store_open_copy(s, id, base, &bfd, &base_size);
	if (r < 0)
		return r;
	/* It starts as the base's data (its holes stay holes, clone_range);
	 * every byte written to it then reserves more (reserve_written). */
	uint64_t need = store_fd_data(bfd, size);
	r = writer_new(s, id, version, size, need < size ? need : size, &w);
	if (r < 0)
		goto out;
	w->written = w->reserved - DAEMON_STORE_COPY_OVERHEAD;
	r = clone_range(bfd, w->fd, base_size < size ? base_size : size);
	if (r < 0)
		goto out;
	w->sequential = false; /* content not from writes: digest at commit */
	*ret = w;
	w = NULL;
out:
	daemon_store_abort(w);
	close(bfd);
	return r;
}

/* The first size bytes of src into w's file, hashed as they are read. */
static int copy_hashed(int src, struct daemon_store_writer *w, uint64_t size,
		       const struct sync_pace *pace, uint8_t ret_sha256[SYNC_SHA256_LEN])
{
	enum { CHUNK = 1 << 20 };
	struct sync_sha256 *sha = NULL;
	uint8_t *buf = malloc(CHUNK);
	int r = buf ? sync_sha256_new(&sha) : -ENOMEM;
	uint64_t run_end = 0; /* the end of the run of data or hole at off */
	bool hole = false;
	for (uint64_t off = 0; r == 0 && off < size;) {
		size_t k = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		if (off >= run_end && (r = sync_extent_at(src, off, size, &run_end, &hole)) < 0)
			break;
		if (run_end - off < k)
			k = (size_t)(run_end - off);
		if (hole) {
			/* A hole of a sparse origin stays one in the copy (the
			 * temporary file has the size already): hashed as zeros,
			 * neither read nor written, not paced (the pace's checks
			 * still run). A thin 100 GB image no longer costs 100 GB. */
			r = sync_pace_take(pace, 0);
			if (r == 0)
				r = sync_sha256_zeros(sha, k);
			off += k;
			continue;
		}
		r = sync_pace_take(pace, k);
		if (r == 0)
			r = sync_pread_all(src, buf, k, off); /* -EIO if src is shorter */
		if (r == 0)
			r = sync_sha256_update(sha, buf, k);
		if (r == 0)
			r = sync_pwrite_all(w->fd, buf, k, off);
		/* Writeback of the chunk starts now (asynchronous, best effort:
		 * errors show at the flush), so the copy's writes reach the disk
		 * at the pace of its reads, not in one burst at the flush. */
		if (r == 0)
			sync_file_range(w->fd, (off_t)off, (off_t)k, SYNC_FILE_RANGE_WRITE);
		off += k;
	}
	if (r == 0)
		r = sync_sha256_final(sha, ret_sha256);
	sync_sha256_free(sha);
	free(buf);
	return r;
}

int daemon_store_create_from_fd(struct daemon_store *s, const uint8_t id[16], uint64_t version,
				int src_fd, uint64_t size, const struct sync_pace *pace,
				uint8_t ret_sha256[32], struct daemon_store_writer **ret)
{
	struct daemon_store_writer *w = NULL;
	/* Only the data of a sparse source is written (copy_hashed). */
	int r = writer_new(s, id, version, size, store_fd_data(src_fd, size), &w);
	if (r < 0)
		return r;
	r = copy_hashed(src_fd, w, size, pace, ret_sha256);
	if (r < 0) {
		daemon_store_abort(w);
		return r;
	}
	w->sequential = false; /* commit re-reads the copy: the check is of the file */
	*ret = w;
	return 0;
}

static int pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf = (const char *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* pwrite_full of the 4 KiB blocks (in file offsets) of buf that are not all
 * zeros: where the file still reads as zeros, what is skipped stays a hole. */
static int pwrite_holes(struct daemon_store_writer *w, const uint8_t *buf, size_t len,
			uint64_t off)
{
	enum { BLOCK = 4096 };
	size_t i = 0;
	while (i < len) {
		size_t blk = BLOCK - (size_t)((off + i) % BLOCK);
		blk = blk < len - i ? blk : len - i;
		if (all_zero(buf + i, blk)) {
			i += blk;
			continue;
		}
		size_t j = i + blk; /* block-aligned from here */
		while (j < len) {
			size_t b = len - j < BLOCK ? len - j : BLOCK;
			if (all_zero(buf + j, b))
				break;
			j += b;
		}
		int r = reserve_written(w, j - i); /* zero blocks take no room */
		if (r == 0)
			r = pwrite_full(w->fd, buf + i, j - i, off + i);
		if (r < 0)
			return r;
		i = j;
	}
	return 0;
}

int daemon_store_writer_write(struct daemon_store_writer *w, uint64_t off, const void *buf,
			      size_t len)
{
	int r;
	if (off > w->size || len > w->size - off)
		return -ERANGE;
	/* Appended in order to a new file (ftruncate'd to its size: zeros
	 * from seq_off on), zero blocks need not be written: a sparse file
	 * sent whole (its holes travel as zeros) is sparse in the store too. */
	if (w->sequential && off == w->seq_off)
		r = pwrite_holes(w, buf, len, off);
	else if ((r = reserve_written(w, len)) == 0)
		r = pwrite_full(w->fd, buf, len, off);
	if (r < 0)
		return r;
	if (w->sequential && off == w->seq_off) {
		r = sync_sha256_update(w->sha, buf, len);
		w->seq_off += len;
	} else {
		w->sequential = false;
	}
	return r;
}

int daemon_store_writer_append(struct daemon_store_writer *w, const void *buf, size_t len)
{
	if (!w->sequential)
		return -EINVAL;
	return daemon_store_writer_write(w, w->seq_off, buf, len);
}

int daemon_store_writer_append_zeros(struct daemon_store_writer *w, uint64_t len)
{
	if (!w->sequential)
		return -EINVAL;
	if (len > w->size - w->seq_off)
		return -ERANGE;
	/* ftruncate'd to its size at creation: zeros from seq_off on. */
	int r = sync_sha256_zeros(w->sha, len);
	if (r == 0)
		w->seq_off += len;
	return r;
}

int daemon_store_writer_fd(const struct daemon_store_writer *w)
{
	return w->fd;
}

int daemon_store_commit(struct daemon_store_writer *w, const uint8_t sha256[32])
{
	return daemon_store_commit_each(w, sha256, NULL, NULL);
}

int daemon_store_commit_each(struct daemon_store_writer *w, const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg)
{
	struct daemon_store *s = w->s;
	char name[NAME_LEN + 1];
	uint8_t got[SYNC_SHA256_LEN];
	uint64_t old_size = 0;
	struct unsynced *u = NULL, *old;
	int r;

	if (w->sequential && w->seq_off == w->size)
		r = sync_sha256_final(w->sha, got);
	else
		r = sync_sha256_fd_each(w->fd, w->size, got, before, arg);
	if (r < 0)
		goto out;
	if (memcmp(got, sha256, SYNC_SHA256_LEN)) {
		r = -EBADMSG;
		goto out;
	}
	/* Valid now, durable later: no fsync here (see host_store.h). */
	u = calloc(1, sizeof(*u));
	if (!u) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(u->id, w->id, 16);
	u->version = w->version;
	u->size = w->size;
	u->space = store_fd_space(w->fd, w->size);
	u->since_ms = store_mono_ms();
	store_unsynced_name(w->id, w->version, sha256, u->name);
	daemon_store_copy_name(w->id, w->version, name);
	pthread_mutex_lock(&s->lock);
	store_unsynced_wait_room(s);
	if (renameat(s->dirfd, w->tmp, s->dirfd, u->name) < 0) {
		r = -errno;
		pthread_mutex_unlock(&s->lock);
		free(u);
		goto out;
	}
	w->tmp[0] = 0; /* nothing to unlink any more */
	/* After the rename, which moved its ctime. */
	u->stamp = store_stamp_of(w->fd);
	/* At most one copy per (id, version): the one just committed. */
	old = store_unsynced_find(s, w->id, w->version);
	if (old) {
		if (strcmp(old->name, u->name))
			unlinkat(s->dirfd, old->name, 0);
		store_unsynced_drop(s, old);
	} else if (store_copy_space(s->dirfd, name, &old_size) == 0 &&
		   unlinkat(s->dirfd, name, 0) == 0) {
		store_index_remove(&s->durable, w->id, w->version);
		s->used -= old_size < s->used ? old_size : s->used;
		if (s->copies)
			s->copies--;
	}
	u->fd = w->fd;
	w->fd = -1;
	u->next = s->unsynced;
	s->unsynced = u;
	s->n_unsynced++;
	s->used += u->space;
	s->copies++;
	bool no_syncer = !store_syncer_kick(s);
	pthread_mutex_unlock(&s->lock);
	if (no_syncer)
		daemon_store_flush(s); /* no thread: durable before returning */
	r = 0;
out:
	daemon_store_abort(w);
	return r;
}

void daemon_store_abort(struct daemon_store_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlinkat(w->s->dirfd, w->tmp, 0);
	unreserve(w->s, w->reserved);
	sync_sha256_free(w->sha);
	free(w);
}

int daemon_store_open_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			   int *ret_fd, uint64_t *ret_size)
{
	char name[NAME_LEN + 1];
	struct stat st;
	int fd = -1;
	bool unsynced;
	/* An unsynced copy is opened under the lock: the syncer renames it
	 * under the lock too. */
	pthread_mutex_lock(&s->lock);
	struct unsynced *u = store_unsynced_find(s, id, version);
	unsynced = u != NULL;
	if (u)
		fd = openat(s->dirfd, u->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	pthread_mutex_unlock(&s->lock);
	if (!unsynced) {
		daemon_store_copy_name(id, version, name);
		fd = openat(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	*ret_fd = fd;
	if (ret_size)
		*ret_size = (uint64_t)st.st_size;
	return 0;
}

int daemon_store_stat_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			   struct stat *st)
{
	char name[NAME_LEN + 1];
	int r = 0;
	pthread_mutex_lock(&s->lock); /* as in daemon_store_open_copy */
	struct unsynced *u = store_unsynced_find(s, id, version);
	if (u && fstatat(s->dirfd, u->name, st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	pthread_mutex_unlock(&s->lock);
	if (!u) {
		daemon_store_copy_name(id, version, name);
		if (fstatat(s->dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	return r;
}

/* The stamp recorded for (id, version): 1 (in *ret); 0 when none is (an
 * index short of memory); -ENOENT when the store no longer has that copy
 * (deleted, by a read that found it changed among others). */
static int recorded_stamp(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			  struct store_stamp *ret)
{
	int r;
	pthread_mutex_lock(&s->lock);
	struct unsynced *u = store_unsynced_find(s, id, version);
	if (u) {
		r = u->stamp.known;
		if (r)
			*ret = u->stamp;
	} else {
		r = store_index_stamp(&s->durable, id, version, ret);
		if (r == -ENOENT && s->durable.incomplete)
			r = 0; /* may be there all the same */
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Whether two lookups of recorded_stamp (return value and stamp) agree. */
static bool same_record(int ka, const struct store_stamp *a, int kb, const struct store_stamp *b)
{
	return ka == kb && (ka != 1 || stamp_eq(a, b));
}

/* One read of the copy, between two lookups of its recorded stamp.
 * *changed: its file is not as recorded when it got its name, looked at
 * after the read (whatever changes a file's bytes moves its ctime before
 * the new bytes can be read). *raced: the record itself moved during the
 * read (the copy committed again, or renamed by the syncer: its ctime
 * moved), so a difference, or a name not found, says nothing about the
 * file: the caller reads again. The open fd pins its inode, so its number
 * is not reused meanwhile: a record that reads the same before and after
 * is the record of the whole read. */
static ssize_t read_once(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			 uint64_t off, void *buf, size_t len, bool *changed, bool *raced,
			 uint64_t *ino)
{
	int fd, r;
	size_t done = 0;
	struct store_stamp before = {0}, want = {0};
	*changed = *raced = false;
	int kb = recorded_stamp(s, id, version, &before);
	r = daemon_store_open_copy(s, id, version, &fd, NULL);
	if (r < 0) {
		/* Not found by its unsynced name nor by its real one: a
		 * commit of the same version may have replaced the one by the
		 * other between the two looks (daemon_store_open_copy). */
		int ka = recorded_stamp(s, id, version, &want);
		*raced = r == -ENOENT && !same_record(ka, &want, kb, &before);
		return r;
	}
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	struct store_stamp now = store_stamp_of(fd);
	*ino = now.ino;
	close(fd);
	if (r < 0)
		return r;
	/* Looked up after the read: the syncer renames a copy (its ctime
	 * moves) and records the new stamp under one hold of the lock. A
	 * copy deleted meanwhile (another read found it changed, and its
	 * record went with it) returns nothing it read. */
	int k = recorded_stamp(s, id, version, &want);
	if (k < 0)
		return k;
	*changed = k == 1 && !stamp_eq(&now, &want);
	*raced = *changed && !same_record(k, &want, kb, &before);
	return (ssize_t)done;
}

/* Tries of a read (or a re-hash: daemon_store_verify_drop) whose copy is
 * committed again or renamed under it, each time, before it gives up
 * (-EAGAIN: nothing is said to be damaged). */
#define READ_RACE_TRIES 8

static int drop_if_file(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			uint64_t ino, const int64_t *ctime_ns);

/* daemon_store_read, and with ret_deleted daemon_store_read_drop. */
static ssize_t read_copy(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			 uint64_t off, void *buf, size_t len, int *ret_deleted)
{
	/* Again while the copy's record moved during the read: the same
	 * version committed again meanwhile replaced the file this read had
	 * opened, or the syncer renamed it. Only a file that differs from a
	 * record that held still through the read is damaged: before, a
	 * read that crossed such a change twice was refused as "changed on
	 * disk" and shadowd deleted a good copy. */
	for (int i = 0; i < READ_RACE_TRIES; i++) {
		bool changed, raced;
		uint64_t ino = 0;
		ssize_t n = read_once(s, id, version, off, buf, len, &changed, &raced, &ino);
		if (raced && !s->no_stamp_check)
			continue;
		if (!changed || s->no_stamp_check)
			return n;
		/* The file read, not whatever has the name by now: a commit
		 * that lands after the look above replaced it, and is read
		 * in its turn. */
		int d = ret_deleted ? drop_if_file(s, id, version, ino, NULL) : 0;
		if (d == -ESTALE)
			continue;
		if (ret_deleted)
			*ret_deleted = d;
		return -EBADMSG;
	}
	return -EAGAIN;
}

ssize_t daemon_store_read(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			  uint64_t off, void *buf, size_t len)
{
	return read_copy(s, id, version, off, buf, len, NULL);
}

ssize_t daemon_store_read_drop(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			       uint64_t off, void *buf, size_t len, int *ret_deleted)
{
	return read_copy(s, id, version, off, buf, len, ret_deleted);
}

void daemon_store_set_no_stamp_check(struct daemon_store *s)
{
	s->no_stamp_check = true;
}

int daemon_store_verify(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			const uint8_t sha256[32])
{
	return daemon_store_verify_each(s, id, version, sha256, NULL, NULL);
}

/* The SHA-256 of the first size bytes of fd against sha256: 0, -EBADMSG or
 * the error of the hash. */
static int hash_matches(int fd, uint64_t size, const uint8_t sha256[32],
			int (*before)(void *arg, uint64_t off, size_t want), void *arg)
{
	uint8_t got[SYNC_SHA256_LEN];
	int r = sync_sha256_fd_each(fd, size, got, before, arg);
	if (r < 0)
		return r;
	return memcmp(got, sha256, SYNC_SHA256_LEN) ? -EBADMSG : 0;
}

int daemon_store_verify_each(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg)
{
	uint64_t size;
	int fd, r = daemon_store_open_copy(s, id, version, &fd, &size);
	if (r < 0)
		return r;
	r = hash_matches(fd, size, sha256, before, arg);
	close(fd);
	return r;
}

/* Deletes the copy of (id, version) if its file is still the one judged
 * (found damaged, listed expired): ino, its inode number (every copy is a
 * file of the store's directory, on its filesystem), pinned meanwhile by
 * the caller's open fd, or else (a listing: a number freed since may be
 * reused) with ctime_ns, its ctime, which a later commit's rename moves. A
 * file committed since under that version's name, or the unsynced one, is
 * not it: -ESTALE, nothing deleted. Looked at and unlinked under the lock,
 * as every commit renames and the syncer renames: no commit lands between
 * the look and the unlink. */
static int drop_if_file(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			uint64_t ino, const int64_t *ctime_ns)
{
	char name[NAME_LEN + 1];
	struct stat st;
	int r = 0;
	daemon_store_copy_name(id, version, name);
	pthread_mutex_lock(&s->lock);
	struct unsynced *u = store_unsynced_find(s, id, version);
	const char *at = u ? u->name : name;
	if (fstatat(s->dirfd, at, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if ((uint64_t)st.st_ino != ino ||
		 (ctime_ns && stamp_of_stat(&st).ctime_ns != *ctime_ns))
		r = -ESTALE;
	else if (unlinkat(s->dirfd, at, 0) < 0)
		r = -errno;
	if (r == 0 && u) {
		store_unsynced_drop(s, u);
	} else if (r == 0) {
		uint64_t space = space_of_stat(&st);
		store_index_remove(&s->durable, id, version);
		s->used -= space < s->used ? space : s->used;
		if (s->copies)
			s->copies--;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int daemon_store_verify_drop(struct daemon_store *s, const uint8_t id[16], uint64_t version,
			     const uint8_t sha256[32],
			     int (*before)(void *arg, uint64_t off, size_t want), void *arg,
			     int *ret_deleted)
{
	/* Again while the file hashed is no longer the copy by the end: the
	 * same version committed again meanwhile (a retried upload, other
	 * bytes perhaps) replaced it, and only the copy now there can be
	 * condemned, once hashed itself. Before, a copy that differed was
	 * deleted by its name after the re-hash: a good copy committed during
	 * the re-hash of the file it replaced went with it. */
	for (int i = 0; i < READ_RACE_TRIES; i++) {
		struct store_stamp before_open = {0}, after = {0};
		struct stat st;
		uint64_t size;
		int fd, kb = recorded_stamp(s, id, version, &before_open);
		int r = daemon_store_open_copy(s, id, version, &fd, &size);
		if (r == -ENOENT) { /* between a commit's two looks (read_once) */
			int ka = recorded_stamp(s, id, version, &after);
			if (!same_record(ka, &after, kb, &before_open))
				continue;
		}
		if (r < 0)
			return r;
		r = hash_matches(fd, size, sha256, before, arg);
		int d = 0;
		if (r == -EBADMSG)
			d = fstat(fd, &st) < 0 ? -errno : drop_if_file(s, id, version, st.st_ino, NULL);
		close(fd);
		if (d == -ESTALE)
			continue;
		*ret_deleted = d;
		return r;
	}
	return -EAGAIN;
}

int daemon_store_delete_listed(struct daemon_store *s, const struct daemon_store_entry *e)
{
	return drop_if_file(s, e->id, e->version, e->ino, &e->ctime_ns);
}

/* Unlinks the copy of (id, version) under its real name. */
static int delete_one(struct daemon_store *s, const uint8_t id[16], uint64_t version)
{
	char name[NAME_LEN + 1];
	uint64_t size = 0;
	daemon_store_copy_name(id, version, name);
	bool regular = store_copy_space(s->dirfd, name, &size) == 0;
	int r = unlinkat(s->dirfd, name, 0) < 0 ? -errno : 0;
	pthread_mutex_lock(&s->lock);
	if (r == 0 || r == -ENOENT)
		store_index_remove(&s->durable, id, version);
	if (r == 0 && regular) {
		s->used -= size < s->used ? size : s->used;
		if (s->copies)
			s->copies--;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Calls fn for every valid copy name; stops at the first error. */
static int scan(struct daemon_store *s, int (*fn)(void *, const char *, const uint8_t *, uint64_t),
		void *arg)
{
	int fd = dup(s->dirfd), r = 0;
	DIR *d;
	struct dirent *de;
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	rewinddir(d);
	while (r == 0 && (de = readdir(d))) {
		uint8_t id[16];
		uint64_t v;
		if (store_parse_name(de->d_name, id, &v))
			r = fn(arg, de->d_name, id, v);
	}
	closedir(d);
	return r;
}

struct del_all {
	struct daemon_store *s;
	const uint8_t *id;
	int found;
};

static int del_all_fn(void *arg, const char *name, const uint8_t *id, uint64_t v)
{
	struct del_all *a = arg;
	(void)name;
	if (memcmp(id, a->id, 16))
		return 0;
	a->found++;
	return delete_one(a->s, id, v);
}

/* Every durable version of id: from the index (a few names), or by reading
 * the directory if the index could not record everything. */
static int delete_all_versions(struct daemon_store *s, const uint8_t id[16], int found)
{
	uint64_t v[16];
	for (;;) {
		pthread_mutex_lock(&s->lock);
		bool complete = !s->durable.incomplete;
		size_t n = complete ? store_index_versions(&s->durable, id, v, 16) : 0;
		pthread_mutex_unlock(&s->lock);
		if (!complete) {
			struct del_all a = {s, id, found};
			int r = scan(s, del_all_fn, &a);
			return r < 0 ? r : a.found ? 0 : -ENOENT;
		}
		if (!n)
			return found ? 0 : -ENOENT;
		for (size_t i = 0; i < n && i < 16; i++) {
			int r = delete_one(s, id, v[i]);
			if (r < 0 && r != -ENOENT)
				return r;
			found += r == 0;
		}
	}
}

int daemon_store_delete(struct daemon_store *s, const uint8_t id[16], uint64_t version)
{
	int found = store_unsynced_delete(s, id, version);
	if (version == DAEMON_STORE_ALL_VERSIONS)
		return delete_all_versions(s, id, found);
	int r = delete_one(s, id, version);
	return found && r == -ENOENT ? 0 : r;
}

int daemon_store_delete_older(struct daemon_store *s, uint64_t below, uint64_t *ret_copies,
			      uint64_t *ret_bytes)
{
	struct daemon_store_entry *v = NULL;
	size_t n = 0;
	uint64_t copies = 0, bytes = 0;
	int r = daemon_store_list(s, &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (v[i].version >= below)
			continue;
		int d = daemon_store_delete(s, v[i].id, v[i].version);
		if (d < 0 && d != -ENOENT)
			r = d;
		else if (d == 0) {
			copies++;
			bytes += v[i].size;
		}
	}
	free(v);
	*ret_copies = copies;
	*ret_bytes = bytes;
	return r;
}

struct list_acc {
	struct daemon_store *s;
	struct daemon_store_entry *v;
	size_t n, cap;
	size_t n_unsynced; /* v[0..n_unsynced) came from the unsynced list */
};

static int list_add(struct list_acc *a, const uint8_t *id, uint64_t ver,
		    const struct store_stamp *file)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void *p = realloc(a->v, cap * sizeof(*a->v));
		if (!p)
			return -ENOMEM;
		a->v = p;
		a->cap = cap;
	}
	memcpy(a->v[a->n].id, id, 16);
	a->v[a->n].version = ver;
	a->v[a->n].size = (uint64_t)file->size;
	a->v[a->n].ino = file->ino;
	a->v[a->n].ctime_ns = file->ctime_ns;
	a->n++;
	return 0;
}

static int list_fn(void *arg, const char *name, const uint8_t *id, uint64_t ver)
{
	struct list_acc *a = arg;
	struct stat st;
	for (size_t i = 0; i < a->n_unsynced; i++)
		if (a->v[i].version == ver && !memcmp(a->v[i].id, id, 16))
			return 0; /* listed as unsynced (renamed by a pass since) */
	if (copy_stat(a->s->dirfd, name, &st) < 0)
		return 0; /* vanished or not a regular file: not a copy */
	struct store_stamp file = stamp_of_stat(&st);
	return list_add(a, id, ver, &file);
}

int daemon_store_list(struct daemon_store *s, struct daemon_store_entry **ret, size_t *ret_n)
{
	struct list_acc a = {s, NULL, 0, 0, 0};
	int r = 0;
	/* Unsynced copies first, then the durable names not among them: a copy
	 * a pass renames meanwhile is listed once whichever name the scan sees. */
	pthread_mutex_lock(&s->lock);
	for (struct unsynced *u = s->unsynced; u && r == 0; u = u->next)
		if (!u->dropped) {
			struct store_stamp file = u->stamp; /* its size known in any case: */
			file.size = (int64_t)u->size;
			r = list_add(&a, u->id, u->version, &file);
		}
	pthread_mutex_unlock(&s->lock);
	a.n_unsynced = a.n;
	if (r == 0)
		r = scan(s, list_fn, &a);
	if (r < 0) {
		free(a.v);
		return r;
	}
	*ret = a.v;
	*ret_n = a.n;
	return 0;
}

int daemon_store_list_id(struct daemon_store *s, const uint8_t id[16],
			 struct daemon_store_entry **ret, size_t *ret_n)
{
	struct list_acc a = {s, NULL, 0, 0, 0};
	uint64_t v[64];
	size_t nv = 0;
	int r = 0;
	pthread_mutex_lock(&s->lock);
	bool complete = !s->durable.incomplete;
	for (struct unsynced *u = s->unsynced; u && r == 0; u = u->next)
		if (!u->dropped && !memcmp(u->id, id, 16)) {
			struct store_stamp file = u->stamp;
			file.size = (int64_t)u->size;
			r = list_add(&a, u->id, u->version, &file);
		}
	if (complete)
		nv = store_index_versions(&s->durable, id, v, sizeof(v) / sizeof(v[0]));
	pthread_mutex_unlock(&s->lock);
	a.n_unsynced = a.n;
	if (r == 0 && (!complete || nv > sizeof(v) / sizeof(v[0]))) {
		/* Not all in the index, or an id with very many versions. */
		struct daemon_store_entry *all = NULL;
		size_t n = 0;
		free(a.v);
		r = daemon_store_list(s, &all, &n);
		size_t k = 0;
		for (size_t i = 0; r == 0 && i < n; i++)
			if (!memcmp(all[i].id, id, 16))
				all[k++] = all[i];
		*ret = all;
		*ret_n = k;
		return r;
	}
	for (size_t i = 0; r == 0 && i < nv; i++) {
		char name[NAME_LEN + 1];
		daemon_store_copy_name(id, v[i], name);
		r = list_fn(&a, name, id, v[i]);
	}
	if (r < 0) {
		free(a.v);
		return r;
	}
	*ret = a.v;
	*ret_n = a.n;
	return 0;
}

void daemon_store_stats(struct daemon_store *s, struct daemon_store_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	ret->used_bytes = s->used;
	ret->copies = s->copies;
	ret->budget_bytes = s->budget;
	ret->reserved_bytes = s->reserved;
	ret->unsynced_copies = s->n_unsynced;
	ret->recovered_copies = s->recovered;
	ret->discarded_copies = s->discarded;
	pthread_mutex_unlock(&s->lock);
	ret->avail_bytes = fs_free_bytes(s->dirfd);
}
