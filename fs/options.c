/* shadowfs options: the fuse_opt table, value validation and the list of
 * standard FUSE/mount options passed on to libfuse. See options.h. */
#include "fs/options.h"

#include "common/parse.h"
#include "daemon/shadow_map.h"
#include "fs/hosts.h"
#include "fs/ops.h"

#include "predictor/model.h"
#include "predictor/series_store.h"
#include "sync/tls.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_CACHE,
	KEY_WRITEBACK,
	KEY_NO_WRITEBACK,
	KEY_PASSTHROUGH,
	KEY_NO_PASSTHROUGH,
	KEY_IO_URING,
	KEY_NO_IO_URING,
	KEY_SPLICE,
	KEY_NO_SPLICE,
	KEY_READDIRPLUS,
	KEY_NO_READDIRPLUS,
	KEY_MAX_READ,
	KEY_MAX_WRITE,
	KEY_THREADS,
	KEY_MAX_IDLE,
	KEY_FD_CACHE,
	KEY_DIRTY_SHARE,
	KEY_TIMEOUT,
	KEY_NEG_TIMEOUT,
	KEY_LOCKS,
	KEY_STATE,
	KEY_BUCKET,
	KEY_TRACK,
	KEY_TIERS,
	KEY_RECORD,
	KEY_NORECORD,
	KEY_HOSTS,
	KEY_TLS,
	KEY_TLS_NAME,
	KEY_SHADOW_TICK,
	KEY_SHADOW_IDLE,
	KEY_SHADOW_QUIET,
	KEY_SHADOW_ALL,
	KEY_SHADOW_CAPACITY,
	KEY_SHADOW_THRESHOLD,
	KEY_SHADOW_WINDOW,
	KEY_SHADOW_VERIFY,
	KEY_SHADOW_COPIES,
	KEY_SHADOW_REACT,
	KEY_ROLLOUT,
	KEY_ROLLOUT_INTERVAL,
	KEY_ROLLBACK_FACTOR,
	KEY_ROLLOUT_MIN_READS,
	KEY_ROLLOUT_COOLDOWN,
	KEY_FAULT_COPY_DELAY,
	KEY_FAULT_VERIFY_DELAY,
	KEY_FAULT_START_DELAY,
	KEY_FAULT_RENAME_RECORD_DELAY,
	KEY_FAULT_ORIGIN_DELAY_FILE,
	KEY_REMOTE_TIMEOUT,
	KEY_COPY_RATE,
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMS,
	KEY_NO_DEFAULT_PERMS,
};

static const struct fuse_opt option_table[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("cache=%s", KEY_CACHE),
	FUSE_OPT_KEY("writeback", KEY_WRITEBACK),
	FUSE_OPT_KEY("writeback_cache", KEY_WRITEBACK),
	FUSE_OPT_KEY("no_writeback", KEY_NO_WRITEBACK),
	FUSE_OPT_KEY("no_writeback_cache", KEY_NO_WRITEBACK),
	FUSE_OPT_KEY("passthrough", KEY_PASSTHROUGH),
	FUSE_OPT_KEY("no_passthrough", KEY_NO_PASSTHROUGH),
	FUSE_OPT_KEY("io_uring", KEY_IO_URING),
	FUSE_OPT_KEY("no_io_uring", KEY_NO_IO_URING),
	FUSE_OPT_KEY("splice", KEY_SPLICE),
	FUSE_OPT_KEY("no_splice", KEY_NO_SPLICE),
	FUSE_OPT_KEY("readdirplus", KEY_READDIRPLUS),
	FUSE_OPT_KEY("no_readdirplus", KEY_NO_READDIRPLUS),
	FUSE_OPT_KEY("max_read=%s", KEY_MAX_READ),
	FUSE_OPT_KEY("max_write=%s", KEY_MAX_WRITE),
	FUSE_OPT_KEY("threads=%s", KEY_THREADS),
	FUSE_OPT_KEY("max_threads=%s", KEY_THREADS),
	FUSE_OPT_KEY("max_idle_threads=%s", KEY_MAX_IDLE),
	FUSE_OPT_KEY("fd_cache=%s", KEY_FD_CACHE),
	FUSE_OPT_KEY("dirty_share=%s", KEY_DIRTY_SHARE),
	FUSE_OPT_KEY("timeout=%s", KEY_TIMEOUT),
	FUSE_OPT_KEY("negative_timeout=%s", KEY_NEG_TIMEOUT),
	FUSE_OPT_KEY("locks=%s", KEY_LOCKS),
	FUSE_OPT_KEY("state=%s", KEY_STATE),
	FUSE_OPT_KEY("bucket=%s", KEY_BUCKET),
	FUSE_OPT_KEY("track=%s", KEY_TRACK),
	FUSE_OPT_KEY("tiers=%s", KEY_TIERS),
	FUSE_OPT_KEY("record", KEY_RECORD),
	FUSE_OPT_KEY("norecord", KEY_NORECORD),
	FUSE_OPT_KEY("record=%s", KEY_RECORD),
	FUSE_OPT_KEY("hosts=%s", KEY_HOSTS),
	FUSE_OPT_KEY("tls=%s", KEY_TLS),
	FUSE_OPT_KEY("tls_name=%s", KEY_TLS_NAME),
	FUSE_OPT_KEY("shadow_tick=%s", KEY_SHADOW_TICK),
	FUSE_OPT_KEY("shadow_idle=%s", KEY_SHADOW_IDLE),
	FUSE_OPT_KEY("shadow_quiet=%s", KEY_SHADOW_QUIET),
	FUSE_OPT_KEY("shadow_all", KEY_SHADOW_ALL),
	FUSE_OPT_KEY("shadow_capacity=%s", KEY_SHADOW_CAPACITY),
	FUSE_OPT_KEY("shadow_threshold=%s", KEY_SHADOW_THRESHOLD),
	FUSE_OPT_KEY("shadow_copies=%s", KEY_SHADOW_COPIES),
	FUSE_OPT_KEY("shadow_react=%s", KEY_SHADOW_REACT),
	FUSE_OPT_KEY("shadow_window=%s", KEY_SHADOW_WINDOW),
	FUSE_OPT_KEY("shadow_verify=%s", KEY_SHADOW_VERIFY),
	FUSE_OPT_KEY("rollout=%s", KEY_ROLLOUT),
	FUSE_OPT_KEY("rollout_interval=%s", KEY_ROLLOUT_INTERVAL),
	FUSE_OPT_KEY("rollback_factor=%s", KEY_ROLLBACK_FACTOR),
	FUSE_OPT_KEY("rollout_min_reads=%s", KEY_ROLLOUT_MIN_READS),
	FUSE_OPT_KEY("rollout_cooldown=%s", KEY_ROLLOUT_COOLDOWN),
	FUSE_OPT_KEY("fault_copy_delay_us=%s", KEY_FAULT_COPY_DELAY),
	FUSE_OPT_KEY("fault_verify_delay_ms=%s", KEY_FAULT_VERIFY_DELAY),
	FUSE_OPT_KEY("fault_start_delay_ms=%s", KEY_FAULT_START_DELAY),
	FUSE_OPT_KEY("fault_rename_record_delay_ms=%s", KEY_FAULT_RENAME_RECORD_DELAY),
	FUSE_OPT_KEY("fault_origin_delay_file=%s", KEY_FAULT_ORIGIN_DELAY_FILE),
	FUSE_OPT_KEY("remote_timeout=%s", KEY_REMOTE_TIMEOUT),
	FUSE_OPT_KEY("copy_rate=%s", KEY_COPY_RATE),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMS),
	FUSE_OPT_KEY("no_default_permissions", KEY_NO_DEFAULT_PERMS),
	FUSE_OPT_END,
};

