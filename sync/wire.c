/* Wire protocol codec: see wire.h for the frame layout. Pure functions over
 * byte buffers, no I/O, no allocation: the decoder is the fuzz target
 * (tests/fuzz/fuzz_wire.c) and checks every length and bound before a field
 * leaves this file. */
#include "sync/wire.h"

#include <errno.h>
#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* errno <-> wire status, one table. */
static const struct {
	int32_t status;
	int err;
} status_map[] = {
    {SYNC_WS_OK, 0},	       {SYNC_WS_NOENT, ENOENT},	  {SYNC_WS_EXIST, EEXIST},
    {SYNC_WS_INVAL, EINVAL},   {SYNC_WS_IO, EIO},	  {SYNC_WS_NOSPC, ENOSPC},
    {SYNC_WS_NOTSUP, ENOTSUP}, {SYNC_WS_BADSUM, EBADMSG}, {SYNC_WS_TIMEDOUT, ETIMEDOUT},
    {SYNC_WS_BUSY, EBUSY},     {SYNC_WS_PERM, EPERM},	  {SYNC_WS_RANGE, ERANGE},
    {SYNC_WS_PROTO, EPROTO},   {SYNC_WS_NOMEM, ENOMEM},	  {SYNC_WS_LOOP, ELOOP},
    {SYNC_WS_STALE, ESTALE},
};

int sync_wire_status_to_errno(int32_t status)
{
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (status_map[i].status == status)
			return -status_map[i].err;
	return -EIO; /* SYNC_WS_OTHER and anything unknown */
}

int32_t sync_wire_status_from_errno(int neg_errno)
{
	int e = neg_errno < 0 ? -neg_errno : neg_errno;
	if (e == EDQUOT)
		e = ENOSPC;
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (status_map[i].err == e)
			return status_map[i].status;
	return SYNC_WS_OTHER;
}

void sync_wire_header_encode(const struct sync_wire_header *h, uint8_t out[SYNC_WIRE_HEADER_SIZE])
{
	put32(out, SYNC_WIRE_MAGIC);
	out[4] = h->version ? h->version : SYNC_WIRE_VERSION;
	out[5] = h->type;
	put16(out + 6, h->flags);
	put64(out + 8, h->req_id);
	put32(out + 16, h->length);
	put32(out + 20, (uint32_t)h->status);
}

int sync_wire_header_decode(const uint8_t in[SYNC_WIRE_HEADER_SIZE], struct sync_wire_header *ret)
{
	struct sync_wire_header h;
	if (get32(in) != SYNC_WIRE_MAGIC || in[4] != SYNC_WIRE_VERSION)
		return -EPROTO;
	h.version = in[4];
	h.type = in[5];
	h.flags = get16(in + 6);
	h.req_id = get64(in + 8);
	h.length = get32(in + 16);
	h.status = (int32_t)get32(in + 20);
	if (h.type < 1 || h.type > SYNC_WIRE_TYPE_MAX || (h.flags & ~SYNC_WIRE_F_KNOWN))
		return -EBADMSG;
	if (h.length > SYNC_WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!(h.flags & SYNC_WIRE_F_RESPONSE) && h.status != 0)
		return -EBADMSG;
	if (h.status < 0 || h.status > SYNC_WS_MAX)
		return -EBADMSG;
	/* F_MORE only on streamed responses (LIST, SIGNATURE data). */
	if ((h.flags & SYNC_WIRE_F_MORE) && !(h.flags & SYNC_WIRE_F_RESPONSE))
		return -EBADMSG;
	*ret = h;
	return 0;
}

static int sized(const struct sync_wire_header *h, uint32_t want)
{
	return h->length == want ? 0 : -EBADMSG;
}

