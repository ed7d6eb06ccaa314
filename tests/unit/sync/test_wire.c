/* Unit tests of sync/wire: frame header and payload codec, malformed and
 * oversized frames, the status <-> errno mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sync/wire.h"

static const uint8_t ID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void hdr(uint8_t out[SYNC_WIRE_HEADER_SIZE], uint8_t type, uint16_t flags, uint32_t len,
		int32_t status)
{
	struct sync_wire_header h = {.type = type,
				     .flags = flags,
				     .req_id = 0x1122334455667788ull,
				     .length = len,
				     .status = status};
	sync_wire_header_encode(&h, out);
}

/* A header round-trips field by field, big-endian on the wire. */
static void test_header_roundtrip(void **state)
{
	(void)state;
	uint8_t b[SYNC_WIRE_HEADER_SIZE];
	struct sync_wire_header h;
	hdr(b, SYNC_WIRE_READ, SYNC_WIRE_F_RESPONSE, 1234, SYNC_WS_NOENT);
	assert_memory_equal(b, "SHDW", 4);
	assert_int_equal(b[4], SYNC_WIRE_VERSION);
	assert_int_equal(sync_wire_header_decode(b, &h), 0);
	assert_int_equal(h.type, SYNC_WIRE_READ);
	assert_int_equal(h.flags, SYNC_WIRE_F_RESPONSE);
	assert_int_equal(h.req_id, 0x1122334455667788ull);
	assert_int_equal(h.length, 1234);
	assert_int_equal(h.status, SYNC_WS_NOENT);
}

/* Bad magic, other version, unknown type, unknown flag, oversized length,
 * a status on a request, and F_MORE on a request are all refused. */
static void test_header_malformed(void **state)
{
	(void)state;
	uint8_t b[SYNC_WIRE_HEADER_SIZE];
	struct sync_wire_header h;
	hdr(b, SYNC_WIRE_PING, 0, 0, 0);
	b[0] = 'X';
	assert_int_equal(sync_wire_header_decode(b, &h), -EPROTO);
	hdr(b, SYNC_WIRE_PING, 0, 0, 0);
	b[4] = 2;
	assert_int_equal(sync_wire_header_decode(b, &h), -EPROTO);
	hdr(b, 0, 0, 0, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_TYPE_MAX + 1, 0, 0, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_PING, 0x8000, 0, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_DATA, 0, SYNC_WIRE_MAX_PAYLOAD + 1, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EMSGSIZE);
	hdr(b, SYNC_WIRE_DATA, 0, 0xffffffffu, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EMSGSIZE);
	hdr(b, SYNC_WIRE_PING, 0, 0, SYNC_WS_IO);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_LIST, SYNC_WIRE_F_MORE, 0, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_PING, SYNC_WIRE_F_RESPONSE, 0, SYNC_WS_MAX + 1);
	assert_int_equal(sync_wire_header_decode(b, &h), -EBADMSG);
	hdr(b, SYNC_WIRE_DATA, 0, SYNC_WIRE_MAX_PAYLOAD, 0);
	assert_int_equal(sync_wire_header_decode(b, &h), 0);
}

static int decode(uint8_t type, uint16_t flags, const uint8_t *p, uint32_t len, int32_t st,
		  struct sync_wire_msg *m)
{
	uint8_t b[SYNC_WIRE_HEADER_SIZE];
	struct sync_wire_header h;
	hdr(b, type, flags, len, st);
	int r = sync_wire_header_decode(b, &h);
	return r < 0 ? r : sync_wire_decode(&h, p, m);
}

