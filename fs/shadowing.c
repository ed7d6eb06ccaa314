/* Shadowing on the mount's hosts (see shadowing.h): the ops layer that keeps
 * versions, writer counts and (for remote syncs) written ranges, the
 * inodes' entries in the shadow map, pins, user.shadow.state, and the
 * layer's lifetime. The control thread is fs/shadow_control.c, the copies
 * it makes and drops fs/shadow_copies.c (shadowing_impl.h).
 *
 * Ordering rules of the layer: the version bump and the writer count happen
 * before the inner op touches BACKING; the writer count of a failed open is
 * taken back after it (fi->fh stays 0 when the inner op failed). An open
 * interrupted after its backing open (fuse_reply_open -> -ENOENT, no
 * release will come) leaves its count: with kernel passthrough, where the
 * count keeps copies from serving (shadow_writes_unseen), the file's copies
 * then never serve again in this mount (safe, docs/ARCHITECTURE.md). */
#include "fs/shadowing.h"
#include "fs/shadowing_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common/log.h"
#include "daemon/control.h"
#include "daemon/host_store.h"
#include "daemon/shadow_map.h"
#include "fs/copy_pace.h"
#include "fs/mover.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/rollout.h"
#include "fs/shadow_tuning.h"
#include "fs/passthrough.h"
#include "fs/remote_copies.h"
#include "fs/remote_dirty.h"
#include "fs/remote_reads.h"
#include "fs/pin_log.h"
#include "fs/pin_set.h"
#include "fs/origin_id.h"
#include "fs/version_floor.h"
#include "fs/rel_path.h"
#include "fs/status_file.h"
#include "fs/tmpfile.h"
#include "fs/xattr_shadow.h"
#include "predictor/hot_files.h"
#include "predictor/model.h"
#include "sync/digest.h"
#include "sync/wire.h"

/* The wrapped table: written once before the session starts. */
static struct fuse_lowlevel_ops inner;

uint64_t shadow_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct fs_shadowing *sh_of(fuse_req_t req)
{
	return fs_ctx_of(req)->shadowing;
}

void shadow_origin_stamp(const struct stat *st, struct daemon_origin_stamp *o)
{
	o->size = st->st_size;
	o->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	o->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

bool shadow_stamp_of_fd(int fd, struct daemon_origin_stamp *o)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return false;
	shadow_origin_stamp(&st, o);
	return true;
}

/* Field by field with relaxed loads: a copy's origin stamp is compared
 * without the map lock (opens, reads a copy serves, the control thread)
 * while carry_end moves its times under it. A plain read of it was a data
 * race (ThreadSanitizer in fs_soak). The loads cost nothing more on x86; a
 * comparison may still see one time before the carry and one after it,
 * which only takes the copy for stale (it is made again), never a stale
 * copy for current: both stamps are of the same bytes. */
bool shadow_stamp_eq(const struct daemon_origin_stamp *a, const struct daemon_origin_stamp *b)
{
	return __atomic_load_n(&a->size, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&b->size, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&a->mtime_ns, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&b->mtime_ns, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&a->ctime_ns, __ATOMIC_RELAXED) ==
		       __atomic_load_n(&b->ctime_ns, __ATOMIC_RELAXED);
}

/* ---- the inode's entry ---- */

static struct daemon_shadow_file *entry_of(struct fs_inode *i)
{
	return __atomic_load_n((struct daemon_shadow_file **)&i->shadow, __ATOMIC_ACQUIRE);
}

/* The entry of inode i, looked up in the map when the inode does not know
 * it yet (an inode made after its entry: pins loaded at start, a file
 * forgotten and looked up again). NULL when the file has none. */
static struct daemon_shadow_file *entry_find(struct fs_shadowing *sh, struct fs_inode *i)
{
	struct daemon_shadow_file *s = entry_of(i);
	if (s || daemon_shadow_map_size(sh->map) == 0)
		return s;
	daemon_shadow_map_lock(sh->map);
	s = daemon_shadow_map_find(sh->map, (uint64_t)i->dev, (uint64_t)i->ino);
	if (s)
		shadow_link_inode_locked(i, s);
	s = entry_of(i); /* another thread may have linked it first */
	daemon_shadow_map_unlock(sh->map);
	return s;
}

/* An entry whose file was unlinked through the mount may meet a new file
 * with the same inode number. Usable again (path forgotten) once the
 * control loop has dropped the old file's copies and origin fd; until then
 * false (the caller gives up: -EAGAIN for a pin). The old copies never
 * serve the new file: the unlink bumped the version. Map lock held. */
static bool entry_reuse_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	if (!s->gone)
		return true;
	if (s->origin_live)
		return false;
	shadow_path_set_locked(sh, s, NULL);
	__atomic_store_n(&s->gone, false, __ATOMIC_RELAXED);
	return true;
}

/* The entry of i, made if missing (origin O_PATH fd and path taken from
 * ifd, an O_PATH fd of i: the path follows a rename made behind the
 * mount's back). *path_err (if path_err is not NULL) gets why no path
 * could be taken (-ENAMETOOLONG below a tree deeper than PATH_MAX), or 0.
 * Map lock NOT held. */
static struct daemon_shadow_file *entry_make(struct fs_shadowing *sh, struct fs_inode *i, int ifd,
					     int *path_err)
{
	/* ifd reopened from the handle while BACKING's dentry was dropped is
	 * disconnected (/proc shows "/"): then by its name in its directory.
	 * Before, a pin set then (a file held open through the mount, its
	 * dentry dropped) had no path: not in STATE/pins.log, and lost at the
	 * unmount unless a rename named it meanwhile (fs_soak, 1 in 8 runs). */
	char buf[PATH_MAX];
	int perr = fs_rel_path_of(sh->ctx, i, ifd, buf);
	char *path = perr == 0 && buf[0] ? strdup(buf) : NULL;
	if (path_err)
		*path_err = perr;
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s =
	    daemon_shadow_map_get(sh->map, (uint64_t)i->dev, (uint64_t)i->ino);
	if (s && !entry_reuse_locked(sh, s)) {
		daemon_shadow_map_unlock(sh->map);
		free(path);
		return NULL;
	}
	if (s && path && (!s->path || strcmp(s->path, path)))
		shadow_path_set_locked(sh, s, path);
	else
		free(path);
	int fd;
	if (s && !s->origin_live && (fd = fcntl(ifd, F_DUPFD_CLOEXEC, 0)) >= 0)
		shadow_origin_adopt_locked(sh, s, fd);
	if (s)
		shadow_link_inode_locked(i, s);
	daemon_shadow_map_unlock(sh->map);
	return s;
}

/* The entry of the object NAME in directory inode dir (before an op that
 * replaces or removes it), held (shadow_entry_put once the op is done),
 * or NULL. *nlink gets its link count. */
static struct daemon_shadow_file *entry_by_name(struct fs_shadowing *sh, fuse_ino_t dir,
						const char *name, nlink_t *nlink)
{
	if (!sh || daemon_shadow_map_size(sh->map) == 0)
		return NULL;
	struct fs_ctx *c = sh->ctx;
	struct fs_inode *d = fs_inode_of(c, dir);
	int dfd = fs_inode_fd_get(c->inodes, d);
	if (dfd < 0)
		return NULL;
	struct stat st;
	int r = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW);
	fs_inode_fd_put(c->inodes, d);
	if (r < 0 || !S_ISREG(st.st_mode))
		return NULL;
	*nlink = st.st_nlink;
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s = daemon_shadow_map_find(sh->map, st.st_dev, st.st_ino);
	if (s)
		s->holds++;
	daemon_shadow_map_unlock(sh->map);
	return s;
}