static int decode_request(const struct sync_wire_header *h, const uint8_t *p,
			  struct sync_wire_msg *m)
{
	switch (h->type) {
	case SYNC_WIRE_PING:
	case SYNC_WIRE_LIST:
	case SYNC_WIRE_STATS:
	case SYNC_WIRE_LOAD:
		return sized(h, 0);
	case SYNC_WIRE_HEARTBEAT:
		if (sized(h, 4))
			return -EBADMSG;
		m->interval_ms = get32(p);
		return 0;
	case SYNC_WIRE_END:
		if (h->length == 32) {
			memcpy(m->sha256, p, 32);
			m->has_sha256 = 1;
			return 0;
		}
		return sized(h, 0);
	case SYNC_WIRE_READ:
		if (sized(h, 36))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		m->version = get64(p + 16);
		m->offset = get64(p + 24);
		m->length = get32(p + 32);
		if (m->length > SYNC_WIRE_MAX_DATA || m->offset > SYNC_WIRE_MAX_FILE_SIZE)
			return -EBADMSG;
		return 0;
	case SYNC_WIRE_PUT_BEGIN:
		if (sized(h, SYNC_WIRE_PUT_SIZE) && sized(h, SYNC_WIRE_PUT_THIN_SIZE))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		m->version = get64(p + 16);
		m->size = get64(p + 24);
		memcpy(m->sha256, p + 32, 32);
		if (h->length == SYNC_WIRE_PUT_THIN_SIZE) {
			m->data_bytes = get64(p + 64);
			m->has_data_bytes = 1;
			if (m->data_bytes > m->size)
				return -EBADMSG;
		}
		return m->size > SYNC_WIRE_MAX_FILE_SIZE ? -EBADMSG : 0;
	case SYNC_WIRE_UPDATE_BEGIN:
	case SYNC_WIRE_DELTA_BEGIN:
		if (sized(h, 72))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		m->base = get64(p + 16);
		m->version = get64(p + 24);
		m->size = get64(p + 32);
		memcpy(m->sha256, p + 40, 32);
		if (m->size > SYNC_WIRE_MAX_FILE_SIZE || m->base == m->version)
			return -EBADMSG;
		return 0;
	case SYNC_WIRE_DATA:
		if (h->length > SYNC_WIRE_MAX_DATA)
			return -EBADMSG;
		m->data = p;
		m->data_len = h->length;
		return 0;
	case SYNC_WIRE_RANGE:
		if (h->length < 8 || h->length - 8 > SYNC_WIRE_MAX_DATA)
			return -EBADMSG;
		m->offset = get64(p);
		m->data = p + 8;
		m->data_len = h->length - 8;
		if (m->offset > SYNC_WIRE_MAX_FILE_SIZE ||
		    m->offset + m->data_len > SYNC_WIRE_MAX_FILE_SIZE)
			return -EBADMSG;
		return 0;
	case SYNC_WIRE_VERIFY:
		if (sized(h, SYNC_WIRE_VERIFY_REQ_SIZE))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		m->version = get64(p + 16);
		memcpy(m->sha256, p + 24, 32);
		return 0;
	case SYNC_WIRE_SIGNATURE:
	case SYNC_WIRE_DELETE:
		if (sized(h, 24))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		m->version = get64(p + 16);
		return 0;
	case SYNC_WIRE_VERSIONS:
		if (sized(h, 16))
			return -EBADMSG;
		memcpy(m->id, p, 16);
		return 0;
	case SYNC_WIRE_ZEROS:
		if (sized(h, 8))
			return -EBADMSG;
		m->size = get64(p);
		return m->size == 0 || m->size > SYNC_WIRE_MAX_ZEROS ? -EBADMSG : 0;
	}
	return -EBADMSG;
}

static void decode_load(const uint8_t *p, struct sync_wire_load *l)
{
	l->in_flight = get32(p);
	l->lat_p50_us = get32(p + 4);
	l->lat_p90_us = get32(p + 8);
	l->lat_p99_us = get32(p + 12);
	l->read_bps = get64(p + 16);
	l->write_bps = get64(p + 24);
	l->cpu_permille = get32(p + 32);
	l->disk_util_permille = get32(p + 36);
	l->net_rx_bps = get64(p + 40);
	l->net_tx_bps = get64(p + 48);
	l->requests = get64(p + 56);
}

