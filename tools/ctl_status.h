/* Status files a mount writes for shadowctl (STATE/hosts.status,
 * STATE/shadows.status: one object per line, KEY=VALUE fields separated by
 * spaces, VALUE="..." when it may hold spaces, with \", \\, \n, \t and
 * \xHH inside, undone by ctl_status_split). One reader for the
 * subcommands that print them: finds the mount's state directory, prints
 * a table (the kind's header and rows) or JSON (an array of objects, numbers
 * unquoted). */
#ifndef SHADOWFS_TOOLS_CTL_STATUS_H
#define SHADOWFS_TOOLS_CTL_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "predictor/store_locate.h"

#define CTL_STATUS_MAX_FIELDS 32

struct ctl_field {
	char *key, *value;
};

struct ctl_status_kind {
	const char *cmd;     /* "hosts" */
	const char *file;    /* "hosts.status" */
	const char *missing; /* printed after "MNT " when the file does not exist */
	void (*header)(void);
	void (*row)(const struct ctl_field *f, int n);
};

/* The arguments every status view takes, [MNT|--state DIR] [--json]
 * [--help]: finds the mount's state directory. -1 to go on, else the exit
 * status (0 after --help, usage on stdout; message printed). */
int ctl_status_args(int argc, char **argv, const char *cmd, struct pred_location *loc, bool *json);
/* Opens STATE/name for reading (NULL with errno set). */
FILE *ctl_status_open(const struct pred_location *loc, const char *name);
/* Splits KEY=VALUE fields separated by spaces or newlines, in place, into
 * f (at most CTL_STATUS_MAX_FIELDS); returns the field count. */
int ctl_status_split(char *line, struct ctl_field *f);
/* The next non-empty line of a status file, split in place into f
 * (CTL_STATUS_MAX_FIELDS); its field count, 0 at the end. */
int ctl_status_next(FILE *in, char *line, size_t len, struct ctl_field *f);
/* f as one JSON object (numbers unquoted). */
void ctl_status_print_json(const struct ctl_field *f, int n);

/* One copy of a shadows.status / user.shadow.state line,
 * "HOST:vN:STATE[:KEY=VALUE...]" (HOST may hold ':': a remote host's
 * ADDR:PORT, a path), split at its version field. */
struct ctl_copy {
	char host[512];
	char version[32]; /* "vN" */
	char state[32];
	char reads[32];	  /* the reads= field, "" when absent */
	const char *rest; /* the KEY=VALUE fields after STATE (into the value) */
};
/* 0, or -1 when value has no ":vN:STATE" part. */
int ctl_status_parse_copy(const char *value, struct ctl_copy *ret);
/* The value of KEY= among a copy's fields (rest: "K=V:K=V..."; a field
 * starts rest or follows a ':'), up to the next ':' or space, into out
 * (truncated to len - 1); "" when absent. */
void ctl_copy_field(const char *rest, const char *key, char *out, size_t len);

/* `shadowctl CMD [MNT|--state DIR] [--json]`. */
int ctl_status_main(int argc, char **argv, const struct ctl_status_kind *k);
/* The value of key in f[0..n-1], "" when absent. */
const char *ctl_status_get(const struct ctl_field *f, int n, const char *key);

#endif