static void bump(struct daemon_shadow_file *s)
{
	if (s)
		daemon_shadow_file_bump(s, shadow_now_ms());
}

/* A change of the file's bytes through the mount: the version moves before
 * BACKING changes (no copy serves the old bytes after that) and again once
 * it has changed, and the change counts as under way in between. A copy
 * read from BACKING is published only if, at its end, the version is the
 * one it started at and no change is under way (shadow_unchanged_since):
 * so no copy can hold the bytes from before a change under the version
 * after it, whatever the interleaving. */
static void change_begin(struct daemon_shadow_file *s)
{
	if (!s)
		return;
	ADD(&s->changing, 1);
	bump(s);
}

static void change_end(struct daemon_shadow_file *s)
{
	if (!s)
		return;
	bump(s);
	SUB(&s->changing, 1);
}

/* The last link of a shadowed file goes (unlink, rename over it): its
 * copies are dropped by the control loop and its pin forgotten, in
 * STATE/pins.log at once ("-PATH"). Before, only the next tick's fold
 * forgot it: after a kill -9 within that tick the next mount pinned the
 * new file that had taken the name since (a save by rename over a
 * pinned file makes one at once). */
void shadow_mark_gone(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	char path[PATH_MAX];
	pthread_mutex_lock(&sh->pins_lock);
	daemon_shadow_map_lock(sh->map);
	__atomic_store_n(&s->gone, true, __ATOMIC_RELAXED); /* read unlocked by sh_open */
	bool was_pinned = s->pinned;
	__atomic_store_n(&s->pinned, false, __ATOMIC_RELAXED); /* shadow_replicas_of */
	bool named = was_pinned && s->path;
	if (named)
		snprintf(path, sizeof(path), "%s", s->path);
	daemon_shadow_map_unlock(sh->map);
	int r = named && sh->pin_log_fd >= 0 ? fs_pin_log_append(sh->pin_log_fd, false, path) : 0;
	pthread_mutex_unlock(&sh->pins_lock);
	if (r < 0)
		sfs_warn("cannot record that pinned %s is gone in %s: %s", path, sh->pin_log_path,
			 strerror(-r));
	if (was_pinned) {
		pthread_mutex_lock(&sh->lock);
		sh->pins_dirty = true;
		pthread_mutex_unlock(&sh->lock);
	}
}

/* shadow_mark_gone armed to run before the reply of an unlink, or a rename over
 * the file, that removes its last link, and only if it succeeded
 * (fs_before_reply). Before, it ran ahead of the op: an unlink or rename
 * that failed (an immutable file: EPERM) left the file in place with its
 * pin forgotten and its copies dropped. */
struct gone_on_success {
	bool armed;
	struct fs_shadowing *sh;
	struct daemon_shadow_file *s; /* held by the op */
	struct fs_before_reply next;  /* the outer layer's, run after ours */
};

static void gone_now(void *arg)
{
	struct gone_on_success *g = arg;
	shadow_mark_gone(g->sh, g->s);
	if (g->next.fn)
		g->next.fn(g->next.arg);
}

static void gone_begin(struct fs_shadowing *sh, struct daemon_shadow_file *s, nlink_t nlink,
		       struct gone_on_success *g)
{
	g->armed = s && nlink <= 1;
	if (!g->armed)
		return;
	g->sh = sh;
	g->s = s;
	g->next = fs_before_reply;
	fs_before_reply = (struct fs_before_reply){.fn = gone_now, .arg = g};
}

static void gone_end(struct gone_on_success *g)
{
	if (g->armed)
		fs_before_reply = g->next;
}

/* The origin changed in BACKING behind the mount's back (its stamps are
 * not a copy's of the current version): the version moves, so that no
 * copy made before is taken for one of the new bytes. A shadowd keeps its
 * copies by version: without the bump, the re-sync of a remote copy found
 * the host holding "this version" already (the old bytes) and published
 * it, and reads it took returned the old bytes. The ranges written since
 * are unknown now: the next sync of a remote copy is a librsync delta. */
void shadow_changed_behind(struct daemon_shadow_file *s)
{
	fs_remote_dirty_unknown(s);
	daemon_shadow_file_bump(s, shadow_now_ms());
}

/* Whether the copy may still serve as far as the disk says: its origin
 * looks as when it was copied, and its own file too (a copy changed on
 * disk -- a flipped byte, a truncation -- has a new ctime). Reads are not
 * re-hashed: the copy was verified by SHA-256 when it was made. */
bool shadow_copy_intact(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
			const struct daemon_origin_stamp *o)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	struct daemon_origin_stamp f;
	if (!shadow_stamp_eq(&cp->origin, o))
		return false;
	if (cp->remote)
		return true; /* its file is the shadowd's: SHA-256 at commit, listed */
	int fd = LOAD(&cp->fd);
	if (fd >= 0)
		return shadow_stamp_of_fd(fd, &f) && shadow_stamp_eq(&cp->file, &f);
	/* Not open now (fs/shadow_origin.c): its file in the store. */
	struct daemon_store *store = fs_hosts_local_store(sh->hosts, (size_t)cp->host);
	struct stat st;
	if (!store || daemon_store_stat_copy(store, s->id, cp->version, &st) < 0)
		return false;
	shadow_origin_stamp(&st, &f);
	return shadow_stamp_eq(&cp->file, &f);
}

/* The stamp is taken after the read: whatever changes a file's bytes
 * through the filesystem (write, truncate, a store of a shared mapping)
 * moves its ctime before the new bytes can be read, so a read that saw
 * them sees the new ctime here. One fstat per read of a local copy: before,
 * a copy changed on disk served until the next open or pass looked at it
 * (a tick: hundreds of reads of the damaged bytes, fs_copy_damage). */
bool fs_shadowing_copy_read_ok(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k, int fd)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	struct daemon_origin_stamp f;
	if (shadow_stamp_of_fd(fd, &f) && shadow_stamp_eq(&cp->file, &f))
		return true;
	if (daemon_shadow_copy_mark_stale(s, k)) {
		char path[PATH_MAX], host[600];
		shadow_path_copy(sh, s, path, sizeof(path));
		fs_hosts_label(sh->hosts, (size_t)cp->host, host, sizeof(host));
		sfs_warn("shadow: the copy of %s on %s changed on disk since it was made: no "
			 "longer served, made again",
			 path, host);
	}
	return false;
}

/* The same rule for the origin: a change in BACKING behind the mount's
 * back moves its ctime before its bytes can be read, so an fstat of the
 * reader's own fd after the copy's read sees any change that ended before
 * the read began. Before, only an open, the first read of a quiet entry
 * and the passes compared the origin's stamps: readers through fds opened
 * before the change got the old bytes for up to a tick (fs_copy_behind:
 * 993 of 5,003 reads in the second after it, at shadow_tick=1). A change
 * through the mount moved the version before BACKING changed: the copy is
 * no longer current, and that is not taken for a change behind its back. */
bool fs_shadowing_origin_read_ok(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k,
				 int fd)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	struct daemon_origin_stamp now;
	if (fd < 0 || !shadow_stamp_of_fd(fd, &now) || shadow_stamp_eq(&cp->origin, &now))
		return true;
	bool current = cp->version == daemon_shadow_file_version(s) && LOAD(&s->changing) == 0;
	if (daemon_shadow_copy_mark_stale(s, k) && current) {
		char path[PATH_MAX];
		shadow_path_copy(sh, s, path, sizeof(path));
		sfs_debug("shadow: %s changed in BACKING behind the mount: copy stale", path);
		shadow_changed_behind(s);
	}
	return false;
}

