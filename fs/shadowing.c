/* Shadowing on the mount's hosts (see shadowing.h): the ops layer that keeps
 * versions, writer counts and (for remote syncs) written ranges, the
 * control thread that copies and demotes (remote copies through
 * fs/remote_copies.c), pins, the status file and user.shadow.state.
 *
 * Ordering rules of the layer: the version bump and the writer count happen
 * before the inner op touches BACKING; the writer count of a failed open is
 * taken back after it (fi->fh stays 0 when the inner op failed). An open
 * interrupted after its backing open (fuse_reply_open -> -ENOENT, no
 * release will come) leaves its count: the file's copies then never serve
 * again in this mount (safe, documented in docs/ARCHITECTURE.md). */
#include "fs/shadowing.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/control.h"
#include "daemon/host_store.h"
#include "daemon/shadow_map.h"
#include "fs/copy_pace.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/rollout.h"
#include "fs/shadow_tuning.h"
#include "fs/passthrough.h"
#include "fs/remote_copies.h"
#include "fs/remote_dirty.h"
#include "fs/remote_reads.h"
#include "fs/status_file.h"
#include "fs/xattr_shadow.h"
#include "predictor/hot_files.h"
#include "predictor/model.h"
#include "sync/digest.h"
#include "sync/wire.h"

#define FS_SHADOW_HISTORY_S (6 * 3600) /* the forecast looks at the last hours */
#define FS_SHADOW_TOP_N 32	       /* ... of the busiest files */

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)
#define SUB(p, v) __atomic_sub_fetch((p), (v), __ATOMIC_SEQ_CST)

struct fs_shadowing {
	struct fs_ctx *ctx;	/* not owned */
	struct fs_hosts *hosts; /* not owned */
	struct daemon_shadow_map *map;
	struct fs_remote_reads *remote_reads;	/* router's reads; NULL: no remote host */
	struct fs_remote_copies *remote_copies; /* control thread's syncs; idem */
	struct fs_copy_pace *pace;		/* -o copy_rate: the copies' origin reads */
	struct daemon_control_params params;
	struct fs_shadowing_config cfg;
	char state_dir[PATH_MAX];
	char pins_path[PATH_MAX];
	char status_path[PATH_MAX];
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* protects stopping, pins_dirty */
	pthread_cond_t wake;
	bool stopping;
	bool pins_dirty; /* STATE/pins to rewrite (control thread writes it) */
	/* control thread only */
	struct pred_store *store; /* the recorder's series store, read-only */
	uint64_t forecast_ms;	  /* last forecast */
	size_t verify_cursor;	  /* next entry verify_one looks at */
};

/* The wrapped table: written once before the session starts. */
static struct fuse_lowlevel_ops inner;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct fs_shadowing *sh_of(fuse_req_t req)
{
	return fs_ctx_of(req)->shadowing;
}

