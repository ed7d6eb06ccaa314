/* TLS transport: see tls.h. OpenSSL over a non-blocking socket; every wait is
 * a poll() bounded by the caller's deadline. */
#include "sync/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct sync_tls_ctx {
	SSL_CTX *ssl; /* read-only after sync_tls_ctx_new */
};

struct sync_tls_conn {
	SSL *ssl;
	BIO *wbio; /* buffering BIO over the socket; owned by ssl */
	int fd;
	char peer[128];
};

/* Encrypted records are gathered into this much before a write(2): TLS 1.3
 * records carry at most 16 KiB, and one send per record costs a syscall and
 * a wake-up of the receiver each (a quarter of the sender's CPU on a bulk
 * copy); the gathering copy is far cheaper. */
#define TLS_WRITE_BUFFER (256 * 1024)

uint64_t sync_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void ssl_reason(char *buf, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char tmp[256] = "";
	if (e)
		ERR_error_string_n(e, tmp, sizeof(tmp));
	ERR_clear_error();
	if (buf && len)
		snprintf(buf, len, "%s%s%s", what, *tmp ? ": " : "", tmp);
}

/* Why the identity file `what` at path cannot be loaded: the system's
 * reason when it cannot even be read (OpenSSL's names no file), else
 * OpenSSL's. */
static void load_reason(char *buf, size_t len, const char *what, const char *path)
{
	char head[PATH_MAX + 64];
	if (access(path, R_OK) < 0) {
		ERR_clear_error();
		if (buf && len)
			snprintf(buf, len, "cannot read %s %s: %s", what, path, strerror(errno));
		return;
	}
	snprintf(head, sizeof(head), "cannot load %s %s", what, path);
	ssl_reason(buf, len, head);
}

