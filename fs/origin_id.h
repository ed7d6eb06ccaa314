/* The mount's origin id (STATE/origin.id): 16 random bytes made once per
 * state directory and kept, mixed into the ids its copies have in host
 * stores (daemon_shadow_map_set_salt). Copy ids come from the file's
 * (st_dev, st_ino), which another origin sharing a shadowd can have too (a
 * cloned image, inode 12 of any ext4): without the salt two files of two
 * mounts were one id on the host, and each mount's upload deleted the
 * other's copy, or took it for its own when the versions met. Stable across
 * remounts, so a copy left on a host still serves as a delta's basis. */
#ifndef SHADOWFS_FS_ORIGIN_ID_H
#define SHADOWFS_FS_ORIGIN_ID_H

#include <stdbool.h>
#include <stdint.h>

#define FS_ORIGIN_ID_FILE "origin.id"

/* Reads STATE/origin.id (32 hex digits and a newline), or makes it when it
 * is missing or unreadable as one (*made true; a damaged one is replaced,
 * *damaged true: the copies named by it are orphaned and expire on their
 * hosts). 0 or -errno (the state directory cannot be written). */
int fs_origin_id_load(const char *state_dir, uint8_t id[16], bool *made, bool *damaged);

#endif
