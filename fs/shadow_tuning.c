/* Tuning attributes of the mount: tables, STATE/tuning, resolution for the
 * control loop, the attribute calls, the ops layer's bookkeeping (see
 * shadow_tuning.h; user.shadow.why is in shadow_tuning_why.c). */
#include "fs/shadow_tuning.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common/line_escape.h"
#include "common/log.h"
#include "fs/file_id.h"
#include "daemon/shadow_map.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/inode_table.h"
#include "fs/pin_log.h"
#include "fs/rel_path.h"
#include "fs/shadowing.h"
#include "fs/shadow_tuning_impl.h"
#include "fs/state_line.h"
#include "fs/status_file.h"
#include "fs/xattr_shadow.h"

#define XATTR_PREFIX "user.shadow."

/* ---- tables (lock held) ---- */

static struct tune_entry *find_dir(struct fs_tuning *t, const char *path)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->e[k].is_dir && !strcmp(t->e[k].path, path))
			return &t->e[k];
	return NULL;
}

struct tune_entry *fs_tuning_find_file(struct fs_tuning *t, const uint8_t id[FS_FILE_ID_LEN])
{
	for (size_t k = 0; k < t->n; k++)
		if (!t->e[k].is_dir && !memcmp(t->e[k].id, id, FS_FILE_ID_LEN))
			return &t->e[k];
	return NULL;
}

void fs_tuning_recount(struct fs_tuning *t)
{
	size_t nd = 0, nf = 0, nn = 0, nh = 0;
	for (size_t k = 0; k < t->n; k++) {
		nd += t->e[k].is_dir;
		nf += !t->e[k].is_dir;
		nn += t->e[k].node.set[FS_TUNE_NEVER] && t->e[k].node.value[FS_TUNE_NEVER] == 1;
		nh += t->e[k].node.set[FS_TUNE_HOSTS];
	}
	__atomic_store_n(&t->ndirs, nd, __ATOMIC_RELAXED);
	__atomic_store_n(&t->nfiles, nf, __ATOMIC_RELAXED);
	__atomic_store_n(&t->nnever, nn, __ATOMIC_RELAXED);
	__atomic_store_n(&t->nhosts_set, nh, __ATOMIC_RELAXED);
}

static struct tune_entry *add_entry(struct fs_tuning *t, bool is_dir, const uint8_t *id,
				    const char *path)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct tune_entry *e = realloc(t->e, cap * sizeof(*e));
		if (!e)
			return NULL;
		t->e = e;
		t->cap = cap;
	}
	struct tune_entry *x = &t->e[t->n];
	*x = (struct tune_entry){.is_dir = is_dir, .path = strdup(path ? path : "")};
	if (!x->path)
		return NULL;
	if (id)
		memcpy(x->id, id, FS_FILE_ID_LEN);
	t->n++;
	return x;
}

void fs_tuning_drop_entry(struct fs_tuning *t, struct tune_entry *x)
{
	free(x->path);
	free(x->handle);
	fs_tune_node_free(&x->node);
	*x = t->e[--t->n];
}

/* ---- STATE/tuning ---- */

/* A file's last path, "/"-led, '?' for each newline, and the line's end. */
static void write_file_path(FILE *out, const char *path)
{
	fputc('/', out);
	for (const char *c = path; *c; c++)
		fputc(*c == '\n' ? '?' : *c, out);
	fputc('\n', out);
}

static void fill_state(FILE *out, void *arg)
{
	struct fs_tuning *t = arg;
	/* First: a reader must know of a rename under way before it reads
	 * the paths that rename moves (fs_tuning_load). */
	for (const struct tune_intent *i = t->intents; i; i = i->next)
		fputs(i->rec, out);
	for (size_t k = 0; k < t->n; k++) {
		const struct tune_entry *x = &t->e[k];
		char ids[37];
		/* A directory's path is its key: one with a newline is written
		 * escaped on a "D" line (sfs_line_escape; older builds skip the
		 * kind). A file's is only where it was last seen (its id is the
		 * key): written with '?' for each newline. Before, such files and
		 * directories were not written at all and a remount lost their
		 * settings, even once renamed to a plain name. */
		char esc[2 * PATH_MAX + 1];
		bool escaped = x->is_dir && strchr(x->path, '\n');
		if (escaped && sfs_line_escape(x->path, esc, sizeof(esc)) < 0)
			continue;
		uuid_unparse_lower(x->id, ids);
		if (!x->is_dir && x->handle) { /* whose settings they are (older builds skip it) */
			fprintf(out, "h %s %d ", ids, x->handle->handle_type);
			for (unsigned b = 0; b < x->handle->handle_bytes; b++)
				fprintf(out, "%02x", x->handle->f_handle[b]);
			fputc(' ', out);
			write_file_path(out, x->path);
		}
		for (int key = 0; key < FS_TUNE_NKEYS; key++) {
			if (!x->node.set[key])
				continue;
			if (x->is_dir) {
				fprintf(out, "%c %s %s /%s\n", escaped ? 'D' : 'd',
					fs_tune_key_name(key), x->node.text[key],
					escaped ? esc : x->path);
				continue;
			}
			fprintf(out, "f %s %s %s ", ids, fs_tune_key_name(key), x->node.text[key]);
			write_file_path(out, x->path);
		}
	}
}

