/* The simulator's core: replays a trace's demand and one policy's alarms
 * through the control loop's own decisions (daemon/control.h, the code the
 * mount runs) against simulated hosts, and scores what the copies would
 * have done for the reads. Pure: no clock, no I/O, no FUSE; a trace of a
 * month replays in milliseconds.
 *
 * Model, per file and bucket t (one bucket = one control decision):
 *   - demand is y[t] reads; each serving copy of the file (the origin is
 *     one) serves up to C reads per bucket at nominal latency, C being the
 *     file's capacity (the hot-object task's: p99 of the training part);
 *     k serving copies share the reads evenly, so the bucket is
 *     OVERLOADED when y[t] > k * C, and the reads beyond k * C are EXCESS
 *     (they queue: what the operator sees as degraded latency);
 *   - the decision for bucket t is taken at its start from alarm[t]
 *     (computed from y[0..t-1] only) by daemon_control_decide, with the
 *     hysteresis idle (buckets a file stays shadowed after its last alarm);
 *     a COPY decided at t serves from bucket t + lag (lag 0: a copy takes
 *     seconds where a bucket is minutes or hours);
 *   - placement by daemon_control_pick_host among the simulated hosts
 *     (cost-aware; slots = how many copies a host holds, each file counting
 *     one); a file with no room stays unshadowed (counted as unplaced);
 *   - an overload ONSET is a bucket tau with y[tau] > C and none of the
 *     window previous buckets above C (the evaluation protocol's onset); it
 *     is COVERED when a copy already serves at tau (decided before y[tau]
 *     was seen: anticipated).
 * A file's copies are placed together, on one host, as a group: `copies`
 * of them, or with `want` the replica count of each bucket (the mount's:
 * daemon_control_copies_for of the forecast's 95% bound); a count that
 * grows adds copies that serve `lag` buckets later, one that shrinks drops
 * them after `idle` buckets (the control loop's TRIM hysteresis). */
#ifndef SHADOWFS_TOOLS_SIM_REPLAY_H
#define SHADOWFS_TOOLS_SIM_REPLAY_H

#include <stddef.h>

struct sim_host {
	double cost;	/* per copy and bucket */
	unsigned slots; /* copies it can hold; 0 = unlimited */
};

struct sim_params {
	unsigned idle;	 /* buckets unwanted before a demotion (>= 1) */
	unsigned lag;	 /* buckets from the decision to a serving copy */
	unsigned window; /* onset definition: quiet buckets before an onset */
	unsigned copies; /* copies per shadowed file (0 counts as 1) */
	const struct sim_host *hosts;
	size_t nhosts;
};

struct sim_file {
	const double *y;	    /* demand per bucket */
	const unsigned char *alarm; /* the policy's alarm per bucket */
	const unsigned char *want;  /* replica count per bucket, or NULL: copies */
	double cap;		    /* C */
};

struct sim_score {
	long buckets;		 /* file-buckets scored */
	long overloaded;	 /* file-buckets with y > k C */
	double reads;		 /* all reads */
	double reads_overloaded; /* reads in overloaded buckets */
	double excess;		 /* reads beyond k C */
	long onsets, covered;
	long copies;	   /* copies made (transfers) */
	long copy_buckets; /* buckets a copy existed (serving or on its way) */
	double cost;	   /* sum of the hosts' cost over copy_buckets */
	long unplaced;	   /* COPY decisions no host had room for */
};

/* Replays buckets [from, to) of every file (y and alarm indexed from 0;
 * buckets before `from` only feed the onset rule). Adds into *ret (zero it
 * first). 0, or -EINVAL for bad parameters (no host, idle 0, from > to). */
int sim_replay(const struct sim_params *p, const struct sim_file *files, size_t nfiles, long from,
	       long to, struct sim_score *ret);

/* Parses "COST[:SLOTS][,COST[:SLOTS]...]" (e.g. "1,2:10") into at most max
 * hosts. Number of hosts, or -EINVAL. */
int sim_parse_hosts(const char *s, struct sim_host *ret, size_t max);

#endif
