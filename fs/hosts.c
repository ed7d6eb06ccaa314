/* The mount's resource hosts (see hosts.h): parsing of hosts=, the local
 * host stores, one heartbeat watcher thread per remote shadowd, and the
 * status file shadowctl reads. */
#include "fs/hosts.h"
#include "fs/preflight.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/parse.h"
#include "daemon/host_store.h"
#include "fs/status_file.h"
#include "sync/client.h"
#include "sync/tls.h"

/* Reconnecting a down host: 1 s doubling to 5 s. A host back after an
 * outage is used again within 5 s (copies waiting for it start then); a
 * refused connect every 5 s costs nothing. It was 30 s. */
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 5000u
#define CONNECT_TIMEOUT_MS 1500u
/* A remote host's first state (up at its first heartbeat, down at a
 * failure) comes within a connect, a heartbeat start and three intervals:
 * placement waits for it at most this long after start. */
#define SETTLE_MAX_MS 5000u

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A host directory's one spelling (its name in status lines, in
 * user.shadow.hosts and in STATE/tuning): "/d/hostC/", "/d//hostC",
 * "/d/./hostC" and "/x/../d/hostC" named other hosts, so a remount spelled
 * otherwise found no host for a file's user.shadow.hosts and dropped its
 * copies. realpath when the directory resolves, else without empty and "."
 * components nor a trailing '/'. */
static void normalize_dir(char *s, size_t size)
{
	char *real = realpath(s, NULL);
	if (real && strlen(real) < size) {
		strcpy(s, real);
		free(real);
		return;
	}
	free(real);
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || !r[2])))) {
			r += r[1] == '/' ? 1 : 2; /* an empty or "." component */
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
	while (w > s + 1 && w[-1] == '/')
		*--w = '\0';
	if (!s[0])
		strcpy(s, "/");
}

/* One SPEC (NUL-terminated, modified in place). */
static int parse_spec(char *s, struct fs_host_spec *h, char *err, size_t errlen)
{
	char *attrs = NULL;
	memset(h, 0, sizeof(*h));
	h->cost = 1.0;
	if (s[0] == '/') {
		h->kind = FS_HOST_LOCAL;
		attrs = strchr(s, ':');
		if (attrs)
			*attrs++ = '\0';
		if (strlen(s) >= sizeof(h->where))
			return fail(err, errlen, "hosts: directory name too long: %.40s...", s);
		strcpy(h->where, s);
		normalize_dir(h->where, sizeof(h->where));
		s = h->where;
		/* The directory names the host in STATE/hosts.status, shadows.status
		 * and user.shadow.state, whose fields are space-separated
		 * KEY=VALUE words. */
		for (const unsigned char *c = (const unsigned char *)s; *c; c++)
			if (*c <= ' ' || *c == 0x7f || *c == '"' || *c == '\\' || *c == '=')
				return fail(err, errlen,
					    "hosts: '%s': a host directory's path may not hold "
					    "spaces, control characters, '\"', '\\' or '=' (it names the "
					    "host in status lines)",
					    s);
	} else {
		/* HOST:PORT or [ADDR]:PORT, then the attributes after the next ':'. */
		h->kind = FS_HOST_REMOTE;
		char *port_colon = s;
		if (s[0] == '[') {
			port_colon = strchr(s, ']');
			if (!port_colon || port_colon[1] != ':')
				return fail(err, errlen, "hosts: '%s': want [ADDR]:PORT", s);
		}
		port_colon = strchr(port_colon, ':');
		if (!port_colon)
			return fail(err, errlen,
				    "hosts: '%s' is neither an absolute directory nor HOST:PORT", s);
		attrs = strchr(port_colon + 1, ':');
		if (attrs)
			*attrs++ = '\0';
		if (sfs_parse_hostport(s, h->where, sizeof(h->where), &h->port) < 0 ||
		    h->port == 0)
			return fail(err, errlen, "hosts: '%s': bad host or port (1..65535)", s);
		/* A DNS name or an address (an IPv6 zone after '%'); the name
		 * goes unquoted into status lines like a directory above. */
		for (const char *c = h->where; *c; c++)
			if (!isalnum((unsigned char)*c) && !strchr(".-_:%", *c))
				return fail(err, errlen,
					    "hosts: '%s': a host name may hold only letters, digits, "
					    "'.', '-' and '_' (or be an address)",
					    h->where);
	}
	bool have_cost = false, have_budget = false;
	for (char *a = attrs, *next; a && *a; a = next) {
		next = strchr(a, ':');
		if (next)
			*next++ = '\0';
		char *v = strchr(a, '=');
		if (!v)
			return fail(err, errlen, "hosts: %s: '%s' is not KEY=VALUE", h->where, a);
		*v++ = '\0';
		bool *seen = !strcmp(a, "cost") ? &have_cost : !strcmp(a, "budget") ? &have_budget : NULL;
		if (seen && *seen)
			return fail(err, errlen, "hosts: %s: %s given twice", h->where, a);
		if (seen)
			*seen = true;
		if (!strcmp(a, "cost")) {
			if (sfs_parse_number(v, 0, 1e9, &h->cost) < 0)
				return fail(err, errlen, "hosts: %s: cost '%s': want a number from 0 to 1e9",
					    h->where, v);
		} else if (!strcmp(a, "budget") && h->kind == FS_HOST_LOCAL) {
			/* 0: unlimited, as the default and shadowd --space-budget 0 */
			if (sfs_parse_size(v, &h->budget_bytes) < 0)
				return fail(err, errlen,
					    "hosts: %s: budget '%s': want a size like 512m or 20g "
					    "(0: unlimited)",
					    h->where, v);
		} else {
			return fail(err, errlen, "hosts: %s: unknown attribute '%s'%s", h->where, a,
				    !strcmp(a, "budget") ? " (budget is set by shadowd --space-budget "
							   "on a remote host)"
							 : "");
		}
	}
	return 0;
}