int fs_tuning_save(struct fs_tuning *t)
{
	if (!t->path[0])
		return 0;
	/* Not read at start (another user's file, mode 0600, an I/O error):
	 * replacing it would lose every setting it holds for good, as a
	 * directory in its place could not be replaced. Before, the mount
	 * said so at start and the first change replaced it. */
	if (t->unreadable) {
		sfs_warn("cannot write %s: it could not be read at start (its settings would be "
			 "lost): the change is refused",
			 t->path);
		return -EIO;
	}
	int r = fs_state_file_write(t->path, fill_state, t);
	if (r < 0)
		sfs_warn("cannot write %s: %s", t->path, strerror(-r));
	return r;
}

/* What a setting call returns when STATE/tuning could not be rewritten
 * (r < 0, logged by save with its cause): a full or read-only state
 * filesystem as such, anything else (a directory in the file's place, an
 * I/O error) as EIO. */
static int save_errno(int r)
{
	return r == -ENOSPC || r == -EDQUOT || r == -EROFS ? r : -EIO;
}

/* One key of one node as it was before a change (to undo it): taken out
 * of the node (its text owned by w), then put back or dropped. */
struct key_was {
	bool set;
	double value;
	char *text;
};

static void key_was_take(struct tune_entry *x, enum fs_tune_key k, struct key_was *w)
{
	w->set = x->node.set[k];
	w->value = x->node.value[k];
	w->text = x->node.text[k];
	x->node.text[k] = NULL;
}

static void key_was_restore(struct tune_entry *x, enum fs_tune_key k, struct key_was *w)
{
	free(x->node.text[k]);
	x->node.text[k] = w->text;
	x->node.set[k] = w->set;
	x->node.value[k] = w->value;
	w->text = NULL;
}

/* A rename whose intent STATE/tuning held, made in BACKING (a kill -9
 * came between it and the rewrite of STATE/tuning): the paths it moves. */
struct made_rename {
	struct made_rename *next; /* the next intent line of the file */
	bool exchange;
	char *from, *to;
};

static void intents_free(struct made_rename *m)
{
	while (m) {
		struct made_rename *next = m->next;
		free(m->from);
		free(m->to);
		free(m);
		m = next;
	}
}

/* An intent line (line in a buffer of cap bytes): onto *made when BACKING
 * (root) shows its rename made. False when it is no intent line. */
static bool intent_take(struct made_rename **made, char *line, size_t cap, int root)
{
	struct fs_pin_log_record rec;
	if (fs_pin_log_parse(line, cap, &rec) != FS_PIN_LOG_RENAME)
		return false;
	if (!fs_pin_rename_made(root, &rec.rename))
		return true; /* not made (the mount stopped before it): nothing moved */
	struct made_rename *m = calloc(1, sizeof(*m));
	if (m && (m->from = strdup(rec.rename.from)) && (m->to = strdup(rec.rename.to))) {
		m->exchange = rec.rename.exchange;
		struct made_rename **tail = made; /* in the order written */
		while (*tail)
			tail = &(*tail)->next;
		*tail = m;
		sfs_info("tuning: the rename of %s to %s was cut short: its settings follow it",
			 m->from, m->to);
		return true;
	}
	intents_free(m);
	sfs_warn("tuning: out of memory replaying the rename of %s to %s", rec.rename.from,
		 rec.rename.to);
	return true;
}

/* A directory's path through the renames made (*moved: the new path, to
 * free; NULL when none moved it). False: it was the directory a rename
 * replaced (its settings go, as fs_tuning_dir_moved drops them). */
static bool intents_apply(const struct made_rename *m, const char *path, char **moved)
{
	*moved = NULL;
	for (; m; m = m->next) {
		const char *cur = *moved ? *moved : path;
		char *q = fs_rel_moved(cur, m->from, m->to);
		if (!q && m->exchange)
			q = fs_rel_moved(cur, m->to, m->from);
		else if (!q && fs_rel_below(cur, m->to)) {
			free(*moved);
			*moved = NULL;
			return false;
		}
		if (q) {
			free(*moved);
			*moved = q;
		}
	}
	return true;
}