static void origin_stamp(const struct stat *st, struct daemon_origin_stamp *o)
{
	o->size = st->st_size;
	o->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	o->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static bool stamp_eq(const struct daemon_origin_stamp *a, const struct daemon_origin_stamp *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* The path of an fd relative to BACKING (malloc'ed), or NULL. */
static char *relative_path(struct fs_shadowing *sh, int fd)
{
	char proc[32], buf[PATH_MAX];
	fs_proc_path(proc, fd);
	ssize_t n = readlink(proc, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	const char *b = sh->ctx->opts->backing;
	size_t bl = strlen(b);
	if (strncmp(buf, b, bl) != 0 || buf[bl] != '/')
		return NULL;
	return strdup(buf + bl + 1);
}

/* ---- the inode's entry ---- */

static struct daemon_shadow_file *entry_of(struct fs_inode *i)
{
	return __atomic_load_n((struct daemon_shadow_file **)&i->shadow, __ATOMIC_ACQUIRE);
}

static void set_entry_locked(struct fs_inode *i, void *arg)
{
	__atomic_store_n(&i->shadow, arg, __ATOMIC_RELEASE);
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
	daemon_shadow_map_unlock(sh->map);
	if (s)
		__atomic_store_n(&i->shadow, (void *)s, __ATOMIC_RELEASE);
	return s;
}

/* An entry whose file was unlinked through the mount may meet a new file
 * with the same inode number. Usable again (path forgotten) once the
 * control loop has dropped the old file's copies and origin fd; until then
 * false (the caller gives up: -EAGAIN for a pin). The old copies never
 * serve the new file: the unlink bumped the version. Map lock held. */
static bool entry_reuse_locked(struct daemon_shadow_file *s)
{
	if (!s->gone)
		return true;
	if (s->origin_fd >= 0)
		return false;
	free(s->path);
	s->path = NULL;
	__atomic_store_n(&s->gone, false, __ATOMIC_RELAXED);
	return true;
}

/* The entry of i, made if missing (origin O_PATH fd and path taken from
 * ifd, an O_PATH fd of i). Map lock NOT held. */
static struct daemon_shadow_file *entry_make(struct fs_shadowing *sh, struct fs_inode *i, int ifd)
{
	daemon_shadow_map_lock(sh->map);
	struct daemon_shadow_file *s =
	    daemon_shadow_map_get(sh->map, (uint64_t)i->dev, (uint64_t)i->ino);
	if (s && !entry_reuse_locked(s)) {
		daemon_shadow_map_unlock(sh->map);
		return NULL;
	}
	if (s && s->origin_fd < 0)
		s->origin_fd = fcntl(ifd, F_DUPFD_CLOEXEC, 0);
	if (s && !s->path)
		s->path = relative_path(sh, ifd);
	daemon_shadow_map_unlock(sh->map);
	if (s)
		fs_inode_table_with(sh->ctx->inodes, i->dev, i->ino, set_entry_locked, s);
	return s;
}

/* The entry of the object NAME in directory inode dir (before an op that
 * replaces or removes it), or NULL. *nlink gets its link count. */
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
	daemon_shadow_map_unlock(sh->map);
	return s;
}

static void bump(struct daemon_shadow_file *s)
{
	if (s)
		daemon_shadow_file_bump(s, now_ms());
}

/* The last link of a shadowed file goes (unlink, rename over it): its
 * copies are dropped by the control loop and its pin forgotten. */
static void mark_gone(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	daemon_shadow_map_lock(sh->map);
	__atomic_store_n(&s->gone, true, __ATOMIC_RELAXED); /* read unlocked by sh_open */
	bool was_pinned = s->pinned;
	s->pinned = false;
	daemon_shadow_map_unlock(sh->map);
	if (was_pinned) {
		pthread_mutex_lock(&sh->lock);
		sh->pins_dirty = true;
		pthread_mutex_unlock(&sh->lock);
	}
}

/* Whether the copy may still serve as far as the disk says: its origin
 * looks as when it was copied, and its own file too (a copy changed on
 * disk -- a flipped byte, a truncation -- has a new ctime). Reads are not
 * re-hashed: the copy was verified by SHA-256 when it was made. */
static bool copy_intact(const struct daemon_shadow_copy *cp, const struct daemon_origin_stamp *o)
{
	struct stat st;
	struct daemon_origin_stamp f;
	if (!stamp_eq(&cp->origin, o))
		return false;
	if (cp->remote)
		return true; /* its file is the shadowd's: SHA-256 at commit, listed */
	if (fstat(cp->fd, &st) < 0)
		return false;
	origin_stamp(&st, &f);
	return stamp_eq(&cp->file, &f);
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
	struct stat st;
	int r = fstat(ifd, &st);
	fs_inode_fd_put(sh->ctx->inodes, i);
	if (r < 0)
		return;
	struct daemon_origin_stamp now;
	origin_stamp(&st, &now);
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		if (LOAD(&cp->state) != DAEMON_COPY_SERVING)
			continue;
		if (!copy_intact(cp, &now)) {
			sfs_debug("shadow: %s or its copy changed on disk: copy stale",
				  s->path ? s->path : "?");
			daemon_shadow_copy_mark_stale(s, k);
			if (cp->version == daemon_shadow_file_version(s))
				fs_remote_dirty_unknown(s); /* changed behind our back */
		}
	}
}

/* ---- the ops layer ---- */

static void sh_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_shadowing *sh = sh_of(req);
	struct fs_ctx *c = fs_ctx_of(req);
	struct fs_inode *i = fs_inode_of(c, ino);
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct daemon_shadow_file *s = entry_find(sh, i);
	if ((!s || __atomic_load_n(&s->gone, __ATOMIC_RELAXED)) && sh->cfg.shadow_all &&
	    S_ISREG(i->type)) {
		int ifd = fs_inode_fd_get(c->inodes, i);
		if (ifd >= 0) {
			s = entry_make(sh, i, ifd);
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
	if (writer || (fi->flags & O_TRUNC))
		bump(s);
	if (fi->flags & O_TRUNC)
		fs_remote_dirty_truncate(s, 0);
	if (writer && fs_passthrough_active(c))
		fs_remote_dirty_unknown(s); /* its writes will not come to us */
	else if (s)
		check_stamps(sh, i, s);
	fi->fh = 0;
	inner.open(req, ino, fi);
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
	 * truncated: its copies go before it changes. */
	struct daemon_shadow_file *old = entry_by_name(sh, parent, name, &nl);
	bump(old);
	fs_remote_dirty_unknown(old);
	fi->fh = 0;
	fs_last_entry.set = false;
	inner.create(req, parent, name, mode, fi);
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
	fs_router_read(req, i, s, ino, size, off, fi, inner.read);
}

static void sh_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino));
	bump(s);
	fs_remote_dirty_write(s, (uint64_t)off, fuse_buf_size(in_buf));
	inner.write_buf(req, ino, in_buf, off, fi);
}

static void sh_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
		       struct fuse_file_info *fi)
{
	if (valid & FUSE_SET_ATTR_SIZE) {
		struct daemon_shadow_file *s =
		    entry_find(sh_of(req), fs_inode_of(fs_ctx_of(req), ino));
		bump(s);
		fs_remote_dirty_truncate(s, (uint64_t)attr->st_size);
	}
	inner.setattr(req, ino, attr, valid, fi);
}

static void sh_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino));
	bump(s);
	fs_remote_dirty_unknown(s); /* sizes and holes: not described */
	inner.fallocate(req, ino, mode, offset, length, fi);
}

static void sh_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct daemon_shadow_file *s = entry_of(fs_inode_of(fs_ctx_of(req), ino_out));
	bump(s);
	fs_remote_dirty_write(s, (uint64_t)off_out, len);
	inner.copy_file_range(req, ino_in, off_in, fi_in, ino_out, off_out, fi_out, len, flags);
}

static void sh_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_shadowing *sh = sh_of(req);
	nlink_t nl = 0;
	struct daemon_shadow_file *s = entry_by_name(sh, parent, name, &nl);
	if (s) {
		bump(s);
		if (nl <= 1)
			mark_gone(sh, s);
	}
	inner.unlink(req, parent, name);
}