int fs_hosts_parse(const char *list, struct fs_host_spec **ret, size_t *ret_n, char *err,
		   size_t errlen)
{
	struct fs_host_spec *v = NULL;
	size_t n = 0;
	char *copy = strdup(list ? list : "");
	int rc = 0;
	if (!copy)
		return fail(err, errlen, "hosts: out of memory");
	for (char *s = copy, *next; s && rc == 0; s = next) {
		next = strchr(s, ';');
		if (next)
			*next++ = '\0';
		if (!*s) {
			rc = fail(err, errlen, "hosts: empty entry in '%s'", list);
			break;
		}
		struct fs_host_spec *nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv) {
			rc = fail(err, errlen, "hosts: out of memory");
			break;
		}
		v = nv;
		rc = parse_spec(s, &v[n], err, errlen);
		for (size_t i = 0; rc == 0 && i < n; i++)
			if (v[i].kind == v[n].kind && v[i].port == v[n].port &&
			    !strcmp(v[i].where, v[n].where))
				rc = fail(err, errlen, "hosts: %s listed twice", v[n].where);
			else if (v[i].kind == FS_HOST_LOCAL && v[n].kind == FS_HOST_LOCAL &&
				 (fs_path_within(v[n].where, v[i].where) ||
				  fs_path_within(v[i].where, v[n].where)))
				rc = fail(err, errlen, "hosts: %s and %s: one store inside the other",
					  v[i].where, v[n].where);
		n++;
	}
	free(copy);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- runtime ---- */

struct host {
	struct fs_hosts *all;
	const struct fs_host_spec *spec;
	struct daemon_store *store; /* LOCAL */
	pthread_t thread;	    /* REMOTE */
	bool thread_started;
	/* protected by all->lock (up and last_seen_ms also written atomically,
	 * read without the lock by fs_hosts_up / fs_hosts_last_seen_ms): */
	bool up;
	char reason[256]; /* as long as a connect's why (a TLS refusal's hint) */
	uint64_t last_seen_ms, since_ms;
	struct sync_wire_load load;
};

