/* Stable file ids: a uuid stored on the backing file in the reserved
 * extended attribute user.shadow.id (36-character text form), so the id
 * follows the file through renames and across remounts.
 *
 * Where the backing filesystem has no user xattrs (or refuses them), the
 * caller falls back to an id derived from the path (fs_file_id_from_path,
 * a name-based SHA-1 uuid) that the series store then maps to the first id
 * that path got (pred_store_resolve_path). The recorder does the same for a
 * file whose stored id is damaged (not a uuid): it is left for the operator
 * to mend, and tuning that file fails with EINVAL until then. */
#ifndef SHADOWFS_FS_FILE_ID_H
#define SHADOWFS_FS_FILE_ID_H

#include <stdbool.h>
#include <stdint.h>

#define FS_FILE_ID_XATTR "user.shadow.id"
#define FS_FILE_ID_LEN 16

/* Reads the id of the file at path (e.g. "/proc/self/fd/N"); when it has
 * none and create is true, generates one and stores it (XATTR_CREATE, so two
 * racing callers agree on the first). Returns 0; -ENODATA (none, create
 * false); -ENOTSUP / -EPERM / -EACCES / -EROFS (xattrs unusable: fall back);
 * -EINVAL (the stored value is not a uuid; it is left alone); other -errno. */
int fs_file_id_get(const char *path, bool create, uint8_t ret[FS_FILE_ID_LEN]);

/* Gives the file at path a new id (it bore another file's: cp -a and
 * rsync -X copy the attribute); 0 or -errno. */
int fs_file_id_renew(const char *path, uint8_t ret[FS_FILE_ID_LEN]);

/* Deterministic fallback id of a mount-relative path. */
void fs_file_id_from_path(const char *relpath, uint8_t ret[FS_FILE_ID_LEN]);

/* True for the errors after which fs_file_id_from_path should be used. */
bool fs_file_id_unsupported(int err);

#endif
