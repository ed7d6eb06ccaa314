/* Making, updating, trimming and dropping the copies of shadowed files
 * (the control thread's hands; see shadowing_impl.h): placement by
 * daemon/control.c's pick among the hosts' inputs, a local copy read from
 * the origin once (paced by -o copy_rate) and verified by SHA-256 before it
 * is published, a remote one through fs/remote_copies.c, and the back-off
 * after failed copies. */
#include "fs/shadowing_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/control.h"
#include "daemon/host_store.h"
#include "daemon/shadow_map.h"
#include "fs/copy_pace.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/rollout.h"
#include "fs/shadow_tuning.h"
#include "fs/passthrough.h"
#include "fs/remote_copies.h"
#include "fs/remote_dirty.h"
#include "fs/remote_reads.h"
#include "fs/status_file.h"
#include "fs/xattr_shadow.h"
#include "predictor/hot_files.h"
#include "predictor/model.h"
#include "sync/digest.h"
#include "sync/wire.h"

/* A remote copy whose host is down or suspect: it cannot be deleted or
 * updated now, so its slot is kept (STALE) until the host is back. */
bool shadow_copy_unreachable(struct fs_shadowing *sh, const struct daemon_shadow_copy *cp)
{
	return cp->remote && !fs_remote_reads_usable(sh->remote_reads, cp->host);
}

/* Drops a copy slot: no reader uses it any more, its file is deleted. */
void shadow_copy_drop(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	uint64_t v = cp->version;
	int host = cp->host;
	bool remote = cp->remote;
	daemon_shadow_copy_retire(s, k);
	struct daemon_store *st = fs_hosts_local_store(sh->hosts, (size_t)host);
	if (st && v)
		daemon_store_delete(st, s->id, v);
	int r =
	    remote ? fs_remote_copies_delete(sh->remote_copies, host, s->id, SYNC_WIRE_ALL_VERSIONS)
		   : 0;
	if (r < 0)
		sfs_warn("shadow: cannot delete the copy of %s on host %d: %s (left there)",
			 s->path ? s->path : "?", host, strerror(-r));
}

/* Whether the file is as when its copy started: still at version v, no
 * change through the mount under way (fs/shadowing.c, change_begin), no
 * writer whose writes we cannot see, the origin's size/mtime/ctime as in
 * st0. */
static bool shadow_unchanged_since(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t v,
			    const struct stat *st0)
{
	struct stat st1;
	struct daemon_origin_stamp a, b;
	if (daemon_shadow_file_version(s) != v ||
	    LOAD(&s->changing) != 0 || shadow_writes_unseen(sh, s) ||
	    fstat(s->origin_fd, &st1) < 0)
		return false;
	shadow_origin_stamp(st0, &a);
	shadow_origin_stamp(&st1, &b);
	return shadow_stamp_eq(&a, &b);
}

struct unchanged_arg {
	struct fs_shadowing *sh;
	struct daemon_shadow_file *s;
	uint64_t v;
	const struct stat *st0;
};

static bool unchanged_cb(void *arg)
{
	struct unchanged_arg *u = arg;
	return shadow_unchanged_since(u->sh, u->s, u->v, u->st0);
}

/* The copy in slot on remote host, from the origin at version v as stat'ed
 * in st0, brought up to date from base (fs_remote_copies_make). */
static int copy_remote(struct fs_shadowing *sh, struct daemon_shadow_file *s, int slot, int host,
		       uint64_t v, const struct stat *st0, uint64_t base)
{
	struct unchanged_arg u = {sh, s, v, st0};
	int fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY | O_NOATIME);
	if (fd == -EPERM)
		fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY);
	if (fd < 0)
		return fd;
	shadow_origin_stamp(st0, &s->copies[slot].origin);
	struct fs_remote_make m = {.host = host,
				   .version = v,
				   .base = base,
				   .fd = fd,
				   .size = (uint64_t)st0->st_size,
				   .unchanged = unchanged_cb,
				   .arg = &u,
				   .pace = sh->pace};
	int r = fs_remote_copies_make(sh->remote_copies, s, slot, &m);
	close(fd);
	return r;
}

/* A remote host's placement inputs: up only while its copies may be read
 * and its shadowd answers STATS. */
static void remote_host_inputs(struct fs_shadowing *sh, size_t h, struct daemon_control_host *out)
{
	out->up = fs_remote_reads_usable(sh->remote_reads, (int)h) &&
		  fs_remote_copies_host(sh->remote_copies, h, out) == 0;
}

/* The placement inputs of the first n hosts (at most 16); a remote host's
 * are asked of it (its shadowd's budget and load) unless skip marks it. */
