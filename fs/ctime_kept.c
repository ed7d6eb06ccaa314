/* The kernel's ctime of files after a setattr with the writeback cache:
 * see ctime_kept.h. */
#include "fs/ctime_kept.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define CTIME_KEPT_SLOTS 4096 /* a power of two */

struct kept {
	dev_t dev;
	ino_t ino;
	struct timespec backing; /* BACKING's ctime right after the setattr */
	struct timespec kernel;  /* the ctime the kernel set and keeps */
	bool used;
};

static struct kept table[CTIME_KEPT_SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static struct kept *slot_of(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ULL;
	return &table[(h >> 40) & (CTIME_KEPT_SLOTS - 1)];
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

void fs_ctime_kept_note(const struct stat *st, const struct timespec *kernel)
{
	if (!S_ISREG(st->st_mode))
		return; /* the kernel keeps times of regular files only */
	pthread_mutex_lock(&table_lock);
	*slot_of(st->st_dev, st->st_ino) = (struct kept){
		.dev = st->st_dev, .ino = st->st_ino, .backing = st->st_ctim,
		.kernel = *kernel, .used = true};
	pthread_mutex_unlock(&table_lock);
}

void fs_ctime_kept_apply(struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return;
	pthread_mutex_lock(&table_lock);
	struct kept *k = slot_of(st->st_dev, st->st_ino);
	if (k->used && k->dev == st->st_dev && k->ino == st->st_ino) {
		if (same_time(&k->backing, &st->st_ctim))
			st->st_ctim = k->kernel;
		else
			k->used = false; /* BACKING's moved since: the note is stale */
	}
	pthread_mutex_unlock(&table_lock);
}
