/* The shadowing control thread (see shadowing_impl.h): every tick, the
 * job the mover finished applied (fs/mover.h: a copy published or cleaned
 * up, a re-hash's verdict); for each file of the shadow map, the decision
 * of daemon/control.c (copy, trim, demote) carried out by
 * fs/shadow_copies.c (a copy handed to the mover; a demotion cancels the
 * file's job there); once a forecast bucket the predictor's hot files and
 * their replica counts; the checks that stop a copy serving (stamps every
 * tick, a SHA-256 re-hash on the mover every shadow_verify); the rollout
 * of each copy (fs/rollout.c); STATE/pins and STATE/shadows.status. It
 * never waits for a copy. */
#include "fs/shadowing_impl.h"

#include <errno.h>
#include <inttypes.h>
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
#include "sync/wire.h"

/* Once a forecast bucket: the predictor's hot files (pred_hot_files on the
 * recorder's store) become wanted, the others stop being so (their copies
 * go after shadow_idle). */
static void refresh_forecast(struct fs_shadowing *sh)
{
	const struct fs_shadowing_config *cf = &sh->cfg;
	char err[256];
	if (!sh->store &&
	    pred_store_open(cf->state_dir, NULL, true, &sh->store, err, sizeof(err)) != 0) {
		sh->store = NULL;
		return; /* no store yet (first bucket not written): next time */
	}
	unsigned horizon = (unsigned)(cf->window_s / cf->bucket_s);
	horizon = horizon < 1 ? 1 : horizon > PRED_MAX_H ? PRED_MAX_H : horizon;
	struct pred_hot_req req = {
	    .bucket_s = cf->bucket_s,
	    .history_s = FS_SHADOW_HISTORY_S,
	    .season = 0,
	    .horizon = horizon,
	    .window = horizon,
	    .top_n = FS_SHADOW_TOP_N,
	    .capacity = cf->capacity,
	    .threshold = cf->threshold,
	    .now = time(NULL),
	    .react = cf->react,
	};
	if (sh->ctx->tuning) /* per-file user.shadow.* settings, every forecast kept */
		fs_tuning_hot_req(sh->ctx->tuning, &req);
	struct pred_hot_file *hot = NULL;
	size_t n = 0;
	size_t nh = fs_hosts_count(sh->hosts); /* one copy per host */
	int r = pred_hot_files(sh->store, &req, &hot, &n);
	uint64_t damaged = pred_store_damaged_rows(sh->store);
	if (damaged && !sh->store_damage_logged) {
		sfs_warn("shadow: the series store in %s has damaged rows (a negative or "
			 "non-numeric count, a bad time or width, a malformed file id): the "
			 "forecasts skip them (%" PRIu64 " so far)",
			 cf->state_dir, damaged);
		sh->store_damage_logged = true;
	}
	if (r < 0) {
		sfs_debug("shadow: forecast failed: %s", strerror(-r));
		return;
	}
	if (sh->ctx->tuning)
		fs_tuning_note_forecast(sh->ctx->tuning, hot, n);
	for (size_t i = 0; i < n; i++) {
		if (!hot[i].hot)
			continue; /* forecast, below its threshold (or never) */
		struct daemon_shadow_file *s = shadow_entry_by_path_locked(sh, hot[i].path);
		if (!s)
			continue;
		/* The replica count: the forecast's 95% bound at its highest
		 * step, or what the last bucket saw if that was more. */
		unsigned cap = hot[i].max_copies ? hot[i].max_copies : cf->max_copies; /* user.shadow.copies */
		unsigned copies = daemon_control_copies_for(fmax(hot[i].demand_hi, hot[i].last_demand),
							    hot[i].capacity, cap < nh ? cap : (unsigned)nh);
		if (!s->hot && hot[i].reactive)
			sfs_info("shadow: %s over capacity (%.0f reads in the last bucket > %.0f): "
				 "shadowed, %u cop%s",
				 hot[i].path, hot[i].last_demand, hot[i].capacity, copies,
				 copies == 1 ? "y" : "ies");
		else if (!s->hot)
			sfs_info("shadow: %s forecast hot (P=%.2f > capacity %.0f reads/bucket): "
				 "shadowed, %u cop%s",
				 hot[i].path, hot[i].p_exceed, hot[i].capacity, copies,
				 copies == 1 ? "y" : "ies");
		else if (copies != s->want_copies)
			sfs_info("shadow: %s now wants %u cop%s (95%% bound %.0f reads/bucket, "
				 "capacity %.0f)",
				 hot[i].path, copies, copies == 1 ? "y" : "ies",
				 fmax(hot[i].demand_hi, hot[i].last_demand), hot[i].capacity);
		s->hot_mark = true;
		s->want_mark = copies;
		s->reactive_mark = hot[i].reactive;
		s->overloaded_mark = hot[i].last_demand > hot[i].capacity;
		daemon_shadow_map_unlock(sh->map);
	}
	pred_hot_files_free(hot, n);
	daemon_shadow_map_lock(sh->map);
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		if (!cf->shadow_all)
			s->hot = s->hot_mark;
		s->want_copies = s->want_mark;
		s->reactive = s->reactive_mark;
		s->overloaded = s->overloaded_mark;
		s->hot_mark = s->reactive_mark = s->overloaded_mark = false;
		s->want_mark = 0;
	}
	daemon_shadow_map_unlock(sh->map);
}