static void host_inputs(struct fs_shadowing *sh, struct daemon_control_host *hv, size_t n,
			const bool *skip)
{
	for (size_t h = 0; h < n; h++) {
		struct daemon_store *store = fs_hosts_local_store(sh->hosts, h);
		const struct fs_host_spec *spec = fs_hosts_spec(sh->hosts, h);
		struct daemon_store_stats stats = {0};
		if (store)
			daemon_store_stats(store, &stats);
		hv[h] = (struct daemon_control_host){
		    .up = fs_hosts_up(sh->hosts, h),
		    .local = store != NULL,
		    .cost = spec->cost,
		    .budget_bytes = stats.budget_bytes,
		    .used_bytes = stats.used_bytes + stats.reserved_bytes,
		    /* a remote host's room is its shadowd's budget (below) */
		    .avail_bytes = store ? stats.avail_bytes : UINT64_MAX,
		};
		if (!store && hv[h].up && !skip[h])
			remote_host_inputs(sh, h, &hv[h]);
	}
}

/* Copies the origin at its current version to a host in allowed;
 * publishes it when nothing changed meanwhile. Returns 0 or -errno. */
int shadow_copy_make(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t allowed)
{
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool exclude[16] = {false};
	int slot = -1, reuse = -1, rc;
	if (nh > 16)
		nh = 16;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		if (st != DAEMON_COPY_NONE && st != DAEMON_COPY_SERVING && s->copies[k].remote) {
			if (shadow_copy_unreachable(sh, &s->copies[k]))
				continue; /* kept: deleted or updated when its host is back */
			if (reuse < 0 &&
			    daemon_control_host_allowed(allowed, (size_t)s->copies[k].host)) {
				reuse = k; /* a stale remote copy: the basis of its update */
				continue;
			}
		}
		if (st == DAEMON_COPY_NONE) {
			if (slot < 0)
				slot = k;
		} else if (st == DAEMON_COPY_SERVING &&
			   s->copies[k].version == daemon_shadow_file_version(s)) {
			exclude[s->copies[k].host] = true;
		} else {
			shadow_copy_drop(sh, s, k); /* stale: replaced by the new copy */
			if (slot < 0)
				slot = k;
		}
	}
	if (slot < 0 && reuse < 0)
		return -ENOSPC;
	uint64_t v = daemon_shadow_file_version(s);
	struct stat st0;
	if (s->origin_fd < 0 || fstat(s->origin_fd, &st0) < 0 || st0.st_ino != (ino_t)s->ino ||
	    st0.st_nlink == 0)
		return -ESTALE; /* not (or no longer) the file of this entry */
	if (reuse >= 0) {
		int host = s->copies[reuse].host;
		uint64_t base = s->copies[reuse].version;
		daemon_shadow_copy_retire(s, reuse); /* waits for its last readers */
		return copy_remote(sh, s, reuse, host, v, &st0, base);
	}
	host_inputs(sh, hv, nh, exclude);
	int host = daemon_control_pick_host(hv, nh, (uint64_t)st0.st_size, exclude, allowed);
	if (host < 0)
		return -ENOSPC;
	if (!fs_hosts_local_store(sh->hosts, (size_t)host))
		return copy_remote(sh, s, slot, host, v, &st0, 0);
	struct daemon_store *store = fs_hosts_local_store(sh->hosts, (size_t)host);
	struct daemon_shadow_copy *cp = &s->copies[slot];
	cp->host = host;
	cp->version = v;
	STORE(&cp->state, DAEMON_COPY_SYNCING);
	/* O_NOATIME: making a copy is not an access; BACKING's atime stays as
	 * a plain passthrough would leave it (needs ownership or CAP_FOWNER). */
	int fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY | O_NOATIME);
	if (fd == -EPERM)
		fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY);
	uint8_t sha[SYNC_SHA256_LEN];
	struct daemon_store_writer *w = NULL;
	int copy_fd = -1;
	uint64_t copy_size = 0;
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	/* Old versions (an earlier mount's, a stale one) go first. */
	daemon_store_delete(store, s->id, DAEMON_STORE_ALL_VERSIONS);
	/* One paced read of the origin: sha is the digest of what was read,
	 * and the commit checks the copy's file against it. A change of the
	 * origin stops it at the next chunk (e.g. the SETATTR of the ctime the
	 * kernel sends after the pin's setxattr with the writeback cache). */
	struct unchanged_arg u = {sh, s, v, &st0};
	struct fs_copy_pace_check chk = {sh->pace, unchanged_cb, &u};
	struct sync_pace pace = fs_copy_pace_hook_checked(&chk);
	rc =
	    daemon_store_create_from_fd(store, s->id, v, fd, (uint64_t)st0.st_size, &pace, sha, &w);
	if (rc == 0)
		rc = daemon_store_commit(w, sha); /* verifies the copy's SHA-256 */
	close(fd);
	if (rc < 0)
		goto fail;
	daemon_store_flush(store); /* its final name now: the copy's ctime stays */
	rc = daemon_store_open_copy(store, s->id, v, &copy_fd, &copy_size);
	if (rc < 0)
		goto fail_delete;
	/* Valid only if nothing changed while it was made. */
	if (copy_size != (uint64_t)st0.st_size || !shadow_unchanged_since(sh, s, v, &st0)) {
		rc = -EAGAIN;
		goto fail_delete;
	}
	struct stat cst;
	if (fstat(copy_fd, &cst) < 0) {
		rc = -errno;
		goto fail_delete;
	}
	shadow_origin_stamp(&cst, &cp->file);
	memcpy(cp->sha256, sha, sizeof(cp->sha256));
	cp->verified_ms = shadow_now_ms();
	shadow_origin_stamp(&st0, &cp->origin);
	cp->fd = copy_fd;
	fs_rollout_first_share(&sh->cfg.rollout, cp);
	daemon_shadow_copy_publish(s, slot);
	sfs_debug("shadow: %s copied to host %d (version %llu, %lld bytes)",
		  s->path ? s->path : "?", host, (unsigned long long)v, (long long)st0.st_size);
	return 0;
