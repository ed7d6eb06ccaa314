/* The path of each shadow map entry (relative to BACKING), kept right as
 * files and directories are renamed through the mount.
 *
 * An entry's path names the file in STATE/pins (so a pin survives a
 * restart), in STATE/shadows.status and the logs, and lets the control
 * loop stat an origin without reopening it. It was taken once, when the
 * entry was made, and never changed: a pinned file renamed through the
 * mount was listed under its old name, and at the next start its pin was
 * dropped ("pinned file ... is gone"), or given to another file that had
 * taken the old name.
 *
 * Now a rename through the mount that succeeded moves, before its reply,
 * the path of the renamed file's entry, or those of every entry below a
 * renamed directory (RENAME_EXCHANGE: both sides swap), and a pinned one
 * has its move recorded in STATE/pins.log at once (unpin the old path,
 * pin the new one: replayed in order at the next start), after its
 * intent, recorded before the rename is made (log_intent). A pin set on a
 * file takes its path from the inode then, which also catches a rename
 * made behind the mount's back.
 *
 * Who may read a path: under the map lock, anyone; without it, only the
 * control thread (its log lines, its stats by path), by shadow_path_or
 * (an acquire load of the pointer stored here with release). So a path replaced
 * by another thread is not freed at once but retired, under the map lock,
 * and the control thread frees the retired ones at the start of its next
 * tick, when it holds none of them. FUSE threads that need a path copy it
 * under the map lock (shadow_path_copy). */
#include "fs/shadowing_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/shadow_map.h"
#include "fs/fs.h"
#include "fs/pin_log.h"
#include "fs/rel_path.h"

void shadow_path_set_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s, char *path)
{
	char *old = s->path;
	__atomic_store_n(&s->path, path, __ATOMIC_RELEASE); /* shadow_path_or */
	if (!old)
		return;
	if (sh->nretired == sh->retired_cap) {
		size_t cap = sh->retired_cap ? sh->retired_cap * 2 : 16;
		char **r = realloc(sh->retired, cap * sizeof(*r));
		if (!r)
			return; /* kept (leaked) rather than freed under a reader */
		sh->retired = r;
		sh->retired_cap = cap;
	}
	sh->retired[sh->nretired++] = old;
}

void shadow_paths_reap(struct fs_shadowing *sh)
{
	daemon_shadow_map_lock(sh->map);
	char **r = sh->retired;
	size_t n = sh->nretired;
	sh->retired = NULL;
	sh->nretired = sh->retired_cap = 0;
	daemon_shadow_map_unlock(sh->map);
	for (size_t i = 0; i < n; i++)
		free(r[i]);
	free(r);
}

void shadow_path_copy(struct fs_shadowing *sh, struct daemon_shadow_file *s, char *buf,
		      size_t len)
{
	daemon_shadow_map_lock(sh->map);
	snprintf(buf, len, "%s", s->path ? s->path : "?");
	daemon_shadow_map_unlock(sh->map);
}

/* A pinned entry's move, for STATE/pins.log. */
struct pin_move {
	char *from, *to;
};

struct moves {
	struct pin_move *v;
	size_t n, cap;
};

/* s's path moved to to (taken; NULL: forgotten); a pinned one's move
 * noted. Map lock held. */
static void move_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s, char *to,
			struct moves *pm)
{
	bool note = s->pinned && (s->path || to);
	if (note && pm->n == pm->cap) {
		size_t cap = pm->cap ? pm->cap * 2 : 8;
		struct pin_move *v = realloc(pm->v, cap * sizeof(*v));
		if (v) {
			pm->v = v;
			pm->cap = cap;
		}
	}
	if (note && pm->n < pm->cap) {
		pm->v[pm->n].from = s->path ? strdup(s->path) : NULL;
		pm->v[pm->n].to = to ? strdup(to) : NULL;
		pm->n++;
	}
	shadow_path_set_locked(sh, s, to);
}

/* The entry of a regular file (dev, ino) named from (or by no path, as
 * one moved deeper than PATH_MAX): named to now. */