/* Each tick, for serving copies: outdated versions are shown STALE, and an
 * origin or copy file changed on disk stops its copy serving, as does a
 * remote host that is down (re-synced when it is back: it usually still
 * holds the version, and nothing is shipped). A host only suspect after a
 * failed read keeps its copies: the router skips them until it is healthy. */
static void check_copies(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	struct daemon_origin_stamp now = {0};
	bool serving = false;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		serving |= LOAD(&s->copies[k].state) == DAEMON_COPY_SERVING;
	if (!serving)
		return; /* nothing to check: no origin fd needed (fs/shadow_origin.c) */
	bool have = shadow_origin_stamp_now(sh, s, &now);
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		if (LOAD(&cp->state) != DAEMON_COPY_SERVING)
			continue;
		if (have && !shadow_stamp_eq(&cp->origin, &now) &&
		    cp->version == daemon_shadow_file_version(s))
			shadow_changed_behind(s); /* in BACKING, behind the mount's back */
		if (cp->version != daemon_shadow_file_version(s) || !have ||
		    !shadow_copy_intact(sh, s, k, &now) ||
		    (cp->remote && !fs_hosts_up(sh->hosts, (size_t)cp->host)))
			daemon_shadow_copy_mark_stale(s, k);
		else if (!cp->remote)
			shadow_copy_fd_idle(sh, s, k);
	}
}

/* At most one serving copy per tick whose last SHA-256 check is older than
 * shadow_verify is handed to the mover to be re-hashed from its store
 * (daemon_store_verify_each; a remote one by its shadowd,
 * fs_remote_copies_verify), when the mover has nothing else to do: damage
 * the stamps cannot see (below the filesystem) stops it serving too
 * (verify_finish). The cursor walks the map round-robin. */
static void verify_one(struct fs_shadowing *sh, uint64_t t)
{
	uint64_t every = (uint64_t)(sh->cfg.verify_s * 1000);
	size_t n = daemon_shadow_map_size(sh->map);
	if (!every || !n || !fs_mover_idle(sh->mover) || t < sh->verify_next_ms)
		return;
	/* A walk that finds none due says when the first one is (never,
	 * without copies): none is walked for before then, or before a copy
	 * published meanwhile is due (shadow_copy_finish lowers it). */
	uint64_t first_due = UINT64_MAX;
	for (size_t tries = 0; tries < n; tries++) {
		daemon_shadow_map_lock(sh->map);
		struct daemon_shadow_file *s =
		    daemon_shadow_map_at(sh->map, sh->verify_cursor++ % n);
		daemon_shadow_map_unlock(sh->map);
		for (int k = 0; s && k < DAEMON_SHADOW_MAX_COPIES; k++) {
			struct daemon_shadow_copy *cp = &s->copies[k];
			/* verified_ms may be later than t: a copy made in this tick */
			if (LOAD(&cp->state) != DAEMON_COPY_SERVING)
				continue;
			if (t < cp->verified_ms || t - cp->verified_ms < every) {
				uint64_t due = cp->verified_ms + every;
				first_due = due < first_due ? due : first_due;
				continue;
			}
			struct fs_move_job j = {.kind = FS_MOVE_VERIFY,
						.s = s,
						.slot = k,
						.host = cp->host,
						.remote = cp->remote,
						.version = cp->version,
						.fd = -1,
						.store = fs_hosts_local_store(sh->hosts, (size_t)cp->host),
						.size = (uint64_t)cp->origin.size,
						.generation = cp->generation};
			memcpy(j.sha256, cp->sha256, sizeof(j.sha256));
			snprintf(j.path, sizeof(j.path), "%s", shadow_path_or(s, "?"));
			cp->verified_ms = t;
			fs_mover_submit(sh->mover, &j); /* idle: cannot be busy */
			return;
		}
	}
	sh->verify_next_ms = first_due;
}

