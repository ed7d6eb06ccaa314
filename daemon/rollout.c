/* One copy's rollout state machine (see rollout.h). */
#include "daemon/rollout.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COOLDOWN_DOUBLINGS 4 /* 16x */
#define STALE_WINDOWS 8		 /* a window without enough reads restarts after this */

void daemon_rollout_defaults(struct daemon_rollout_params *p)
{
	*p = (struct daemon_rollout_params){
	    .steps = {100, 250, 500, DAEMON_SHARE_FULL},
	    .nsteps = 4,
	    .interval_ms = 5000,
	    .min_reads = 32,
	    .factor = 1.5,
	    .up_margin = 1.2,
	    .slack_ns = 50000,
	    .strikes = 2,
	    .cooldown_ms = 60000,
	};
}

int daemon_rollout_parse_steps(const char *s, struct daemon_rollout_params *p)
{
	uint16_t steps[DAEMON_ROLLOUT_MAX_STEPS];
	int n = 0;
	const char *q = s;
	for (;;) {
		char *end;
		if (*q < '0' || *q > '9')
			return -EINVAL; /* empty item, sign, junk */
		double v = strtod(q, &end);
		if (end == q || !isfinite(v) || v <= 0 || v > 100 || n == DAEMON_ROLLOUT_MAX_STEPS)
			return -EINVAL;
		long pm = lround(v * 10);
		if (fabs(v * 10 - (double)pm) > 1e-6 || pm < 1)
			return -EINVAL; /* finer than 0.1 % */
		if (n > 0 && pm <= steps[n - 1])
			return -EINVAL;
		steps[n++] = (uint16_t)pm;
		if (*end == '\0')
			break;
		if (*end != '/' && *end != ',')
			return -EINVAL;
		q = end + 1;
	}
	if (steps[n - 1] != DAEMON_SHARE_FULL)
		return -EINVAL;
	memcpy(p->steps, steps, sizeof(steps[0]) * (size_t)n);
	p->nsteps = n;
	return 0;
}

const char *daemon_rollout_phase_name(enum daemon_rollout_phase ph)
{
	switch (ph) {
	case DAEMON_ROLLOUT_OFF:
		return "off";
	case DAEMON_ROLLOUT_STEPPING:
		return "stepping";
	case DAEMON_ROLLOUT_ROLLED_BACK:
		return "rolled-back";
	}
	return "?";
}

const char *daemon_rollout_event_name(enum daemon_rollout_event e)
{
	switch (e) {
	case DAEMON_ROLLOUT_NONE:
		return "none";
	case DAEMON_ROLLOUT_WAIT:
		return "wait";
	case DAEMON_ROLLOUT_HOLD:
		return "hold";
	case DAEMON_ROLLOUT_STEP_UP:
		return "step-up";
	case DAEMON_ROLLOUT_STEP_DOWN:
		return "step-down";
	case DAEMON_ROLLOUT_ROLLBACK:
		return "rollback";
	case DAEMON_ROLLOUT_RETRY:
		return "retry";
	case DAEMON_ROLLOUT_EARLY_RETRY:
		return "early-retry";
	}
	return "?";
}

static void new_window(struct daemon_rollout *r, uint64_t now_ms,
		       const struct daemon_rollout_input *in)
{
	r->window_ms = now_ms;
	daemon_lat_hist_load(in->copy, &r->copy0);
	daemon_lat_hist_load(in->origin, &r->origin0);
	daemon_lat_hist_load(in->origin_busy, &r->origin_busy0);
	r->errors0 = in->copy_errors;
}

/* First step, strikes cleared (a start and a retry after the cool-down). */
static void first_step(struct daemon_rollout *r, uint64_t now_ms,
		       const struct daemon_rollout_input *in)
{
	r->phase = DAEMON_ROLLOUT_STEPPING;
	r->step = 0;
	r->strikes = 0;
	r->strike_step = -1;
	new_window(r, now_ms, in);
}

void daemon_rollout_start(struct daemon_rollout *r, const struct daemon_rollout_params *p,
			  uint64_t now_ms, const struct daemon_rollout_input *in)
{
	(void)p;
	r->rollbacks = 0;
	r->retry_ms = 0;
	r->back_q = 0;
	r->early = false;
	memset(&r->last, 0, sizeof(r->last));
	first_step(r, now_ms, in);
}

void daemon_rollout_stop(struct daemon_rollout *r)
{
	if (r->phase != DAEMON_ROLLOUT_OFF)
		r->stopped = r->phase;
	r->phase = DAEMON_ROLLOUT_OFF;
}

