/* The shadowing layer's fds: the origins of its entries, and the budget
 * that bounds them together with the local copies' fds.
 *
 * An entry that is wanted (pinned, hot, overloaded) or has copies is live:
 * each pass checks its origin (stamps, tuning attributes) and copies are
 * made from it. It used to hold an O_PATH fd on the origin for as long as
 * it was live, and each local copy that serves holds one on the copy:
 * 10,000 files under shadow_all took 20,000 fds, and the mount ran out of
 * them (RLIMIT_NOFILE), failing every application's opens and lookups
 * with EMFILE.
 *
 * A live entry keeps the origin's file handle (name_to_handle_at, as the
 * inode table does) and an fd only if fewer than origin_cache (a quarter
 * of the budget) are cached when it becomes live. The control thread
 * reopens the origin of any other by its handle when it needs it
 * (open_by_handle_at, about an fstat's cost) and keeps that one fd
 * (scratch) until it needs another: so the origins take origin_cache + 1
 * fds at most. A pass stats the origins of the entries it looks at, by
 * path while the path names the same file (shadow_origin_stamp_now: the
 * stamps of those with serving copies; shadow_origin_gone: links left).
 * Without handles (BACKING cannot give them, or the mount lacks
 * CAP_DAC_READ_SEARCH, or the file is on another filesystem mounted below
 * it) the fd stays for as long as the entry is live, as
 * before, and counts against the budget: an entry that would exceed it is
 * not made live (the control loop tries again at each pass).
 *
 * The budget (fs_shadowing_config.fd_budget, common/fd_limit.h) bounds all
 * the layer's fds: cached and kept origin fds, and the fds of local copies.
 * A local copy is read through an fd (the router preads it), but it need
 * not hold one while nobody reads it: at publication it keeps the fd the
 * mover opened if the copies' share (the budget less the origins') has
 * room; a reader that finds none opens the copy in its store and leaves
 * the fd in the slot (fs_shadowing_copy_fd), or, with the share used,
 * closes it after its read; each pass, once the copies hold three
 * quarters of their share, those not read since the last pass give theirs
 * back (shadow_copy_fd_idle; daemon_shadow_copy_take_fd waits for the
 * readers that loaded it). So any number of local copies serve, and the
 * fds follow the copies being read. */
#include "fs/shadowing_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/host_store.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/inode_table.h"

void shadow_fds_init(struct fs_shadowing *sh, unsigned budget)
{
	sh->fd_budget = budget ? budget : 1024;
	sh->origin_cache = sh->fd_budget / 4 ? sh->fd_budget / 4 : 1;
	sh->scratch_fd = -1;
}

static bool budget_room(struct fs_shadowing *sh)
{
	return LOAD(&sh->origin_fds) + LOAD(&sh->copy_fds) < sh->fd_budget;
}

bool shadow_origin_adopt_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s, int fd)
{
	/* Taken anew: an entry can be reused for another file with the same
	 * inode number (fs/shadowing.c, entry_reuse_locked). Not live, so the
	 * control thread does not use the old one. */
	free(s->origin_handle);
	s->origin_handle = fs_inode_table_handle_of(sh->ctx->inodes, fd);
	bool keep = s->origin_handle ? LOAD(&sh->origin_fds) < sh->origin_cache : budget_room(sh);
	if (!keep)
		close(fd);
	if (!keep && !s->origin_handle) {
		if (!sh->budget_origin_logged)
			sfs_warn("shadow: %s not shadowed for now: the shadowing layer holds its %u "
				 "fds (a quarter of the open-file limit) and BACKING gives no file "
				 "handles to reopen origins by; raise the limit (LimitNOFILE=)",
				 shadow_path_or(s, "a file"), sh->fd_budget);
		sh->budget_origin_logged = true;
		return false;
	}
	s->origin_live = true;
	if (keep) {
		s->origin_fd = fd;
		ADD(&sh->origin_fds, 1);
	}
	return true;
}

/* The reopened fd of an entry the cache has no room for, until another
 * entry needs one (control thread). */
static void scratch_close(struct fs_shadowing *sh)
{
	if (sh->scratch_of && sh->scratch_fd >= 0) /* (not set up: 0 and NULL) */
		close(sh->scratch_fd);
	sh->scratch_fd = -1;
	sh->scratch_of = NULL;
}

void shadow_origin_close_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	if (s->origin_fd >= 0) {
		close(s->origin_fd);
		SUB(&sh->origin_fds, 1);
	}
	s->origin_fd = -1;
	s->origin_live = false;
	free(s->origin_handle); /* taken anew if it is live again */
	s->origin_handle = NULL;
	if (sh->scratch_of == s) /* only the control thread parks */
		scratch_close(sh);
}