/* A re-hash the mover finished: a copy that failed it stops serving (and
 * is re-copied), if it is still the copy that was re-hashed. */
static void verify_finish(struct fs_shadowing *sh, const struct fs_move_job *j)
{
	struct daemon_shadow_copy *cp = &j->s->copies[j->slot];
	int r = j->rc;
	if (LOAD(&cp->state) != DAEMON_COPY_SERVING || cp->generation != j->generation ||
	    cp->version != j->version)
		return; /* dropped or replaced meanwhile */
	if (LOAD(&j->cancelled) || r == -ECANCELED) {
		cp->verified_ms = 0; /* put off for a copy: owed, at the next free moment */
		sh->verify_next_ms = 0;
		return;
	}
	if (r < 0 && r != -ENOENT && r != -EBADMSG && cp->remote)
		return; /* not reachable now: reads find out, not this */
	if (r < 0) {
		char where[600];
		fs_hosts_label(sh->hosts, (size_t)cp->host, where, sizeof(where));
		sfs_warn("shadow: copy of %s on %s failed its SHA-256 check (%s): "
			 "not served, re-copied",
			 j->path, where, r == -EBADMSG ? "SHA-256 mismatch" : strerror(-r));
		daemon_shadow_copy_mark_stale(j->s, j->slot);
	}
}

/* The job a mover finished, applied: a copy published (or cleaned up), a
 * re-hash's verdict. */
static bool apply_done_job(struct fs_shadowing *sh, struct fs_mover *m, uint64_t t)
{
	struct fs_move_job *j = fs_mover_done(m);
	if (!j)
		return false;
	if (j->kind == FS_MOVE_VERIFY)
		verify_finish(sh, j);
	else
		shadow_copy_finish(sh, j, t);
	fs_mover_release(m);
	return true;
}

/* A remote host that is down takes no copy: a job syncing to it stops. */
static void cancel_for_down_hosts(struct fs_shadowing *sh)
{
	size_t nh = fs_hosts_count(sh->hosts);
	for (size_t h = 0; h < nh; h++) {
		if (fs_hosts_local_store(sh->hosts, h) || fs_hosts_up(sh->hosts, h))
			continue;
		/* both movers are asked, whatever the first answers */
		bool a = fs_mover_cancel_host(sh->mover, (int)h);
		bool b = fs_mover_cancel_host(sh->express, (int)h);
		if (a || b)
			sfs_debug("shadow: host %zu down: its job on the mover cancelled", h);
	}
}

/* A remote host that went down or came back since the last tick (a
 * shadowd restarted between two looks too): its copies stop serving, quiet
 * entries' too (a pass leaves those alone, so a copy on a host that was down
 * while its file was unread served again as it was), and are re-synced once
 * it is up, which has the host re-hash a copy it says it holds
 * (fs_remote_copies_make): its store may have changed while it was down. */
static void follow_host_changes(struct fs_shadowing *sh)
{
	size_t nh = fs_hosts_count(sh->hosts);
	bool any = false;
	if (sh->nhost_since < nh) {
		uint64_t *p = realloc(sh->host_since, nh * sizeof(*p));
		if (!p)
			return; /* next tick */
		memset(p + sh->nhost_since, 0, (nh - sh->nhost_since) * sizeof(*p));
		sh->host_since = p;
		sh->nhost_since = nh;
	}
	bool *changed = calloc(nh ? nh : 1, sizeof(*changed));
	if (!changed)
		return;
	for (size_t h = 0; h < nh; h++) {
		uint64_t since = fs_hosts_since_ms(sh->hosts, h);
		/* the first state known is no change */
		changed[h] = sh->host_since[h] && since != sh->host_since[h];
		any |= changed[h];
		sh->host_since[h] = since;
	}
	for (size_t k = 0; any; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		for (int c = 0; c < DAEMON_SHADOW_MAX_COPIES; c++) {
			struct daemon_shadow_copy *cp = &s->copies[c];
			if (cp->remote && cp->host >= 0 && (size_t)cp->host < nh &&
			    changed[cp->host] && LOAD(&cp->state) == DAEMON_COPY_SERVING &&
			    daemon_shadow_copy_mark_stale(s, c))
				sfs_debug("shadow: host %d went down or came back: its copy of %s "
					  "re-synced",
					  cp->host, shadow_path_or(s, "?"));
		}
	}
	free(changed);
}

