/* Rollout of copies, the mount's glue (see rollout.h). The machine runs
 * under the map lock, which the read path never takes: readers only see
 * the share, one atomic word per copy. */
#include "fs/rollout.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "daemon/rollout.h"
#include "daemon/shadow_map.h"
#include "fs/hosts.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

/* Whether the copy in cp is a new one on the host of the copy whose
 * rollout r tracked (daemon_rollout_resume). */
static bool resumes(const struct daemon_rollout *r, const struct daemon_shadow_copy *cp)
{
	return r && r->copy_generation != 0 && r->copy_generation != cp->generation &&
	       r->copy_host == cp->host;
}

uint32_t fs_rollout_first_share(const struct daemon_rollout_params *p,
				const struct daemon_shadow_copy *cp)
{
	const struct daemon_rollout *r = cp->rollout;
	bool same_host = r && r->copy_host == cp->host && r->copy_generation != 0;
	/* Rolled back on this host: it resumes rolled back at the next tick.
	 * Before, it served the first step's share until then (rollout=100:
	 * every read a shadow_tick long, at the latency it was rolled back
	 * for, after each write to the file). */
	if (same_host && r->stopped == DAEMON_ROLLOUT_ROLLED_BACK)
		return 0;
	int step = same_host && r->stopped == DAEMON_ROLLOUT_STEPPING && r->step < p->nsteps
		       ? r->step
		       : 0;
	return p->steps[step];
}

static double pct(uint32_t permille)
{
	return permille / 10.0;
}

size_t fs_rollout_describe(const struct daemon_rollout_params *p,
			   const struct daemon_shadow_copy *cp, char *out, size_t len)
{
	const struct daemon_rollout *r = cp->rollout;
	int n = snprintf(out, len, ":share=%g:step=%d/%d:rollout=%s", pct(LOAD(&cp->share)),
			 r && r->phase == DAEMON_ROLLOUT_STEPPING ? r->step + 1 : 0, p->nsteps,
			 daemon_rollout_phase_name(r ? r->phase : DAEMON_ROLLOUT_OFF));
	size_t used = n > 0 ? (size_t)n : 0;
	if (r && r->reason[0]) {
		n = snprintf(out + (used < len ? used : len), used < len ? len - used : 0,
			     ":why=%s", r->reason);
		used += n > 0 ? (size_t)n : 0;
	}
	int q = 0;
	uint64_t bound = r ? daemon_rollout_early_bound_ns(r, p, &q) : 0;
	if (q) { /* what the origin must pass for an early retry (daemon/rollout.h) */
		n = snprintf(out + (used < len ? used : len), used < len ? len - used : 0,
			     ":retry_when_origin_p%d_us>%llu", q,
			     (unsigned long long)(bound / 1000));
		used += n > 0 ? (size_t)n : 0;
	}
	return used;
}

