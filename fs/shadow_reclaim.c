/* Freeing the shadow map's entries that nothing wants or holds.
 *
 * Every file the layer ever pinned, forecast hot or opened under
 * shadow_all got an entry (3.4 KB, more with rollouts), and entries were
 * never freed: the FUSE read path dereferences the pointer its inode holds
 * without a lock, so freeing one needed to know that no inode points to
 * it. A mount whose hot set moves, or whose files come and go, grew by an
 * entry per file for as long as it ran (a million files over its life:
 * 5 GB).
 *
 * Now the pointers held outside the map lock are counted under it:
 *   - inode_links: inodes whose fs_inode.shadow is the entry. An inode
 *     takes its pointer once, under the map lock (shadow_link_inode_locked),
 *     and gives it back when the inode table frees it (the kernel forgot
 *     it and no fd pin is left: no op can use it any more;
 *     shadow_inode_released, the table's release hook);
 *   - holds: an op that found the entry by name (create, unlink, rename
 *     over a file) holds it until it ends.
 * The other pointers are the control thread's own (the mover's jobs, the
 * candidates of the last pass, the scratch origin fd), and the control
 * thread is the one that frees. A pass that finds an entry parked (not
 * live, not pinned, hot or overloaded, no copy: fs/shadow_control.c, park)
 * frees it when both counts are 0 and no job or candidate names it
 * (shadow_reclaim). So entries live as long as the kernel keeps the
 * file's inode, or while the file is wanted or has copies.
 *
 * What an entry made again for the same file starts with: a version above
 * any the freed one had (daemon_shadow_map_remove), so a copy made under
 * the old entry (left on a host that was down) never matches; no copy, no
 * pin (a pin keeps the entry), no back-off and no hysteresis (a parked
 * entry has none that matters: no copy to keep or drop). */
#include "fs/shadowing_impl.h"

#include "daemon/shadow_map.h"
#include "fs/fs.h"
#include "fs/inode_table.h"
#include "fs/mover.h"
#include "fs/remote_dirty.h"

void shadow_link_inode_locked(struct fs_inode *i, struct daemon_shadow_file *s)
{
	void *none = NULL;
	if (__atomic_compare_exchange_n(&i->shadow, &none, (void *)s, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		s->inode_links++;
}

/* The inode table's release hook: i is being freed. */
static void shadow_inode_released(struct fs_inode *i, void *arg)
{
	struct fs_shadowing *sh = arg;
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s = __atomic_exchange_n((struct daemon_shadow_file **)&i->shadow,
							   NULL, __ATOMIC_ACQ_REL);
	if (s && s->inode_links > 0)
		s->inode_links--;
	daemon_shadow_map_unlock(sh->map);
}

void shadow_reclaim_init(struct fs_shadowing *sh)
{
	fs_inode_table_on_release(sh->ctx->inodes, shadow_inode_released, sh);
}

void shadow_entry_put(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	if (!s)
		return;
	daemon_shadow_map_lock(sh->map);
	if (s->holds > 0)
		s->holds--;
	daemon_shadow_map_unlock(sh->map);
}

/* Nothing wants it, nothing outside the control thread points to it.
 * Map lock held. */
static bool unused_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	return s->inode_links == 0 && s->holds == 0 && !s->origin_live && s->origin_fd < 0 &&
	       !s->pinned && !s->hot && !s->overloaded && !s->hot_mark &&
	       LOAD(&s->changing) == 0 && !shadow_any_copy(s) && sh->scratch_of != s;
}

bool shadow_reclaim(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	/* The control thread starts every job: none can start meanwhile. A
	 * job (a re-hash of a copy dropped since, too) keeps its pointer
	 * until this thread applies its end. */
	if (fs_mover_on(sh->mover, s, -1) || (sh->express && fs_mover_on(sh->express, s, -1)))
		return false;
	for (size_t c = sh->next_candidate; c < sh->ncandidates; c++)
		if (sh->candidates[c] == s)
			return false;
	daemon_shadow_map_lock(sh->map);
	bool unused = unused_locked(sh, s);
	if (unused) {
		fs_remote_dirty_free(s);
		daemon_shadow_map_remove(sh->map, s);
	}
	daemon_shadow_map_unlock(sh->map);
	return unused;
}
