/* shadowfs: mounts BACKING at MOUNTPOINT as a passthrough FUSE filesystem.
 *
 *   shadowfs BACKING MOUNTPOINT [-o opt,...] [-f] [-d]
 *
 * Order of work: parse and validate options, check BACKING, MOUNTPOINT and
 * /dev/fuse (every failure is one line on stderr and exit status 1), create
 * the session, mount, then daemonize (unless -f) so that mount errors still
 * reach the terminal, serve requests until unmounted or signalled
 * (SIGTERM/SIGINT/SIGHUP: dirty pages written back, then a clean unmount;
 * fs/stop_signal.h), tear down. Also the program run
 * by mount.fuse3 for `mount -t fuse.shadowfs` and fstab entries. */
#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/daemon_start.h"
#include "common/fd_limit.h"
#include "common/log.h"
#include "fs/creds.h"
#include "fs/dirty_share.h"
#include "fs/fault_origin.h"
#include "fs/fs.h"
#include "fs/hosts.h"
#include "fs/ops.h"
#include "fs/ops_record.h"
#include "fs/options.h"
#include "fs/preflight.h"
#include "fs/recorder.h"
#include "fs/rel_path.h"
#include "fs/shadow_tuning.h"
#include "fs/shadowing.h"
#include "fs/stop_signal.h"
#include "fs/uring.h"
#include "predictor/model.h"
#include "predictor/store_locate.h"

/* Opens the resource hosts (before mounting: a bad host is a start-up
 * error); their watchers start later, with start_hosts. */
static int open_hosts(const struct fs_options *o, struct fs_hosts **ret)
{
	struct fs_host_spec *specs = NULL;
	size_t n = 0;
	char err[2 * PATH_MAX + 128];
	int rc = fs_hosts_parse(o->hosts, &specs, &n, err, sizeof(err));
	/* A host directory in BACKING: its copies would be files the mount
	 * serves (and shadow_all shadows), which users could change. */
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (specs[i].kind != FS_HOST_LOCAL)
			continue;
		if (fs_preflight_outside("host directory", specs[i].where, o->backing,
					 o->mountpoint, err, sizeof(err)) != 0) {
			size_t l = strlen(err);
			snprintf(err + l, sizeof(err) - l, "; put it elsewhere");
			rc = -EINVAL;
		} else if (fs_path_within(o->backing, specs[i].where) ||
			   fs_path_within(o->mountpoint, specs[i].where)) {
			/* hosts=/ and the like: copies among the user's files */
			snprintf(err, sizeof(err),
				 "host directory %s holds %s: give a directory of its own",
				 specs[i].where,
				 fs_path_within(o->backing, specs[i].where) ? o->backing
									     : o->mountpoint);
			rc = -EINVAL;
		}
	}
	/* Taken, and unused: said, not silently ignored (as without hosts=) */
	bool any_remote = false;
	for (size_t i = 0; rc == 0 && i < n; i++)
		any_remote |= specs[i].kind == FS_HOST_REMOTE;
	if (rc == 0 && !any_remote && (o->tls_dir || o->tls_name))
		sfs_warn("-o %s=%s has no effect without a remote host in hosts= (only remote "
			 "hosts are reached over TLS)",
			 o->tls_dir ? "tls" : "tls_name", o->tls_dir ? o->tls_dir : o->tls_name);
	if (rc == 0) {
		struct fs_hosts_config cfg = {
		    .specs = specs, .n = n, .tls_dir = o->tls_dir, .tls_name = o->tls_name};
		rc = fs_hosts_open(&cfg, ret, err, sizeof(err));
	}
	free(specs);
	if (rc < 0)
		sfs_error("%s", err);
	return rc;
}