struct fs_hosts {
	struct fs_host_spec *specs;
	size_t n;
	struct host *hosts;
	struct sync_tls_ctx *tls;
	unsigned heartbeat_ms;
	char *status_path;
	pthread_mutex_t lock;
	pthread_cond_t wake; /* stop */
	bool stopping;
	uint64_t written_ms;
	uint64_t started_ms; /* fs_hosts_start */
};

static void label(const struct fs_host_spec *s, char *out, size_t len)
{
	if (s->kind == FS_HOST_LOCAL)
		snprintf(out, len, "%s", s->where);
	else if (strchr(s->where, ':'))
		snprintf(out, len, "[%s]:%u", s->where, s->port);
	else
		snprintf(out, len, "%s:%u", s->where, s->port);
}

static void fill_status(FILE *f, void *arg)
{
	struct fs_hosts *h = arg;
	char name[600];
	uint64_t now = sync_now_ms();
	for (size_t i = 0; i < h->n; i++) {
		struct host *x = &h->hosts[i];
		label(x->spec, name, sizeof(name));
		fprintf(f, "host=%s kind=%s cost=%g", name,
			x->spec->kind == FS_HOST_LOCAL ? "local" : "remote", x->spec->cost);
		if (x->spec->kind == FS_HOST_LOCAL) {
			struct daemon_store_stats st;
			daemon_store_stats(x->store, &st);
			fprintf(f, " state=up copies=%llu used_bytes=%llu budget_bytes=%llu\n",
				(unsigned long long)st.copies, (unsigned long long)st.used_bytes,
				(unsigned long long)st.budget_bytes);
			continue;
		}
		fprintf(f, " state=%s since_s=%llu", x->up ? "up" : "down",
			(unsigned long long)(x->since_ms ? (now - x->since_ms) / 1000 : 0));
		if (x->last_seen_ms)
			fprintf(f, " last_heartbeat_ms=%llu",
				(unsigned long long)(now - x->last_seen_ms));
		if (x->up)
			fprintf(f,
				" in_flight=%u lat_p50_us=%u lat_p99_us=%u read_bps=%llu "
				"cpu_permille=%u disk_util_permille=%u",
				x->load.in_flight, x->load.lat_p50_us, x->load.lat_p99_us,
				(unsigned long long)x->load.read_bps, x->load.cpu_permille,
				x->load.disk_util_permille);
		else {
			fputs(" reason=", f);
			fs_status_put_quoted(f, x->reason);
		}
		fputc('\n', f);
	}
}

/* Writes the status file (fs_status_file_write). Called with lock held. */
static void write_status(struct fs_hosts *h)
{
	if (!h->status_path)
		return;
	int r = fs_status_file_write(h->status_path, fill_status, h);
	if (r < 0)
		sfs_warn("cannot write %s: %s", h->status_path, strerror(-r));
	h->written_ms = sync_now_ms();
}

/* Records a state change (lock held), logs transitions. */
static void set_state(struct host *x, bool up, const char *reason)
{
	char name[600];
	if (x->up != up || !x->since_ms) {
		label(x->spec, name, sizeof(name));
		if (up)
			sfs_info("host %s is up", name);
		else
			sfs_warn("host %s is down: %s", name, reason);
		__atomic_store_n(&x->since_ms, sync_now_ms(), __ATOMIC_RELEASE);
		__atomic_store_n(&x->up, up, __ATOMIC_RELEASE);
		snprintf(x->reason, sizeof(x->reason), "%s", reason ? reason : "");
		write_status(x->all);
	}
}

/* Sleeps ms unless stopping; returns true when stopping. Lock held. */
static bool wait_or_stop(struct fs_hosts *h, unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!h->stopping && pthread_cond_timedwait(&h->wake, &h->lock, &ts) == 0)
		;
	return h->stopping;
}

