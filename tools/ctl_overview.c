/* shadowctl status: one screen on a mount: where it is and whether it
 * runs, what its recorder holds (STATE/recorder.stats), how many of its
 * hosts are up (STATE/hosts.status), what it shadows
 * (STATE/shadows.status) and what its control loop's last pass did
 * (STATE/control.stats), with the subcommands that show each in full.
 *   shadowctl status [MNT|--state DIR] [--json] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mountinfo.h"
#include "tools/ctl.h"
#include "tools/ctl_status.h"
#include "tools/ctl_store.h"

#define MAX_STATES 8

/* A one-line KEY=VALUE file (recorder.stats, control.stats). */
struct stats_line {
	char text[4096];
	struct ctl_field f[CTL_STATUS_MAX_FIELDS];
	int n; /* 0: none */
};

struct summary {
	bool running;
	bool stopped; /* running, but stopped by a signal: it answers nothing */
	bool dead;    /* not running, its mount still in the table: ENOTCONN */
	bool have_hosts, have_shadows;
	struct stats_line rec, control;
	long hosts_up, hosts_down;
	long files, pinned, hot, copies;
	char state_name[MAX_STATES][32];
	long state_count[MAX_STATES];
	int nstates;
};

static bool mount_running(const struct pred_location *loc)
{
	if (loc->pid <= 0)
		return false;
	if (kill((pid_t)loc->pid, 0) != 0 && errno != EPERM)
		return false;
	char path[64], comm[64] = "";
	snprintf(path, sizeof(path), "/proc/%ld/comm", loc->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(comm, sizeof(comm), f) && !strncmp(comm, "shadowfs", 8);
	fclose(f);
	return ok;
}

/* Whether the running process pid is stopped (SIGSTOP, SIGTSTP, or a
 * tracer's): its state in /proc/PID/stat is T or t. */
static bool process_stopped(long pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	const char *paren = got ? strrchr(line, ')') : NULL; /* after the comm */
	return paren && paren[1] == ' ' && (paren[2] == 'T' || paren[2] == 't');
}

static int is_fuse_mount_at(const struct sfs_mount_entry *e, void *mountpoint)
{
	return !strcmp(e->mountpoint, mountpoint) && !strncmp(e->fstype, "fuse", 4);
}

/* Whether a FUSE mount is still at the mountpoint of a mount whose process
 * is gone (killed, crashed): every access there fails with ENOTCONN until
 * it is unmounted. From the mount table, never a look into the mount. */
static bool mount_left_dead(const struct pred_location *loc)
{
	return loc->mountpoint[0] &&
	       sfs_mountinfo_each(is_fuse_mount_at, (void *)loc->mountpoint) > 0;
}

static void read_stats_line(const struct pred_location *loc, const char *name,
			    struct stats_line *l)
{
	FILE *in = ctl_status_open(loc, name);
	if (!in)
		return;
	size_t n = fread(l->text, 1, sizeof(l->text) - 1, in);
	fclose(in);
	l->text[n] = '\0';
	l->n = ctl_status_split(l->text, l->f);
}

/* Prints tmpl with each {KEY} replaced by KEY's value in l. */
static void print_stats_line(const struct stats_line *l, const char *tmpl)
{
	for (const char *p = tmpl; *p; p++) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL;
		if (!end) {
			putchar(*p);
			continue;
		}
		char key[64];
		size_t n = (size_t)(end - p - 1) < sizeof(key) - 1 ? (size_t)(end - p - 1)
								  : sizeof(key) - 1;
		memcpy(key, p + 1, n);
		key[n] = '\0';
		fputs(ctl_status_get(l->f, l->n, key), stdout);
		p = end;
	}
}

static void count_state(struct summary *s, const char *state, size_t len)
{
	for (int i = 0; i < s->nstates; i++)
		if (strlen(s->state_name[i]) == len && !strncmp(s->state_name[i], state, len)) {
			s->state_count[i]++;
			return;
		}
	if (s->nstates == MAX_STATES || len >= sizeof(s->state_name[0]))
		return;
	memcpy(s->state_name[s->nstates], state, len);
	s->state_name[s->nstates][len] = '\0';
	s->state_count[s->nstates++] = 1;
}

static void read_hosts(const struct pred_location *loc, struct summary *s)
{
	FILE *in = ctl_status_open(loc, "hosts.status");
	if (!in)
		return;
	char line[8192];
	struct ctl_field f[CTL_STATUS_MAX_FIELDS];
	int n;
	s->have_hosts = true;
	while ((n = ctl_status_next(in, line, sizeof(line), f)) > 0) {
		if (!strcmp(ctl_status_get(f, n, "state"), "up"))
			s->hosts_up++;
		else
			s->hosts_down++;
	}
	fclose(in);
}

/* copy=HOST:vN:STATE:...: the state after the version field. */
static void read_shadows(const struct pred_location *loc, struct summary *s)
{
	FILE *in = ctl_status_open(loc, "shadows.status");
	if (!in)
		return;
	char line[8192];
	struct ctl_field f[CTL_STATUS_MAX_FIELDS];
	int n;
	s->have_shadows = true;
	while ((n = ctl_status_next(in, line, sizeof(line), f)) > 0) {
		s->files++;
		s->pinned += !strcmp(ctl_status_get(f, n, "pinned"), "1");
		s->hot += !strcmp(ctl_status_get(f, n, "hot"), "1");
		for (int i = 0; i < n; i++) {
			if (strcmp(f[i].key, "copy"))
				continue;
			s->copies++;
			struct ctl_copy c;
			if (ctl_status_parse_copy(f[i].value, &c) == 0)
				count_state(s, c.state, strlen(c.state));
		}
	}
	fclose(in);
}