static void move_file_locked(struct fs_shadowing *sh, const struct stat *st, const char *from,
			     const char *to, struct moves *pm)
{
	struct daemon_shadow_file *s = daemon_shadow_map_find(sh->map, st->st_dev, st->st_ino);
	char *p;
	/* Another link of a file known by another name keeps that name. */
	if (s && (!s->path || !strcmp(s->path, from)) && (p = strdup(to)))
		move_locked(sh, s, p, pm);
}

/* Every entry below directory from is below to now (and, exchanged, every
 * one below to below from). */
static void move_dir_locked(struct fs_shadowing *sh, const char *from, const char *to,
			    bool exchange, struct moves *pm)
{
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		if (!s->path)
			continue;
		char *p = fs_rel_moved(s->path, from, to);
		if (!p && exchange)
			p = fs_rel_moved(s->path, to, from);
		if (p)
			move_locked(sh, s, p, pm);
	}
}

/* The pinned entries' moves into STATE/pins.log (unpin the old path, if
 * it had one, pin the new one, if it has one), or STATE/pins rewritten
 * when there is no log; then STATE/pins is folded at the next tick.
 * pins_lock held. */
static void log_moves(struct fs_shadowing *sh, struct moves *pm)
{
	bool logged = sh->pin_log_fd >= 0;
	for (size_t i = 0; i < pm->n; i++) {
		int r = 0;
		const char *to = pm->v[i].to;
		const char *from = pm->v[i].from;
		if (logged &&
		    ((from && (r = fs_pin_log_append(sh->pin_log_fd, false, from)) < 0) ||
		     (to && (r = fs_pin_log_append(sh->pin_log_fd, true, to)) < 0))) {
			sfs_warn("cannot record the rename of pinned %s in %s: %s",
				 from ? from : to, sh->pin_log_path, strerror(-r));
			logged = false;
		}
		free(pm->v[i].from);
		free(pm->v[i].to);
	}
	free(pm->v);
	if (pm->n && !logged)
		shadow_write_pins_locked(sh);
	if (pm->n) {
		pthread_mutex_lock(&sh->lock);
		sh->pins_dirty = true;
		pthread_mutex_unlock(&sh->lock);
	}
}

/* s moved deeper than PATH_MAX below BACKING: it forgets its path
 * (a pinned one said in the log). Map lock held. */
static void forget_path_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s,
			       struct moves *pm)
{
	if (s->pinned)
		sfs_warn("pinned %s moved deeper than PATH_MAX below BACKING: pinned until the "
			 "unmount, not after (pins are kept by path)",
			 s->path);
	move_locked(sh, s, NULL, pm);
}

/* What went deeper than PATH_MAX below BACKING, known as path (the
 * regular file st, or every entry below the directory st), forgets its
 * path: a pin on it holds until the unmount, and STATE/pins loses it
 * rather than keep the old path, which another file may take. Map lock
 * held. */
static void went_deep_locked(struct fs_shadowing *sh, const struct stat *st, const char *path,
			     struct moves *pm)
{
	struct daemon_shadow_file *s;
	if (S_ISREG(st->st_mode)) {
		s = daemon_shadow_map_find(sh->map, st->st_dev, st->st_ino);
		if (s && s->path && !strcmp(s->path, path))
			forget_path_locked(sh, s, pm);
	} else if (S_ISDIR(st->st_mode)) {
		for (size_t k = 0; (s = daemon_shadow_map_at(sh->map, k)) != NULL; k++)
			if (s->path && fs_rel_below(s->path, path))
				forget_path_locked(sh, s, pm);
	}
}

/* The path of live entry s as its origin says now (its fd, or one opened
 * by its handle), checked by a stat of that path; NULL if it has none
 * within PATH_MAX. Map lock held (it keeps the fd and the handle). */