/* Before an open is answered: a copy made of an origin that has changed
 * since (in BACKING, behind the mount's back), or whose own file changed
 * on disk (size, mtime, ctime of the copy), must not serve. */
static void check_stamps(struct fs_shadowing *sh, struct fs_inode *i, struct daemon_shadow_file *s)
{
	if (!LOAD(&s->serving))
		return;
	int ifd = fs_inode_fd_get(sh->ctx->inodes, i);
	if (ifd < 0)
		return;
	struct daemon_origin_stamp now;
	bool have = shadow_stamp_of_fd(ifd, &now);
	fs_inode_fd_put(sh->ctx->inodes, i);
	if (!have)
		return;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		/* Held as a reader: its fd and fields stay while looked at. */
		if (!daemon_shadow_copy_hold(s, k))
			continue;
		bool intact = shadow_copy_intact(sh, s, k, &now);
		bool current = cp->version == daemon_shadow_file_version(s);
		bool origin_changed = !shadow_stamp_eq(&cp->origin, &now);
		daemon_shadow_copy_release(s, k);
		if (!intact) {
			char path[PATH_MAX];
			shadow_path_copy(sh, s, path, sizeof(path));
			sfs_debug("shadow: %s or its copy changed on disk: copy stale", path);
			daemon_shadow_copy_mark_stale(s, k);
			if (current && origin_changed)
				shadow_changed_behind(s);
		}
	}
}

/* Metadata changed through the mount (times, mode, owner, extended
 * attributes, links: a link made, renamed or removed while another stays)
 * moves the origin's ctime, and mtime for some, without touching a byte:
 * the copies made of those bytes stay valid, so their recorded origin stamp
 * follows the change instead of reading, at the next check, as a change
 * made behind the mount's back (which would drop them and re-copy the
 * file). Only a copy whose stamp matched the origin just before the change
 * is carried, and only if no write bumped the version meanwhile. */
/* What the op may do to the origin's mtime (carry_end): a change of its
 * bytes moves it, so an op that leaves it alone is carried only if it is
 * unchanged (else a write made behind the mount's back during the op,
 * same size, was carried as if the op had made it: the copy then served
 * the old bytes for good, its stamp matching the origin's). */
enum carry_mtime {
	CARRY_MTIME_KEPT, /* the op does not touch it: must be unchanged */
	CARRY_MTIME_SET,  /* set to mtime_want (utimensat with a time) */
	CARRY_MTIME_ANY,  /* set to the clock's now (touch): not told apart */
};

struct stamp_carry {
	bool on;  /* false: nothing to carry */
	enum carry_mtime mtime;
	int64_t mtime_want; /* CARRY_MTIME_SET */
	int fd;	  /* ours: the inode may be forgotten once the op has replied */
	dev_t dev; /* the origin's: its entry is found again at the end */
	ino_t ino;
	uint64_t version;
	struct daemon_origin_stamp before;
	struct daemon_shadow_file *held; /* carry_by_name's entry, held */
};

/* Starts carrying for s with fd, an fd of its origin (taken over). */
static void carry_start(struct daemon_shadow_file *s, int fd, struct stamp_carry *c)
{
	c->on = false;
	c->fd = fd;
	c->mtime = CARRY_MTIME_KEPT;
	struct stat st;
	if (!s || fd < 0 || !shadow_any_copy(s))
		return;
	c->version = daemon_shadow_file_version(s); /* before the stamp */
	if (fstat(fd, &st) < 0)
		return;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	shadow_origin_stamp(&st, &c->before);
	c->on = true;
}

static void carry_begin(struct fs_shadowing *sh, struct fs_inode *i, struct daemon_shadow_file *s,
			struct stamp_carry *c)
{
	c->on = false;
	c->held = NULL;
	c->fd = -1;
	if (!s || !shadow_any_copy(s))
		return;
	int ifd = fs_inode_fd_get(sh->ctx->inodes, i);
	if (ifd < 0)
		return;
	int fd = fcntl(ifd, F_DUPFD_CLOEXEC, 0);
	fs_inode_fd_put(sh->ctx->inodes, i);
	carry_start(s, fd, c);
}

/* carry_begin for the object NAME in directory inode dir, when it is a
 * shadowed regular file (an op on its name: a rename of it, an unlink of
 * one of its links). Its entry is held until carry_end. */
static void carry_by_name(struct fs_shadowing *sh, fuse_ino_t dir, const char *name,
			  struct stamp_carry *c)
{
	c->on = false;
	c->held = NULL;
	c->fd = -1;
	if (!sh || daemon_shadow_map_size(sh->map) == 0)
		return;
	struct fs_inode *d = fs_inode_of(sh->ctx, dir);
	int dfd = fs_inode_fd_get(sh->ctx->inodes, d);
	if (dfd < 0)
		return;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	fs_inode_fd_put(sh->ctx->inodes, d);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s = daemon_shadow_map_find(sh->map, st.st_dev, st.st_ino);
	if (s)
		s->holds++;
	daemon_shadow_map_unlock(sh->map);
	c->held = s;
	carry_start(s, fd, c);
}

/* After the op has replied. The entry is looked up again rather than
 * taken from carry_start: once the reply is out the kernel may forget the
 * inode (the writeback cache's SETATTR at eviction is followed by FORGET),
 * and the control thread free an entry with no copy left and nothing
 * pointing to it (ASan saw that use after free in fs_shadow_reclaim). An
 * entry made again for the file since starts above every version the
 * freed one had (fs/shadow_reclaim.c): the version check leaves it alone.
 * (Holding the entry across the op would do too; this keeps the entries'
 * lifetimes as they were.) */
static void carry_end(struct fs_shadowing *sh, struct stamp_carry *c)
{
	struct daemon_origin_stamp after;
	bool ok = c->on && shadow_stamp_of_fd(c->fd, &after) && after.size == c->before.size &&
		  (c->mtime == CARRY_MTIME_ANY ||
		   after.mtime_ns ==
		       (c->mtime == CARRY_MTIME_SET ? c->mtime_want : c->before.mtime_ns));
	if (c->fd >= 0)
		close(c->fd);
	if (ok) {
		daemon_shadow_map_lock(sh->map);
		struct daemon_shadow_file *s = daemon_shadow_map_find(sh->map, c->dev, c->ino);
		if (s && daemon_shadow_file_version(s) == c->version) {
			for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
				struct daemon_shadow_copy *cp = &s->copies[k];
				if (shadow_stamp_eq(&cp->origin, &c->before)) {
					/* read unlocked (shadow_stamp_eq); the size
					 * is the same (ok above) */
					__atomic_store_n(&cp->origin.mtime_ns, after.mtime_ns,
							 __ATOMIC_RELAXED);
					__atomic_store_n(&cp->origin.ctime_ns, after.ctime_ns,
							 __ATOMIC_RELAXED);
				}
			}
			/* and for a copy under way: the chain of such changes */
			if (s->carried_version != c->version ||
			    !shadow_stamp_eq(&s->carried_to, &c->before))
				s->carried_from = c->before;
			s->carried_to = after;
			s->carried_version = c->version;
		}
		daemon_shadow_map_unlock(sh->map);
	}
	if (c->held)
		shadow_entry_put(sh, c->held);
}

