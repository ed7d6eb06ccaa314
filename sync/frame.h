/* Frame I/O: sends and receives whole wire frames (wire.h) over a TLS
 * connection (tls.h) within a deadline. A received frame is decoded and
 * validated before it is returned; anything malformed is an error and the
 * connection must be closed. */
#ifndef SHADOWFS_SYNC_FRAME_H
#define SHADOWFS_SYNC_FRAME_H

#include <stdint.h>

#include "sync/tls.h"
#include "sync/wire.h"

/* Sends one frame whose payload is prefix (plen bytes) followed by data
 * (dlen bytes); either may be empty. */
int sync_frame_send(struct sync_tls_conn *c, uint8_t type, uint16_t flags, uint64_t req_id,
		    int32_t status, const void *prefix, uint32_t plen, const void *data,
		    uint32_t dlen, uint64_t deadline_ms);

/* Receives one frame into buf (SYNC_WIRE_MAX_PAYLOAD bytes) and decodes it
 * into ret (whose pointers point into buf). Returns 0, a transport error, or
 * -EPROTO/-EBADMSG/-EMSGSIZE for a malformed frame. */
int sync_frame_recv(struct sync_tls_conn *c, uint8_t *buf, struct sync_wire_msg *ret,
		    uint64_t deadline_ms);

#endif