static void *watch_remote(void *arg)
{
	struct host *x = arg;
	struct fs_hosts *h = x->all;
	unsigned backoff = BACKOFF_MIN_MS;
	char why[256], reason[300];

	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		struct sync_client *c = NULL;
		pthread_mutex_unlock(&h->lock);
		why[0] = '\0';
		int r = sync_client_connect(h->tls, x->spec->where, x->spec->port,
					    CONNECT_TIMEOUT_MS, &c, why, sizeof(why));
		if (r == 0)
			r = sync_client_heartbeat_start(c, h->heartbeat_ms, CONNECT_TIMEOUT_MS);
		pthread_mutex_lock(&h->lock);
		if (r == 0 && !h->stopping) {
			for (;;) {
				struct sync_wire_load l;
				pthread_mutex_unlock(&h->lock);
				r = sync_client_heartbeat_next(c, NULL, &l, 3 * h->heartbeat_ms);
				pthread_mutex_lock(&h->lock);
				if (r < 0 || h->stopping)
					break;
				backoff = BACKOFF_MIN_MS;
				x->load = l;
				__atomic_store_n(&x->last_seen_ms, sync_now_ms(), __ATOMIC_RELEASE);
				set_state(x, true, NULL);
				if (sync_now_ms() - h->written_ms >= 1000)
					write_status(h);
			}
			snprintf(reason, sizeof(reason), "%s",
				 r == -ETIMEDOUT ? "no heartbeat for three intervals"
				 : r == -EPIPE	 ? "connection closed by the host"
						 : strerror(-r));
		} else {
			snprintf(reason, sizeof(reason), "%s", why[0] ? why : strerror(-r));
		}
		pthread_mutex_unlock(&h->lock);
		sync_client_close(c);
		pthread_mutex_lock(&h->lock);
		if (h->stopping)
			break;
		set_state(x, false, reason);
		if (wait_or_stop(h, backoff))
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int fs_hosts_open(const struct fs_hosts_config *cfg, struct fs_hosts **ret, char *err,
		  size_t errlen)
{
	struct fs_hosts *h = calloc(1, sizeof(*h));
	char name[600], cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX], why[256] = "";
	bool remote = false;
	if (!h)
		return fail(err, errlen, "hosts: out of memory");
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	h->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 500;
	h->specs = calloc(cfg->n ? cfg->n : 1, sizeof(*h->specs));
	h->hosts = calloc(cfg->n ? cfg->n : 1, sizeof(*h->hosts));
	if (!h->specs || !h->hosts) {
		fs_hosts_close(h);
		return fail(err, errlen, "hosts: out of memory");
	}
	h->n = cfg->n;
	for (size_t i = 0; i < cfg->n; i++) {
		struct host *x = &h->hosts[i];
		h->specs[i] = cfg->specs[i];
		x->all = h;
		x->spec = &h->specs[i];
		if (x->spec->kind == FS_HOST_REMOTE) {
			remote = true;
			continue;
		}
		int r = daemon_store_open(x->spec->where, x->spec->budget_bytes, &x->store);
		if (r < 0) {
			label(x->spec, name, sizeof(name));
			fs_hosts_close(h);
			return fail(err, errlen, "hosts: cannot open the store in %s: %s", name,
				    r == -EBUSY ? "in use by another mount or a shadowd (or listed "
						  "twice under two names)"
						: strerror(-r));
		}
	}
	if (remote) {
		const char *nm = cfg->tls_name;
		if (!cfg->tls_dir) {
			fs_hosts_close(h);
			return fail(err, errlen,
				    "hosts: remote hosts need -o tls=DIR (certificates from "
				    "'shadowctl ca issue DIR NAME')");
		}
		sync_tls_identity_paths(cfg->tls_dir, nm, cert, key, ca, sizeof(cert));
		int r = sync_tls_ctx_new(false, cert, key, ca, &h->tls, why, sizeof(why));
		if (r == 0)
			r = sync_tls_ctx_check_identity(h->tls, why, sizeof(why));
		if (r < 0) {
			fs_hosts_close(h);
			return fail(err, errlen, "tls=%s: identity %s: %s", cfg->tls_dir, cert,
				    why[0] ? why : strerror(-r));
		}
	}
	*ret = h;
	return 0;
}

