/* One backing open file description per (inode, lock owner) for POSIX
 * record locks on BACKING: see lock_owners.h. */
#include "fs/lock_owners.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/fs.h"

#define BUCKETS 64

struct fs_lock_owner {
	struct fs_lock_owner *next; /* in its bucket, while listed */
	fuse_ino_t ino;
	uint64_t owner;
	const struct fs_file *via; /* the open it was reopened from */
	int fd;
	_Atomic pid_t pid;         /* who takes its locks, 0 until known */
	bool listed;               /* in the table (t->lock) */
	unsigned refs;             /* the table's (while listed) and requests' */
};

struct fs_lock_owners {
	pthread_mutex_t lock;
	unsigned count; /* listed descriptions */
	struct fs_lock_owner *bucket[BUCKETS];
};

int fs_lock_owners_new(struct fs_lock_owners **ret)
{
	struct fs_lock_owners *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	*ret = t;
	return 0;
}

/* Closes o's description (its locks go) and frees it. */
static void unref(struct fs_lock_owner *o)
{
	close(o->fd);
	free(o);
}

void fs_lock_owners_free(struct fs_lock_owners *t)
{
	if (!t)
		return;
	for (int i = 0; i < BUCKETS; i++)
		for (struct fs_lock_owner *o = t->bucket[i], *next; o; o = next) {
			next = o->next;
			unref(o);
		}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static unsigned bucket_of(fuse_ino_t ino, uint64_t owner)
{
	uint64_t h = (ino * 0x9e3779b97f4a7c15ULL) ^ owner;
	h ^= h >> 29;
	return (unsigned)(h % BUCKETS);
}

static struct fs_lock_owner **find(struct fs_lock_owners *t, fuse_ino_t ino, uint64_t owner)
{
	struct fs_lock_owner **p = &t->bucket[bucket_of(ino, owner)];
	while (*p && ((*p)->ino != ino || (*p)->owner != owner))
		p = &(*p)->next;
	return p;
}

/* A description of via's file of its own: read-write when it can be had
 * (a write lock needs a writable fd, a read lock a readable one; the
 * kernel checked the caller's open), else via's own access mode. */
static int reopen_for_locks(struct fs_ctx *c, const struct fs_file *via)
{
	int fd = fs_reopen(c, via->fd, O_RDWR);
	if (fd >= 0 || fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM)
		return fd;
	int mode = fcntl(via->fd, F_GETFL);
	if (mode < 0)
		return -errno;
	return fs_reopen(c, via->fd, mode & O_ACCMODE);
}

struct fs_lock_owner *fs_lock_owner_get(struct fs_ctx *c, fuse_ino_t ino, uint64_t owner,
					struct fs_file *via, bool create, int *err)
{
	struct fs_lock_owners *t = c->lock_owners;
	pthread_mutex_lock(&t->lock);
	struct fs_lock_owner *o = *find(t, ino, owner);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&t->lock);
	if (o)
		return o;
	if (!create) {
		*err = -ENOENT;
		return NULL;
	}
	/* Opened outside the lock; if another request of the same owner
	 * listed one meanwhile, that one is used and this one closed. */
	int fd = reopen_for_locks(c, via);
	if (fd < 0) {
		*err = fd;
		return NULL;
	}
	struct fs_lock_owner *made = calloc(1, sizeof(*made));
	if (!made) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	*made = (struct fs_lock_owner){.ino = ino, .owner = owner, .via = via, .fd = fd, .refs = 2, .listed = true};
	pthread_mutex_lock(&t->lock);
	struct fs_lock_owner **p = find(t, ino, owner);
	if (*p) {
		o = *p;
		o->refs++;
	} else {
		*p = o = made;
		t->count++;
		made = NULL;
	}
	pthread_mutex_unlock(&t->lock);
	if (made) {
		close(made->fd);
		free(made);
	}
	return o;
}

int fs_lock_owner_fd(const struct fs_lock_owner *o)
{
	return o->fd;
}

void fs_lock_owner_set_pid(struct fs_lock_owner *o, pid_t pid)
{
	if (pid > 0)
		atomic_store_explicit(&o->pid, pid, memory_order_relaxed);
}