static void fill_status(FILE *out, void *arg)
{
	struct fs_shadowing *sh = arg;
	char line[4096];
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		if (!s->pinned && !s->hot && !shadow_any_copy(s))
			continue;
		shadow_describe(sh, s, shadow_writers_of(sh, s), line, sizeof(line));
		fputs("path=", out);
		fs_status_put_quoted(out, shadow_path_or(s, ""));
		fprintf(out, " %s\n", line);
		sh->status_lines++;
	}
}

/* The order of the copies waiting for the mover: a file over capacity now
 * first, then one that no copy serves yet (before more replicas of one that
 * has some), then the one with the most origin reads lately. */
static uint64_t copy_urgency(const struct daemon_shadow_file *s, unsigned serving_copies)
{
	uint64_t reads = s->reads_recent < (1ull << 60) ? s->reads_recent : (1ull << 60) - 1;
	return (s->overloaded ? 1ull << 62 : 0) | (serving_copies == 0 ? 1ull << 61 : 0) | reads;
}

/* The hosts of the copies serving now (the control input's mask). */
static uint64_t serving_hosts(struct daemon_shadow_file *s)
{
	uint64_t m = 0;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (shadow_serves_now(s, k))
			m |= DAEMON_CONTROL_HOST_BIT((unsigned)s->copies[k].host);
	return m;
}

/* The deletes that failed while a host was unreachable, once it is back
 * (fs_remote_copies_delete_later). */
static void retry_deletes(struct fs_shadowing *sh)
{
	for (size_t h = 0; sh->remote_copies && h < fs_hosts_count(sh->hosts); h++) {
		if (!fs_remote_copies_later_count(sh->remote_copies, (int)h) ||
		    !fs_remote_reads_usable(sh->remote_reads, (int)h))
			continue;
		size_t n = fs_remote_copies_retry_deletes(sh->remote_copies, (int)h);
		if (n) {
			char where[600];
			fs_hosts_label(sh->hosts, h, where, sizeof(where));
			sfs_info("shadow: %s is back: %zu cop%s deleted there now, %zu left", where,
				 n, n == 1 ? "y" : "ies",
				 fs_remote_copies_later_count(sh->remote_copies, (int)h));
		}
	}
}

/* An entry nothing wants and nothing holds (not pinned, hot or
 * overloaded; no copy, no job) is parked: not live, its origin fd (if
 * cached, fs/shadow_origin.c) closed under the map lock, and passes skip
 * it; once no inode or op points to it either, a pass frees it
 * (fs/shadow_reclaim.c). Whatever wants the file again makes it live
 * again: a pin (entry_make, from the inode), the forecast
 * (shadow_entry_by_path_locked), shadow_all (at open), and unpark below
 * for a pin or a forecast that raced the parking. */
static void park(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	if (shadow_copying(sh, s, -1)) /* only this thread starts jobs */
		return;
	daemon_shadow_map_lock(sh->map);
	if (s->origin_live && !s->pinned && !s->hot && !s->overloaded && !s->gone &&
	    !shadow_any_copy(s))
		shadow_origin_close_locked(sh, s);
	daemon_shadow_map_unlock(sh->map);
}

/* A parked entry wanted again whose fd nothing opened again (a pin set
 * while it was being parked): by its path (a copy taken under the map
 * lock), if that is still its file. */
static void unpark(struct fs_shadowing *sh, char *path)
{
	if (path && shadow_entry_by_path_locked(sh, path)) /* sets the fd of the file there */
		daemon_shadow_map_unlock(sh->map);
	free(path);
}

/* A file that wants a copy, as the control decided it. */
struct copy_pick {
	struct daemon_shadow_file *s;
	uint64_t allowed; /* hosts it may go to */
	uint64_t urgency; /* copy_urgency; 0 for a migration */
	bool migrates;
};

/* What a pass over the entries (or over the candidates) gathers. */
struct scan {
	uint64_t t;
	bool mover_idle; /* migrations only then */
	bool express_free;
	const struct daemon_shadow_file *under_way;
	struct shadow_hosts_now hosts_now;
	bool copy_waits; /* a file wants a copy while the mover is busy */
	struct copy_pick express;
	/* files wanting a copy, most urgent first */
	struct copy_pick wanted[SHADOW_CANDIDATES + 1];
	size_t nwanted, nwanted_all; /* kept, and all there were */
};

/* Into sc->wanted, kept in urgency order (the least urgent falls off). */
static void want_copy(struct scan *sc, const struct copy_pick *p)
{
	size_t cap = sizeof(sc->wanted) / sizeof(sc->wanted[0]);
	sc->nwanted_all++;
	size_t i = sc->nwanted < cap ? sc->nwanted++ : cap;
	if (i == cap && p->urgency <= sc->wanted[cap - 1].urgency)
		return;
	if (i == cap)
		i = cap - 1;
	while (i > 0 && sc->wanted[i - 1].urgency < p->urgency) {
		sc->wanted[i] = sc->wanted[i - 1];
		i--;
	}
	sc->wanted[i] = *p;
}

