/* Quiet entries: which entries of the shadow map a pass of the control
 * loop may leave alone, and what keeps that safe.
 *
 * A pass looks at every live entry: its copies' stamps against the disk
 * (a path lookup of the origin and of each local copy), the decision of
 * daemon/control.c, the rollout machine (latency snapshots per copy). At
 * 30,000 shadowed files that was a third of a core with nothing
 * happening. Most of a large map is settled: wanted, with the copies it
 * should have, all serving, and not read since the last look. For such an
 * entry nothing the clock alone changes makes a decision other than NONE
 * (daemon_control_settled), and the rollout of an unread copy does not
 * move; what can change it is seen without a syscall: its flags (pinned,
 * hot, overloaded, gone, replica count), a slot's state, its reads
 * (origin and copies), its version. So a pass leaves a quiet entry alone
 * unless one of those moved, and looks at it anyway one pass in
 * SHADOW_QUIET_EVERY (spread by index), which bounds how late a change
 * nothing here sees is acted on: a host gone down under a remote copy (the
 * router does not read it meanwhile), a cheaper host to migrate to. A file
 * no longer wanted changes its flags and is never settled: looked at every
 * pass until demoted. Pin and tuning changes, and pressure on the copies'
 * fds, make a pass look at every entry (shadow_quiet_look_all).
 *
 * Changes behind the mount's back: a pass compared every serving entry's
 * stamps; now a quiet one's are compared one pass in SHADOW_QUIET_EVERY.
 * So that a copy of an origin changed in BACKING meanwhile never serves
 * longer than before, the first read of a quiet entry compares them before
 * it is routed (as an open does): a file left alone is checked when it is
 * read again, not when a pass happens to reach it; that read makes the
 * next pass look at it, and every pass after while it is read, as before. */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "daemon/rollout.h"
#include "fs/shadowing_impl.h"
#include "fs/status_file.h"

/* What the quiet mark must see unchanged: flags and slot states. */
static uint32_t quiet_sig(const struct daemon_shadow_file *s)
{
	uint32_t sig = (uint32_t)s->pinned | (uint32_t)s->hot << 1 | (uint32_t)s->overloaded << 2 |
		       (uint32_t)s->reactive << 3 | (uint32_t)s->gone << 4 |
		       (uint32_t)s->origin_live << 5 | (uint32_t)s->hosts_limited << 6 |
		       (s->want_copies < 255 ? s->want_copies : 255u) << 8;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		sig |= ((uint32_t)LOAD(&s->copies[k].state) & 3u) << (16 + 2 * k);
	return sig;
}

/* Reads served so far, by the origin and every copy. */
static uint64_t reads_total(struct daemon_shadow_file *s)
{
	uint64_t n = LOAD(&s->origin_reads);
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		n += LOAD(&s->copies[k].reads);
	return n;
}

void shadow_quiet_note(struct fs_shadowing *sh, struct daemon_shadow_file *s, bool settled)
{
	daemon_shadow_map_lock(sh->map);
	uint64_t reads = reads_total(s);
	bool unread = reads == s->quiet_reads;
	bool still = settled && unread && s->considered_pass != 0;
	for (int k = 0; still && k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		const struct daemon_rollout *r = s->copies[k].rollout;
		/* A copy being made, stale, or rolled back (a cool-down runs
		 * out by the clock): looked at every pass. */
		still = (st == DAEMON_COPY_NONE || st == DAEMON_COPY_SERVING) &&
			!(r && r->phase == DAEMON_ROLLOUT_ROLLED_BACK);
	}
	if (still)
		STORE(&s->quiet_read_checked, false); /* before quiet: its next read checks */
	STORE(&s->quiet, still);
	s->quiet_sig = quiet_sig(s);
	s->quiet_reads = reads;
	s->quiet_version = daemon_shadow_file_version(s);
	s->considered_pass = sh->passes;
	daemon_shadow_map_unlock(sh->map);
}

bool shadow_quiet_skip(struct daemon_shadow_file *s, size_t k, uint64_t pass, uint64_t now_ms)
{
	if (!LOAD(&s->quiet) || (k + pass) % SHADOW_QUIET_EVERY == 0)
		return false;
	if (quiet_sig(s) != s->quiet_sig || reads_total(s) != s->quiet_reads ||
	    daemon_shadow_file_version(s) != s->quiet_version || LOAD(&s->changing) != 0)
		return false;
	/* As daemon_control_decide would keep them for a settled file. */
	s->control.wanted_ms = now_ms;
	s->control.needed_ms = now_ms;
	return true;
}

bool shadow_quiet_look_all(struct fs_shadowing *sh)
{
	pthread_mutex_lock(&sh->lock);
	bool all = sh->look_all_pending;
	sh->look_all_pending = false;
	pthread_mutex_unlock(&sh->lock);
	return all || shadow_copy_fds_pressed(sh);
}

bool shadow_quiet_stamps_due(struct daemon_shadow_file *s)
{
	if (!LOAD(&s->quiet))
		return false; /* looked at by every pass */
	/* One reader compares; the others route as before meanwhile. */
	bool checked = false;
	return __atomic_compare_exchange_n(&s->quiet_read_checked, &checked, true, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

struct stats_line {
	const struct fs_shadowing *sh;
	uint64_t pass_ms;
};

static void fill_stats(FILE *out, void *arg)
{
	const struct stats_line *l = arg;
	const struct fs_shadowing *sh = l->sh;
	fprintf(out,
		"passes=%llu entries=%zu looked=%zu quiet_left=%zu pass_ms=%llu tick_ms=%llu "
		"quiet_every=%u freed=%llu\n",
		(unsigned long long)sh->passes, daemon_shadow_map_size(sh->map), sh->pass_looked,
		sh->pass_quiet, (unsigned long long)l->pass_ms,
		(unsigned long long)(sh->cfg.tick_s * 1000), SHADOW_QUIET_EVERY,
		(unsigned long long)daemon_shadow_map_removed(sh->map));
}

void shadow_quiet_write_stats(struct fs_shadowing *sh, uint64_t pass_ms)
{
	struct stats_line l = {.sh = sh, .pass_ms = pass_ms};
	int r = fs_status_file_write(sh->control_stats_path, fill_stats, &l);
	if (r < 0)
		sfs_debug("cannot write %s: %s", sh->control_stats_path, strerror(-r));
}