/* Every request payload round-trips through its encoder and the decoder. */
static void test_requests_roundtrip(void **state)
{
	(void)state;
	uint8_t p[128], sha[32];
	struct sync_wire_msg m;
	memset(sha, 0xab, sizeof(sha));
	int n = sync_wire_enc_read(p, sizeof(p), ID, 7, 4096, 65536);
	assert_int_equal(decode(SYNC_WIRE_READ, 0, p, (uint32_t)n, 0, &m), 0);
	assert_memory_equal(m.id, ID, 16);
	assert_int_equal(m.version, 7);
	assert_int_equal(m.offset, 4096);
	assert_int_equal(m.length, 65536);
	n = sync_wire_enc_put(p, sizeof(p), ID, 9, 1 << 30, sha);
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, (uint32_t)n, 0, &m), 0);
	assert_int_equal(m.version, 9);
	assert_int_equal(m.size, 1 << 30);
	assert_memory_equal(m.sha256, sha, 32);
	n = sync_wire_enc_update(p, sizeof(p), ID, 3, 4, 100, sha);
	assert_int_equal(decode(SYNC_WIRE_UPDATE_BEGIN, 0, p, (uint32_t)n, 0, &m), 0);
	assert_int_equal(m.base, 3);
	assert_int_equal(m.version, 4);
	assert_int_equal(m.size, 100);
	assert_int_equal(decode(SYNC_WIRE_DELTA_BEGIN, 0, p, (uint32_t)n, 0, &m), 0);
	n = sync_wire_enc_id_ver(p, sizeof(p), ID, SYNC_WIRE_ALL_VERSIONS);
	assert_int_equal(decode(SYNC_WIRE_DELETE, 0, p, (uint32_t)n, 0, &m), 0);
	assert_int_equal(m.version, SYNC_WIRE_ALL_VERSIONS);
	sync_wire_enc_range_off(p, 12345);
	memcpy(p + 8, "abc", 3);
	assert_int_equal(decode(SYNC_WIRE_RANGE, 0, p, 11, 0, &m), 0);
	assert_int_equal(m.offset, 12345);
	assert_int_equal(m.data_len, 3);
	assert_memory_equal(m.data, "abc", 3);
	assert_int_equal(sync_wire_enc_read(p, 35, ID, 0, 0, 0), -ENOBUFS);
	memset(p, 0x5a, 32); /* END may carry the digest computed while streaming */
	assert_int_equal(decode(SYNC_WIRE_END, 0, p, 32, 0, &m), 0);
	assert_true(m.has_sha256);
	assert_memory_equal(m.sha256, p, 32);
	assert_int_equal(decode(SYNC_WIRE_END, 0, p, 0, 0, &m), 0);
	assert_false(m.has_sha256);
}

/* Payloads of the wrong size or with out-of-range fields are refused. */
static void test_requests_malformed(void **state)
{
	(void)state;
	uint8_t p[128] = {0}, sha[32] = {0};
	struct sync_wire_msg m;
	int n = sync_wire_enc_read(p, sizeof(p), ID, 1, 0, SYNC_WIRE_MAX_DATA + 1);
	assert_int_equal(decode(SYNC_WIRE_READ, 0, p, (uint32_t)n, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_READ, 0, p, 35, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_READ, 0, p, 37, 0, &m), -EBADMSG);
	n = sync_wire_enc_read(p, sizeof(p), ID, 1, UINT64_MAX, 10);
	assert_int_equal(decode(SYNC_WIRE_READ, 0, p, (uint32_t)n, 0, &m), -EBADMSG);
	n = sync_wire_enc_put(p, sizeof(p), ID, 1, UINT64_MAX, sha);
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, (uint32_t)n, 0, &m), -EBADMSG);
	n = sync_wire_enc_update(p, sizeof(p), ID, 5, 5, 10, sha); /* base == new */
	assert_int_equal(decode(SYNC_WIRE_UPDATE_BEGIN, 0, p, (uint32_t)n, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_RANGE, 0, p, 7, 0, &m), -EBADMSG);
	sync_wire_enc_range_off(p, SYNC_WIRE_MAX_FILE_SIZE - 1);
	assert_int_equal(decode(SYNC_WIRE_RANGE, 0, p, 10, 0, &m), -EBADMSG); /* end past max */
	assert_int_equal(decode(SYNC_WIRE_PING, 0, p, 1, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_STATS, 0, p, 4, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_DELETE, 0, p, 23, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_END, 0, p, 31, 0, &m), -EBADMSG);
}

/* VERSIONS: a request is exactly an id; its answers are LIST frames of
 * their own type (counted, streamed with F_MORE). */
