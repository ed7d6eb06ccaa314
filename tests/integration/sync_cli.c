/* sync_cli: test driver for the shadowd client library (sync/client.h), used
 * by the integration tests and tests/bench/tls_copy.sh. Not installed.
 *
 *   sync_cli [--cert F --key F --ca F] [--timeout MS] CMD ARGS
 *     ping H:P | stats H:P | load H:P | list H:P
 *     put H:P ID VER FILE [SHA256HEX]  full copy of FILE as (ID, VER); the
 *                                   digest is computed while streaming unless
 *                                   given (the origin knows it per version)
 *     get H:P ID VER OUT            whole copy via READs into OUT
 *     read H:P ID VER OFF LEN OUT   one READ
 *     update H:P ID BASE VER FILE OFF:LEN[,OFF:LEN...] [--bad-sha]
 *                                   ranges of FILE applied to BASE -> VER
 *     rawrange H:P ID BASE VER OFF HEXBYTE SIZE   a RANGE at any offset
 *     delete H:P ID VER
 *     verify H:P ID VER FILE        VERIFY: the server re-hashes (ID, VER) and
 *                                   compares with FILE's SHA-256; prints
 *                                   hashed=N (Bad message: mismatch)
 *     hold H:P MS                   connect, ping, keep the connection MS ms,
 *                                   ping again (fails if the server dropped it)
 *     signature H:P ID VER OUT      librsync signature of a copy into OUT
 *     delta H:P ID BASE VER FILE [--corrupt | --sig-of=V]
 *                                   librsync update of BASE to FILE's content
 *                                   as VER: fetch BASE's signature, compute
 *                                   the delta in memory, send it; prints
 *                                   sig_bytes, delta_bytes, literal_bytes.
 *                                   --corrupt (test-only) flips bytes in the
 *                                   middle of the delta stream before sending;
 *                                   --sig-of=V (test-only) computes the delta
 *                                   from version V's signature (wrong basis)
 *       (both then ping on the same connection: "connection usable")
 *     fallback ID VER OFF LEN OUT H:P [H:P...]   prints the index that answered
 *     plain H:P                     plaintext frame; exit 0 if refused
 *     oversized H:P | garbage H:P   TLS, frame over the size limit / bad magic;
 *                                   exit 0 if the server closes without answering
 * Exit: 0 ok, 1 failure (errno printed), 2 usage. Prints elapsed ms of the
 * call on stderr as "elapsed_ms=N". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sync/client.h"
#include "sync/digest.h"
#include "sync/fallback.h"
#include "sync/rsync_delta.h"
#include "sync/rsync_sig.h"
#include "sync/sync_io.h"
#include "sync/tls.h"
#include "sync/wire.h"

static unsigned timeout_ms = 5000;
static uint64_t progress_calls, progress_last, progress_total;

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	(void)arg;
	progress_calls++;
	progress_last = done;
	progress_total = total;
}

static int parse_hp(const char *s, char *host, size_t hl, uint16_t *port)
{
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= hl)
		return -EINVAL;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	*port = (uint16_t)atoi(c + 1);
	return 0;
}

static int parse_id(const char *s, uint8_t id[16])
{
	if (strlen(s) != 32)
		return -EINVAL;
	for (int i = 0; i < 16; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		id[i] = (uint8_t)v;
	}
	return 0;
}

static int die(const char *what, int r)
{
	fprintf(stderr, "sync_cli: %s: %s\n", what, strerror(-r));
	return 1;
}

static int file_sha(const char *path, int *fd, uint64_t *size, uint8_t sha[32])
{
	struct stat st;
	*fd = open(path, O_RDONLY);
	if (*fd < 0 || fstat(*fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return sync_sha256_fd(*fd, *size, sha);
}

static int file_size(const char *path, int *fd, uint64_t *size)
{
	struct stat st;
	*fd = open(path, O_RDONLY);
	if (*fd < 0 || fstat(*fd, &st) < 0)
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

static int sig_sink(void *arg, const void *buf, size_t len)
{
	return fwrite(buf, 1, len, arg) == len ? 0 : -EIO;
}

static int sink_forward(void *arg, const void *buf, size_t len)
{
	const struct sync_sink *s = arg;
	return s->write(s->ctx, buf, len);
}

static long mem_source(void *arg, void *buf, size_t cap)
{
	struct sync_memreader *m = arg;
	size_t n = m->len - m->pos < cap ? m->len - m->pos : cap;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (long)n;
}

/* Origin side of a librsync update over the wire: the copy's signature comes
 * from shadowd, the delta is computed here (in memory: a test driver) and
 * streamed back with the content's SHA-256. */