/* A settled file (the copies it wants serve, none to make, no migration)
 * that still holds a stale copy on a remote host it can reach again (the
 * host was down while another took the file, and is no cheaper): that copy
 * is the basis of no sync to come; deleted there, not kept until the
 * shadowd expires it (a week by default) against its space budget. */
static void drop_stale_remote(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		if (st == DAEMON_COPY_NONE || st == DAEMON_COPY_SERVING || !s->copies[k].remote ||
		    shadow_copying(sh, s, k) || shadow_copy_unreachable(sh, &s->copies[k]))
			continue;
		char where[600];
		fs_hosts_label(sh->hosts, (size_t)s->copies[k].host, where, sizeof(where));
		sfs_info("shadow: stale copy of %s on %s dropped (the host is back; the file's "
			 "copies serve elsewhere)",
			 shadow_path_or(s, "?"), where);
		shadow_copy_drop(sh, s, k);
	}
}

/* One entry: its copies checked, the control's decision carried out
 * (trim, demote, parking, rollout); a copy it wants goes to sc. */
static void consider(struct fs_shadowing *sh, struct daemon_shadow_file *s, struct scan *sc)
{
	uint64_t t = sc->t;
	struct daemon_control_file in = {0};
	struct daemon_control_memory mem = {0};
	char *parked_path = NULL;
	daemon_shadow_map_lock(sh->map);
	uint64_t reads = LOAD(&s->origin_reads);
	uint64_t fresh = reads - s->reads_seen;
	s->reads_seen = reads;
	/* The decay of the passes that left it alone (quiet: no reads). */
	for (uint64_t p = s->considered_pass + 1; p < sh->passes && s->reads_recent >= 8; p++)
		s->reads_recent -= s->reads_recent / 8;
	s->reads_recent =
	    s->reads_recent - s->reads_recent / 8 + (fresh < (1ull << 50) ? fresh : 1ull << 50) * 8;
	in.pinned = s->pinned;
	in.hot = s->hot;
	in.gone = s->gone;
	if ((s->pinned || s->hot) && !s->gone && !s->origin_live && shadow_path_or(s, NULL))
		parked_path = strdup(shadow_path_or(s, NULL)); /* wanted again: unpark */
	in.retry_ms = s->retry_ms;
	mem = s->control;
	daemon_shadow_map_unlock(sh->map);
	if (parked_path)
		unpark(sh, parked_path);
	if (!in.gone && shadow_origin_gone(sh, s)) {
		/* Deleted in BACKING, not through the mount: as an unlink
		 * through it. Before, a pinned one stayed pinned (its copy
		 * retried, a remote one kept) and its fd kept the space. */
		sfs_info("shadow: %s was deleted behind the mount's back: its pin and copies "
			 "dropped",
			 shadow_path_or(s, "a file"));
		shadow_mark_gone(sh, s);
		in.gone = true;
		in.pinned = false;
	}
	check_copies(sh, s);
	struct fs_tuning_control tc;
	/* s's path: this thread's to read (fs/shadow_paths.c) */
	fs_tuning_control_fd(sh->ctx->tuning,
			     fs_tuning_control_needs_fd(sh->ctx->tuning) ? shadow_origin_fd(sh, s) : -1,
			     shadow_path_or(s, NULL), &tc);
	in.never = tc.never;
	in.hosts_limited = tc.hosts_limited;
	in.allowed_hosts = tc.allowed_hosts;
	daemon_shadow_map_lock(sh->map);
	s->hosts_limited = tc.hosts_limited;
	s->allowed_hosts = tc.allowed_hosts;
	s->never = tc.never;
	in.want_copies = shadow_replicas_of(sh, s); /* capped by the allowed hosts */
	daemon_shadow_map_unlock(sh->map);
	in.writes_unseen = shadow_writes_unseen(sh, s);
	in.serving_copies = shadow_count_serving(s);
	in.serving_hosts = serving_hosts(s);
	in.has_copies = shadow_any_copy(s);
	in.copying = shadow_copying(sh, s, -1);
	in.version_ms = LOAD(&s->version_ms);
	in.migrate = sc->mover_idle && !in.copying && in.serving_copies > 0 &&
		     shadow_cheaper_host_free(sh, s, daemon_control_allowed(&in), &sc->hosts_now);
	bool migrating = in.migrate && in.serving_copies >= (in.want_copies ? in.want_copies : 1);
	enum daemon_control_action a = daemon_control_decide(&sh->params, &in, t, &mem);
	daemon_shadow_map_lock(sh->map);
	s->control = mem;
	if (a != DAEMON_CONTROL_TRIM)
		s->surplus_kept = false;
	daemon_shadow_map_unlock(sh->map);
	uint64_t allowed = daemon_control_allowed(&in);
	/* A copy under way to a host user.shadow.hosts no longer allows
	 * stops now, not after a paced copy published then trimmed. */
	if (in.copying && in.hosts_limited)
		for (int c = 0; c < DAEMON_SHADOW_MAX_COPIES; c++)
			if (shadow_copying(sh, s, c) &&
			    !daemon_control_host_allowed(allowed, (size_t)s->copies[c].host))
				shadow_cancel_jobs(sh, s, c);
	if (a == DAEMON_CONTROL_COPY) {
		daemon_shadow_map_lock(sh->map);
		struct copy_pick p = {.s = s,
				      .allowed = allowed,
				      .urgency = migrating ? 0 : copy_urgency(s, in.serving_copies),
				      .migrates = migrating};
		bool overloaded = s->overloaded;
		bool host_wait = s->copy_error == EHOSTDOWN;
		daemon_shadow_map_unlock(sh->map);
		want_copy(sc, &p);
		if (!fs_mover_idle(sh->mover)) {
			sc->copy_waits = true; /* when the mover is free */
			/* An overloaded file's copy; while the mover runs a
			 * migration, any copy a file needs (not one waiting
			 * for a host up: it would not start). */
			if (sc->express_free &&
			    (overloaded || (sc->under_way == sh->mover_migration && !host_wait)) &&
			    (!sc->express.s || p.urgency > sc->express.urgency))
				sc->express = p;
		}
	} else if (a == DAEMON_CONTROL_NONE && !in.migrate && daemon_control_settled(&in)) {
		drop_stale_remote(sh, s);
	} else if (a == DAEMON_CONTROL_TRIM) {
		shadow_copy_trim(sh, s, allowed);
	} else if (a == DAEMON_CONTROL_DEMOTE) {
		for (int c = 0; c < DAEMON_SHADOW_MAX_COPIES; c++)
			if (shadow_copying(sh, s, c)) {
				/* with the mover: cancelled, cleaned up there */
				shadow_cancel_jobs(sh, s, c);
			} else if (LOAD(&s->copies[c].state) != DAEMON_COPY_NONE) {
				if (shadow_copy_unreachable(sh, &s->copies[c]))
					daemon_shadow_copy_mark_stale(s, c); /* next ticks */
				else
					shadow_copy_drop(sh, s, c);
			}
		sfs_debug("shadow: %s demoted", shadow_path_or(s, "?"));
	}
	if (in.gone && !shadow_any_copy(s)) {
		daemon_shadow_map_lock(sh->map);
		shadow_origin_close_locked(sh, s); /* lets BACKING free the space */
		daemon_shadow_map_unlock(sh->map);
	} else if (a == DAEMON_CONTROL_NONE || a == DAEMON_CONTROL_DEMOTE) {
		park(sh, s);
	}
	fs_rollout_tick(&sh->cfg.rollout, sh->map, s, sh->hosts, t);
	shadow_quiet_note(sh, s, a == DAEMON_CONTROL_NONE && daemon_control_settled(&in));
}