/* Standard options handed to libfuse unchanged (mount(8) flags and the
 * libfuse mount options). A trailing '=' means "takes a value". */
static const char *const passed_on[] = {
	"allow_root", "auto_unmount", "blkdev", "blksize=", "fsname=", "subtype=",
	"ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync",
	"dirsync", "atime", "noatime", "context=", "fscontext=", "defcontext=", "rootcontext=",
	NULL,
};

/* fstab/mount(8) words that mean nothing to a FUSE filesystem: dropped.
 * The access-time flags but atime/noatime among them: libfuse 3.14 refuses
 * them ("unknown option", and the mount failed: an fstab line with
 * relatime or nodiratime did not mount), and they would change nothing:
 * the kernel never updates a FUSE inode's atime itself (S_NOATIME), it is
 * BACKING's, moved by the reads that reach it. */
static const char *const dropped[] = {
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group",
	"_netdev", "nofail", "nonempty", "comment=", "x-", "diratime", "nodiratime",
	"relatime", "norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime",
	NULL,
};

struct parse_ctx {
	struct fs_options *opts;
	char *errbuf;
	size_t errlen;
	int nonopt;
	bool failed;
	bool have_fsname;
	bool have_subtype;
	bool have_bucket;
	bool have_window;
};

static int fail(struct parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse_ctx *c, const char *fmt, ...)
{
	va_list ap;
	if (!c->failed && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->errbuf, c->errlen, fmt, ap);
		va_end(ap);
	}
	c->failed = true;
	return -1;
}

static bool word_in(const char *arg, const char *const *list)
{
	for (size_t i = 0; list[i]; i++) {
		size_t n = strlen(list[i]);
		bool prefix = list[i][n - 1] == '=' || list[i][n - 1] == '-';
		if (prefix ? strncmp(arg, list[i], n) == 0 : strcmp(arg, list[i]) == 0)
			return true;
	}
	return false;
}

static const char *value_of(const char *arg)
{
	const char *eq = strchr(arg, '=');
	return eq ? eq + 1 : "";
}

static int parse_uint_opt(struct parse_ctx *c, const char *arg, unsigned long long lo,
			  unsigned long long hi, unsigned *ret)
{
	uint64_t v;
	if (sfs_parse_size(value_of(arg), &v) < 0 || v < lo || v > hi)
		return fail(c, "bad option '%s': expected a number from %llu to %llu", arg, lo,
			    hi);
	*ret = (unsigned)v;
	return 0;
}