static char *origin_path_locked(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	int root = fs_inode_table_root_fd(sh->ctx->inodes);
	int fd = s->origin_fd;
	if (fd < 0 && s->origin_handle)
		fd = open_by_handle_at(root, s->origin_handle, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char rel[PATH_MAX];
	struct stat st;
	int r = fs_rel_path(sh->ctx, fd, rel);
	if (fd != s->origin_fd)
		close(fd);
	if (r < 0 || !rel[0] || fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (uint64_t)st.st_dev != s->dev || (uint64_t)st.st_ino != s->ino)
		return NULL;
	return strdup(rel);
}

/* A directory came back from deeper than PATH_MAX: the live entries
 * without a path (those below it among them) take the one their origin
 * has now, a pinned one's recorded again. Others have no fd or handle to
 * ask and stay without. Map lock held. */
static void paths_found_again_locked(struct fs_shadowing *sh, struct moves *pm)
{
	struct daemon_shadow_file *s;
	for (size_t k = 0; (s = daemon_shadow_map_at(sh->map, k)) != NULL; k++) {
		char *p;
		if (!s->path && s->origin_live && !s->gone && (p = origin_path_locked(sh, s)))
			move_locked(sh, s, p, pm);
	}
}

/* What came back from deeper than PATH_MAX to path: a regular file st
 * takes that path, the entries below a directory find theirs again. Map
 * lock held. */
static void came_up_locked(struct fs_shadowing *sh, const struct stat *st, const char *path,
			   struct moves *pm)
{
	if (S_ISREG(st->st_mode))
		move_file_locked(sh, st, "", path, pm); /* "" matches no path */
	else if (S_ISDIR(st->st_mode))
		paths_found_again_locked(sh, pm);
}

/* A rename with one side deeper than PATH_MAX below BACKING, which
 * succeeded (RENAME_EXCHANGE: the known side goes down, the other comes
 * up; what goes down first, so that what comes up is not taken for it).
 * Map and pins locks held. */
static void move_unknown_locked(struct shadow_rename *rn, struct moves *pm)
{
	struct fs_shadowing *sh = rn->sh;
	bool exchange = rn->flags & RENAME_EXCHANGE;
	if (rn->from_unknown) {
		if (exchange)
			went_deep_locked(sh, &rn->dst, rn->to, pm);
		came_up_locked(sh, &rn->src, rn->to, pm);
	} else {
		went_deep_locked(sh, &rn->src, rn->from, pm);
		if (exchange)
			came_up_locked(sh, &rn->dst, rn->from, pm);
	}
}

/* Before the reply of a rename that succeeded (fs_before_reply). */
static void renamed(void *arg)
{
	struct shadow_rename *rn = arg;
	struct fs_shadowing *sh = rn->sh;
	struct stat now;
	char to[PATH_MAX];
	int r = fs_rel_child(sh->ctx, rn->newparent, rn->newname, to, &now);
	bool moved = (rn->to_unknown ? r == -ENAMETOOLONG : r == 0 && !strcmp(to, rn->to)) &&
		     now.st_dev == rn->src.st_dev && now.st_ino == rn->src.st_ino;
	if (moved && (rn->to_unknown || rn->from_unknown)) {
		struct moves pm = {0};
		pthread_mutex_lock(&sh->pins_lock);
		daemon_shadow_map_lock(sh->map);
		move_unknown_locked(rn, &pm);
		daemon_shadow_map_unlock(sh->map);
		log_moves(sh, &pm);
		pthread_mutex_unlock(&sh->pins_lock);
	} else if (moved) {
		struct moves pm = {0};
		bool exchange = rn->flags & RENAME_EXCHANGE;
		pthread_mutex_lock(&sh->pins_lock);
		daemon_shadow_map_lock(sh->map);
		if (S_ISDIR(rn->src.st_mode) || (exchange && S_ISDIR(rn->dst.st_mode)))
			move_dir_locked(sh, rn->from, rn->to, exchange, &pm);
		if (S_ISREG(rn->src.st_mode))
			move_file_locked(sh, &rn->src, rn->from, rn->to, &pm);
		if (exchange && S_ISREG(rn->dst.st_mode))
			move_file_locked(sh, &rn->dst, rn->to, rn->from, &pm);
		daemon_shadow_map_unlock(sh->map);
		log_moves(sh, &pm);
		pthread_mutex_unlock(&sh->pins_lock);
	}
	if (rn->next.fn)
		rn->next.fn(rn->next.arg);
}

/* Is the regular file st, known as path, pinned under that path? */
static bool pinned_file_locked(struct fs_shadowing *sh, const struct stat *st, const char *path)
{
	struct daemon_shadow_file *s = daemon_shadow_map_find(sh->map, st->st_dev, st->st_ino);
	return s && s->pinned && s->path && !strcmp(s->path, path);
}

/* Is a pinned entry's path dir or below it? */
static bool pinned_below_locked(struct fs_shadowing *sh, const char *dir)
{
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			return false;
		if (s->pinned && s->path && fs_rel_below(s->path, dir))
			return true;
	}
}

