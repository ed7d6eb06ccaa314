/* Frame I/O over TLS: see frame.h. */
#include "sync/frame.h"

#include <errno.h>
#include <string.h>

int sync_frame_send(struct sync_tls_conn *c, uint8_t type, uint16_t flags, uint64_t req_id,
		    int32_t status, const void *prefix, uint32_t plen, const void *data,
		    uint32_t dlen, uint64_t deadline_ms)
{
	uint8_t head[SYNC_WIRE_HEADER_SIZE + 128];
	struct sync_wire_header h = {
	    .version = SYNC_WIRE_VERSION,
	    .type = type,
	    .flags = flags,
	    .req_id = req_id,
	    .length = plen + dlen,
	    .status = status,
	};

	if ((uint64_t)plen + dlen > SYNC_WIRE_MAX_PAYLOAD || plen > 128)
		return -EMSGSIZE;
	sync_wire_header_encode(&h, head);
	if (plen)
		memcpy(head + SYNC_WIRE_HEADER_SIZE, prefix, plen);
	return sync_tls_write2(c, head, SYNC_WIRE_HEADER_SIZE + plen, data, dlen, deadline_ms);
}

int sync_frame_recv(struct sync_tls_conn *c, uint8_t *buf, struct sync_wire_msg *ret,
		    uint64_t deadline_ms)
{
	uint8_t head[SYNC_WIRE_HEADER_SIZE];
	struct sync_wire_header h;
	int r = sync_tls_read(c, head, sizeof(head), deadline_ms);
	if (r < 0)
		return r;
	r = sync_wire_header_decode(head, &h);
	if (r < 0)
		return r;
	if (h.length) {
		r = sync_tls_read(c, buf, h.length, deadline_ms);
		if (r < 0)
			return r;
	}
	return sync_wire_decode(&h, buf, ret);
}
