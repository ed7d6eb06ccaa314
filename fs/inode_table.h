/* The inode table: one struct fs_inode per backing object the kernel knows.
 *
 * Identity is (st_dev, st_ino) of the backing object, so hard links share an
 * inode. Each entry counts the kernel's lookups (nlookup, dropped by FORGET)
 * and the operations currently using it (pins); it is freed when both are 0.
 *
 * No fd per inode: an entry keeps the object's struct file_handle
 * (name_to_handle_at) and reopens it with open_by_handle_at(root_fd, ...)
 * when an operation needs it. Hot inodes keep an O_PATH fd in a bounded LRU
 * cache (fd_cache_max fds), so a tree of millions of files never needs more
 * than a few thousand fds.
 *
 * When BACKING cannot do file handles (no support, e.g. ramfs, or no
 * CAP_DAC_READ_SEARCH: every mount by a user other than root), or an object
 * lives on another filesystem below BACKING, an object has a name key
 * instead: the directory entry it was last looked up, made or renamed into
 * through the mount, and its name there. Its O_PATH fd lives in the same
 * LRU and is reopened by openat(directory's fd, name, O_PATH | O_NOFOLLOW),
 * checked against (st_dev, st_ino) - the directory's fd reopened by its own
 * key first if it was evicted, and so on up; the root keeps its fd. A name
 * changed behind the mount's back gives ESTALE (the kernel then looks the
 * path up again). Operations that move or remove names through the mount
 * keep the keys true: fs_inode_table_pin_named() before,
 * fs_inode_table_renamed() or fs_inode_table_name_gone() after (an object
 * whose key name goes keeps its fd for good if it may have no name left:
 * unlinked, or open). A key
 * holds its directory's entry (children), so a directory is freed only
 * after the objects it names.
 *
 * Locking: one mutex per table protects the hash, the LRU and every field
 * marked "table lock" below. No syscall that can block for long runs under
 * it (open_by_handle_at, name_to_handle_at and close run outside).
 *
 * Privilege: open_by_handle_at needs CAP_DAC_READ_SEARCH, which a thread
 * loses while it runs with a caller's fsuid (creds.h). Call
 * fs_inode_fd_get() before fs_creds_enter(). */
#ifndef SHADOWFS_FS_INODE_TABLE_H
#define SHADOWFS_FS_INODE_TABLE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct file_handle;
struct fs_inode_table;

struct fs_inode {
	/* Immutable after insertion. */
	dev_t dev;
	ino_t ino;
	mode_t type;                /* S_IFMT bits of the backing object */
	/* Table lock: out of the hash, its inode number another object's
	 * (1 + its index in the table's list of those, or UINT32_MAX when not
	 * listed); 0 while in the hash. */
	uint32_t disowned;
	struct file_handle *handle; /* NULL: name key or permanent fd */
	/* The access recorder's naming stamp (fs_file_ref.named): atomic. */
	uint32_t rec_named;
	/* st_nlink of the last attributes the mount replied with (entry
	 * replies, getattr, setattr), as the kernel knows it: atomic. */
	uint32_t nlink_seen;
	/* Kernel passthrough (fs/passthrough.c), under its lock: the backing
	 * id registered for this inode (0: none) and the open files using it. */
	int pt_backing_id;
	uint32_t pt_opens;
	/* The shadowing layer (fs/shadowing.c): its map entry for this file
	 * (struct daemon_shadow_file *, set once, under the map lock, and
	 * counted there: the entry is not freed while an inode points to it)
	 * or NULL, and the opens for writing through the mount. Atomic. */
	void *shadow;
	int32_t writers;
	/* Table lock: files open on it through the mount, counted without a
	 * handle only (fs_inode_table_opened / _released). */
	uint32_t opens;
	/* The directory it was last looked up, made or renamed into through
	 * the mount (its inode number, on the same device; 0: none): names
	 * it when its fd comes back disconnected (fs_rel_path_of). Atomic. */
	ino_t dir_ino;
	/* Table lock. */
	uint64_t nlookup;           /* kernel references (lookup count) */
	uint32_t pins;              /* fs_inode_fd_get() without fs_inode_fd_put() */
	uint32_t children;          /* name keys naming this directory */
	struct fs_inode *key_dir;   /* name key (no handle): */
	char *key_name;             /* NULL when the entry has none */
	uint32_t key_gen;           /* counts key changes */
	int fd;                     /* O_PATH fd, or -1 when not cached */
	/* It may have no name left (unlinked through the mount, or known by
	 * none): its fd, when open, is kept out of the LRU, as the root's is
	 * and, without a handle, the fd of an inode with files open on it
	 * (inode_table.c, keeps_fd). */
	bool nameless;
	struct fs_inode *hnext;     /* hash chain */
	struct fs_inode *lru_prev, *lru_next; /* set while a non-permanent fd is cached */
};

struct fs_inode_table_stats {
	uint64_t inodes;    /* entries in the table, root included */
	uint64_t cached_fds;/* O_PATH fds open (cache + permanent) */
	uint64_t named;     /* entries with a name key */
	uint64_t reopens;   /* reopens (by handle or by name) so far */
	uint64_t fd_cache_max; /* bound of the O_PATH fd cache */
};

/* Takes ownership of root_fd (an O_PATH or O_RDONLY fd of BACKING's root
 * directory) on success. fd_cache_max bounds the cached O_PATH fds. */
int fs_inode_table_new(int root_fd, unsigned fd_cache_max, struct fs_inode_table **ret);
void fs_inode_table_free(struct fs_inode_table *t);

