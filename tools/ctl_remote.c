/* Connection to a shadowd for shadowctl's host subcommands: see ctl_remote.h. */
#include "tools/ctl_remote.h"

#include "common/parse.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uuid/uuid.h>

static int flag_value(const char *cmd, int argc, char **argv, int *i, const char **ret)
{
	if (*i + 1 >= argc || !argv[*i + 1][0]) {
		fprintf(stderr, "shadowctl %s: %s needs a value\n", cmd, argv[*i]);
		return -1;
	}
	*ret = argv[++*i];
	return 1;
}

int ctl_remote_flag(struct ctl_remote *r, const char *cmd, int argc, char **argv, int *i)
{
	const char *a = argv[*i];
	if (!strcmp(a, "--certs"))
		return flag_value(cmd, argc, argv, i, &r->certs);
	if (!strcmp(a, "--name"))
		return flag_value(cmd, argc, argv, i, &r->name);
	if (!strcmp(a, "--cert"))
		return flag_value(cmd, argc, argv, i, &r->cert);
	if (!strcmp(a, "--key"))
		return flag_value(cmd, argc, argv, i, &r->key);
	if (!strcmp(a, "--ca"))
		return flag_value(cmd, argc, argv, i, &r->ca);
	if (!strcmp(a, "--timeout")) {
		const char *v;
		long long ms;
		if (flag_value(cmd, argc, argv, i, &v) < 0)
			return -1;
		if (sfs_parse_integer(v, 1, 3600000, &ms)) {
			fprintf(stderr,
				"shadowctl %s: --timeout '%s': want milliseconds, 1..3600000\n",
				cmd, v);
			return -1;
		}
		r->timeout_ms = (unsigned)ms;
		return 1;
	}
	return 0;
}

int ctl_remote_parse_addr(const char *cmd, const char *s, char *host, size_t hostlen,
			  uint16_t *port)
{
	if (sfs_parse_hostport(s, host, hostlen, port) < 0 || *port == 0) {
		fprintf(stderr, "shadowctl %s: '%s' is not HOST:PORT\n", cmd, s);
		return -1;
	}
	return 0;
}

int ctl_remote_connect(struct ctl_remote *r, const char *cmd, const char *addr)
{
	char host[256], why[256] = "";
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
	uint16_t port;
	int rc;

	if (!r->timeout_ms)
		r->timeout_ms = 10000;
	if (ctl_remote_parse_addr(cmd, addr, host, sizeof(host), &port) < 0)
		return -2;
	if (!r->certs && !r->cert && !r->key && !r->ca) {
		fprintf(stderr,
			"shadowctl %s: no TLS identity: give --certs DIR [--name NAME] "
			"(from 'shadowctl ca issue DIR NAME') or --cert, --key and --ca\n",
			cmd);
		return -2;
	}
	if (!r->certs && (!r->cert || !r->key || !r->ca)) {
		/* Some of the three given: name what is missing (the message
		 * above sent the user looking for --certs). */
		const char *miss[3];
		int n = 0;
		if (!r->cert)
			miss[n++] = "--cert FILE";
		if (!r->key)
			miss[n++] = "--key FILE";
		if (!r->ca)
			miss[n++] = "--ca FILE";
		fprintf(stderr,
			"shadowctl %s: TLS identity: %s%s%s %s missing (--cert, --key and --ca "
			"go together; or give --certs DIR)\n",
			cmd, miss[0], n > 1 ? " and " : "", n > 1 ? miss[1] : "",
			n > 1 ? "are" : "is");
		return -2;
	}
	if (r->certs)
		sync_tls_identity_paths(r->certs, r->name, cert, key, ca, sizeof(cert));
	rc = sync_tls_ctx_new(false, r->cert ? r->cert : cert, r->key ? r->key : key,
			      r->ca ? r->ca : ca, &r->tls, why, sizeof(why));
	if (rc == 0 && (rc = sync_tls_ctx_check_identity(r->tls, why, sizeof(why))) < 0) {
		/* The reason names no file: say which certificate it is about. */
		fprintf(stderr, "shadowctl %s: TLS identity %s: %s\n", cmd,
			r->cert ? r->cert : cert, why);
		sync_tls_ctx_free(r->tls);
		r->tls = NULL;
		return -1;
	}
	if (rc < 0) {
		fprintf(stderr, "shadowctl %s: TLS identity: %s\n", cmd, why[0] ? why : strerror(-rc));
		return -1;
	}
	rc = sync_client_connect(r->tls, host, port, r->timeout_ms, &r->client, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "shadowctl %s: cannot connect to %s: %s\n", cmd, addr,
			why[0] ? why : strerror(-rc));
		sync_tls_ctx_free(r->tls);
		r->tls = NULL;
		return -1;
	}
	return 0;
}

void ctl_remote_close(struct ctl_remote *r)
{
	sync_client_close(r->client);
	sync_tls_ctx_free(r->tls);
	r->client = NULL;
	r->tls = NULL;
}

void ctl_remote_id_text(const uint8_t id[16], char out[37])
{
	uuid_unparse_lower(id, out);
}

int ctl_remote_id_parse(const char *s, uint8_t id[16])
{
	return strlen(s) == 36 && uuid_parse(s, id) == 0 ? 0 : -1;
}
