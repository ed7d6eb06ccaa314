/* shadowctl: inspect and steer shadowfs mounts and shadowd hosts.
 * A {name, main, usage, help} table dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "tools/ctl.h"

static const struct ctl_command commands[] = {
	{"version", ctl_version_main, "", "print the shadowctl version"},
	{"ca", ctl_ca_main, "init DIR [--days N] | issue DIR HOST [--ip A]... [--days N]",
	 "cluster CA and host certificates"},
	{"status", ctl_overview_main, "[MNT|--state DIR] [--json]", "one screen on a mount: running, recording, hosts, shadows"},
	{"top", ctl_top_main, "[--state DIR|MNT] [--window DUR] [-n N] [--by KIND] [--json]", "files with the most recorded demand"},
	{"stats", ctl_stats_main, "PATH [--state DIR|MNT] [--window DUR] [--tier N] [--json]", "recorded buckets of one file"},
	{"forecast", ctl_forecast_main,
	 "[PATH|MNT] [--state DIR|MNT] [--bucket DUR] [--season N] [--history DUR] "
	 "[--horizon N] [--window N] [--capacity N] [--threshold P] [--by KIND] [-n N] [--json]", "forecast demand and P(overload) of the busiest files"},
	{"load", ctl_load_main, "[MNT|--state DIR] [--window DUR] [--tier N] [--json]", "the origin host's recorded load per bucket"},
	{"hosts", ctl_hosts_main, "[MNT|--state DIR] [--json]", "a mount's resource hosts, up or down"},
	{"shadows", ctl_shadows_main, "[MNT|--state DIR] [--json]",
	 "a mount's shadowed files, their copies, states and read counts"},
	{"why", ctl_why_main, "PATH [--json]",
	 "why a file is (not) shadowed: settings and their sources, forecast, trigger, copies"},
	/* TLS is required (the footer says what it is): not in brackets */
	{"host", ctl_host_main, "status|list|watch H:P [--interval MS] [--count N] [--json] TLS",
	 "a shadowd's store, load, copies, heartbeats"},
	{"push", ctl_push_main,
	 "FILE H:P [--id UUID] [--version N] [--full] [--keep-old] [--progress|--quiet] TLS",
	 "replicate a file to a shadowd (delta when it can)"},
};

static void print_usage(FILE *out)
{
	fprintf(out, "usage: shadowctl COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		char head[256];
		snprintf(head, sizeof(head), "%s %s", commands[i].name, commands[i].usage);
		if (strlen(head) > 56) /* the help under it, in its column */
			fprintf(out, "  %s\n  %-56s %s\n", head, "", commands[i].help);
		else
			fprintf(out, "  %-56s %s\n", head, commands[i].help);
	}
	fprintf(out, "\nTLS: --certs DIR [--name NAME] | --cert F --key F --ca F; [--timeout MS]\n"
		     "\nSee shadowctl(1).\n");
}

int ctl_version_main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: shadowctl version\n");
		return 0;
	}
	if (argc > 1) { /* was ignored: a typo read as a success */
		fprintf(stderr, "usage: shadowctl version\n");
		return 2;
	}
	printf("shadowctl %s\n", SHADOWFS_VERSION);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) /* as shadowfs and shadowd */
		return ctl_version_main(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			/* getopt's messages start with argv[0]: "shadowctl top:",
			 * as the subcommands' own ("top:" alone before). */
			char name[64];
			snprintf(name, sizeof(name), "shadowctl %s", commands[i].name);
			argv[1] = name;
			return commands[i].main(argc - 1, argv + 1);
		}
	fprintf(stderr, "shadowctl: unknown command '%s' (try 'shadowctl help')\n", argv[1]);
	return 2;
}