static int decode_response(const struct sync_wire_header *h, const uint8_t *p,
			   struct sync_wire_msg *m)
{
	/* An error response carries no payload. */
	if (h->status != SYNC_WS_OK)
		return sized(h, 0);
	switch (h->type) {
	case SYNC_WIRE_PING:
	case SYNC_WIRE_END:
	case SYNC_WIRE_DELETE:
	case SYNC_WIRE_PUT_BEGIN:
	case SYNC_WIRE_UPDATE_BEGIN:
	case SYNC_WIRE_DELTA_BEGIN:
		return sized(h, 0);
	case SYNC_WIRE_READ:
	case SYNC_WIRE_DATA:
		if (h->length > SYNC_WIRE_MAX_DATA)
			return -EBADMSG;
		m->data = p;
		m->data_len = h->length;
		return 0;
	case SYNC_WIRE_LIST:
	case SYNC_WIRE_VERSIONS:
		if (h->length < 4)
			return -EBADMSG;
		m->count = get32(p);
		if ((uint64_t)m->count * SYNC_WIRE_LIST_ENTRY_SIZE != h->length - 4)
			return -EBADMSG;
		m->data = p + 4;
		m->data_len = h->length - 4;
		return 0;
	case SYNC_WIRE_STATS:
		if (sized(h, 24) && sized(h, SYNC_WIRE_STATS_SIZE_V2) &&
		    sized(h, SYNC_WIRE_STATS_SIZE))
			return -EBADMSG;
		memset(&m->stats, 0, sizeof(m->stats));
		m->stats.used = get64(p);
		m->stats.copies = get64(p + 8);
		m->stats.budget = get64(p + 16);
		if (h->length >= SYNC_WIRE_STATS_SIZE_V2) {
			m->stats.reads = get64(p + 24);
			m->stats.read_bytes = get64(p + 32);
			m->stats.received_bytes = get64(p + 40);
		}
		if (h->length == SYNC_WIRE_STATS_SIZE)
			m->stats.features = get64(p + 48);
		return 0;
	case SYNC_WIRE_HEARTBEAT:
		if (sized(h, SYNC_WIRE_HEARTBEAT_SIZE))
			return -EBADMSG;
		m->seq = get64(p);
		decode_load(p + 8, &m->load);
		return 0;
	case SYNC_WIRE_LOAD:
		if (sized(h, SYNC_WIRE_LOAD_SIZE))
			return -EBADMSG;
		decode_load(p, &m->load);
		return 0;
	case SYNC_WIRE_VERIFY:
		if (sized(h, SYNC_WIRE_VERIFY_SIZE))
			return -EBADMSG;
		m->size = get64(p);
		return m->size > SYNC_WIRE_MAX_FILE_SIZE ? -EBADMSG : 0;
	}
	return -EBADMSG; /* RANGE, SIGNATURE have no response of their own */
}

int sync_wire_decode(const struct sync_wire_header *h, const uint8_t *payload,
		     struct sync_wire_msg *ret)
{
	struct sync_wire_msg m;
	int r;
	memset(&m, 0, sizeof(m));
	m.hdr = *h;
	if (h->length > SYNC_WIRE_MAX_PAYLOAD || (h->length && !payload))
		return -EBADMSG;
	if (h->flags & SYNC_WIRE_F_RESPONSE)
		r = decode_response(h, payload, &m);
	else
		r = decode_request(h, payload, &m);
	if (r < 0)
		return r;
	/* F_MORE is meaningful only for streamed responses: LIST, VERSIONS, DATA,
	 * HEARTBEAT, and VERIFY progress (which is never an error: the outcome
	 * comes last). */
	if ((h->flags & SYNC_WIRE_F_MORE) && h->type != SYNC_WIRE_LIST &&
	    h->type != SYNC_WIRE_VERSIONS && h->type != SYNC_WIRE_DATA && h->type != SYNC_WIRE_HEARTBEAT &&
	    h->type != SYNC_WIRE_VERIFY)
		return -EBADMSG;
	if ((h->flags & SYNC_WIRE_F_MORE) && h->type == SYNC_WIRE_VERIFY && h->status != SYNC_WS_OK)
		return -EBADMSG;
	*ret = m;
	return 0;
}

int sync_wire_enc_id_ver(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver)
{
	if (cap < 24)
		return -ENOBUFS;
	memcpy(out, id, 16);
	put64(out + 16, ver);
	return 24;
}

int sync_wire_enc_read(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver, uint64_t off,
		       uint32_t len)
{
	if (cap < 36)
		return -ENOBUFS;
	memcpy(out, id, 16);
	put64(out + 16, ver);
	put64(out + 24, off);
	put32(out + 32, len);
	return 36;
}

int sync_wire_enc_put(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver, uint64_t size,
		      const uint8_t sha256[32])
{
	if (cap < SYNC_WIRE_PUT_SIZE)
		return -ENOBUFS;
	memcpy(out, id, 16);
	put64(out + 16, ver);
	put64(out + 24, size);
	memcpy(out + 32, sha256, 32);
	return SYNC_WIRE_PUT_SIZE;
}

int sync_wire_enc_put_thin(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver,
			   uint64_t size, uint64_t data, const uint8_t sha256[32])
{
	if (cap < SYNC_WIRE_PUT_THIN_SIZE)
		return -ENOBUFS;
	sync_wire_enc_put(out, cap, id, ver, size, sha256);
	put64(out + SYNC_WIRE_PUT_SIZE, data);
	return SYNC_WIRE_PUT_THIN_SIZE;
}

