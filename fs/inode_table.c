/* The inode table: hash of (dev, ino) -> struct fs_inode, lookup counts,
 * file handles, name keys and the bounded LRU of O_PATH fds. See
 * inode_table.h. */
#include "fs/inode_table.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024u
#define EVICT_SCAN_MAX 64u   /* pinned entries skipped per eviction, at most */
#define CLOSE_BATCH 16u      /* fds closed after unlocking, per call */

struct fs_inode_table {
	int root_fd;              /* immutable; owned */
	bool use_handles;         /* immutable after new() */
	unsigned fd_cache_max;    /* immutable */
	struct fs_inode *root;    /* immutable; never freed before the table */
	pthread_mutex_t lock;
	/* Table lock: */
	struct fs_inode **buckets;
	size_t nbuckets;          /* power of two */
	uint64_t count;
	struct fs_inode lru;      /* list head: lru.lru_next is the most recent */
	unsigned lru_fds;         /* non-permanent fds cached */
	uint64_t permanent_fds;
	uint64_t named;           /* entries with a name key; read unlocked too */
	uint64_t reopens;
	/* Entries out of the hash while the kernel still refers to them
	 * (disown): freed with the table if no FORGET came. */
	struct fs_inode **disowned;
	size_t ndisowned, disowned_cap;
	/* Set before the first lookup (fs_inode_table_on_release). */
	void (*release_fn)(struct fs_inode *i, void *arg);
	void *release_arg;
	/* Table lock: handles of directories the kernel forgot, direct-mapped
	 * (fs_inode_table_gone_dir_open). */
	struct gone_dir {
		dev_t dev;
		ino_t ino;
		struct file_handle *handle; /* owned; NULL empty */
	} gone_dirs[FS_GONE_DIRS];
};

struct close_list {
	int fds[CLOSE_BATCH];
	unsigned n;
};

static void close_list_flush(struct close_list *cl)
{
	for (unsigned i = 0; i < cl->n; i++)
		close(cl->fds[i]);
	cl->n = 0;
}

static size_t hash_of(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 29;
	return (size_t)(h & (nbuckets - 1));
}

static void lru_unlink(struct fs_inode *i)
{
	i->lru_prev->lru_next = i->lru_next;
	i->lru_next->lru_prev = i->lru_prev;
	i->lru_prev = i->lru_next = NULL;
}

static void lru_push_front(struct fs_inode_table *t, struct fs_inode *i)
{
	i->lru_next = t->lru.lru_next;
	i->lru_prev = &t->lru;
	t->lru.lru_next->lru_prev = i;
	t->lru.lru_next = i;
}

/* Closes cached fds of unpinned entries from the cold end until no more
 * than bound are cached (table lock held). The fds are closed by the caller
 * after unlocking; at most CLOSE_BATCH per call, so the cache may briefly
 * exceed its bound by a few fds, never more. */
static void lru_evict_to(struct fs_inode_table *t, struct close_list *cl, uint64_t bound)
{
	struct fs_inode *i = t->lru.lru_prev;
	unsigned scanned = 0;
	while (t->lru_fds > bound && i != &t->lru && cl->n < CLOSE_BATCH &&
	       scanned < EVICT_SCAN_MAX) {
		struct fs_inode *prev = i->lru_prev;
		if (i->pins == 0) {
			cl->fds[cl->n++] = i->fd;
			i->fd = -1;
			lru_unlink(i);
			t->lru_fds--;
		} else {
			scanned++;
		}
		i = prev;
	}
}

/* ... until the cache fits its bound. */
static void lru_evict(struct fs_inode_table *t, struct close_list *cl)
{
	lru_evict_to(t, cl, t->fd_cache_max);
}

/* Closes a batch of unpinned cached fds from the cold end, whatever the
 * bound (table lock held; closed by the caller after unlocking). */
static void lru_shed(struct fs_inode_table *t, struct close_list *cl)
{
	lru_evict_to(t, cl, t->lru_fds > CLOSE_BATCH ? t->lru_fds - CLOSE_BATCH : 0);
}

static struct fs_inode *hash_find(struct fs_inode_table *t, dev_t dev, ino_t ino)
{
	struct fs_inode *i = t->buckets[hash_of(dev, ino, t->nbuckets)];
	while (i && (i->ino != ino || i->dev != dev))
		i = i->hnext;
	return i;
}