static void sh_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct fs_shadowing *sh = sh_of(req);
	nlink_t nl = 0;
	/* The file replaced by the rename (not with RENAME_EXCHANGE, where
	 * both keep their content under the other name). */
	struct daemon_shadow_file *s =
	    (flags & RENAME_EXCHANGE) ? NULL : entry_by_name(sh, newparent, newname, &nl);
	if (s) {
		bump(s);
		if (nl <= 1)
			mark_gone(sh, s);
	}
	inner.rename(req, parent, name, newparent, newname, flags);
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
		if (s->pinned && s->path && !strchr(s->path, '\n'))
			fprintf(out, "%s\n", s->path);
	}
}

static void write_pins(struct fs_shadowing *sh)
{
	daemon_shadow_map_lock(sh->map);
	int r = fs_status_file_write(sh->pins_path, fill_pins, sh);
	daemon_shadow_map_unlock(sh->map);
	if (r < 0)
		sfs_warn("cannot write %s: %s", sh->pins_path, strerror(-r));
}

/* The entry of the regular file at path (relative to BACKING), made if
 * missing, and returned with the map lock HELD; NULL (lock not held) when
 * there is no such regular file. */
static struct daemon_shadow_file *entry_by_path_locked(struct fs_shadowing *sh, const char *path)
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
	if (!s || !entry_reuse_locked(s)) {
		daemon_shadow_map_unlock(sh->map);
		close(fd);
		return NULL;
	}
	if (s->origin_fd < 0) {
		s->origin_fd = fd;
		fd = -1;
	}
	if (!s->path)
		s->path = strdup(path);
	if (fd >= 0)
		close(fd);
	return s;
}

static void load_pins(struct fs_shadowing *sh)
{
	FILE *in = fopen(sh->pins_path, "r");
	char line[PATH_MAX + 2];
	if (!in)
		return;
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		struct daemon_shadow_file *s = entry_by_path_locked(sh, line);
		if (!s) {
			sfs_warn("pinned file %s is gone: pin dropped", line);
			continue;
		}
		s->pinned = true;
		daemon_shadow_map_unlock(sh->map);
	}
	fclose(in);
}

/* Once a forecast bucket: the predictor's hot files (pred_hot_files on the
 * recorder's store) become wanted, the others stop being so (their copies
 * go after shadow_idle). */
static void refresh_forecast(struct fs_shadowing *sh)
{
	const struct fs_shadowing_config *cf = &sh->cfg;
	char err[256];
	if (!sh->store &&
	    pred_store_open(cf->state_dir, NULL, true, &sh->store, err, sizeof(err)) != 0) {
		sh->store = NULL;
		return; /* no store yet (first bucket not written): next time */
	}
	unsigned horizon = (unsigned)(cf->window_s / cf->bucket_s);
	horizon = horizon < 1 ? 1 : horizon > PRED_MAX_H ? PRED_MAX_H : horizon;
	struct pred_hot_req req = {
	    .bucket_s = cf->bucket_s,
	    .history_s = FS_SHADOW_HISTORY_S,
	    .season = 0,
	    .horizon = horizon,
	    .window = horizon,
	    .top_n = FS_SHADOW_TOP_N,
	    .capacity = cf->capacity,
	    .threshold = cf->threshold,
	    .now = time(NULL),
	    .react = cf->react,
	};
	if (sh->ctx->tuning) /* per-file user.shadow.* settings, every forecast kept */
		fs_tuning_hot_req(sh->ctx->tuning, &req);
	struct pred_hot_file *hot = NULL;
	size_t n = 0;
	size_t nh = fs_hosts_count(sh->hosts); /* one copy per host */
	int r = pred_hot_files(sh->store, &req, &hot, &n);
	if (r < 0) {
		sfs_debug("shadow: forecast failed: %s", strerror(-r));
		return;
	}
	if (sh->ctx->tuning)
		fs_tuning_note_forecast(sh->ctx->tuning, hot, n);
	for (size_t i = 0; i < n; i++) {
		if (!hot[i].hot)
			continue; /* forecast, below its threshold (or never) */
		struct daemon_shadow_file *s = entry_by_path_locked(sh, hot[i].path);
		if (!s)
			continue;
		/* The replica count: the forecast's 95% bound at its highest
		 * step, or what the last bucket saw if that was more. */
		unsigned cap = hot[i].max_copies ? hot[i].max_copies : cf->max_copies; /* user.shadow.copies */
		unsigned copies = daemon_control_copies_for(fmax(hot[i].demand_hi, hot[i].last_demand),
							    hot[i].capacity, cap < nh ? cap : (unsigned)nh);
		if (!s->hot && hot[i].reactive)
			sfs_info("shadow: %s over capacity (%.0f reads in the last bucket > %.0f): "
				 "shadowed, %u cop%s",
				 hot[i].path, hot[i].last_demand, hot[i].capacity, copies,
				 copies == 1 ? "y" : "ies");
		else if (!s->hot)
			sfs_info("shadow: %s forecast hot (P=%.2f > capacity %.0f reads/bucket): "
				 "shadowed, %u cop%s",
				 hot[i].path, hot[i].p_exceed, hot[i].capacity, copies,
				 copies == 1 ? "y" : "ies");
		else if (copies != s->want_copies)
			sfs_info("shadow: %s now wants %u cop%s (95%% bound %.0f reads/bucket, "
				 "capacity %.0f)",
				 hot[i].path, copies, copies == 1 ? "y" : "ies",
				 fmax(hot[i].demand_hi, hot[i].last_demand), hot[i].capacity);
		s->hot_mark = true;
		s->want_mark = copies;
		s->reactive_mark = hot[i].reactive;
		daemon_shadow_map_unlock(sh->map);
	}
	pred_hot_files_free(hot, n);
	daemon_shadow_map_lock(sh->map);
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		if (!cf->shadow_all)
			s->hot = s->hot_mark;
		s->want_copies = s->want_mark;
		s->reactive = s->reactive_mark;
		s->hot_mark = s->reactive_mark = false;
		s->want_mark = 0;
	}
	daemon_shadow_map_unlock(sh->map);
}

