/* The last forecast of every file and the read-only user.shadow.why (see
 * shadow_tuning.h; the line format is documented in tools/ctl_why.c, its
 * reader). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uuid/uuid.h>

#include "fs/fs.h"
#include "fs/shadow_tuning_impl.h"
#include "fs/shadowing.h"
#include "fs/xattr_shadow.h"

void fs_tuning_note_forecast(struct fs_tuning *t, const struct pred_hot_file *f, size_t n)
{
	struct tune_forecast *fc = calloc(n ? n : 1, sizeof(*fc));
	if (!fc)
		return;
	for (size_t i = 0; i < n; i++) {
		struct tune_forecast *x = &fc[i];
		memcpy(x->id, f[i].id, PRED_ID_LEN);
		x->p_exceed = f[i].p_exceed;
		x->capacity = f[i].capacity;
		x->threshold = f[i].threshold;
		x->window = f[i].window;
		x->hot = f[i].hot;
		x->reactive = f[i].reactive;
		x->last_demand = f[i].last_demand;
		x->demand_hi = f[i].demand_hi;
		x->start = f[i].start;
		x->horizon = f[i].fc.horizon <= PRED_MAX_H ? f[i].fc.horizon : PRED_MAX_H;
		for (unsigned h = 0; h < x->horizon; h++) {
			x->point[h] = f[i].fc.point[h];
			x->lo80[h] = f[i].fc.lo[0][h];
			x->hi80[h] = f[i].fc.hi[0][h];
			x->lo95[h] = f[i].fc.lo[1][h];
			x->hi95[h] = f[i].fc.hi[1][h];
			x->p_step[h] = f[i].fc.p_step[h];
		}
	}
	pthread_mutex_lock(&t->lock);
	free(t->fc);
	t->fc = fc;
	t->nfc = n;
	t->fc_time = time(NULL);
	pthread_mutex_unlock(&t->lock);
}

struct why_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void wb_printf(struct why_buf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wb_printf(struct why_buf *w, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(w->p ? w->p + w->len : NULL, w->p ? w->cap - w->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			w->oom = true;
			return;
		}
		if (w->p && w->len + (size_t)n < w->cap) {
			w->len += (size_t)n;
			return;
		}
		size_t cap = (w->cap ? w->cap * 2 : 4096) + (size_t)n;
		char *p = realloc(w->p, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
}

/* "name=N" of the state line, or -1. */
static long state_field(const char *line, const char *name)
{
	char key[32];
	snprintf(key, sizeof(key), "%s=", name);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p++)
		if (p == line || p[-1] == ' ')
			return strtol(p + strlen(key), NULL, 10);
	return -1;
}

static void why_settings(struct why_buf *w, const struct fs_tune_effective *eff,
			 const char *dir_of[FS_TUNE_NKEYS])
{
	for (int k = 0; k < FS_TUNE_NKEYS; k++) {
		char v[FS_TUNE_TEXT_MAX];
		if (k == FS_TUNE_CAPACITY && eff->value[k] < 0)
			snprintf(v, sizeof(v), "p99");
		else if (k == FS_TUNE_HOSTS) /* the list as set; "*" by default */
			snprintf(v, sizeof(v), "%s", eff->text[k] ? eff->text[k] : "*");
		else
			snprintf(v, sizeof(v), "%.15g", eff->value[k]);
		/* "setting KEY VALUE SOURCE [DIR]": DIR (relative to the mount
		 * root) is the rest of the line. */
		wb_printf(w, "setting %s %s %s%s%s\n", fs_tune_key_name(k), v,
			  fs_tune_source_name(eff->source[k]),
			  eff->source[k] == FS_TUNE_FROM_DIR ? " " : "",
			  eff->source[k] == FS_TUNE_FROM_DIR && dir_of[k] ? dir_of[k] : "");
	}
}

/* "hosts_allowed LIST": the mount's hosts the effective user.shadow.hosts
 * allows ("*": every host, "none": none); "hosts_unknown N": listed names
 * that are no host of the mount (after a remount without them). */
