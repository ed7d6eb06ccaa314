/* FUSE_TMPFILE served as a create of the name "/" (tmpfile.h). */
#include "fs/tmpfile.h"

#include <string.h>

#include "fs/fuse_proto.h"

void fs_tmpfile_rewrite(void *buf, size_t len)
{
	struct fp_in_header ih;
	static const char slash[] = "/";
	const size_t name_at = sizeof(ih) + FP_CREATE_IN_SIZE;
	if (len < name_at + sizeof(slash))
		return;
	memcpy(&ih, buf, sizeof(ih));
	if (ih.opcode != FP_OP_TMPFILE || ih.len < name_at + sizeof(slash) ||
	    memcmp((char *)buf + name_at, slash, sizeof(slash)) != 0)
		return;
	ih.opcode = FP_OP_CREATE;
	memcpy(buf, &ih, sizeof(ih));
}
