/* shadowctl hosts: the resource hosts of a mount and their state, as the
 * mount's watchers last saw them (STATE/hosts.status, written by
 * fs/hosts.c: one host per line, KEY=VALUE fields, reason="..." quoted).
 *   shadowctl hosts [MNT|--state DIR] [--json] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/store_locate.h"
#include "tools/ctl.h"
#include "tools/ctl_store.h"

#define MAX_FIELDS 24

struct field {
	char *key, *value;
};

/* Splits one status line in place; returns the field count. */
static int split_fields(char *line, struct field *f)
{
	int n = 0;
	char *p = line;
	while (*p && n < MAX_FIELDS) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		char *eq = strchr(p, '=');
		if (!eq)
			break;
		*eq = '\0';
		f[n].key = p;
		p = eq + 1;
		if (*p == '"') {
			f[n].value = ++p;
			while (*p && *p != '"')
				p++;
		} else {
			f[n].value = p;
			while (*p && *p != ' ' && *p != '\n')
				p++;
		}
		if (*p)
			*p++ = '\0';
		n++;
	}
	return n;
}

static const char *get(const struct field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].key, key))
			return f[i].value;
	return "";
}

static bool is_number(const char *s)
{
	char *end;
	if (!*s)
		return false;
	strtod(s, &end);
	return *end == '\0';
}

int ctl_hosts_main(int argc, char **argv)
{
	const char *state = NULL, *path = NULL;
	bool json = false;
	struct pred_location loc;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
			state = argv[++i];
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "usage: shadowctl hosts [MNT|--state DIR] [--json]\n");
			return 2;
		} else {
			path = argv[i];
		}
	}
	const char *where = state ? state : path ? path : ".";
	if (pred_locate(where, &loc) != 0 && pred_locate_state_dir(where, &loc) != 0) {
		fprintf(stderr, "shadowctl hosts: %s is neither a state directory nor under a known "
				"shadowfs mount (try --state DIR)\n",
			where);
		return 1;
	}
	char file[sizeof(loc.state_dir) + 16];
	snprintf(file, sizeof(file), "%s/hosts.status", loc.state_dir);
	FILE *in = fopen(file, "r");
	if (!in) {
		if (errno == ENOENT)
			fprintf(stderr, "shadowctl hosts: %s has no hosts (mounted without -o hosts=)\n",
				loc.mountpoint[0] ? loc.mountpoint : loc.state_dir);
		else
			fprintf(stderr, "shadowctl hosts: %s: %s\n", file, strerror(errno));
		return 1;
	}
	char line[2048];
	struct field f[MAX_FIELDS];
	bool first = true;
	if (json)
		printf("[");
	else
		printf("%-28s %-6s %-5s %6s  %s\n", "HOST", "KIND", "STATE", "COST", "DETAILS");
	while (fgets(line, sizeof(line), in)) {
		int n = split_fields(line, f);
		if (n == 0)
			continue;
		if (json) {
			printf("%s{", first ? "" : ",");
			for (int i = 0; i < n; i++) {
				printf("%s", i ? "," : "");
				ctl_json_string(stdout, f[i].key);
				putchar(':');
				if (is_number(f[i].value))
					printf("%s", f[i].value);
				else
					ctl_json_string(stdout, f[i].value);
			}
			printf("}");
			first = false;
			continue;
		}
		printf("%-28s %-6s %-5s %6s ", get(f, n, "host"), get(f, n, "kind"),
		       get(f, n, "state"), get(f, n, "cost"));
		for (int i = 0; i < n; i++) {
			const char *k = f[i].key;
			if (!strcmp(k, "host") || !strcmp(k, "kind") || !strcmp(k, "state") ||
			    !strcmp(k, "cost"))
				continue;
			printf(strchr(f[i].value, ' ') ? " %s=\"%s\"" : " %s=%s", k, f[i].value);
		}
		putchar('\n');
	}
	if (json)
		printf("]\n");
	fclose(in);
	return 0;
}
