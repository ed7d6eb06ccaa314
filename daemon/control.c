/* The control loop's pure decisions (see control.h). */
#include "daemon/control.h"

#include <math.h>

const char *daemon_control_action_name(enum daemon_control_action a)
{
	switch (a) {
	case DAEMON_CONTROL_NONE:
		return "none";
	case DAEMON_CONTROL_COPY:
		return "copy";
	case DAEMON_CONTROL_DEMOTE:
		return "demote";
	case DAEMON_CONTROL_TRIM:
		return "trim";
	}
	return "?";
}

enum daemon_control_action daemon_control_decide(const struct daemon_control_params *p,
						 const struct daemon_control_file *f,
						 uint64_t now_ms, struct daemon_control_memory *mem)
{
	bool wanted = (f->pinned || f->hot) && !f->gone && !f->never;
	unsigned serving = f->serving_copies;
	unsigned want = f->want_copies ? f->want_copies : 1u;
	if (wanted)
		mem->wanted_ms = now_ms;
	if (!wanted || serving <= want)
		mem->needed_ms = now_ms;
	if (f->never)
		mem->wanted_ms = 0; /* unwanted from now: no hysteresis after never goes */
	if (f->gone || f->never)
		return f->has_copies ? DAEMON_CONTROL_DEMOTE : DAEMON_CONTROL_NONE;
	if (!wanted) {
		bool idle = mem->wanted_ms == 0 || now_ms - mem->wanted_ms >= p->idle_ms;
		/* a copy under way is part of has_copies: the demotion cancels it */
		return idle && f->has_copies ? DAEMON_CONTROL_DEMOTE : DAEMON_CONTROL_NONE;
	}
	if (f->copying)
		return DAEMON_CONTROL_NONE;
	if (serving > want)
		return now_ms - mem->needed_ms >= p->idle_ms ? DAEMON_CONTROL_TRIM
							     : DAEMON_CONTROL_NONE;
	if (serving >= want || f->writes_unseen)
		return DAEMON_CONTROL_NONE;
	if (f->version_ms && now_ms - f->version_ms < p->quiet_ms)
		return DAEMON_CONTROL_NONE;
	if (f->retry_ms && now_ms < f->retry_ms)
		return DAEMON_CONTROL_NONE;
	return DAEMON_CONTROL_COPY;
}

unsigned daemon_control_copies_for(double demand, double capacity, unsigned max)
{
	if (max < 1)
		max = 1;
	if (!(demand > 0) || !(capacity > 0) || !isfinite(capacity))
		return 1; /* NaN, nothing forecast or no capacity: the one copy */
	double k = ceil(demand / capacity) - 1.0;
	if (!(k < (double)max)) /* also +inf */
		return max;
	return k < 1.0 ? 1u : (unsigned)k;
}

uint64_t daemon_control_backoff_ms(unsigned n)
{
	const uint64_t max_ms = 300000;
	if (n == 0)
		return 0;
	if (n > 20)
		return max_ms;
	uint64_t ms = 1000ull << (n - 1);
	return ms < max_ms ? ms : max_ms;
}

int daemon_control_pick_host(const struct daemon_control_host *h, size_t n, uint64_t size,
			     const bool *exclude)
{
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if (!h[i].up || (exclude && exclude[i]))
			continue;
		if (h[i].budget_bytes && (h[i].used_bytes > h[i].budget_bytes ||
					  size > h[i].budget_bytes - h[i].used_bytes))
			continue;
		if (size > h[i].avail_bytes)
			continue;
		if (best < 0 || h[i].cost < h[best].cost ||
		    (h[i].cost == h[best].cost && h[i].load_permille < h[best].load_permille))
			best = (int)i;
	}
	return best;
}

int daemon_control_pick_surplus(const struct daemon_control_host *h, size_t n, const bool *holds)
{
	int worst = -1;
	for (size_t i = 0; i < n; i++) {
		if (!holds[i])
			continue;
		if (worst < 0 || h[i].cost > h[worst].cost ||
		    (h[i].cost == h[worst].cost && h[i].load_permille >= h[worst].load_permille))
			worst = (int)i;
	}
	return worst;
}
