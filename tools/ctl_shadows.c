/* shadowctl shadows: the files a mount shadows, their copies, the copies'
 * states and read counters, as the mount's control loop last wrote them
 * (STATE/shadows.status, fs/shadowing.c, every tick: one file per line,
 * path="..." pinned= hot= reactive= replicas= version=vN writers=
 * origin_reads= quiet= id=UUID copies=N, then
 * copy=HOST:vN:STATE:reads=R:errors=E:lat_us=L:share=S:step=I/N:rollout=PHASE
 * [:why=REASON][:retry_when_origin_pQ_us>N] per copy: the rollout's share
 * in percent, step, phase, last regression or rollback, and what retries
 * a copy rolled back for latency early, fs/rollout.c; remote copies add
 * :sync=METHOD:sent=BYTES of their last sync).
 *   shadowctl shadows [MNT|--state DIR] [--json]
 * In JSON a file's copies are "copy" fields in the order written. */
#include <stdio.h>
#include <string.h>

#include "tools/ctl.h"
#include "tools/ctl_status.h"
#include "tools/ctl_store.h"

static void header(void)
{
	printf("%-40s %-6s %-4s %-8s %-8s %s\n", "FILE", "PINNED", "WANT", "VERSION", "ORIGIN",
	       "COPIES");
}

static void row(const struct ctl_field *f, int n)
{
	/* WANT: the copies the file should have now (its replica count; 0 when
	 * unwanted, "-" from a mount that predates the field) */
	const char *want = ctl_status_get(f, n, "replicas");
	ctl_print_name(stdout, ctl_status_get(f, n, "path"), 40);
	printf(" %-6s %-4s %-8s %-8s", ctl_status_get(f, n, "pinned"), want[0] ? want : "-", ctl_status_get(f, n, "version"),
	       ctl_status_get(f, n, "origin_reads"));
	int copies = 0;
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].key, "copy")) {
			printf(" %s", f[i].value);
			copies++;
		}
	if (!copies)
		printf(" -");
	putchar('\n');
}

int ctl_shadows_main(int argc, char **argv)
{
	static const struct ctl_status_kind kind = {
	    .cmd = "shadows",
	    .file = "shadows.status",
	    .missing = "shadows nothing (mounted without -o hosts=)",
	    .header = header,
	    .row = row,
	};
	return ctl_status_main(argc, argv, &kind);
}