/* ---- the ops layer ---- */

static void sh_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct daemon_shadow_file *s = entry_find(sh, i);
	/* shadow_all: not a file the mount last saw without a link (an
	 * O_TMPFILE opened again through /proc before its link, fs/tmpfile.h):
	 * it has no name to be shadowed by, and the control loop took it for
	 * one deleted behind the mount's back. Its opens after the link do. */
	if ((!s || __atomic_load_n(&s->gone, __ATOMIC_RELAXED)) && sh->cfg.shadow_all &&
	    S_ISREG(i->type) && __atomic_load_n(&i->nlink_seen, __ATOMIC_RELAXED) != 0) {
		int ifd = fs_inode_fd_get(c->inodes, i);
		if (ifd >= 0) {
			s = entry_make(sh, i, ifd, NULL);
			fs_inode_fd_put(c->inodes, i);
			if (s) {
				daemon_shadow_map_lock(sh->map);
				s->hot = true;
				daemon_shadow_map_unlock(sh->map);
			}
		}
	}
	if (writer)
		ADD(&i->writers, 1);
	/* Opening changes no byte: only a truncation, or a writer whose
	 * writes will not come to us (kernel passthrough), moves the version.
	 * Every write that does come to us bumps it before BACKING changes. */
	bool unseen = writer && fs_passthrough_active(c);
	bool trunc = (fi->flags & O_TRUNC) != 0;
	if (unseen)
		bump(s);
	if (trunc) {
		change_begin(s);
		fs_remote_dirty_truncate(s, 0);
	}
	if (unseen)
		fs_remote_dirty_unknown(s); /* its writes will not come to us */
	else if (s)
		check_stamps(sh, i, s);
	fi->fh = 0;
	inner.open(req, ino, fi);
	if (trunc)
		change_end(s);
	if (writer && fi->fh == 0)
		SUB(&i->writers, 1); /* the open failed: no release will come */
}

static void count_writer(struct fs_inode *i, void *arg)
{
	(void)arg;
	ADD(&i->writers, 1);
}

static void sh_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_ctx *c = fs_ctx_of(req); /* req is gone after the reply */
	nlink_t nl;
	/* An existing file (created behind the kernel's back) opened, maybe
	 * truncated: its copies go before it changes. An O_TMPFILE (the name
	 * "/", fs/tmpfile.h) is a new file: none. */
	struct daemon_shadow_file *old =
	    fs_tmpfile_name(name) ? NULL : entry_by_name(sh, parent, name, &nl);
	change_begin(old);
	fs_remote_dirty_unknown(old);
	fi->fh = 0;
	fs_last_entry.set = false;
	inner.create(req, parent, name, mode, fi);
	change_end(old);
	shadow_entry_put(sh, old);
	/* Counted after the reply: a release that overtakes us makes the
	 * count -1 for a moment, which also keeps copies from serving. */
	if (fi->fh != 0 && fs_last_entry.set && (fi->flags & O_ACCMODE) != O_RDONLY)
		fs_inode_table_with(c->inodes, (dev_t)fs_last_entry.dev, (ino_t)fs_last_entry.ino,
				    count_writer, NULL);
}

static void sh_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_file *f = fs_file_of(fi);
	if ((f->flags & O_ACCMODE) != O_RDONLY)
		SUB(&fs_inode_of(c, ino)->writers, 1);
	inner.release(req, ino, fi);
}

static void sh_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	/* The fast path: one atomic load when the file has no entry. */
	struct fs_inode *i = (struct fs_inode *)(uintptr_t)ino;
	void *s = ino == FUSE_ROOT_ID ? NULL : __atomic_load_n(&i->shadow, __ATOMIC_ACQUIRE);
	if (!s) {
		inner.read(req, ino, size, off, fi);
		return;
	}
	/* The first read of an entry the control loop leaves alone (quiet):
	 * its stamps compared now, before a copy can serve it. */
	struct fs_shadowing *sh = fs_ctx_of(req)->shadowing;
	if (LOAD(&((struct daemon_shadow_file *)s)->serving) && shadow_quiet_stamps_due(s))
		check_stamps(sh, i, s);
	fs_router_read(req, i, s, ino, size, off, fi, inner.read);
}

static void sh_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino));
	change_begin(s);
	fs_remote_dirty_write(s, (uint64_t)off, fuse_buf_size(in_buf));
	inner.write_buf(req, ino, in_buf, off, fi);
	change_end(s);
}

static void sh_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_inode *i = fs_inode_of(fs_ctx_of(req), ino);
	struct daemon_shadow_file *s = entry_find(sh, i);
	if (valid & FUSE_SET_ATTR_SIZE) {
		change_begin(s);
		fs_remote_dirty_truncate(s, (uint64_t)attr->st_size);
		inner.setattr(req, ino, attr, valid, fi);
		change_end(s);
		return;
	}
	/* Times, mode, owner: no byte changes (the writeback cache sends the
	 * file's mtime this way at close and at inode writeback). */
	struct stamp_carry carry;
	carry_begin(sh, i, s, &carry);
	if ((valid & FUSE_SET_ATTR_MTIME_NOW) && (valid & FUSE_SET_ATTR_MTIME)) {
		carry.mtime = CARRY_MTIME_ANY;
	} else if (valid & FUSE_SET_ATTR_MTIME) {
		carry.mtime = CARRY_MTIME_SET;
		carry.mtime_want =
		    (int64_t)attr->st_mtim.tv_sec * 1000000000 + attr->st_mtim.tv_nsec;
	}
	inner.setattr(req, ino, attr, valid, fi);
	carry_end(sh, &carry);
}

static void sh_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino));
	change_begin(s);
	fs_remote_dirty_unknown(s); /* sizes and holes: not described */
	inner.fallocate(req, ino, mode, offset, length, fi);
	change_end(s);
}

static void sh_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino_out));
	change_begin(s);
	fs_remote_dirty_write(s, (uint64_t)off_out, len);
	inner.copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags);
	change_end(s);
}

/* A file that had other links before its unlink (or a rename over it) and
 * has none now (another one went meanwhile): its version moves, as for a
 * last link, and nothing is carried. */
static void bump_if_unlinked(struct daemon_shadow_file *s, const struct stamp_carry *c)
{
	struct stat st;
	if (s && c->fd >= 0 && fstat(c->fd, &st) == 0 && st.st_nlink == 0)
		bump(s);
}

/* Extended attributes and a new link change no byte: the copies stay
 * (their origin stamps carried over the ctime the op moves). */
static void sh_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_inode *i = fs_inode_of(fs_ctx_of(req), ino);
	struct stamp_carry carry;
	carry_begin(sh, i, entry_find(sh, i), &carry);
	inner.setxattr(req, ino, name, value, size, flags);
	carry_end(sh, &carry);
}

static void sh_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_inode *i = fs_inode_of(fs_ctx_of(req), ino);
	struct stamp_carry carry;
	carry_begin(sh, i, entry_find(sh, i), &carry);
	inner.removexattr(req, ino, name);
	carry_end(sh, &carry);
}

static void sh_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_inode *i = fs_inode_of(fs_ctx_of(req), ino);
	struct stamp_carry carry;
	carry_begin(sh, i, entry_find(sh, i), &carry);
	inner.link(req, ino, newparent, newname);
	carry_end(sh, &carry);
}