int fs_shadowing_set_pin(struct fs_shadowing *sh, struct fs_inode *i, const void *value,
			 size_t size)
{
	const char *v = value;
	if (!S_ISREG(i->type))
		return -EINVAL;
	if (size && v[size - 1] == '\n') /* echo 1 > ... style values */
		size--;
	if (size != 1 || (v[0] != '0' && v[0] != '1'))
		return -EINVAL;
	bool pin = v[0] == '1';
	struct daemon_shadow_file *s = entry_find(sh, i);
	if (!s && !pin)
		return 0;
	if (pin) { /* made, or checked for reuse (entry_reuse_locked) */
		int ifd = fs_inode_fd_get(sh->ctx->inodes, i);
		if (ifd < 0)
			return ifd;
		s = entry_make(sh, i, ifd);
		fs_inode_fd_put(sh->ctx->inodes, i);
		if (!s)
			return -EAGAIN; /* no memory, or an old entry not yet dropped */
	}
	daemon_shadow_map_lock(sh->map);
	bool changed = s->pinned != pin;
	s->pinned = pin;
	if (changed && pin) /* the operator asks again: no waiting out a back-off */
		s->retry_ms = 0;
	daemon_shadow_map_unlock(sh->map);
	if (changed) {
		write_pins(sh);
		pthread_mutex_lock(&sh->lock);
		pthread_cond_broadcast(&sh->wake); /* act now, not at the next tick */
		pthread_mutex_unlock(&sh->lock);
	}
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
static bool serves_now(struct daemon_shadow_file *s, int k)
{
	return LOAD(&s->copies[k].state) == DAEMON_COPY_SERVING &&
	       s->copies[k].version == daemon_shadow_file_version(s);
}

static unsigned count_serving(struct daemon_shadow_file *s)
{
	unsigned n = 0;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		n += serves_now(s, k);
	return n;
}

/* How many copies the file should have now: 0 when unwanted; the
 * forecast's replica count (at least 1), at most one per host. */
static unsigned replicas_of(struct fs_shadowing *sh, const struct daemon_shadow_file *s)
{
	if (!s->pinned && !s->hot)
		return 0;
	unsigned want = s->want_copies ? s->want_copies : 1;
	size_t nh = fs_hosts_count(sh->hosts);
	return want < nh ? want : (unsigned)nh;
}

/* One line: "pinned=P hot=H reactive=R replicas=N version=vN writers=W
 * origin_reads=R copies=C" then
 * " HOST:vN:STATE:reads=R" per copy. Versions count from 1 per mount. */
static void describe(struct fs_shadowing *sh, struct daemon_shadow_file *s, int32_t writers,
		     char *out, size_t len)
{
	uint64_t base = daemon_shadow_map_first_version(sh->map) - 1;
	size_t used = 0;
	int copies = 0;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		copies += LOAD(&s->copies[k].state) != DAEMON_COPY_NONE;
	used += (size_t)snprintf(out, len,
				 "pinned=%d hot=%d reactive=%d replicas=%u version=v%llu writers=%d "
				 "origin_reads=%llu copies=%d",
				 s->pinned, s->hot, s->hot && s->reactive, replicas_of(sh, s),
				 (unsigned long long)(daemon_shadow_file_version(s) - base),
				 writers, (unsigned long long)LOAD(&s->origin_reads), copies);
	if (s->copy_error && used < len) {
		uint64_t t = now_ms();
		const char *name = strerrorname_np(s->copy_error);
		used += (size_t)snprintf(out + used, len - used,
					 " copy_error=%s copy_failures=%u retry_in_s=%llu",
					 name ? name : "EIO", s->copy_failures,
					 (unsigned long long)(s->retry_ms > t
								  ? (s->retry_ms - t + 999) / 1000
								  : 0));
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
	describe(sh, s, LOAD(&i->writers), line, sizeof(line));
	daemon_shadow_map_unlock(sh->map);
	return fs_xattr_reply_string(line, buf, size);
}

/* ---- the control thread ---- */

struct writers_arg {
	int32_t n;
};

static void read_writers(struct fs_inode *i, void *arg)
{
	((struct writers_arg *)arg)->n = LOAD(&i->writers);
}

static int32_t writers_of(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	struct writers_arg a = {0};
	fs_inode_table_with(sh->ctx->inodes, (dev_t)s->dev, (ino_t)s->ino, read_writers, &a);
	return a.n;
}

/* A remote copy whose host is down or suspect: it cannot be deleted or
 * updated now, so its slot is kept (STALE) until the host is back. */
static bool unreachable(struct fs_shadowing *sh, const struct daemon_shadow_copy *cp)
{
	return cp->remote && !fs_remote_reads_usable(sh->remote_reads, cp->host);
}

/* Drops a copy slot: no reader uses it any more, its file is deleted. */
static void drop_copy(struct fs_shadowing *sh, struct daemon_shadow_file *s, int k)
{
	struct daemon_shadow_copy *cp = &s->copies[k];
	uint64_t v = cp->version;
	int host = cp->host;
	bool remote = cp->remote;
	daemon_shadow_copy_retire(s, k);
	struct daemon_store *st = fs_hosts_local_store(sh->hosts, (size_t)host);
	if (st && v)
		daemon_store_delete(st, s->id, v);
	int r =
	    remote ? fs_remote_copies_delete(sh->remote_copies, host, s->id, SYNC_WIRE_ALL_VERSIONS)
		   : 0;
	if (r < 0)
		sfs_warn("shadow: cannot delete the copy of %s on host %d: %s (left there)",
			 s->path ? s->path : "?", host, strerror(-r));
}

/* Whether the file is as when its copy started: still at version v, no
 * writer open, the origin's size/mtime/ctime as in st0. */
static bool unchanged_since(struct fs_shadowing *sh, struct daemon_shadow_file *s, uint64_t v,
			    const struct stat *st0)
{
	struct stat st1;
	struct daemon_origin_stamp a, b;
	if (daemon_shadow_file_version(s) != v || writers_of(sh, s) != 0 ||
	    fstat(s->origin_fd, &st1) < 0)
		return false;
	origin_stamp(st0, &a);
	origin_stamp(&st1, &b);
	return stamp_eq(&a, &b);
}

struct unchanged_arg {
	struct fs_shadowing *sh;
	struct daemon_shadow_file *s;
	uint64_t v;
	const struct stat *st0;
};

static bool unchanged_cb(void *arg)
{
	struct unchanged_arg *u = arg;
	return unchanged_since(u->sh, u->s, u->v, u->st0);
}

/* The copy in slot on remote host, from the origin at version v as stat'ed
 * in st0, brought up to date from base (fs_remote_copies_make). */
static int copy_remote(struct fs_shadowing *sh, struct daemon_shadow_file *s, int slot, int host,
		       uint64_t v, const struct stat *st0, uint64_t base)
{
	struct unchanged_arg u = {sh, s, v, st0};
	int fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY | O_NOATIME);
	if (fd == -EPERM)
		fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY);
	if (fd < 0)
		return fd;
	origin_stamp(st0, &s->copies[slot].origin);
	struct fs_remote_make m = {.host = host,
				   .version = v,
				   .base = base,
				   .fd = fd,
				   .size = (uint64_t)st0->st_size,
				   .unchanged = unchanged_cb,
				   .arg = &u,
				   .pace = sh->pace};
	int r = fs_remote_copies_make(sh->remote_copies, s, slot, &m);
	close(fd);
	return r;
}

