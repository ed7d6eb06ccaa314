/* shadowctl why PATH: why a file of a running mount is (not) shadowed: its
 * effective threshold / capacity / window / never / copies / hosts and
 * where each comes from (the file, a directory, the mount root, the mount option), the
 * mount's last forecast of it (per step the median and the 80% / 95%
 * intervals, P(demand > capacity within the window)), the trigger state,
 * and its copies.
 *
 * Everything is read from the mount itself: the read-only attribute
 * user.shadow.why (fs/shadow_tuning.c), one line per item:
 *   file PATH                    relative to the mount root
 *   id UUID|none                 user.shadow.id
 *   setting KEY VALUE SOURCE [DIR]   SOURCE: file|dir|root|option;
 *                                DIR (rest of the line) for dir;
 *                                capacity VALUE "p99": the file's own p99;
 *                                hosts VALUE: the list as set, "*" every host
 *   hosts_allowed LIST|*|none    the mount's hosts that hosts allows
 *   hosts_unknown N              listed names that are no host of the mount
 *   state LINE                   user.shadow.state
 *   forecast made=T bucket_s=B start=S capacity=C threshold=P window=W
 *            horizon=H p_exceed=X hot=0|1 last=L hi95_max=U reactive=0|1
 *            (L: reads in the last bucket; U: the highest 95% bound in
 *            the window, which sets the replica count)
 *   step N start=S median=M lo80= hi80= lo95= hi95= p_over=
 *   forecast none REASON         recording_off|not_yet|no_record|
 *                                not_among_busiest
 *   trigger never|never_pinned|pinned|fired|reacted|hysteresis|
 *           below_threshold|no_forecast
 *           (reacted: the last bucket was over capacity, P below threshold)
 * A path outside a shadowfs mount, or on one without shadowing, gets a
 * one-line message and status 1. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <uuid/uuid.h>

#include "common/mountinfo.h"
#include "tools/ctl.h"
#include "tools/ctl_status.h"
#include "tools/ctl_store.h"

#define WHY_XATTR "user.shadow.why"
#define NKEYS 6	    /* settings read at most */
#define NKEYS_OLD 5 /* a mount from before user.shadow.hosts */

static const char usage[] = "usage: shadowctl why PATH [--json]\n";

struct why_setting {
	char key[16], value[1024], source[16];
	char *dir; /* source dir: relative to the mount root; NULL otherwise */
};

struct why_step {
	long long start;
	double median, lo80, hi80, lo95, hi95, p_over;
};

struct why {
	char *file, *id, *state, *trigger, *reason;
	char *hosts_allowed; /* NULL: a mount from before user.shadow.hosts */
	long hosts_unknown;
	struct why_setting set[NKEYS];
	size_t nset;
	bool have_fc;
	long long made, bucket_s, start;
	double capacity, threshold, p_exceed, last, hi95_max;
	unsigned window, horizon;
	int hot, reactive;
	long replicas; /* of the state line; -1: not there */
	struct why_step steps[16];
	size_t nsteps;
};

static char *dup_rest(const char *s)
{
	char *d = strdup(s);
	if (d)
		d[strcspn(d, "\n")] = '\0';
	return d;
}