static void scan_begin(struct fs_shadowing *sh, struct scan *sc, uint64_t t)
{
	*sc = (struct scan){.t = t};
	sc->mover_idle = fs_mover_idle(sh->mover);
	sc->under_way = fs_mover_copy_of(sh->mover);
	sc->express_free = sc->under_way && !sc->under_way->overloaded && fs_mover_idle(sh->express);
}

/* Starts p's copy on the mover; false when it did not start. */
static bool start_copy(struct fs_shadowing *sh, const struct copy_pick *p, uint64_t t)
{
	int r = shadow_copy_start(sh, sh->mover, p->s, p->allowed);
	if (r == 0)
		sh->mover_migration = p->migrates ? p->s : NULL;
	if (r == 0 && p->migrates)
		sfs_info("shadow: %s: copied to a cheaper host; the dearest copy is dropped "
			 "once there is one more than wanted for shadow_idle",
			 shadow_path_or(p->s, "?"));
	if (r < 0 && r != -EBUSY)
		shadow_copy_noted(sh, p->s, r, t);
	return r == 0;
}

/* Between two passes, a mover just freed: the next candidate that still
 * wants a copy (decided again, as a pass would) is started. False when
 * none is left: a pass finds the next ones. */
static bool start_next_candidate(struct fs_shadowing *sh, uint64_t t)
{
	while (sh->next_candidate < sh->ncandidates) {
		struct daemon_shadow_file *s = sh->candidates[sh->next_candidate++];
		struct scan sc;
		scan_begin(sh, &sc, t);
		consider(sh, s, &sc);
		if (sc.nwanted && start_copy(sh, &sc.wanted[0], t))
			return true;
	}
	return false;
}