void daemon_rollout_resume(struct daemon_rollout *r, const struct daemon_rollout_params *p,
			   uint64_t now_ms, const struct daemon_rollout_input *in)
{
	if (r->stopped != DAEMON_ROLLOUT_STEPPING && r->stopped != DAEMON_ROLLOUT_ROLLED_BACK) {
		daemon_rollout_start(r, p, now_ms, in);
		return;
	}
	r->phase = r->stopped;
	if (r->step >= p->nsteps)
		r->step = p->nsteps - 1;
	new_window(r, now_ms, in);
}

uint32_t daemon_rollout_share(const struct daemon_rollout *r, const struct daemon_rollout_params *p)
{
	if (r->phase != DAEMON_ROLLOUT_STEPPING)
		return 0;
	return p->steps[r->step];
}

static bool worse(uint64_t copy, uint64_t origin, double factor, uint64_t slack)
{
	return (double)copy > factor * (double)origin + (double)slack;
}

/* Share 0 until the cool-down ends. w: the window that rolled it back for
 * latency, q its quantile (50, 95); NULL, 0 for read errors. */
static enum daemon_rollout_event roll_back(struct daemon_rollout *r,
					   const struct daemon_rollout_params *p, uint64_t now_ms,
					   const struct daemon_rollout_input *in,
					   const struct daemon_rollout_window *w, int q)
{
	/* A latency rollback ending an early retry: not one more in a row
	 * (rollout.h), so the previous cool-down again. */
	bool again = w && r->early && r->rollbacks > 0;
	int n = again ? r->rollbacks - 1 : r->rollbacks;
	int d = n < MAX_COOLDOWN_DOUBLINGS ? n : MAX_COOLDOWN_DOUBLINGS;
	r->phase = DAEMON_ROLLOUT_ROLLED_BACK;
	if (!again)
		r->rollbacks++;
	r->early = false;
	r->retry_ms = now_ms + (p->cooldown_ms << d);
	r->back_q = w ? q : 0;
	if (w)
		r->back = *w;
	memset(&r->watch, 0, sizeof(r->watch));
	new_window(r, now_ms, in); /* the origin's first window while rolled back */
	return DAEMON_ROLLOUT_ROLLBACK;
}

uint64_t daemon_rollout_early_bound_ns(const struct daemon_rollout *r,
				       const struct daemon_rollout_params *p, int *q)
{
	*q = r->phase == DAEMON_ROLLOUT_ROLLED_BACK ? r->back_q : 0;
	if (!*q)
		return 0;
	uint64_t copy = *q == 50 ? r->back.copy_p50_ns : r->back.copy_p95_ns;
	return (uint64_t)(p->up_margin * (double)copy) + p->slack_ns;
}

/* Rolled back, before the cool-down ends: one window of the origin's reads
 * (as a stepping window: interval_ms, min_reads, restarted when stale);
 * slower than the bound on the copy's remembered figure -> early retry. */
static enum daemon_rollout_event watch_origin(struct daemon_rollout *r,
					      const struct daemon_rollout_params *p,
					      uint64_t now_ms,
					      const struct daemon_rollout_input *in)
{
	int q;
	uint64_t bound = daemon_rollout_early_bound_ns(r, p, &q);
	uint64_t age = now_ms - r->window_ms;
	if (!q || age < p->interval_ms)
		return DAEMON_ROLLOUT_NONE;
	struct daemon_lat_hist now_o, dor;
	daemon_lat_hist_load(in->origin, &now_o);
	daemon_lat_hist_sub(&now_o, &r->origin0, &dor);
	uint64_t reads = daemon_lat_hist_count(&dor);
	if (reads < p->min_reads) {
		if (age >= STALE_WINDOWS * p->interval_ms)
			new_window(r, now_ms, in);
		return DAEMON_ROLLOUT_WAIT;
	}
	r->watch = (struct daemon_rollout_window){
	    .origin_reads = reads,
	    .origin_p50_ns = daemon_lat_hist_quantile_ns(&dor, 0.5),
	    .origin_p95_ns = daemon_lat_hist_quantile_ns(&dor, 0.95),
	};
	new_window(r, now_ms, in);
	uint64_t origin = q == 50 ? r->watch.origin_p50_ns : r->watch.origin_p95_ns;
	if (origin <= bound)
		return DAEMON_ROLLOUT_HOLD;
	first_step(r, now_ms, in);
	r->early = true;
	return DAEMON_ROLLOUT_EARLY_RETRY;
}