/* A remote host's placement inputs: up only while its copies may be read
 * and its shadowd answers STATS. */
static void remote_host_inputs(struct fs_shadowing *sh, size_t h, struct daemon_control_host *out)
{
	out->up = fs_remote_reads_usable(sh->remote_reads, (int)h) &&
		  fs_remote_copies_host(sh->remote_copies, h, out) == 0;
}

/* The placement inputs of the first n hosts (at most 16); a remote host's
 * are asked of it (its shadowd's budget and load) unless skip marks it. */
static void host_inputs(struct fs_shadowing *sh, struct daemon_control_host *hv, size_t n,
			const bool *skip)
{
	for (size_t h = 0; h < n; h++) {
		struct daemon_store *store = fs_hosts_local_store(sh->hosts, h);
		const struct fs_host_spec *spec = fs_hosts_spec(sh->hosts, h);
		struct daemon_store_stats stats = {0};
		if (store)
			daemon_store_stats(store, &stats);
		hv[h] = (struct daemon_control_host){
		    .up = fs_hosts_up(sh->hosts, h),
		    .local = store != NULL,
		    .cost = spec->cost,
		    .budget_bytes = stats.budget_bytes,
		    .used_bytes = stats.used_bytes + stats.reserved_bytes,
		    /* a remote host's room is its shadowd's budget (below) */
		    .avail_bytes = store ? stats.avail_bytes : UINT64_MAX,
		};
		if (!store && hv[h].up && !skip[h])
			remote_host_inputs(sh, h, &hv[h]);
	}
}

/* Copies the origin at its current version to a host; publishes it when
 * nothing changed meanwhile. Returns 0 or -errno. */