static void write_pins_and_status(struct fs_shadowing *sh, bool status)
{
	pthread_mutex_lock(&sh->lock);
	bool pins = sh->pins_dirty;
	sh->pins_dirty = false;
	pthread_mutex_unlock(&sh->lock);
	if (pins)
		shadow_write_pins(sh);
	uint64_t t0 = shadow_now_ms();
	if (!status || t0 < sh->status_next_ms)
		return;
	daemon_shadow_map_lock(sh->map);
	sh->status_lines = 0;
	int r = fs_status_file_write(sh->status_path, fill_status, sh);
	daemon_shadow_map_unlock(sh->map);
	if (r < 0)
		sfs_warn("cannot write %s: %s", sh->status_path, strerror(-r));
	/* A line per entry, under the map lock: with tens of thousands of
	 * entries (5.8 MB at 30,000, 150 ms) rewritten each pass it took a
	 * fifth of the thread. A write of 1,000 lines or more that took 20 ms
	 * or more is not followed by another before 50 times that; a smaller
	 * file (however slow the disk was for it: a stall of a loaded disk
	 * once held a one-line file back for seconds) is rewritten by every
	 * pass and every finished copy, as before (shadowctl shows a copy as
	 * soon as user.shadow.state does). */
	uint64_t spent = shadow_now_ms() - t0;
	sh->status_next_ms = spent >= 20 && sh->status_lines >= 1000 ? t0 + 50 * spent : 0;
}

/* When the next pass over every entry is due: one period after the last
 * began, and half a period after it ended at least (a pass longer than
 * the period must not take the whole thread); sooner for a copy dropped
 * because its file changed (pass_soon_ms). */
static uint64_t next_pass_ms(const struct fs_shadowing *sh)
{
	uint64_t period_ms = (uint64_t)(sh->cfg.tick_s * 1000);
	uint64_t at = sh->scan_ms + period_ms;
	if (at < sh->scan_done_ms + period_ms / 2)
		at = sh->scan_done_ms + period_ms / 2;
	return sh->pass_soon_ms && sh->pass_soon_ms < at ? sh->pass_soon_ms : at;
}

/* One tick: a pass over every entry when the period is up or something
 * asked for one (rescan), else (a mover finished a job) only the next
 * candidate. */