static void sh_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_shadowing *sh = sh_of(req);
	nlink_t nl = 0;
	struct shadow_unlink un; /* another link left: the entry's path follows */
	struct gone_on_success g;
	struct daemon_shadow_file *s = entry_by_name(sh, parent, name, &nl);
	/* The last link: the copies go (gone, and the bump). Another left:
	 * no byte changed, the copies stay. */
	struct stamp_carry carry = {.fd = -1};
	if (nl > 1)
		carry_by_name(sh, parent, name, &carry);
	else
		bump(s);
	gone_begin(sh, s, nl, &g);
	shadow_unlink_begin(sh, s, nl, parent, name, &un);
	inner.unlink(req, parent, name);
	shadow_unlink_end(&un);
	gone_end(&g);
	bump_if_unlinked(s, &carry);
	carry_end(sh, &carry);
	shadow_entry_put(sh, s);
}

static void sh_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs_shadowing *sh = sh_of(req);
	struct shadow_rename rn; /* entries' paths follow (fs/shadow_paths.c) */
	nlink_t nl = 0;
	/* The file replaced by the rename (not with RENAME_EXCHANGE, where
	 * both keep their content under the other name). */
	struct daemon_shadow_file *s =
	    (flags & RENAME_EXCHANGE) ? NULL : entry_by_name(sh, newparent, newname, &nl);
	shadow_rename_begin(sh, parent, name, newparent, newname, flags, s, &rn);
	/* The renamed file (and with RENAME_EXCHANGE the other, or a
	 * replaced file with other links left) keeps its bytes: its copies
	 * stay. A replaced file's last link goes: its copies with it. */
	struct stamp_carry moved, other = {.fd = -1};
	carry_by_name(sh, parent, name, &moved);
	if ((flags & RENAME_EXCHANGE) || nl > 1)
		carry_by_name(sh, newparent, newname, &other);
	else
		bump(s);
	struct gone_on_success g;
	gone_begin(sh, s, nl, &g);
	struct shadow_unlink un; /* the replaced file's other link */
	shadow_unlink_begin(sh, s, nl, newparent, newname, &un);
	inner.rename(req, parent, name, newparent, newname, flags);
	shadow_unlink_end(&un);
	gone_end(&g);
	shadow_rename_end(&rn);
	if (!(flags & RENAME_EXCHANGE))
		bump_if_unlinked(s, &other);
	carry_end(sh, &other);
	carry_end(sh, &moved);
	shadow_entry_put(sh, s);
}

void fs_ops_shadowing(struct fuse_lowlevel_ops *ops)
{
	inner = *ops;
#define WRAP(op)                                                                                   \
	do {                                                                                       \
		if (inner.op)                                                                      \
			ops->op = sh_##op;                                                         \
	} while (0)
	WRAP(open);
	WRAP(create);
	WRAP(release);
	WRAP(read);
	WRAP(write_buf);
	WRAP(setattr);
	WRAP(fallocate);
	WRAP(copy_file_range);
	WRAP(unlink);
	WRAP(rename);
	WRAP(setxattr);
	WRAP(removexattr);
	WRAP(link);
#undef WRAP
}

/* ---- pins ---- */

static void fill_pins(FILE *out, void *arg)
{
	struct fs_shadowing *sh = arg;
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		char line[2 * PATH_MAX + 2];
		if (s->pinned && s->path && fs_pin_path_encode(s->path, line, sizeof(line)) == 0)
			fprintf(out, "%s\n", line);
	}
}

int shadow_write_pins_locked(struct fs_shadowing *sh)
{
	if (sh->pins_unread) { /* said at start; the log keeps the changes */
		sfs_debug("not replacing %s: it (or its log) could not be read at start",
			  sh->pins_path);
		return -EIO;
	}
	daemon_shadow_map_lock(sh->map);
	int r = fs_state_file_write(sh->pins_path, fill_pins, sh);
	daemon_shadow_map_unlock(sh->map);
	if (r < 0) {
		sfs_warn("cannot write %s: %s", sh->pins_path, strerror(-r));
		return r;
	}
	if (sh->pin_intents) { /* emptied at a later fold, once they returned */
		pthread_mutex_lock(&sh->lock);
		sh->pins_dirty = true;
		pthread_mutex_unlock(&sh->lock);
		return 0;
	}
	int c = sh->pin_log_fd >= 0 ? fs_pin_log_clear(sh->pin_log_fd) : 0;
	if (c < 0)
		sfs_warn("cannot empty %s: %s", sh->pin_log_path, strerror(-c));
	return 0;
}

void shadow_write_pins(struct fs_shadowing *sh)
{
	pthread_mutex_lock(&sh->pins_lock);
	shadow_write_pins_locked(sh);
	pthread_mutex_unlock(&sh->pins_lock);
}

/* The entry of the regular file at path (relative to BACKING), made if
 * missing, and returned with the map lock HELD; NULL (lock not held) when
 * there is no such regular file. */