static void test_versions(void **state)
{
	(void)state;
	uint8_t p[4 + SYNC_WIRE_LIST_ENTRY_SIZE] = {0, 0, 0, 1};
	struct sync_wire_list_entry e = {.version = 7, .size = 5}, d;
	struct sync_wire_msg m;
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, 0, ID, 16, 0, &m), 0);
	assert_memory_equal(m.id, ID, 16);
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, 0, ID, 15, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, 0, NULL, 0, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, SYNC_WIRE_F_MORE, ID, 16, 0, &m), -EBADMSG);
	memcpy(e.id, ID, 16);
	sync_wire_enc_list_entry(p + 4, &e);
	uint16_t R = SYNC_WIRE_F_RESPONSE;
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, R | SYNC_WIRE_F_MORE, p, sizeof(p), 0, &m), 0);
	assert_int_equal(m.count, 1);
	sync_wire_dec_list_entry(m.data, &d);
	assert_int_equal(d.version, 7);
	assert_int_equal(d.size, 5);
	p[3] = 2;
	assert_int_equal(decode(SYNC_WIRE_VERSIONS, R, p, sizeof(p), 0, &m), -EBADMSG);
	assert_string_equal(sync_wire_type_name(SYNC_WIRE_VERSIONS), "VERSIONS");
}

/* Responses: LIST counts must match the length, STATS/LOAD sizes are exact,
 * an error response carries no payload, F_MORE only on LIST/DATA. */
static void test_responses(void **state)
{
	(void)state;
	uint8_t p[4 + 2 * SYNC_WIRE_LIST_ENTRY_SIZE] = {0, 0, 0, 2};
	struct sync_wire_list_entry e = {.version = 42, .size = 99}, d;
	struct sync_wire_msg m;
	struct sync_wire_load l = {
	    .in_flight = 3, .lat_p99_us = 7000, .net_tx_bps = 1ull << 40, .requests = 5};
	memcpy(e.id, ID, 16);
	sync_wire_enc_list_entry(p + 4, &e);
	sync_wire_enc_list_entry(p + 4 + SYNC_WIRE_LIST_ENTRY_SIZE, &e);
	uint16_t R = SYNC_WIRE_F_RESPONSE;
	assert_int_equal(decode(SYNC_WIRE_LIST, R | SYNC_WIRE_F_MORE, p, sizeof(p), 0, &m), 0);
	assert_int_equal(m.count, 2);
	sync_wire_dec_list_entry(m.data + SYNC_WIRE_LIST_ENTRY_SIZE, &d);
	assert_int_equal(d.version, 42);
	assert_int_equal(d.size, 99);
	p[3] = 3;
	assert_int_equal(decode(SYNC_WIRE_LIST, R, p, sizeof(p), 0, &m), -EBADMSG);
	p[0] = 0x80; /* count * 32 overflows 32 bits */
	assert_int_equal(decode(SYNC_WIRE_LIST, R, p, sizeof(p), 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_PING, R | SYNC_WIRE_F_MORE, NULL, 0, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_READ, R, p, 4, SYNC_WS_NOENT, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_READ, R, NULL, 0, SYNC_WS_NOENT, &m), 0);
	assert_int_equal(decode(SYNC_WIRE_RANGE, R, NULL, 0, 0, &m), -EBADMSG);

	uint8_t lp[SYNC_WIRE_LOAD_SIZE];
	assert_int_equal(sync_wire_enc_load(lp, sizeof(lp), &l), SYNC_WIRE_LOAD_SIZE);
	assert_int_equal(decode(SYNC_WIRE_LOAD, R, lp, sizeof(lp), 0, &m), 0);
	assert_int_equal(m.load.in_flight, 3);
	assert_int_equal(m.load.lat_p99_us, 7000);
	assert_int_equal(m.load.net_tx_bps, 1ull << 40);
	assert_int_equal(m.load.requests, 5);
	assert_int_equal(decode(SYNC_WIRE_LOAD, R, lp, sizeof(lp) - 1, 0, &m), -EBADMSG);
	uint8_t sp[SYNC_WIRE_STATS_SIZE];
	struct sync_wire_stats ws = {1, 2, 3, 4, 5, 6, SYNC_WIRE_FEATURE_ZEROS};
	assert_int_equal(sync_wire_enc_stats(sp, sizeof(sp) - 1, &ws), -ENOBUFS);
	assert_int_equal(sync_wire_enc_stats(sp, sizeof(sp), &ws), SYNC_WIRE_STATS_SIZE);
	assert_int_equal(decode(SYNC_WIRE_STATS, R, sp, SYNC_WIRE_STATS_SIZE, 0, &m), 0);
	assert_int_equal(m.stats.used + m.stats.copies + m.stats.budget, 6);
	assert_int_equal(m.stats.reads * 100 + m.stats.read_bytes * 10 + m.stats.received_bytes,
			 456);
	assert_int_equal(m.stats.features, SYNC_WIRE_FEATURE_ZEROS);
	/* An older server's 48-byte answer: no feature; its 24-byte one:
	 * counters 0 too; other lengths refused. */
	assert_int_equal(decode(SYNC_WIRE_STATS, R, sp, SYNC_WIRE_STATS_SIZE_V2, 0, &m), 0);
	assert_int_equal(m.stats.received_bytes, 6);
	assert_int_equal(m.stats.features, 0);
	assert_int_equal(decode(SYNC_WIRE_STATS, R, sp, 24, 0, &m), 0);
	assert_int_equal(m.stats.budget, 3);
	assert_int_equal(m.stats.reads + m.stats.read_bytes + m.stats.received_bytes, 0);
	assert_int_equal(decode(SYNC_WIRE_STATS, R, sp, 32, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_STATS, R, sp, SYNC_WIRE_STATS_SIZE - 1, 0, &m), -EBADMSG);
}

