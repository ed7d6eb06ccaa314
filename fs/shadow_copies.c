/* Starting, publishing, trimming and dropping the copies of shadowed files
 * (the control thread's hands; see shadowing_impl.h): placement by
 * daemon/control.c's pick among the hosts' inputs, the copy itself handed
 * to the mover (fs/mover.h: a local copy read from the origin once, paced
 * by -o copy_rate, verified by SHA-256; a remote one through
 * fs/remote_copies.c), its publication when the mover is done and nothing
 * changed meanwhile, and the back-off after failed copies. */
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
#include "daemon/rollout.h"
#include "daemon/shadow_map.h"
#include "fs/copy_pace.h"
#include "fs/file_id.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/mover.h"
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
#include "sync/sync_io.h"
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
	shadow_cancel_jobs(sh, s, k); /* a re-hash of it under way: moot */
	if (daemon_shadow_copy_retire(s, k))
		shadow_copy_fd_closed(sh);
	struct daemon_store *st = fs_hosts_local_store(sh->hosts, (size_t)host);
	if (st && v)
		daemon_store_delete(st, s->id, v);
	int r =
	    remote ? fs_remote_copies_delete(sh->remote_copies, host, s->id, SYNC_WIRE_ALL_VERSIONS)
		   : 0;
	if (r < 0) {
		char where[600];
		fs_hosts_label(sh->hosts, (size_t)host, where, sizeof(where));
		sfs_info("shadow: cannot delete the copy of %s on %s now: %s (deleted when the "
			 "host is back)",
			 shadow_path_or(s, "?"), where, strerror(-r));
		fs_remote_copies_delete_later(sh->remote_copies, host, s->id, v);
	}
}

/* Whether the file is as when its copy started: still at version v, no
 * change through the mount under way (fs/shadowing.c, change_begin), no
 * writer whose writes we cannot see, the origin's size/mtime/ctime (fstat
 * of fd, an fd on the origin) as in st0. Any thread (the mover checks it
 * before each chunk, on its own fd). */
