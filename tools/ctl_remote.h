/* What shadowctl's host subcommands share: the TLS identity flags, the
 * HOST:PORT argument and the connection to a shadowd.
 *
 *   --certs DIR [--name NAME]   DIR/NAME.crt, DIR/NAME.key and DIR/ca.crt, as
 *                               `shadowctl ca issue DIR NAME` writes them
 *                               (NAME defaults to this machine's hostname)
 *   --cert F --key F --ca F     explicit files (override --certs)
 *   --timeout MS                per call / per frame (default 10000)
 */
#ifndef SHADOWFS_TOOLS_CTL_REMOTE_H
#define SHADOWFS_TOOLS_CTL_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "sync/client.h"

struct ctl_remote {
	const char *certs, *name, *cert, *key, *ca;
	unsigned timeout_ms;
	struct sync_tls_ctx *tls;
	struct sync_client *client;
};

/* If argv[*i] is one of the flags above, consumes it (and its value) and
 * returns 1; 0 if it is not one; -1 after printing an error naming cmd
 * ("host": "shadowctl host: ...") (missing or bad value). */
int ctl_remote_flag(struct ctl_remote *r, const char *cmd, int argc, char **argv, int *i);

/* Parses HOST:PORT (IPv6 as [ADDR]:PORT). 0, or -1 after printing an error. */
int ctl_remote_parse_addr(const char *cmd, const char *s, char *host, size_t hostlen,
			  uint16_t *port);

/* Loads the identity and connects to addr. 0; after printing an error naming
 * cmd, -2 on a usage error (addr is not HOST:PORT, no identity or part of
 * one given), else -1. */
int ctl_remote_connect(struct ctl_remote *r, const char *cmd, const char *addr);
void ctl_remote_close(struct ctl_remote *r);

/* "uuid" text of a 16-byte id, and back (0 or -1). */
void ctl_remote_id_text(const uint8_t id[16], char out[37]);
int ctl_remote_id_parse(const char *s, uint8_t id[16]);

#endif
