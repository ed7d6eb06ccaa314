/* Wire protocol between shadowfs hosts: frame layout, message payloads, and
 * the single mapping between wire status codes and errno.
 *
 * Every message is one frame: a fixed 24-byte header followed by a payload.
 * All integers are big-endian.
 *
 *   off size field
 *     0    4 magic        0x53484457 ("SHDW")
 *     4    1 version      SYNC_WIRE_VERSION (1); anything else is refused
 *     5    1 type         enum sync_wire_type
 *     6    2 flags        SYNC_WIRE_F_*; unknown bits are refused
 *     8    8 request id   chosen by the client, echoed in every response frame
 *    16    4 length       payload bytes, <= SYNC_WIRE_MAX_PAYLOAD
 *    20    4 status       enum sync_wire_status in responses, 0 in requests
 *
 * Payloads (fixed layouts are checked to the byte; "id" is a 16-byte uuid):
 *   PING         req: empty                    resp: empty
 *   READ         req: id ver:u64 off:u64 len:u32 (len <= SYNC_WIRE_MAX_DATA)
 *                resp: the bytes read (short at end of file)
 *   PUT_BEGIN    req: id ver:u64 size:u64 sha256[32]      (full copy)
 *                [data:u64] (72 bytes: the bytes of data the copy holds,
 *                <= size, the rest holes sent as ZEROS; the server reserves
 *                that much of its budget, and more if more data comes.
 *                Sent only to a server whose STATS features has
 *                SYNC_WIRE_FEATURE_THIN: one that predates it refuses the
 *                72-byte form as malformed and closes)
 *                then DATA frames (bytes appended in order), then END;
 *                one END response carries the outcome.
 *   ZEROS        req: len:u64 (1..SYNC_WIRE_MAX_ZEROS: the server hashes
 *                them before it reads on, so one frame never holds it
 *                longer than a few tens of ms), inside a PUT only, where a DATA frame
 *                of len zero bytes could be: the next len bytes of the copy
 *                are zeros (a hole of a sparse file: nothing of it crosses
 *                the wire, the store leaves a hole). Sent only to a server
 *                whose STATS features has SYNC_WIRE_FEATURE_ZEROS: one that
 *                predates it refuses the type as malformed and closes.
 *   END          req: empty, or sha256[32]: the expected digest when the
 *                sender hashed while streaming (BEGIN's digest all zero);
 *                if both are given they must agree.
 *   UPDATE_BEGIN req: id base:u64 ver:u64 size:u64 sha256[32] (ranged update)
 *                then RANGE frames (off:u64 + bytes) then END; the new copy is
 *                the base copy with the ranges written, truncated to size.
 *   DELTA_BEGIN  req: as UPDATE_BEGIN; then DATA frames holding a librsync
 *                delta against the base copy, then END.
 *   SIGNATURE    req: id ver:u64; resp: DATA frames (F_RESPONSE) holding the
 *                librsync signature of the copy, then an END response.
 *   DELETE       req: id ver:u64 (SYNC_WIRE_ALL_VERSIONS = every version)
 *   LIST         req: empty; resp: one or more LIST frames, F_MORE on all but
 *                the last, each count:u32 + count * (id ver:u64 size:u64)
 *   VERSIONS     req: id; resp: as LIST (VERSIONS frames), the copies of that
 *                id only: what a copy asks before and after its upload,
 *                without listing the whole store (O(copies) per copy). A
 *                shadowd that predates it closes the connection; the client
 *                then lists (fs/remote_copies.c).
 *   STATS        req: empty; resp: used:u64 count:u64 budget:u64 reads:u64
 *                read_bytes:u64 received_bytes:u64 features:u64 (56 bytes;
 *                the 24- or 48-byte answer of an older server leaves the
 *                missing fields 0: no feature)
 *   LOAD         req: empty; resp: struct sync_wire_load, 64 bytes
 *   HEARTBEAT    req: interval_ms:u32 (SYNC_HEARTBEAT_MIN_MS..MAX_MS, else INVAL)
 *                resp: a stream of HEARTBEAT frames seq:u64 + load (64 bytes),
 *                one at once and one every interval, F_MORE on each, until the
 *                client sends END with the same request id: answered by a
 *                last HEARTBEAT without F_MORE (the connection then serves
 *                requests again) or closes the connection.
 *   VERIFY       req: id ver:u64 sha256[32] (56 bytes): re-hash the copy from
 *                the server's disk and compare with sha256.
 *                resp: VERIFY frames hashed:u64 (bytes hashed so far), F_MORE
 *                on all but the last, about one every
 *                SYNC_VERIFY_PROGRESS_MS while hashing (so a big copy never
 *                leaves the client waiting long for a frame); the
 *                last one carries the outcome: OK (the digest matches; hashed
 *                = the copy's size), BADSUM (it differs: the server deletes
 *                the copy, see daemon/server.c), NOENT (no such copy), or
 *                another status (I/O error...). Error frames are empty.
 *
 * Versioning: the header's version is not negotiated; both sides must speak
 * version 1. A new request type is added within version 1 (an additive
 * change): a server that predates it refuses the unknown type as a
 * malformed frame and closes the connection, which a client must take as
 * "not supported" when the host answers other requests (VERIFY: see
 * fs/remote_copies.c). A change of an existing layout needs a new version.
 *
 * A server that sees a malformed frame answers nothing and closes the
 * connection: nothing in a frame reaches state before sync_wire_decode()
 * accepted it. */
