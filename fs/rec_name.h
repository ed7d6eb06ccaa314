/* Naming a recorded file: its path relative to BACKING and its stable id
 * (file_id.h: the user.shadow.id xattr, else the store's id for the path),
 * from an fd on it or from its file handle.
 *
 * The recorder does not name files when they first appear: the FUSE
 * threads hand over a copy of the inode's file handle (struct
 * fs_rec_handle, no syscall), and the recorder's writer thread names a file
 * from it only when the file is still in the active set when its bucket is
 * written. A file created and unlinked within a bucket is never named: its
 * handle no longer opens (ESTALE), which is one failed syscall off the FUSE
 * threads. Naming from an fd is the fallback for inodes without a handle
 * (BACKING without handle support or without CAP_DAC_READ_SEARCH, objects
 * on another filesystem below BACKING, handles longer than
 * FS_REC_HANDLE_MAX).
 *
 * A handle opened after the kernel dropped the file's dentry in BACKING
 * (memory pressure) gives a disconnected fd: /proc shows "/". Such a file
 * is named by the fs layer (fs_rec_path_of: its name in the directory it
 * was last seen in through the mount, rel_path.h), only then: the claim
 * carries that directory's inode number, read from the inode. */
#ifndef SHADOWFS_FS_REC_NAME_H
#define SHADOWFS_FS_REC_NAME_H

#include <fcntl.h> /* struct file_handle (_GNU_SOURCE) */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "predictor/series_store.h"

/* Longest f_handle copied (ext4 8 bytes, tmpfs 12, xfs <= 24, btrfs 20). */
#define FS_REC_HANDLE_MAX 40

/* A copy of a struct file_handle small enough for a ring event. */
struct fs_rec_handle {
	int32_t type;
	uint8_t len; /* bytes of f_handle; 0: no handle */
	uint8_t bytes[FS_REC_HANDLE_MAX];
};

/* Whether h (may be NULL) fits a struct fs_rec_handle. */
static inline bool fs_rec_handle_fits(const struct file_handle *h)
{
	return h && h->handle_bytes > 0 && h->handle_bytes <= FS_REC_HANDLE_MAX;
}

/* Copies h into ret; false (ret->len 0) when h is NULL or too long. */
static inline bool fs_rec_handle_copy(struct fs_rec_handle *ret, const struct file_handle *h)
{
	if (!fs_rec_handle_fits(h)) {
		ret->len = 0;
		return false;
	}
	ret->type = h->handle_type;
	ret->len = (uint8_t)h->handle_bytes;
	memcpy(ret->bytes, h->f_handle, h->handle_bytes);
	return true;
}

/* A hash of the handle (never 0), or 0 when there is none: tells a
 * deleted file from a new one that got its inode number (the handle has
 * the inode's generation). */
static inline uint32_t fs_rec_handle_hash(const struct fs_rec_handle *h)
{
	if (!h->len)
		return 0;
	uint64_t x = ((uint64_t)(uint32_t)h->type << 8 | h->len) * 0x9e3779b97f4a7c15ULL;
	for (unsigned k = 0; k < h->len; k += 8) { /* k <= 32: 8 bytes are there */
		uint64_t w;
		memcpy(&w, h->bytes + k, 8);
		if (h->len - k < 8) /* bytes past len are not part of the handle */
			w &= (1ULL << ((h->len - k) * 8)) - 1;
		x = (x ^ w) * 0xff51afd7ed558ccdULL;
	}
	uint32_t r = (uint32_t)(x >> 32);
	return r ? r : 1;
}

/* The path relative to BACKING of the file (dev, ino) open as the
 * disconnected fd, last seen in the directory dir_ino (0 unknown), into
 * buf; -errno (-ENOENT: not there) when it cannot tell. */
typedef int fs_rec_path_of_fn(void *arg, int fd, dev_t dev, ino_t ino, uint64_t dir_ino,
			      char buf[PATH_MAX]);

/* What naming needs: an fd of BACKING's root for open_by_handle_at (owned),
 * BACKING's realpath (paths are recorded relative to it), the store (for
 * ids of files on filesystems without user xattrs), and who names a file
 * whose fd is disconnected (NULL: nobody). */
struct fs_rec_namer {
	int mount_fd;
	const char *backing; /* not owned */
	size_t backing_len;  /* 0 when BACKING is "/" */
	struct pred_store *store;
	fs_rec_path_of_fn *path_of;
	void *path_of_arg;
};

/* Whether ABS, what /proc reads for fd (len bytes), is a name the file no
 * longer has: "PATH (deleted)" that does not lead to the file. It was
 * unlinked, or fd came through a name it lost while it has others, such as
 * an O_TMPFILE's nameless first dentry ("DIR/#INO"), linked since, that an
 * fd kept from before the link (an inode's O_PATH fd) still holds. A file
 * whose name really ends so is the object at that path. */
bool fs_proc_name_lost(int fd, const char *abs, size_t len);

/* Names the file open as fd (any fd, O_PATH included), last seen through
 * the mount in the directory dir_ino (0 unknown). Returns 0 with ret_id
 * and *ret_path (malloc'd, relative to BACKING) set, *ret_path NULL when
 * the fd is not connected to BACKING's tree (a handle opened after the
 * kernel dropped the file's dentry: /proc shows "/", or a name it lost
 * while it has others: fs_proc_name_lost) and path_of cannot name it
 * either; -ENOENT when the file has been unlinked (nothing to name); other
 * -errno on failure. */
int fs_rec_name_fd(const struct fs_rec_namer *n, int fd, uint64_t dir_ino, int64_t now_s,
		   uint8_t ret_id[PRED_ID_LEN], char **ret_path);

/* Same from a file handle: -ENOENT also when the handle no longer opens
 * (the file is gone). Needs CAP_DAC_READ_SEARCH (open_by_handle_at). */
int fs_rec_name_handle(const struct fs_rec_namer *n, const struct fs_rec_handle *h,
		       uint64_t dir_ino, int64_t now_s, uint8_t ret_id[PRED_ID_LEN], char **ret_path);

#endif
