/* shadowctl hosts: the resource hosts of a mount and their state, as the
 * mount's watchers last saw them (STATE/hosts.status, written by
 * fs/hosts.c: one host per line, KEY=VALUE fields, reason="..." quoted).
 *   shadowctl hosts [MNT|--state DIR] [--json] */
#include <stdio.h>
#include <string.h>

#include "tools/ctl.h"
#include "tools/ctl_status.h"

static void header(void)
{
	printf("%-28s %-6s %-5s %6s  %s\n", "HOST", "KIND", "STATE", "COST", "DETAILS");
}

static void row(const struct ctl_field *f, int n)
{
	printf("%-28s %-6s %-5s %6s ", ctl_status_get(f, n, "host"), ctl_status_get(f, n, "kind"),
	       ctl_status_get(f, n, "state"), ctl_status_get(f, n, "cost"));
	for (int i = 0; i < n; i++) {
		const char *k = f[i].key;
		if (!strcmp(k, "host") || !strcmp(k, "kind") || !strcmp(k, "state") ||
		    !strcmp(k, "cost"))
			continue;
		printf(strchr(f[i].value, ' ') ? " %s=\"%s\"" : " %s=%s", k, f[i].value);
	}
	putchar('\n');
}

int ctl_hosts_main(int argc, char **argv)
{
	static const struct ctl_status_kind kind = {
	    .cmd = "hosts",
	    .file = "hosts.status",
	    .missing = "has no hosts (mounted without -o hosts=)",
	    .header = header,
	    .row = row,
	};
	return ctl_status_main(argc, argv, &kind);
}