static int copy_file(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool exclude[16] = {false};
	int slot = -1, reuse = -1, rc;
	if (nh > 16)
		nh = 16;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		int st = LOAD(&s->copies[k].state);
		if (st != DAEMON_COPY_NONE && st != DAEMON_COPY_SERVING && s->copies[k].remote) {
			if (unreachable(sh, &s->copies[k]))
				continue; /* kept: deleted or updated when its host is back */
			if (reuse < 0) {
				reuse = k; /* a stale remote copy: the basis of its update */
				continue;
			}
		}
		if (st == DAEMON_COPY_NONE) {
			if (slot < 0)
				slot = k;
		} else if (st == DAEMON_COPY_SERVING &&
			   s->copies[k].version == daemon_shadow_file_version(s)) {
			exclude[s->copies[k].host] = true;
		} else {
			drop_copy(sh, s, k); /* stale: replaced by the new copy */
			if (slot < 0)
				slot = k;
		}
	}
	if (slot < 0 && reuse < 0)
		return -ENOSPC;
	uint64_t v = daemon_shadow_file_version(s);
	struct stat st0;
	if (s->origin_fd < 0 || fstat(s->origin_fd, &st0) < 0 || st0.st_ino != (ino_t)s->ino ||
	    st0.st_nlink == 0)
		return -ESTALE; /* not (or no longer) the file of this entry */
	if (reuse >= 0) {
		int host = s->copies[reuse].host;
		uint64_t base = s->copies[reuse].version;
		daemon_shadow_copy_retire(s, reuse); /* waits for its last readers */
		return copy_remote(sh, s, reuse, host, v, &st0, base);
	}
	host_inputs(sh, hv, nh, exclude);
	int host = daemon_control_pick_host(hv, nh, (uint64_t)st0.st_size, exclude);
	if (host < 0)
		return -ENOSPC;
	if (!fs_hosts_local_store(sh->hosts, (size_t)host))
		return copy_remote(sh, s, slot, host, v, &st0, 0);
	struct daemon_store *store = fs_hosts_local_store(sh->hosts, (size_t)host);
	struct daemon_shadow_copy *cp = &s->copies[slot];
	cp->host = host;
	cp->version = v;
	STORE(&cp->state, DAEMON_COPY_SYNCING);
	/* O_NOATIME: making a copy is not an access; BACKING's atime stays as
	 * a plain passthrough would leave it (needs ownership or CAP_FOWNER). */
	int fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY | O_NOATIME);
	if (fd == -EPERM)
		fd = fs_reopen(sh->ctx, s->origin_fd, O_RDONLY);
	uint8_t sha[SYNC_SHA256_LEN];
	struct daemon_store_writer *w = NULL;
	int copy_fd = -1;
	uint64_t copy_size = 0;
	if (fd < 0) {
		rc = fd;
		goto fail;
	}
	/* Old versions (an earlier mount's, a stale one) go first. */
	daemon_store_delete(store, s->id, DAEMON_STORE_ALL_VERSIONS);
	/* One paced read of the origin: sha is the digest of what was read,
	 * and the commit checks the copy's file against it. A change of the
	 * origin stops it at the next chunk (e.g. the SETATTR of the ctime the
	 * kernel sends after the pin's setxattr with the writeback cache). */
	struct unchanged_arg u = {sh, s, v, &st0};
	struct fs_copy_pace_check chk = {sh->pace, unchanged_cb, &u};
	struct sync_pace pace = fs_copy_pace_hook_checked(&chk);
	rc =
	    daemon_store_create_from_fd(store, s->id, v, fd, (uint64_t)st0.st_size, &pace, sha, &w);
	if (rc == 0)
		rc = daemon_store_commit(w, sha); /* verifies the copy's SHA-256 */
	close(fd);
	if (rc < 0)
		goto fail;
	daemon_store_flush(store); /* its final name now: the copy's ctime stays */
	rc = daemon_store_open_copy(store, s->id, v, &copy_fd, &copy_size);
	if (rc < 0)
		goto fail_delete;
	/* Valid only if nothing changed while it was made. */
	if (copy_size != (uint64_t)st0.st_size || !unchanged_since(sh, s, v, &st0)) {
		rc = -EAGAIN;
		goto fail_delete;
	}
	struct stat cst;
	if (fstat(copy_fd, &cst) < 0) {
		rc = -errno;
		goto fail_delete;
	}
	origin_stamp(&cst, &cp->file);
	memcpy(cp->sha256, sha, sizeof(cp->sha256));
	cp->verified_ms = now_ms();
	origin_stamp(&st0, &cp->origin);
	cp->fd = copy_fd;
	fs_rollout_first_share(&sh->cfg.rollout, cp);
	daemon_shadow_copy_publish(s, slot);
	sfs_debug("shadow: %s copied to host %d (version %llu, %lld bytes)",
		  s->path ? s->path : "?", host, (unsigned long long)v, (long long)st0.st_size);
	return 0;
fail_delete:
	if (copy_fd >= 0)
		close(copy_fd);
	daemon_store_delete(store, s->id, v);
fail:
	cp->version = 0;
	STORE(&cp->state, DAEMON_COPY_NONE);
	return rc;
}

/* After a copy attempt: a failure (other than the file changing under it,
 * which the quiet period handles, or the mount stopping during a copy paced
 * by copy_rate) backs the file off, doubling, and is
 * logged as a warning once per streak; a success after failures says so. */
static void note_copy_result(struct fs_shadowing *sh, struct daemon_shadow_file *s, int r,
			     uint64_t t)
{
	if (r == -EAGAIN || r == -ECANCELED) /* changed meanwhile; the mount stopping */
		return;
	daemon_shadow_map_lock(sh->map);
	unsigned failures = s->copy_failures;
	if (r == 0) {
		s->copy_failures = 0;
		s->retry_ms = 0;
		s->copy_error = 0;
	} else {
		s->copy_failures = failures + 1;
		s->retry_ms = t + daemon_control_backoff_ms(failures + 1);
		s->copy_error = -r;
	}
	daemon_shadow_map_unlock(sh->map);
	const char *path = s->path ? s->path : "?";
	if (r == 0 && failures)
		sfs_info("shadow: %s copied after %u failed attempt%s", path, failures,
			 failures == 1 ? "" : "s");
	else if (r == -ENOSPC && failures == 0 && count_serving(s) > 0)
		sfs_info("shadow: no room for another copy of %s (%u serving, %u wanted): "
			 "retrying in 1 s, then less and less often",
			 path, count_serving(s), replicas_of(sh, s));
	else if (r < 0 && failures == 0)
		sfs_warn("shadow: cannot copy %s: %s (retrying in 1 s, then less and less "
			 "often, up to every 5 min)",
			 path, strerror(-r));
	else if (r < 0)
		sfs_debug("shadow: cannot copy %s: %s (attempt %u)", path, strerror(-r),
			  failures + 1);
}