/* Starts the host watchers; the registry goes to STATE/hosts.status. */
static int start_hosts(struct fs_hosts *h, const struct fs_options *o, const char *state)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/hosts.status", state); /* made by claim_state_dir */
	int rc = fs_hosts_start(h, path);
	if (rc < 0) {
		sfs_error("cannot start the host watchers: %s", strerror(-rc));
		return rc;
	}
	if (!o->record && pred_locate_register(o->mountpoint, o->backing, state, getpid()) < 0)
		sfs_warn("cannot record the mount in %s (shadowctl hosts needs --state %s)",
			 pred_locate_run_dir(), state);
	return 0;
}

/* The mount's state directory: state=DIR, else /var/lib/shadowfs/<mount-id>
 * (root) or ~/.local/state/shadowfs/<mount-id>. */
static int mount_state_dir(const struct fs_options *o, char *state, size_t len)
{
	if (o->state) {
		snprintf(state, len, "%s", o->state);
		return 0;
	}
	int rc = pred_locate_default_state(o->backing, state, len);
	if (rc < 0) {
		sfs_error("cannot name a state directory for %s: %s", o->backing, strerror(-rc));
		return rc;
	}
	return 0;
}

/* The state directory is this mount's alone: a second mount of the same
 * BACKING (whose default state directory is the same) would write the
 * same series store, pins and settings from a second process. One that
 * is exiting (a remount right after an unmount) is waited for. */
static int claim_state_dir(const char *state, int *fd)
{
	int rc = pred_locate_claim_state(state, 5000, fd);
	if (rc == -EBUSY) {
		struct pred_location holder;
		pred_locate_state_dir(state, &holder);
		if (holder.mountpoint[0])
			sfs_error("state directory %s is in use by the mount on %s (pid %ld); give "
				  "this mount one of its own with -o state=DIR",
				  state, holder.mountpoint, holder.pid);
		else
			sfs_error("state directory %s is in use by another mount; give this "
				  "mount one of its own with -o state=DIR",
				  state);
	} else if (rc < 0) {
		sfs_error("cannot create the state directory %s: %s (give -o state=DIR, or "
			  "-o norecord without hosts= for none)",
			  state, strerror(-rc));
	}
	return rc;
}

/* Removes the status files of the parts this mount runs without. shadowctl
 * takes each file for a part that runs (the recorder, hosts, the shadowing
 * control loop), so one left by an earlier mount of the state directory
 * showed that mount's last figures (a host up, a control pass) as this
 * one's. The parts that run write theirs as they start. Called once the
 * directory is claimed (no other mount writes there) and before mounting,
 * so that what a mount shows is its own from the start. */
static void drop_stale_status(const char *state, bool record, bool hosts, bool shadowing)
{
	const struct {
		const char *name;
		bool runs;
	} files[] = {
	    {"recorder.stats", record},
	    {"hosts.status", hosts},
	    {"shadows.status", shadowing},
	    {"control.stats", shadowing},
	};
	char path[PATH_MAX + 32];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].runs)
			continue;
		snprintf(path, sizeof(path), "%s/%s", state, files[i].name);
		if (unlink(path) < 0 && errno != ENOENT)
			sfs_warn("cannot remove %s, an earlier mount's: %s (shadowctl shows its "
				 "figures as this mount's)",
				 path, strerror(errno));
	}
}

/* The inode table's figures, in STATE/recorder.stats (shadowctl status). */
static void inode_stats(FILE *f, void *arg)
{
	struct fs_inode_table *t = arg;
	struct fs_inode_table_stats s;
	fs_inode_table_get_stats(t, &s);
	fprintf(f, "inodes=%llu\ninodes_by_name=%llu\ninode_fds=%llu\ninode_fd_cache=%llu\n"
		   "inode_reopens=%llu\nfile_handles=%d\n",
		(unsigned long long)s.inodes, (unsigned long long)s.named,
		(unsigned long long)s.cached_fds, (unsigned long long)s.fd_cache_max,
		(unsigned long long)s.reopens, fs_inode_table_uses_handles(t) ? 1 : 0);
}

/* Starts the access recorder (after daemonizing: threads do not survive
 * fork) with its share of the fds (claim_fds, sfs_fd_split) and records
 * where its store is, for shadowctl. */