struct fs_inode *fs_inode_table_root(struct fs_inode_table *t);
int fs_inode_table_root_fd(struct fs_inode_table *t);
bool fs_inode_table_uses_handles(struct fs_inode_table *t);
/* A file handle (malloc'ed) that open_by_handle_at(root fd) reopens the
 * object open as fd by, or NULL: handles off, unsupported, or the object
 * on another filesystem than BACKING. */
struct file_handle *fs_inode_table_handle_of(struct fs_inode_table *t, int fd);
/* Do a and b name the same object (type, length and bytes equal)? */
bool fs_inode_table_same_handle(const struct file_handle *a, const struct file_handle *b);

/* Looks up NAME in the directory dir, open as dirfd (with the calling
 * thread's credentials), fills *st, and returns its entry with nlookup
 * incremented by one (the reference a FUSE entry reply hands to the
 * kernel). A name-keyed entry found is keyed by (dir, NAME) from now on. */
int fs_inode_table_lookup(struct fs_inode_table *t, struct fs_inode *dir, int dirfd,
			  const char *name, struct stat *st, struct fs_inode **ret);

/* Same for an object already open as fd, just made as NAME in dir (e.g. by
 * CREATE); fd is not kept. *st is filled from fstat(fd). */
int fs_inode_table_lookup_fd(struct fs_inode_table *t, struct fs_inode *dir, const char *name,
			     int fd, struct stat *st, struct fs_inode **ret);

/* Before an operation removes or replaces NAME in the directory open as
 * dirfd: the entry of the object NAME leads to, if it has a name key,
 * pinned, with its fd open if it could be had (release with
 * fs_inode_fd_put()); else NULL. A fstatat while the table has
 * name-keyed entries, nothing otherwise. */
struct fs_inode *fs_inode_table_pin_named(struct fs_inode_table *t, int dirfd, const char *name);
/* i (pinned) was renamed to NAME in dir: its name key says so. */
void fs_inode_table_renamed(struct fs_inode_table *t, struct fs_inode *i, struct fs_inode *dir,
			    const char *name);
/* NAME in dir is gone (unlinked, or replaced by a rename); if it was i's
 * (pinned) name key, i keeps its open fd for good instead when it may
 * have no name left (no link left, or open through the mount); with
 * other links, its fd stays in the LRU until a lookup by another of its
 * names keys it again (evicted before that: ESTALE). */
void fs_inode_table_name_gone(struct fs_inode_table *t, struct fs_inode *i, struct fs_inode *dir,
			      const char *name);

/* Notes dir as the directory i was just looked up, made or renamed into. */
/* A file was opened on i (file_fd: the open file) / one was released: while
 * any is open, i's O_PATH fd is kept out of the LRU when it has no handle
 * (an O_PATH twin of file_fd when it had none), so requests on the inode
 * that the kernel sends without the file (fstat, fchmod, fsetxattr) reach
 * the file whatever happened to its names meanwhile. */
void fs_inode_table_opened(struct fs_inode_table *t, struct fs_inode *i, int file_fd);
void fs_inode_table_released(struct fs_inode_table *t, struct fs_inode *i);
void fs_inode_note_dir(struct fs_inode *i, const struct fs_inode *dir);
/* The entry of (dev, ino), held (kept from being freed) until
 * fs_inode_fd_put(); NULL if the table has none. */
struct fs_inode *fs_inode_table_hold(struct fs_inode_table *t, dev_t dev, ino_t ino);
/* The directory (dev, ino) after the kernel forgot it: the table keeps the
 * handles of the last FS_GONE_DIRS forgotten directories (direct-mapped,
 * 24 bytes a slot and the handle), so a file seen in it through the mount
 * can still be named when its own fd comes back disconnected
 * (fs_rel_path_in; the recorder names files after the kernel may have
 * forgotten them and their directory). An O_PATH fd (the caller closes
 * it; reconnected by the kernel, as a directory), -ENOENT when not kept,
 * or -errno of open_by_handle_at. */
#define FS_GONE_DIRS 1024
int fs_inode_table_gone_dir_open(struct fs_inode_table *t, dev_t dev, ino_t ino);

/* Drops n kernel references; the entry goes when none are left. */
void fs_inode_table_forget(struct fs_inode_table *t, struct fs_inode *i, uint64_t n);

/* Returns an O_PATH fd for i, valid until the matching fs_inode_fd_put(),
 * or -errno (-ESTALE when the object was deleted, or for a name key renamed,
 * behind our back). */
int fs_inode_fd_get(struct fs_inode_table *t, struct fs_inode *i);
void fs_inode_fd_put(struct fs_inode_table *t, struct fs_inode *i);

/* fn(i, arg) is called for each inode whose shadow pointer is set as the
 * table frees it (its kernel references and fd pins all gone: no op can
 * use it any more), outside the table lock: the shadowing layer counts the
 * inodes that point to each of its entries (fs/shadowing.c). Set before
 * the mount serves requests; inodes freed with the table do not call it. */
void fs_inode_table_on_release(struct fs_inode_table *t, void (*fn)(struct fs_inode *i, void *arg),
			       void *arg);

/* Calls fn(i, arg) with the table lock held if (dev, ino) is in the table
 * (fn must not block or call the table); returns whether it was. */
bool fs_inode_table_with(struct fs_inode_table *t, dev_t dev, ino_t ino,
			 void (*fn)(struct fs_inode *i, void *arg), void *arg);

void fs_inode_table_get_stats(struct fs_inode_table *t, struct fs_inode_table_stats *ret);

#endif
