/* Gradual rollout of reads to a new copy, and rollback on regression: one
 * copy's state machine, pure (no FUSE, no I/O, no clock of its own: the
 * caller passes now and the cumulative latency histograms of the copy's
 * and of the origin's reads), so the same code runs in the mount's control
 * loop (fs/rollout.c) and in the unit tests with a fake clock.
 *
 * A copy that becomes valid starts at the first step's share of its file's
 * reads (default 10, 25, 50, 100 %). Each window (at least interval_ms,
 * until both the copy and the origin served min_reads reads in it) is
 * judged on the copy's median and p95 read latency against the origin's in
 * the same window:
 *   bad    copy p50 or p95 > factor x origin's + slack     -> a strike
 *   good   copy p50 and p95 <= factor / up_margin x origin's + slack
 *   between the two: hold (no step, no strike): hysteresis, so a copy
 *          hovering at the threshold neither climbs nor is punished.
 *   good   -> the next step (a good window at or above the step of the
 *             last strike clears the strikes);
 *   bad    -> one step down (stays at the first), and at `strikes`
 *             strikes, or at once on any read error of the copy, ROLLED
 *             BACK: share 0 for cooldown_ms (doubled after each rollback
 *             in a row, up to 16x; reset by a good window at full share),
 *             then retried from the first step.
 * Early retry: a copy rolled back for latency is slower than the origin
 * was then, e.g. a remote copy (0.5-1 ms a read over TLS) against a quiet
 * origin served from the page cache (10-50 us). When the origin gets
 * loaded, its own reads slow down and the copy would spread them: waiting
 * out a cool-down of up to 16 minutes would miss the point (spread reads
 * before latency degrades). So the machine remembers the copy's figures
 * of the window that rolled it back, and the quantile that did (p50, or
 * p95 when only the tail was slow), and while rolled back keeps judging
 * the origin's windows (all origin reads, interval_ms and min_reads as
 * above): when the origin's figure on that quantile is
 *   > up_margin x the copy's remembered one + slack
 * (the same margins as a step up, so an origin hovering at the copy's
 * figure does not make it flap), the copy is retried at once from the
 * first step (DAEMON_ROLLOUT_EARLY_RETRY) and judged as any retry. The
 * tail rule: a copy rolled back for its p95 alone has a fine median, and
 * retrying it when the origin's median moved would roll it back again for
 * the same tail, over and over. A rollback for read errors is not retried
 * early: a failing copy is not made better by a slow origin.
 * Rollbacks in a row after an early retry: a latency rollback that ends an
 * early retry (the origin quiet again, so the copy slower again) says
 * nothing the previous rollback did not: its cool-down is the previous
 * one's, not doubled, and the remembered figures are the new window's (if
 * the copy lost even against the loaded origin, its own reads slowed too:
 * the next early retry waits for an origin slower than that). An error
 * rollback counts in a row as always. While rolled back for latency,
 * advance reports the origin's windows as it does the stepping ones:
 * none (open), wait (too few reads), hold (judged, not slow enough).
 * At full share (the last step) the copy is a member of the power-of-two
 * pick, which sends it a read only while the origin has more reads in
 * flight (ties go to the origin): its reads are all taken while the origin
 * is busy. Compared with all origin reads, idle ones included, an
 * identical local copy measured p95 180 us against 53 us and was stepped
 * down for nothing. So at full share the baseline is the busy origin:
 * origin reads begun while another origin read was in flight (the
 * input's origin_busy), and on the median only: the copy's reads there
 * are taken when two or more are in flight, and under CPU contention the
 * tail of such reads grows more than the origin's busy ones (measured on 2
 * shared cores at load 18: an identical copy at p95 147 us against 61 us,
 * p50 9 us for both). A slow copy moves its median.
 * Strikes are cleared only by a good window at or above the step where the
 * last one was taken, so a copy that is fine at 25 % but slow at 50 %
 * cannot oscillate between them forever: 50 % bad, 25 % good, 50 % bad
 * is two strikes and a rollback.
 * Few-sample noise: no window is judged before both sides have min_reads
 * reads (a window without them is extended, and restarted after 8
 * intervals so old reads do not decide); slack keeps differences of a few
 * microseconds (page-cache hits) from counting as a ratio.
 *
 * Latency is per read: the share gate sends reads to the copy at random,
 * independently of their size and offset, so within a window the copy's
 * and the origin's reads are samples of the same request mix. */
#ifndef SHADOWFS_DAEMON_ROLLOUT_H
#define SHADOWFS_DAEMON_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/lat_hist.h"

#define DAEMON_ROLLOUT_MAX_STEPS 8
#define DAEMON_SHARE_FULL 1000u /* shares are in permille of a file's reads */

struct daemon_rollout_params {
	uint16_t steps[DAEMON_ROLLOUT_MAX_STEPS]; /* permille, increasing, last = full */
	int nsteps;
	uint64_t interval_ms; /* a window lasts at least this long */
	uint32_t min_reads;   /* reads of the copy and of the origin to judge a window */
	double factor;	      /* bad: copy p50 or p95 > factor x origin's + slack */
	double up_margin;     /* good: both <= factor / up_margin x origin's + slack */
	uint64_t slack_ns;    /* differences below this never count */
	int strikes;	      /* bad windows that roll back */
	uint64_t cooldown_ms; /* rolled back this long before a retry */
};

/* Defaults: 10,25,50,100 %, 5 s, 32 reads, 1.5x (good below 1.25x), 50 us
 * slack, 2 strikes, 60 s cool-down. */
