/* Helpers shared by the shadowctl subcommands that read a mount's series
 * store (top, stats): finding and opening the store, durations, JSON. */
#ifndef SHADOWFS_TOOLS_CTL_STORE_H
#define SHADOWFS_TOOLS_CTL_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "predictor/series_store.h"
#include "predictor/store_locate.h"

/* Opens the store read-only. state: a --state argument (a state directory,
 * or a mountpoint) or NULL; path: where to look when state is NULL (a
 * mountpoint or a path under one). Fills *loc. Prints the reason to stderr
 * and returns non-zero on failure. */
int ctl_store_open(const char *state, const char *path, struct pred_location *loc,
		   struct pred_store **ret);

/* "90", "90s", "15m", "2h", "3d", "1w", "1y" -> seconds; -EINVAL otherwise. */
int ctl_parse_duration(const char *s, int64_t *ret);

/* Writes s as a JSON string literal (quotes included). */
void ctl_json_string(FILE *out, const char *s);

/* "1.5 GiB"-style size into buf. */
const char *ctl_human_bytes(uint64_t v, char *buf, size_t len);

#endif
