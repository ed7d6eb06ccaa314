/* librsync signatures of a copy: choose parameters, generate, persist, load.
 *
 * A signature describes the content of one copy (the *basis* of the next
 * delta). The origin keeps the signature of each copy it synced ("signatures
 * kept from the last sync"): the next update needs neither a round trip nor a
 * pass over the copy, only the delta. sync_delta_write() can emit the
 * signature of the new content in the same pass, ready for the sync after.
 *
 * Blob (a chunk stream, see chunk_stream.h), magic "SFSG", version 1:
 *   hdr: basis_size u64 | rs_magic u32 | block_len u32 | strong_len u32 | 0 u32
 *   records of type 1: librsync's signature stream, whose length is checked
 *   against the header before anything is allocated for it.
 *
 * Parameters: MD4 strong sums (RS_MD4_SIG_MAGIC: the fastest librsync offers;
 * a crafted MD4 collision can at worst make a patched copy wrong, and every
 * copy is checked against its SHA-256 before it serves), the minimum strong sum
 * length librsync deems safe for the size, and a block length about
 * sqrt(size)/4 (see sync_sig_params_for_size) so that scattered small changes
 * cost few literal bytes. */
#ifndef SHADOWFS_SYNC_RSYNC_SIG_H
#define SHADOWFS_SYNC_RSYNC_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "sync/sync_io.h"

#define SYNC_SIG_BLOCK_MIN 1024u
#define SYNC_SIG_BLOCK_MAX (256u * 1024u)

struct sync_sig_params {
	uint32_t rs_magic;   /* RS_MD4_SIG_MAGIC or RS_BLAKE2_SIG_MAGIC (+RK variants) */
	uint32_t block_len;  /* SYNC_SIG_BLOCK_MIN..SYNC_SIG_BLOCK_MAX */
	uint32_t strong_len; /* bytes of strong sum kept per block */
};

/* A loaded, indexed signature. It holds two identical librsync indexes, one
 * per delta worker (librsync updates counters inside an index during a
 * search), so its memory is twice the blob's. One delta at a time uses a
 * given sync_sig. */
struct sync_sig;

/* Recommended parameters for a basis of `size` bytes. */
void sync_sig_params_for_size(uint64_t size, struct sync_sig_params *ret);

/* Checks params (and fills a 0 strong_len with the minimum safe for size). */
int sync_sig_params_check(uint64_t size, struct sync_sig_params *params);

/* Streams the signature blob of fd's content (offset 0 to end of file) to out.
 * params NULL = recommended. -ESTALE if the file's size changes meanwhile. */
int sync_sig_write(int fd, const struct sync_sig_params *params, const struct sync_sink *out,
		   const struct sync_progress *progress);

/* Incremental form of sync_sig_write for content that streams past anyway
 * (a delta pass, a full copy being received): the caller feeds exactly `size`
 * bytes in order, then finishes (-ESTALE if the count differs). */
struct sync_sig_builder;
int sync_sig_builder_new(uint64_t size, const struct sync_sig_params *params,
			 const struct sync_sink *out, struct sync_sig_builder **ret);
int sync_sig_builder_feed(struct sync_sig_builder *b, const void *data, size_t len);
int sync_sig_builder_finish(struct sync_sig_builder *b);
void sync_sig_builder_free(struct sync_sig_builder *b);

/* Reads a blob from in, indexes it. */
int sync_sig_read(const struct sync_source *in, struct sync_sig **ret);

uint64_t sync_sig_basis_size(const struct sync_sig *sig);
void sync_sig_get_params(const struct sync_sig *sig, struct sync_sig_params *ret);
void sync_sig_free(struct sync_sig *sig);

#endif