/* HEARTBEAT: the request carries the interval, each response a sequence
 * number and a load snapshot, F_MORE on all but the last; sizes are exact. */
static void test_heartbeat(void **state)
{
	(void)state;
	uint8_t p[SYNC_WIRE_HEARTBEAT_SIZE + 1];
	struct sync_wire_msg m;
	struct sync_wire_load l = {.in_flight = 9, .cpu_permille = 250, .requests = 77};
	uint16_t R = SYNC_WIRE_F_RESPONSE;
	assert_int_equal(sync_wire_enc_heartbeat_req(p, sizeof(p), 1500), 4);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, 0, p, 4, 0, &m), 0);
	assert_int_equal(m.interval_ms, 1500);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, 0, p, 3, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, 0, NULL, 0, 0, &m), -EBADMSG);
	assert_int_equal(sync_wire_enc_heartbeat(p, SYNC_WIRE_HEARTBEAT_SIZE - 1, 1, &l), -ENOBUFS);
	assert_int_equal(sync_wire_enc_heartbeat(p, sizeof(p), 1ull << 33, &l),
			 SYNC_WIRE_HEARTBEAT_SIZE);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, R | SYNC_WIRE_F_MORE, p,
				SYNC_WIRE_HEARTBEAT_SIZE, 0, &m),
			 0);
	assert_int_equal(m.seq, 1ull << 33);
	assert_int_equal(m.load.in_flight, 9);
	assert_int_equal(m.load.cpu_permille, 250);
	assert_int_equal(m.load.requests, 77);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, R, p, SYNC_WIRE_HEARTBEAT_SIZE + 1, 0, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, R, p, SYNC_WIRE_LOAD_SIZE, 0, &m), -EBADMSG);
	/* a refused stream (bad interval): one error frame, no payload */
	assert_int_equal(decode(SYNC_WIRE_HEARTBEAT, R, NULL, 0, SYNC_WS_INVAL, &m), 0);
	assert_string_equal(sync_wire_type_name(SYNC_WIRE_HEARTBEAT), "HEARTBEAT");
	/* the type after the last one is unknown */
	assert_int_equal(decode(SYNC_WIRE_TYPE_MAX + 1, 0, NULL, 0, 0, &m), -EBADMSG);
}

/* ZEROS: a request of exactly 8 bytes, a length of 1 byte to
 * SYNC_WIRE_MAX_ZEROS; no response of its own, no F_MORE. */
static void test_zeros(void **state)
{
	(void)state;
	uint8_t p[9];
	struct sync_wire_msg m;
	assert_int_equal(sync_wire_enc_zeros(p, 7, 1), -ENOBUFS);
	assert_int_equal(sync_wire_enc_zeros(p, sizeof(p), 1ull << 25), 8);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 8, 0, &m), 0);
	assert_int_equal(m.size, 1ull << 25);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 7, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 9, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, NULL, 0, 0, &m), -EBADMSG);
	sync_wire_enc_zeros(p, sizeof(p), 0);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 8, 0, &m), -EBADMSG);
	sync_wire_enc_zeros(p, sizeof(p), SYNC_WIRE_MAX_ZEROS);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 8, 0, &m), 0);
	sync_wire_enc_zeros(p, sizeof(p), SYNC_WIRE_MAX_ZEROS + 1);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 8, 0, &m), -EBADMSG);
	sync_wire_enc_zeros(p, sizeof(p), UINT64_MAX);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, 0, p, 8, 0, &m), -EBADMSG);
	sync_wire_enc_zeros(p, sizeof(p), 4096);
	assert_int_equal(decode(SYNC_WIRE_ZEROS, SYNC_WIRE_F_RESPONSE, p, 8, 0, &m), -EBADMSG);
	assert_string_equal(sync_wire_type_name(SYNC_WIRE_ZEROS), "ZEROS");
}