#ifndef SHADOWFS_SYNC_WIRE_H
#define SHADOWFS_SYNC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SYNC_WIRE_MAGIC 0x53484457u
#define SYNC_WIRE_VERSION 1
#define SYNC_WIRE_HEADER_SIZE 24
#define SYNC_WIRE_MAX_DATA (1u << 20) /* bytes of file data in one frame */
#define SYNC_WIRE_MAX_PAYLOAD (SYNC_WIRE_MAX_DATA + 64)
#define SYNC_WIRE_ALL_VERSIONS UINT64_MAX
#define SYNC_WIRE_LIST_ENTRY_SIZE 32
#define SYNC_WIRE_MAX_FILE_SIZE (1ull << 50) /* 1 PiB: sizes/offsets beyond are refused */
#define SYNC_WIRE_MAX_ZEROS (1ull << 26)     /* zero bytes in one ZEROS frame: 64 MiB */

enum sync_wire_type {
	SYNC_WIRE_PING = 1,
	SYNC_WIRE_READ = 2,
	SYNC_WIRE_PUT_BEGIN = 3,
	SYNC_WIRE_UPDATE_BEGIN = 4,
	SYNC_WIRE_DELTA_BEGIN = 5,
	SYNC_WIRE_DATA = 6,
	SYNC_WIRE_RANGE = 7,
	SYNC_WIRE_END = 8,
	SYNC_WIRE_SIGNATURE = 9,
	SYNC_WIRE_DELETE = 10,
	SYNC_WIRE_LIST = 11,
	SYNC_WIRE_STATS = 12,
	SYNC_WIRE_LOAD = 13,
	SYNC_WIRE_HEARTBEAT = 14,
	SYNC_WIRE_VERIFY = 15,
	SYNC_WIRE_VERSIONS = 16,
	SYNC_WIRE_ZEROS = 17,
	SYNC_WIRE_TYPE_MAX = 17,
};

#define SYNC_WIRE_F_RESPONSE 0x0001u
#define SYNC_WIRE_F_MORE 0x0002u
#define SYNC_WIRE_F_KNOWN (SYNC_WIRE_F_RESPONSE | SYNC_WIRE_F_MORE)

