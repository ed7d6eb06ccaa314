/* Fair shares of the connection slots between peers: see peer_share.h. */
#include "daemon/peer_share.h"

#include <stdlib.h>
#include <string.h>

unsigned daemon_peer_share_held(const struct daemon_peer_slot *v, size_t n, const char *name)
{
	unsigned held = 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			held++;
	return held;
}

/* By name, then idle longest first (those in a request last). */
static int by_name_idle(const void *a, const void *b)
{
	const struct daemon_peer_slot *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	uint64_t xi = x->idle_ms ? x->idle_ms : UINT64_MAX;
	uint64_t yi = y->idle_ms ? y->idle_ms : UINT64_MAX;
	return xi < yi ? -1 : xi > yi;
}

int daemon_peer_share_reclaim(struct daemon_peer_slot *v, size_t n, unsigned held,
			      unsigned *ret_most)
{
	if (n > 1) /* qsort of NULL, even of none, is undefined */
		qsort(v, n, sizeof(*v), by_name_idle);
	unsigned most = 0, victim_count = 0;
	size_t victim = n;
	for (size_t run = 0; run < n;) {
		size_t end = run + 1;
		while (end < n && !strcmp(v[end].name, v[run].name))
			end++;
		unsigned count = (unsigned)(end - run);
		if (count > most)
			most = count;
		/* v[run]: the peer's connection idle longest, if any is */
		if (v[run].idle_ms && held + 1 < count &&
		    (count > victim_count ||
		     (count == victim_count && v[run].idle_ms < v[victim].idle_ms))) {
			victim = run;
			victim_count = count;
		}
		run = end;
	}
	*ret_most = most;
	return victim < n ? v[victim].slot : -1;
}