int fs_tuning_load(struct fs_tuning *t, const char *state_dir)
{
	snprintf(t->path, sizeof(t->path), "%s/tuning", state_dir);
	FILE *in;
	int r = fs_state_file_open(t->path, &in);
	if (!in) {
		if (r == -ENOENT)
			return 0;
		t->unreadable = true;
		return r;
	}
	char *line = NULL;
	size_t cap = 0;
	int root = fs_inode_table_root_fd(t->ctx->inodes);
	size_t bad = 0;
	struct made_rename *made = NULL; /* the intents BACKING shows made */
	bool had_intents = false;
	pthread_mutex_lock(&t->lock);
	/* Longer than any path (a directory above renamed through the
	 * mount), or holding a NUL: skipped alone, not read as two lines of
	 * which the second would be the tail of a path (fs/state_line.h).
	 * A "D" line's path is escaped: up to twice PATH_MAX (each newline
	 * two bytes, as fill_state writes it). Before, the room was one
	 * PATH_MAX, and a directory whose path held many newlines lost its
	 * settings at the next mount ("bad line"). */
	size_t max = 2 * PATH_MAX + FS_TUNE_TEXT_MAX + 126;
	while ((r = fs_state_line_read(in, &line, &cap, max, true)) != 0) {
		if (r < 0 && r != -EINVAL) {
			r = -(errno ? errno : EIO);
			break;
		}
		if (r < 0) {
			bad++;
			continue;
		}
		struct fs_tune_line l;
		if (!line[0])
			continue;
		if (line[0] == '~') { /* a rename's intent (fs_tuning_rename_begin) */
			had_intents = true;
			if (!intent_take(&made, line, cap, root))
				bad++;
			continue;
		}
		if (fs_tune_line_parse(line, &l) < 0) {
			bad++;
			continue;
		}
		struct tune_entry *x;
		if (l.is_dir) {
			struct stat st;
			char *moved = NULL;
			if (!intents_apply(made, l.path, &moved)) {
				sfs_warn("tuning: directory %s was replaced by a rename cut short: "
					 "its %s dropped",
					 l.path, fs_tune_key_name(l.key));
				continue;
			}
			const char *path = moved ? moved : l.path;
			if (path[0] && (fstatat(root, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
					!S_ISDIR(st.st_mode))) {
				sfs_warn("tuning: directory %s is gone: its %s dropped", path,
					 fs_tune_key_name(l.key));
				free(moved);
				continue;
			}
			x = find_dir(t, path);
			if (!x)
				x = add_entry(t, true, NULL, path);
			free(moved);
		} else {
			uuid_t id;
			if (uuid_parse(l.id, id)) {
				bad++;
				continue;
			}
			x = fs_tuning_find_file(t, id);
			if (!x)
				x = add_entry(t, false, id, l.path);
		}
		if (!x) { /* no memory: the rest is not applied (and kept on disk) */
			r = -ENOMEM;
			break;
		}
		if (l.is_handle) {
			struct file_handle *h = malloc(sizeof(*h) + l.handle_len);
			if (!h) {
				r = -ENOMEM;
				break;
			}
			h->handle_type = l.handle_type;
			h->handle_bytes = l.handle_len;
			memcpy(h->f_handle, l.handle, l.handle_len);
			free(x->handle);
			x->handle = h;
		} else if (fs_tune_node_set(&x->node, l.key, l.value, l.text) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	bool changed = had_intents; /* the intents done with: rewritten without them */
	for (size_t k = 0; r >= 0 && k < t->n;) {
		struct tune_entry *x = &t->e[k];
		enum tune_check c = TUNE_KEPT;
		if (!x->is_dir && fs_tune_node_empty(&x->node)) {
			fs_tuning_drop_entry(t, x); /* a handle line alone (its settings' lines lost) */
			c = TUNE_GONE;
		} else if (!x->is_dir) {
			c = fs_tuning_check_locked(t, x); /* drops it when its file is gone */
		}
		changed |= c != TUNE_KEPT;
		k += c != TUNE_GONE;
	}
	fs_tuning_recount(t);
	if (r < 0)
		t->unreadable = true; /* only part of it applied */
	else if (changed)
		fs_tuning_save(t);
	pthread_mutex_unlock(&t->lock);
	intents_free(made);
	/* A read error (a directory in its place, an I/O error) is said by
	 * the caller, not taken for the end of the settings. */
	free(line);
	fclose(in);
	if (bad)
		sfs_warn("tuning: %zu bad line(s) in %s ignored", bad, t->path);
	return r < 0 ? r : 0;
}

/* ---- lifetime ---- */

_Static_assert(FS_TUNE_COPIES_MAX == DAEMON_SHADOW_MAX_COPIES, "user.shadow.copies range");

int fs_tuning_new(struct fs_ctx *c, const struct fs_tuning_config *cfg, struct fs_tuning **ret)
{
	struct fs_tuning *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = c;
	t->cfg = *cfg;
	t->defaults[FS_TUNE_THRESHOLD] = cfg->threshold;
	t->defaults[FS_TUNE_CAPACITY] = cfg->capacity;
	t->defaults[FS_TUNE_WINDOW] = cfg->window;
	t->defaults[FS_TUNE_NEVER] = 0;
	t->defaults[FS_TUNE_COPIES] = cfg->copies;
	t->defaults[FS_TUNE_HOSTS] = 0; /* "*": every host */
	pthread_mutex_init(&t->lock, NULL);
	size_t nh = fs_hosts_count(cfg->hosts);
	t->host_names = nh ? calloc(nh, sizeof(*t->host_names)) : NULL;
	for (size_t i = 0; i < nh && t->host_names; i++, t->nhost_names++) {
		char label[600];
		fs_hosts_label(cfg->hosts, i, label, sizeof(label));
		if (!(t->host_names[i] = strdup(label)))
			break;
	}
	if (t->nhost_names != nh) {
		fs_tuning_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

void fs_tuning_free(struct fs_tuning *t)
{
	if (!t)
		return;
	for (size_t k = 0; k < t->n; k++) {
		free(t->e[k].path);
		free(t->e[k].handle);
		fs_tune_node_free(&t->e[k].node);
	}
	free(t->e);
	free(t->fc);
	free(t->extra);
	for (size_t i = 0; i < t->nhost_names; i++)
		free(t->host_names[i]);
	free(t->host_names);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* ---- resolution ---- */


/* The effective settings of the file whose record is f (NULL: none) at
 * path (relative to BACKING); dir_of[k] gets the directory a value comes
 * from (NULL when not a directory's). Lock held. */
void fs_tuning_resolve_locked(struct fs_tuning *t, const struct tune_entry *f, const char *path,
			      struct fs_tune_effective *eff, const char *dir_of[FS_TUNE_NKEYS])
{
	size_t depth = 1;
	for (const char *p = path; *p; p++)
		depth += *p == '/';
	const struct fs_tune_node **dirs = calloc(depth, sizeof(*dirs));
	const char **names = calloc(depth, sizeof(*names));
	char *buf = strdup(path);
	size_t nd = 0;
	if (dirs && names && buf && t->ndirs) {
		/* Ancestors of path, innermost first, the root ("") last. */
		char *slash;
		while ((slash = strrchr(buf, '/')) != NULL) {
			*slash = '\0';
			const struct tune_entry *d = find_dir(t, buf);
			names[nd] = d ? d->path : NULL;
			dirs[nd++] = d ? &d->node : NULL;
		}
		const struct tune_entry *r = find_dir(t, "");
		names[nd] = r ? r->path : NULL;
		dirs[nd++] = r ? &r->node : NULL;
	}
	fs_tune_resolve(t->defaults, f ? &f->node : NULL, dirs, nd, nd ? (int)nd - 1 : -1, eff);
	for (int k = 0; dir_of && k < FS_TUNE_NKEYS; k++)
		dir_of[k] = eff->dir_index[k] >= 0 ? names[eff->dir_index[k]] : NULL;
	free(buf);
	free(names);
	free(dirs);
}

void fs_tuning_hot_req(struct fs_tuning *t, struct pred_hot_req *req)
{
	req->tune = fs_tuning_hot_tune;
	req->tune_arg = t;
	req->all = true;
	req->extra = NULL;
	req->nextra = 0;
	pthread_mutex_lock(&t->lock);
	size_t n = 0, cap = LOAD(&t->nfiles);
	cap = cap < PRED_HOT_MAX_EXTRA ? cap : PRED_HOT_MAX_EXTRA;
	free(t->extra);
	t->extra = cap ? malloc(cap * sizeof(*t->extra)) : NULL;
	for (size_t k = 0; t->extra && k < t->n && n < cap; k++)
		if (!t->e[k].is_dir)
			memcpy(t->extra[n++], t->e[k].id, PRED_ID_LEN);
	pthread_mutex_unlock(&t->lock);
	req->extra = (const uint8_t(*)[PRED_ID_LEN])t->extra;
	req->nextra = t->extra ? n : 0;
}

void fs_tuning_hot_tune(void *arg, const uint8_t id[PRED_ID_LEN], const char *path,
			struct pred_hot_tuning *out)
{
	struct fs_tuning *t = arg;
	struct fs_tune_effective eff;
	if (!LOAD(&t->ndirs) && !LOAD(&t->nfiles))
		return;
	pthread_mutex_lock(&t->lock);
	/* by the id alone: the recorder keys a file's series by it (a copy
	 * bearing it shares the series too) */
	fs_tuning_resolve_locked(t, fs_tuning_find_file(t, id), path, &eff, NULL);
	pthread_mutex_unlock(&t->lock);
	out->threshold = eff.value[FS_TUNE_THRESHOLD];
	out->capacity = eff.value[FS_TUNE_CAPACITY];
	out->window = (unsigned)eff.value[FS_TUNE_WINDOW];
	out->never = eff.value[FS_TUNE_NEVER] == 1;
	out->copies = (unsigned)eff.value[FS_TUNE_COPIES];
}

bool fs_tuning_control_needs_fd(struct fs_tuning *t)
{
	return t && (LOAD(&t->nnever) || LOAD(&t->nhosts_set));
}

void fs_tuning_control_fd(struct fs_tuning *t, int fd, const char *known_path,
			  struct fs_tuning_control *ret)
{
	char rel[PATH_MAX];
	struct tune_file f;
	struct fs_tune_effective eff;
	*ret = (struct fs_tuning_control){0};
	if (!fs_tuning_control_needs_fd(t))
		return;
	if (fs_rel_path(t->ctx, fd, rel) < 0) {
		if (!known_path || snprintf(rel, sizeof(rel), "%s", known_path) >= (int)sizeof(rel))
			return;
	}
	bool have_id = fs_tuning_file_of(t->ctx, fd, false, &f) == 0;
	pthread_mutex_lock(&t->lock);
	fs_tuning_resolve_locked(t, fs_tuning_file_entry_locked(t, have_id ? &f : NULL, NULL), rel,
				 &eff, NULL);
	if (have_id)
		free(f.handle);
	ret->never = eff.value[FS_TUNE_NEVER] == 1;
	const char *hosts = eff.text[FS_TUNE_HOSTS];
	if (hosts && strcmp(hosts, "*")) {
		ret->hosts_limited = true;
		ret->allowed_hosts = fs_tune_hosts_mask(hosts, (const char *const *)t->host_names,
							t->nhost_names, NULL);
	}
	pthread_mutex_unlock(&t->lock);
}

/* ---- the attributes ---- */

/* The node of inode i: for a directory its path, for a regular file its id
 * and handle (f; the id made when create). -ENODATA: a file without an id
 * (nothing set). */
int fs_tuning_node_key(struct fs_ctx *c, struct fs_inode *i, bool create, char *rel,
		       struct tune_file *f)
{
	f->handle = NULL;
	if (!S_ISDIR(i->type) && !S_ISREG(i->type))
		return -EPERM;
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0)
		return fd;
	int r = fs_rel_path_of(c, i, fd, rel); /* a disconnected fd too */
	if (r == 0 && S_ISREG(i->type)) {
		r = fs_tuning_file_of(c, fd, create, f);
		if (fs_file_id_unsupported(r)) {
			/* a setting refused: say why (a get only finds none) */
			if (create)
				sfs_warn("tuning %s: the file cannot be given the stable id "
					 "its settings are kept by (%s in BACKING: %s): set it "
					 "on its directory instead",
					 rel, FS_FILE_ID_XATTR, strerror(-r));
			r = -ENOTSUP; /* no stable id: file settings need user xattrs in BACKING */
		}
		else if (r == -EINVAL) /* the errno alone says nothing of why */
			sfs_warn("tuning %s: its %s in BACKING is not a uuid: its settings "
				 "need that attribute removed (setfattr -x %s on the backing "
				 "file) or corrected",
				 rel, FS_FILE_ID_XATTR, FS_FILE_ID_XATTR);
	}
	fs_inode_fd_put(c->inodes, i);
	return r;
}

/* i's record (a copy of another file: none, *copy true; copy may be
 * NULL). A file's record takes the path it is seen at (renamed since:
 * shown where it is, and where a restore in place is looked for; written
 * with the next change). Lock held. */
static struct tune_entry *entry_of(struct fs_tuning *t, struct fs_inode *i, const char *rel,
				   const struct tune_file *f, bool *copy)
{
	if (copy)
		*copy = false;
	if (S_ISDIR(i->type))
		return find_dir(t, rel);
	struct tune_entry *x = fs_tuning_file_entry_locked(t, f, copy);
	if (x)
		fs_tuning_take_path(t, x, rel, f->dev, f->ino);
	return x;
}

ssize_t fs_tuning_get(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k, char *buf,
		      size_t size)
{
	struct fs_tuning *t = c->tuning;
	char rel[PATH_MAX], text[FS_TUNE_TEXT_MAX] = "";
	struct tune_file f;
	int r = fs_tuning_node_key(c, i, false, rel, &f);
	if (r < 0)
		return r == -EPERM || r == -ENOTSUP ? -ENODATA : r;
	pthread_mutex_lock(&t->lock);
	struct tune_entry *x = entry_of(t, i, rel, &f, NULL);
	bool set = x && x->node.set[k];
	if (set)
		snprintf(text, sizeof(text), "%s", x->node.text[k]);
	pthread_mutex_unlock(&t->lock);
	free(f.handle);
	return set ? fs_xattr_reply_string(text, buf, size) : -ENODATA;
}

/* After a set or remove (r: its result, STATE/tuning already rewritten or
 * the change undone) with the lock held: on success the counts are brought
 * up to date; the lock is released; a never or hosts change wakes the
 * control loop (copies of a never file go now; those on hosts no longer
 * allowed move; a pass that looks at quiet entries too,
 * fs/shadow_quiet.c). The other values act through the next forecast.
 * Returns r. */
static int unlock_changed(struct fs_ctx *c, enum fs_tune_key k, int r)
{
	struct fs_tuning *t = c->tuning;
	if (r == 0)
		fs_tuning_recount(t);
	pthread_mutex_unlock(&t->lock);
	if (r == 0 && (k == FS_TUNE_NEVER || k == FS_TUNE_HOSTS) && c->shadowing)
		fs_shadowing_wake(c->shadowing);
	return r;
}

/* Gives regular file i (at rel) a new id, into id: it bore another
 * file's. -errno. */
static int renew_id(struct fs_ctx *c, struct fs_inode *i, const char *rel,
		    uint8_t id[FS_FILE_ID_LEN])
{
	char proc[32];
	int fd = fs_inode_fd_get(c->inodes, i);
	if (fd < 0)
		return fd;
	fs_proc_path(proc, fd);
	int r = fs_file_id_renew(proc, id);
	fs_inode_fd_put(c->inodes, i);
	if (r < 0)
		sfs_warn("tuning %s: its %s is another file's (a copy), and a new one cannot "
			 "be set: %s",
			 rel, FS_FILE_ID_XATTR, strerror(-r));
	else
		sfs_info("tuning %s: its %s was another file's (a copy): it has a new one, "
			 "for settings of its own",
			 rel, FS_FILE_ID_XATTR);
	return r;
}

/* Refused values are logged with what the value must be (setfattr says
 * only "Invalid argument"); any user may set them, so within a budget. */
static struct sfs_log_limit refused_log = SFS_LOG_LIMIT_INIT(10, 10000);

int fs_tuning_set(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k, const void *value,
		  size_t size, int flags)
{
	struct fs_tuning *t = c->tuning;
	char rel[PATH_MAX], text[FS_TUNE_TEXT_MAX];
	struct tune_file f;
	double v;
	if (!S_ISDIR(i->type) && !S_ISREG(i->type))
		return -EPERM;
	if (fs_tune_parse(k, value, size, &v, text) < 0) {
		sfs_log_limited(&refused_log, SFS_LOG_WARN,
				"user.shadow.%s refused (EINVAL): the value must be %s",
				fs_tune_key_name(k), fs_tune_key_values(k));
		return -EINVAL;
	}
	size_t unknown = 0;
	if (k == FS_TUNE_HOSTS) /* names of this mount's hosts only (immutable table) */
		fs_tune_hosts_mask(text, (const char *const *)t->host_names, t->nhost_names,
				   &unknown);
	if (unknown) {
		sfs_log_limited(&refused_log, SFS_LOG_WARN,
				"user.shadow.hosts refused (EINVAL): %zu of its names not among "
				"the mount's hosts ('shadowctl hosts' lists them)",
				unknown);
		return -EINVAL;
	}
	int r = fs_tuning_node_key(c, i, true, rel, &f);
	if (r < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	bool copy, added = false;
	struct tune_entry *x = entry_of(t, i, rel, &f, &copy);
	if (copy) { /* another file's id (cp -a, rsync -X, set by hand): its own first */
		pthread_mutex_unlock(&t->lock);
		r = renew_id(c, i, rel, f.id);
		pthread_mutex_lock(&t->lock);
		x = fs_tuning_find_file(t, f.id); /* a new id: none, or a racing set's */
	}
	if (r == 0 && x && x->node.set[k] && (flags & XATTR_CREATE))
		r = -EEXIST;
	else if (r == 0 && (!x || !x->node.set[k]) && (flags & XATTR_REPLACE))
		r = -ENODATA;
	else if (r == 0 && !x &&
		 !(added = (x = add_entry(t, S_ISDIR(i->type), f.id, rel)) != NULL))
		r = -ENOMEM;
	if (r == 0 && added && f.handle)
		fs_tuning_take_handle(x, f.handle);
	free(f.handle);
	if (r == 0) {
		struct key_was was;
		key_was_take(x, k, &was);
		/* Kept in STATE/tuning before the call returns, or refused:
		 * before, a full state filesystem left the setting in memory
		 * only, the call returned 0, and the next mount had lost it. */
		if (fs_tune_node_set(&x->node, k, v, text) < 0)
			r = -ENOMEM;
		else if ((r = fs_tuning_save(t)) < 0)
			r = save_errno(r);
		if (r == 0) {
			free(was.text);
		} else {
			key_was_restore(x, k, &was);
			if (added)
				fs_tuning_drop_entry(t, x);
		}
	}
	return unlock_changed(c, k, r);
}

int fs_tuning_remove(struct fs_ctx *c, struct fs_inode *i, enum fs_tune_key k)
{
	struct fs_tuning *t = c->tuning;
	char rel[PATH_MAX];
	struct tune_file f;
	int r = fs_tuning_node_key(c, i, false, rel, &f);
	if (r < 0)
		return r == -ENOTSUP ? -ENODATA : r;
	pthread_mutex_lock(&t->lock);
	struct tune_entry *x = entry_of(t, i, rel, &f, NULL);
	free(f.handle);
	if (!x || !x->node.set[k]) {
		r = -ENODATA;
	} else {
		/* As a set: in STATE/tuning before the call returns, or undone. */
		struct key_was was;
		key_was_take(x, k, &was);
		fs_tune_node_set(&x->node, k, 0, NULL);
		bool dropped = fs_tune_node_empty(&x->node);
		struct tune_entry keep = *x; /* its path and handle move to keep if dropped */
		if (dropped) {
			x->path = NULL;
			x->handle = NULL;
			fs_tuning_drop_entry(t, x);
		}
		if ((r = fs_tuning_save(t)) < 0) {
			r = save_errno(r);
			if (dropped && (x = add_entry(t, keep.is_dir, keep.id, keep.path))) {
				x->handle = keep.handle;
				keep.handle = NULL;
			}
			if (x)
				key_was_restore(x, k, &was);
		}
		free(was.text); /* NULL once put back */
		if (dropped) {
			free(keep.path);
			free(keep.handle);
		}
	}
	return unlock_changed(c, k, r);
}

ssize_t fs_tuning_list(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size)
{
	struct fs_tuning *t = c->tuning;
	char rel[PATH_MAX], names[256];
	struct tune_file f;
	size_t len = 0;
	if (!LOAD(&t->ndirs) && !LOAD(&t->nfiles))
		return 0;
	if (fs_tuning_node_key(c, i, false, rel, &f) < 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	struct tune_entry *x = entry_of(t, i, rel, &f, NULL);
	free(f.handle);
	for (int k = 0; x && k < FS_TUNE_NKEYS; k++)
		if (x->node.set[k])
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
						XATTR_PREFIX, fs_tune_key_name(k)) +
			       1;
	pthread_mutex_unlock(&t->lock);
	if (size == 0)
		return (ssize_t)len;
	if (size < len)
		return -ERANGE;
	memcpy(buf, names, len);
	return (ssize_t)len;
}

/* ---- the ops layer's bookkeeping ---- */

bool fs_tuning_has_dirs(struct fs_tuning *t)
{
	return t && LOAD(&t->ndirs) > 0;
}

bool fs_tuning_has_files(struct fs_tuning *t)
{
	return t && LOAD(&t->nfiles) > 0;
}

/* x's path moved from below from to below to (unchanged if not below). */
static void move_prefix(struct tune_entry *x, const char *from, const char *to)
{
	char *p = fs_rel_moved(x->path, from, to);
	if (!p)
		return;
	free(x->path);
	x->path = p;
}

/* Drops the settings of directory path and of every directory below it;
 * whether there were any. Lock held. */
static bool drop_dirs_below_locked(struct fs_tuning *t, const char *path)
{
	bool any = false;
	for (size_t k = 0; k < t->n;) {
		if (t->e[k].is_dir && fs_rel_below(t->e[k].path, path)) {
			fs_tuning_drop_entry(t, &t->e[k]);
			any = true;
		} else {
			k++;
		}
	}
	return any;
}

void fs_tuning_dir_moved(struct fs_tuning *t, const char *from, const char *to, bool exchange)
{
	bool any = false;
	if (!strcmp(from, to))
		return;
	pthread_mutex_lock(&t->lock);
	/* Settings of a directory replaced by the rename (an empty one) go. */
	if (!exchange)
		any = drop_dirs_below_locked(t, to);
	for (size_t k = 0; k < t->n; k++) {
		struct tune_entry *x = &t->e[k];
		if (!x->is_dir)
			continue;
		bool a = fs_rel_below(x->path, from) != NULL;
		bool b = exchange && fs_rel_below(x->path, to) != NULL;
		if (a)
			move_prefix(x, from, to);
		else if (b)
			move_prefix(x, to, from);
		any |= a || b;
	}
	if (any) {
		fs_tuning_recount(t);
		fs_tuning_save(t);
	}
	pthread_mutex_unlock(&t->lock);
}

/* Are there directory settings at path or below it? Lock held. */
static bool dirs_below_locked(struct fs_tuning *t, const char *path)
{
	for (size_t k = 0; k < t->n; k++)
		if (t->e[k].is_dir && fs_rel_below(t->e[k].path, path))
			return true;
	return false;
}

struct tune_intent *fs_tuning_rename_begin(struct fs_tuning *t, const struct fs_pin_rename *rn)
{
	if (!fs_tuning_has_dirs(t) || !t->path[0])
		return NULL;
	char *rec = malloc(FS_PIN_RENAME_LINE_MAX);
	struct tune_intent *x = NULL;
	if (!rec)
		return NULL;
	pthread_mutex_lock(&t->lock);
	/* the settings it moves (from's, to's in an exchange) or drops (to's:
	 * an empty directory it replaces) */
	if (!dirs_below_locked(t, rn->from) && !dirs_below_locked(t, rn->to))
		goto out;
	int n = fs_pin_rename_format(rn, rec, FS_PIN_RENAME_LINE_MAX);
	if (n < 0 || !(x = malloc(sizeof(*x) + (size_t)n + 1))) {
		sfs_warn("cannot record the coming rename of %s (settings) in %s: %s", rn->from,
			 t->path, strerror(n < 0 ? -n : ENOMEM));
		goto out;
	}
	memcpy(x->rec, rec, (size_t)n + 1);
	x->next = t->intents;
	t->intents = x;
	if (fs_tuning_save(t) < 0) { /* said by save: the rename goes on, as before */
		t->intents = x->next;
		free(x);
		x = NULL;
	}
out:
	pthread_mutex_unlock(&t->lock);
	free(rec);
	return x;
}

void fs_tuning_rename_end(struct fs_tuning *t, struct tune_intent *x, bool rewrite)
{
	if (!x)
		return;
	pthread_mutex_lock(&t->lock);
	for (struct tune_intent **p = &t->intents; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
	free(x);
	if (rewrite)
		fs_tuning_save(t);
	pthread_mutex_unlock(&t->lock);
}

/* Drops x (NULL: nothing) and rewrites STATE/tuning. Lock held. */
static void forget_locked(struct fs_tuning *t, struct tune_entry *x)
{
	if (!x)
		return;
	fs_tuning_drop_entry(t, x);
	fs_tuning_recount(t);
	fs_tuning_save(t);
}

void fs_tuning_dir_removed(struct fs_tuning *t, const char *path)
{
	pthread_mutex_lock(&t->lock);
	forget_locked(t, find_dir(t, path));
	pthread_mutex_unlock(&t->lock);
}

bool fs_tuning_dir_tree_dropped(struct fs_tuning *t, const char *path)
{
	pthread_mutex_lock(&t->lock);
	bool any = drop_dirs_below_locked(t, path);
	if (any) {
		fs_tuning_recount(t);
		fs_tuning_save(t);
	}
	pthread_mutex_unlock(&t->lock);
	return any;
}

void fs_tuning_file_removed(struct fs_tuning *t, const uint8_t id[PRED_ID_LEN],
			    const struct file_handle *h)
{
	pthread_mutex_lock(&t->lock);
	struct tune_entry *x = fs_tuning_find_file(t, id);
	if (x && x->handle && h && !fs_inode_table_same_handle(x->handle, h))
		x = NULL; /* a copy bearing the id: the settings are another file's */
	forget_locked(t, x);
	pthread_mutex_unlock(&t->lock);
}