static void tick(struct fs_shadowing *sh, bool rescan)
{
	shadow_paths_reap(sh); /* this thread holds none of the retired paths */
	uint64_t t = shadow_now_ms();
	bool applied = apply_done_job(sh, sh->mover, t);
	applied |= apply_done_job(sh, sh->express, t);
	cancel_for_down_hosts(sh);
	follow_host_changes(sh);
	retry_deletes(sh);
	if (sh->cfg.forecast &&
	    (!sh->forecast_ms || t - sh->forecast_ms >= (uint64_t)sh->cfg.bucket_s * 1000u)) {
		sh->forecast_ms = t;
		refresh_forecast(sh);
		rescan = true; /* other files are hot now */
	}
	/* Candidates used up while the last pass left more out: a pass now. */
	if (sh->next_candidate >= sh->ncandidates && sh->more_wanted && fs_mover_idle(sh->mover))
		rescan = true;
	if (!rescan && t < next_pass_ms(sh)) {
		bool started = fs_mover_idle(sh->mover) && fs_hosts_settled(sh->hosts) &&
			       start_next_candidate(sh, t);
		if (!started)
			verify_one(sh, t);
		/* The status shows a finished job at once, but not after every
		 * copy of a run of them: at its end, or at the next pass. */
		write_pins_and_status(sh, applied && !started);
		return;
	}
	sh->scan_ms = t;
	sh->pass_soon_ms = 0; /* this pass looks again at what it was for */
	sh->passes++;
	fs_tuning_sweep(sh->ctx->tuning); /* settings of files deleted behind the mount's back */
	bool look_all = shadow_quiet_look_all(sh);
	sh->pass_looked = sh->pass_quiet = 0;
	/* The most urgent copies wanted; or, when the mover copies a file
	 * that is not over capacity, the most urgent copy of one that is, for
	 * the express lane (fs/mover.h). */
	struct scan sc;
	scan_begin(sh, &sc, t);
	for (size_t k = 0;;) {
		daemon_shadow_map_lock(sh->map);
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		/* A parked entry nothing wants has nothing to decide; it is
		 * freed once no inode or op points to it (fs/shadow_reclaim.c:
		 * the last entry takes its index, looked at next). No job
		 * either: a job's slot is in use (shadow_any_copy). A quiet
		 * one, settled and unread, only now and then
		 * (fs/shadow_quiet.c). */
		bool parked = s && !s->origin_live && !s->pinned && !s->hot && !s->overloaded &&
			      !shadow_any_copy(s);
		bool unlinked = parked && s->inode_links == 0 && s->holds == 0;
		bool quiet = s && !parked && !look_all && shadow_quiet_skip(s, k, sh->passes, t);
		daemon_shadow_map_unlock(sh->map);
		if (!s)
			break;
		if (unlinked && shadow_reclaim(sh, s))
			continue;
		k++;
		sh->pass_quiet += quiet;
		if (!parked && !quiet) {
			sh->pass_looked++;
			consider(sh, s, &sc);
		}
	}
	/* No copy until every remote host has shown up or not (fs_hosts_settled:
	 * the first heartbeats, at start): none goes to a dearer host for want
	 * of a cheaper one not up yet. */
	bool settled = fs_hosts_settled(sh->hosts);
	bool started = false, expressed = false;
	sh->ncandidates = sh->next_candidate = 0;
	size_t first = 0;
	if (settled && fs_mover_idle(sh->mover) && sc.nwanted) {
		/* The most urgent that starts (one that cannot, for want of a
		 * host up or of room, shows why in its state). */
		while (first < sc.nwanted && !started)
			started = start_copy(sh, &sc.wanted[first++], t);
	} else if (settled && sc.express.s) {
		int r = shadow_copy_start(sh, sh->express, sc.express.s, sc.express.allowed);
		expressed = r == 0;
		if (r == 0)
			sfs_info("shadow: %s %s: copied now, the %s of %s under way pauses "
				 "meanwhile",
				 shadow_path_or(sc.express.s, "?"),
				 sc.express.s->overloaded ? "is over capacity" : "needs a copy",
				 sc.under_way == sh->mover_migration ? "migration" : "copy",
				 shadow_path_or(sc.under_way, "?"));
		else if (r != -EBUSY)
			shadow_copy_noted(sh, sc.express.s, r, t);
	}
	for (size_t i = first; i < sc.nwanted && sh->ncandidates < SHADOW_CANDIDATES; i++)
		if (sc.wanted[i].s != sc.express.s || !expressed)
			sh->candidates[sh->ncandidates++] = sc.wanted[i].s;
	sh->more_wanted = sc.nwanted_all > sc.nwanted;
	if (!started && !expressed && sc.copy_waits && fs_mover_cancel_verify(sh->mover)) {
		/* At info once a minute: a copy that keeps failing (a host
		 * down) puts the owed re-hash off at each of its retries. */
		bool quiet = sh->putoff_logged_ms && t - sh->putoff_logged_ms < 60000;
		if (!quiet)
			sh->putoff_logged_ms = t;
		sfs_log(quiet ? SFS_LOG_DEBUG : SFS_LOG_INFO,
			"shadow: a re-hash put off for a copy that waits for the mover "
			"(re-hashed later)");
	}
	verify_one(sh, t);
	write_pins_and_status(sh, true);
	fs_hosts_refresh_status(sh->hosts); /* local stores' copies and bytes */
	sh->scan_done_ms = shadow_now_ms();
	shadow_quiet_write_stats(sh, sh->scan_done_ms - t);
}

void *shadow_control_thread(void *arg)
{
	struct fs_shadowing *sh = arg;
	bool rescan = true;
	pthread_mutex_lock(&sh->lock);
	while (!sh->stopping) {
		sh->wake_pending = sh->rescan_pending = false; /* this tick acts on it */
		pthread_mutex_unlock(&sh->lock);
		tick(sh, rescan);
		pthread_mutex_lock(&sh->lock);
		if (sh->stopping)
			break;
		uint64_t at = next_pass_ms(sh), now = shadow_now_ms();
		uint64_t ns = (at > now ? at - now : 0) * 1000000u;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec += (long)(ns % 1000000000u);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		int r = 0;
		while (!sh->wake_pending && !sh->stopping && r != ETIMEDOUT)
			r = pthread_cond_timedwait(&sh->wake, &sh->lock, &ts);
		rescan = sh->rescan_pending || !sh->wake_pending;
	}
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}
