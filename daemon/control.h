/* The control loop's decisions, pure: given what is known of one file and
 * of the hosts at time now, what to do. No I/O, no clock of its own (the
 * caller passes now), so tests drive it with a fake clock and a simulator
 * can replay it; fs/shadowing.c is the glue that gathers the inputs and
 * carries the decisions out.
 *
 * Per file, every tick:
 *   wanted   = pinned || hot (forecast P(demand > capacity within window)
 *              >= threshold, or demand above capacity in the last bucket:
 *              predictor/hot_files.h)
 *   wanted_ms is refreshed while wanted; a file stays shadowed until it has
 *   been unwanted for idle_ms (hysteresis: a forecast that flickers does
 *   not copy and delete the same file every tick).
 *   COPY     when wanted and fewer copies serve at the current version
 *            than it wants (want_copies: the forecast's replica count,
 *            at least 1; one copy per decision, so one per tick), nobody
 *            has the file open for writing, its version has been quiet for
 *            quiet_ms (a file being rewritten is not re-copied after every
 *            write), no copy is under way, and the back-off after a failed
 *            copy has passed (retry_ms; daemon_control_backoff_ms: a full
 *            or broken host is not hammered with a whole-file read per
 *            tick);
 *   never    (user.shadow.never=1) wins over pinned and hot: never wanted,
 *            its copies dropped at once (DEMOTE), like a gone file's;
 *   DEMOTE   when copies exist (a copy under way counts: the demotion
 *            cancels it) and the file is gone or never, or unwanted for
 *            idle_ms;
 *   TRIM     (drop one copy, daemon_control_pick_surplus says which) when
 *            wanted but more copies serve than it wants, continuously for
 *            idle_ms (the same hysteresis: a replica count that flickers
 *            between 1 and 2 does not copy and delete every bucket);
 *   NONE     otherwise.
 *
 * Allowed hosts (user.shadow.hosts: hosts_limited, allowed_hosts): a copy
 * serving on a host not allowed is "misplaced". Only the copies on allowed
 * hosts count towards want_copies, which is capped by the number of
 * allowed hosts (none allowed: no copy at all). Make before break: a
 * wanted file with a misplaced copy first gets its copy on an allowed host
 * (COPY, when a copy may be made now), then the misplaced copy goes (TRIM
 * at once, no hysteresis: it is a placement policy, not a forecast that
 * flickers); when no copy may be made now (writes_unseen, quiet period,
 * back-off after a failed copy, e.g. no allowed host up or with room) the
 * misplaced copy goes anyway. An unwanted file still in its idle_ms
 * hysteresis loses its misplaced copies at once too. TRIM then drops a
 * misplaced copy before any other (daemon_control_pick_surplus).
 *
 * Placement (daemon_control_pick_host): among hosts that are up (a remote
 * one: heartbeats arrive and it is not suspect after a failed read) and
 * have room for the file within their budget (a remote one's as its shadowd
 * reports it) and in the free space of their filesystem (local ones), the
 * cheapest; equal costs go to the less loaded (the heartbeat's busiest of
 * CPU and disk), then to the lower index (the order of -o hosts=); only
 * hosts in the file's allowed mask count. The allow-list is a set, not a
 * preference order: among allowed hosts cost still decides (costs are the
 * operator's mount-wide preference; a second per-file order would fight
 * with budgets and load).
 *
 * Migration to a cheaper host: when a file has all the copies it wants but
 * one of them sits on a host dearer than another that could take one now
 * (up, allowed, room: a shadowd that was down when the copy was placed, a
 * budget freed since), the caller says migrate and the decision is COPY
 * while a copy may be made (make before break: the quiet, writes_unseen
 * and back-off rules hold; never a TRIM for it). Placement then puts the
 * copy on the cheapest host without one, and once it serves the file has
 * one copy more than wanted: the usual TRIM after idle_ms drops the dearest
 * (daemon_control_pick_surplus). */
#ifndef SHADOWFS_DAEMON_CONTROL_H
#define SHADOWFS_DAEMON_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon_control_params {
	uint64_t idle_ms;  /* unwanted this long before a demotion */
	uint64_t quiet_ms; /* no version change this long before a (re)copy */
};

/* Bit i of a host mask: host i (the order of -o hosts=); hosts from the
 * 64th on are in no mask but DAEMON_CONTROL_ANY_HOST. */
#define DAEMON_CONTROL_ANY_HOST UINT64_MAX
#define DAEMON_CONTROL_HOST_BIT(i) ((i) < 64 ? UINT64_C(1) << (i) : 0)

struct daemon_control_file {
	bool pinned;
	bool hot;
	bool gone;	     /* unlinked or replaced through the mount */
	bool never;	     /* user.shadow.never=1: never shadowed */
	bool writes_unseen;  /* open for writing with writes the mount cannot see */
	unsigned serving_copies; /* copies serving at the current version */
	unsigned want_copies;	 /* copies it should have when wanted (0: 1) */
	bool has_copies;     /* any copy slot in use (serving, stale, syncing) */
	bool copying;	     /* a copy is under way (on the mover: fs/mover.h);
			      * never counted in serving_copies */
	uint64_t version_ms; /* when the version last changed (0: never) */
	uint64_t retry_ms;   /* after a failed copy: no new one before (0: none) */
	bool hosts_limited;  /* user.shadow.hosts: copies only on allowed_hosts */
	uint64_t allowed_hosts; /* hosts_limited: the hosts it may have copies on */
	uint64_t serving_hosts; /* the hosts of the serving_copies */
	bool migrate; /* a host cheaper than one of its serving copies' could
		       * take a copy now (fs/shadow_copies.c): one copy more */
};