static void print_text(const struct pred_location *loc, const struct summary *s)
{
	const char *mp = loc->mountpoint[0] ? loc->mountpoint : "(unknown)";
	if (loc->pid > 0 && s->dead)
		printf("mount      %s (pid %ld, not running; its mount is still there, dead: "
		       "every access fails until 'fusermount3 -u %s')\n",
		       mp, loc->pid, mp);
	else if (loc->pid > 0)
		printf("mount      %s (pid %ld, %s)\n", mp, loc->pid,
		       s->stopped   ? "stopped by a signal: it answers nothing until "
				      "SIGCONT"
		       : s->running ? "running"
				    : "not running");
	else
		printf("mount      %s (not running)\n", mp);
	printf("backing    %s\n", loc->backing[0] ? loc->backing : "(unknown)");
	printf("state      %s\n", loc->state_dir);
	if (s->rec.n > 0) {
		print_stats_line(&s->rec, "recording  bucket {bucket_s} s; {tracked} file(s) tracked "
					  "(bound {track}, {bytes_per_file} B each); {events} events "
					  "({tail_events} in the tail sketch, {dropped} dropped); "
					  "{flushes} bucket flushes, {flush_errors} failed\n");
		const char *handles = ctl_status_get(s->rec.f, s->rec.n, "file_handles");
		if (!strcmp(handles, "1"))
			print_stats_line(&s->rec, "inodes     {inodes} known to the kernel, by file "
						  "handle; {inode_fds} O_PATH fds open (cache bound "
						  "{inode_fd_cache}), {inode_reopens} reopens\n");
		else if (!strcmp(handles, "0"))
			print_stats_line(&s->rec, "inodes     {inodes} known to the kernel, "
						  "{inodes_by_name} of them by name (no file handles); "
						  "{inode_fds} O_PATH fds open (cache bound "
						  "{inode_fd_cache}), {inode_reopens} reopens\n");
	} else {
		printf("recording  off (mounted with norecord)\n");
	}
	if (s->have_hosts)
		printf("hosts      %ld up, %ld down  (shadowctl hosts)\n", s->hosts_up,
		       s->hosts_down);
	else
		printf("hosts      none (mounted without -o hosts=)\n");
	if (s->have_shadows) {
		printf("shadows    %ld file%s (%ld pinned, %ld forecast hot), %ld cop%s", s->files,
		       s->files == 1 ? "" : "s", s->pinned, s->hot, s->copies,
		       s->copies == 1 ? "y" : "ies");
		for (int i = 0; i < s->nstates; i++)
			printf("%s%ld %s", i ? ", " : ": ", s->state_count[i], s->state_name[i]);
		printf("  (shadowctl shadows)\n");
	} else {
		printf("shadows    none\n");
	}
	if (s->control.n > 0)
		print_stats_line(&s->control,
				 "control    a pass every {tick_ms} ms, the last took {pass_ms} ms: "
				 "looked at {looked} of {entries} entries, {quiet_left} settled and "
				 "unread left alone (each looked at one pass in {quiet_every}); "
				 "{freed} freed since the mount\n");
}

static void print_json(const struct pred_location *loc, const struct summary *s)
{
	printf("{\"mountpoint\":");
	ctl_json_string(stdout, loc->mountpoint);
	printf(",\"backing\":");
	ctl_json_string(stdout, loc->backing);
	printf(",\"state_dir\":");
	ctl_json_string(stdout, loc->state_dir);
	printf(",\"pid\":%ld,\"running\":%s,\"stopped\":%s,\"dead_mount\":%s,\"recorder\":",
	       loc->pid, s->running ? "true" : "false", s->stopped ? "true" : "false",
	       s->dead ? "true" : "false");
	if (s->rec.n > 0)
		ctl_status_print_json(s->rec.f, s->rec.n);
	else
		printf("null");
	if (s->have_hosts)
		printf(",\"hosts\":{\"up\":%ld,\"down\":%ld}", s->hosts_up, s->hosts_down);
	else
		printf(",\"hosts\":null");
	if (s->have_shadows) {
		printf(",\"shadows\":{\"files\":%ld,\"pinned\":%ld,\"hot\":%ld,\"copies\":%ld,"
		       "\"copy_states\":{",
		       s->files, s->pinned, s->hot, s->copies);
		for (int i = 0; i < s->nstates; i++) {
			printf("%s", i ? "," : "");
			ctl_json_string(stdout, s->state_name[i]);
			printf(":%ld", s->state_count[i]);
		}
		printf("}}");
	} else {
		printf(",\"shadows\":null");
	}
	printf(",\"control\":");
	if (s->control.n > 0)
		ctl_status_print_json(s->control.f, s->control.n);
	else
		printf("null");
	printf("}\n");
}

int ctl_overview_main(int argc, char **argv)
{
	bool json;
	struct pred_location loc;
	int rc = ctl_status_args(argc, argv, "status", &loc, &json);
	if (rc >= 0)
		return rc;
	struct summary *s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "shadowctl status: out of memory\n");
		return 1;
	}
	s->running = mount_running(&loc);
	s->stopped = s->running && process_stopped(loc.pid);
	s->dead = !s->running && mount_left_dead(&loc);
	read_stats_line(&loc, "recorder.stats", &s->rec);
	read_stats_line(&loc, "control.stats", &s->control);
	read_hosts(&loc, s);
	read_shadows(&loc, s);
	if (json)
		print_json(&loc, s);
	else
		print_text(&loc, s);
	free(s);
	return 0;
}