/* Each tick, for serving copies: outdated versions are shown STALE, and an
 * origin or copy file changed on disk stops its copy serving, as does a
 * remote host that is down (re-synced when it is back: it usually still
 * holds the version, and nothing is shipped). A host only suspect after a
 * failed read keeps its copies: the router skips them until it is healthy. */
static void check_copies(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	struct stat st;
	struct daemon_origin_stamp now = {0};
	bool have = s->origin_fd >= 0 && fstat(s->origin_fd, &st) == 0;
	if (have)
		origin_stamp(&st, &now);
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++) {
		struct daemon_shadow_copy *cp = &s->copies[k];
		if (LOAD(&cp->state) != DAEMON_COPY_SERVING)
			continue;
		if (have && !stamp_eq(&cp->origin, &now) &&
		    cp->version == daemon_shadow_file_version(s))
			fs_remote_dirty_unknown(s); /* changed behind the mount's back */
		if (cp->version != daemon_shadow_file_version(s) || !have ||
		    !copy_intact(cp, &now) ||
		    (cp->remote && !fs_hosts_up(sh->hosts, (size_t)cp->host)))
			daemon_shadow_copy_mark_stale(s, k);
	}
}

/* At most one serving copy per tick whose last SHA-256 check is older than
 * shadow_verify is re-hashed from the store (daemon_store_verify; a remote
 * one by its shadowd, fs_remote_copies_verify): damage
 * the stamps cannot see (below the filesystem) stops it serving too. The
 * cursor walks the map round-robin. */
static void verify_one(struct fs_shadowing *sh, uint64_t t)
{
	uint64_t every = (uint64_t)(sh->cfg.verify_s * 1000);
	size_t n = daemon_shadow_map_size(sh->map);
	if (!every || !n)
		return;
	for (size_t tries = 0; tries < n; tries++) {
		daemon_shadow_map_lock(sh->map);
		struct daemon_shadow_file *s =
		    daemon_shadow_map_at(sh->map, sh->verify_cursor++ % n);
		daemon_shadow_map_unlock(sh->map);
		for (int k = 0; s && k < DAEMON_SHADOW_MAX_COPIES; k++) {
			struct daemon_shadow_copy *cp = &s->copies[k];
			/* verified_ms may be later than t: a copy made in this tick */
			if (LOAD(&cp->state) != DAEMON_COPY_SERVING || t < cp->verified_ms ||
			    t - cp->verified_ms < every)
				continue;
			struct daemon_store *st = fs_hosts_local_store(sh->hosts, (size_t)cp->host);
			/* A remote copy is re-hashed by its shadowd (VERIFY). */
			int r = cp->remote
				    ? fs_remote_copies_verify(sh->remote_copies, cp->host, s->id,
							      cp->version, cp->sha256,
							      (uint64_t)cp->origin.size)
				: st ? daemon_store_verify(st, s->id, cp->version, cp->sha256)
				     : -ENOENT;
			cp->verified_ms = t;
			if (r < 0 && r != -ENOENT && r != -EBADMSG && cp->remote)
				return; /* not reachable now: reads find out, not this */
			if (r < 0) {
				sfs_warn(
				    "shadow: copy of %s on host %d failed its SHA-256 check (%s): "
				    "not served, re-copied",
				    s->path ? s->path : "?", cp->host,
				    r == -EBADMSG ? "SHA-256 mismatch" : strerror(-r));
				daemon_shadow_copy_mark_stale(s, k);
			}
			return;
		}
	}
}

/* Drops the serving copy on the most expensive host (then the busiest):
 * the file has more copies than its replica count. */