struct daemon_shadow_file *shadow_entry_by_path_locked(struct fs_shadowing *sh, const char *path)
{
	int root = fs_inode_table_root_fd(sh->ctx->inodes);
	int fd = openat(root, path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s = daemon_shadow_map_get(sh->map, st.st_dev, st.st_ino);
	if (!s || !entry_reuse_locked(sh, s)) {
		daemon_shadow_map_unlock(sh->map);
		close(fd);
		return NULL;
	}
	if (!s->path)
		shadow_path_set_locked(sh, s, strdup(path));
	if (!s->origin_live)
		shadow_origin_adopt_locked(sh, s, fd);
	else
		close(fd);
	return s;
}

struct pins_loading {
	struct fs_shadowing *sh;
	unsigned gone; /* pins of files no longer there */
};

static void load_pin(void *arg, const char *path)
{
	struct pins_loading *l = arg;
	struct fs_shadowing *sh = l->sh;
	struct daemon_shadow_file *s = shadow_entry_by_path_locked(sh, path);
	if (!s) {
		sfs_warn("pinned file %s is gone: pin dropped", path);
		struct stat st;
		int root = fs_inode_table_root_fd(sh->ctx->inodes);
		l->gone += fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
			   (errno == ENOENT || errno == ENOTDIR);
		return;
	}
	__atomic_store_n(&s->pinned, true, __ATOMIC_RELAXED); /* shadow_replicas_of */
	daemon_shadow_map_unlock(sh->map);
}

/* STATE/pins, then the changes STATE/pins.log recorded since
 * (fs/pin_set.h); both are rewritten as one STATE/pins when the log had
 * any, or a pinned file is gone (no such name in BACKING any more).
 * Before, a gone file's line stayed until some pin changed: the warning
 * came back at every start, and a file made at that name later was
 * pinned by the next mount. */
static void load_pins(struct fs_shadowing *sh)
{
	struct pins_loading l = {.sh = sh};
	int n = fs_pin_set_load(sh->pins_path, sh->pin_log_path,
				fs_inode_table_root_fd(sh->ctx->inodes), load_pin, &l,
				&sh->pins_unread);
	sh->pin_log_fd = fs_pin_log_open(sh->pin_log_path);
	if (sh->pin_log_fd < 0)
		sfs_warn("cannot open %s: %s (each pin rewrites %s instead)", sh->pin_log_path,
			 strerror(-sh->pin_log_fd), sh->pins_path);
	if (n != 0 || l.gone)
		shadow_write_pins(sh);
}

/* Refused pins are logged with why (setfattr says only "Invalid
 * argument"); any user may try, so within a budget. */
static struct sfs_log_limit pin_refused_log = SFS_LOG_LIMIT_INIT(10, 10000);

int fs_shadowing_set_pin(struct fs_shadowing *sh, struct fs_inode *i, const void *value,
			 size_t size, int flags)
{
	const char *v = value;
	if (!S_ISREG(i->type)) {
		sfs_log_limited(&pin_refused_log, SFS_LOG_WARN,
				"user.shadow.pin refused (EINVAL): only a regular file can be pinned");
		return -EINVAL;
	}
	if (size && v[size - 1] == '\n') /* echo 1 > ... style values */
		size--;
	if (size != 1 || (v[0] != '0' && v[0] != '1')) {
		sfs_log_limited(&pin_refused_log, SFS_LOG_WARN,
				"user.shadow.pin refused (EINVAL): the value must be 1 (pin) or 0 "
				"(unpin)");
		return -EINVAL;
	}
	bool pin = v[0] == '1';
	struct daemon_shadow_file *s = entry_find(sh, i);
	if (!s && (flags & XATTR_REPLACE))
		return -ENODATA; /* not pinned: no attribute to replace */
	if (!s && !pin)
		return 0;
	if (pin) { /* made, or checked for reuse (entry_reuse_locked) */
		int ifd = fs_inode_fd_get(sh->ctx->inodes, i);
		if (ifd < 0)
			return ifd;
		/* A file removed meanwhile (the setxattr raced an unlink or a
		 * rename over its name) has no name a pin could be kept by:
		 * ENOENT, as if the name had been looked up a moment later.
		 * Before, its entry, still dropping the old copies, answered
		 * EAGAIN, which reached the caller as EOPNOTSUPP. */
		struct stat st;
		int path_err = 0;
		bool removed = fstat(ifd, &st) == 0 && st.st_nlink == 0;
		s = removed ? NULL : entry_make(sh, i, ifd, &path_err);
		fs_inode_fd_put(sh->ctx->inodes, i);
		if (removed)
			return -ENOENT;
		if (!s)
			return -EAGAIN; /* no memory, or an old entry not yet dropped */
		/* A pin is kept by the file's path (STATE/pins): one whose path
		 * cannot be had is refused: ENAMETOOLONG deeper than PATH_MAX
		 * below BACKING, as settings are; else ESTALE (the mount lost
		 * track of its name: the kernel looks the path up again and
		 * retries once). Before, it was taken but never recorded, and
		 * the next mount had silently lost it. */
		daemon_shadow_map_lock(sh->map);
		bool has_path = s->path != NULL;
		daemon_shadow_map_unlock(sh->map);
		if (!has_path) {
			int err = path_err == -ENAMETOOLONG ? path_err : -ESTALE;
			sfs_warn("cannot pin inode %llu: no path below BACKING to keep the pin by (%s)",
				 (unsigned long long)i->ino, strerror(-err));
			return err;
		}
	}
	/* Recorded before the setxattr returns: one record appended to
	 * STATE/pins.log, in the order of the changes (pins_lock); the
	 * control thread folds the log into STATE/pins. */
	char path[PATH_MAX];
	pthread_mutex_lock(&sh->pins_lock);
	daemon_shadow_map_lock(sh->map);
	/* The attribute is there while the file is pinned (listed then):
	 * XATTR_CREATE and XATTR_REPLACE as for any attribute, checked with
	 * the change (they were ignored). */
	int refused = 0;
	if (s->pinned && (flags & XATTR_CREATE))
		refused = -EEXIST;
	else if (!s->pinned && (flags & XATTR_REPLACE))
		refused = -ENODATA;
	if (refused) {
		daemon_shadow_map_unlock(sh->map);
		pthread_mutex_unlock(&sh->pins_lock);
		return refused;
	}
	bool changed = s->pinned != pin;
	__atomic_store_n(&s->pinned, pin, __ATOMIC_RELAXED); /* shadow_replicas_of */
	if (changed && pin) /* the operator asks again: no waiting out a back-off */
		s->retry_ms = 0;
	bool named = s->path != NULL; /* copied: another thread may move it */
	snprintf(path, sizeof(path), "%s", named ? s->path : "?");
	daemon_shadow_map_unlock(sh->map);
	bool logged = false;
	int r = 0;
	if (changed && sh->pin_log_fd >= 0 && named) {
		r = fs_pin_log_append(sh->pin_log_fd, pin, path);
		logged = r == 0;
		if (r < 0)
			sfs_warn("cannot record the pin change of %s in %s: %s", path,
				 sh->pin_log_path, strerror(-r));
	}
	/* No log (or no room in it): the whole list, as it is now. If that
	 * cannot be written either (a full state filesystem), the change is
	 * undone and refused: before, the call returned 0 and the next mount
	 * had lost the pin (or the unpin). */
	if (changed && !logged && (r = shadow_write_pins_locked(sh)) < 0) {
		daemon_shadow_map_lock(sh->map);
		if (s->pinned == pin && !__atomic_load_n(&s->gone, __ATOMIC_RELAXED))
			s->pinned = !pin;
		daemon_shadow_map_unlock(sh->map);
	}
	pthread_mutex_unlock(&sh->pins_lock);
	if (r < 0)
		return r == -ENOSPC || r == -EDQUOT || r == -EROFS ? r : -EIO;
	if (changed && logged) {
		pthread_mutex_lock(&sh->lock);
		sh->pins_dirty = true; /* folded into STATE/pins at the next tick */
		pthread_mutex_unlock(&sh->lock);
	}
	if (changed)
		fs_shadowing_wake(sh); /* act now, not at the next tick */
	return 0;
}

ssize_t fs_shadowing_get_pin(struct fs_shadowing *sh, struct fs_inode *i, char *buf, size_t size)
{
	if (!S_ISREG(i->type))
		return -ENODATA;
	struct daemon_shadow_file *s = entry_find(sh, i);
	daemon_shadow_map_lock(sh->map);
	bool pinned = s && s->pinned;
	daemon_shadow_map_unlock(sh->map);
	return fs_xattr_reply_string(pinned ? "1" : "0", buf, size);
}

/* Whether slot k serves at the file's current version. */
bool shadow_serves_now(struct daemon_shadow_file *s, int k)
{
	return LOAD(&s->copies[k].state) == DAEMON_COPY_SERVING &&
	       s->copies[k].version == daemon_shadow_file_version(s);
}

unsigned shadow_count_serving(struct daemon_shadow_file *s)
{
	unsigned n = 0;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		n += shadow_serves_now(s, k);
	return n;
}

/* How many copies the file should have now: 0 when unwanted; the
 * forecast's replica count (at least 1), at most one per host, and with
 * user.shadow.hosts one per allowed host (as the control loop last read
 * it). */
unsigned shadow_replicas_of(struct fs_shadowing *sh, const struct daemon_shadow_file *s)
{
	/* pinned: written by FUSE threads under the map lock, read here by
	 * the control thread without it too (its log lines, its decision's
	 * replica count): a relaxed load (a plain one was a data race,
	 * ThreadSanitizer in fs_soak; a pin a moment old only moves the count
	 * to the next tick). The other fields are the control thread's. */
	if ((!__atomic_load_n(&s->pinned, __ATOMIC_RELAXED) && !s->hot) || s->never)
		return 0;
	unsigned want = s->want_copies ? s->want_copies : 1;
	size_t nh = fs_hosts_count(sh->hosts);
	want = want < nh ? want : (unsigned)nh;
	if (s->hosts_limited) {
		unsigned allowed = (unsigned)__builtin_popcountll(s->allowed_hosts);
		want = want < allowed ? want : allowed;
	}
	return want;
}

/* One line: "pinned=P hot=H reactive=R replicas=N version=vN writers=W
 * origin_reads=R quiet=Q copies=C" (Q: passes leave it alone, fs/shadow_quiet.c), " surplus=kept_until_rollout_ends" while a copy
 * more than wanted waits for another's rollout to end,
 * " migrate_blocked=HOST:for_s=N" per host a
 * migration of it is blocked on (fs/shadow_copies.c, shadow_copy_trim), then
 * " HOST:vN:STATE:reads=R" per copy (":read=N:of=SIZE" at the end of a copy
 * under way: the origin bytes its job has read). Versions count from 1 per
 * entry (from when the file was first shadowed, or again after its entry
 * was freed: fs/shadow_reclaim.c). */
void shadow_describe(struct fs_shadowing *sh, struct daemon_shadow_file *s, int32_t writers,
		     char *out, size_t len)
{
	uint64_t base = s->first_version - 1;
	size_t used = 0;
	int copies = 0;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		copies += LOAD(&s->copies[k].state) != DAEMON_COPY_NONE;
	char id[37]; /* the copies' name in host stores, as `shadowctl host list` shows it */
	uuid_unparse_lower(s->id, id);
	used += (size_t)snprintf(out, len,
				 "pinned=%d hot=%d reactive=%d replicas=%u version=v%llu writers=%d "
				 "origin_reads=%llu quiet=%d id=%s copies=%d",
				 s->pinned, s->hot, s->hot && s->reactive, shadow_replicas_of(sh, s),
				 (unsigned long long)(daemon_shadow_file_version(s) - base),
				 writers, (unsigned long long)LOAD(&s->origin_reads),
				 (int)LOAD(&s->quiet), id, copies);
	if (s->copy_error && used < len) {
		uint64_t t = shadow_now_ms();
		const char *name = strerrorname_np(s->copy_error);
		used += (size_t)snprintf(out + used, len - used,
					 " copy_error=%s copy_failures=%u retry_in_s=%llu",
					 name ? name : "EIO", s->copy_failures,
					 (unsigned long long)(s->retry_ms > t
								  ? (s->retry_ms - t + 999) / 1000
								  : 0));
	}
	if (s->surplus_kept && used < len)
		used += (size_t)snprintf(out + used, len - used, " surplus=kept_until_rollout_ends");
	uint64_t now = shadow_now_ms();
	for (size_t h = 0; s->migrate_blocked_hosts && now < s->migrate_block_until_ms &&
			   h < fs_hosts_count(sh->hosts) && used < len;
	     h++) {
		if (!(s->migrate_blocked_hosts & DAEMON_CONTROL_HOST_BIT(h)))
			continue;
		char host[600];
		fs_hosts_label(sh->hosts, h, host, sizeof(host));
		used += (size_t)snprintf(out + used, len - used, " migrate_blocked=%s:for_s=%llu",
					 host,
					 (unsigned long long)((s->migrate_block_until_ms - now + 999) /
							      1000));
	}
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES && used < len; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		int st = LOAD(&cp->state);
		if (st == DAEMON_COPY_NONE)
			continue;
		char host[600];
		fs_hosts_label(sh->hosts, (size_t)cp->host, host, sizeof(host));
		uint64_t reads = LOAD(&cp->reads), lat = LOAD(&cp->lat_ns);
		/* SERVING at an older version is shown stale: it does not serve. */
		if (st == DAEMON_COPY_SERVING && cp->version != daemon_shadow_file_version(s))
			st = DAEMON_COPY_STALE;
		used += (size_t)snprintf(
		    out + used, len - used, " copy=%s:v%llu:%s:reads=%llu:errors=%llu:lat_us=%llu",
		    host, (unsigned long long)(cp->version - base),
		    daemon_copy_state_name((enum daemon_copy_state)st), (unsigned long long)reads,
		    (unsigned long long)LOAD(&cp->errors),
		    (unsigned long long)(reads ? lat / reads / 1000 : 0));
		if (used < len)
			used += fs_rollout_describe(&sh->cfg.rollout, cp, out + used, len - used);
		if (cp->remote && used < len) /* how its last sync went */
			used += (size_t)snprintf(out + used, len - used, ":sync=%s:sent=%llu",
						 fs_remote_method_name(cp->sync_method),
						 (unsigned long long)cp->sent_bytes);
		uint64_t read, size; /* a copy under way: how far it is */
		if (st == DAEMON_COPY_SYNCING && used < len &&
		    (fs_mover_copy_progress(sh->mover, s, k, &read, &size) ||
		     fs_mover_copy_progress(sh->express, s, k, &read, &size)))
			used += (size_t)snprintf(out + used, len - used, ":read=%llu:of=%llu",
						 (unsigned long long)read,
						 (unsigned long long)size);
	}
}

