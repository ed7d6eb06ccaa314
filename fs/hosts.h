/* The mount's resource hosts: the places shadows can go (-o hosts=...).
 *
 *   hosts=SPEC[;SPEC...]
 *   SPEC  = /ABS/DIR[:cost=C][:budget=SIZE]     a local directory host: a
 *                                               host store opened in-process
 *         | ADDR:PORT[:cost=C]                  a remote shadowd ([v6]:PORT)
 *   cost: relative cost per GiB (>= 0, default 1); budget: space for copies
 *   (e.g. 512m, 20g; default unlimited). Remote hosts need -o tls=DIR (the
 *   certificates of `shadowctl ca issue DIR NAME`; NAME from -o tls_name=,
 *   default the hostname).
 *
 * At start every local store is opened (created if missing, temp files of an
 * interrupted copy removed) and the TLS identity loaded, so a bad host fails
 * the mount with one line. Then one watcher thread per remote host keeps a
 * heartbeat stream open (sync_client_heartbeat_*, 500 ms interval): a host is
 * "up" while heartbeats arrive, "down" (with the reason) after three missed
 * intervals or a failed connection, and is reconnected with a backoff of
 * 1 s doubling to 30 s. The registry is written to STATE/hosts.status
 * (KEY=VALUE lines, one host per line, replaced atomically) on every change
 * of state and at most once a second otherwise; `shadowctl hosts` reads it. */
#ifndef SHADOWFS_FS_HOSTS_H
#define SHADOWFS_FS_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fs_host_kind {
	FS_HOST_LOCAL,
	FS_HOST_REMOTE,
};

struct fs_host_spec {
	enum fs_host_kind kind;
	char where[512]; /* LOCAL: absolute directory; REMOTE: host name or address */
	uint16_t port;	 /* REMOTE */
	double cost;
	uint64_t budget_bytes; /* LOCAL; 0 = unlimited */
};

/* Parses a hosts= value into a malloc'ed array (free() it). On error returns
 * -EINVAL with a one-line reason in err. */
int fs_hosts_parse(const char *list, struct fs_host_spec **ret, size_t *ret_n, char *err,
		   size_t errlen);

struct fs_hosts;

struct fs_hosts_config {
	const struct fs_host_spec *specs;
	size_t n;
	const char *tls_dir;  /* required when a remote host is listed */
	const char *tls_name; /* NULL: the hostname */
	unsigned heartbeat_ms; /* 0: 500 */
};

/* Opens the local stores and loads the TLS identity (no thread yet). */
int fs_hosts_open(const struct fs_hosts_config *cfg, struct fs_hosts **ret, char *err,
		  size_t errlen);
/* Starts the watchers; status_path NULL: no status file. */
int fs_hosts_start(struct fs_hosts *h, const char *status_path);
/* Rewrites the status file if it was last written a second ago or more:
 * the local stores' copies and bytes change with every copy made or
 * dropped, which no heartbeat reports (the control loop calls it each
 * pass). */
void fs_hosts_refresh_status(struct fs_hosts *h);
/* Stops the watchers (a watcher waiting for a heartbeat notices within three
 * intervals: 1.5 s by default), closes the stores. Accepts NULL. */
void fs_hosts_close(struct fs_hosts *h);

/* The registry, for placement and the router (fs/shadowing.c): hosts in
 * the order of hosts=. A local host is up while the mount runs; a remote
 * one while its heartbeats arrive. */
struct daemon_store;
size_t fs_hosts_count(const struct fs_hosts *h); /* 0 for NULL */
const struct fs_host_spec *fs_hosts_spec(const struct fs_hosts *h, size_t i);
struct daemon_store *fs_hosts_local_store(struct fs_hosts *h, size_t i); /* NULL: remote */
bool fs_hosts_up(struct fs_hosts *h, size_t i); /* lock-free: the read path calls it */
/* Whether every remote host has had its first state (up or down) since
 * fs_hosts_start, or 5 s have passed: before, placement would take a
 * dearer local host for a cheaper remote one not up yet (and migrate the
 * copy later). Lock-free. */
bool fs_hosts_settled(struct fs_hosts *h);
/* REMOTE: sync_now_ms() of the last heartbeat (0: none yet); lock-free. */
uint64_t fs_hosts_last_seen_ms(struct fs_hosts *h, size_t i);
/* REMOTE: sync_now_ms() of its last change between up and down (0: none
 * yet); a host down and up again between two looks moved it. Lock-free. */
uint64_t fs_hosts_since_ms(struct fs_hosts *h, size_t i);
/* REMOTE: the load of the last heartbeat; false when down or none yet. */
struct sync_wire_load;
bool fs_hosts_load(struct fs_hosts *h, size_t i, struct sync_wire_load *ret);
/* The client TLS context for remote hosts (NULL without any). */
struct sync_tls_ctx;
struct sync_tls_ctx *fs_hosts_tls(struct fs_hosts *h);
void fs_hosts_label(const struct fs_hosts *h, size_t i, char *out, size_t len);

#endif