/* PUT_BEGIN is 64 bytes, or 72 with the copy's data bytes (a thin PUT):
 * data at most size; any other length is malformed. */
static void test_put_thin(void **state)
{
	(void)state;
	uint8_t p[SYNC_WIRE_PUT_THIN_SIZE + 1], sha[32];
	struct sync_wire_msg m;
	memset(sha, 0x5a, sizeof(sha));
	assert_int_equal(sync_wire_enc_put_thin(p, SYNC_WIRE_PUT_THIN_SIZE - 1, ID, 9, 1 << 30,
						4096, sha),
			 -ENOBUFS);
	assert_int_equal(sync_wire_enc_put_thin(p, sizeof(p), ID, 9, 1 << 30, 4096, sha),
			 SYNC_WIRE_PUT_THIN_SIZE);
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_THIN_SIZE, 0, &m), 0);
	assert_int_equal(m.version, 9);
	assert_int_equal(m.size, 1 << 30);
	assert_true(m.has_data_bytes);
	assert_int_equal(m.data_bytes, 4096);
	assert_memory_equal(m.sha256, sha, 32);
	/* the 64-byte form says nothing of its data */
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_SIZE, 0, &m), 0);
	assert_false(m.has_data_bytes);
	for (uint32_t len = SYNC_WIRE_PUT_SIZE + 1; len < SYNC_WIRE_PUT_THIN_SIZE; len++)
		assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, len, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_THIN_SIZE + 1, 0, &m),
			 -EBADMSG);
	sync_wire_enc_put_thin(p, sizeof(p), ID, 9, 4096, 4096, sha); /* all data */
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_THIN_SIZE, 0, &m), 0);
	sync_wire_enc_put_thin(p, sizeof(p), ID, 9, 4096, 4097, sha); /* more data than size */
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_THIN_SIZE, 0, &m),
			 -EBADMSG);
	sync_wire_enc_put_thin(p, sizeof(p), ID, 9, UINT64_MAX, 0, sha);
	assert_int_equal(decode(SYNC_WIRE_PUT_BEGIN, 0, p, SYNC_WIRE_PUT_THIN_SIZE, 0, &m),
			 -EBADMSG);
}

/* VERIFY: the request carries id, version and the expected digest (56 bytes
 * exactly); each response the bytes hashed (8 bytes exactly, at most
 * SYNC_WIRE_MAX_FILE_SIZE), F_MORE on progress frames only, which are never
 * errors; the outcome is the last frame's status, with no payload on error. */