static void why_parse(char *text, struct why *w)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "file ", 5)) {
			w->file = dup_rest(line + 5);
		} else if (!strncmp(line, "id ", 3)) {
			w->id = dup_rest(line + 3);
		} else if (!strncmp(line, "state ", 6)) {
			w->state = dup_rest(line + 6);
			const char *r = w->state ? strstr(w->state, " replicas=") : NULL;
			w->replicas = r ? strtol(r + 10, NULL, 10) : -1;
		} else if (!strncmp(line, "trigger ", 8)) {
			w->trigger = dup_rest(line + 8);
		} else if (!strncmp(line, "setting ", 8) && w->nset < NKEYS) {
			struct why_setting *s = &w->set[w->nset];
			int used = 0;
			if (sscanf(line + 8, "%15s %1023s %15s%n", s->key, s->value, s->source,
				   &used) < 3)
				continue;
			const char *rest = line + 8 + used;
			if (!strcmp(s->source, "dir"))
				s->dir = dup_rest(*rest == ' ' ? rest + 1 : rest);
			w->nset++;
		} else if (!strncmp(line, "hosts_allowed ", 14)) {
			w->hosts_allowed = dup_rest(line + 14);
		} else if (!strncmp(line, "hosts_unknown ", 14)) {
			w->hosts_unknown = strtol(line + 14, NULL, 10);
		} else if (!strncmp(line, "forecast none ", 14)) {
			w->reason = dup_rest(line + 14);
		} else if (!strncmp(line, "forecast ", 9)) {
			w->have_fc =
			    sscanf(line + 9,
				   "made=%lld bucket_s=%lld start=%lld capacity=%lf threshold=%lf "
				   "window=%u horizon=%u p_exceed=%lf hot=%d last=%lf hi95_max=%lf "
				   "reactive=%d",
				   &w->made, &w->bucket_s, &w->start, &w->capacity, &w->threshold,
				   &w->window, &w->horizon, &w->p_exceed, &w->hot, &w->last,
				   &w->hi95_max, &w->reactive) >= 9;
		} else if (!strncmp(line, "step ", 5) && w->nsteps < 16) {
			struct why_step *s = &w->steps[w->nsteps];
			unsigned n;
			if (sscanf(line + 5,
				   "%u start=%lld median=%lf lo80=%lf hi80=%lf lo95=%lf hi95=%lf "
				   "p_over=%lf",
				   &n, &s->start, &s->median, &s->lo80, &s->hi80, &s->lo95, &s->hi95,
				   &s->p_over) == 8)
				w->nsteps++;
		}
	}
}

static void why_free(struct why *w)
{
	free(w->file);
	free(w->id);
	free(w->state);
	free(w->trigger);
	free(w->reason);
	free(w->hosts_allowed);
	for (size_t k = 0; k < w->nset; k++)
		free(w->set[k].dir);
}

static const struct why_setting *setting(const struct why *w, const char *key)
{
	for (size_t k = 0; k < w->nset; k++)
		if (!strcmp(w->set[k].key, key))
			return &w->set[k];
	return NULL;
}

/* Where a setting comes from, in words, into buf. */
static const char *source_text(const struct why_setting *s, char *buf, size_t len)
{
	if (!strcmp(s->source, "file"))
		snprintf(buf, len, "the file (user.shadow.%s)", s->key);
	else if (!strcmp(s->source, "root"))
		snprintf(buf, len, "the mount root (user.shadow.%s on /)", s->key);
	else if (!strcmp(s->source, "dir"))
		snprintf(buf, len, "directory /%s (user.shadow.%s)", s->dir ? s->dir : "?", s->key);
	else if (!strcmp(s->key, "never"))
		snprintf(buf, len, "the default (no user.shadow.never above the file)");
	else if (!strcmp(s->key, "hosts"))
		snprintf(buf, len, "the default (no user.shadow.hosts above the file: every host)");
	else if (!strcmp(s->key, "window"))
		snprintf(buf, len, "the mount option (-o shadow_window in buckets, or its default)");
	else
		snprintf(buf, len, "the mount option (-o shadow_%s, or its default)", s->key);
	return buf;
}

static const char *reason_text(const char *r)
{
	if (!r)
		return "none";
	if (!strcmp(r, "recording_off"))
		return "the mount records nothing (norecord): no forecasts, only pins and never act";
	if (!strcmp(r, "not_yet"))
		return "no forecast made yet (the first comes once the first bucket is recorded)";
	if (!strcmp(r, "no_record"))
		return "no record of this file (no access recorded through the mount)";
	if (!strcmp(r, "not_among_busiest"))
		return "not in the last forecast (which covers the busiest files of the last 6 h)";
	return r;
}

static void print_time(long long t, char *buf, size_t len)
{
	ctl_utc_text(t, buf, len);
}

