/* shadowctl status: one screen on a mount: where it is and whether it
 * runs, what its recorder holds (STATE/recorder.stats), how many of its
 * hosts are up (STATE/hosts.status) and what it shadows
 * (STATE/shadows.status), with the subcommands that show each in full.
 *   shadowctl status [MNT|--state DIR] [--json] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"
#include "tools/ctl_status.h"
#include "tools/ctl_store.h"

#define MAX_STATES 8

struct summary {
	bool running;
	bool have_rec, have_hosts, have_shadows;
	char rec_text[4096];
	struct ctl_field rec[CTL_STATUS_MAX_FIELDS];
	int nrec;
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

static void read_recorder(const struct pred_location *loc, struct summary *s)
{
	FILE *in = ctl_status_open(loc, "recorder.stats");
	if (!in)
		return;
	size_t n = fread(s->rec_text, 1, sizeof(s->rec_text) - 1, in);
	fclose(in);
	s->rec_text[n] = '\0';
	s->nrec = ctl_status_split(s->rec_text, s->rec);
	s->have_rec = s->nrec > 0;
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
	if (loc->pid > 0)
		printf("mount      %s (pid %ld, %s)\n", mp, loc->pid,
		       s->running ? "running" : "not running");
	else
		printf("mount      %s (not running)\n", mp);
	printf("backing    %s\n", loc->backing[0] ? loc->backing : "(unknown)");
	printf("state      %s\n", loc->state_dir);
	if (s->have_rec) {
		const struct ctl_field *f = s->rec;
		int n = s->nrec;
		printf("recording  bucket %s s; %s file(s) tracked (bound %s, %s B each); %s events "
		       "(%s in the tail sketch, %s dropped); %s bucket flushes, %s failed\n",
		       ctl_status_get(f, n, "bucket_s"), ctl_status_get(f, n, "tracked"),
		       ctl_status_get(f, n, "track"), ctl_status_get(f, n, "bytes_per_file"),
		       ctl_status_get(f, n, "events"), ctl_status_get(f, n, "tail_events"),
		       ctl_status_get(f, n, "dropped"), ctl_status_get(f, n, "flushes"),
		       ctl_status_get(f, n, "flush_errors"));
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
}

static void print_json(const struct pred_location *loc, const struct summary *s)
{
	printf("{\"mountpoint\":");
	ctl_json_string(stdout, loc->mountpoint);
	printf(",\"backing\":");
	ctl_json_string(stdout, loc->backing);
	printf(",\"state_dir\":");
	ctl_json_string(stdout, loc->state_dir);
	printf(",\"pid\":%ld,\"running\":%s,\"recorder\":", loc->pid,
	       s->running ? "true" : "false");
	if (s->have_rec)
		ctl_status_print_json(s->rec, s->nrec);
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
	read_recorder(&loc, s);
	read_hosts(&loc, s);
	read_shadows(&loc, s);
	if (json)
		print_json(&loc, s);
	else
		print_text(&loc, s);
	free(s);
	return 0;
}