fail_delete:
	if (copy_fd >= 0)
		close(copy_fd);
	daemon_store_delete(store, s->id, v);
fail:
	cp->version = 0;
	STORE(&cp->state, DAEMON_COPY_NONE);
	return rc;
}

/* After a copy attempt: a failure (other than the file changing under it,
 * which the quiet period handles, or the mount stopping during a copy paced
 * by copy_rate) backs the file off, doubling, and is
 * logged as a warning once per streak; a success after failures says so. */
void shadow_copy_noted(struct fs_shadowing *sh, struct daemon_shadow_file *s, int r,
			     uint64_t t)
{
	if (r == -EAGAIN || r == -ECANCELED) /* changed meanwhile; the mount stopping */
		return;
	daemon_shadow_map_lock(sh->map);
	unsigned failures = s->copy_failures;
	if (r == 0) {
		s->copy_failures = 0;
		s->retry_ms = 0;
		s->copy_error = 0;
	} else {
		s->copy_failures = failures + 1;
		s->retry_ms = t + daemon_control_backoff_ms(failures + 1);
		s->copy_error = -r;
	}
	daemon_shadow_map_unlock(sh->map);
	const char *path = s->path ? s->path : "?";
	if (r == 0 && failures)
		sfs_info("shadow: %s copied after %u failed attempt%s", path, failures,
			 failures == 1 ? "" : "s");
	else if (r == -ENOSPC && failures == 0 && shadow_count_serving(s) > 0)
		sfs_info("shadow: no room for another copy of %s (%u serving, %u wanted): "
			 "retrying in 1 s, then less and less often",
			 path, shadow_count_serving(s), shadow_replicas_of(sh, s));
	else if (r < 0 && failures == 0)
		sfs_warn("shadow: cannot copy %s: %s (retrying in 1 s, then less and less "
			 "often, up to every 5 min)",
			 path, strerror(-r));
	else if (r < 0)
		sfs_debug("shadow: cannot copy %s: %s (attempt %u)", path, strerror(-r),
			  failures + 1);
}

/* Drops the serving copy on a host not in allowed, else on the most
 * expensive host (then the busiest): the file has a copy where
 * user.shadow.hosts does not allow one, or more copies than its replica
 * count. */
void shadow_copy_trim(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t allowed)
{
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool holds[16] = {false}, none[16] = {false};
	nh = nh > 16 ? 16 : nh;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (shadow_serves_now(s, k) && (size_t)s->copies[k].host < nh)
			holds[s->copies[k].host] = true;
	host_inputs(sh, hv, nh, none);
	int host = daemon_control_pick_surplus(hv, nh, holds, allowed);
	for (int k = 0; host >= 0 && k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (shadow_serves_now(s, k) && s->copies[k].host == host) {
			char label[600];
			fs_hosts_label(sh->hosts, (size_t)host, label, sizeof(label));
			if (daemon_control_host_allowed(allowed, (size_t)host))
				sfs_info("shadow: %s: copy on %s dropped (more copies than its %u "
					 "wanted)",
					 s->path ? s->path : "?", label, shadow_replicas_of(sh, s));
			else
				sfs_info("shadow: %s: copy on %s dropped (not among its "
					 "user.shadow.hosts)",
					 s->path ? s->path : "?", label);
			shadow_copy_drop(sh, s, k);
			return;
		}
}
