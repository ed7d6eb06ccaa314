/* Which file a name led to: the recorder's hint for telling, without a
 * syscall, which file an unlink or a rename through the mount deleted.
 *
 * FUSE's unlink and rename carry only (directory, name). The file behind
 * the name is the one the mount's last entry reply for that name gave the
 * kernel (lookup, create, mknod, symlink, link); the recorder layer keeps
 * that (directory, name) -> (st_dev, st_ino) here, and an unlink that
 * succeeds takes it back out. A file whose last name went (ops_record.c
 * checks the link count it was last seen with) is gone: the recorder drops
 * it from its active set, so a file created and deleted within a bucket is
 * never admitted nor named (which would cost the writer a failed
 * open_by_handle_at per file).
 *
 * A hint, not a truth: a fixed direct-mapped table (FS_REC_HINTS slots,
 * 32 bytes each) where a newer name evicts an older one, and renames or
 * unlinks made in BACKING behind the mount's back are not seen. A missing
 * hint costs what it did before (the writer finds the file gone); a wrong
 * one can only count a live file's events of one bucket as anonymous tail
 * events. Any thread: each slot is a sequence lock whose writers give up
 * instead of waiting (no lock on the FUSE threads). */
#ifndef SHADOWFS_FS_REC_HINTS_H
#define SHADOWFS_FS_REC_HINTS_H

#include <stdbool.h>
#include <stdint.h>

#define FS_REC_HINTS 4096 /* power of two */

struct fs_rec_hint_slot {
	uint32_t seq;   /* odd while being written; __atomic builtins */
	uint32_t pad;
	uint64_t key;   /* hash of (directory, name); 0 empty */
	uint64_t dev, ino;
};

struct fs_rec_hints {
	struct fs_rec_hint_slot slot[FS_REC_HINTS];
};

/* The key of NAME in the directory (dir_dev, dir_ino), never 0. */
uint64_t fs_rec_hint_key(uint64_t dir_dev, uint64_t dir_ino, const char *name);
/* NAME (key) leads to (dev, ino) now. */
void fs_rec_hint_put(struct fs_rec_hints *h, uint64_t key, uint64_t dev, uint64_t ino);
/* Reads the hint of key without taking it: true and *ret_dev, *ret_ino
 * when there is one (and no writer raced with the read). */
bool fs_rec_hint_peek(struct fs_rec_hints *h, uint64_t key, uint64_t *ret_dev, uint64_t *ret_ino);
/* Takes the hint of key out: true and *ret_dev, *ret_ino when there was
 * one (and no writer raced with the read). */
bool fs_rec_hint_take(struct fs_rec_hints *h, uint64_t key, uint64_t *ret_dev, uint64_t *ret_ino);

#endif