int sync_wire_enc_update(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t base,
			 uint64_t ver, uint64_t size, const uint8_t sha256[32])
{
	if (cap < 72)
		return -ENOBUFS;
	memcpy(out, id, 16);
	put64(out + 16, base);
	put64(out + 24, ver);
	put64(out + 32, size);
	memcpy(out + 40, sha256, 32);
	return 72;
}

int sync_wire_enc_stats(uint8_t *out, size_t cap, const struct sync_wire_stats *s)
{
	if (cap < SYNC_WIRE_STATS_SIZE)
		return -ENOBUFS;
	put64(out, s->used);
	put64(out + 8, s->copies);
	put64(out + 16, s->budget);
	put64(out + 24, s->reads);
	put64(out + 32, s->read_bytes);
	put64(out + 40, s->received_bytes);
	put64(out + 48, s->features);
	return SYNC_WIRE_STATS_SIZE;
}

int sync_wire_enc_load(uint8_t *out, size_t cap, const struct sync_wire_load *l)
{
	if (cap < SYNC_WIRE_LOAD_SIZE)
		return -ENOBUFS;
	put32(out, l->in_flight);
	put32(out + 4, l->lat_p50_us);
	put32(out + 8, l->lat_p90_us);
	put32(out + 12, l->lat_p99_us);
	put64(out + 16, l->read_bps);
	put64(out + 24, l->write_bps);
	put32(out + 32, l->cpu_permille);
	put32(out + 36, l->disk_util_permille);
	put64(out + 40, l->net_rx_bps);
	put64(out + 48, l->net_tx_bps);
	put64(out + 56, l->requests);
	return SYNC_WIRE_LOAD_SIZE;
}

int sync_wire_enc_heartbeat_req(uint8_t *out, size_t cap, uint32_t interval_ms)
{
	if (cap < 4)
		return -ENOBUFS;
	put32(out, interval_ms);
	return 4;
}

int sync_wire_enc_heartbeat(uint8_t *out, size_t cap, uint64_t seq, const struct sync_wire_load *l)
{
	if (cap < SYNC_WIRE_HEARTBEAT_SIZE)
		return -ENOBUFS;
	put64(out, seq);
	return 8 + sync_wire_enc_load(out + 8, cap - 8, l);
}

int sync_wire_enc_verify(uint8_t *out, size_t cap, const uint8_t id[16], uint64_t ver,
			 const uint8_t sha256[32])
{
	if (cap < SYNC_WIRE_VERIFY_REQ_SIZE)
		return -ENOBUFS;
	memcpy(out, id, 16);
	put64(out + 16, ver);
	memcpy(out + 24, sha256, 32);
	return SYNC_WIRE_VERIFY_REQ_SIZE;
}

int sync_wire_enc_verify_resp(uint8_t *out, size_t cap, uint64_t hashed)
{
	if (cap < SYNC_WIRE_VERIFY_SIZE)
		return -ENOBUFS;
	put64(out, hashed);
	return SYNC_WIRE_VERIFY_SIZE;
}

int sync_wire_enc_zeros(uint8_t *out, size_t cap, uint64_t len)
{
	if (cap < 8)
		return -ENOBUFS;
	put64(out, len);
	return 8;
}

void sync_wire_enc_range_off(uint8_t out[8], uint64_t off)
{
	put64(out, off);
}

void sync_wire_enc_list_entry(uint8_t out[SYNC_WIRE_LIST_ENTRY_SIZE],
			      const struct sync_wire_list_entry *e)
{
	memcpy(out, e->id, 16);
	put64(out + 16, e->version);
	put64(out + 24, e->size);
}

void sync_wire_dec_list_entry(const uint8_t in[SYNC_WIRE_LIST_ENTRY_SIZE],
			      struct sync_wire_list_entry *ret)
{
	memcpy(ret->id, in, 16);
	ret->version = get64(in + 16);
	ret->size = get64(in + 24);
}

const char *sync_wire_type_name(int type)
{
	static const char *const names[] = {
	    "?",     "PING",  "READ",	   "PUT_BEGIN", "UPDATE_BEGIN", "DELTA_BEGIN",
	    "DATA",  "RANGE", "END",	   "SIGNATURE", "DELETE",	"LIST",
	    "STATS", "LOAD",  "HEARTBEAT", "VERIFY",	"VERSIONS",	"ZEROS",
	};
	if (type < 1 || type > SYNC_WIRE_TYPE_MAX)
		return "?";
	return names[type];
}