static void hash_grow(struct fs_inode_table *t)
{
	size_t n = t->nbuckets * 2;
	struct fs_inode **b = calloc(n, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t k = 0; k < t->nbuckets; k++) {
		struct fs_inode *i = t->buckets[k];
		while (i) {
			struct fs_inode *next = i->hnext;
			size_t h = hash_of(i->dev, i->ino, n);
			i->hnext = b[h];
			b[h] = i;
			i = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static void hash_insert(struct fs_inode_table *t, struct fs_inode *i)
{
	if (t->count >= t->nbuckets)
		hash_grow(t);
	size_t h = hash_of(i->dev, i->ino, t->nbuckets);
	i->hnext = t->buckets[h];
	t->buckets[h] = i;
	t->count++;
}

static void hash_remove(struct fs_inode_table *t, struct fs_inode *i)
{
	struct fs_inode **p = &t->buckets[hash_of(i->dev, i->ino, t->nbuckets)];
	while (*p && *p != i)
		p = &(*p)->hnext;
	if (*p) {
		*p = i->hnext;
		t->count--;
	}
}

/* i leaves the hash for the list of disowned entries (table lock held;
 * without memory for the list, it is left out of it: leaked at exit if
 * no FORGET comes, as all were before the list). */
static void disowned_add(struct fs_inode_table *t, struct fs_inode *i)
{
	hash_remove(t, i);
	i->disowned = UINT32_MAX;
	if (t->ndisowned == t->disowned_cap) {
		size_t cap = t->disowned_cap ? t->disowned_cap * 2 : 16;
		struct fs_inode **d = cap < UINT32_MAX ? realloc(t->disowned, cap * sizeof(*d)) : NULL;
		if (!d)
			return;
		t->disowned = d;
		t->disowned_cap = cap;
	}
	t->disowned[t->ndisowned++] = i;
	i->disowned = (uint32_t)t->ndisowned;
}

static void disowned_remove(struct fs_inode_table *t, struct fs_inode *i)
{
	if (i->disowned == UINT32_MAX)
		return;
	struct fs_inode *last = t->disowned[--t->ndisowned];
	t->disowned[i->disowned - 1] = last;
	last->disowned = i->disowned;
}

/* Whether an entry's open fd is in the LRU (else it is kept). */
static bool in_lru(const struct fs_inode *i)
{
	return i->lru_prev != NULL;
}

/* Whether i's fd should be kept out of the LRU. An open file's, when it
 * has no handle: fstat, fchmod and fsetxattr on the open file come as
 * requests on the inode (the kernel sends no file handle with them, nor
 * retries them on ESTALE), and once its O_PATH fd was evicted a rename of
 * a directory above it behind the mount's back made them fail. */
static bool keeps_fd(const struct fs_inode_table *t, const struct fs_inode *i)
{
	return i == t->root || (!i->handle && (i->nameless || i->opens > 0));
}

/* i, which had none, holds fd from now: in the LRU (the cache then evicts
 * down to its bound; fds to cl) or kept, as keeps_fd says (table lock
 * held). */
static void install_fd_locked(struct fs_inode_table *t, struct fs_inode *i, int fd,
			      struct close_list *cl)
{
	i->fd = fd;
	if (!keeps_fd(t, i)) {
		lru_push_front(t, i);
		t->lru_fds++;
		lru_evict(t, cl);
	} else {
		t->permanent_fds++;
	}
}

/* Moves i's fd between the LRU and the kept ones as keeps_fd says now
 * (table lock held; fds evicted meanwhile go to cl). */
static void refile_locked(struct fs_inode_table *t, struct fs_inode *i, struct close_list *cl)
{
	bool keep = keeps_fd(t, i);
	if (i->fd < 0 || keep == !in_lru(i))
		return;
	if (keep) {
		lru_unlink(i);
		t->lru_fds--;
		t->permanent_fds++;
	} else {
		t->permanent_fds--;
		lru_push_front(t, i);
		t->lru_fds++;
		lru_evict(t, cl);
	}
}

/* Whether nothing holds i any more (table lock held). */
static bool unused(struct fs_inode_table *t, const struct fs_inode *i)
{
	return i != t->root && i->nlookup == 0 && i->pins == 0 && i->children == 0;
}

/* Drops i's name key (table lock held); returns its directory, whose
 * children count it held, and the name, which the caller frees. */
static struct fs_inode *key_drop(struct fs_inode_table *t, struct fs_inode *i, char **name)
{
	struct fs_inode *dir = i->key_dir;
	*name = i->key_name;
	i->key_dir = NULL;
	i->key_name = NULL;
	i->key_gen++;
	dir->children--;
	__atomic_store_n(&t->named, t->named - 1, __ATOMIC_RELAXED);
	return dir;
}

/* Entries freed by one call: an entry, and in turn the directories up its
 * chain of name keys that it alone held; linked through hnext (out of the
 * hash by then). */
struct gone_list {
	struct fs_inode *head;
};

/* Unlinks i, if nothing holds it, and then its key's directory if i was
 * all that held it, and so on up (table lock held); their fds go to cl,
 * the memory is freed by the caller via gone_release. */
static void detach_if_unused(struct fs_inode_table *t, struct fs_inode *i, struct close_list *cl,
			     struct gone_list *gl)
{
	while (i && unused(t, i)) {
		struct fs_inode *up = NULL;
		if (i->disowned)
			disowned_remove(t, i);
		else
			hash_remove(t, i);
		if (i->fd >= 0) {
			if (in_lru(i)) {
				lru_unlink(i);
				t->lru_fds--;
			} else {
				t->permanent_fds--;
			}
			if (cl->n < CLOSE_BATCH)
				cl->fds[cl->n++] = i->fd;
			else
				close(i->fd); /* rare: batch full */
			i->fd = -1;
		}
		if (i->key_name) {
			char *name;
			up = key_drop(t, i, &name);
			i->key_name = name; /* freed with i */
		}
		i->hnext = gl->head;
		gl->head = i;
		i = up;
	}
}

static void inode_free(struct fs_inode *i)
{
	if (!i)
		return;
	free(i->key_name);
	free(i->handle);
	free(i);
}

/* Keeps the handle of a directory the kernel forgot (taken from i), in
 * place of whichever had its slot. */
static void gone_dir_keep(struct fs_inode_table *t, struct fs_inode *i)
{
	pthread_mutex_lock(&t->lock);
	struct gone_dir *g = &t->gone_dirs[hash_of(i->dev, i->ino, FS_GONE_DIRS)];
	struct file_handle *old = g->handle;
	g->dev = i->dev;
	g->ino = i->ino;
	g->handle = i->handle;
	i->handle = NULL;
	pthread_mutex_unlock(&t->lock);
	free(old);
}

/* Entries detached from the table at their last reference: the release
 * hook sees each whose shadow pointer is set, then it is freed. */
static void gone_release(struct fs_inode_table *t, struct gone_list *gl)
{
	struct fs_inode *i;
	while ((i = gl->head) != NULL) {
		gl->head = i->hnext;
		if (t->release_fn && __atomic_load_n(&i->shadow, __ATOMIC_ACQUIRE))
			t->release_fn(i, t->release_arg);
		if (S_ISDIR(i->type) && i->handle)
			gone_dir_keep(t, i);
		inode_free(i);
	}
}

int fs_inode_table_gone_dir_open(struct fs_inode_table *t, dev_t dev, ino_t ino)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} u;
	pthread_mutex_lock(&t->lock);
	const struct gone_dir *g = &t->gone_dirs[hash_of(dev, ino, FS_GONE_DIRS)];
	bool found = g->handle && g->dev == dev && g->ino == ino;
	if (found)
		memcpy(&u, g->handle, sizeof(struct file_handle) + g->handle->handle_bytes);
	pthread_mutex_unlock(&t->lock);
	if (!found)
		return -ENOENT;
	int fd = open_by_handle_at(t->root_fd, &u.fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void fs_inode_table_on_release(struct fs_inode_table *t, void (*fn)(struct fs_inode *i, void *arg),
			       void *arg)
{
	t->release_fn = fn;
	t->release_arg = arg;
}

/* Gets a file handle for the object open as fd, or NULL if handles are off,
 * unsupported for it, or it lives on another filesystem than BACKING. */
static struct file_handle *handle_of(struct fs_inode_table *t, int fd, const struct stat *st)
{
	if (!t->use_handles || st->st_dev != t->root->dev)
		return NULL;
	unsigned size = 64;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct file_handle *h = malloc(sizeof(*h) + size);
		int mount_id;
		if (!h)
			return NULL;
		h->handle_bytes = size;
		if (name_to_handle_at(fd, "", h, &mount_id, AT_EMPTY_PATH) == 0) {
			struct file_handle *shrunk = realloc(h, sizeof(*h) + h->handle_bytes);
			return shrunk ? shrunk : h;
		}
		int err = errno;
		size = h->handle_bytes;
		free(h);
		if (err != EOVERFLOW || size > MAX_HANDLE_SZ)
			return NULL;
	}
	return NULL;
}

struct file_handle *fs_inode_table_handle_of(struct fs_inode_table *t, int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? handle_of(t, fd, &st) : NULL;
}

int fs_inode_table_new(int root_fd, unsigned fd_cache_max, struct fs_inode_table **ret)
{
	struct fs_inode_table *t = calloc(1, sizeof(*t));
	struct stat st;
	int err;

	if (!t)
		return -ENOMEM;
	if (fstat(root_fd, &st) < 0) {
		err = -errno;
		free(t);
		return err;
	}
	t->root_fd = -1;
	t->fd_cache_max = fd_cache_max ? fd_cache_max : 1;
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	t->nbuckets = INITIAL_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	t->root = calloc(1, sizeof(*t->root));
	if (!t->buckets || !t->root) {
		err = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->root->dev = st.st_dev;
	t->root->ino = st.st_ino;
	t->root->type = st.st_mode & S_IFMT;
	t->root->nlookup = 1; /* the kernel's implicit reference; never forgotten */
	t->root->fd = root_fd;
	t->permanent_fds = 1;
	hash_insert(t, t->root);

	/* Probe: handles must work for the root (support) and reopening one
	 * must be allowed (CAP_DAC_READ_SEARCH). */
	t->use_handles = true;
	struct file_handle *h = handle_of(t, root_fd, &st);
	if (h) {
		int fd = open_by_handle_at(root_fd, h, O_PATH);
		if (fd >= 0)
			close(fd);
		else
			t->use_handles = false;
		free(h);
	} else {
		t->use_handles = false;
	}
	t->root_fd = root_fd;
	*ret = t;
	return 0;
fail:
	free(t->buckets);
	free(t->root);
	free(t);
	return err;
}

void fs_inode_table_free(struct fs_inode_table *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->nbuckets; k++) {
		struct fs_inode *i = t->buckets[k];
		while (i) {
			struct fs_inode *next = i->hnext;
			if (i != t->root) {
				if (i->fd >= 0)
					close(i->fd);
				inode_free(i);
			}
			i = next;
		}
	}
	for (size_t k = 0; k < FS_GONE_DIRS; k++)
		free(t->gone_dirs[k].handle);
	for (size_t k = 0; k < t->ndisowned; k++) {
		if (t->disowned[k]->fd >= 0)
			close(t->disowned[k]->fd);
		inode_free(t->disowned[k]);
	}
	free(t->disowned);
	if (t->root_fd >= 0)
		close(t->root_fd);
	free(t->root);
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct fs_inode *fs_inode_table_root(struct fs_inode_table *t) { return t->root; }

int fs_inode_table_root_fd(struct fs_inode_table *t) { return t->root_fd; }

bool fs_inode_table_uses_handles(struct fs_inode_table *t) { return t->use_handles; }

/* Returns the existing entry for st with nlookup + 1, or NULL (table lock held). */
static struct fs_inode *ref_existing(struct fs_inode_table *t, const struct stat *st)
{
	struct fs_inode *i = hash_find(t, st->st_dev, st->st_ino);
	if (i)
		i->nlookup++;
	return i;
}

/* i's name key goes (the name no longer leads to it). kept: its fd, if
 * cached, stays for good, as the fd of an object that may have no name
 * left (open files, unlinked ones; another object's inode number). Else
 * it stays in the LRU, and once evicted i reopens only after a lookup
 * names it again (set_key). Table lock held; *old_name for the caller
 * to free. */
static void unkey_locked(struct fs_inode_table *t, struct fs_inode *i, bool kept,
			 struct close_list *cl, struct gone_list *gl, char **old_name)
{
	i->nameless = kept;
	refile_locked(t, i, cl);
	detach_if_unused(t, key_drop(t, i, old_name), cl, gl);
}

bool fs_inode_table_same_handle(const struct file_handle *a, const struct file_handle *b)
{
	return a->handle_type == b->handle_type && a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/* An entry that ref_existing found but that is another object than the
 * one just looked up, which had the same inode number: it leaves the hash
 * (it lives on, reopening with ESTALE, until its FORGET) and the reference
 * ref_existing took is dropped; the caller inserts the new object. */
static void disown(struct fs_inode_table *t, struct fs_inode *i)
{
	struct close_list cl = {.n = 0};
	struct gone_list gl = {NULL};
	char *old_name = NULL;
	pthread_mutex_lock(&t->lock);
	if (!i->disowned) { /* (another lookup may have done it already) */
		disowned_add(t, i);
		if (i->key_name) /* its name leads to the new object now */
			unkey_locked(t, i, true, &cl, &gl, &old_name);
	}
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	gone_release(t, &gl);
	free(old_name);
	fs_inode_table_forget(t, i, 1);
}

/* The entry ref_existing found for an object whose handle is h (NULL: not
 * known): itself, or NULL when it is another object that had the same
 * inode number. An entry with a handle does not pin its object (its fd
 * may be evicted): once the object is deleted, BACKING may give its inode
 * number to a new one while the kernel still holds the old entry (no
 * FORGET yet). Seen with posix_compare under load: files created after
 * others were unlinked opened with ESTALE. */
static struct fs_inode *check_handle(struct fs_inode_table *t, struct fs_inode *i,
				     const struct file_handle *h)
{
	if (!i || !h || fs_inode_table_same_handle(i->handle, h))
		return i;
	disown(t, i);
	return NULL;
}

/* Is i dir or one of the directories above it by their keys (table lock
 * held)? At most as many steps as entries: a loop of keys, which
 * set_key never makes, would end there too. */
static bool key_ancestor(struct fs_inode_table *t, const struct fs_inode *i,
			 const struct fs_inode *dir)
{
	uint64_t steps = 0;
	for (const struct fs_inode *a = dir; a; a = a->key_name ? a->key_dir : NULL)
		if (a == i || ++steps > t->count)
			return true;
	return false;
}

/* Keys i by (dir, name) if it has another name key, or none and no
 * handle (its key went with a name of a file that has others: its fd,
 * kept till now, goes to the LRU). Not when i is dir or above it: a
 * directory moved into one below it behind the mount's back and looked
 * up there by its stale key made a loop of keys, and every later reopen
 * of either walked it for ever, holding the table lock (the whole mount
 * hung). The old key stays: ESTALE, the kernel looks the name up
 * again. */
static void set_key(struct fs_inode_table *t, struct fs_inode *i, struct fs_inode *dir,
		    const char *name)
{
	struct close_list cl = {.n = 0};
	struct gone_list gl = {NULL};
	char *copy = NULL, *old_name = NULL;
	for (;;) {
		pthread_mutex_lock(&t->lock);
		if (i == t->root || i->handle || i->disowned ||
		    (i->key_name && i->key_dir == dir && strcmp(i->key_name, name) == 0) ||
		    key_ancestor(t, i, dir))
			break;
		if (copy) {
			struct fs_inode *old_dir = i->key_name ? key_drop(t, i, &old_name) : NULL;
			i->key_dir = dir;
			i->key_name = copy;
			dir->children++;
			__atomic_store_n(&t->named, t->named + 1, __ATOMIC_RELAXED);
			copy = NULL;
			i->nameless = false;
			refile_locked(t, i, &cl);
			detach_if_unused(t, old_dir, &cl, &gl);
			break;
		}
		pthread_mutex_unlock(&t->lock);
		copy = strdup(name);
		if (!copy)
			return; /* the old key stays: at worst ESTALE later */
	}
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	gone_release(t, &gl);
	free(copy);
	free(old_name);
}

/* The name-keyed entry ref_existing found for NAME in dir, of type `type`:
 * itself, now keyed by (dir, NAME) (a hard link's other name, or the same),
 * or NULL when it is another object that had the same inode number (a
 * name key does not pin its object either; only a change of type tells). */
static struct fs_inode *check_named(struct fs_inode_table *t, struct fs_inode *i, mode_t type,
				    struct fs_inode *dir, const char *name)
{
	if (i->type != type) {
		disown(t, i);
		return NULL;
	}
	if (dir && name)
		set_key(t, i, dir, name);
	return i;
}

/* How the table knows an entry it found (read under the table lock). */
enum known_by { BY_NONE, BY_FD, BY_HANDLE, BY_NAME };

static enum known_by ref_known(struct fs_inode_table *t, const struct stat *st,
			       struct fs_inode **ret)
{
	pthread_mutex_lock(&t->lock);
	struct fs_inode *i = ref_existing(t, st);
	enum known_by by = !i ? BY_NONE : i->handle ? BY_HANDLE : i->key_name ? BY_NAME : BY_FD;
	pthread_mutex_unlock(&t->lock);
	*ret = i;
	return by;
}

/* Inserts a new entry for st. Either h is its handle (taken; fd is -1 or
 * an O_PATH fd to cache), or h is NULL and fd (taken, or -1) an O_PATH fd
 * whose handle is looked up here; without a handle, the object is keyed by
 * (dir, name) (its fd, if any, cached), or with neither fd stays as its
 * permanent fd. */
static int insert_new(struct fs_inode_table *t, int fd, struct file_handle *h,
		      const struct stat *st, struct fs_inode *dir, const char *name,
		      struct fs_inode **ret)
{
	struct close_list cl = {.n = 0};
	struct fs_inode *n = calloc(1, sizeof(*n));
	if (!n) {
		if (fd >= 0)
			close(fd);
		free(h);
		return -ENOMEM;
	}
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->type = st->st_mode & S_IFMT;
	n->handle = h ? h : (fd >= 0 ? handle_of(t, fd, st) : NULL);
	n->nlookup = 1;
	n->fd = -1;
	if (!n->handle && dir && name && !(n->key_name = strdup(name))) {
		if (fd >= 0)
			close(fd);
		inode_free(n);
		return -ENOMEM;
	}
	if (!n->handle && !n->key_name && fd < 0) {
		inode_free(n);
		return -ESTALE; /* caller bug: nothing to find the object with */
	}
	n->nameless = !n->handle && !n->key_name;

	pthread_mutex_lock(&t->lock);
	struct fs_inode *old = ref_existing(t, st);
	if (old) {
		pthread_mutex_unlock(&t->lock);
		if (fd >= 0)
			close(fd);
		inode_free(n);
		*ret = old;
		return 0;
	}
	hash_insert(t, n);
	if (n->key_name) {
		n->key_dir = dir;
		dir->children++;
		__atomic_store_n(&t->named, t->named + 1, __ATOMIC_RELAXED);
	}
	if (fd >= 0)
		install_fd_locked(t, n, fd, &cl);
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	*ret = n;
	return 0;
}

/* Gets a handle for NAME in dirfd without opening it: name_to_handle_at,
 * then a second stat proves the name still meant the object of *st (a
 * rename in between would show another inode). NULL if not possible. */
static struct file_handle *handle_of_name(struct fs_inode_table *t, int dirfd, const char *name,
					  const struct stat *st)
{
	if (!t->use_handles || st->st_dev != t->root->dev)
		return NULL;
	struct file_handle *h = malloc(sizeof(*h) + 64);
	int mount_id;
	if (!h)
		return NULL;
	h->handle_bytes = 64;
	if (name_to_handle_at(dirfd, name, h, &mount_id, 0) < 0) {
		free(h);
		return NULL;
	}
	struct stat st2;
	if (fstatat(dirfd, name, &st2, AT_SYMLINK_NOFOLLOW) < 0 || st2.st_ino != st->st_ino ||
	    st2.st_dev != st->st_dev) {
		free(h);
		return NULL;
	}
	return h;
}

int fs_inode_table_lookup(struct fs_inode_table *t, struct fs_inode *dir, int dirfd,
			  const char *name, struct stat *st, struct fs_inode **ret)
{
	struct fs_inode *i;
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	enum known_by by = ref_known(t, st, &i);
	if (by == BY_FD && dir)
		set_key(t, i, dir, name); /* by one of its names again */
	if (by == BY_FD)
		goto found;
	if (by == BY_NAME && (i = check_named(t, i, st->st_mode & S_IFMT, dir, name)) != NULL)
		goto found;
	/* New to us, or known by a handle that may be an older object's
	 * (check_handle). Fast path: a handle by name, no fd opened. */
	struct file_handle *h = handle_of_name(t, dirfd, name, st);
	if (by == BY_HANDLE && (i = check_handle(t, i, h)) != NULL) {
		free(h);
		goto found;
	}
	if (h)
		return insert_new(t, -1, h, st, NULL, NULL, ret);
	/* No handle: a name key, no fd opened. */
	if (dir)
		return insert_new(t, -1, NULL, st, dir, name, ret);
	/* Nor a directory to key it by: pinned with an O_PATH fd, which
	 * describes what it is. */
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return insert_new(t, fd, NULL, st, dir, name, ret);
found:
	*ret = i;
	return 0;
}

int fs_inode_table_lookup_fd(struct fs_inode_table *t, struct fs_inode *dir, const char *name,
			     int fd, struct stat *st, struct fs_inode **ret)
{
	struct fs_inode *i;
	if (fstat(fd, st) < 0)
		return -errno;
	enum known_by by = ref_known(t, st, &i);
	if (by == BY_FD && dir && name)
		set_key(t, i, dir, name);
	if (by == BY_FD)
		goto found;
	if (by == BY_NAME && (i = check_named(t, i, st->st_mode & S_IFMT, dir, name)) != NULL)
		goto found;
	struct file_handle *h = handle_of(t, fd, st);
	if (by == BY_HANDLE && (i = check_handle(t, i, h)) != NULL) {
		free(h);
		goto found;
	}
	if (h)
		return insert_new(t, -1, h, st, NULL, NULL, ret);
	if (dir && name)
		return insert_new(t, -1, NULL, st, dir, name, ret);
	/* No name to key it by: keep an O_PATH twin of fd as the permanent
	 * fd. The /proc link is followed: with O_NOFOLLOW the twin was the
	 * link itself, and every later open of the inode through it failed
	 * with ELOOP (posix_compare_mount_ramfs). */
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	return insert_new(t, pfd, NULL, st, NULL, NULL, ret);
found:
	*ret = i;
	return 0;
}

void fs_inode_table_forget(struct fs_inode_table *t, struct fs_inode *i, uint64_t n)
{
	struct close_list cl = {.n = 0};
	struct gone_list gl = {NULL};
	if (!i || i == t->root)
		return;
	pthread_mutex_lock(&t->lock);
	i->nlookup = n >= i->nlookup ? 0 : i->nlookup - n;
	detach_if_unused(t, i, &cl, &gl);
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	gone_release(t, &gl);
}

/* Opens NAME in dir (held by the caller) as an O_PATH fd of the object
 * (dev, ino) of that type, or returns -errno: -ESTALE when NAME leads
 * elsewhere. dir's own fd may have to be reopened by its key first, and
 * so on up: one frame of reopen() per evicted ancestor. */
static int reopen_by_name(struct fs_inode_table *t, struct fs_inode *dir, const char *name,
			  dev_t dev, ino_t ino, mode_t type)
{
	int dfd = fs_inode_fd_get(t, dir);
	if (dfd < 0)
		return dfd;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int err = fd < 0 ? -errno : 0;
	fs_inode_fd_put(t, dir);
	if (err == -ENOENT || err == -ENOTDIR)
		return -ESTALE;
	if (err < 0)
		return err;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino ||
	    (st.st_mode & S_IFMT) != type) {
		close(fd);
		return -ESTALE; /* elsewhere, or its inode number taken by another object */
	}
	return fd;
}

/* Reopens i, whose fd is not cached, by its handle or its name key (table
 * lock held on entry, released on return); -ESTALE if it has neither. */
static int reopen(struct fs_inode_table *t, struct fs_inode *i)
{
	if (i->handle) {
		pthread_mutex_unlock(&t->lock);
		int fd = open_by_handle_at(t->root_fd, i->handle, O_PATH);
		return fd < 0 ? -errno : fd;
	}
	for (int attempt = 0; i->key_name && attempt < 3; attempt++) {
		/* A rename through the mount may change the key meanwhile:
		 * then the name tried may lead elsewhere, and the new key is
		 * tried. The directory is held while its fd is used. */
		char name[NAME_MAX + 1];
		struct fs_inode *dir = i->key_dir;
		uint32_t gen = i->key_gen;
		snprintf(name, sizeof(name), "%s", i->key_name);
		dir->pins++;
		pthread_mutex_unlock(&t->lock);
		int fd = reopen_by_name(t, dir, name, i->dev, i->ino, i->type);
		fs_inode_fd_put(t, dir);
		pthread_mutex_lock(&t->lock);
		if (fd != -ESTALE || i->key_gen == gen) {
			pthread_mutex_unlock(&t->lock);
			return fd;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return -ESTALE;
}

/* A reopen by name recurses once per ancestor whose fd was evicted
 * (reopen_by_name asks for the directory's fd first). Anyone who may write
 * BACKING can make a tree far deeper than a worker thread's stack has
 * frames for (mkdir relative to the last one, 100,000 levels), so a chain
 * of more evicted ancestors than this is opened from its top down first,
 * one level at a time. */
#define REOPEN_RECURSION_MAX 32

/* Opens the evicted ancestors of the name-keyed i from the top down when
 * there are more than REOPEN_RECURSION_MAX of them (table lock held on
 * entry and on return). Each is pinned only until its child has its fd,
 * so the fds stay within the cache's bound. Returns i's directory, left
 * pinned with its fd cached (the caller puts it after reopening i), or
 * NULL: the chain was short (*err 0), or an ancestor could not be opened
 * (*err, -ESTALE for one renamed behind the mount's back; i cannot be
 * reached by its key either). */
static struct fs_inode *open_deep_ancestors(struct fs_inode_table *t, struct fs_inode *i,
					    int *err)
{
	size_t depth = 0;
	*err = 0;
	for (struct fs_inode *a = i->key_name ? i->key_dir : NULL; a && a->fd < 0 && a->key_name;
	     a = a->key_dir) {
		if (a == i || ++depth > t->count) {
			*err = -ESTALE; /* a loop of keys (set_key makes none) */
			return NULL;
		}
	}
	if (depth <= REOPEN_RECURSION_MAX)
		return NULL;
	struct fs_inode **chain = malloc(depth * sizeof(*chain));
	if (!chain) {
		*err = -ENOMEM;
		return NULL;
	}
	struct fs_inode *a = i->key_dir;
	for (size_t n = 0; n < depth; n++, a = a->key_dir) {
		chain[n] = a;
		a->pins++; /* alive and its fd kept until its child is open */
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t k = depth; k-- > 0;) {
		if (*err == 0) {
			int fd = fs_inode_fd_get(t, chain[k]);
			if (fd < 0)
				*err = fd;
			else
				fs_inode_fd_put(t, chain[k]); /* fd_get's pin; ours stays */
		}
		if (k + 1 < depth)
			fs_inode_fd_put(t, chain[k + 1]); /* its child is open now */
	}
	struct fs_inode *dir = chain[0];
	free(chain);
	if (*err) {
		fs_inode_fd_put(t, dir);
		dir = NULL;
	}
	pthread_mutex_lock(&t->lock);
	return dir;
}

int fs_inode_fd_get(struct fs_inode_table *t, struct fs_inode *i)
{
	struct close_list cl = {.n = 0};
	pthread_mutex_lock(&t->lock);
	i->pins++;
	if (i->fd >= 0) {
		int fd = i->fd;
		if (in_lru(i) && t->lru.lru_next != i) {
			lru_unlink(i);
			lru_push_front(t, i);
		}
		pthread_mutex_unlock(&t->lock);
		return fd;
	}
	/* Not cached (only possible with a handle or a name key): reopen
	 * outside the lock. */
	t->reopens++;
	int err;
	struct fs_inode *dir_held = open_deep_ancestors(t, i, &err);
	int fd = err;
	if (err < 0)
		pthread_mutex_unlock(&t->lock);
	else
		fd = reopen(t, i);
	if (err == 0 && (fd == -EMFILE || fd == -ENFILE)) {
		/* Out of fds (what applications hold open through the mount
		 * is not bounded by us): cached ones go, then one more try. */
		pthread_mutex_lock(&t->lock);
		lru_shed(t, &cl);
		pthread_mutex_unlock(&t->lock);
		close_list_flush(&cl);
		pthread_mutex_lock(&t->lock);
		fd = reopen(t, i);
	}

	pthread_mutex_lock(&t->lock);
	if (i->fd >= 0) {
		/* Another thread reopened it meanwhile, or made its fd
		 * permanent (fs_inode_table_name_gone): that fd serves. */
		if (fd >= 0)
			cl.fds[cl.n++] = fd;
		fd = i->fd;
	} else if (fd >= 0) {
		install_fd_locked(t, i, fd, &cl); /* kept if its key went meanwhile */
	}
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	if (dir_held)
		fs_inode_fd_put(t, dir_held);
	if (fd < 0)
		fs_inode_fd_put(t, i);
	return fd;
}

void fs_inode_fd_put(struct fs_inode_table *t, struct fs_inode *i)
{
	struct close_list cl = {.n = 0};
	struct gone_list gl = {NULL};
	pthread_mutex_lock(&t->lock);
	i->pins--;
	detach_if_unused(t, i, &cl, &gl);
	if (!gl.head && t->lru_fds > t->fd_cache_max)
		lru_evict(t, &cl);
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	gone_release(t, &gl);
}

struct fs_inode *fs_inode_table_pin_named(struct fs_inode_table *t, int dirfd, const char *name)
{
	struct stat st;
	if (__atomic_load_n(&t->named, __ATOMIC_RELAXED) == 0 ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	pthread_mutex_lock(&t->lock);
	struct fs_inode *i = hash_find(t, st.st_dev, st.st_ino);
	if (!i || !i->key_name) {
		pthread_mutex_unlock(&t->lock);
		return NULL;
	}
	i->pins++; /* held while its fd is got, and for the caller */
	pthread_mutex_unlock(&t->lock);
	/* Held even when its fd cannot be had (no fd left, or its key is
	 * stale): a rename still moves its key (else a stale key stayed,
	 * and a later move could make a loop of keys). */
	if (fs_inode_fd_get(t, i) >= 0)
		fs_inode_fd_put(t, i);
	return i;
}

void fs_inode_table_renamed(struct fs_inode_table *t, struct fs_inode *i, struct fs_inode *dir,
			    const char *name)
{
	if (i && dir)
		set_key(t, i, dir, name);
}

void fs_inode_table_name_gone(struct fs_inode_table *t, struct fs_inode *i, struct fs_inode *dir,
			      const char *name)
{
	struct close_list cl = {.n = 0};
	struct gone_list gl = {NULL};
	char *old_name = NULL;
	if (!i)
		return;
	pthread_mutex_lock(&t->lock);
	/* Pinned, so its fd is open (unless it could not be opened): kept for
	 * good if the object may have no name left (unlinked; an open file's
	 * is kept while it is open anyway: keeps_fd). Else, with other links,
	 * it stays in the LRU: kept, each such fd stayed until the kernel's
	 * FORGET, and removing one copy of a tree of hard links (cp -al,
	 * rm -r) took one fd per file, past the cache's bound. */
	struct stat st;
	if (i->key_name && i->key_dir == dir && strcmp(i->key_name, name) == 0) {
		bool kept = i->fd < 0 || fstat(i->fd, &st) < 0 || st.st_nlink == 0;
		unkey_locked(t, i, kept, &cl, &gl, &old_name);
	}
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	gone_release(t, &gl);
	free(old_name);
}

void fs_inode_table_opened(struct fs_inode_table *t, struct fs_inode *i, int file_fd)
{
	struct close_list cl = {.n = 0};
	int twin = -1;
	if (i->handle)
		return; /* reopened by its handle whatever happens to its names */
	pthread_mutex_lock(&t->lock);
	bool need = i != t->root && i->fd < 0 && i->opens == 0;
	pthread_mutex_unlock(&t->lock);
	if (need) { /* the open file's own inode, whatever its names now */
		char proc[32];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", file_fd);
		twin = open(proc, O_PATH | O_CLOEXEC);
	}
	pthread_mutex_lock(&t->lock);
	i->opens++;
	if (i->fd < 0 && twin >= 0) {
		install_fd_locked(t, i, twin, &cl); /* kept: opens counts it */
		twin = -1;
	}
	refile_locked(t, i, &cl);
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
	if (twin >= 0)
		close(twin);
}

void fs_inode_table_released(struct fs_inode_table *t, struct fs_inode *i)
{
	struct close_list cl = {.n = 0};
	if (i->handle)
		return;
	pthread_mutex_lock(&t->lock);
	i->opens--;
	refile_locked(t, i, &cl);
	pthread_mutex_unlock(&t->lock);
	close_list_flush(&cl);
}

void fs_inode_note_dir(struct fs_inode *i, const struct fs_inode *dir)
{
	if (i && dir && dir->dev == i->dev)
		__atomic_store_n(&i->dir_ino, dir->ino, __ATOMIC_RELAXED);
}

struct fs_inode *fs_inode_table_hold(struct fs_inode_table *t, dev_t dev, ino_t ino)
{
	pthread_mutex_lock(&t->lock);
	struct fs_inode *i =
	    t->root->dev == dev && t->root->ino == ino ? t->root : hash_find(t, dev, ino);
	if (i)
		i->pins++;
	pthread_mutex_unlock(&t->lock);
	return i;
}

bool fs_inode_table_with(struct fs_inode_table *t, dev_t dev, ino_t ino,
			 void (*fn)(struct fs_inode *i, void *arg), void *arg)
{
	pthread_mutex_lock(&t->lock);
	struct fs_inode *i = hash_find(t, dev, ino);
	if (i)
		fn(i, arg);
	pthread_mutex_unlock(&t->lock);
	return i != NULL;
}

void fs_inode_table_get_stats(struct fs_inode_table *t, struct fs_inode_table_stats *ret)
{
	pthread_mutex_lock(&t->lock);
	ret->inodes = t->count;
	ret->cached_fds = t->lru_fds + t->permanent_fds;
	ret->named = t->named;
	ret->fd_cache_max = t->fd_cache_max;
	ret->reopens = t->reopens;
	pthread_mutex_unlock(&t->lock);
}
