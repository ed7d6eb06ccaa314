/* Fair shares of shadowd's connection slots between its peers (told apart
 * by their certificate's name): how many a peer holds, and which
 * connection a newcomer may take when every slot is taken. Pure functions
 * over a view of the slots, which the server (server.c) builds under its
 * lock.
 *
 * Reclaim rule: the newcomer's peer holds `held` connections. Among the
 * peers that hold more than held + 1 and have an idle connection, the one
 * holding the most gives way: its connection idle longest is closed and its
 * slot goes to the newcomer. Shares only ever even out (two peers' counts
 * never cross, so they cannot take a slot back and forth), a mount whose
 * share is below the largest gets in, a peer at the largest share is
 * refused. Only idle connections are taken, waiting between requests or
 * in a heartbeat stream; never one in a request. */
#ifndef SHADOWFS_DAEMON_PEER_SHARE_H
#define SHADOWFS_DAEMON_PEER_SHARE_H

#include <stddef.h>
#include <stdint.h>

struct daemon_peer_slot {
	const char *name; /* its peer's certificate name */
	uint64_t idle_ms; /* since when it is idle; 0: in a request */
	int slot;	  /* the server's slot */
};

/* Connections of name among v[0..n). */
unsigned daemon_peer_share_held(const struct daemon_peer_slot *v, size_t n, const char *name);

/* For a newcomer whose peer holds held of the connections v[0..n) (the
 * others authenticated, the newcomer's own left out): the slot to close for
 * it, or -1 (none may be: refuse it). Reorders v. *ret_most: the most
 * connections one peer holds. */
int daemon_peer_share_reclaim(struct daemon_peer_slot *v, size_t n, unsigned held,
			      unsigned *ret_most);

#endif
