/* shadowctl subcommands: one file per subcommand (ctl_<name>.c exposes
 * ctl_<name>_main), listed in the table in shadowctl.c, which also prints the
 * usage. Each returns a process exit status: 0 success, 1 failure (message
 * already printed to stderr), 2 usage error (usage on stderr); -h and --help
 * print the usage on stdout and return 0 (help asked for is no error).
 * Messages start "shadowctl NAME: " (NAME the subcommand). */
#ifndef SHADOWFS_TOOLS_CTL_H
#define SHADOWFS_TOOLS_CTL_H

struct ctl_command {
	const char *name;
	int (*main)(int argc, char **argv); /* argv[0]: "shadowctl NAME" */
	const char *usage;                  /* arguments, after the name */
	const char *help;                   /* one line */
};

int ctl_version_main(int argc, char **argv);
int ctl_ca_main(int argc, char **argv);
int ctl_top_main(int argc, char **argv);
int ctl_stats_main(int argc, char **argv);
int ctl_host_main(int argc, char **argv);
int ctl_hosts_main(int argc, char **argv);
int ctl_shadows_main(int argc, char **argv);
int ctl_push_main(int argc, char **argv);
int ctl_forecast_main(int argc, char **argv);
int ctl_load_main(int argc, char **argv);
int ctl_overview_main(int argc, char **argv);
int ctl_why_main(int argc, char **argv);

#endif