ssize_t fs_shadowing_get_state(struct fs_shadowing *sh, struct fs_inode *i, char *buf, size_t size)
{
	char line[4096];
	if (!S_ISREG(i->type))
		return -ENODATA; /* only regular files are shadowed */
	struct daemon_shadow_file *s = entry_find(sh, i);
	if (!s)
		return fs_xattr_reply_string("pinned=0 copies=0", buf, size);
	daemon_shadow_map_lock(sh->map);
	shadow_describe(sh, s, LOAD(&i->writers), line, sizeof(line));
	daemon_shadow_map_unlock(sh->map);
	return fs_xattr_reply_string(line, buf, size);
}

/* ---- shared with the control thread ---- */

struct writers_arg {
	int32_t n;
};

static void read_writers(struct fs_inode *i, void *arg)
{
	((struct writers_arg *)arg)->n = LOAD(&i->writers);
}

int32_t shadow_writers_of(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	struct writers_arg a = {0};
	fs_inode_table_with(sh->ctx->inodes, (dev_t)s->dev, (ino_t)s->ino, read_writers, &a);
	return a.n;
}

bool shadow_writes_unseen(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	return fs_passthrough_active(sh->ctx) && shadow_writers_of(sh, s) != 0;
}

bool shadow_any_copy(struct daemon_shadow_file *s)
{
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (LOAD(&s->copies[k].state) != DAEMON_COPY_NONE)
			return true;
	return false;
}

/* ---- lifetime ---- */

static void wake(struct fs_shadowing *sh, bool rescan)
{
	pthread_mutex_lock(&sh->lock);
	sh->wake_pending = true;
	sh->rescan_pending |= rescan;
	sh->look_all_pending |= rescan; /* a setting changed: quiet entries too */
	pthread_cond_broadcast(&sh->wake);
	pthread_mutex_unlock(&sh->lock);
}

void fs_shadowing_wake(struct fs_shadowing *sh)
{
	wake(sh, true);
}

void shadow_wake_for_job(struct fs_shadowing *sh)
{
	wake(sh, false);
}

bool fs_shadowing_wanted(struct fs_hosts *hosts)
{
	return fs_hosts_count(hosts) > 0;
}

struct fs_remote_reads *fs_shadowing_remote_reads(struct fs_shadowing *sh)
{
	return sh->remote_reads;
}

struct fs_hosts *fs_shadowing_hosts(struct fs_shadowing *sh)
{
	return sh->hosts;
}