void fs_hosts_refresh_status(struct fs_hosts *h)
{
	pthread_mutex_lock(&h->lock);
	if (sync_now_ms() - h->written_ms >= 1000)
		write_status(h);
	pthread_mutex_unlock(&h->lock);
}

int fs_hosts_start(struct fs_hosts *h, const char *status_path)
{
	if (status_path && !(h->status_path = strdup(status_path)))
		return -ENOMEM;
	h->started_ms = sync_now_ms();
	pthread_mutex_lock(&h->lock);
	write_status(h);
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < h->n; i++) {
		struct host *x = &h->hosts[i];
		if (x->spec->kind != FS_HOST_REMOTE)
			continue;
		int r = pthread_create(&x->thread, NULL, watch_remote, x);
		if (r != 0)
			return -r;
		x->thread_started = true;
	}
	return 0;
}

bool fs_hosts_settled(struct fs_hosts *h)
{
	if (!h || sync_now_ms() - h->started_ms >= SETTLE_MAX_MS)
		return true;
	for (size_t i = 0; i < h->n; i++)
		if (h->hosts[i].spec->kind == FS_HOST_REMOTE &&
		    !__atomic_load_n(&h->hosts[i].since_ms, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

void fs_hosts_close(struct fs_hosts *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	for (size_t i = 0; i < h->n; i++) {
		if (h->hosts[i].thread_started)
			pthread_join(h->hosts[i].thread, NULL);
		daemon_store_close(h->hosts[i].store);
	}
	sync_tls_ctx_free(h->tls);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h->status_path);
	free(h->specs);
	free(h->hosts);
	free(h);
}

size_t fs_hosts_count(const struct fs_hosts *h) { return h ? h->n : 0; }

const struct fs_host_spec *fs_hosts_spec(const struct fs_hosts *h, size_t i)
{
	return &h->specs[i];
}

struct daemon_store *fs_hosts_local_store(struct fs_hosts *h, size_t i)
{
	return h->specs[i].kind == FS_HOST_LOCAL ? h->hosts[i].store : NULL;
}

bool fs_hosts_up(struct fs_hosts *h, size_t i)
{
	if (h->specs[i].kind == FS_HOST_LOCAL)
		return true; /* in-process: up while the mount runs */
	return __atomic_load_n(&h->hosts[i].up, __ATOMIC_ACQUIRE);
}

uint64_t fs_hosts_since_ms(struct fs_hosts *h, size_t i)
{
	return h->specs[i].kind == FS_HOST_LOCAL ? 0
						 : __atomic_load_n(&h->hosts[i].since_ms, __ATOMIC_ACQUIRE);
}

uint64_t fs_hosts_last_seen_ms(struct fs_hosts *h, size_t i)
{
	return __atomic_load_n(&h->hosts[i].last_seen_ms, __ATOMIC_ACQUIRE);
}

bool fs_hosts_load(struct fs_hosts *h, size_t i, struct sync_wire_load *ret)
{
	pthread_mutex_lock(&h->lock);
	bool have = h->hosts[i].up && h->hosts[i].last_seen_ms;
	if (have)
		*ret = h->hosts[i].load;
	pthread_mutex_unlock(&h->lock);
	return have;
}

struct sync_tls_ctx *fs_hosts_tls(struct fs_hosts *h)
{
	return h->tls;
}

void fs_hosts_label(const struct fs_hosts *h, size_t i, char *out, size_t len)
{
	label(&h->specs[i], out, len);
}