static void print_decision(const struct why *w)
{
	const char *t = w->trigger ? w->trigger : "?";
	const struct why_setting *nv = setting(w, "never");
	char src[PATH_MAX + 64];
	if (!strncmp(t, "never", 5)) {
		printf("decision: never shadowed (never=1 from %s)%s\n",
		       nv ? source_text(nv, src, sizeof(src)) : "?",
		       !strcmp(t, "never_pinned") ? "; the file is pinned, but never wins over a pin"
						  : "");
	} else if (!strcmp(t, "pinned")) {
		printf("decision: shadowed, pinned (user.shadow.pin=1)\n");
	} else if (!strcmp(t, "fired")) {
		printf("decision: shadowed, forecast hot: P = %.3f >= threshold %g\n", w->p_exceed,
		       w->threshold);
	} else if (!strcmp(t, "reacted")) {
		printf("decision: shadowed, over capacity now: %.0f reads in the last bucket > %g "
		       "(P = %.3f below threshold %g)\n",
		       w->last, w->capacity, w->p_exceed, w->threshold);
	} else if (!strcmp(t, "hysteresis")) {
		/* wanted before for a pin or a forecast: which, the state
		 * does not keep (it said "no longer forecast hot" of both) */
		printf("decision: wanted no longer (neither pinned nor forecast hot%s), copies "
		       "kept until it has been unwanted for shadow_idle (hysteresis)\n",
		       w->have_fc ? "" : "; no forecast");
	} else if (!strcmp(t, "below_threshold")) {
		printf("decision: not shadowed: P = %.3f below threshold %g\n", w->p_exceed,
		       w->threshold);
	} else {
		printf("decision: not shadowed: no forecast: %s\n", reason_text(w->reason));
	}
}

/* A copy's rollout as the text output shows it after its reads: its share
 * and phase, and why when it was rolled back or stepped down (a rolled-back
 * copy is still "serving" as a copy, at share 0: no read goes to it). */
static void rollout_note(const char *rest, char *out, size_t len)
{
	char share[16], phase[32], why[160];
	ctl_copy_field(rest, "share", share, sizeof(share));
	ctl_copy_field(rest, "rollout", phase, sizeof(phase));
	ctl_copy_field(rest, "why", why, sizeof(why));
	out[0] = '\0';
	if (!phase[0] || !strcmp(phase, "off"))
		return;
	snprintf(out, len, "  share %s%%, %s%s%s", share[0] ? share : "?",
		 !strcmp(phase, "rolled-back") ? "rolled back (no reads until its retry)" : phase,
		 why[0] ? ": " : "", why);
}

/* " copy=HOST:vN:STATE:reads=R:..." of the state line (ctl_status_parse_copy:
 * a host label may hold ':'). Calls fn per copy. */
static size_t each_copy(const char *state, void (*fn)(const char *host, const char *ver,
						     const char *st, const char *reads,
						     const char *note, void *),
			void *arg)
{
	size_t n = 0;
	for (const char *p = state ? strstr(state, " copy=") : NULL; p; p = strstr(p + 1, " copy=")) {
		char buf[1024];
		size_t len = strcspn(p + 6, " ");
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, p + 6, len);
		buf[len] = '\0';
		struct ctl_copy c;
		if (ctl_status_parse_copy(buf, &c) != 0)
			continue;
		char note[256];
		rollout_note(c.rest, note, sizeof(note));
		fn(c.host, c.version, c.state, c.reads[0] ? c.reads : "0", note, arg);
		n++;
	}
	return n;
}

/* " migrate_blocked=HOST:for_s=N" of the state line (a host label may hold
 * ':': the seconds follow the last ":for_s="). Calls fn per host. */
