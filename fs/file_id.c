/* Stable file ids in the user.shadow.id xattr: see file_id.h. */
#include "fs/file_id.h"

#include <errno.h>
#include <string.h>
#include <sys/xattr.h>
#include <uuid/uuid.h>

static int read_id(const char *path, uint8_t ret[FS_FILE_ID_LEN])
{
	char text[64];
	ssize_t n = getxattr(path, FS_FILE_ID_XATTR, text, sizeof(text) - 1);
	if (n < 0)
		return errno == ERANGE ? -EINVAL : -errno;
	text[n] = '\0';
	if (n > 0 && text[n - 1] == '\0')
		n--;
	if (n != 36 || uuid_parse(text, ret) != 0)
		return -EINVAL;
	return 0;
}

int fs_file_id_get(const char *path, bool create, uint8_t ret[FS_FILE_ID_LEN])
{
	int rc = read_id(path, ret);
	if (rc != -ENODATA || !create)
		return rc;
	uuid_t id;
	char text[37];
	uuid_generate_random(id);
	uuid_unparse_lower(id, text);
	if (setxattr(path, FS_FILE_ID_XATTR, text, 36, XATTR_CREATE) == 0) {
		memcpy(ret, id, FS_FILE_ID_LEN);
		return 0;
	}
	if (errno == EEXIST) /* another thread or process got there first */
		return read_id(path, ret);
	return -errno;
}

void fs_file_id_from_path(const char *relpath, uint8_t ret[FS_FILE_ID_LEN])
{
	/* A fixed namespace for shadowfs path ids (a random v4 uuid). */
	static const uuid_t ns = {0x6f, 0x2c, 0x41, 0x0b, 0x93, 0x5e, 0x4d, 0x8a,
				  0xb1, 0x07, 0x2e, 0x55, 0xc0, 0x18, 0x7d, 0x3a};
	uuid_generate_sha1(ret, ns, relpath, strlen(relpath));
}

bool fs_file_id_unsupported(int err)
{
	return err == -ENOTSUP || err == -EPERM || err == -EACCES || err == -EROFS;
}

int fs_file_id_renew(const char *path, uint8_t ret[FS_FILE_ID_LEN])
{
	uuid_t id;
	char text[37];
	uuid_generate_random(id);
	uuid_unparse_lower(id, text);
	if (setxattr(path, FS_FILE_ID_XATTR, text, 36, 0) < 0)
		return -errno;
	memcpy(ret, id, FS_FILE_ID_LEN);
	return 0;
}