/* The reason of a strike, one word: "p95_3210us>1.5x410us". */
static void strike_reason(struct daemon_rollout *r, const struct daemon_rollout_params *p,
			  const struct daemon_rollout_window *w)
{
	bool p50 = worse(w->copy_p50_ns, w->origin_p50_ns, p->factor, p->slack_ns);
	snprintf(r->reason, sizeof(r->reason), "%s_%lluus>%gx%lluus", p50 ? "p50" : "p95",
		 (unsigned long long)((p50 ? w->copy_p50_ns : w->copy_p95_ns) / 1000), p->factor,
		 (unsigned long long)((p50 ? w->origin_p50_ns : w->origin_p95_ns) / 1000));
}

enum daemon_rollout_event daemon_rollout_advance(struct daemon_rollout *r,
						 const struct daemon_rollout_params *p,
						 uint64_t now_ms,
						 const struct daemon_rollout_input *in)
{
	if (r->phase == DAEMON_ROLLOUT_OFF)
		return DAEMON_ROLLOUT_NONE;
	if (r->phase == DAEMON_ROLLOUT_ROLLED_BACK) {
		if (now_ms < r->retry_ms)
			return watch_origin(r, p, now_ms, in);
		first_step(r, now_ms, in);
		return DAEMON_ROLLOUT_RETRY;
	}
	uint64_t errors = in->copy_errors - r->errors0;
	if (errors > 0) { /* at once: a copy that fails reads is not judged on speed */
		snprintf(r->reason, sizeof(r->reason), "%llu_read_errors",
			 (unsigned long long)errors);
		return roll_back(r, p, now_ms, in, NULL, 0);
	}
	uint64_t age = now_ms - r->window_ms;
	if (age < p->interval_ms)
		return DAEMON_ROLLOUT_NONE;

	/* At full share, against the busy origin (see rollout.h). */
	bool full = r->step == p->nsteps - 1;
	struct daemon_lat_hist now_c, now_o, dc, dor;
	daemon_lat_hist_load(in->copy, &now_c);
	daemon_lat_hist_load(full ? in->origin_busy : in->origin, &now_o);
	daemon_lat_hist_sub(&now_c, &r->copy0, &dc);
	daemon_lat_hist_sub(&now_o, full ? &r->origin_busy0 : &r->origin0, &dor);
	struct daemon_rollout_window w = {
	    .copy_reads = daemon_lat_hist_count(&dc),
	    .origin_reads = daemon_lat_hist_count(&dor),
	};
	if (w.copy_reads < p->min_reads || w.origin_reads < p->min_reads) {
		if (age >= STALE_WINDOWS * p->interval_ms)
			new_window(r, now_ms, in);
		return DAEMON_ROLLOUT_WAIT;
	}
	w.copy_p50_ns = daemon_lat_hist_quantile_ns(&dc, 0.5);
	w.copy_p95_ns = daemon_lat_hist_quantile_ns(&dc, 0.95);
	w.origin_p50_ns = daemon_lat_hist_quantile_ns(&dor, 0.5);
	w.origin_p95_ns = daemon_lat_hist_quantile_ns(&dor, 0.95);
	r->last = w;
	new_window(r, now_ms, in);

	/* At full share the median only: see rollout.h. */
	if (worse(w.copy_p50_ns, w.origin_p50_ns, p->factor, p->slack_ns) ||
	    (!full && worse(w.copy_p95_ns, w.origin_p95_ns, p->factor, p->slack_ns))) {
		strike_reason(r, p, &w);
		r->strikes++;
		r->strike_step = r->step;
		if (r->strikes >= p->strikes) { /* remembered with the quantile at fault */
			bool p50 = worse(w.copy_p50_ns, w.origin_p50_ns, p->factor, p->slack_ns);
			return roll_back(r, p, now_ms, in, &w, p50 ? 50 : 95);
		}
		if (r->step == 0)
			return DAEMON_ROLLOUT_HOLD;
		r->step--;
		return DAEMON_ROLLOUT_STEP_DOWN;
	}
	double up = p->factor / p->up_margin;
	if (worse(w.copy_p50_ns, w.origin_p50_ns, up, p->slack_ns) ||
	    (!full && worse(w.copy_p95_ns, w.origin_p95_ns, up, p->slack_ns)))
		return DAEMON_ROLLOUT_HOLD; /* between good and bad */
	if (r->step >= r->strike_step) {
		r->strikes = 0;
		r->strike_step = -1;
	}
	if (full) {
		r->rollbacks = 0;
		r->early = false;
		return DAEMON_ROLLOUT_HOLD;
	}
	r->step++;
	return DAEMON_ROLLOUT_STEP_UP;
}