int sync_tls_ctx_new(bool server, const char *cert, const char *key, const char *ca,
		     struct sync_tls_ctx **ret, char *err, size_t errlen)
{
	struct sync_tls_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ssl = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!c->ssl) {
		ssl_reason(err, errlen, "SSL_CTX_new");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(c->ssl, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(c->ssl, TLS1_3_VERSION);
	/* EOF without close_notify is a plain end of stream: frames are
	 * length-prefixed, so truncation is detected above TLS anyway. */
	SSL_CTX_set_options(c->ssl, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* AES-128-GCM first: as strong as the data needs, and the fastest
	 * with AES-NI (bulk copies are bound by it and SHA-256). */
	SSL_CTX_set_ciphersuites(c->ssl, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
					 "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_session_cache_mode(c->ssl, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(c->ssl, 0);
	SSL_CTX_set_mode(c->ssl,
			 SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Read many records per read(2): bulk transfers otherwise cost two
	 * syscalls per 16 KiB record (header, body). */
	SSL_CTX_set_read_ahead(c->ssl, 1);
	SSL_CTX_set_default_read_buffer_len(c->ssl, 256 * 1024);
	if (SSL_CTX_use_certificate_chain_file(c->ssl, cert) != 1) {
		load_reason(err, errlen, "certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(c->ssl, key, SSL_FILETYPE_PEM) != 1) {
		load_reason(err, errlen, "private key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(c->ssl) != 1) {
		ssl_reason(err, errlen, "private key does not match certificate");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(c->ssl, ca, NULL) != 1) {
		load_reason(err, errlen, "CA certificate", ca);
		goto fail;
	}
	SSL_CTX_set_verify(c->ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	*ret = c;
	return 0;
fail:
	sync_tls_ctx_free(c);
	return -EINVAL;
}

/* Whether own is a host's certificate as `shadowctl ca issue` makes them:
 * not a CA, and fit for TLS server and client authentication (one
 * certificate serves shadowd and authenticates it as a client). The CA's own
 * certificate passes every other check (it matches its key and is valid
 * under itself), and then each peer refuses it at the handshake ("unsuitable
 * certificate purpose"). -EINVAL with the reason in err. */
static int check_purpose(X509 *own, char *err, size_t errlen)
{
	const char *why = NULL;
	if (X509_check_ca(own) != 0)
		why = "the certificate is a CA certificate, not a host's";
	else if (X509_check_purpose(own, X509_PURPOSE_SSL_SERVER, 0) != 1 ||
		 X509_check_purpose(own, X509_PURPOSE_SSL_CLIENT, 0) != 1)
		why = "the certificate is not for TLS server and client authentication";
	ERR_clear_error();
	if (!why)
		return 0;
	snprintf(err, errlen, "%s (give one from 'shadowctl ca issue DIR NAME')", why);
	return -EINVAL;
}

int sync_tls_ctx_check_identity(struct sync_tls_ctx *ctx, char *err, size_t errlen)
{
	X509 *own = SSL_CTX_get0_certificate(ctx->ssl);
	if (own && check_purpose(own, err, errlen) < 0)
		return -EINVAL;
	STACK_OF(X509) *chain = NULL;
	SSL_CTX_get0_chain_certs(ctx->ssl, &chain);
	X509_STORE_CTX *x = X509_STORE_CTX_new();
	if (!own || !x || X509_STORE_CTX_init(x, SSL_CTX_get_cert_store(ctx->ssl), own, chain) != 1) {
		X509_STORE_CTX_free(x);
		ssl_reason(err, errlen, "checking the certificate");
		return -EINVAL;
	}
	int ok = X509_verify_cert(x) == 1;
	if (!ok)
		snprintf(err, errlen, "the certificate is not valid under the CA: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
	X509_STORE_CTX_free(x);
	ERR_clear_error();
	return ok ? 0 : -EINVAL;
}

void sync_tls_ctx_free(struct sync_tls_ctx *ctx)
{
	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl);
	free(ctx);
}

bool sync_tls_identity_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 253 || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '-' ||
		      name[i] == ':'))
			return false;
	return !strstr(name, "..");
}

void sync_tls_identity_paths(const char *dir, const char *name, char *cert, char *key, char *ca,
			     size_t len)
{
	char host[256];
	if (!name) {
		if (gethostname(host, sizeof(host)) < 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	snprintf(cert, len, "%s/%s.crt", dir, name);
	snprintf(key, len, "%s/%s.key", dir, name);
	snprintf(ca, len, "%s/ca.crt", dir);
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = sync_now_ms();
		if (now >= deadline_ms)
			return -ETIMEDOUT;
		uint64_t left = deadline_ms - now;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Drives an SSL operation: retries on WANT_READ/WANT_WRITE until the deadline. */
static int ssl_wait(struct sync_tls_conn *c, int ret, uint64_t deadline_ms)
{
	int e = SSL_get_error(c->ssl, ret);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c->fd, POLLIN, deadline_ms);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c->fd, POLLOUT, deadline_ms);
	case SSL_ERROR_ZERO_RETURN:
		return -EPIPE;
	case SSL_ERROR_SYSCALL: {
		int e = errno;
		ERR_clear_error();
		return e == ECONNRESET || e == 0 || e == EAGAIN ? -EPIPE : -e;
	}
	default:
		return -ECONNABORTED; /* error queue: see handshake_reason / io_fail */
	}
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

static struct sync_tls_conn *conn_new(struct sync_tls_ctx *ctx, int fd)
{
	struct sync_tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->ssl = SSL_new(ctx->ssl);
	BIO *rbio = BIO_new_socket(fd, BIO_NOCLOSE);
	BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
	c->wbio = BIO_new(BIO_f_buffer());
	if (!c->ssl || !rbio || !sock || !c->wbio ||
	    BIO_set_write_buffer_size(c->wbio, TLS_WRITE_BUFFER) != 1) {
		BIO_free(rbio);
		BIO_free(sock);
		BIO_free(c->wbio);
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	BIO_push(c->wbio, sock);
	SSL_set_bio(c->ssl, rbio, c->wbio); /* ssl owns both chains now */
	return c;
}

static void record_peer(struct sync_tls_conn *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	c->peer[0] = 0;
	if (x) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, c->peer,
					  sizeof(c->peer));
		X509_free(x);
	}
}

/* What an operator does about the usual verify failures: OpenSSL's text
 * alone ("self-signed certificate in certificate chain") does not say
 * that the two sides belong to different CAs. "" for the others. */
static const char *verify_hint(long v)
{
	switch (v) {
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return " (not issued by this side's CA: the two sides' certificates "
		       "are of different 'shadowctl ca init')";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return " (the host's certificate does not name the address connected "
		       "to: use one it names, or 'shadowctl ca issue DIR NAME --ip ADDR')";
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return " (check both machines' clocks, or issue it again)";
	default:
		return "";
	}
}

static void handshake_reason(struct sync_tls_conn *c, int r, char *why, size_t whylen)
{
	long v = SSL_get_verify_result(c->ssl);
	if (r == -ETIMEDOUT)
		snprintf(why, whylen, "TLS handshake timed out");
	else if (v != X509_V_OK)
		snprintf(why, whylen, "peer certificate rejected: %s%s",
			 X509_verify_cert_error_string(v), verify_hint(v));
	else
		ssl_reason(why, whylen, "TLS handshake failed");
}

/* Drives the handshake step (SSL_accept or SSL_connect) to completion within
 * the deadline. On failure says why, closes c and returns -ETIMEDOUT or
 * -EACCES (refused: certificate, CA, protocol version...). */
static int finish_handshake(struct sync_tls_conn *c, int (*step)(SSL *), uint64_t deadline_ms,
			    struct sync_tls_conn **ret, char *why, size_t whylen)
{
	for (;;) {
		int s = step(c->ssl);
		if (s == 1)
			break;
		int r = ssl_wait(c, s, deadline_ms);
		if (r < 0) {
			handshake_reason(c, r, why, whylen);
			sync_tls_close(c);
			return r == -ETIMEDOUT ? r : -EACCES;
		}
	}
	record_peer(c);
	*ret = c;
	return 0;
}

int sync_tls_accept(struct sync_tls_ctx *ctx, int fd, uint64_t deadline_ms,
		    struct sync_tls_conn **ret, char *why, size_t whylen)
{
	struct sync_tls_conn *c = NULL;
	unsigned char first;
	ssize_t n;
	int r;

	if (why && whylen)
		why[0] = 0;
	r = set_nonblock(fd);
	if (r < 0)
		goto fail_fd;
	/* Plaintext refusal: a TLS client opens with a handshake record (0x16). */
	for (;;) {
		n = recv(fd, &first, 1, MSG_PEEK);
		if (n == 1)
			break;
		if (n == 0) {
			snprintf(why, whylen, "peer closed before TLS handshake");
			r = -EPIPE;
			goto fail_fd;
		}
		if (errno != EAGAIN && errno != EINTR) {
			r = -errno;
			snprintf(why, whylen, "recv: %s", strerror(errno));
			goto fail_fd;
		}
		r = wait_fd(fd, POLLIN, deadline_ms);
		if (r < 0) {
			snprintf(why, whylen, "no TLS handshake before deadline");
			goto fail_fd;
		}
	}
	if (first != 0x16) {
		snprintf(why, whylen, "not a TLS handshake (plaintext client? first byte 0x%02x)",
			 first);
		r = -EPROTO;
		goto fail_fd;
	}
	c = conn_new(ctx, fd);
	if (!c) {
		r = -ENOMEM;
		goto fail_fd;
	}
	return finish_handshake(c, SSL_accept, deadline_ms, ret, why, whylen);
fail_fd:
	close(fd);
	return r;
}

/* A name that does not resolve is -EHOSTUNREACH, and why says so (it
 * read "connect nohost:7811: No route to host"). */
static int tcp_connect(const char *host, uint16_t port, uint64_t deadline_ms, int *ret_fd,
		       char *why, size_t whylen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char ports[8];
	int r, fd = -1;

	snprintf(ports, sizeof(ports), "%u", port);
	int gai = getaddrinfo(host, ports, &hints, &res);
	if (gai != 0 || !res) {
		snprintf(why, whylen, "cannot resolve %s: %s", host,
			 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		if (res)
			freeaddrinfo(res);
		return -EHOSTUNREACH;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = set_nonblock(fd);
	if (r < 0)
		goto out;
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto out;
		}
		r = wait_fd(fd, POLLOUT, deadline_ms);
		if (r < 0)
			goto out;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			r = -soerr;
			goto out;
		}
	}
	*ret_fd = fd;
	fd = -1;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}

int sync_tls_connect(struct sync_tls_ctx *ctx, const char *host, uint16_t port,
		     uint64_t deadline_ms, struct sync_tls_conn **ret, char *why, size_t whylen)
{
	struct sync_tls_conn *c;
	int fd = -1, r;
	unsigned char tmp[16];

	if (why && whylen)
		why[0] = 0;
	r = tcp_connect(host, port, deadline_ms, &fd, why, whylen);
	if (r < 0) {
		if (why && whylen && !why[0])
			snprintf(why, whylen, "connect %s:%u: %s", host, port, strerror(-r));
		return r;
	}
	c = conn_new(ctx, fd);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	/* The server must be certified for the address we dialled. */
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	if (inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1)
		X509_VERIFY_PARAM_set1_ip_asc(vp, host);
	else
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	return finish_handshake(c, SSL_connect, deadline_ms, ret, why, whylen);
}

static int io_fail(int r)
{
	ERR_clear_error(); /* the queue is per thread: leave nothing behind */
	return r;
}

int sync_tls_read(struct sync_tls_conn *c, void *buf, size_t n, uint64_t deadline_ms)
{
	size_t done = 0;
	while (done < n) {
		size_t got = 0;
		int s = SSL_read_ex(c->ssl, (char *)buf + done, n - done, &got);
		if (s == 1) {
			done += got;
			continue;
		}
		int r = ssl_wait(c, s, deadline_ms);
		if (r < 0)
			return io_fail(r);
	}
	return 0;
}

/* Hands n bytes to the TLS layer (they may stay in the write buffer). */
static int write_all(struct sync_tls_conn *c, const void *buf, size_t n, uint64_t deadline_ms)
{
	size_t done = 0;
	while (done < n) {
		size_t put = 0;
		int s = SSL_write_ex(c->ssl, (const char *)buf + done, n - done, &put);
		if (s == 1) {
			done += put;
			continue;
		}
		int r = ssl_wait(c, s, deadline_ms);
		if (r < 0)
			return io_fail(r);
	}
	return 0;
}

int sync_tls_wait_readable(struct sync_tls_conn *c, uint64_t deadline_ms)
{
	if (SSL_has_pending(c->ssl))
		return 1;
	int r = wait_fd(c->fd, POLLIN, deadline_ms);
	if (r == -ETIMEDOUT)
		return 0;
	return r < 0 ? r : 1;
}

/* Sends what the write buffer holds. */
static int flush(struct sync_tls_conn *c, uint64_t deadline_ms)
{
	for (;;) {
		if (BIO_flush(c->wbio) > 0)
			return 0;
		if (!BIO_should_retry(c->wbio)) {
			int e = errno;
			return io_fail(e == EPIPE || e == ECONNRESET || e == 0 ? -EPIPE : -e);
		}
		int r = wait_fd(c->fd, POLLOUT, deadline_ms);
		if (r < 0)
			return io_fail(r);
	}
}

int sync_tls_write(struct sync_tls_conn *c, const void *buf, size_t n, uint64_t deadline_ms)
{
	int r = write_all(c, buf, n, deadline_ms);
	return r < 0 ? r : flush(c, deadline_ms);
}

int sync_tls_write2(struct sync_tls_conn *c, const void *a, size_t alen, const void *b, size_t blen,
		    uint64_t deadline_ms)
{
	int r = write_all(c, a, alen, deadline_ms);
	if (r == 0)
		r = write_all(c, b, blen, deadline_ms);
	return r < 0 ? r : flush(c, deadline_ms);
}

void sync_tls_set_bulk(struct sync_tls_conn *c, bool on)
{
	int v = on;
	setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

bool sync_tls_peer_gone(const struct sync_tls_conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLRDHUP};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

const char *sync_tls_peer_name(const struct sync_tls_conn *c)
{
	return c ? c->peer : "";
}

void sync_tls_close(struct sync_tls_conn *c)
{
	if (!c)
		return;
	/* Best effort close_notify (non-blocking socket: never waits). */
	if (SSL_is_init_finished(c->ssl) && SSL_shutdown(c->ssl) >= 0)
		(void)BIO_flush(c->wbio);
	ERR_clear_error();
	SSL_free(c->ssl);
	close(c->fd);
	free(c);
}
