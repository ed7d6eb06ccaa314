/* The simulator's core (see sim_replay.h): the control loop's decisions
 * replayed on simulated hosts, scored per bucket. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.h"
#include "tools/sim_replay.h"

#define SIM_MAX_HOSTS 64
#define BUCKET_MS 1000u /* any unit: the control loop only compares times */

enum copy_state { NO_COPY, ON_ITS_WAY, SERVING };

struct file_state {
	enum copy_state state;
	int host;
	long ready; /* first bucket the copy serves */
	uint64_t wanted_ms;
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

/* One control decision for one file at bucket t, carried out on the
 * simulated hosts. */
static void control_step(const struct sim_params *p, const struct sim_file *f,
			 struct file_state *s, struct daemon_control_host *hosts, long t,
			 struct sim_score *sc)
{
	struct daemon_control_params cp = {
	    .idle_ms = (uint64_t)p->idle * BUCKET_MS,
	    .quiet_ms = 0,
	};
	struct daemon_control_file cf = {
	    .hot = f->alarm[t] != 0,
	    .serving = s->state == SERVING,
	    .has_copies = s->state != NO_COPY,
	    .copying = s->state == ON_ITS_WAY,
	};
	/* +1: time 0 would read as "never wanted" to the hysteresis. */
	uint64_t now_ms = ((uint64_t)t + 1) * BUCKET_MS;
	switch (daemon_control_decide(&cp, &cf, now_ms, &s->wanted_ms)) {
	case DAEMON_CONTROL_COPY: {
		uint64_t group = p->copies ? p->copies : 1;
		int h = daemon_control_pick_host(hosts, p->nhosts, group, NULL);
		if (h < 0) {
			sc->unplaced++;
			break;
		}
		hosts[h].used_bytes += group;
		s->host = h;
		s->ready = t + (long)p->lag;
		s->state = ON_ITS_WAY;
		sc->copies += (long)group;
		break;
	}
	case DAEMON_CONTROL_DEMOTE:
		hosts[s->host].used_bytes -= p->copies ? p->copies : 1;
		s->state = NO_COPY;
		break;
	case DAEMON_CONTROL_NONE:
		break;
	}
	if (s->state == ON_ITS_WAY && t >= s->ready)
		s->state = SERVING;
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
		    .local = true,
		    .cost = p->hosts[i].cost,
		    .budget_bytes = p->hosts[i].slots,
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
			double k = s->state == SERVING ? 1.0 + (p->copies ? p->copies : 1) : 1.0;
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
				unsigned group = p->copies ? p->copies : 1;
				sc->copy_buckets += group;
				sc->cost += p->hosts[s->host].cost * group;
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