/* Does rn move a pinned path, or replace a pinned file (replaced)? */
static bool moves_pins(struct shadow_rename *rn, struct daemon_shadow_file *replaced)
{
	struct fs_shadowing *sh = rn->sh;
	bool exchange = rn->flags & RENAME_EXCHANGE;
	daemon_shadow_map_lock(sh->map);
	bool r = (S_ISREG(rn->src.st_mode) && pinned_file_locked(sh, &rn->src, rn->from)) ||
		 (S_ISDIR(rn->src.st_mode) && pinned_below_locked(sh, rn->from)) ||
		 (exchange && S_ISREG(rn->dst.st_mode) && pinned_file_locked(sh, &rn->dst, rn->to)) ||
		 (exchange && S_ISDIR(rn->dst.st_mode) && pinned_below_locked(sh, rn->to)) ||
		 (replaced && replaced->pinned && replaced->path && !strcmp(replaced->path, rn->to));
	daemon_shadow_map_unlock(sh->map);
	return r;
}

/* A rename that moves pins has its intent in STATE/pins.log before it is
 * made (fs/pin_log.h): its "-OLD" "+NEW" come only after, and a kill -9
 * in between lost the pin. */
static void log_intent(struct shadow_rename *rn, struct daemon_shadow_file *replaced)
{
	struct fs_shadowing *sh = rn->sh;
	rn->intent = false;
	if (sh->pin_log_fd < 0 || !moves_pins(rn, replaced))
		return;
	bool exchange = rn->flags & RENAME_EXCHANGE;
	struct fs_pin_rename rec = {.from = rn->from,
				    .to = rn->to,
				    .from_ino = rn->src.st_ino,
				    .to_ino = exchange ? rn->dst.st_ino : 0,
				    .exchange = exchange};
	pthread_mutex_lock(&sh->pins_lock);
	int r = fs_pin_log_append_rename(sh->pin_log_fd, &rec);
	if (r == 0)
		sh->pin_intents++;
	pthread_mutex_unlock(&sh->pins_lock);
	if (r < 0)
		sfs_warn("cannot record the coming rename of %s (pins) in %s: %s", rn->from,
			 sh->pin_log_path, strerror(-r));
	rn->intent = r == 0;
}

static bool has_entries(mode_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode);
}

void shadow_rename_begin(struct fs_shadowing *sh, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags,
			 struct daemon_shadow_file *replaced, struct shadow_rename *rn)
{
	rn->armed = false;
	if (!sh || daemon_shadow_map_size(sh->map) == 0)
		return; /* nothing to follow: one atomic read */
	int r = fs_rel_child(sh->ctx, parent, name, rn->from, &rn->src);
	rn->from_unknown = r == -ENAMETOOLONG;
	if (r < 0 && !rn->from_unknown)
		return;
	rn->dst.st_mode = 0;
	rn->to_unknown = false;
	if (flags & RENAME_EXCHANGE) {
		r = fs_rel_child(sh->ctx, newparent, newname, rn->to, &rn->dst);
		rn->to_unknown = r == -ENAMETOOLONG;
		if ((r < 0 && !rn->to_unknown) || (rn->to_unknown && rn->from_unknown))
			return;
	} else {
		r = fs_rel_name(sh->ctx, newparent, newname, rn->to);
		rn->to_unknown = r == -ENAMETOOLONG;
		if ((r < 0 && !rn->to_unknown) || (rn->to_unknown && rn->from_unknown))
			return;
	}
	/* Only files and directories have entries (below them); with
	 * RENAME_EXCHANGE either side may (a symlink exchanged with a pinned
	 * file left its pin on the symlink's path). */
	if (!has_entries(rn->src.st_mode) && !has_entries(rn->dst.st_mode))
		return;
	if (rn->from_unknown)
		rn->from[0] = '\0';
	if (rn->to_unknown)
		rn->to[0] = '\0';
	rn->sh = sh;
	rn->newparent = newparent;
	rn->newname = newname;
	rn->flags = flags;
	if (!rn->to_unknown && !rn->from_unknown)
		log_intent(rn, replaced);
	else
		rn->intent = false;
	rn->next = fs_before_reply; /* a layer outside ours (tuning) runs after */
	fs_before_reply = (struct fs_before_reply){.fn = renamed, .arg = rn};
	rn->armed = true;
}