int fs_shadowing_new(struct fs_ctx *c, struct fs_hosts *hosts,
		     const struct fs_shadowing_config *cfg, struct fs_shadowing **ret)
{
	struct fs_shadowing *sh = calloc(1, sizeof(*sh));
	struct timespec ts;
	if (!sh)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Versions from microseconds since the epoch at start; moved past the
	 * range an earlier mount reserved at fs_shadowing_start (a clock set
	 * back, fs/version_floor.h). */
	uint64_t first = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	int r = daemon_shadow_map_new(first, &sh->map);
	if (r < 0) {
		free(sh);
		return r;
	}
	sh->ctx = c;
	sh->hosts = hosts;
	sh->cfg = *cfg;
	shadow_fds_init(sh, cfg->fd_budget);
	shadow_reclaim_init(sh);
	if (fs_hosts_tls(hosts) &&
	    ((r = fs_remote_reads_new(hosts, cfg->remote_timeout_ms, FS_REMOTE_POOL_MAX,
				      &sh->remote_reads)) < 0 ||
	     (r = fs_remote_copies_new(hosts, &sh->remote_copies)) < 0)) {
		fs_remote_reads_free(sh->remote_reads);
		daemon_shadow_map_free(sh->map);
		free(sh);
		return r;
	}
	r = fs_copy_pace_new(cfg->copy_rate_mbps, &sh->pace);
	if (r < 0) {
		fs_remote_copies_free(sh->remote_copies);
		fs_remote_reads_free(sh->remote_reads);
		daemon_shadow_map_free(sh->map);
		free(sh);
		return r;
	}
	sh->params.idle_ms = (uint64_t)(cfg->idle_s * 1000);
	sh->params.quiet_ms = (uint64_t)(cfg->quiet_s * 1000);
	pthread_mutex_init(&sh->lock, NULL);
	pthread_mutex_init(&sh->pins_lock, NULL);
	pthread_cond_init(&sh->wake, NULL);
	sh->pin_log_fd = -1;
	*ret = sh;
	return 0;
}

/* Copies earlier runs of the mount left in its local stores: never the
 * basis of a copy here (a local copy is made whole, its file's older
 * versions deleted first), so only room taken from the budget, and copies
 * of files no longer shadowed would stay forever. The stores are this
 * mount's alone (host_store.h: one open store per directory). */
static void sweep_local_stores(struct fs_shadowing *sh)
{
	uint64_t first = daemon_shadow_map_first_version(sh->map);
	for (size_t i = 0; i < fs_hosts_count(sh->hosts); i++) {
		struct daemon_store *st = fs_hosts_local_store(sh->hosts, i);
		uint64_t n = 0, bytes = 0;
		char where[600];
		if (!st)
			continue;
		fs_hosts_label(sh->hosts, i, where, sizeof(where));
		int r = daemon_store_delete_older(st, first, &n, &bytes);
		if (r < 0)
			sfs_warn("shadow: host %s: cannot delete the copies an earlier mount left: %s",
				 where, strerror(-r));
		if (n)
			sfs_info("shadow: host %s: %llu cop%s (%llu KiB) an earlier mount left "
				 "deleted",
				 where, (unsigned long long)n, n == 1 ? "y" : "ies",
				 (unsigned long long)(bytes + 1023) / 1024);
	}
}

/* The mount's versions start past every version an earlier mount of this
 * state directory could have used, whatever the clock did since
 * (fs/version_floor.h). Before the sweep of the local stores, which
 * deletes what is older than the first version. */
static int reserve_versions(struct fs_shadowing *sh, const char *state_dir)
{
	bool damaged;
	uint64_t first;
	int r = fs_version_floor_reserve(state_dir, daemon_shadow_map_first_version(sh->map),
					 &first, &damaged);
	if (r < 0) {
		sfs_error("cannot read or write %s/%s: %s", state_dir, FS_VERSION_FLOOR_FILE,
			  strerror(-r));
		return r;
	}
	if (damaged)
		sfs_warn("%s/%s was damaged: versions start at the clock's time (a copy an "
			 "earlier mount left is taken as current only if the clock has not "
			 "gone back since)",
			 state_dir, FS_VERSION_FLOOR_FILE);
	daemon_shadow_map_set_first_version(sh->map, first);
	return 0;
}

int fs_shadowing_start(struct fs_shadowing *sh, const char *state_dir)
{
	int r = reserve_versions(sh, state_dir);
	if (r < 0)
		return r;
	sweep_local_stores(sh);
	snprintf(sh->state_dir, sizeof(sh->state_dir), "%s", state_dir);
	sh->cfg.state_dir = sh->state_dir;
	snprintf(sh->pins_path, sizeof(sh->pins_path), "%s/pins", state_dir);
	snprintf(sh->pin_log_path, sizeof(sh->pin_log_path), "%s/pins.log", state_dir);
	snprintf(sh->status_path, sizeof(sh->status_path), "%s/shadows.status", state_dir);
	snprintf(sh->control_stats_path, sizeof(sh->control_stats_path), "%s/control.stats",
		 state_dir);
	/* Before any entry: their ids are named with it (fs/origin_id.h). */
	uint8_t origin_id[16];
	bool made, damaged;
	r = fs_origin_id_load(state_dir, origin_id, &made, &damaged);
	if (r < 0) {
		sfs_error("cannot read or make %s/%s: %s", state_dir, FS_ORIGIN_ID_FILE,
			  strerror(-r));
		return r;
	}
	if (damaged) /* said: before, a new id was made without a word */
		sfs_warn("%s/%s was damaged: replaced by a new origin id (the copies on "
			 "shadowd hosts named by the old one are copied again, and the old "
			 "ones expire there)",
			 state_dir, FS_ORIGIN_ID_FILE);
	else if (made)
		sfs_debug("made the origin id %s/%s", state_dir, FS_ORIGIN_ID_FILE);
	daemon_shadow_map_set_salt(sh->map, origin_id);
	load_pins(sh);
	r = fs_mover_new(sh, sh->remote_copies != NULL, false, &sh->mover);
	if (r == 0)
		r = fs_mover_new(sh, sh->remote_copies != NULL, true, &sh->express);
	if (r < 0)
		return r;
	r = pthread_create(&sh->thread, NULL, shadow_control_thread, sh);
	if (r != 0)
		return -r;
	sh->started = true;
	return 0;
}

void fs_shadowing_free(struct fs_shadowing *sh)
{
	if (!sh)
		return;
	pthread_mutex_lock(&sh->lock);
	sh->stopping = true;
	pthread_cond_broadcast(&sh->wake);
	pthread_mutex_unlock(&sh->lock);
	fs_copy_pace_cancel(sh->pace); /* a paced copy in progress stops now */
	if (sh->started)
		pthread_join(sh->thread, NULL);
	if (sh->pins_dirty)
		shadow_write_pins(sh); /* the pin changes the log holds, folded in */
	if (sh->pin_log_fd >= 0)
		close(sh->pin_log_fd);
	fs_mover_free(sh->express); /* cancels its job, joins it */
	fs_mover_free(sh->mover);
	sh->express = sh->mover = NULL;
	pred_store_close(sh->store);
	shadow_origin_fds_free(sh);
	fs_inode_table_on_release(sh->ctx->inodes, NULL, NULL); /* the map goes */
	shadow_paths_reap(sh);
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		fs_remote_dirty_free(s);
	}
	daemon_shadow_map_free(sh->map);
	fs_remote_copies_free(sh->remote_copies);
	fs_remote_reads_free(sh->remote_reads);
	fs_copy_pace_free(sh->pace);
	free(sh->host_since);
	pthread_cond_destroy(&sh->wake);
	pthread_mutex_destroy(&sh->pins_lock);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}