/* Wire status codes: stable numbers, independent of the platform's errno. */
enum sync_wire_status {
	SYNC_WS_OK = 0,
	SYNC_WS_NOENT = 1,
	SYNC_WS_EXIST = 2,
	SYNC_WS_INVAL = 3,
	SYNC_WS_IO = 4,
	SYNC_WS_NOSPC = 5,
	SYNC_WS_NOTSUP = 6,
	SYNC_WS_BADSUM = 7, /* SHA-256 of the result differs from the expected one */
	SYNC_WS_TIMEDOUT = 8,
	SYNC_WS_BUSY = 9,
	SYNC_WS_PERM = 10,
	SYNC_WS_RANGE = 11,
	SYNC_WS_PROTO = 12,
	SYNC_WS_NOMEM = 13,
	SYNC_WS_LOOP = 14,
	SYNC_WS_OTHER = 15,
	SYNC_WS_STALE = 16, /* delta made for another basis: send a full copy */
	SYNC_WS_MAX = 16,
};

/* The one mapping between wire status codes and errno (negative). */
int sync_wire_status_to_errno(int32_t status);
int32_t sync_wire_status_from_errno(int neg_errno);

struct sync_wire_header {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t req_id;
	uint32_t length;
	int32_t status;
};

struct sync_wire_load {
	uint32_t in_flight;
	uint32_t lat_p50_us, lat_p90_us, lat_p99_us;
	uint64_t read_bps, write_bps;	 /* bytes/s served / stored, last interval */
	uint32_t cpu_permille;		 /* host CPU busy, from /proc/stat */
	uint32_t disk_util_permille;	 /* busiest disk, from /proc/diskstats */
	uint64_t net_rx_bps, net_tx_bps; /* from /proc/net/dev, all but lo */
	uint64_t requests;		 /* served since start */
};
#define SYNC_WIRE_LOAD_SIZE 64
#define SYNC_WIRE_HEARTBEAT_SIZE (8 + SYNC_WIRE_LOAD_SIZE)
#define SYNC_HEARTBEAT_MIN_MS 50u
#define SYNC_HEARTBEAT_MAX_MS 600000u
#define SYNC_WIRE_VERIFY_REQ_SIZE 56
#define SYNC_WIRE_VERIFY_SIZE 8 /* response: hashed:u64 */
/* VERIFY: the server sends a frame at least this often while it hashes,
 * plus one piece's throttle wait and one chunk's disk read (see
 * daemon/server.c); a client's per-frame deadline must allow for that. */
#define SYNC_VERIFY_PROGRESS_MS 250u

/* STATS: the store's use and what the server did since it started. */
struct sync_wire_stats {
	uint64_t used, copies, budget; /* bytes of copies, copies, budget (0: none) */
	uint64_t reads;		       /* READ requests answered with data */
	uint64_t read_bytes;	       /* bytes of those answers */
	uint64_t received_bytes;       /* upload payload bytes (PUT, UPDATE, DELTA) */
	uint64_t features;	       /* SYNC_WIRE_FEATURE_* the server accepts */
};
#define SYNC_WIRE_STATS_SIZE 56
#define SYNC_WIRE_STATS_SIZE_V2 48 /* without features */
/* Features a server announces in STATS (additive requests it accepts). */
#define SYNC_WIRE_FEATURE_ZEROS 0x1u /* ZEROS frames inside a PUT */
#define SYNC_WIRE_FEATURE_THIN 0x2u  /* PUT_BEGIN with data:u64 (a sparse copy's data) */
#define SYNC_WIRE_PUT_SIZE 64
#define SYNC_WIRE_PUT_THIN_SIZE 72

struct sync_wire_list_entry {
	uint8_t id[16];
	uint64_t version;
	uint64_t size;
};

/* A decoded request/response payload. Byte buffers point into the payload
 * passed to sync_wire_decode() and live as long as it does. */
