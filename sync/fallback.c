/* Read with per-copy deadline and fallback: see fallback.h. */
#include "sync/fallback.h"

#include <errno.h>

#include "sync/client.h"

ssize_t sync_fallback_read(struct sync_tls_ctx *tls, const struct sync_endpoint *copies, size_t n,
			   const uint8_t id[16], uint64_t version, uint64_t off, void *buf,
			   size_t len, unsigned timeout_ms, size_t *ret_used)
{
	ssize_t r = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		struct sync_client *c = NULL;
		char why[256];
		uint64_t start = sync_now_ms();
		r = sync_client_connect(tls, copies[i].host, copies[i].port, timeout_ms, &c, why,
					sizeof(why));
		if (r == 0) {
			uint64_t used = sync_now_ms() - start;
			unsigned left = used >= timeout_ms ? 1 : (unsigned)(timeout_ms - used);
			r = sync_client_read(c, id, version, off, buf, len, left);
		}
		sync_client_close(c);
		if (r >= 0) {
			*ret_used = i;
			return r;
		}
	}
	return r;
}
