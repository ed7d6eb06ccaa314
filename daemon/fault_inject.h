/* Fault injection for tests (shadowd --test-inject-latency-ms N
 * --test-inject-error-rate P, --test-inject-commit-ms N, --test-no-verify,
 * --test-no-zeros): a fake slow or failing host, one slow to commit an
 * upload (a big copy's re-hash), or one that predates the VERIFY request
 * or ZEROS frames, on one machine.
 * Off unless those test-only flags are given. Thread-safe. */
#ifndef SHADOWFS_DAEMON_FAULT_INJECT_H
#define SHADOWFS_DAEMON_FAULT_INJECT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct daemon_fault {
	uint32_t latency_ms; /* read-only after init */
	double error_rate;   /* 0..1, read-only after init */
	uint32_t commit_ms;  /* --test-inject-commit-ms: sleep before each upload's
			      * commit (after its END arrived); read-only after init */
	bool no_verify;	     /* --test-no-verify: act as a shadowd that predates
			      * VERIFY and VERSIONS (close the connection on
			      * them); read-only after init */
	bool no_zeros;	     /* --test-no-zeros: act as a shadowd that predates
			      * ZEROS (no features in STATS, the connection
			      * closed on a ZEROS frame); read-only after init */
	pthread_mutex_t lock;
	uint64_t rng; /* protected by lock */
};

void daemon_fault_init(struct daemon_fault *f, uint32_t latency_ms, double error_rate,
		       uint64_t seed);
void daemon_fault_destroy(struct daemon_fault *f);
/* Called before serving a request: sleeps the injected latency, then returns
 * -EIO with probability error_rate, 0 otherwise. */
int daemon_fault_before(struct daemon_fault *f);
/* Called before an upload is committed: sleeps commit_ms. */
void daemon_fault_before_commit(const struct daemon_fault *f);

#endif