static int rsync_delta(struct sync_client *c, const uint8_t id[16], uint64_t base, uint64_t ver,
		       uint64_t sig_ver, const char *path, int corrupt)
{
	struct sync_membuf sigbuf = {0}, dbuf = {0};
	struct sync_sink ss = sync_sink_mem(&sigbuf), ds = sync_sink_mem(&dbuf);
	struct sync_delta_opts opts = {.content_sha256 = true};
	struct sync_delta_stats stats = {0};
	struct sync_sig *sig = NULL;
	uint64_t t0 = sync_now_ms(), t1 = t0, t2 = t0;
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	int r = sync_client_signature(c, id, sig_ver, sink_forward, &ss, timeout_ms);
	if (!r) {
		struct sync_memreader mr = {sigbuf.data, sigbuf.len, 0};
		struct sync_source src = sync_source_mem(&mr);
		r = sync_sig_read(&src, &sig);
	}
	t1 = sync_now_ms();
	if (!r)
		r = sync_delta_write(sig, fd, &ds, &opts, &stats);
	if (!r && corrupt) {
		for (size_t k = dbuf.len / 2; k < dbuf.len / 2 + 8 && k < dbuf.len; k++)
			dbuf.data[k] ^= 0x5a;
	}
	t2 = sync_now_ms();
	if (!r) {
		struct sync_memreader mr = {dbuf.data, dbuf.len, 0};
		r = sync_client_delta(c, id, base, ver, stats.new_size, stats.sha256, mem_source,
				      &mr, timeout_ms);
	}
	printf("sig_bytes=%zu delta_bytes=%zu literal_bytes=%llu new_size=%llu sig_ms=%llu "
	       "delta_ms=%llu send_ms=%llu\n",
	       sigbuf.len, dbuf.len, (unsigned long long)stats.literal_bytes,
	       (unsigned long long)stats.new_size, (unsigned long long)(t1 - t0),
	       (unsigned long long)(t2 - t1), (unsigned long long)(sync_now_ms() - t2));
	sync_sig_free(sig);
	sync_membuf_release(&sigbuf);
	sync_membuf_release(&dbuf);
	close(fd);
	return r;
}

static int write_out(const char *path, const void *buf, size_t n, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		return -errno;
	ssize_t w = pwrite(fd, buf, n, (off_t)off);
	close(fd);
	return w == (ssize_t)n ? 0 : -EIO;
}

/* Plaintext client: sends a PING frame without TLS; the server must close
 * the connection without answering. */
static int plain(const char *host, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	uint8_t h[SYNC_WIRE_HEADER_SIZE], b[64];
	struct sync_wire_header hd = {.type = SYNC_WIRE_PING, .req_id = 1};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, host, &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return die("connect", -errno);
	sync_wire_header_encode(&hd, h);
	if (write(fd, h, sizeof(h)) != (ssize_t)sizeof(h))
		return die("write", -errno);
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, (int)timeout_ms) <= 0) {
		close(fd);
		fprintf(stderr, "sync_cli: plaintext connection not closed\n");
		return 1;
	}
	ssize_t n = read(fd, b, sizeof(b));
	close(fd);
	if (n > 0) {
		fprintf(stderr, "sync_cli: server answered a plaintext client\n");
		return 1;
	}
	printf("refused\n");
	return 0;
}

/* Over TLS, sends a frame header the server must refuse (payload over the
 * size limit, or a bad magic); succeeds if the server closes the connection
 * without answering. */