/* The value of arg as a finite number in [lo, hi]; false otherwise. */
static bool number_in(const char *arg, double lo, double hi, double *ret)
{
	return sfs_parse_number(value_of(arg), lo, hi, ret) == 0;
}

/* A number in [lo, hi]; one message, naming the option's own range
 * (expect), for bad text and a value out of range alike. */
static int parse_number_opt(struct parse_ctx *c, const char *arg, double lo, double hi,
			    const char *expect, double *ret)
{
	double v = 0;
	if (!number_in(arg, lo, hi, &v))
		return fail(c, "bad option '%s': expected %s", arg, expect);
	*ret = v;
	return 0;
}

static int parse_seconds(struct parse_ctx *c, const char *arg, double *ret)
{
	return parse_number_opt(c, arg, 0, 1e9, "a number of seconds from 0 to 1e9", ret);
}

static int set_string(struct parse_ctx *c, const char *arg, char **dst)
{
	char *v = strdup(value_of(arg));
	if (!v)
		return fail(c, "out of memory");
	free(*dst);
	*dst = v;
	return 0;
}

/* state=DIR: kept as an absolute path (the daemon chdirs to /); when DIR
 * exists it must be a directory. The recorder creates it otherwise. */
static int parse_state(struct parse_ctx *c, const char *arg)
{
	const char *v = value_of(arg);
	struct stat st;
	char *abs = NULL;
	if (!*v)
		return fail(c, "bad option '%s': expected state=DIR", arg);
	if (stat(v, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return fail(c, "bad option '%s': %s is not a directory", arg, v);
		abs = realpath(v, NULL);
	} else if (v[0] == '/') {
		abs = strdup(v);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(c, "bad option '%s': cannot resolve relative path", arg);
		size_t n = strlen(cwd) + strlen(v) + 2;
		abs = malloc(n);
		if (abs)
			snprintf(abs, n, "%s/%s", cwd, v);
	}
	if (!abs)
		return fail(c, "bad option '%s': cannot resolve path", arg);
	free(c->opts->state);
	c->opts->state = abs;
	return 0;
}

/* Notes the first option given that acts only with hosts= or only with
 * recording on (fs_options.needs_hosts_opt, needs_record_opt). */
static void note_scoped_option(struct fs_options *o, int key, const char *arg)
{
	char *first;
	switch (key) {
	case KEY_TLS:
	case KEY_TLS_NAME:
	case KEY_SHADOW_TICK:
	case KEY_SHADOW_IDLE:
	case KEY_SHADOW_QUIET:
	case KEY_SHADOW_ALL:
	case KEY_SHADOW_CAPACITY:
	case KEY_SHADOW_THRESHOLD:
	case KEY_SHADOW_WINDOW:
	case KEY_SHADOW_VERIFY:
	case KEY_SHADOW_COPIES:
	case KEY_SHADOW_REACT:
	case KEY_ROLLOUT:
	case KEY_ROLLOUT_INTERVAL:
	case KEY_ROLLBACK_FACTOR:
	case KEY_ROLLOUT_MIN_READS:
	case KEY_ROLLOUT_COOLDOWN:
	case KEY_REMOTE_TIMEOUT:
	case KEY_COPY_RATE:
		first = o->needs_hosts_opt;
		break;
	case KEY_BUCKET:
	case KEY_TRACK:
	case KEY_TIERS:
		first = o->needs_record_opt;
		break;
	default:
		return;
	}
	if (!first[0])
		snprintf(first, sizeof(o->needs_hosts_opt), "%s", arg);
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct parse_ctx *c = data;
	struct fs_options *o = c->opts;
	(void)outargs;
	if (c->failed)
		return -1;
	note_scoped_option(o, key, arg);
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (c->nonopt == 0)
			o->backing = strdup(arg);
		else if (c->nonopt == 1)
			o->mountpoint = strdup(arg);
		else
			return fail(c, "unexpected argument '%s'", arg);
		c->nonopt++;
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (!arg[0]) /* "a,,b": was "unknown option ''" */
			return fail(c, "an empty option in an -o list (a ',' too many?)");
		if (arg[0] == '-')
			return fail(c, "unknown option '%s' (see shadowfs --help)", arg);
		if (word_in(arg, dropped))
			return 0;
		if (word_in(arg, passed_on)) {
			/* empty: refused by the mount later, in two lines */
			if ((!strncmp(arg, "fsname=", 7) || !strncmp(arg, "subtype=", 8)) &&
			    !*value_of(arg))
				return fail(c, "bad option '%s': expected %.*sNAME", arg,
					    (int)(value_of(arg) - arg), arg);
			if (strncmp(arg, "fsname=", 7) == 0)
				c->have_fsname = true;
			if (strncmp(arg, "subtype=", 8) == 0)
				c->have_subtype = true;
			if (strcmp(arg, "allow_root") == 0)
				o->allow_root = true;
			return 1;
		}
		return fail(c, "unknown option '%s' (see shadowfs --help)", arg);
	case KEY_HELP:
		o->show_help = true;
		return 0;
	case KEY_VERSION:
		o->show_version = true;
		return 0;
	case KEY_FOREGROUND:
		o->foreground = true;
		return 0;
	case KEY_DEBUG:
		o->debug = true;
		o->foreground = true;
		return 0;
	case KEY_CACHE: {
		const char *v = value_of(arg);
		if (strcmp(v, "never") == 0)
			o->cache = FS_CACHE_NEVER;
		else if (strcmp(v, "auto") == 0)
			o->cache = FS_CACHE_AUTO;
		else if (strcmp(v, "always") == 0)
			o->cache = FS_CACHE_ALWAYS;
		else
			return fail(c, "bad option '%s': expected cache=never, auto or always",
				    arg);
		return 0;
	}
	case KEY_WRITEBACK:
		o->writeback = true;
		o->writeback_given = true;
		return 0;
	case KEY_NO_WRITEBACK:
		o->writeback = false;
		o->writeback_given = false;
		return 0;
	case KEY_PASSTHROUGH:
		o->passthrough = true;
		return 0;
	case KEY_NO_PASSTHROUGH:
		o->passthrough = false;
		return 0;
	case KEY_IO_URING:
		o->io_uring = true;
		return 0;
	case KEY_NO_IO_URING:
		o->io_uring = false;
		return 0;
	case KEY_SPLICE:
		o->splice_read = o->splice_write = true;
		return 0;
	case KEY_NO_SPLICE:
		o->splice_read = o->splice_write = false;
		return 0;
	case KEY_READDIRPLUS:
		o->readdirplus = true;
		return 0;
	case KEY_NO_READDIRPLUS:
		o->readdirplus = false;
		return 0;
	case KEY_MAX_READ:
		/* Added back as a plain number below: the kernel needs it as a
		 * mount option too and knows no k/m suffixes. */
		return parse_uint_opt(c, arg, 4096, 16u << 20, &o->max_read);
	case KEY_MAX_WRITE:
		return parse_uint_opt(c, arg, 4096, 1u << 20, &o->max_write);
	case KEY_THREADS:
		return parse_uint_opt(c, arg, 1, 256, &o->max_threads);
	case KEY_MAX_IDLE:
		return parse_uint_opt(c, arg, 1, 256, &o->max_idle_threads);
	case KEY_FD_CACHE:
		o->fd_cache_given = true;
		return parse_uint_opt(c, arg, 16, 1u << 20, &o->fd_cache);
	case KEY_DIRTY_SHARE:
		o->dirty_share_given = true;
		return parse_uint_opt(c, arg, 0, 100, &o->dirty_share);
	case KEY_TIMEOUT:
		return parse_seconds(c, arg, &o->timeout);
	case KEY_NEG_TIMEOUT:
		return parse_seconds(c, arg, &o->negative_timeout);
	case KEY_LOCKS: {
		const char *v = value_of(arg);
		if (strcmp(v, "kernel") == 0)
			o->locks = FS_LOCKS_KERNEL;
		else if (strcmp(v, "backing") == 0)
			o->locks = FS_LOCKS_BACKING;
		else
			return fail(c, "bad option '%s': expected locks=kernel or backing", arg);
		return 0;
	}
	case KEY_STATE:
		return parse_state(c, arg);
	case KEY_BUCKET:
		c->have_bucket = true;
		return parse_uint_opt(c, arg, 1, 86400, &o->bucket_s);
	case KEY_TRACK:
		return parse_uint_opt(c, arg, 16, 1u << 26, &o->track);
	case KEY_TIERS:
		if (pred_store_tiers_parse(value_of(arg), &o->tiers) < 0)
			return fail(c, "bad option '%s': expected tiers=WIDTH:KEEP/WIDTH:KEEP/... "
				       "(e.g. 1m:2d/15m:30d/1h:1y; each width a multiple of the "
				       "previous, each tier kept at least one next-tier width)", arg);
		o->have_tiers = true;
		return 0;
	case KEY_RECORD: {
		const char *v = strchr(arg, '=') ? value_of(arg) : "1";
		if (strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
			o->record = true;
		else if (strcmp(v, "0") == 0 || strcmp(v, "off") == 0)
			o->record = false;
		else
			return fail(c, "bad option '%s': expected record=0 or record=1", arg);
		return 0;
	}
	case KEY_NORECORD:
		o->record = false;
		return 0;
	case KEY_HOSTS:
		return set_string(c, arg, &o->hosts);
	case KEY_TLS:
		return set_string(c, arg, &o->tls_dir);
	case KEY_TLS_NAME:
		/* The name picks DIR/NAME.crt and .key: a path in it would
		 * read an identity from outside DIR. */
		if (!sync_tls_identity_name_valid(value_of(arg)))
			return fail(c,
				    "bad option '%s': expected a name as 'shadowctl ca issue DIR "
				    "NAME' takes (letters, digits, '.', '-', ':'; no path)",
				    arg);
		return set_string(c, arg, &o->tls_name);
	case KEY_SHADOW_TICK:
		return parse_number_opt(c, arg, 0.05, 3600, "0.05 to 3600 seconds",
					&o->shadow_tick);
	case KEY_SHADOW_IDLE:
		return parse_seconds(c, arg, &o->shadow_idle);
	case KEY_SHADOW_QUIET:
		return parse_seconds(c, arg, &o->shadow_quiet);
	case KEY_SHADOW_ALL:
		o->shadow_all = true;
		return 0;
	case KEY_SHADOW_CAPACITY: /* the range of user.shadow.capacity */
		if (!number_in(arg, 0, 1e15, &o->shadow_capacity))
			return fail(c, "bad option '%s': expected reads per bucket, a number "
				       "from 0 to 1e15", arg);
		return 0;
	case KEY_SHADOW_THRESHOLD: {
		double p = 0;
		if (!number_in(arg, 0, 1, &p) || p == 0)
			return fail(c, "bad option '%s': expected a probability in (0, 1]", arg);
		o->shadow_threshold = p;
		return 0;
	}
	case KEY_SHADOW_VERIFY:
		return parse_seconds(c, arg, &o->shadow_verify);
	case KEY_SHADOW_COPIES:
		return parse_uint_opt(c, arg, 1, DAEMON_SHADOW_MAX_COPIES, &o->shadow_copies);
	case KEY_SHADOW_REACT: {
		const char *v = value_of(arg);
		if (strcmp(v, "1") && strcmp(v, "0"))
			return fail(c, "bad option '%s': expected shadow_react=0 or shadow_react=1",
				    arg);
		o->shadow_react = v[0] == '1';
		return 0;
	}
	case KEY_ROLLOUT:
		if (daemon_rollout_parse_steps(value_of(arg), &o->rollout) < 0)
			return fail(c,
				    "bad option '%s': expected increasing percentages ending at 100, separated by '/', "
				    "e.g. rollout=10/25/50/100 (at most %d, steps of 0.1 %%)",
				    arg, DAEMON_ROLLOUT_MAX_STEPS);
		return 0;
	case KEY_ROLLOUT_INTERVAL:
	case KEY_ROLLOUT_COOLDOWN: {
		double v = 0;
		int rc = key == KEY_ROLLOUT_INTERVAL
			     ? parse_number_opt(c, arg, 0.05, 86400, "0.05 to 86400 seconds", &v)
			     : parse_number_opt(c, arg, 0, 30 * 86400, "0 to 2592000 seconds", &v);
		if (rc < 0)
			return -1;
		uint64_t ms = (uint64_t)llround(v * 1000);
		if (key == KEY_ROLLOUT_INTERVAL)
			o->rollout.interval_ms = ms;
		else
			o->rollout.cooldown_ms = ms;
		return 0;
	}
	case KEY_ROLLBACK_FACTOR:
		if (!number_in(arg, 1.05, 1000, &o->rollout.factor))
			return fail(c, "bad option '%s': expected a factor from 1.05 to 1000", arg);
		return 0;
	case KEY_ROLLOUT_MIN_READS:
		return parse_uint_opt(c, arg, 1, 1000000, &o->rollout.min_reads);
	case KEY_FAULT_COPY_DELAY:
		return parse_uint_opt(c, arg, 0, 10000000, &o->fault_copy_delay_us);
	case KEY_FAULT_VERIFY_DELAY:
		return parse_uint_opt(c, arg, 0, 10000, &o->fault_verify_delay_ms);
	case KEY_FAULT_START_DELAY:
		return parse_uint_opt(c, arg, 0, 600000, &o->fault_start_delay_ms);
	case KEY_FAULT_RENAME_RECORD_DELAY:
		return parse_uint_opt(c, arg, 0, 60000, &o->fault_rename_record_delay_ms);
	case KEY_FAULT_ORIGIN_DELAY_FILE: /* absolute: the daemon chdirs to / */
		if (value_of(arg)[0] != '/')
			return fail(c, "bad option '%s': expected an absolute path", arg);
		return set_string(c, arg, &o->fault_origin_delay_file);
	case KEY_REMOTE_TIMEOUT:
		return parse_uint_opt(c, arg, 1, 60000, &o->remote_timeout_ms);
	case KEY_COPY_RATE:
		if (!number_in(arg, 0, FS_MAX_COPY_RATE, &o->copy_rate))
			return fail(c,
				    "bad option '%s': expected MB/s, a number from 0 (no limit) "
				    "to %g",
				    arg, FS_MAX_COPY_RATE);
		return 0;
	case KEY_SHADOW_WINDOW: /* in buckets: checked once bucket= is known */
		if (parse_seconds(c, arg, &o->shadow_window) < 0)
			return -1;
		if (o->shadow_window <= 0)
			return fail(c, "bad option '%s': expected seconds > 0", arg);
		c->have_window = true;
		return 0;
	case KEY_ALLOW_OTHER:
		o->allow_other = true;
		return 1;
	case KEY_DEFAULT_PERMS:
		o->default_permissions = true;
		o->no_default_permissions = false;
		return 0; /* added back below, once */
	case KEY_NO_DEFAULT_PERMS:
		o->no_default_permissions = true;
		o->default_permissions = false;
		return 0;
	}
	return fail(c, "internal error: option key %d", key);
}

static void set_defaults(struct fs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->cache = FS_CACHE_ALWAYS;
	o->writeback = true;
	o->splice_read = false;
	o->splice_write = false; /* measured: a per-thread buffer copy is as fast */
	o->readdirplus = true;
	o->max_write = FS_DEFAULT_MAX_WRITE;
	o->max_threads = FS_DEFAULT_MAX_THREADS;
	o->max_idle_threads = 0; /* 0: same as max_threads */
	o->fd_cache = FS_DEFAULT_FD_CACHE;
	o->dirty_share = FS_DEFAULT_DIRTY_SHARE;
	o->timeout = FS_DEFAULT_TIMEOUT;
	o->negative_timeout = 1.0;
	o->locks = FS_LOCKS_KERNEL;
	o->record = true;
	o->bucket_s = FS_DEFAULT_BUCKET;
	o->track = FS_DEFAULT_TRACK;
	o->shadow_tick = FS_DEFAULT_SHADOW_TICK;
	o->shadow_idle = FS_DEFAULT_SHADOW_IDLE;
	o->shadow_quiet = FS_DEFAULT_SHADOW_QUIET;
	o->shadow_capacity = -1;
	o->shadow_threshold = FS_DEFAULT_SHADOW_THRESHOLD;
	o->shadow_window = FS_DEFAULT_SHADOW_WINDOW;
	o->shadow_verify = FS_DEFAULT_SHADOW_VERIFY;
	o->shadow_copies = FS_DEFAULT_SHADOW_COPIES;
	o->shadow_react = true;
	daemon_rollout_defaults(&o->rollout);
	o->remote_timeout_ms = FS_DEFAULT_REMOTE_TIMEOUT_MS;
	o->copy_rate = FS_DEFAULT_COPY_RATE;
}

int fs_options_parse(int argc, char **argv, struct fs_options *opts,
		     struct fuse_args *fuse_args, char *errbuf, size_t errlen)
{
	struct fuse_args in = FUSE_ARGS_INIT(argc, argv);
	struct fuse_args out = FUSE_ARGS_INIT(0, NULL);
	struct parse_ctx c = {.opts = opts, .errbuf = errbuf, .errlen = errlen};
	int ret = -EINVAL;

	set_defaults(opts);
	if (errlen)
		errbuf[0] = '\0';
	/* fuse_opt_parse appends kept options to in's copy; parse into a
	 * fresh argument vector so the caller's argv stays untouched. */
	if (fuse_opt_add_arg(&out, argc > 0 ? argv[0] : "shadowfs") < 0) {
		fail(&c, "out of memory");
		goto out;
	}
	in.argc = argc;
	in.argv = argv;
	in.allocated = 0;
	/* libfuse prints its own line for it, before ours */
	if (argc > 1 && !strcmp(argv[argc - 1], "-o")) {
		fail(&c, "-o needs a list of options after it (see shadowfs --help)");
		goto out;
	}
	if (fuse_opt_parse(&in, &c, option_table, opt_proc) < 0) {
		if (!c.failed)
			fail(&c, "cannot parse the command line (see shadowfs --help)");
		fuse_opt_free_args(&in);
		goto out;
	}
	/* fuse_opt_parse rewrote in.argv: argv[0], then the kept options. */
	for (int i = 1; i < in.argc; i++)
		if (fuse_opt_add_arg(&out, in.argv[i]) < 0) {
			fail(&c, "out of memory");
			break;
		}
	fuse_opt_free_args(&in);
	if (c.failed)
		goto out;
	if (opts->show_help || opts->show_version) {
		ret = 0;
		goto out;
	}
	if (!opts->backing || !opts->mountpoint) {
		fail(&c, "usage: shadowfs BACKING MOUNTPOINT [-o opt,...] [-f] [-d]");
		goto out;
	}
	if (!*opts->backing || !*opts->mountpoint) {
		fail(&c, "BACKING and MOUNTPOINT must not be empty");
		goto out;
	}
	if (opts->hosts) {
		struct fs_host_spec *specs;
		size_t n;
		if (fs_hosts_parse(opts->hosts, &specs, &n, c.errbuf, c.errlen) < 0) {
			c.failed = true;
			goto out;
		}
		free(specs); /* checked here for a clear error; main opens them */
	}
	/* The kernel refuses passthrough on a connection with the writeback
	 * cache (it ignores FUSE_PASSTHROUGH in the INIT reply then): the
	 * default writeback gives way, an explicit one is a contradiction. */
	if (opts->passthrough && opts->writeback_given) {
		fail(&c, "passthrough and writeback cannot be combined (the kernel refuses "
			 "passthrough with the writeback cache): drop one of them");
		goto out;
	}
	if (opts->passthrough)
		opts->writeback = false;
	/* fusermount3 refuses the pair at the mount, after the checks and
	 * messages of ours; said here, once, first. */
	if (opts->allow_other && opts->allow_root) {
		fail(&c, "allow_other and allow_root cannot be combined (allow_other lets every "
			 "user in, root included): drop one of them");
		goto out;
	}
	if (opts->max_idle_threads == 0 || opts->max_idle_threads > opts->max_threads)
		opts->max_idle_threads = opts->max_threads;
	if (opts->have_tiers) {
		if (c.have_bucket && opts->bucket_s != opts->tiers.width_s[0]) {
			fail(&c, "bucket=%u and tiers=... disagree: the first tier's width is the bucket",
			     opts->bucket_s);
			goto out;
		}
		if (opts->tiers.width_s[0] > 86400) {
			fail(&c, "bad option tiers=...: the first width (the bucket) must be <= 1d");
			goto out;
		}
		opts->bucket_s = opts->tiers.width_s[0];
	}
	/* The forecast looks 1 to PRED_MAX_H buckets ahead: a window given
	 * outside that is refused (the default's is clamped quietly). */
	if (c.have_window && (opts->shadow_window < opts->bucket_s ||
			      opts->shadow_window > (double)PRED_MAX_H * opts->bucket_s)) {
		fail(&c,
		     "bad option 'shadow_window=%g': the forecast window is 1 to %d buckets "
		     "(bucket=%u: %u to %u seconds)",
		     opts->shadow_window, PRED_MAX_H, opts->bucket_s, opts->bucket_s,
		     PRED_MAX_H * opts->bucket_s);
		goto out;
	}
	/* With allow_other, the kernel must check permissions on every path
	 * walk: dentries it cached for one user are otherwise served to all
	 * (see shadowfs(8), PERMISSIONS). */
	if (opts->allow_other && !opts->no_default_permissions)
		opts->default_permissions = true;
	/* A BACKING without ACLs (ramfs, some network filesystems): the
	 * kernel's ACL checks (FUSE_CAP_POSIX_ACL) take the EOPNOTSUPP of its
	 * ACL reads as an error, refusing every non-root caller. Its checks
	 * are then the mode bits' alone: default_permissions. */
	opts->backing_no_acls = getxattr(opts->backing, "system.posix_acl_access", NULL, 0) < 0 &&
				errno == EOPNOTSUPP;
	if (opts->backing_no_acls && !opts->no_default_permissions &&
	    fs_kernel_checks_wanted(opts, getuid()))
		opts->default_permissions = true;
	if (opts->default_permissions && fuse_opt_add_arg(&out, "-odefault_permissions") < 0) {
		fail(&c, "out of memory");
		goto out;
	}
	if (!c.have_fsname) {
		char *fsopt = NULL;
		char *abs = realpath(opts->backing, NULL); /* as the mount table shows it */
		int r = fuse_opt_add_opt_escaped(&fsopt, abs ? abs : opts->backing);
		free(abs);
		if (r < 0) {
			fail(&c, "out of memory");
			goto out;
		}
		size_t n = strlen(fsopt) + 16;
		char *arg = malloc(n);
		if (arg)
			snprintf(arg, n, "-ofsname=%s", fsopt);
		free(fsopt);
		if (!arg || fuse_opt_add_arg(&out, arg) < 0) {
			free(arg);
			fail(&c, "out of memory");
			goto out;
		}
		free(arg);
	}
	if (!c.have_subtype && fuse_opt_add_arg(&out, "-osubtype=shadowfs") < 0) {
		fail(&c, "out of memory");
		goto out;
	}
	if (opts->max_read) {
		char arg[40];
		snprintf(arg, sizeof(arg), "-omax_read=%u", opts->max_read);
		if (fuse_opt_add_arg(&out, arg) < 0) {
			fail(&c, "out of memory");
			goto out;
		}
	}
	if (opts->debug && fuse_opt_add_arg(&out, "-odebug") < 0) {
		fail(&c, "out of memory");
		goto out;
	}
	ret = 0;
out:
	if (ret < 0) {
		fuse_opt_free_args(&out);
		fs_options_free(opts);
		*fuse_args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
		return ret;
	}
	*fuse_args = out;
	return 0;
}

void fs_options_free(struct fs_options *opts)
{
	if (!opts)
		return;
	free(opts->backing);
	free(opts->mountpoint);
	free(opts->state);
	free(opts->hosts);
	free(opts->tls_dir);
	free(opts->tls_name);
	free(opts->fault_origin_delay_file);
	opts->backing = opts->mountpoint = opts->state = opts->hosts = NULL;
	opts->tls_dir = opts->tls_name = opts->fault_origin_delay_file = NULL;
}

const char *fs_cache_policy_name(enum fs_cache_policy c)
{
	switch (c) {
	case FS_CACHE_NEVER:
		return "never";
	case FS_CACHE_AUTO:
		return "auto";
	case FS_CACHE_ALWAYS:
		return "always";
	}
	return "?";
}

void fs_options_usage(const char *prog)
{
	printf("usage: %s BACKING MOUNTPOINT [-o opt,...] [-f] [-d]\n"
	       "\n"
	       "  -f                     stay in the foreground\n"
	       "  -d, -o debug           foreground, print every FUSE request\n"
	       "  -h, --help             this text;  -V, --version  the version\n"
	       "\n"
	       "shadowfs options (defaults in brackets):\n"
	       "  -o cache=never|auto|always   kernel page cache policy [always]\n"
	       "  -o writeback|no_writeback    kernel writeback cache [writeback]\n"
	       "  -o passthrough|no_passthrough  reads and writes of open files go from the\n"
	       "                               kernel straight to BACKING, unseen by shadowfs\n"
	       "                               (needs root; implies no_writeback) [off]\n"
	       "  -o io_uring|no_io_uring      requests through per-CPU io_uring queues instead\n"
	       "                               of /dev/fuse reads (Linux >= 6.14, fuse module\n"
	       "                               parameter enable_uring=Y; else a warning) [off]\n"
	       "  -o splice|no_splice          splice file data to/from /dev/fuse [off]\n"
	       "  -o readdirplus|no_readdirplus  attributes with directory listings [on]\n"
	       "  -o timeout=SECONDS           entry/attribute cache timeout [86400]\n"
	       "  -o negative_timeout=SECONDS  cache of failed lookups [1]\n"
	       "  -o max_read=BYTES            largest read request, 4k..16m [kernel default]\n"
	       "  -o max_write=BYTES           largest write request, <= 1m [1m]\n"
	       "  -o threads=N                 worker threads, 1 = single-threaded [8]\n"
	       "  -o max_idle_threads=N        idle workers kept [= threads]\n"
	       "  -o fd_cache=N                O_PATH fds kept for hot inodes [4096]\n"
	       "  -o dirty_share=PERCENT       share of the dirty-page limit the mount's page\n"
	       "                               cache may hold (as root; 0: the kernel's 1%%) [40]\n"
	       "  -o locks=kernel|backing      where POSIX locks live [kernel]\n"
	       "  -o state=DIR                 state directory of the access recorder\n"
	       "                               [/var/lib/shadowfs/<mount-id>]\n"
	       "  -o bucket=SECONDS            recorder time bucket, 1..86400 [60]\n"
	       "  -o track=N                   files with full series (active set) [10000]\n"
	       "  -o tiers=W:KEEP/W:KEEP/...   series resolution and retention, finest first\n"
	       "                               [BUCKET:2d/15m:30d/1h:1y]; its first W is the bucket\n"
	       "  -o norecord|record=0         turn access recording off [on]\n"
	       "  -o hosts=SPEC[;SPEC...]      resource hosts: /DIR[:cost=C][:budget=SIZE] (local)\n"
	       "                               or HOST:PORT[:cost=C] (a shadowd)\n"
	       "  -o tls=DIR[,tls_name=NAME]   certificates for remote hosts (shadowctl ca issue)\n"
	       "  -o shadow_tick=S             shadowing control loop period [1]\n"
	       "  -o shadow_idle=S             unpinned this long -> copies removed [300]\n"
	       "  -o shadow_quiet=S            file unchanged this long before a (re)copy [2]\n"
	       "  -o shadow_all                shadow every regular file opened (testing)\n"
	       "  -o shadow_capacity=N         reads per bucket a file can take [its p99]\n"
	       "  -o shadow_threshold=P        P(reads > capacity in the window) that shadows [0.8]\n"
	       "  -o shadow_window=S           forecast window in seconds, 1..8 buckets\n"
	       "                               (whole buckets: rounded down) [300]\n"
	       "  -o shadow_copies=N           most copies of one file (the forecast's 95%%\n"
	       "                               bound / capacity - 1), 1..4 [3]\n"
	       "  -o shadow_react=0|1          also shadow a file whose last bucket was over\n"
	       "                               its capacity, whatever the forecast [1]\n"
	       "  -o shadow_verify=S           re-hash each copy this often, 0 never [3600]\n"
	       "  -o rollout=P/P/...           a new copy's share of reads, in %% steps [10/25/50/100]\n"
	       "  -o rollout_interval=S        least time at a step before it is judged [5]\n"
	       "  -o rollback_factor=X         copy p50/p95 > X x origin's: step down, roll back [1.5]\n"
	       "  -o rollout_min_reads=N       reads of copy and origin to judge a step [32]\n"
	       "  -o rollout_cooldown=S        rolled back this long before a retry [60]\n"
	       "  -o fault_copy_delay_us=N     TESTS ONLY: delay reads served by copies [0]\n"
	       "  -o fault_verify_delay_ms=N   TESTS ONLY: delay each chunk of a local re-hash [0]\n"
	       "  -o fault_start_delay_ms=N    TESTS ONLY: the daemon starts serving N ms late [0]\n"
	       "  -o fault_rename_record_delay_ms=N\n"
	       "                               TESTS ONLY: a rename waits N ms between BACKING\n"
	       "                               and its record in STATE/pins.log [0]\n"
	       "  -o fault_origin_delay_file=PATH\n"
	       "                               TESTS ONLY: delay origin reads by the us in PATH\n"
	       "                               (read again every 100 ms) [none]\n"
	       "  -o remote_timeout=MS         deadline of a read of a remote copy, then the\n"
	       "                               origin answers, 1..60000 [300]\n"
	       "  -o copy_rate=MB/s            most the copies read from origins, in MB\n"
	       "                               (10^6 bytes) per second; 0: no limit [0]\n"
	       "  -o default_permissions|no_default_permissions\n"
	       "                               kernel permission checks (with POSIX ACLs)\n"
	       "                               [on, except on a mount by root without\n"
	       "                               allow_other or allow_root]\n"
	       "\n"
	       "standard FUSE/mount options passed on: allow_other, allow_root, auto_unmount,\n"
	       "fsname=, subtype=, ro, rw, nosuid, nodev, noexec, noatime, ... (see shadowfs(8))\n",
	       prog);
}
