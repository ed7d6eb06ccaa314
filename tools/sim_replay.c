/* The simulator's core (see sim_replay.h): the control loop's decisions
 * replayed on simulated hosts, scored per bucket. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "daemon/host_store.h"
#include "tools/sim_replay.h"

#define SIM_MAX_HOSTS 64
#define BUCKET_MS 1000u /* any unit: the control loop only compares times */
/* A host's slot in its byte budget: a copy of one byte and what the
 * budget counts per copy besides its data (placement asks for both). */
#define SLOT_BYTES (1 + DAEMON_STORE_COPY_OVERHEAD)

enum copy_state { NO_COPY, ON_ITS_WAY, SERVING };

struct file_state {
	enum copy_state state;
	int host;
	long ready;	 /* first bucket the copy serves */
	unsigned group;	 /* copies held on host (serving or on their way) */
	unsigned adding; /* of those, still on their way (a replica count that grew) */
	long adding_ready;
	struct daemon_control_memory mem;
};

static bool is_onset(const struct sim_file *f, long tau, unsigned window)
{
	if (!(f->y[tau] > f->cap))
		return false;
	for (long j = tau - (long)window; j < tau; j++)
		if (j >= 0 && f->y[j] > f->cap)
			return false;
	return true;
}

static unsigned wanted_at(const struct sim_params *p, const struct sim_file *f, long t)
{
	if (f->want)
		return f->want[t] ? f->want[t] : 1;
	return p->copies ? p->copies : 1;
}

/* Whether host h has room for n more copies. */
static bool room(const struct daemon_control_host *h, unsigned n)
{
	return !h->budget_bytes || h->used_bytes + (uint64_t)n * SLOT_BYTES <= h->budget_bytes;
}

/* The control decisions for one file at bucket t (as many as the mount's
 * ticks would take within a bucket: copies up to the replica count, or
 * trims down to it), carried out on the simulated hosts. */
static void control_step(const struct sim_params *p, const struct sim_file *f,
			 struct file_state *s, struct daemon_control_host *hosts, long t,
			 struct sim_score *sc)
{
	struct daemon_control_params cp = {
	    .idle_ms = (uint64_t)p->idle * BUCKET_MS,
	    .quiet_ms = 0,
	};
	unsigned want = wanted_at(p, f, t);
	/* +1: time 0 would read as "never wanted" to the hysteresis. */
	uint64_t now_ms = ((uint64_t)t + 1) * BUCKET_MS;
	for (int more = 1; more;) {
		more = 0;
		struct daemon_control_file cf = {
		    .hot = f->alarm[t] != 0,
		    .want_copies = want,
		    .serving_copies = s->state == SERVING ? s->group : 0,
		    .has_copies = s->state != NO_COPY,
		    .copying = s->state == ON_ITS_WAY || s->adding,
		};
		switch (daemon_control_decide(&cp, &cf, now_ms, &s->mem)) {
		case DAEMON_CONTROL_COPY:
			if (s->state == NO_COPY) {
				/* want slots: the size that with one copy's
				 * overhead makes them (placement adds it) */
				int h = daemon_control_pick_host(
				    hosts, p->nhosts,
				    (uint64_t)want * SLOT_BYTES - DAEMON_STORE_COPY_OVERHEAD, NULL,
				    DAEMON_CONTROL_ANY_HOST);
				if (h < 0) {
					sc->unplaced++;
					break;
				}
				hosts[h].used_bytes += (uint64_t)want * SLOT_BYTES;
				s->host = h;
				s->group = want;
				s->ready = t + (long)p->lag;
				s->state = ON_ITS_WAY;
				sc->copies += (long)want;
			} else if (room(&hosts[s->host], want - s->group)) {
				/* more copies of a serving file, on its host */
				hosts[s->host].used_bytes += (uint64_t)(want - s->group) * SLOT_BYTES;
				sc->copies += (long)(want - s->group);
				s->adding = want - s->group;
				s->adding_ready = t + (long)p->lag;
				s->group = want;
			} else {
				sc->unplaced++;
			}
			break;
		case DAEMON_CONTROL_TRIM:
			hosts[s->host].used_bytes -= SLOT_BYTES;
			s->group--;
			more = 1;
			break;
		case DAEMON_CONTROL_DEMOTE:
			hosts[s->host].used_bytes -= (uint64_t)s->group * SLOT_BYTES;
			s->state = NO_COPY;
			s->group = s->adding = 0;
			break;
		case DAEMON_CONTROL_NONE:
			break;
		}
	}
	if (s->state == ON_ITS_WAY && t >= s->ready)
		s->state = SERVING;
	if (s->adding && t >= s->adding_ready)
		s->adding = 0;
}

int sim_replay(const struct sim_params *p, const struct sim_file *files, size_t nfiles, long from,
	       long to, struct sim_score *sc)
{
	if (!p || !p->hosts || p->nhosts == 0 || p->nhosts > SIM_MAX_HOSTS || p->idle == 0 ||
	    from < 0 || from > to || (nfiles && !files))
		return -EINVAL;
	struct daemon_control_host hosts[SIM_MAX_HOSTS];
	for (size_t i = 0; i < p->nhosts; i++)
		hosts[i] = (struct daemon_control_host){
		    .up = true,
		    .thin = true,
		    .cost = p->hosts[i].cost,
		    .budget_bytes = (uint64_t)p->hosts[i].slots * SLOT_BYTES,
		    .avail_bytes = UINT64_MAX,
		};
	struct file_state *st = calloc(nfiles ? nfiles : 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	/* Time outer, files inner: the files compete for the hosts' slots in
	 * the order the control loop meets them. */
	for (long t = from; t < to; t++) {
		for (size_t i = 0; i < nfiles; i++) {
			const struct sim_file *f = &files[i];
			struct file_state *s = &st[i];
			control_step(p, f, s, hosts, t, sc);
			double y = f->y[t] > 0 && isfinite(f->y[t]) ? f->y[t] : 0.0;
			double k = s->state == SERVING ? 1.0 + s->group - s->adding : 1.0;
			sc->buckets++;
			sc->reads += y;
			if (y > k * f->cap) {
				sc->overloaded++;
				sc->reads_overloaded += y;
				sc->excess += y - k * f->cap;
			}
			if (is_onset(f, t, p->window)) {
				sc->onsets++;
				sc->covered += s->state == SERVING;
			}
			if (s->state != NO_COPY) {
				sc->copy_buckets += s->group;
				sc->cost += p->hosts[s->host].cost * s->group;
			}
		}
	}
	free(st);
	return 0;
}

int sim_parse_hosts(const char *s, struct sim_host *ret, size_t max)
{
	size_t n = 0;
	if (!s || !*s)
		return -EINVAL;
	const char *p = s;
	for (;;) {
		if (n == max || n == SIM_MAX_HOSTS)
			return -EINVAL;
		char *end;
		errno = 0;
		double cost = strtod(p, &end);
		if (errno || end == p || !isfinite(cost) || cost < 0)
			return -EINVAL;
		unsigned long slots = 0;
		if (*end == ':') {
			const char *q = end + 1;
			if (*q < '0' || *q > '9')
				return -EINVAL;
			slots = strtoul(q, &end, 10);
			if (errno || end == q || slots > 1000000000ul)
				return -EINVAL;
		}
		ret[n++] = (struct sim_host){.cost = cost, .slots = (unsigned)slots};
		if (*end == '\0')
			return (int)n;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}
