/* The pinned paths at mount start, from STATE/pins and its log (see
 * pin_set.h). */
#include "fs/pin_set.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "fs/pin_log.h"
#include "fs/rel_path.h"
#include "fs/state_line.h"

struct pin_set {
	void *root; /* tsearch tree of malloc'ed paths */
	int root_fd;
};

static int path_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void set_pinned(struct pin_set *ps, bool pin, const char *path)
{
	char **slot = tfind(path, &ps->root, path_cmp);
	if (pin && !slot) {
		char *p = strdup(path);
		if (p && (slot = tsearch(p, &ps->root, path_cmp)) && *slot == p)
			return;
		free(p); /* without memory: that pin is not in effect */
	} else if (!pin && slot) {
		char *p = *slot;
		tdelete(path, &ps->root, path_cmp);
		free(p);
	}
}

static void change(void *arg, bool pin, const char *path)
{
	set_pinned(arg, pin, path);
}

/* The pinned paths a rename moves, collected by a walk of the set. */
struct moves {
	const struct fs_pin_rename *rn;
	char **from, **to;
	size_t n, cap;
	bool short_of_memory;
};

static void collect(const void *node, VISIT which, void *arg)
{
	struct moves *m = arg;
	if (which != postorder && which != leaf)
		return;
	const char *p = *(char *const *)node;
	char *q = fs_rel_moved(p, m->rn->from, m->rn->to);
	if (!q && m->rn->exchange)
		q = fs_rel_moved(p, m->rn->to, m->rn->from);
	if (!q)
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		char **f = realloc(m->from, cap * sizeof(*f));
		if (f)
			m->from = f;
		char **t = f ? realloc(m->to, cap * sizeof(*t)) : NULL;
		if (t)
			m->to = t;
		if (!f || !t) {
			m->short_of_memory = true;
			free(q);
			return;
		}
		m->cap = cap;
	}
	m->from[m->n] = strdup(p);
	m->to[m->n] = q;
	if (!m->from[m->n]) {
		m->short_of_memory = true;
		free(q);
		return;
	}
	m->n++;
}

static void rename_intent(void *arg, const struct fs_pin_rename *rn)
{
	struct pin_set *ps = arg;
	if (!fs_pin_rename_made(ps->root_fd, rn))
		return;
	struct moves m = {.rn = rn};
	twalk_r(ps->root, collect, &m);
	if (m.short_of_memory)
		sfs_warn("pins: out of memory replaying the rename of %s to %s", rn->from, rn->to);
	/* All taken away first: an exchange moves paths both ways. */
	for (size_t i = 0; i < m.n; i++)
		set_pinned(ps, false, m.from[i]);
	if (!rn->exchange)
		set_pinned(ps, false, rn->to); /* the file the rename replaced */
	for (size_t i = 0; i < m.n; i++) {
		set_pinned(ps, true, m.to[i]);
		free(m.from[i]);
		free(m.to[i]);
	}
	free(m.from);
	free(m.to);
}

struct visit {
	void (*fn)(void *arg, const char *path);
	void *arg;
};

static void visit(const void *node, VISIT which, void *arg)
{
	struct visit *v = arg;
	if (which == postorder || which == leaf)
		v->fn(v->arg, *(char *const *)node);
}

/* STATE/pins into the set. A path longer than PATH_MAX (a directory above
 * it renamed through the mount) names nothing openable: skipped whole.
 * Before, its line was read as two, and its tail pinned whatever file that
 * tail named. So is a line holding a NUL (fs/state_line.h). A last line
 * without its newline is taken (a list written by hand). */
static bool read_pins(struct pin_set *ps, const char *pins_path)
{
	FILE *in;
	char *line = NULL;
	size_t cap = 0;
	int r = fs_state_file_open(pins_path, &in);
	r = in ? 1 : r == -ENOENT ? 0 : r;
	while (in && (r = fs_state_line_read(in, &line, &cap, 2 * PATH_MAX + 2, true)) != 0) {
		if (r < 0 && r != -EINVAL) {
			r = -errno;
			break;
		}
		if (r < 0)
			continue;
		fs_pin_path_decode(line);
		if (line[0] && strlen(line) < PATH_MAX)
			set_pinned(ps, true, line);
	}
	/* Said, not taken for "no pins": a directory in its place, an I/O
	 * error (the pins it held are not in effect in this mount). */
	if (r < 0)
		sfs_warn("cannot read %s: %s (the pins it holds are not in effect; it is not "
			 "replaced)",
			 pins_path, strerror(-r ? -r : EIO));
	free(line);
	if (in)
		fclose(in);
	return r >= 0;
}

int fs_pin_set_load(const char *pins_path, const char *log_path, int root_fd,
		    void (*fn)(void *arg, const char *path), void *arg, bool *unread)
{
	struct pin_set ps = {.root = NULL, .root_fd = root_fd};
	*unread = !read_pins(&ps, pins_path);
	struct fs_pin_log_reader rd = {.change = change, .rename = rename_intent, .arg = &ps};
	int n = fs_pin_log_replay(log_path, &rd);
	if (n < 0) {
		sfs_warn("cannot read %s: %s (the pin changes it holds are not in effect)",
			 log_path, strerror(-n));
		*unread = n != -EISDIR && n != -EINVAL; /* a directory, a FIFO: no records */
	}
	struct visit v = {.fn = fn, .arg = arg};
	twalk_r(ps.root, visit, &v);
	tdestroy(ps.root, free);
	return n;
}