static bool same_conflict(const struct flock *a, const struct flock *b)
{
	return a->l_type == b->l_type && a->l_start == b->l_start && a->l_len == b->l_len;
}

int fs_lock_owners_getlk(struct fs_ctx *c, fuse_ino_t ino, int probe_fd, struct flock *lock)
{
	struct flock probe = *lock;
	lock->l_pid = 0; /* required by F_OFD_GETLK */
	if (fcntl(probe_fd, F_OFD_GETLK, lock) < 0)
		return -errno;
	if (lock->l_type == F_UNLCK)
		return 0;
	lock->l_pid = 0;
	/* The holder is the listed description that does not see that
	 * conflict when it probes (a description's own locks never conflict
	 * with it): a few F_OFD_GETLK, on conflicts only. */
	struct fs_lock_owners *t = c->lock_owners;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; i < BUCKETS && lock->l_pid == 0; i++)
		for (struct fs_lock_owner *o = t->bucket[i]; o; o = o->next) {
			if (o->ino != ino || o->fd == probe_fd)
				continue;
			struct flock seen = probe;
			seen.l_pid = 0;
			if (fcntl(o->fd, F_OFD_GETLK, &seen) == 0 && !same_conflict(&seen, lock)) {
				lock->l_pid = atomic_load_explicit(&o->pid, memory_order_relaxed);
				break;
			}
		}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void fs_lock_owner_put(struct fs_ctx *c, struct fs_lock_owner *o)
{
	struct fs_lock_owners *t = c->lock_owners;
	pthread_mutex_lock(&t->lock);
	bool last = --o->refs == 0;
	pthread_mutex_unlock(&t->lock);
	if (last)
		unref(o);
}

bool fs_lock_owner_keep(struct fs_ctx *c, struct fs_lock_owner *o, const struct fs_file *via)
{
	struct fs_lock_owners *t = c->lock_owners;
	bool kept = true;
	pthread_mutex_lock(&t->lock);
	if (!o->listed) {
		struct fs_lock_owner **p = find(t, o->ino, o->owner);
		kept = *p == NULL;
		if (kept) {
			/* The open it was made through may be gone (released
			 * after that close); the request's is alive. */
			o->via = via;
			*p = o;
			o->listed = true;
			o->refs++;
			t->count++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return kept;
}

/* Unlists *p (t->lock held): its locks go now, its fd with the last
 * request using it. Returns it if that was the last reference. */
static struct fs_lock_owner *unlist(struct fs_lock_owners *t, struct fs_lock_owner **p)
{
	struct fs_lock_owner *o = *p;
	*p = o->next;
	o->next = NULL;
	o->listed = false;
	t->count--;
	struct flock all = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	if (fcntl(o->fd, F_OFD_SETLK, &all) < 0) { /* closing it drops them anyway */
	}
	return --o->refs == 0 ? o : NULL;
}

void fs_lock_owners_closed(struct fs_ctx *c, fuse_ino_t ino, uint64_t owner)
{
	struct fs_lock_owners *t = c->lock_owners;
	struct fs_lock_owner *gone = NULL;
	pthread_mutex_lock(&t->lock);
	struct fs_lock_owner **p = find(t, ino, owner);
	if (*p)
		gone = unlist(t, p);
	pthread_mutex_unlock(&t->lock);
	if (gone)
		unref(gone);
}

void fs_lock_owners_released(struct fs_ctx *c, const struct fs_file *via)
{
	struct fs_lock_owners *t = c->lock_owners;
	struct fs_lock_owner *gone = NULL;
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	for (int i = 0; t->count && i < BUCKETS; i++)
		for (struct fs_lock_owner **p = &t->bucket[i]; *p;) {
			if ((*p)->via != via) {
				p = &(*p)->next;
				continue;
			}
			struct fs_lock_owner *last = unlist(t, p);
			if (last) { /* chained through next, now unused */
				last->next = gone;
				gone = last;
			}
		}
	pthread_mutex_unlock(&t->lock);
	while (gone) {
		struct fs_lock_owner *next = gone->next;
		unref(gone);
		gone = next;
	}
}