static int start_recorder(struct fs_ctx *ctx, const struct fs_options *o, const char *state,
			  unsigned claim_fds)
{
	char err[512];
	struct fs_recorder_config cfg = {
		.state_dir = state,
		.backing = o->backing, /* canonical (make_absolute) */
		/* BACKING by fd: a mount over BACKING itself (or over a
		 * directory above it) would wait for itself by path. */
		.backing_fd = fs_inode_table_root_fd(ctx->inodes),
		.bucket_s = o->bucket_s,
		.track = o->track,
		.tiers = o->have_tiers ? &o->tiers : NULL,
		.claim_fds = claim_fds,
		.stats_more = inode_stats,
		.stats_more_arg = ctx->inodes,
		.path_of = fs_rel_path_recorded, /* files reopened disconnected */
		.path_of_arg = ctx,
	};
	int rc = fs_recorder_start(&cfg, &ctx->recorder, err, sizeof(err));
	if (rc < 0) {
		sfs_error("%s (or mount with -o norecord)", err);
		return rc;
	}
	rc = pred_locate_register(o->mountpoint, o->backing, state, getpid());
	if (rc < 0)
		sfs_warn("cannot record the mount in %s (shadowctl needs --state %s): %s",
			 pred_locate_run_dir(), state, strerror(-rc));
	sfs_debug("recording to %s/%s, %us buckets, %u tracked files", state,
		  PRED_STORE_DB_NAME, o->bucket_s, o->track);
	return 0;
}

/* A start given up in the waiting parent (sfs_daemon_start): the mount goes. */
static void undo_mount(void *se)
{
	fuse_session_unmount(se);
}

static int serve(struct fuse_session *se, const struct fs_options *o)
{
	if (o->max_threads <= 1)
		return fuse_session_loop(se);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, o->max_threads);
	fuse_loop_cfg_set_idle_threads(cfg, o->max_idle_threads);
	int res = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return res;
}

/* The mount's share of the dirty-page limit (fs/dirty_share.h). A failure
 * costs buffered write speed only: a warning when the option was given or
 * something unexpected failed, a debug line when the default needs root. */
static void apply_dirty_share(const struct fs_options *o)
{
	char bdi[32] = "";
	if (o->dirty_share == 0)
		return;
	int res = fs_dirty_share_set(o->mountpoint, o->dirty_share, bdi, sizeof(bdi));
	if (res == 0)
		sfs_debug("page cache: up to %u%% of the dirty-page limit (bdi %s)", o->dirty_share,
			  bdi);
	else if (o->dirty_share_given || (res != -EACCES && res != -EPERM && res != -EROFS))
		sfs_warn("cannot set dirty_share=%u (the mount's share of the dirty-page limit): "
			 "%s%s; buffered writes are throttled at the kernel's 1%%",
			 o->dirty_share, strerror(-res), res == -EACCES ? " (needs root)" : "");
	else
		sfs_debug("dirty_share=%u not applied (%s): the kernel's 1%% stays",
			  o->dirty_share, strerror(-res));
}

static int make_absolute(char **path)
{
	char *abs = realpath(*path, NULL);
	if (!abs)
		return -errno;
	free(*path);
	*path = abs;
	return 0;
}