int shadow_origin_fd(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	daemon_shadow_map_lock(sh->map);
	int fd = s->origin_live ? s->origin_fd : -1;
	/* Only this thread makes a live entry not live: while it is here, no
	 * other thread can take a new handle for s (that needs s not live). */
	const struct file_handle *h = s->origin_live && fd < 0 ? s->origin_handle : NULL;
	daemon_shadow_map_unlock(sh->map);
	if (!h)
		return fd;
	if (sh->scratch_of == s)
		return sh->scratch_fd;
	fd = open_by_handle_at(fs_inode_table_root_fd(sh->ctx->inodes), (struct file_handle *)h,
			       O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1; /* deleted behind the mount's back (ESTALE), or no fd left */
	if (LOAD(&sh->origin_fds) < sh->origin_cache) {
		daemon_shadow_map_lock(sh->map);
		s->origin_fd = fd;
		ADD(&sh->origin_fds, 1);
		daemon_shadow_map_unlock(sh->map);
		return fd;
	}
	scratch_close(sh);
	sh->scratch_fd = fd;
	sh->scratch_of = s;
	return fd;
}

bool shadow_origin_stamp_now(struct fs_shadowing *sh, struct daemon_shadow_file *s,
			     struct daemon_origin_stamp *o)
{
	struct stat st;
	int fd = LOAD(&s->origin_fd); /* only this thread changes it while s is live */
	const char *path = shadow_path_or(s, NULL);
	if (fd < 0 && path &&
	    fstatat(fs_inode_table_root_fd(sh->ctx->inodes), path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uint64_t)st.st_dev == s->dev && (uint64_t)st.st_ino == s->ino) {
		shadow_origin_stamp(&st, o);
		return true;
	}
	fd = shadow_origin_fd(sh, s); /* renamed or replaced: by its handle */
	return fd >= 0 && shadow_stamp_of_fd(fd, o);
}

bool shadow_origin_gone(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	struct stat st;
	int fd = LOAD(&s->origin_fd); /* only this thread changes it while s is live */
	const char *path = shadow_path_or(s, NULL);
	if (fd < 0 && path &&
	    fstatat(fs_inode_table_root_fd(sh->ctx->inodes), path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (uint64_t)st.st_dev == s->dev && (uint64_t)st.st_ino == s->ino)
		return st.st_nlink == 0;
	errno = 0;
	fd = shadow_origin_fd(sh, s); /* renamed, replaced or deleted: by its handle */
	if (fd < 0)
		return errno == ESTALE;
	return fstat(fd, &st) == 0 && st.st_nlink == 0;
}

void shadow_origin_fds_free(struct fs_shadowing *sh)
{
	scratch_close(sh);
}

/* The copies' share: what the origins may not take. */
static unsigned copy_cap(const struct fs_shadowing *sh)
{
	return sh->fd_budget > sh->origin_cache + 1 ? sh->fd_budget - sh->origin_cache - 1 : 1;
}

/* One fd of the copies' share (false: none left). */
static bool copy_fd_take(struct fs_shadowing *sh)
{
	if (LOAD(&sh->copy_fds) >= copy_cap(sh) || !budget_room(sh)) /* origins kept without handles */
		return false;
	ADD(&sh->copy_fds, 1);
	return true;
}

bool shadow_copy_fds_pressed(const struct fs_shadowing *sh)
{
	return LOAD(&sh->copy_fds) >= copy_cap(sh) / 4 * 3;
}

void shadow_copy_fd_closed(struct fs_shadowing *sh)
{
	SUB(&sh->copy_fds, 1);
}

void shadow_copy_fd_publish(struct fs_shadowing *sh, struct daemon_shadow_copy *cp, int fd)
{
	if (copy_fd_take(sh)) {
		STORE(&cp->fd, fd);
	} else {
		close(fd);
		STORE(&cp->fd, -1);
	}
	cp->reads_checked = LOAD(&cp->reads);
}

void shadow_copy_fd_idle(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	uint64_t reads = LOAD(&cp->reads);
	bool idle = reads == cp->reads_checked;
	cp->reads_checked = reads;
	/* Above three quarters of their share, the copies not read since the
	 * last pass give theirs back. */
	if (!idle || LOAD(&cp->fd) < 0 || !shadow_copy_fds_pressed(sh))
		return;
	int fd = daemon_shadow_copy_take_fd(s, k);
	if (fd >= 0) {
		close(fd);
		shadow_copy_fd_closed(sh);
	}
}

int fs_shadowing_copy_fd(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
			 bool *close_after)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	*close_after = false;
	int fd = LOAD(&cp->fd);
	if (fd >= 0)
		return fd;
	struct daemon_store *store = fs_hosts_local_store(sh->hosts, (size_t)cp->host);
	if (!store || daemon_store_open_copy(store, s->id, cp->version, &fd, NULL) < 0)
		return -1;
	if (!copy_fd_take(sh)) {
		/* Every fd of the share is in use by copies read since the
		 * last pass: this read opens and closes its own. */
		*close_after = true;
		if (!sh->budget_copy_logged)
			sfs_info("shadow: the copies' share of the shadowing layer's %u fds is in "
				 "use: reads of other copies open them each time until the control "
				 "loop closes idle ones (raise LimitNOFILE= for more)",
				 sh->fd_budget);
		sh->budget_copy_logged = true;
		return fd;
	}
	int expect = -1;
	if (__atomic_compare_exchange_n(&cp->fd, &expect, fd, false, __ATOMIC_SEQ_CST,
					__ATOMIC_SEQ_CST))
		return fd;
	/* Another reader opened it first: theirs, open while we hold the copy. */
	shadow_copy_fd_closed(sh);
	close(fd);
	return expect;
}