static int raw_frame(struct sync_tls_ctx *tls, const char *host, uint16_t port, int oversized)
{
	struct sync_tls_conn *t = NULL;
	struct sync_wire_header hd = {
	    .type = SYNC_WIRE_DATA, .req_id = 7, .length = SYNC_WIRE_MAX_PAYLOAD + 1};
	uint8_t h[SYNC_WIRE_HEADER_SIZE], b[1];
	char why[256];
	int r = sync_tls_connect(tls, host, port, sync_now_ms() + timeout_ms, &t, why, sizeof(why));
	if (r < 0)
		return r;
	sync_wire_header_encode(&hd, h);
	if (!oversized)
		memcpy(h, "GET / HTTP/1.0\r\n\r\nXXXXXX", SYNC_WIRE_HEADER_SIZE); /* 24 bytes */
	r = sync_tls_write(t, h, sizeof(h), sync_now_ms() + timeout_ms);
	if (r == 0)
		r = sync_tls_read(t, b, 1, sync_now_ms() + timeout_ms);
	sync_tls_close(t);
	if (r == -EPIPE || r == -ECONNABORTED || r == -ECONNRESET) {
		printf("closed\n");
		return 0;
	}
	return r == 0 ? -EPROTO : r;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL, *ca = NULL;
	struct sync_tls_ctx *tls = NULL;
	struct sync_client *c = NULL;
	char host[256], why[512];
	uint16_t port;
	uint8_t id[16];
	int i = 1, r = 0, st = 1, bad_sha = 0, corrupt = 0;
	const char *sig_of = NULL;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--cert"))
			cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key"))
			key = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			ca = argv[i + 1];
		else if (!strcmp(argv[i], "--timeout"))
			timeout_ms = (unsigned)atoi(argv[i + 1]);
		else
			return 2;
	}
	if (i >= argc)
		return 2;
	const char *cmd = argv[i++];
	char **a = argv + i;
	int na = argc - i;
	if (na > 0 && !strcmp(a[na - 1], "--bad-sha")) {
		bad_sha = 1;
		na--;
	} else if (na > 0 && !strcmp(a[na - 1], "--corrupt")) {
		corrupt = 1;
		na--;
	} else if (na > 0 && !strncmp(a[na - 1], "--sig-of=", 9)) {
		sig_of = a[na - 1] + 9;
		na--;
	}
	if (!strcmp(cmd, "plain")) {
		if (na != 1 || parse_hp(a[0], host, sizeof(host), &port))
			return 2;
		return plain(host, port);
	}
	if (!cert || !key || !ca)
		return 2;
	r = sync_tls_ctx_new(false, cert, key, ca, &tls, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "sync_cli: %s\n", why);
		return 1;
	}
	uint64_t t0 = sync_now_ms();
	if (!strcmp(cmd, "fallback")) {
		struct sync_endpoint eps[8];
		char hosts[8][64];
		size_t n = 0, used = 0;
		if (na < 6 || na > 13 || parse_id(a[0], id))
			goto usage;
		for (int k = 5; k < na; k++, n++) {
			if (parse_hp(a[k], hosts[n], sizeof(hosts[n]), &eps[n].port))
				goto usage;
			eps[n].host = hosts[n];
		}
		size_t len = strtoul(a[3], NULL, 0);
		void *buf = malloc(len ? len : 1);
		ssize_t got =
		    sync_fallback_read(tls, eps, n, id, strtoull(a[1], NULL, 0),
				       strtoull(a[2], NULL, 0), buf, len, timeout_ms, &used);
		if (got >= 0 && (r = write_out(a[4], buf, (size_t)got, 0)) == 0) {
			printf("copy=%zu\n", used);
			st = 0;
		} else {
			die("fallback read", got < 0 ? (int)got : r);
		}
		free(buf);
		fprintf(stderr, "elapsed_ms=%llu\n", (unsigned long long)(sync_now_ms() - t0));
		goto out;
	}
	if (na < 1 || parse_hp(a[0], host, sizeof(host), &port))
		goto usage;
	r = sync_client_connect(tls, host, port, timeout_ms, &c, why, sizeof(why));
	if (r < 0) {
		fprintf(stderr, "sync_cli: connect: %s (%s)\nelapsed_ms=%llu\n", why, strerror(-r),
			(unsigned long long)(sync_now_ms() - t0));
		goto out;
	}
	sync_client_set_progress(c, on_progress, NULL);
	if (!strcmp(cmd, "ping") && na == 1) {
		r = sync_client_ping(c, timeout_ms);
	} else if (!strcmp(cmd, "stats") && na == 1) {
		struct sync_wire_stats ws;
		r = sync_client_stats(c, &ws, timeout_ms);
		if (!r)
			printf("used=%llu copies=%llu budget=%llu reads=%llu received=%llu "
			       "features=%llu\n",
			       (unsigned long long)ws.used, (unsigned long long)ws.copies,
			       (unsigned long long)ws.budget, (unsigned long long)ws.reads,
			       (unsigned long long)ws.received_bytes,
			       (unsigned long long)ws.features);
	} else if (!strcmp(cmd, "load") && na == 1) {
		struct sync_wire_load l;
		r = sync_client_load(c, &l, timeout_ms);
		if (!r)
			printf("in_flight=%u p50_us=%u p90_us=%u p99_us=%u read_bps=%llu "
			       "write_bps=%llu cpu_permille=%u disk_permille=%u net_rx_bps=%llu "
			       "net_tx_bps=%llu requests=%llu\n",
			       l.in_flight, l.lat_p50_us, l.lat_p90_us, l.lat_p99_us,
			       (unsigned long long)l.read_bps, (unsigned long long)l.write_bps,
			       l.cpu_permille, l.disk_util_permille,
			       (unsigned long long)l.net_rx_bps, (unsigned long long)l.net_tx_bps,
			       (unsigned long long)l.requests);
	} else if (!strcmp(cmd, "list") && na == 1) {
		struct sync_wire_list_entry *v = NULL;
		size_t n = 0;
		r = sync_client_list(c, &v, &n, timeout_ms);
		for (size_t k = 0; !r && k < n; k++) {
			for (int j = 0; j < 16; j++)
				printf("%02x", v[k].id[j]);
			printf(" %llu %llu\n", (unsigned long long)v[k].version,
			       (unsigned long long)v[k].size);
		}
		free(v);
	} else if (!strcmp(cmd, "put") && (na == 4 || na == 5) && !parse_id(a[1], id)) {
		int fd = -1;
		uint64_t size;
		uint8_t sha[32];
		/* digest computed while streaming, unless a bad one is wanted */
		r = bad_sha ? file_sha(a[3], &fd, &size, sha) : file_size(a[3], &fd, &size);
		int known = bad_sha;
		if (!r && na == 5) {
			for (int k = 0; k < 32 && !r; k++) {
				unsigned v;
				if (strlen(a[4]) != 64 || sscanf(a[4] + 2 * k, "%2x", &v) != 1)
					r = -EINVAL;
				else
					sha[k] = (uint8_t)v;
			}
			known = 1;
		}
		if (!r) {
			sha[0] ^= (uint8_t)bad_sha;
			t0 = sync_now_ms();
			r = sync_client_put(c, id, strtoull(a[2], NULL, 0), fd, size,
					    known ? sha : NULL, timeout_ms);
		}
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "get") && na == 4 && !parse_id(a[1], id)) {
		uint8_t *buf = malloc(SYNC_WIRE_MAX_DATA);
		uint64_t off = 0;
		int fd = open(a[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		for (;;) {
			ssize_t n = sync_client_read(c, id, strtoull(a[2], NULL, 0), off, buf,
						     SYNC_WIRE_MAX_DATA, timeout_ms);
			if (n <= 0) {
				r = (int)n;
				break;
			}
			if (pwrite(fd, buf, (size_t)n, (off_t)off) != n) {
				r = -EIO;
				break;
			}
			off += (uint64_t)n;
		}
		close(fd);
		free(buf);
	} else if (!strcmp(cmd, "read") && na == 6 && !parse_id(a[1], id)) {
		size_t len = strtoul(a[4], NULL, 0);
		void *buf = malloc(len ? len : 1);
		ssize_t n = sync_client_read(c, id, strtoull(a[2], NULL, 0),
					     strtoull(a[3], NULL, 0), buf, len, timeout_ms);
		r = n < 0 ? (int)n : write_out(a[5], buf, (size_t)n, 0);
		free(buf);
	} else if (!strcmp(cmd, "update") && na == 6 && !parse_id(a[1], id)) {
		int fd = -1;
		uint64_t size;
		uint8_t sha[32];
		struct sync_range rg[64];
		void *bufs[64] = {0};
		size_t n = 0;
		r = file_sha(a[4], &fd, &size, sha);
		sha[0] ^= (uint8_t)bad_sha;
		for (char *tok = strtok(a[5], ","); !r && tok && n < 64; tok = strtok(NULL, ",")) {
			unsigned long long off, len;
			if (sscanf(tok, "%llu:%llu", &off, &len) != 2) {
				r = -EINVAL;
				break;
			}
			bufs[n] = malloc(len ? len : 1);
			if (pread(fd, bufs[n], len, (off_t)off) != (ssize_t)len)
				r = -EIO;
			rg[n] = (struct sync_range){off, bufs[n], len};
			n++;
		}
		if (!r)
			r = sync_client_update(c, id, strtoull(a[2], NULL, 0),
					       strtoull(a[3], NULL, 0), size, rg, n, sha,
					       timeout_ms);
		for (size_t k = 0; k < n; k++)
			free(bufs[k]);
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(cmd, "rawrange") && na == 7 && !parse_id(a[1], id)) {
		uint8_t b = (uint8_t)strtoul(a[5], NULL, 16), sha[32] = {0};
		struct sync_range rg = {strtoull(a[4], NULL, 0), &b, 1};
		r = sync_client_update(c, id, strtoull(a[2], NULL, 0), strtoull(a[3], NULL, 0),
				       strtoull(a[6], NULL, 0), &rg, 1, sha, timeout_ms);
	} else if (!strcmp(cmd, "signature") && na == 4 && !parse_id(a[1], id)) {
		FILE *o = fopen(a[3], "wb");
		r = o ? sync_client_signature(c, id, strtoull(a[2], NULL, 0), sig_sink, o,
					      timeout_ms)
		      : -errno;
		if (o)
			fclose(o);
		if (sync_client_ping(c, timeout_ms) == 0)
			fprintf(stderr, "connection usable\n");
	} else if (!strcmp(cmd, "delta") && na == 5 && !parse_id(a[1], id)) {
		uint64_t base = strtoull(a[2], NULL, 0);
		r = rsync_delta(c, id, base, strtoull(a[3], NULL, 0),
				sig_of ? strtoull(sig_of, NULL, 0) : base, a[4], corrupt);
		if (sync_client_ping(c, timeout_ms) == 0)
			fprintf(stderr, "connection usable\n");
	} else if (!strcmp(cmd, "hold") && na == 2) {
		r = sync_client_ping(c, timeout_ms);
		if (!r) {
			printf("holding\n");
			fflush(stdout);
			usleep((useconds_t)strtoul(a[1], NULL, 0) * 1000);
			r = sync_client_ping(c, timeout_ms);
		}
	} else if (!strcmp(cmd, "verify") && na == 4 && !parse_id(a[1], id)) {
		int fd = -1;
		uint64_t size, hashed = 0;
		uint8_t sha[32];
		r = file_sha(a[3], &fd, &size, sha);
		if (fd >= 0)
			close(fd);
		t0 = sync_now_ms();
		if (!r)
			r = sync_client_verify(c, id, strtoull(a[2], NULL, 0), sha, &hashed, NULL,
					       timeout_ms);
		if (!r)
			printf("hashed=%llu\n", (unsigned long long)hashed);
	} else if (!strcmp(cmd, "delete") && na == 3 && !parse_id(a[1], id)) {
		r = sync_client_delete(c, id, strtoull(a[2], NULL, 0), timeout_ms);
	} else if ((!strcmp(cmd, "oversized") || !strcmp(cmd, "garbage")) && na == 1) {
		r = raw_frame(tls, host, port, !strcmp(cmd, "oversized"));
	} else {
		goto usage;
	}
	fprintf(stderr, "elapsed_ms=%llu\n", (unsigned long long)(sync_now_ms() - t0));
	if (progress_calls)
		fprintf(stderr, "progress calls=%llu done=%llu total=%llu\n",
			(unsigned long long)progress_calls, (unsigned long long)progress_last,
			(unsigned long long)progress_total);
	if (r < 0) {
		die(cmd, r);
		goto out;
	}
	st = 0;
	goto out;
usage:
	fprintf(stderr, "sync_cli: bad arguments (see the comment at the top of sync_cli.c)\n");
	st = 2;
out:
	sync_client_close(c);
	sync_tls_ctx_free(tls);
	return st;
}