int main(int argc, char **argv)
{
	struct fs_options opts;
	struct fuse_args args;
	struct fs_ctx ctx = {.proc_fd = -1};
	struct fuse_lowlevel_ops ops;
	struct fuse_session *se = NULL;
	struct fs_hosts *hosts = NULL;
	char err[512], state[PATH_MAX];
	int root_fd = -1, status = 1, res, start_fd = -1, state_fd = -1;
	bool mounted = false;
	struct fs_stop *stop = NULL;

	sfs_log_init("shadowfs", SFS_LOG_INFO, false);
	if (fs_options_parse(argc, argv, &opts, &args, err, sizeof(err)) < 0) {
		sfs_error("%s", err);
		return 1;
	}
	if (opts.show_help) {
		fs_options_usage(argv[0]);
		status = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("shadowfs %s (libfuse %s)\n", SHADOWFS_VERSION, fuse_pkgversion());
		status = 0;
		goto out;
	}
	if (opts.debug)
		sfs_log_set_level(SFS_LOG_DEBUG);
	if (fs_preflight_backing(opts.backing, &root_fd, err, sizeof(err)) < 0 ||
	    fs_preflight_mountpoint(opts.mountpoint, err, sizeof(err)) < 0 ||
	    fs_preflight_fuse_device("/dev/fuse", err, sizeof(err)) < 0) {
		sfs_error("%s", err);
		goto out;
	}
	/* Absolute, canonical paths: the daemon runs in /, unmounting needs
	 * the path as the mount table has it, and once mounted neither may
	 * be resolved again (a path below MOUNTPOINT waits for the mount:
	 * BACKING may be MOUNTPOINT itself, or inside it). */
	if (make_absolute(&opts.mountpoint) < 0 || make_absolute(&opts.backing) < 0) {
		sfs_error("cannot resolve %s or %s", opts.backing, opts.mountpoint);
		goto out;
	}
	/* Below BACKING (not BACKING itself, which works): the mount would show
	 * itself inside itself (MOUNTPOINT/.../name loops, ELOOP), and a lookup
	 * of it would pin the mount's own root, so that it cannot be unmounted. */
	if (strcmp(opts.mountpoint, opts.backing) != 0 &&
	    fs_path_within(opts.mountpoint, opts.backing)) {
		sfs_error("mount point %s is inside the backing directory %s: the mount would "
			  "contain itself; mount elsewhere (or over %s itself)",
			  opts.mountpoint, opts.backing, opts.backing);
		goto out;
	}

	if (opts.hosts && open_hosts(&opts, &hosts) < 0)
		goto out;
	/* Taken, and unused: said, not silently ignored */
	if (!opts.hosts && opts.needs_hosts_opt[0])
		sfs_warn("-o %s has no effect without hosts= (shadowing needs a host)",
			 opts.needs_hosts_opt);
	if (!opts.record && opts.needs_record_opt[0])
		sfs_warn("-o %s has no effect with norecord (recording is off)",
			 opts.needs_record_opt);
	/* One thread serves every request: a lock wait forwarded to BACKING
	 * holds it, and the INTERRUPT that would end the wait is not read. */
	if (opts.locks == FS_LOCKS_BACKING && opts.max_threads <= 1 && !opts.io_uring)
		sfs_warn("locks=backing with threads=1: while a process waits for a lock held "
			 "by another, every request of the mount waits with it (give threads=2 "
			 "or more)");
	if (opts.record || hosts) {
		/* In BACKING it works (its files show through the mount); in
		 * MOUNTPOINT it would be hidden, or reached through ourselves. */
		if (mount_state_dir(&opts, state, sizeof(state)) < 0)
			goto out;
		res = fs_preflight_outside("state directory", state, opts.backing,
					   opts.mountpoint, err, sizeof(err));
		if (res < 0) {
			sfs_error("%s; give state=DIR elsewhere", err);
			goto out;
		}
		if (res > 0)
			sfs_warn("%s (give state=DIR elsewhere to keep it out)", err);
	}

	umask(0); /* the kernel already applied the caller's umask */
	if ((opts.record || hosts) && claim_state_dir(state, &state_fd) < 0)
		goto out;
	if (opts.record || hosts)
		drop_stale_status(state, opts.record, hosts != NULL, fs_shadowing_wanted(hosts));
	fs_creds_init();
	uint64_t fd_limit = sfs_fd_limit_raise();
	struct sfs_fd_split fds;
	sfs_fd_limit_split(fd_limit, opts.fd_cache, &fds);
	if (fds.cache_capped && opts.fd_cache_given)
		sfs_warn("fd_cache=%u is more than a quarter of the open-file limit (%llu, "
			 "RLIMIT_NOFILE): caching %u fds; raise the limit (ulimit -Hn, "
			 "LimitNOFILE=) for more",
			 opts.fd_cache, (unsigned long long)fd_limit, fds.inode_cache);
	else if (fds.cache_capped) /* the default: said only at debug level */
		sfs_debug("open-file limit %llu (RLIMIT_NOFILE): caching %u inode fds instead "
			  "of %u",
			 (unsigned long long)fd_limit, fds.inode_cache, opts.fd_cache);
	opts.fd_cache = fds.inode_cache;
	res = fs_ctx_init(&ctx, &opts, root_fd);
	if (res < 0) {
		sfs_error("cannot set up the inode table: %s", strerror(-res));
		goto out;
	}
	root_fd = -1; /* owned by the inode table now */
	if (fs_passthrough_preflight(&ctx, opts.backing, err, sizeof(err)) < 0) {
		sfs_error("%s", err);
		goto out;
	}
	if (opts.io_uring && (res = fs_uring_new(&ctx, opts.max_threads, &ctx.uring)) < 0) {
		sfs_error("cannot set up io_uring: %s", strerror(-res));
		goto out;
	}
	if (!fs_inode_table_uses_handles(ctx.inodes))
		sfs_warn("%s: no file handles (filesystem support or CAP_DAC_READ_SEARCH "
			 "missing): files and directories are reopened by the name they last "
			 "had through the mount, so one renamed or deleted behind its back "
			 "gives ESTALE until looked up again",
			 opts.backing);

	fs_ops_passthrough(&ops, &opts);
	if (opts.fault_origin_delay_file) /* tests only; inside the router's timing */
		fs_ops_fault_origin(&ops, opts.fault_origin_delay_file);
	if (fs_shadowing_wanted(hosts)) {
		struct fs_shadowing_config scfg = {.tick_s = opts.shadow_tick,
						   .idle_s = opts.shadow_idle,
						   .quiet_s = opts.shadow_quiet,
						   .shadow_all = opts.shadow_all,
						   .verify_s = opts.shadow_verify,
						   .remote_timeout_ms = opts.remote_timeout_ms,
						   .copy_rate_mbps = opts.copy_rate,
						   .forecast = opts.record,
						   .bucket_s = opts.bucket_s,
						   .window_s = opts.shadow_window,
						   .capacity = opts.shadow_capacity,
						   .threshold = opts.shadow_threshold,
						   .max_copies = opts.shadow_copies,
						   .react = opts.shadow_react,
						   .rollout = opts.rollout,
						   .fd_budget = fds.shadowing};
		res = fs_shadowing_new(&ctx, hosts, &scfg, &ctx.shadowing);
		if (res < 0) {
			sfs_error("cannot set up shadowing: %s", strerror(-res));
			goto out;
		}
		fs_ops_shadowing(&ops); /* inside the recorder: it times routed reads */
		double steps = opts.shadow_window / (double)opts.bucket_s;
		struct fs_tuning_config tcfg = {
		    .threshold = opts.shadow_threshold,
		    .capacity = opts.shadow_capacity,
		    .window = steps < 1 ? 1 : steps > PRED_MAX_H ? PRED_MAX_H : (unsigned)steps,
		    .copies = opts.shadow_copies,
		    .hosts = hosts,
		    .forecast = opts.record,
		    .bucket_s = opts.bucket_s};
		res = fs_tuning_new(&ctx, &tcfg, &ctx.tuning);
		if (res < 0) {
			sfs_error("cannot set up tuning: %s", strerror(-res));
			goto out;
		}
		fs_ops_tuning(&ops);
	}
	if (opts.record)
		fs_ops_record(&ops);
	se = fuse_session_new(&args, &ops, sizeof(ops), &ctx);
	ctx.se = se;
	if (!se) {
		sfs_error("cannot start the FUSE session (an option libfuse rejects?)");
		goto out;
	}
	if ((res = fs_stop_install(&stop)) < 0) {
		sfs_error("cannot install signal handlers: %s", strerror(-res));
		goto out;
	}
	if (fuse_session_mount(se, opts.mountpoint) != 0) {
		sfs_error("cannot mount on %s (see the message above)", opts.mountpoint);
		goto out;
	}
	mounted = true;
	res = fs_dev_io_install(&ctx, se);
	if (res < 0) {
		sfs_error("cannot set up the FUSE session's I/O functions: %s", strerror(-res));
		goto out;
	}
	apply_dirty_share(&opts);
	/* The rest of the start-up runs in the daemon, its errors still on the
	 * terminal, and this process's exit status says whether it started. */
	if (!opts.foreground && (start_fd = sfs_daemon_start("shadowfs", undo_mount, se)) < 0) {
		sfs_error("cannot daemonize: %s", strerror(-start_fd));
		goto out;
	}
	if (opts.foreground && chdir("/") < 0) {
		sfs_error("cannot change to /: %s", strerror(errno));
		goto out;
	}
	res = fs_ctx_open_proc(&ctx);
	if (res < 0) {
		sfs_error("cannot open /proc/self/fd: %s", strerror(-res));
		goto out;
	}
	/* state: named before mounting (with the preflight checks). */
	if (!opts.record && !hosts)
		(void)pred_locate_unregister(opts.mountpoint); /* no state: no stale record */
	if (opts.record && start_recorder(&ctx, &opts, state, fds.name_claims) < 0)
		goto out;
	if (hosts && start_hosts(hosts, &opts, state) < 0)
		goto out;
	if (ctx.tuning && (res = fs_tuning_load(ctx.tuning, state)) < 0)
		sfs_warn("cannot read %s/tuning: %s", state, strerror(-res));
	if (ctx.shadowing && (res = fs_shadowing_start(ctx.shadowing, state)) < 0) {
		sfs_error("cannot start the shadowing control loop: %s", strerror(-res));
		goto out;
	}
	sfs_debug("serving %s on %s: cache=%s writeback=%d passthrough=%d threads=%u timeout=%g",
		  opts.backing, opts.mountpoint, fs_cache_policy_name(opts.cache),
		  opts.writeback, opts.passthrough, opts.max_threads, opts.timeout);
	if ((res = fs_uring_start(ctx.uring, se)) < 0) {
		sfs_error("cannot start the io_uring workers: %s", strerror(-res));
		goto out;
	}
	for (unsigned ms = opts.fault_start_delay_ms; ms > 0;) { /* tests only */
		unsigned step = ms < 100 ? ms : 100;
		usleep(step * 1000);
		ms -= step;
	}
	sfs_daemon_ready(start_fd); /* from here on the log is syslog's */
	start_fd = -1;
	if ((res = fs_stop_arm(stop, se, &ctx, opts.mountpoint)) < 0) {
		sfs_error("cannot start the signal handling thread: %s", strerror(-res));
		goto out;
	}
	res = serve(se, &opts);
	fs_stop_loop_returned(stop);
	status = res >= 0 ? 0 : 1;
	if (res < 0)
		sfs_error("the FUSE loop stopped with an error (%d)", res);
out:
	/* The io_uring workers serve requests too: stopped first. */
	fs_uring_free(ctx.uring);
	ctx.uring = NULL;
	/* No request runs any more: write the partial bucket and stop. */
	fs_recorder_stop(ctx.recorder);
	ctx.recorder = NULL;
	fs_shadowing_free(ctx.shadowing); /* before the hosts: it uses their stores */
	ctx.shadowing = NULL;
	fs_tuning_free(ctx.tuning);
	ctx.tuning = NULL;
	fs_hosts_close(hosts);
	if (mounted)
		fuse_session_unmount(se);
	fs_stop_free(stop);
	if (se)
		fuse_session_destroy(se);
	fs_ctx_destroy(&ctx);
	if (root_fd >= 0)
		close(root_fd);
	if (state_fd >= 0)
		close(state_fd); /* the state directory free for the next mount */
	fuse_opt_free_args(&args);
	fs_options_free(&opts);
	sfs_daemon_failed(start_fd); /* only if it never got ready */
	return status;
}