static void test_verify(void **state)
{
	(void)state;
	uint8_t p[SYNC_WIRE_VERIFY_REQ_SIZE + 1], sha[32];
	struct sync_wire_msg m;
	uint16_t R = SYNC_WIRE_F_RESPONSE;
	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(sync_wire_enc_verify(p, SYNC_WIRE_VERIFY_REQ_SIZE - 1, ID, 7, sha),
			 -ENOBUFS);
	assert_int_equal(sync_wire_enc_verify(p, sizeof(p), ID, 0x0102030405060708ull, sha),
			 SYNC_WIRE_VERIFY_REQ_SIZE);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, 0, p, SYNC_WIRE_VERIFY_REQ_SIZE, 0, &m), 0);
	assert_memory_equal(m.id, ID, 16);
	assert_int_equal(m.version, 0x0102030405060708ull);
	assert_memory_equal(m.sha256, sha, 32);
	assert_false(m.has_sha256); /* that flag is END's */
	/* one byte short, one byte long, empty, the size of DELETE's request */
	assert_int_equal(decode(SYNC_WIRE_VERIFY, 0, p, SYNC_WIRE_VERIFY_REQ_SIZE - 1, 0, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, 0, p, SYNC_WIRE_VERIFY_REQ_SIZE + 1, 0, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, 0, NULL, 0, 0, &m), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, 0, p, 24, 0, &m), -EBADMSG);
	/* a request frame may not carry F_MORE nor a status */
	assert_int_equal(
	    decode(SYNC_WIRE_VERIFY, SYNC_WIRE_F_MORE, p, SYNC_WIRE_VERIFY_REQ_SIZE, 0, &m),
	    -EBADMSG);
	assert_int_equal(
	    decode(SYNC_WIRE_VERIFY, 0, p, SYNC_WIRE_VERIFY_REQ_SIZE, SYNC_WS_BADSUM, &m),
	    -EBADMSG);

	/* responses: progress then outcome */
	assert_int_equal(sync_wire_enc_verify_resp(p, SYNC_WIRE_VERIFY_SIZE - 1, 1), -ENOBUFS);
	assert_int_equal(sync_wire_enc_verify_resp(p, sizeof(p), 5ull << 30),
			 SYNC_WIRE_VERIFY_SIZE);
	assert_int_equal(
	    decode(SYNC_WIRE_VERIFY, R | SYNC_WIRE_F_MORE, p, SYNC_WIRE_VERIFY_SIZE, 0, &m), 0);
	assert_int_equal(m.size, 5ull << 30);
	assert_true(m.hdr.flags & SYNC_WIRE_F_MORE);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, p, SYNC_WIRE_VERIFY_SIZE, 0, &m), 0);
	assert_int_equal(m.size, 5ull << 30);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, p, SYNC_WIRE_VERIFY_SIZE - 1, 0, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, p, SYNC_WIRE_VERIFY_SIZE + 1, 0, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, NULL, 0, 0, &m), -EBADMSG);
	sync_wire_enc_verify_resp(p, sizeof(p), SYNC_WIRE_MAX_FILE_SIZE + 1);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, p, SYNC_WIRE_VERIFY_SIZE, 0, &m), -EBADMSG);
	/* mismatch, missing copy: an empty error frame; never as progress */
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, NULL, 0, SYNC_WS_BADSUM, &m), 0);
	assert_int_equal(sync_wire_status_to_errno(m.hdr.status), -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, NULL, 0, SYNC_WS_NOENT, &m), 0);
	assert_int_equal(sync_wire_status_to_errno(m.hdr.status), -ENOENT);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R, p, SYNC_WIRE_VERIFY_SIZE, SYNC_WS_BADSUM, &m),
			 -EBADMSG);
	assert_int_equal(decode(SYNC_WIRE_VERIFY, R | SYNC_WIRE_F_MORE, NULL, 0, SYNC_WS_IO, &m),
			 -EBADMSG);
	assert_string_equal(sync_wire_type_name(SYNC_WIRE_VERIFY), "VERIFY");
}

/* Every errno we send maps to a status and back to itself; unknown errno
 * and unknown statuses become EIO. */
static void test_status_mapping(void **state)
{
	(void)state;
	const int errs[] = {0,	       ENOENT, EEXIST, EINVAL, EIO,    ENOSPC, ENOTSUP, EBADMSG,
			    ETIMEDOUT, EBUSY,  EPERM,  ERANGE, EPROTO, ENOMEM, ELOOP,  ESTALE};
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		assert_int_equal(sync_wire_status_to_errno(sync_wire_status_from_errno(-errs[i])),
				 -errs[i]);
	assert_int_equal(sync_wire_status_from_errno(-EDQUOT), SYNC_WS_NOSPC);
	assert_int_equal(sync_wire_status_from_errno(-EXDEV), SYNC_WS_OTHER);
	assert_int_equal(sync_wire_status_to_errno(SYNC_WS_OTHER), -EIO);
	assert_int_equal(sync_wire_status_to_errno(999), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_roundtrip),   cmocka_unit_test(test_header_malformed),
	    cmocka_unit_test(test_requests_roundtrip), cmocka_unit_test(test_requests_malformed),
	    cmocka_unit_test(test_responses),
	    cmocka_unit_test(test_versions),	       cmocka_unit_test(test_status_mapping),
	    cmocka_unit_test(test_heartbeat),
	    cmocka_unit_test(test_zeros),	       cmocka_unit_test(test_verify),
	    cmocka_unit_test(test_put_thin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
