/* The host store's index of its durable copies: which versions of a file id
 * have a copy under their real name. It lets "delete every version of id"
 * (done before each local copy, and by each drop of a remote one) unlink
 * those names instead of reading the whole store directory, which made a
 * run of n copies cost O(n^2). An open-addressing multimap keyed by id
 * (linear probing, backward-shift deletion), no locking: the store holds its
 * lock around every call. */
#ifndef SHADOWFS_DAEMON_STORE_INDEX_H
#define SHADOWFS_DAEMON_STORE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a copy's file looked like once it had its name (store_internal.h,
 * store_stamp_of): a read that finds it otherwise reads a file changed on
 * disk since (daemon_store_read). known = false: not recorded. */
struct store_stamp {
	uint64_t ino;
	int64_t size, mtime_ns, ctime_ns;
	bool known;
};

struct store_index_slot {
	uint8_t id[16];
	uint64_t version;
	uint8_t used;
	struct store_stamp stamp;
};

struct store_index {
	struct store_index_slot *slots;
	size_t cap; /* power of two, or 0 before the first add */
	size_t n;
	uint64_t key; /* of the home slots, drawn at the first add */
	/* An add failed (no memory): a lookup may miss versions, so the
	 * store reads its directory instead, as before the index. */
	bool incomplete;
};

/* Records (id, version); already there is not an error. -ENOMEM: not
 * recorded, and the index is marked incomplete. */
int store_index_add(struct store_index *x, const uint8_t id[16], uint64_t version);
/* Sets the stamp of (id, version) if recorded. */
void store_index_set_stamp(struct store_index *x, const uint8_t id[16], uint64_t version,
			   const struct store_stamp *st);
/* The stamp of (id, version): 1 (in *ret), 0 when recorded without one,
 * -ENOENT when not recorded. */
int store_index_stamp(const struct store_index *x, const uint8_t id[16], uint64_t version,
		      struct store_stamp *ret);
/* Forgets (id, version) if recorded. */
void store_index_remove(struct store_index *x, const uint8_t id[16], uint64_t version);
/* The versions of id, up to max of them into out (any order); returns how
 * many there are (may exceed max). */
size_t store_index_versions(const struct store_index *x, const uint8_t id[16], uint64_t *out,
			    size_t max);
void store_index_free(struct store_index *x);

#endif