/* One line for the log, made under the map lock, written after it. */
static void event_line(const struct daemon_rollout_params *p, const struct daemon_rollout *r,
		       enum daemon_rollout_event ev, uint32_t before, const char *what,
		       uint64_t now_ms, char *line, size_t len)
{
	const struct daemon_rollout_window *w = &r->last;
	switch (ev) {
	case DAEMON_ROLLOUT_STEP_UP:
	case DAEMON_ROLLOUT_STEP_DOWN:
		snprintf(line, len,
			 "shadow: rollout: %s %g%% -> %g%% (copy p50 %lluus p95 %lluus over %llu "
			 "reads, %sorigin p50 %lluus p95 %lluus over %llu)%s%s",
			 what, pct(before), pct(daemon_rollout_share(r, p)),
			 (unsigned long long)(w->copy_p50_ns / 1000),
			 (unsigned long long)(w->copy_p95_ns / 1000),
			 (unsigned long long)w->copy_reads,
			 before >= DAEMON_SHARE_FULL ? "busy " : "",
			 (unsigned long long)(w->origin_p50_ns / 1000),
			 (unsigned long long)(w->origin_p95_ns / 1000),
			 (unsigned long long)w->origin_reads,
			 ev == DAEMON_ROLLOUT_STEP_DOWN ? ": slower, " : "",
			 ev == DAEMON_ROLLOUT_STEP_DOWN ? r->reason : "");
		break;
	case DAEMON_ROLLOUT_ROLLBACK: {
		int q;
		uint64_t bound = daemon_rollout_early_bound_ns(r, p, &q);
		char early[64] = "";
		if (q)
			snprintf(early, sizeof(early), ", or when the origin's p%d > %lluus", q,
				 (unsigned long long)(bound / 1000));
		snprintf(line, len, "shadow: rollback: %s %g%% -> 0%%: %s; retry in %llu s%s", what,
			 pct(before), r->reason,
			 (unsigned long long)((r->retry_ms - now_ms + 999) / 1000), early);
		break;
	}
	case DAEMON_ROLLOUT_RETRY:
		snprintf(line, len, "shadow: rollout: %s retried at %g%% after the cool-down", what,
			 pct(daemon_rollout_share(r, p)));
		break;
	case DAEMON_ROLLOUT_EARLY_RETRY: {
		/* r->back_q is kept after the retry: the quantile compared. */
		int q = r->back_q;
		uint64_t origin = q == 50 ? r->watch.origin_p50_ns : r->watch.origin_p95_ns;
		uint64_t copy = q == 50 ? r->back.copy_p50_ns : r->back.copy_p95_ns;
		snprintf(
		    line, len,
		    "shadow: rollout: %s retried early at %g%%: origin p%d now %lluus over %llu "
		    "reads > %gx the copy's %lluus at its rollback + %lluus; cool-down %llu s left",
		    what, pct(daemon_rollout_share(r, p)), q, (unsigned long long)(origin / 1000),
		    (unsigned long long)r->watch.origin_reads, p->up_margin,
		    (unsigned long long)(copy / 1000), (unsigned long long)(p->slack_ns / 1000),
		    (unsigned long long)((r->retry_ms - now_ms + 999) / 1000));
		break;
	}
	default:
		line[0] = '\0';
	}
}

void fs_rollout_tick(const struct daemon_rollout_params *p, struct daemon_shadow_map *m,
		     struct daemon_shadow_file *s, struct fs_hosts *hosts, uint64_t now_ms)
{
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		bool valid = LOAD(&cp->state) == DAEMON_COPY_SERVING &&
			     cp->version == daemon_shadow_file_version(s);
		char line[2048]; /* not zeroed: 8 KB a file a pass at 4 slots */
		line[0] = '\0';
		daemon_shadow_map_lock(m);
		struct daemon_rollout *r = cp->rollout;
		if (!valid) {
			if (r)
				daemon_rollout_stop(r);
			daemon_shadow_map_unlock(m);
			continue;
		}
		if (!r && !(r = cp->rollout = calloc(1, sizeof(*r)))) {
			daemon_shadow_map_unlock(m);
			continue; /* keeps its share; tried again next tick */
		}
		struct daemon_rollout_input in = {.copy = &cp->lat,
						  .origin = &s->origin_lat,
						  .origin_busy = &s->origin_busy_lat,
						  .copy_errors = LOAD(&cp->errors)};
		uint32_t before = LOAD(&cp->share);
		enum daemon_rollout_event ev;
		if (r->phase == DAEMON_ROLLOUT_OFF || r->copy_generation != cp->generation) {
			if (resumes(r, cp))
				daemon_rollout_resume(r, p, now_ms, &in);
			else
				daemon_rollout_start(r, p, now_ms, &in);
			r->copy_generation = cp->generation;
			r->copy_host = cp->host;
			ev = DAEMON_ROLLOUT_NONE;
		} else {
			ev = daemon_rollout_advance(r, p, now_ms, &in);
		}
		STORE(&cp->share, daemon_rollout_share(r, p));
		if (ev == DAEMON_ROLLOUT_STEP_UP || ev == DAEMON_ROLLOUT_STEP_DOWN ||
		    ev == DAEMON_ROLLOUT_ROLLBACK || ev == DAEMON_ROLLOUT_RETRY ||
		    ev == DAEMON_ROLLOUT_EARLY_RETRY) {
			char host[600], what[1200];
			fs_hosts_label(hosts, (size_t)cp->host, host, sizeof(host));
			snprintf(what, sizeof(what), "copy of %s on %s", s->path ? s->path : "?",
				 host);
			event_line(p, r, ev, before, what, now_ms, line, sizeof(line));
		}
		daemon_shadow_map_unlock(m);
		if (line[0])
			sfs_log(ev == DAEMON_ROLLOUT_ROLLBACK ? SFS_LOG_WARN : SFS_LOG_INFO, "%s",
				line);
	}
}