struct sync_wire_msg {
	struct sync_wire_header hdr;
	uint8_t id[16];
	uint64_t version;    /* READ, PUT, SIGNATURE, DELETE; new version for UPDATE/DELTA */
	uint64_t base;	     /* UPDATE_BEGIN, DELTA_BEGIN */
	uint64_t offset;     /* READ, RANGE */
	uint64_t size;	     /* PUT/UPDATE/DELTA: size of the new copy; VERIFY resp: hashed;
			      * ZEROS: the zero bytes */
	uint32_t length;     /* READ request */
	uint8_t sha256[32];  /* PUT/UPDATE/DELTA, END, VERIFY req */
	uint8_t has_sha256;  /* END request carrying a digest */
	uint64_t data_bytes; /* PUT_BEGIN (72 bytes): the copy's data, <= size */
	uint8_t has_data_bytes;
	const uint8_t *data; /* DATA, RANGE, READ resp, LIST resp (raw entries) */
	size_t data_len;
	uint32_t count;		      /* LIST resp */
	struct sync_wire_stats stats; /* STATS resp */
	struct sync_wire_load load;   /* LOAD and HEARTBEAT resp */
	uint64_t seq;		      /* HEARTBEAT resp: 0, 1, 2, ... */
	uint32_t interval_ms;	      /* HEARTBEAT req */
};

/* Header: encode into 24 bytes; decode checks magic, version, type, flags,
 * length bound. Returns 0 or -EPROTO (bad magic/version), -EBADMSG (bad type
 * or flags), -EMSGSIZE (length > SYNC_WIRE_MAX_PAYLOAD). */
void sync_wire_header_encode(const struct sync_wire_header *h, uint8_t out[SYNC_WIRE_HEADER_SIZE]);
int sync_wire_header_decode(const uint8_t in[SYNC_WIRE_HEADER_SIZE], struct sync_wire_header *ret);

/* Payload of a frame whose header already decoded: checks the exact layout
 * for its type and direction and every bound (sizes, offsets, lengths).
 * Returns 0 or -EBADMSG. */
int sync_wire_decode(const struct sync_wire_header *h, const uint8_t *payload,
		     struct sync_wire_msg *ret);

/* Payload encoders: write into out (capacity cap), return bytes or -ENOBUFS. */
int sync_wire_enc_id_ver(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver);
int sync_wire_enc_read(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver, uint64_t off,
		       uint32_t len);
int sync_wire_enc_put(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver, uint64_t size,
		      const uint8_t sha256[32]);
/* The 72-byte PUT_BEGIN with the copy's data bytes (data <= size). */
int sync_wire_enc_put_thin(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver,
			   uint64_t size, uint64_t data, const uint8_t sha256[32]);
int sync_wire_enc_update(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t base,
			 uint64_t ver, uint64_t size, const uint8_t sha256[32]);
int sync_wire_enc_stats(uint8_t *out, size_t cap, const struct sync_wire_stats *s);
int sync_wire_enc_load(uint8_t *out, size_t cap, const struct sync_wire_load *l);
int sync_wire_enc_heartbeat_req(uint8_t *out, size_t cap, uint32_t interval_ms);
int sync_wire_enc_heartbeat(uint8_t *out, size_t cap, uint64_t seq, const struct sync_wire_load *l);
int sync_wire_enc_verify(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver,
			 const uint8_t sha256[32]);
int sync_wire_enc_verify_resp(uint8_t *out, size_t cap, uint64_t hashed);
int sync_wire_enc_zeros(uint8_t *out, size_t cap, uint64_t len);
/* RANGE header (8-byte offset) precedes the data in the payload. */
void sync_wire_enc_range_off(uint8_t out[8], uint64_t off);
void sync_wire_enc_list_entry(uint8_t out[SYNC_WIRE_LIST_ENTRY_SIZE],
			      const struct sync_wire_list_entry *e);
void sync_wire_dec_list_entry(const uint8_t in[SYNC_WIRE_LIST_ENTRY_SIZE],
			      struct sync_wire_list_entry *ret);

const char *sync_wire_type_name(int type);

#endif