static size_t each_migrate_block(const char *state,
				 void (*fn)(const char *host, const char *secs, void *), void *arg)
{
	static const char key[] = " migrate_blocked=";
	size_t n = 0;
	for (const char *p = state ? strstr(state, key) : NULL; p; p = strstr(p + 1, key)) {
		char buf[1024];
		size_t len = strcspn(p + sizeof(key) - 1, " ");
		if (len >= sizeof(buf))
			continue;
		memcpy(buf, p + sizeof(key) - 1, len);
		buf[len] = '\0';
		char *secs = NULL;
		for (char *q = strstr(buf, ":for_s="); q; q = strstr(q + 1, ":for_s="))
			secs = q;
		if (!secs || secs == buf || !secs[7] || strspn(secs + 7, "0123456789") != strlen(secs + 7))
			continue;
		*secs = '\0';
		fn(buf, secs + 7, arg);
		n++;
	}
	return n;
}

static void print_migrate_block(const char *host, const char *secs, void *arg)
{
	(void)arg;
	printf("migration: not to %s for %s s more (its copy there was rolled back: slower "
	       "than the origin or failing, and dropped)\n",
	       host, secs);
}

static void json_migrate_block(const char *host, const char *secs, void *arg)
{
	int *first = arg;
	printf("%s{\"host\": ", *first ? "" : ", ");
	ctl_json_string(stdout, host);
	printf(", \"for_s\": %s}", secs);
	*first = 0;
}

static void print_copy(const char *host, const char *ver, const char *st, const char *reads,
		       const char *note, void *arg)
{
	(void)arg;
	printf("  %-40s %-6s %-8s reads %s%s\n", host, ver, st, reads, note);
}

static void json_copy(const char *host, const char *ver, const char *st, const char *reads,
		      const char *note, void *arg)
{
	(void)note;
	int *first = arg;
	printf("%s{\"host\": ", *first ? "" : ", ");
	ctl_json_string(stdout, host);
	printf(", \"version\": \"%s\", \"state\": \"%s\", \"reads\": %s}", ver, st, reads);
	*first = 0;
}

/* The name of the file's copies in host stores (the state's id=, which
 * `shadowctl host list` shows): not the file id, which is salted with the
 * mount's STATE/origin.id. */
