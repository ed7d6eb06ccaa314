/* The kernel's ctime of files after a setattr with the writeback cache:
 * see ctime_kept.h. */
#include "fs/ctime_kept.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CTIME_KEPT_SLOTS 4096 /* a power of two */
#define CTIME_KEPT_LOCKS 64   /* slots share locks by their low bits */

struct kept {
	dev_t dev;
	ino_t ino;
	struct timespec backing; /* BACKING's ctime right after the setattr */
	struct timespec kernel;  /* the ctime the kernel set and keeps */
	/* Set last (release) once the fields above are written, under the
	 * slot's lock; read first (acquire) without it, so that every attribute
	 * reply of a file whose slot holds no note (the common case: no setattr
	 * since the slot was last found stale) takes no lock. */
	atomic_bool used;
};

static struct kept table[CTIME_KEPT_SLOTS];
static pthread_mutex_t locks[CTIME_KEPT_LOCKS] = {[0 ... CTIME_KEPT_LOCKS - 1] =
							  PTHREAD_MUTEX_INITIALIZER};

static size_t slot_index(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 40) & (CTIME_KEPT_SLOTS - 1);
}

static pthread_mutex_t *lock_of(size_t slot)
{
	return &locks[slot & (CTIME_KEPT_LOCKS - 1)];
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

void fs_ctime_kept_note(const struct stat *st, const struct timespec *kernel)
{
	if (!S_ISREG(st->st_mode))
		return; /* the kernel keeps times of regular files only */
	size_t s = slot_index(st->st_dev, st->st_ino);
	struct kept *k = &table[s];
	pthread_mutex_lock(lock_of(s));
	atomic_store_explicit(&k->used, false, memory_order_relaxed);
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->backing = st->st_ctim;
	k->kernel = *kernel;
	atomic_store_explicit(&k->used, true, memory_order_release);
	pthread_mutex_unlock(lock_of(s));
}

void fs_ctime_kept_apply(struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	size_t s = slot_index(st->st_dev, st->st_ino);
	struct kept *k = &table[s];
	if (!atomic_load_explicit(&k->used, memory_order_acquire))
		return;
	pthread_mutex_lock(lock_of(s));
	if (atomic_load_explicit(&k->used, memory_order_relaxed) && k->dev == st->st_dev &&
	    k->ino == st->st_ino) {
		if (same_time(&k->backing, &st->st_ctim))
			st->st_ctim = k->kernel;
		else /* BACKING's moved since: the note is stale */
			atomic_store_explicit(&k->used, false, memory_order_relaxed);
	}
	pthread_mutex_unlock(lock_of(s));
}