void shadow_rename_end(struct shadow_rename *rn)
{
	if (!rn->armed)
		return;
	fs_before_reply = rn->next;
	if (rn->intent) {
		pthread_mutex_lock(&rn->sh->pins_lock);
		rn->sh->pin_intents--;
		pthread_mutex_unlock(&rn->sh->pins_lock);
	}
}

/* The other name of the unlinked file, relative to BACKING, that its
 * handle leads to, checked to be the file (a dentry of the removed name
 * would read "NAME (deleted)"); NULL if none. */
static char *other_name(struct shadow_unlink *un)
{
	struct fs_ctx *c = un->sh->ctx;
	int root = fs_inode_table_root_fd(c->inodes);
	char rel[PATH_MAX];
	struct stat st;
	if (!un->have_handle)
		return NULL;
	int fd = open_by_handle_at(root, &un->h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	int r = fs_rel_path(c, fd, rel);
	close(fd);
	if (r < 0 || !rel[0] || !strcmp(rel, un->from) ||
	    fstatat(root, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != un->st.st_dev ||
	    st.st_ino != un->st.st_ino)
		return NULL;
	return strdup(rel);
}

/* The entry of un->s leaves the removed name (map and pins locks). */
static void follow(struct shadow_unlink *un)
{
	struct fs_shadowing *sh = un->sh;
	char *to = other_name(un);
	struct moves pm = {0};
	pthread_mutex_lock(&sh->pins_lock);
	daemon_shadow_map_lock(sh->map);
	if (un->s->path && !strcmp(un->s->path, un->from))
		move_locked(sh, un->s, to, &pm);
	else
		free(to);
	daemon_shadow_map_unlock(sh->map);
	log_moves(sh, &pm);
	pthread_mutex_unlock(&sh->pins_lock);
}

/* Before the reply of an unlink (or a rename over the file) that removed
 * the name un->s is known by (fs_before_reply). Before, the entry kept the
 * removed name: STATE/pins named it, so the next mount dropped the pin of
 * the file's other link ("gone") or gave it to a new file made there. */
static void unlinked(void *arg)
{
	struct shadow_unlink *un = arg;
	int root = fs_inode_table_root_fd(un->sh->ctx->inodes);
	struct stat st;
	/* Still its name: a rename of one of its links onto another. */
	bool named = fstatat(root, un->from, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     st.st_dev == un->st.st_dev && st.st_ino == un->st.st_ino;
	if (!named)
		follow(un);
	if (un->next.fn)
		un->next.fn(un->next.arg);
}

void shadow_unlink_begin(struct fs_shadowing *sh, struct daemon_shadow_file *s, nlink_t nlink,
			 fuse_ino_t parent, const char *name, struct shadow_unlink *un)
{
	un->armed = false;
	if (!sh || !s || nlink <= 1 || fs_rel_child(sh->ctx, parent, name, un->from, &un->st) < 0 ||
	    !S_ISREG(un->st.st_mode))
		return;
	daemon_shadow_map_lock(sh->map);
	bool known_so = s->path && !strcmp(s->path, un->from);
	daemon_shadow_map_unlock(sh->map);
	if (!known_so)
		return; /* known by another of its names: it keeps that one */
	struct fs_inode *d = fs_inode_of(sh->ctx, parent);
	int dfd = fs_inode_fd_get(sh->ctx->inodes, d), mount_id;
	un->h.fh.handle_bytes = MAX_HANDLE_SZ;
	un->have_handle = dfd >= 0 && name_to_handle_at(dfd, name, &un->h.fh, &mount_id, 0) == 0;
	if (dfd >= 0)
		fs_inode_fd_put(sh->ctx->inodes, d);
	un->sh = sh;
	un->s = s;
	un->next = fs_before_reply;
	fs_before_reply = (struct fs_before_reply){.fn = unlinked, .arg = un};
	un->armed = true;
}

void shadow_unlink_end(struct shadow_unlink *un)
{
	if (un->armed)
		fs_before_reply = un->next;
}
