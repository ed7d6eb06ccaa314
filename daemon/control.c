/* The control loop's pure decisions (see control.h). */
#include "daemon/control.h"

#include <math.h>

#include "daemon/host_store.h"

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

uint64_t daemon_control_allowed(const struct daemon_control_file *f)
{
	return f->hosts_limited ? f->allowed_hosts : DAEMON_CONTROL_ANY_HOST;
}

unsigned daemon_control_misplaced(const struct daemon_control_file *f)
{
	if (!f->hosts_limited)
		return 0;
	unsigned n = (unsigned)__builtin_popcountll(f->serving_hosts & ~f->allowed_hosts);
	return n < f->serving_copies ? n : f->serving_copies;
}

static bool is_wanted(const struct daemon_control_file *f)
{
	return (f->pinned || f->hot) && !f->gone && !f->never;
}

/* The copies f should have on allowed hosts when wanted. */
static unsigned wanted_copies(const struct daemon_control_file *f)
{
	unsigned want = f->want_copies ? f->want_copies : 1u;
	if (f->hosts_limited) { /* one copy per host: at most the allowed hosts */
		unsigned hosts = (unsigned)__builtin_popcountll(f->allowed_hosts);
		want = want < hosts ? want : hosts;
	}
	return want;
}

enum daemon_control_action daemon_control_decide(const struct daemon_control_params *p,
						 const struct daemon_control_file *f,
						 uint64_t now_ms, struct daemon_control_memory *mem)
{
	bool wanted = is_wanted(f);
	unsigned misplaced = daemon_control_misplaced(f);
	unsigned placed = f->serving_copies - misplaced; /* on allowed hosts */
	unsigned want = wanted_copies(f);
	if (wanted)
		mem->wanted_ms = now_ms;
	if (!wanted || placed <= want)
		mem->needed_ms = now_ms;
	if (f->never)
		mem->wanted_ms = 0; /* unwanted from now: no hysteresis after never goes */
	if (f->gone || f->never)
		return f->has_copies ? DAEMON_CONTROL_DEMOTE : DAEMON_CONTROL_NONE;
	if (!wanted && f->copying) {
		/* a copy under way is part of has_copies: the demotion cancels it */
		bool idle = mem->wanted_ms == 0 || now_ms - mem->wanted_ms >= p->idle_ms;
		return idle && f->has_copies ? DAEMON_CONTROL_DEMOTE : DAEMON_CONTROL_NONE;
	}
	if (f->copying)
		return DAEMON_CONTROL_NONE;
	if (!wanted) {
		bool idle = mem->wanted_ms == 0 || now_ms - mem->wanted_ms >= p->idle_ms;
		if (idle && f->has_copies)
			return DAEMON_CONTROL_DEMOTE;
		return misplaced ? DAEMON_CONTROL_TRIM : DAEMON_CONTROL_NONE;
	}
	bool may_copy = (placed < want || (f->migrate && placed == want)) && !f->writes_unseen &&
			!(f->version_ms && now_ms - f->version_ms < p->quiet_ms) &&
			!(f->retry_ms && now_ms < f->retry_ms);
	if (misplaced) /* make before break, unless no copy may be made now */
		return may_copy ? DAEMON_CONTROL_COPY : DAEMON_CONTROL_TRIM;
	if (placed > want)
		return now_ms - mem->needed_ms >= p->idle_ms ? DAEMON_CONTROL_TRIM
							     : DAEMON_CONTROL_NONE;
	return may_copy ? DAEMON_CONTROL_COPY : DAEMON_CONTROL_NONE;
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

bool daemon_control_host_allowed(uint64_t allowed, size_t i)
{
	return allowed == DAEMON_CONTROL_ANY_HOST || (allowed & DAEMON_CONTROL_HOST_BIT(i));
}

int daemon_control_pick_host(const struct daemon_control_host *h, size_t n, uint64_t size,
			     const bool *exclude, uint64_t allowed)
{
	return daemon_control_pick_host_sparse(h, n, size, size, exclude, allowed);
}

int daemon_control_pick_host_sparse(const struct daemon_control_host *h, size_t n, uint64_t size,
				    uint64_t data, const bool *exclude, uint64_t allowed)
{
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if (!h[i].up || (exclude && exclude[i]) || !daemon_control_host_allowed(allowed, i))
			continue;
		uint64_t need = h[i].thin && data < size ? data : size;
		/* the budget counts each copy's overhead too (host_store.h) */
		if (h[i].budget_bytes &&
		    (h[i].used_bytes > h[i].budget_bytes ||
		     need + DAEMON_STORE_COPY_OVERHEAD > h[i].budget_bytes - h[i].used_bytes))
			continue;
		if (need > h[i].avail_bytes)
			continue;
		if (best < 0 || h[i].cost < h[best].cost ||
		    (h[i].cost == h[best].cost && h[i].load_permille < h[best].load_permille))
			best = (int)i;
	}
	return best;
}

int daemon_control_pick_surplus(const struct daemon_control_host *h, size_t n, const bool *holds,
				uint64_t allowed, const enum daemon_control_verdict *verdict)
{
	int worst = -1;
	bool worst_out = false, worst_back = false;
	for (size_t i = 0; i < n; i++) {
		if (!holds[i])
			continue;
		bool out = !daemon_control_host_allowed(allowed, i);
		bool back = verdict && verdict[i] == DAEMON_CONTROL_ROLLED_BACK;
		bool worse;
		if (worst < 0 || out != worst_out)
			worse = worst < 0 || out;
		else if (back != worst_back)
			worse = back;
		else
			worse = h[i].cost > h[worst].cost ||
				(h[i].cost == h[worst].cost &&
				 h[i].load_permille >= h[worst].load_permille);
		if (worse) {
			worst = (int)i;
			worst_out = out;
			worst_back = back;
		}
	}
	return worst;
}

bool daemon_control_trim_waits(size_t n, const bool *holds, uint64_t allowed,
			       const enum daemon_control_verdict *verdict, int pick,
			       uint64_t surplus_ms, uint64_t limit_ms)
{
	if (!verdict || pick < 0 || (size_t)pick >= n || surplus_ms >= limit_ms ||
	    !daemon_control_host_allowed(allowed, (size_t)pick) ||
	    verdict[pick] != DAEMON_CONTROL_PROVEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (holds[i] && (int)i != pick && verdict[i] == DAEMON_CONTROL_UNPROVEN)
			return true;
	return false;
}

uint64_t daemon_control_migrate_block_ms(unsigned n)
{
	const uint64_t hour = 3600000, max_ms = 24 * hour;
	if (n == 0)
		return 0;
	if (n > 5)
		return max_ms;
	uint64_t ms = hour << (n - 1);
	return ms < max_ms ? ms : max_ms;
}

bool daemon_control_settled(const struct daemon_control_file *f)
{
	return is_wanted(f) && !f->copying && !f->migrate && !f->writes_unseen &&
	       daemon_control_misplaced(f) == 0 && f->serving_copies == wanted_copies(f);
}