bool shadow_unchanged_since(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t v,
			    const struct stat *st0, int fd)
{
	struct daemon_origin_stamp a, b;
	if (daemon_shadow_file_version(s) != v ||
	    LOAD(&s->changing) != 0 || shadow_writes_unseen(sh, s) ||
	    !shadow_stamp_of_fd(fd, &b))
		return false;
	shadow_origin_stamp(st0, &a);
	if (shadow_stamp_eq(&a, &b))
		return true;
	/* Only metadata changed through the mount since st0, at version v
	 * (carry_end): the bytes are those the copy started from. */
	daemon_shadow_map_lock(sh->map);
	bool carried = s->carried_version == v && shadow_stamp_eq(&s->carried_from, &a) &&
		       shadow_stamp_eq(&s->carried_to, &b);
	daemon_shadow_map_unlock(sh->map);
	return carried;
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
		    /* a remote host suspect after a failed read or copy: no
		     * new copy there until it answers again */
		    .up = fs_hosts_up(sh->hosts, h) &&
			  (store || fs_remote_reads_usable(sh->remote_reads, (int)h)),
		    .thin = store != NULL, /* a remote host's: its features (below) */
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

/* The origin reopened for reading, without touching its atime where we
 * may (O_NOATIME: making a copy is not an access; BACKING's atime stays as
 * a plain passthrough would leave it; needs ownership or CAP_FOWNER). */
static int reopen_origin(struct fs_shadowing *sh, int ofd)
{
	int fd = fs_reopen(sh->ctx, ofd, O_RDONLY | O_NOATIME);
	if (fd == -EPERM)
		fd = fs_reopen(sh->ctx, ofd, O_RDONLY);
	return fd;
}

/* Frees a slot whose copy was never published. */
static void slot_free(struct daemon_shadow_copy *cp)
{
	cp->version = 0;
	cp->remote = false;
	STORE(&cp->state, DAEMON_COPY_NONE);
}

bool shadow_copying(struct fs_shadowing *sh, const struct daemon_shadow_file *s, int slot)
{
	return fs_mover_copying(sh->mover, s, slot) ||
	       (sh->express && fs_mover_copying(sh->express, s, slot));
}

void shadow_cancel_jobs(struct fs_shadowing *sh, const struct daemon_shadow_file *s, int slot)
{
	fs_mover_cancel(sh->mover, s, slot);
	if (sh->express)
		fs_mover_cancel(sh->express, s, slot);
}

/* With recording on, the recorder names a file at its first flush by
 * setting user.shadow.id in BACKING (fs/rec_name.c), which moves the
 * origin's ctime: a copy stamped before that would be stale a moment after
 * it serves, and made twice. So the file is named before its first copy.
 * No xattrs there: the recorder falls back to the path, nothing moves. */
static void name_origin(struct fs_shadowing *sh, int ofd)
{
	char proc[32];
	uint8_t id[FS_FILE_ID_LEN];
	if (!sh->cfg.forecast || ofd < 0)
		return;
	fs_proc_path(proc, ofd);
	(void)fs_file_id_get(proc, true, id);
}

/* Hands the copy of the origin at its current version to mover (the slot
 * of the best host in allowed marked SYNCING): 0, or -errno when none can
 * start (then nothing is under way). The mover must be idle. */
int shadow_copy_start(struct fs_shadowing *sh, struct fs_mover *mover,
		      struct daemon_shadow_file *s, uint64_t allowed)
{
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool exclude[16] = {false};
	int slot = -1, reuse = -1;
	if (nh > 16)
		nh = 16;
	if (shadow_copying(sh, s, -1))
		return -EBUSY; /* its job is not applied yet */
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		if (st != DAEMON_COPY_NONE && st != DAEMON_COPY_SERVING && s->copies[k].remote) {
			if (shadow_copy_unreachable(sh, &s->copies[k]))
				continue; /* kept: deleted or updated when its host is back */
			if (daemon_control_host_allowed(allowed, (size_t)s->copies[k].host) &&
			    (reuse < 0 ||
			     fs_hosts_spec(sh->hosts, (size_t)s->copies[k].host)->cost <
				 fs_hosts_spec(sh->hosts, (size_t)s->copies[reuse].host)->cost)) {
				/* a stale remote copy: the basis of its update (the
				 * cheapest host's, where a migration back goes) */
				if (reuse >= 0) { /* the dearer one: replaced, as below */
					shadow_copy_drop(sh, s, reuse);
					if (slot < 0)
						slot = reuse;
				}
				reuse = k;
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
	struct fs_move_job j = {.s = s, .version = daemon_shadow_file_version(s), .fd = -1};
	int ofd = shadow_origin_fd(sh, s);
	name_origin(sh, ofd); /* before the stamps are taken */
	if (ofd < 0 || fstat(ofd, &j.st0) < 0 ||
	    j.st0.st_ino != (ino_t)s->ino || j.st0.st_nlink == 0)
		return -ESTALE; /* not (or no longer) the file of this entry */
	/* A stale remote copy at the file's current version whose origin stamp
	 * is not the origin's now: BACKING changed behind the mount's back
	 * while no copy served (its host down, a refused read), so nothing
	 * compared the stamps then and the version did not move. Moved now:
	 * else the re-sync at that version finds the host holding it
	 * (CURRENT, nothing read or compared) and publishes the old bytes. */
	if (reuse >= 0) {
		struct daemon_origin_stamp now;
		shadow_origin_stamp(&j.st0, &now);
		if (s->copies[reuse].version == j.version &&
		    !shadow_stamp_eq(&s->copies[reuse].origin, &now)) {
			shadow_changed_behind(s);
			j.version = daemon_shadow_file_version(s);
		}
	}
	if (reuse >= 0) {
		j.kind = FS_MOVE_REMOTE;
		j.slot = reuse;
		j.host = s->copies[reuse].host;
		j.base = s->copies[reuse].version;
		daemon_shadow_copy_retire(s, reuse); /* waits for its last readers */
	} else {
		host_inputs(sh, hv, nh, exclude);
		j.host = daemon_control_pick_host_sparse(hv, nh, (uint64_t)j.st0.st_size,
							 sync_stat_data_bytes(&j.st0), exclude,
							 allowed);
		if (j.host < 0) {
			/* Full (or too small) hosts, or none up yet: a remote host
			 * is up only from its first heartbeat, just after start. */
			bool any_up = false;
			for (size_t h = 0; h < nh; h++)
				any_up |= hv[h].up && !exclude[h] &&
					  daemon_control_host_allowed(allowed, h);
			return any_up ? -ENOSPC : -EHOSTDOWN;
		}
		j.slot = slot;
		j.store = fs_hosts_local_store(sh->hosts, (size_t)j.host);
		j.kind = j.store ? FS_MOVE_LOCAL : FS_MOVE_REMOTE;
	}
	j.fd = reopen_origin(sh, ofd);
	if (j.fd < 0) {
		if (reuse >= 0) /* its slot went: so does the stale copy there */
			fs_remote_copies_delete(sh->remote_copies, j.host, s->id,
						SYNC_WIRE_ALL_VERSIONS);
		return j.fd;
	}
	snprintf(j.path, sizeof(j.path), "%s", shadow_path_or(s, "?"));
	if (j.kind == FS_MOVE_REMOTE) /* what it holds of the file is the copy's basis now */
		fs_remote_copies_keep(sh->remote_copies, j.host, s->id);
	struct daemon_shadow_copy *cp = &s->copies[j.slot];
	cp->host = j.host;
	cp->version = j.version;
	cp->remote = j.kind == FS_MOVE_REMOTE;
	/* Under the map lock: carry_end (a FUSE thread, under it) compares and
	 * moves the times of every slot's stamp; written without it, the two
	 * raced (ThreadSanitizer, exerciser shadow_all) and a stamp mixing
	 * this one's fields with carried times took a good copy for stale. */
	daemon_shadow_map_lock(sh->map);
	shadow_origin_stamp(&j.st0, &cp->origin);
	daemon_shadow_map_unlock(sh->map);
	STORE(&cp->state, DAEMON_COPY_SYNCING);
	int r = fs_mover_submit(mover, &j);
	if (r < 0) {
		close(j.fd);
		slot_free(cp);
	}
	return r;
}

/* Whether a copy's failure is one a change of its file during the copy
 * causes: the origin read shorter than its size then (-EIO from the
 * readers in sync/ and the host store), the digest sent first no longer
 * matching the bytes sent after it (a known-ranges update), a delta
 * writing past the size announced, the origin gone. Only then, and only if
 * the file did change, is it not a failure of the host (no back-off, no
 * warning: the next attempt, once the file is quiet, tells). Room and
 * reachability (ENOSPC, timeouts, broken connections) keep the back-off. */
static bool change_can_explain(int rc)
{
	return rc == -EIO || rc == -EBADMSG || rc == -ERANGE || rc == -ESTALE || rc == -ENOENT;
}

/* Applies a copy job the mover finished (control thread): published only
 * if the file is as when the job started (shadow_unchanged_since: its
 * version, no change under way, no unseen writer, the origin's stamps); else the copy is deleted (-EAGAIN:
 * tried again when quiet). A job that failed because the file changed
 * under it is -EAGAIN too. Then the back-off and the log line. */
void shadow_copy_finish(struct fs_shadowing *sh, struct fs_move_job *j, uint64_t t)
{
	struct daemon_shadow_file *s = j->s;
	struct daemon_shadow_copy *cp = &s->copies[j->slot];
	int rc = j->rc;
	if (rc == 0 && LOAD(&j->cancelled))
		rc = -ECANCELED; /* cancelled after its last check */
	if ((rc == 0 || change_can_explain(rc)) &&
	    (LOAD(&s->gone) ||
	     !shadow_unchanged_since(sh, s, j->version, &j->st0, shadow_origin_fd(sh, s))))
		rc = -EAGAIN;
	if (rc < 0) {
		if (j->rc == 0 && j->kind == FS_MOVE_LOCAL)
			daemon_store_delete(j->store, s->id, j->version);
		else if (j->rc == 0 && j->kind == FS_MOVE_REMOTE)
			fs_remote_copies_delete(sh->remote_copies, j->host, s->id, j->version);
		slot_free(cp);
		if (j->kind == FS_MOVE_REMOTE && rc == -ETIMEDOUT && j->res.commit_overdue_ms)
			fs_remote_reads_copy_stuck(sh->remote_reads, j->host,
						   j->res.commit_overdue_ms);
		else if (j->kind == FS_MOVE_REMOTE)
			fs_remote_reads_copy_failed(sh->remote_reads, j->host, rc);
		if (rc == -EAGAIN && !LOAD(&s->gone)) {
			uint64_t at = t + sh->params.quiet_ms + 1;
			if (!sh->pass_soon_ms || at < sh->pass_soon_ms)
				sh->pass_soon_ms = at;
		}
		shadow_copy_noted(sh, s, rc, t);
		return;
	}
	if (j->kind == FS_MOVE_LOCAL) {
		cp->file = j->file;
		memcpy(cp->sha256, j->digest, sizeof(cp->sha256));
		shadow_copy_fd_publish(sh, cp, j->copy_fd); /* kept, or closed */
		j->copy_fd = -1;
		cp->sync_method = FS_REMOTE_NONE;
		cp->sent_bytes = 0;
	} else {
		fs_remote_reads_copy_done(sh->remote_reads, j->host);
		/* CURRENT included: the mover read the origin's digest then */
		memcpy(cp->sha256, j->res.sha256, sizeof(cp->sha256));
		cp->sync_method = (uint8_t)j->res.method;
		cp->sent_bytes = j->res.sent;
	}
	cp->verified_ms = shadow_now_ms();
	uint64_t due = cp->verified_ms + (uint64_t)(sh->cfg.verify_s * 1000);
	if (due < sh->verify_next_ms) /* a walk may have found no copy at all */
		sh->verify_next_ms = due;
	daemon_shadow_copy_publish(s, j->slot, fs_rollout_first_share(&sh->cfg.rollout, cp));
	sfs_debug("shadow: %s copied to host %d (version %llu, %lld bytes, %llu ms)", j->path,
		  j->host, (unsigned long long)j->version, (long long)j->st0.st_size,
		  (unsigned long long)j->run_ms);
	shadow_copy_noted(sh, s, 0, t);
}

/* After a copy attempt: a failure (other than the file changing under it,
 * which the quiet period handles, or the mount stopping during a copy paced
 * by copy_rate) backs the file off, doubling, and is
 * logged as a warning once per streak (-ESTALE, the file gone, only at
 * debug level: it is dropped); a success after failures says so. */
/* Per-file lines a run of copies can repeat for hundreds of files (a host
 * outage, a full store): at info for the first few a minute, then at debug,
 * and how many went to debug is said once the minute is over. */
static bool noisy_info_ok(struct fs_shadowing *sh, uint64_t t)
{
	if (!sh->noisy_window_ms || t - sh->noisy_window_ms >= 60000) {
		if (sh->noisy_suppressed)
			sfs_info("shadow: %u more such lines in the last minute (at debug level)",
				 sh->noisy_suppressed);
		sh->noisy_window_ms = t;
		sh->noisy_logged = sh->noisy_suppressed = 0;
	}
	if (sh->noisy_logged < 5) {
		sh->noisy_logged++;
		return true;
	}
	sh->noisy_suppressed++;
	return false;
}

void shadow_copy_noted(struct fs_shadowing *sh, struct daemon_shadow_file *s, int r,
			     uint64_t t)
{
	if (r == -EAGAIN || r == -ECANCELED) /* changed meanwhile; the mount stopping */
		return;
	const char *path = shadow_path_or(s, "?");
	if (r == -EHOSTDOWN) {
		/* None of its hosts is up: a wait, not a failure of this file (no
		 * back-off, which would delay it after the host is back by up
		 * to 5 min); tried again at each pass. Said once per wait. */
		daemon_shadow_map_lock(sh->map);
		s->copy_error = -r;
		daemon_shadow_map_unlock(sh->map);
		if (!sh->host_wait_logged)
			sfs_info("shadow: %s waits for a host to copy it to (none of its hosts is "
				 "up); so does any other file in that case, until one is",
				 path);
		else
			sfs_debug("shadow: %s: no host up", path);
		sh->host_wait_logged = true;
		return;
	}
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
	if (r == 0)
		sh->host_wait_logged = false;
	if (r == 0 && failures)
		sfs_log(noisy_info_ok(sh, t) ? SFS_LOG_INFO : SFS_LOG_DEBUG,
			"shadow: %s copied after %u failed attempt%s", path, failures,
			failures == 1 ? "" : "s");
	else if (r == -ENOSPC && failures == 0 && shadow_count_serving(s) > 0)
		sfs_log(noisy_info_ok(sh, t) ? SFS_LOG_INFO : SFS_LOG_DEBUG,
			"shadow: no room for another copy of %s (%u serving, %u wanted): "
			"retrying in 1 s, then less and less often",
			path, shadow_count_serving(s), shadow_replicas_of(sh, s));
	else if (r == -ESTALE) /* deleted or replaced: no longer the file it was */
		sfs_debug("shadow: %s: not copied (deleted or replaced)", path);
	else if (r < 0 && failures == 0)
		sfs_warn("shadow: cannot copy %s: %s (retrying in 1 s, then less and less "
			 "often, up to every 5 min)",
			 path, strerror(-r));
	else if (r < 0)
		sfs_debug("shadow: cannot copy %s: %s (attempt %u)", path, strerror(-r),
			  failures + 1);
}

bool shadow_cheaper_host_free(struct fs_shadowing *sh, struct daemon_shadow_file *s,
			      uint64_t allowed, struct shadow_hosts_now *now)
{
	size_t nh = fs_hosts_count(sh->hosts);
	nh = nh > 16 ? 16 : nh;
	bool holds[16] = {false};
	uint64_t stale_back = 0; /* hosts of stale remote copies reachable again */
	int dearest = -1;
	uint64_t size = 0; /* the file's, as its serving copies were made */
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		size_t h = (size_t)s->copies[k].host;
		if (st == DAEMON_COPY_NONE || h >= nh)
			continue;
		if (!shadow_serves_now(s, k)) {
			/* A stale remote copy on a host it can reach again (down
			 * and back while another host took the file) is a new home:
			 * its update, not a new copy (shadow_copy_start reuses it).
			 * Any other copy there, stale ones too: not a new home. */
			if (st != DAEMON_COPY_NONE && st != DAEMON_COPY_SERVING &&
			    !shadow_copying(sh, s, k) && s->copies[k].remote &&
			    !shadow_copy_unreachable(sh, &s->copies[k]))
				stale_back |= DAEMON_CONTROL_HOST_BIT(h);
			else
				holds[h] = true;
			continue;
		}
		holds[h] = true;
		size = (uint64_t)s->copies[k].origin.size;
		if (dearest < 0 ||
		    fs_hosts_spec(sh->hosts, h)->cost > fs_hosts_spec(sh->hosts, (size_t)dearest)->cost)
			dearest = (int)h;
	}
	/* Hosts where its copy lost the rollout lately: not a new home yet. */
	if (s->migrate_blocked_hosts && shadow_now_ms() < s->migrate_block_until_ms)
		for (size_t h = 0; h < nh; h++)
			if (s->migrate_blocked_hosts & DAEMON_CONTROL_HOST_BIT(h))
				holds[h] = true;
	if (dearest < 0)
		return false;
	/* A cheaper host holding a stale copy of it, reachable again: back
	 * there by an update of that copy (its room is already taken). */
	for (size_t h = 0; h < nh; h++)
		if ((stale_back & DAEMON_CONTROL_HOST_BIT(h)) && !holds[h] &&
		    daemon_control_host_allowed(allowed, h) && fs_hosts_up(sh->hosts, h) &&
		    fs_hosts_spec(sh->hosts, h)->cost <
			fs_hosts_spec(sh->hosts, (size_t)dearest)->cost)
			return true;
	for (size_t h = 0; h < nh; h++)
		if (stale_back & DAEMON_CONTROL_HOST_BIT(h))
			holds[h] = true; /* not a host for a new copy either */
	/* Costs are configuration: no cheaper host without a copy (the steady
	 * state), no need to ask the hosts for their room and load. */
	bool cheaper = false;
	for (size_t h = 0; h < nh && !cheaper; h++)
		cheaper = !holds[h] && daemon_control_host_allowed(allowed, h) &&
			  fs_hosts_spec(sh->hosts, h)->cost <
			      fs_hosts_spec(sh->hosts, (size_t)dearest)->cost;
	if (!cheaper)
		return false;
	if (!now->ready) {
		bool none[16] = {false};
		now->n = nh;
		host_inputs(sh, now->hv, now->n, none);
		now->ready = true;
	}
	int best = daemon_control_pick_host(now->hv, now->n, size, holds, allowed);
	return best >= 0 && now->hv[best].cost < now->hv[dearest].cost;
}

/* What the rollout says of copy cp (map lock held). */
static enum daemon_control_verdict copy_verdict(const struct daemon_rollout_params *p,
						const struct daemon_shadow_copy *cp)
{
	const struct daemon_rollout *r = cp->rollout;
	if (r && r->phase == DAEMON_ROLLOUT_ROLLED_BACK)
		return DAEMON_CONTROL_ROLLED_BACK;
	if (r && r->phase == DAEMON_ROLLOUT_STEPPING && r->step >= p->nsteps - 1)
		return DAEMON_CONTROL_PROVEN;
	return DAEMON_CONTROL_UNPROVEN;
}

/* Drops the serving copy on a host not in allowed, else a rolled-back one,
 * else the one on the most expensive host (then the busiest): the file has
 * a copy where user.shadow.hosts does not allow one, or more copies than
 * its replica count. A proven copy waits while another is still stepping
 * up (daemon_control_trim_waits); a rolled-back copy dropped as surplus
 * keeps the file from migrating to its host for a while. */
void shadow_copy_trim(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t allowed)
{
	const struct daemon_rollout_params *rp = &sh->cfg.rollout;
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool holds[16] = {false}, none[16] = {false};
	enum daemon_control_verdict verdict[16] = {DAEMON_CONTROL_PROVEN};
	nh = nh > 16 ? 16 : nh;
	uint64_t now = shadow_now_ms();
	daemon_shadow_map_lock(sh->map);
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (shadow_serves_now(s, k) && (size_t)s->copies[k].host < nh) {
			holds[s->copies[k].host] = true;
			verdict[s->copies[k].host] = copy_verdict(rp, &s->copies[k]);
		}
	uint64_t surplus_ms = now - s->control.needed_ms;
	daemon_shadow_map_unlock(sh->map);
	host_inputs(sh, hv, nh, none);
	int host = daemon_control_pick_surplus(hv, nh, holds, allowed, verdict);
	/* Long enough for a copy with steady reads to climb every step, each
	 * window extended up to 8 times for want of reads (daemon/rollout.h). */
	uint64_t limit_ms = sh->params.idle_ms + (uint64_t)rp->nsteps * 8u * rp->interval_ms;
	bool waits = daemon_control_trim_waits(nh, holds, allowed, verdict, host, surplus_ms, limit_ms);
	daemon_shadow_map_lock(sh->map);
	s->surplus_kept = waits;
	daemon_shadow_map_unlock(sh->map);
	if (waits) {
		sfs_debug("shadow: %s: one copy more than wanted, kept until the new one's "
			  "rollout ends",
			  shadow_path_or(s, "?"));
		return;
	}
	for (int k = 0; host >= 0 && k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (shadow_serves_now(s, k) && s->copies[k].host == host) {
			char label[600];
			fs_hosts_label(sh->hosts, (size_t)host, label, sizeof(label));
			if (!daemon_control_host_allowed(allowed, (size_t)host)) {
				sfs_info("shadow: %s: copy on %s dropped (not among its "
					 "user.shadow.hosts)",
					 shadow_path_or(s, "?"), label);
			} else if (verdict[host] == DAEMON_CONTROL_ROLLED_BACK) {
				daemon_shadow_map_lock(sh->map); /* the state views read them */
				if (now >= s->migrate_block_until_ms)
					s->migrate_blocked_hosts = 0; /* earlier blocks are over */
				s->migrate_blocks++;
				uint64_t block = daemon_control_migrate_block_ms(s->migrate_blocks);
				s->migrate_blocked_hosts |= DAEMON_CONTROL_HOST_BIT((size_t)host);
				s->migrate_block_until_ms = now + block;
				daemon_shadow_map_unlock(sh->map);
				sfs_info("shadow: %s: copy on %s dropped (rolled back, more copies "
					 "than its %u wanted); not migrated there again for %llu min",
					 shadow_path_or(s, "?"), label, shadow_replicas_of(sh, s),
					 (unsigned long long)(block / 60000));
			} else {
				sfs_info("shadow: %s: copy on %s dropped (more copies than its %u "
					 "wanted)",
					 shadow_path_or(s, "?"), label, shadow_replicas_of(sh, s));
			}
			shadow_copy_drop(sh, s, k);
			return;
		}
}
