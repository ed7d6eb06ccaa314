/* Helpers shared by the shadowctl subcommands that read a mount's series
 * store (top, stats): finding and opening the store, durations, JSON, file
 * names in tables. */
#ifndef SHADOWFS_TOOLS_CTL_STORE_H
#define SHADOWFS_TOOLS_CTL_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "predictor/series_store.h"
#include "predictor/store_locate.h"

/* Opens the store read-only. cmd: the message prefix ("shadowctl top");
 * state: a --state argument (a state directory, or a mountpoint) or NULL;
 * path: where to look when state is NULL (a mountpoint or a path under
 * one). Fills *loc. Prints the reason to stderr and returns non-zero on
 * failure. */
int ctl_store_open(const char *cmd, const char *state, const char *path, struct pred_location *loc,
		   struct pred_store **ret);

/* Closes a store ctl_store_open opened, after one line on stderr naming
 * cmd when its reads skipped damaged rows (pred_store_damaged_rows). */
void ctl_store_close(const char *cmd, struct pred_store *st);

/* Before reading the state directory dir: whether this user may (one of
 * another user's is 0700): 0, or 1 after a one-line message naming cmd
 * ("shadowctl status") and the directory's owner (without the check the
 * status files read as missing: "recording off", "no hosts"). Root then
 * goes on as the directory's owner when it is another user's and so is
 * the store in it (setfsuid): that user writes those files. */
int ctl_state_enter(const char *cmd, const char *dir);

/* For the mount-wide views (top, load): the optional MOUNTPOINT operand at
 * argv[optind] (excluded by --state, given as state), then the store.
 * -1 when opened, else the exit status (2 usage, 1 failure; message
 * printed). */
int ctl_store_open_view(const char *cmd, int argc, char **argv, const char *usage,
			const char *state, struct pred_location *loc, struct pred_store **ret);

/* For the subcommands about one file (stats, forecast): opens the store of
 * the mount that holds PATH, or with state (a state directory or a
 * mountpoint) that store, PATH then being under that mount or relative to
 * its root. Fills loc (loc->rel: PATH relative to the mount root). Prints
 * the reason and returns non-zero on failure. */
int ctl_store_open_for_path(const char *cmd, const char *state, const char *path,
			    struct pred_location *loc, struct pred_store **ret);

/* The stable id of loc->rel: its user.shadow.id xattr in BACKING (a renamed
 * file keeps its history), else the store's index of last recorded paths.
 * 0 or -errno (-ENOENT: nothing recorded). */
int ctl_store_file_id(const struct pred_location *loc, struct pred_store *st,
		      uint8_t id[PRED_ID_LEN]);

/* "reads", "bytes", "opens", "events" -> the demand measure; -EINVAL. */
int ctl_parse_demand(const char *s, enum pred_top_order *ret);

/* Option values shared by the store subcommands: --window DUR and
 * --tier N (0..PRED_STORE_MAX_TIERS-1). 0, or 2 (the usage-error status)
 * after a one-line message naming cmd ("shadowctl stats"). */
int ctl_opt_window(const char *cmd, const char *arg, int64_t *ret);
int ctl_opt_tier(const char *cmd, const char *arg, int *ret);

/* The options of a window view of the store (stats, load):
 * --state DIR|MNT, --window DUR, --tier N, --json, --help. */
struct ctl_view_opts {
	const char *state; /* NULL: none given */
	int64_t window;    /* seconds back from now */
	int tier;          /* PRED_TIER_AUTO: the finest that covers the window */
	bool json;
};
/* Parses argv (argv[0] the subcommand) into o, whose window is preset to
 * the subcommand's default; optind is then at the first operand. Returns
 * -1 to go on, else the exit status (0 after --help, 2 after a usage
 * error, message printed). */
int ctl_parse_view_opts(int argc, char **argv, const char *cmd, const char *usage,
			struct ctl_view_opts *o);

/* The tier a view reads: o->tier, or with PRED_TIER_AUTO the finest whose
 * retention covers the window back from now. After a message when the
 * store has fewer tiers: -2 for a --tier given (a usage error, status 2),
 * else -1. */
int ctl_view_tier(struct pred_store *st, const char *cmd, const struct ctl_view_opts *o,
		  int64_t now);

/* "90", "90s", "15m", "2h", "3d", "1w", "1y" -> seconds; -EINVAL otherwise. */
int ctl_parse_duration(const char *s, int64_t *ret);

/* Writes s as a JSON string literal (quotes included); a byte that is not
 * part of well-formed UTF-8 (a file name in another encoding) is written
 * as U+FFFD, so the output stays JSON. */
void ctl_json_string(FILE *out, const char *s);

/* Whether s is a number in JSON's own grammar (-?(0|[1-9][0-9]*)(.[0-9]+)?
 * ([eE][+-]?[0-9]+)?), i.e. may be written unquoted: "nan", "inf", "0x10",
 * ".5" or " 5" may not. */
bool ctl_json_number_text(const char *s);

/* A file name in a table column of width (0: the last column): control
 * bytes and backslashes escaped (\n, \t, \\, \xHH) so that the row stays
 * one line, padded to width. Every table that prints a path goes through
 * it (shadows, top, stats, forecast), and load its device names. Returns
 * the columns written, padding aside. */
int ctl_print_name(FILE *out, const char *s, int width);

/* A finite double as JSON with printf's %.*f (prec digits), else null
 * (a REAL column of a store may hold an infinity: "inf" is not JSON). */
void ctl_json_double(FILE *out, double v, int prec);

/* "YYYY-MM-DD HH:MM:SS" (UTC) of t into buf, or t's digits when it is
 * beyond what gmtime can represent (a bucket start edited into a store). */
const char *ctl_utc_text(int64_t t, char *buf, size_t len);

/* "1.5 GiB"-style size into buf. */
const char *ctl_human_bytes(uint64_t v, char *buf, size_t len);

#endif