void daemon_rollout_defaults(struct daemon_rollout_params *p);
/* Parses "10/25/50/100" or "10,25,50,100" (percent, up to one decimal, > 0, strictly
 * increasing after rounding to permille, ending at 100, at most 8) into
 * p->steps; -EINVAL (p unchanged) otherwise. */
int daemon_rollout_parse_steps(const char *s, struct daemon_rollout_params *p);

enum daemon_rollout_phase {
	DAEMON_ROLLOUT_OFF = 0,	    /* no valid copy (share 0) */
	DAEMON_ROLLOUT_STEPPING,    /* serving its step's share */
	DAEMON_ROLLOUT_ROLLED_BACK, /* share 0 until the cool-down ends */
};
const char *daemon_rollout_phase_name(enum daemon_rollout_phase ph);

enum daemon_rollout_event {
	DAEMON_ROLLOUT_NONE,	    /* window still open */
	DAEMON_ROLLOUT_WAIT,	    /* window over but too few reads: extended */
	DAEMON_ROLLOUT_HOLD,	    /* judged: stays at its step */
	DAEMON_ROLLOUT_STEP_UP,	    /* judged good: next step */
	DAEMON_ROLLOUT_STEP_DOWN,   /* judged bad: previous step */
	DAEMON_ROLLOUT_ROLLBACK,    /* errors, or strikes: share 0 */
	DAEMON_ROLLOUT_RETRY,	    /* cool-down over: first step again */
	DAEMON_ROLLOUT_EARLY_RETRY, /* rolled back for latency, the origin now
				       slower than the copy was: first step again */
};
const char *daemon_rollout_event_name(enum daemon_rollout_event e);

/* What one window showed (the last judged one is kept for display). */
struct daemon_rollout_window {
	uint64_t copy_reads, origin_reads;
	uint64_t copy_p50_ns, copy_p95_ns, origin_p50_ns, origin_p95_ns;
};

/* Cumulative counters of one copy and of its file's origin reads. */
struct daemon_rollout_input {
	const struct daemon_lat_hist *copy;
	const struct daemon_lat_hist *origin;	   /* all origin reads */
	const struct daemon_lat_hist *origin_busy; /* begun while another was in flight */
	uint64_t copy_errors;
};

struct daemon_rollout {
	enum daemon_rollout_phase phase;
	int step;		      /* index in params.steps */
	uint64_t window_ms;	      /* when the current window began */
	int strikes;		      /* bad windows since cleared */
	int strike_step;	      /* step of the last strike (-1: none) */
	int rollbacks;		      /* rollbacks in a row (cool-down doubling) */
	uint64_t retry_ms;	      /* rolled back: when to retry */
	struct daemon_lat_hist copy0; /* cumulative counts at the window's start */
	struct daemon_lat_hist origin0;
	struct daemon_lat_hist origin_busy0;
	uint64_t errors0;
	struct daemon_rollout_window last; /* the last judged window */
	char reason[96];		   /* last strike or rollback, one word; "" */
	/* Rolled back for latency: the window that did it (its copy figures
	 * are remembered) and its quantile, 50 or 95 (0: rolled back for
	 * errors, or not at all: no early retry). */
	struct daemon_rollout_window back;
	int back_q;
	struct daemon_rollout_window watch; /* rolled back: last origin window judged */
	bool early;			    /* stepping since an early retry */
	enum daemon_rollout_phase stopped;  /* the phase when the copy last
					     * stopped being valid (resume) */
	/* Owner's bookkeeping (fs/rollout.c): which copy this is, and on
	 * which host. */
	uint64_t copy_generation;
	int copy_host;
};

/* A copy became valid: first step, new window, strikes and rollbacks
 * cleared, reason kept (it may still explain an earlier rollback). */
void daemon_rollout_start(struct daemon_rollout *r, const struct daemon_rollout_params *p,
			  uint64_t now_ms, const struct daemon_rollout_input *in);
/* The copy stopped being valid: OFF (its phase is kept for a resume). */
void daemon_rollout_stop(struct daemon_rollout *r);
/* A new copy on the host that held the last one, made because the file
 * changed (or the host came back): the host was judged, only the bytes
 * moved. It goes on where the last copy stopped: stepping at its step,
 * strikes kept; or rolled back, with its cool-down, rollbacks in a row and
 * early-retry figures. A new window either way (the copy's counters
 * restarted). When the last copy never started: as daemon_rollout_start.
 * Without this, each write to a shadowed file sent its re-made copy back
 * to the first step, and a copy rolled back for a slow host skipped its
 * cool-down. */
void daemon_rollout_resume(struct daemon_rollout *r, const struct daemon_rollout_params *p,
			   uint64_t now_ms, const struct daemon_rollout_input *in);
/* One control tick. */
enum daemon_rollout_event daemon_rollout_advance(struct daemon_rollout *r,
						 const struct daemon_rollout_params *p,
						 uint64_t now_ms,
						 const struct daemon_rollout_input *in);
/* Rolled back for latency: the origin's figure, in ns, on the quantile
 * *q (50 or 95) that it must exceed for an early retry; 0 (q 0) otherwise. */
uint64_t daemon_rollout_early_bound_ns(const struct daemon_rollout *r,
				       const struct daemon_rollout_params *p, int *q);
/* The share of the file's reads the copy may take now (permille). */
uint32_t daemon_rollout_share(const struct daemon_rollout *r,
			      const struct daemon_rollout_params *p);

#endif
