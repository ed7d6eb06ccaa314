/* Chunked, checksummed byte streams: the container of every stream sync/ emits
 * (librsync deltas, signature blobs, ranged deltas).
 *
 * Layout (integers little-endian):
 *
 *   magic[4] | version u16 | hdr_len u16 | hdr[hdr_len]        (hdr_len <= 256)
 *   record*:   type u8 | len u32 | payload[len]                (len <= SYNC_CHUNK_MAX)
 *   end:       type 0  | len 0
 *   trailer:   XXH3-128 (canonical, 16 bytes) of every byte from magic through
 *              the end record
 *
 * The trailer detects accidental corruption and truncation cheaply (tens of
 * GB/s, so bulk streams such as full copies are not slowed down); it is not
 * an authenticator: streams between hosts travel inside mutually
 * authenticated TLS, and every copy's content is checked against its SHA-256
 * before it serves.
 *
 * The reader validates each length before reading the payload and reads
 * exactly the stream's bytes (never past the trailer). A payload is handed to
 * the caller before the trailer is checked: whoever applies a stream writes its
 * output somewhere disposable (a temp file) and commits only when the
 * reader's end returns 0. A stream that is cut short, has an unknown magic or
 * version, an oversized length, or a bad trailer fails with -EBADMSG
 * (-EPROTO when the source ends early). */
#ifndef SHADOWFS_SYNC_CHUNK_STREAM_H
#define SHADOWFS_SYNC_CHUNK_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "sync/sync_io.h"

#define SYNC_CHUNK_MAX (1u << 20)
#define SYNC_CHUNK_HDR_MAX 256u
#define SYNC_CHUNK_TRAILER_LEN 16u

struct XXH3_state_s;

/* Owner: the caller; one thread at a time. */
struct sync_chunk_writer {
	struct sync_sink out;
	struct XXH3_state_s *sum;
	uint64_t bytes; /* bytes emitted so far */
};

struct sync_chunk_reader {
	struct sync_source in;
	struct XXH3_state_s *sum;
	uint32_t remaining; /* unread payload bytes of the current record */
	uint64_t bytes;	    /* bytes consumed so far */
	int done;	    /* end record and trailer verified */
};

/* Emits the stream header. On error the writer is released. */
int sync_chunk_writer_begin(struct sync_chunk_writer *w, const struct sync_sink *out,
			    const char magic[4], uint16_t version, const void *hdr,
			    uint16_t hdr_len);
/* Emits one record whose payload is a followed by b (either may be empty);
 * type != 0 and alen + blen <= SYNC_CHUNK_MAX. */
int sync_chunk_write(struct sync_chunk_writer *w, uint8_t type, const void *a, size_t alen,
		     const void *b, size_t blen);
/* A sink that wraps whatever is written to it into records of one type (cut
 * at SYNC_CHUNK_MAX): for librsync output streamed into a chunk stream. */
struct sync_chunk_sink {
	struct sync_chunk_writer *w;
	uint8_t type;
};
struct sync_sink sync_chunk_sink(struct sync_chunk_sink *cs);

/* Emits the end record and the trailer. */
int sync_chunk_writer_end(struct sync_chunk_writer *w);
/* Releases resources; accepts a zeroed or already released writer. */
void sync_chunk_writer_release(struct sync_chunk_writer *w);

/* Reads and checks the header; copies its hdr into hdr (exactly hdr_len bytes
 * are expected: a header of another length is -EBADMSG). */
int sync_chunk_reader_begin(struct sync_chunk_reader *r, const struct sync_source *in,
			    const char magic[4], uint16_t version, void *hdr, uint16_t hdr_len);
/* Advances to the next record, skipping any unread payload of the current one.
 * Sets *ret_type and *ret_len; on the end record (*ret_type == 0) it also reads
 * and verifies the trailer and returns 0 only if the stream is intact. */
int sync_chunk_next(struct sync_chunk_reader *r, uint8_t *ret_type, uint32_t *ret_len);
/* Reads len bytes of the current record's payload (len <= what remains). */
int sync_chunk_read(struct sync_chunk_reader *r, void *buf, size_t len);
void sync_chunk_reader_release(struct sync_chunk_reader *r);

#endif