static bool why_store_id(const struct why *w, char out[40])
{
	const char *p = w->state ? strstr(w->state, " id=") : NULL;
	if (!p)
		return false;
	p += 4;
	size_t n = strcspn(p, " ");
	if (n == 0 || n >= 40)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static void print_text(const struct why *w, const char *mnt)
{
	char src[PATH_MAX + 64], when[32];
	char store_id[40];
	printf("%s/", mnt);
	ctl_print_name(stdout, w->file ? w->file : "?", 0);
	printf(" (id %s", w->id ? w->id : "none");
	if (why_store_id(w, store_id))
		printf("; its copies are %s in host stores", store_id);
	printf(")\n");
	print_decision(w);
	if (w->replicas > 0 && w->have_fc && (w->hot || !strcmp(w->trigger ? w->trigger : "", "pinned")))
		printf("replicas: %ld wanted (highest 95%% bound in the window %.0f reads, last "
		       "bucket %.0f, capacity %g: the origin and k copies share it; at most "
		       "shadow_copies, one per host)\n",
		       w->replicas, w->hi95_max, w->last, w->capacity);
	else if (w->replicas > 0)
		printf("replicas: %ld wanted\n", w->replicas);
	printf("\nsettings:\n");
	for (size_t k = 0; k < w->nset; k++) {
		const struct why_setting *s = &w->set[k];
		printf("  %-10s %-8s from %s\n", s->key, s->value, source_text(s, src, sizeof(src)));
	}
	if (w->hosts_allowed && strcmp(w->hosts_allowed, "*"))
		printf("placement: copies only on %s%s\n",
		       !strcmp(w->hosts_allowed, "none")
			   ? "no host (none listed is a host of the mount)"
			   : w->hosts_allowed,
		       w->hosts_unknown > 0 ? "; some listed names are no host of this mount "
					      "(match nothing)"
					    : "");
	if (w->have_fc) {
		print_time(w->made, when, sizeof(when));
		printf("\nforecast (made %s UTC, %llds buckets): capacity %g reads per bucket, "
		       "window %u, threshold %g\n",
		       when, w->bucket_s, w->capacity, w->window, w->threshold);
		printf("  %-22s %10s %21s %21s %8s\n", "BUCKET (UTC)", "MEDIAN", "80%", "95%",
		       "P(>CAP)");
		for (size_t h = 0; h < w->nsteps; h++) {
			const struct why_step *s = &w->steps[h];
			char i80[64], i95[64];
			print_time(s->start, when, sizeof(when));
			snprintf(i80, sizeof(i80), "[%.0f, %.0f]", s->lo80, s->hi80);
			snprintf(i95, sizeof(i95), "[%.0f, %.0f]", s->lo95, s->hi95);
			printf("  %-22s %10.0f %21s %21s %8.3f%s\n", when, s->median, i80, i95,
			       s->p_over, h < w->window ? "" : "  (beyond the window)");
		}
		printf("  P(reads > %g in a bucket of the next %u) = %.3f (threshold %g)\n",
		       w->capacity, w->window, w->p_exceed, w->threshold);
	} else {
		printf("\nforecast: none: %s\n", reason_text(w->reason));
	}
	printf("\ncopies:\n");
	if (!each_copy(w->state, print_copy, NULL))
		printf("  none\n");
	if (w->state && strstr(w->state, " surplus=kept_until_rollout_ends"))
		printf("surplus: a copy more than wanted is kept until the new copy's rollout "
		       "ends (make before break)\n");
	each_migrate_block(w->state, print_migrate_block, NULL);
	if (w->state && strstr(w->state, " quiet=1 "))
		printf("control: settled and not read lately: the control loop looks at it one "
		       "pass in 16 (a read, a write or a new forecast makes it look every pass; "
		       "its next read compares the origin with the copies first)\n");
	printf("state: %s\n", w->state ? w->state : "");
}

static void print_json(const struct why *w, const char *mnt)
{
	char store_id[40];
	printf("{\"mount\": ");
	ctl_json_string(stdout, mnt);
	printf(", \"path\": ");
	ctl_json_string(stdout, w->file ? w->file : "");
	printf(", \"id\": ");
	ctl_json_string(stdout, w->id ? w->id : "none");
	printf(", \"store_id\": ");
	ctl_json_string(stdout, why_store_id(w, store_id) ? store_id : "none");
	printf(", \"trigger\": \"%s\", \"replicas\": %ld, \"settings\": {",
	       w->trigger ? w->trigger : "", w->replicas > 0 ? w->replicas : 0);
	for (size_t k = 0; k < w->nset; k++) {
		const struct why_setting *s = &w->set[k];
		printf("%s\"%s\": {\"value\": ", k ? ", " : "", s->key);
		if (!strcmp(s->value, "p99"))
			printf("\"p99\"");
		else if (!strcmp(s->key, "hosts"))
			ctl_json_string(stdout, s->value);
		else
			printf("%s", s->value);
		printf(", \"source\": \"%s\"", s->source);
		if (s->dir) {
			printf(", \"dir\": ");
			ctl_json_string(stdout, s->dir);
		}
		printf("}");
	}
	printf("}, \"hosts_allowed\": ");
	if (w->hosts_allowed)
		ctl_json_string(stdout, w->hosts_allowed);
	else
		printf("null");
	printf(", \"hosts_unknown\": %ld, \"forecast\": ",
	       w->hosts_unknown > 0 ? w->hosts_unknown : 0);
	if (w->have_fc) {
		printf("{\"made\": %lld, \"bucket_s\": %lld, \"capacity\": %.17g, \"threshold\": "
		       "%.17g, \"window\": %u, \"p_exceed\": %.6f, \"hot\": %s, \"last\": %.6g, "
		       "\"hi95_max\": %.6g, \"reactive\": %s, \"steps\": [",
		       w->made, w->bucket_s, w->capacity, w->threshold, w->window, w->p_exceed,
		       w->hot ? "true" : "false", w->last, w->hi95_max,
		       w->reactive ? "true" : "false");
		for (size_t h = 0; h < w->nsteps; h++) {
			const struct why_step *s = &w->steps[h];
			printf("%s{\"start\": %lld, \"median\": %.6g, \"lo80\": %.6g, \"hi80\": %.6g, "
			       "\"lo95\": %.6g, \"hi95\": %.6g, \"p_over\": %.6f}",
			       h ? ", " : "", s->start, s->median, s->lo80, s->hi80, s->lo95, s->hi95,
			       s->p_over);
		}
		printf("]}");
	} else {
		printf("null, \"no_forecast\": \"%s\"", w->reason ? w->reason : "");
	}
	printf(", \"copies\": [");
	int first = 1;
	each_copy(w->state, json_copy, &first);
	printf("], \"migrate_blocked\": [");
	first = 1;
	each_migrate_block(w->state, json_migrate_block, &first);
	printf("], \"state\": ");
	ctl_json_string(stdout, w->state ? w->state : "");
	printf("}\n");
}

/* Whether the mount's series store holds any record of the file with this
 * id (the mount's forecast covers only the busiest files: one not in it may
 * have none at all). Unknown (store unreadable): true. */
static bool has_record(const char *real, const char *ids)
{
	struct pred_location loc;
	struct pred_store *st = NULL;
	uuid_t id;
	char *p = NULL;
	if (!ids || uuid_parse(ids, id) ||
	    ctl_store_open_for_path("shadowctl why", NULL, real, &loc, &st))
		return true;
	int r = pred_store_file_path(st, id, &p);
	free(p);
	ctl_store_close("shadowctl why", st);
	return r != -ENOENT;
}

int ctl_why_main(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		fputs(usage, stderr);
		return 2;
	}
	const char *path = argv[optind];
	char real[PATH_MAX], mnt[PATH_MAX] = "", type[256] = "";
	struct stat st;
	if (!realpath(path, real) || stat(real, &st) < 0) {
		fprintf(stderr, "shadowctl why: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (sfs_mount_of(real, mnt, sizeof(mnt), type, sizeof(type)) < 0 ||
	    strcmp(type, "fuse.shadowfs")) {
		fprintf(stderr, "shadowctl why: %s is not inside a shadowfs mount (it is on %s, %s)\n",
			path, mnt[0] ? mnt : "?", type[0] ? type : "?");
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "shadowctl why: %s is not a regular file (only files are shadowed; "
				"a directory's settings are read with getfattr -n user.shadow.KEY)\n",
			path);
		return 1;
	}
	/* The text can grow between the size query and the read (a forecast
	 * or a copy lands): ERANGE then, asked again with room to spare. */
	ssize_t n = -1;
	char *text = NULL;
	for (int tries = 0; tries < 5; tries++) {
		n = getxattr(real, WHY_XATTR, NULL, 0);
		free(text);
		text = n > 0 ? malloc((size_t)n + 1024 + 1) : NULL;
		if (n > 0 && text)
			n = getxattr(real, WHY_XATTR, text, (size_t)n + 1024);
		if (!(n < 0 && errno == ERANGE))
			break;
	}
	if (n <= 0 || !text) {
		int e = n < 0 ? errno : ENOMEM;
		free(text);
		if (e == ENODATA || e == ENOTSUP)
			fprintf(stderr, "shadowctl why: shadowing is off on the mount %s (no local "
					"host in -o hosts=): nothing is shadowed there\n", mnt);
		else
			fprintf(stderr, "shadowctl why: %s: %s\n", path, strerror(e));
		return 1;
	}
	text[n] = '\0';
	struct why w = {0};
	why_parse(text, &w);
	free(text);
	if (!w.trigger || w.nset < NKEYS_OLD) {
		fprintf(stderr, "shadowctl why: %s: the mount's answer is not understood\n", path);
		why_free(&w);
		return 1;
	}
	if (w.reason && !strcmp(w.reason, "not_among_busiest") && !has_record(real, w.id)) {
		free(w.reason);
		w.reason = strdup("no_record");
	}
	if (json)
		print_json(&w, mnt);
	else
		print_text(&w, mnt);
	why_free(&w);
	return 0;
}