enum daemon_control_action {
	DAEMON_CONTROL_NONE,
	DAEMON_CONTROL_COPY,
	DAEMON_CONTROL_DEMOTE,
	DAEMON_CONTROL_TRIM, /* drop one copy (more serve than wanted) */
};

/* What the decisions remember of one file between ticks (the caller keeps
 * it, zeroed at first). */
struct daemon_control_memory {
	uint64_t wanted_ms; /* last time pinned or hot (demotion hysteresis) */
	uint64_t needed_ms; /* last time no more copies served than wanted */
};

const char *daemon_control_action_name(enum daemon_control_action a);

/* The hosts a copy of f may be on: DAEMON_CONTROL_ANY_HOST unless
 * hosts_limited. */
uint64_t daemon_control_allowed(const struct daemon_control_file *f);
/* Whether host i is in the mask allowed. */
bool daemon_control_host_allowed(uint64_t allowed, size_t i);
/* Its serving copies on hosts not allowed (at most serving_copies). */
unsigned daemon_control_misplaced(const struct daemon_control_file *f);

/* Decides for one file; *mem is updated. */
enum daemon_control_action daemon_control_decide(const struct daemon_control_params *p,
						 const struct daemon_control_file *f,
						 uint64_t now_ms, struct daemon_control_memory *mem);

/* Whether f is settled: wanted, with exactly the copies it should have,
 * all serving on allowed hosts, nothing under way or owed. Only a change
 * of its inputs (flags, copies, reads, version, tuning) can make the
 * decision anything but NONE then, not the clock alone; the control loop
 * looks at such a file less often (fs/shadow_quiet.c). */
bool daemon_control_settled(const struct daemon_control_file *f);

/* The replica count for a demand (reads per bucket, e.g. the forecast's
 * upper 95% bound at its highest step in the window) that one copy or the
 * origin can serve `capacity` of: the origin and k copies share it, so
 * k = ceil(demand / capacity) - 1, at least 1, at most max (>= 1). */
unsigned daemon_control_copies_for(double demand, double capacity, unsigned max);

struct daemon_control_host {
	bool up;
	/* A sparse copy there takes its data of the budget, not its size: a
	 * local store (daemon_store_create_from_fd), or a shadowd that takes
	 * thin PUTs (SYNC_WIRE_FEATURE_THIN: daemon_store_create_thin). */
	bool thin;
	double cost;
	uint32_t load_permille; /* busiest of CPU and disk (remote: heartbeats), 0 unknown */
	uint64_t budget_bytes; /* 0 = unlimited */
	uint64_t used_bytes;   /* copies and reservations */
	uint64_t avail_bytes;  /* free space of its filesystem; UINT64_MAX = not known */
};

/* The back-off after the n-th failed copy in a row (n >= 1): 1 s, doubling,
 * at most 5 minutes. */
uint64_t daemon_control_backoff_ms(unsigned n);

/* The host for a new copy of size bytes: index, or -1 when none fits.
 * exclude (may be NULL) marks hosts that already hold a copy; only hosts
 * in allowed (daemon_control_allowed) are considered. */
int daemon_control_pick_host(const struct daemon_control_host *h, size_t n, uint64_t size,
			     const bool *exclude, uint64_t allowed);
/* The same for a file of size bytes of which only data are data (the rest
 * holes): a thin host needs room for the data only; another (a shadowd
 * that predates thin PUTs) reserves the whole size while a copy is
 * written. */
int daemon_control_pick_host_sparse(const struct daemon_control_host *h, size_t n, uint64_t size,
				    uint64_t data, const bool *exclude, uint64_t allowed);

/* What the rollout (daemon/rollout.h) has said of a serving copy, for the
 * choice of the copy a TRIM drops. */
enum daemon_control_verdict {
	DAEMON_CONTROL_PROVEN = 0,  /* at full share: serves as well as the origin */
	DAEMON_CONTROL_UNPROVEN,    /* still stepping towards full share */
	DAEMON_CONTROL_ROLLED_BACK, /* share 0: slower than the origin, or failing */
};

/* The host whose copy TRIM drops, among those marked in holds: one not in
 * allowed first (a misplaced copy), then a rolled-back one (it serves no
 * read: dropping it loses nothing), then the most expensive, then the more
 * loaded, then the later one (the reverse of placement). verdict (may be
 * NULL: all proven) is per host, as holds. -1 when holds marks none. */
int daemon_control_pick_surplus(const struct daemon_control_host *h, size_t n, const bool *holds,
				uint64_t allowed, const enum daemon_control_verdict *verdict);

/* Make before break, to its end: whether the TRIM of a surplus copy waits
 * for the rollout's verdict on another copy before dropping the one it
 * picked (pick, from daemon_control_pick_surplus). It waits when pick is
 * allowed and proven while another held copy is unproven (a migration's
 * new copy, or a new replica, still stepping up): dropping the proven one
 * now and then rolling the new one back would leave no copy serving. The
 * wait is bounded: once the surplus has lasted surplus_ms >= limit_ms (the
 * caller's: long enough for a copy with steady reads to reach full share;
 * fs/shadow_copies.c takes idle_ms + steps x 8 x the rollout interval) the
 * proven copy goes anyway, since a copy that too few reads judge is not
 * what reads depend on. */
bool daemon_control_trim_waits(size_t n, const bool *holds, uint64_t allowed,
			       const enum daemon_control_verdict *verdict, int pick,
			       uint64_t surplus_ms, uint64_t limit_ms);

/* How long a file is not migrated again to a host whose copy of it was
 * dropped rolled back, after the n-th such drop (n >= 1): 1 hour,
 * doubling, at most a day. Without it a file whose copy is slower on the
 * cheaper host would be copied there, rolled back and dropped over and
 * over. */
uint64_t daemon_control_migrate_block_ms(unsigned n);

#endif
