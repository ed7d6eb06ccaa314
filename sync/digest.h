/* SHA-256 helpers (openssl EVP) shared by the store, the client and tools:
 * a streaming context and a whole-file digest. */
#ifndef SHADOWFS_SYNC_DIGEST_H
#define SHADOWFS_SYNC_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SYNC_SHA256_LEN 32

struct sync_sha256;

int sync_sha256_new(struct sync_sha256 **ret);
int sync_sha256_update(struct sync_sha256 *s, const void *buf, size_t len);
/* Feeds n zero bytes (a hole of a sparse file, not read). */
int sync_sha256_zeros(struct sync_sha256 *s, uint64_t n);
/* Writes the digest and resets the context for reuse. */
int sync_sha256_final(struct sync_sha256 *s, uint8_t out[SYNC_SHA256_LEN]);
void sync_sha256_free(struct sync_sha256 *s);

/* Digest of the first len bytes of fd (from offset 0, with pread; the holes
 * of a sparse file hashed as zeros without reading them); len = UINT64_MAX
 * means up to end of file (then read whole). */
int sync_sha256_fd(int fd, uint64_t len, uint8_t out[SYNC_SHA256_LEN]);
/* As sync_sha256_fd, calling before(arg, off, want) ahead of each read of at
 * most SYNC_SHA256_FD_CHUNK bytes (pacing, progress): a negative return stops
 * the hash and is returned. before NULL: none. */
#define SYNC_SHA256_FD_CHUNK (1u << 20)
int sync_sha256_fd_each(int fd, uint64_t len, uint8_t out[SYNC_SHA256_LEN],
			int (*before)(void *arg, uint64_t off, size_t want), void *arg);
/* The same, each read of fd paced by pace (sync/sync_io.h; NULL: none):
 * sync_sha256_fd_each with the pace as its before. */
struct sync_pace;
int sync_sha256_fd_paced(int fd, uint64_t len, const struct sync_pace *pace,
			 uint8_t out[SYNC_SHA256_LEN]);

/* 64 hex chars + NUL. */
void sync_sha256_hex(const uint8_t d[SYNC_SHA256_LEN], char out[65]);

#endif
