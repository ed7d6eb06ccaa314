/* The mount's side of the rollout of copies (the state machine is
 * daemon/rollout.c): each control tick, for each copy, feed the machine
 * the copy's and the origin's latency histograms (collected lock-free by
 * the router) and publish the share it decides; log step changes and
 * rollbacks and retries, one line each; describe a copy's rollout for
 * user.shadow.state and shadowctl shadows.
 *
 * A rolled-back copy is kept (SERVING, its fd open, verified as before)
 * at share 0: it serves nothing, is retried from the first step after the
 * cool-down, or earlier once the origin's reads get slower than the copy's
 * were (rolled back for latency), and is dropped as any copy is
 * (demotion, a new version). */
#ifndef SHADOWFS_FS_ROLLOUT_H
#define SHADOWFS_FS_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

struct daemon_rollout_params;
struct daemon_shadow_copy;
struct daemon_shadow_file;
struct daemon_shadow_map;
struct fs_hosts;

/* Control loop, map lock NOT held: advances the rollout of every copy of s
 * (a copy newly valid starts at the first step, or resumes where the last
 * copy on its host stopped; an invalid one stops). */
void fs_rollout_tick(const struct daemon_rollout_params *p, struct daemon_shadow_map *m,
		     struct daemon_shadow_file *s, struct fs_hosts *hosts, uint64_t now_ms);
/* Control loop, the share to publish a new copy at: the first step's (or,
 * for a new copy on the host of the last one, the step that one had
 * reached, and 0 when it was rolled back: daemon_rollout_resume), so it
 * never serves more than that before the next tick. */
uint32_t fs_rollout_first_share(const struct daemon_rollout_params *p,
				const struct daemon_shadow_copy *cp);
/* Map lock held: appends ":share=S:step=I/N:rollout=PHASE[:why=REASON]"
 * (share in percent), and for a copy rolled back for latency
 * ":retry_when_origin_pQ_us>N" (Q 50 or 95: the origin's figure that
 * retries it early, daemon/rollout.h), to out; returns the characters it
 * would take. */
size_t fs_rollout_describe(const struct daemon_rollout_params *p,
			   const struct daemon_shadow_copy *cp, char *out, size_t len);

#endif