static void why_hosts(struct why_buf *w, const struct fs_tuning *t, const char *text)
{
	if (!text || !strcmp(text, "*")) {
		wb_printf(w, "hosts_allowed *\n");
		return;
	}
	size_t unknown = 0;
	uint64_t mask =
	    fs_tune_hosts_mask(text, (const char *const *)t->host_names, t->nhost_names, &unknown);
	wb_printf(w, "hosts_allowed ");
	bool any = false;
	for (size_t i = 0; i < t->nhost_names && i < 64; i++)
		if (mask & (UINT64_C(1) << i)) {
			wb_printf(w, "%s%s", any ? "," : "", t->host_names[i]);
			any = true;
		}
	wb_printf(w, "%s\n", any ? "" : "none");
	if (unknown)
		wb_printf(w, "hosts_unknown %zu\n", unknown);
}

static void why_forecast(struct why_buf *w, const struct tune_forecast *f, int64_t fc_time,
			 int64_t bucket_s)
{
	wb_printf(w,
		  "forecast made=%lld bucket_s=%lld start=%lld capacity=%.17g threshold=%.17g "
		  "window=%u horizon=%u p_exceed=%.6f hot=%d last=%.6g hi95_max=%.6g reactive=%d\n",
		  (long long)fc_time, (long long)bucket_s, (long long)f->start, f->capacity,
		  f->threshold, f->window, f->horizon, f->p_exceed, f->hot, f->last_demand,
		  f->demand_hi, f->reactive);
	for (unsigned h = 0; h < f->horizon; h++)
		wb_printf(w,
			  "step %u start=%lld median=%.6g lo80=%.6g hi80=%.6g lo95=%.6g hi95=%.6g "
			  "p_over=%.6f\n",
			  h + 1, (long long)(f->start + (int64_t)h * bucket_s), f->point[h], f->lo80[h],
			  f->hi80[h], f->lo95[h], f->hi95[h], f->p_step[h]);
}

ssize_t fs_tuning_why(struct fs_ctx *c, struct fs_inode *i, char *buf, size_t size)
{
	struct fs_tuning *t = c->tuning;
	char rel[PATH_MAX], state[4096] = "";
	struct tune_file file;
	const uint8_t *id = file.id;
	if (!S_ISREG(i->type))
		return -ENODATA;
	int r = fs_tuning_node_key(c, i, false, rel, &file);
	bool have_id = r == 0;
	if (r < 0 && r != -ENODATA && r != -ENOTSUP)
		return r;
	ssize_t sl = c->shadowing ? fs_shadowing_get_state(c->shadowing, i, state, sizeof(state) - 1)
				  : -ENODATA;
	state[sl > 0 ? sl : 0] = '\0';
	bool pinned = state_field(state, "pinned") == 1, hot = state_field(state, "hot") == 1;
	long copies = state_field(state, "copies");

	struct why_buf w = {0};
	struct fs_tune_effective eff;
	const char *dir_of[FS_TUNE_NKEYS];
	pthread_mutex_lock(&t->lock);
	fs_tuning_resolve_locked(t, fs_tuning_file_entry_locked(t, have_id ? &file : NULL, NULL),
				 rel, &eff, dir_of);
	free(file.handle);
	char ids[37] = "";
	if (have_id)
		uuid_unparse_lower(id, ids);
	wb_printf(&w, "file %s\n", rel);
	wb_printf(&w, "id %s\n", have_id ? ids : "none");
	why_settings(&w, &eff, dir_of);
	why_hosts(&w, t, eff.text[FS_TUNE_HOSTS]);
	wb_printf(&w, "state %s\n", state);
	const struct tune_forecast *f = NULL;
	for (size_t k = 0; have_id && k < t->nfc; k++)
		if (!memcmp(t->fc[k].id, id, PRED_ID_LEN))
			f = &t->fc[k];
	if (f)
		why_forecast(&w, f, t->fc_time, t->cfg.bucket_s);
	else
		wb_printf(&w, "forecast none %s\n",
			  !t->cfg.forecast ? "recording_off"
			  : !t->fc_time	   ? "not_yet"
			  : !have_id	   ? "no_record"
					   : "not_among_busiest");
	bool never = eff.value[FS_TUNE_NEVER] == 1;
	const char *trigger = never		? (pinned ? "never_pinned" : "never")
			      : pinned		? "pinned"
			      : hot && state_field(state, "reactive") == 1 ? "reacted"
			      : hot		? "fired"
			      : copies > 0	? "hysteresis"
			      : f		? "below_threshold"
					        : "no_forecast";
	wb_printf(&w, "trigger %s\n", trigger);
	pthread_mutex_unlock(&t->lock);
	ssize_t res = w.oom ? -ENOMEM : fs_xattr_reply_string(w.p ? w.p : "", buf, size);
	free(w.p);
	return res;
}