static void trim_copy(struct fs_shadowing *sh, struct daemon_shadow_file *s)
{
	size_t nh = fs_hosts_count(sh->hosts);
	struct daemon_control_host hv[16];
	bool holds[16] = {false}, none[16] = {false};
	nh = nh > 16 ? 16 : nh;
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (serves_now(s, k) && (size_t)s->copies[k].host < nh)
			holds[s->copies[k].host] = true;
	host_inputs(sh, hv, nh, none);
	int host = daemon_control_pick_surplus(hv, nh, holds);
	for (int k = 0; host >= 0 && k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (serves_now(s, k) && s->copies[k].host == host) {
			char label[600];
			fs_hosts_label(sh->hosts, (size_t)host, label, sizeof(label));
			sfs_info("shadow: %s: copy on %s dropped (more copies than its %u wanted)",
				 s->path ? s->path : "?", label, replicas_of(sh, s));
			drop_copy(sh, s, k);
			return;
		}
}

static bool any_copy(struct daemon_shadow_file *s)
{
	for (int k = 0; k < DAEMON_SHADOW_MAX_COPIES; k++)
		if (LOAD(&s->copies[k].state) != DAEMON_COPY_NONE)
			return true;
	return false;
}

static void fill_status(FILE *out, void *arg)
{
	struct fs_shadowing *sh = arg;
	char line[4096];
	for (size_t k = 0;; k++) {
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		if (!s)
			break;
		if (!s->pinned && !s->hot && !any_copy(s))
			continue;
		describe(sh, s, writers_of(sh, s), line, sizeof(line));
		fprintf(out, "path=\"%s\" %s\n", s->path ? s->path : "", line);
	}
}

static void tick(struct fs_shadowing *sh)
{
	uint64_t t = now_ms();
	if (sh->cfg.forecast &&
	    (!sh->forecast_ms || t - sh->forecast_ms >= (uint64_t)sh->cfg.bucket_s * 1000u)) {
		sh->forecast_ms = t;
		refresh_forecast(sh);
	}
	for (size_t k = 0;; k++) {
		daemon_shadow_map_lock(sh->map);
		struct daemon_shadow_file *s = daemon_shadow_map_at(sh->map, k);
		struct daemon_control_file in = {0};
		struct daemon_control_memory mem = {0};
		if (s) {
			in.pinned = s->pinned;
			in.hot = s->hot;
			in.gone = s->gone;
			in.retry_ms = s->retry_ms;
			in.want_copies = replicas_of(sh, s);
			mem = s->control;
		}
		daemon_shadow_map_unlock(sh->map);
		if (!s)
			break;
		check_copies(sh, s);
		in.never = fs_tuning_never_fd(sh->ctx->tuning, s->origin_fd);
		in.writers = writers_of(sh, s) != 0;
		in.serving_copies = count_serving(s);
		in.has_copies = any_copy(s);
		in.version_ms = LOAD(&s->version_ms);
		enum daemon_control_action a =
		    daemon_control_decide(&sh->params, &in, t, &mem);
		daemon_shadow_map_lock(sh->map);
		s->control = mem;
		daemon_shadow_map_unlock(sh->map);
		if (a == DAEMON_CONTROL_COPY) {
			note_copy_result(sh, s, copy_file(sh, s), t);
		} else if (a == DAEMON_CONTROL_TRIM) {
			trim_copy(sh, s);
		} else if (a == DAEMON_CONTROL_DEMOTE) {
			for (int c = 0; c < DAEMON_SHADOW_MAX_COPIES; c++)
				if (LOAD(&s->copies[c].state) != DAEMON_COPY_NONE) {
					if (unreachable(sh, &s->copies[c]))
						daemon_shadow_copy_mark_stale(s,
									      c); /* next ticks */
					else
						drop_copy(sh, s, c);
				}
			sfs_debug("shadow: %s demoted", s->path ? s->path : "?");
		}
		if (in.gone && !any_copy(s)) {
			daemon_shadow_map_lock(sh->map);
			if (s->origin_fd >= 0)
				close(s->origin_fd); /* lets BACKING free the space */
			s->origin_fd = -1;
			daemon_shadow_map_unlock(sh->map);
		}
		fs_rollout_tick(&sh->cfg.rollout, sh->map, s, sh->hosts, t);
	}
	verify_one(sh, t);
	pthread_mutex_lock(&sh->lock);
	bool pins = sh->pins_dirty;
	sh->pins_dirty = false;
	pthread_mutex_unlock(&sh->lock);
	if (pins)
		write_pins(sh);
	daemon_shadow_map_lock(sh->map);
	int r = fs_status_file_write(sh->status_path, fill_status, sh);
	daemon_shadow_map_unlock(sh->map);
	if (r < 0)
		sfs_warn("cannot write %s: %s", sh->status_path, strerror(-r));
}

static void *control_thread(void *arg)
{
	struct fs_shadowing *sh = arg;
	pthread_mutex_lock(&sh->lock);
	while (!sh->stopping) {
		pthread_mutex_unlock(&sh->lock);
		tick(sh);
		pthread_mutex_lock(&sh->lock);
		if (sh->stopping)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t ns = (uint64_t)(sh->cfg.tick_s * 1e9);
		ts.tv_sec += (time_t)(ns / 1000000000u);
		ts.tv_nsec += (long)(ns % 1000000000u);
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&sh->wake, &sh->lock, &ts);
	}
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/* ---- lifetime ---- */

void fs_shadowing_wake(struct fs_shadowing *sh)
{
	pthread_mutex_lock(&sh->lock);
	pthread_cond_broadcast(&sh->wake);
	pthread_mutex_unlock(&sh->lock);
}

bool fs_shadowing_wanted(struct fs_hosts *hosts)
{
	return fs_hosts_count(hosts) > 0;
}

struct fs_remote_reads *fs_shadowing_remote_reads(struct fs_shadowing *sh)
{
	return sh->remote_reads;
}

int fs_shadowing_new(struct fs_ctx *c, struct fs_hosts *hosts,
		     const struct fs_shadowing_config *cfg, struct fs_shadowing **ret)
{
	struct fs_shadowing *sh = calloc(1, sizeof(*sh));
	struct timespec ts;
	if (!sh)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Versions unique to this mount: microseconds since the epoch at start,
	 * so a copy an earlier mount left never matches a version of ours. */
	uint64_t first = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	int r = daemon_shadow_map_new(first, &sh->map);
	if (r < 0) {
		free(sh);
		return r;
	}
	sh->ctx = c;
	sh->hosts = hosts;
	sh->cfg = *cfg;
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
	pthread_cond_init(&sh->wake, NULL);
	*ret = sh;
	return 0;
}

int fs_shadowing_start(struct fs_shadowing *sh, const char *state_dir)
{
	snprintf(sh->state_dir, sizeof(sh->state_dir), "%s", state_dir);
	sh->cfg.state_dir = sh->state_dir;
	snprintf(sh->pins_path, sizeof(sh->pins_path), "%s/pins", state_dir);
	snprintf(sh->status_path, sizeof(sh->status_path), "%s/shadows.status", state_dir);
	load_pins(sh);
	int r = pthread_create(&sh->thread, NULL, control_thread, sh);
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
	pred_store_close(sh->store);
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
	pthread_cond_destroy(&sh->wake);
	pthread_mutex_destroy(&sh->lock);
	free(sh);
}
