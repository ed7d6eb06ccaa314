/* Naming a recorded file from an fd or a file handle: see rec_name.h. */
#include "fs/rec_name.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/file_id.h"

bool fs_proc_name_lost(int fd, const char *abs, size_t len)
{
	static const char deleted[] = " (deleted)";
	const size_t dl = sizeof(deleted) - 1;
	struct stat a, b;
	if (len <= dl || strcmp(abs + len - dl, deleted) != 0)
		return false;
	return fstat(fd, &a) < 0 || lstat(abs, &b) < 0 || a.st_dev != b.st_dev ||
	       a.st_ino != b.st_ino;
}

int fs_rec_name_fd(const struct fs_rec_namer *n, int fd, uint64_t dir_ino, int64_t now_s,
		   uint8_t ret_id[PRED_ID_LEN], char **ret_path)
{
	char proc[32], abs[PATH_MAX], found[PATH_MAX];
	struct stat st;
	*ret_path = NULL;
	bool have_st = fstat(fd, &st) == 0;
	if (have_st && st.st_nlink == 0)
		return -ENOENT; /* unlinked already (short-lived files): nothing to name */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(proc, abs, sizeof(abs) - 1);
	if (len <= 0)
		return len < 0 ? -errno : -EIO;
	abs[len] = '\0';
	bool lost = fs_proc_name_lost(fd, abs, (size_t)len);
	struct stat now;
	if (lost && (fstat(fd, &now) < 0 || now.st_nlink == 0))
		return -ENOENT; /* unlinked between fstat and readlink */
	/* A file opened from its handle whose dentry the kernel had dropped
	 * comes back disconnected: /proc shows "/" instead of its path; one
	 * reached through a name it lost shows that name (fs_proc_name_lost:
	 * a linked O_TMPFILE's inode fd, on a mount without handles, always
	 * did, and its events all went to the tail). The fs layer names it by
	 * the directory it was last seen in (path_of); its id still reads from
	 * the inode. When that fails too its path is unknown this time (NULL:
	 * the store keeps the last one it had). */
	const char *rel = NULL;
	if (!lost && !strncmp(abs, n->backing, n->backing_len) &&
	    (abs[n->backing_len] == '/' || abs[n->backing_len] == '\0'))
		rel = abs + n->backing_len + (abs[n->backing_len] == '/');
	else if (n->path_of && have_st &&
		 n->path_of(n->path_of_arg, fd, st.st_dev, st.st_ino, dir_ino, found) == 0 && found[0])
		rel = found;
	int rc = fs_file_id_get(proc, true, ret_id);
	/* A damaged id (-EINVAL, left alone for the operator: tuning says so)
	 * still lets the file be recorded, by its path, as without xattrs. */
	if (rc && (fs_file_id_unsupported(rc) || rc == -EINVAL)) {
		if (!rel)
			return -ESTALE; /* the fallback id is the path's */
		uint8_t prov[PRED_ID_LEN];
		fs_file_id_from_path(rel, prov);
		rc = pred_store_resolve_path(n->store, rel, prov, now_s, ret_id);
	}
	if (rc || !rel)
		return rc;
	*ret_path = strdup(rel);
	return *ret_path ? 0 : -ENOMEM;
}

int fs_rec_name_handle(const struct fs_rec_namer *n, const struct fs_rec_handle *h,
		       uint64_t dir_ino, int64_t now_s, uint8_t ret_id[PRED_ID_LEN], char **ret_path)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + FS_REC_HANDLE_MAX];
	} u;
	*ret_path = NULL;
	if (h->len == 0 || h->len > FS_REC_HANDLE_MAX)
		return -EINVAL;
	u.fh.handle_bytes = h->len;
	u.fh.handle_type = h->type;
	memcpy(u.fh.f_handle, h->bytes, h->len);
	int fd = open_by_handle_at(n->mount_fd, &u.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ESTALE || errno == ENOENT ? -ENOENT : -errno;
	int rc = fs_rec_name_fd(n, fd, dir_ino, now_s, ret_id, ret_path);
	close(fd);
	return rc;
}
