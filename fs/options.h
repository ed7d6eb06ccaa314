/* shadowfs command line and mount options.
 *
 * `shadowfs BACKING MOUNTPOINT [-o opt,...] [-f] [-d] [-h] [-V]` is parsed with
 * a fuse_opt table into struct fs_options. Our own options are validated here
 * (one-line message in errbuf on error); the standard FUSE/mount options we
 * know (allow_other, default_permissions, ro, nosuid, fsname=, ...) are passed
 * on unchanged in `fuse_args` for fuse_session_new(); fstab-only words
 * (defaults, auto, noauto, user, nofail, _netdev, x-*, comment=...) are
 * dropped. Anything else is an error: shadowfs never mounts with an option it
 * does not understand.
 *
 * Pure parsing: no I/O except checking that state=DIR, when it exists, is a
 * directory. Library code: returns -errno, the caller prints errbuf. */
#ifndef SHADOWFS_FS_OPTIONS_H
#define SHADOWFS_FS_OPTIONS_H

#include <fuse_opt.h>

#include "daemon/rollout.h"
#include "predictor/series_store.h"
#include <stdbool.h>
#include <stddef.h>

enum fs_cache_policy {
	FS_CACHE_NEVER = 0,  /* direct_io for every open: no page cache */
	FS_CACHE_AUTO = 1,   /* page cache, dropped when mtime/size change */
	FS_CACHE_ALWAYS = 2, /* page cache kept across opens (keep_cache) */
};

enum fs_lock_mode {
	FS_LOCKS_KERNEL = 0,  /* POSIX locks handled by the FUSE kernel module */
	FS_LOCKS_BACKING = 1, /* POSIX locks forwarded as OFD locks on BACKING */
};

struct fs_options {
	char *backing;    /* BACKING as given (owned) */
	char *mountpoint; /* MOUNTPOINT as given (owned) */
	bool foreground;  /* -f */
	bool debug;       /* -d: -f plus FUSE debug output */
	bool show_help;   /* -h / --help */
	bool show_version;/* -V / --version */

	enum fs_cache_policy cache;
	bool writeback;         /* kernel writeback cache */
	bool writeback_given;   /* writeback asked for explicitly (not the default) */
	bool passthrough;       /* kernel passthrough of open files (fs/passthrough.h) */
	bool io_uring;          /* FUSE over io_uring (fs/uring.h) */
	bool splice_read;       /* splice data of WRITE requests from /dev/fuse */
	bool splice_write;      /* splice data of READ replies to /dev/fuse */
	bool readdirplus;       /* answer readdir with attributes */
	unsigned max_read;      /* bytes, 0 = kernel default */
	unsigned max_write;     /* bytes */
	unsigned max_threads;   /* worker threads; 1 = single-threaded loop */
	unsigned max_idle_threads;
	unsigned fd_cache;      /* O_PATH fds kept open for hot inodes */
	bool fd_cache_given;    /* fd_cache=N given (capped at a quarter of RLIMIT_NOFILE
				 * with a warning; the default silently) */
	unsigned dirty_share;   /* dirty_share=PERCENT: the mount's share of the dirty-page
				 * limit (fs/dirty_share.h); 0 = the kernel's (1) */
	bool dirty_share_given; /* given explicitly: a failure to set it is worth a warning */
	double timeout;         /* entry/attr cache timeout in seconds */
	double negative_timeout;/* negative entry cache timeout */
	enum fs_lock_mode locks;
	bool allow_other;       /* seen allow_other (also passed on) */
	bool allow_root;        /* seen allow_root (also passed on) */
	bool default_permissions; /* kernel checks permissions (also passed on) */
	bool no_default_permissions; /* explicit opt-out */
	bool backing_no_acls;   /* BACKING answers EOPNOTSUPP for ACLs: POSIX_ACL not asked for */
	char *state;            /* state=DIR for the access recorder (owned), or NULL */
	bool record;            /* access recording on (norecord / record=0: off) */
	unsigned bucket_s;      /* bucket=SECONDS: recorder time bucket */
	unsigned track;         /* track=N: files in the recorder's active set */
	bool have_tiers;        /* tiers=... given: */
	struct pred_store_tiers tiers; /* resolution and retention of the series */
	char *hosts;            /* hosts=SPEC;... (fs/hosts.h) (owned), or NULL */
	char *tls_dir;          /* tls=DIR: certificates for remote hosts (owned), or NULL */
	char *tls_name;         /* tls_name=NAME: which certificate in DIR (owned), or NULL */
	double shadow_tick;     /* shadow_tick=S: control loop period */
	double shadow_idle;     /* shadow_idle=S: unwanted this long -> demoted */
	double shadow_quiet;    /* shadow_quiet=S: unchanged this long -> (re)copied */
	bool shadow_all;        /* shadow_all: every regular file opened is shadowed (tests) */
	double shadow_capacity; /* shadow_capacity=N: reads per bucket; < 0: per-file p99 */
	double shadow_threshold;/* shadow_threshold=P: P(exceed) that calls for a shadow */
	double shadow_window;   /* shadow_window=S: forecast window */
	double shadow_verify;   /* shadow_verify=S: re-hash each copy this often, 0 never */
	unsigned shadow_copies; /* shadow_copies=N: most copies of one file */
	bool shadow_react;      /* shadow_react=0|1: last bucket over capacity -> hot */
	/* rollout=P/P/..., rollout_interval=S, rollback_factor=X,
	 * rollout_min_reads=N, rollout_cooldown=S (daemon/rollout.h) */
	struct daemon_rollout_params rollout;
	unsigned fault_copy_delay_us; /* TESTS ONLY: delay every read served by a copy */
	unsigned fault_verify_delay_ms; /* TESTS ONLY: delay each chunk of a local re-hash */
	unsigned fault_start_delay_ms;	/* TESTS ONLY: the daemon reports ready this late */
	unsigned fault_rename_record_delay_ms; /* TESTS ONLY: between a rename and its records */
	char *fault_origin_delay_file; /* TESTS ONLY: delay origin reads by its us (owned) */
	unsigned remote_timeout_ms; /* remote_timeout=MS: deadline of a remote copy's read */
	double copy_rate;       /* copy_rate=MB/s: the copies' reads of origins, 0 = no limit */
	/* The first option given that acts only with hosts= (shadowing:
	 * shadow_*, rollout*, tls, ...) and the first that acts only with
	 * recording on (bucket, track, tiers), as given; "" if none: the
	 * mount warns of one given without what it needs. */
	char needs_hosts_opt[64];
	char needs_record_opt[64];
};

/* Defaults (documented in shadowfs(8)). */
#define FS_DEFAULT_TIMEOUT 86400.0
#define FS_DEFAULT_MAX_WRITE (1024u * 1024u)
#define FS_DEFAULT_MAX_THREADS 8u
#define FS_DEFAULT_FD_CACHE 4096u
#define FS_DEFAULT_DIRTY_SHARE 40u /* percent; the kernel gives a FUSE mount 1 */
#define FS_DEFAULT_BUCKET 60u
#define FS_DEFAULT_TRACK 10000u
#define FS_DEFAULT_SHADOW_TICK 1.0
#define FS_DEFAULT_SHADOW_IDLE 300.0
#define FS_DEFAULT_SHADOW_QUIET 2.0
#define FS_DEFAULT_SHADOW_THRESHOLD 0.8
#define FS_DEFAULT_SHADOW_WINDOW 300.0
#define FS_DEFAULT_SHADOW_VERIFY 3600.0
#define FS_DEFAULT_SHADOW_COPIES 3u
#define FS_DEFAULT_REMOTE_TIMEOUT_MS 300u
#define FS_DEFAULT_COPY_RATE 0.0 /* no limit: see shadowfs(8) for why */
#define FS_MAX_COPY_RATE 1e6	 /* MB/s (1 TB/s): beyond any disk */

/* Parse argv. On success returns 0, fills *opts and *fuse_args (arguments
 * for fuse_session_new: argv[0] followed by "-o" options; free with
 * fuse_opt_free_args). On a usage error returns -EINVAL with a one-line
 * message in errbuf. After -h/-V, returns 0 with show_help/show_version set
 * and BACKING/MOUNTPOINT possibly NULL. */
int fs_options_parse(int argc, char **argv, struct fs_options *opts,
		     struct fuse_args *fuse_args, char *errbuf, size_t errlen);

/* Frees what parse allocated; accepts a zeroed or half-filled struct. */
void fs_options_free(struct fs_options *opts);

/* Prints the option list (for --help). */
void fs_options_usage(const char *prog);

const char *fs_cache_policy_name(enum fs_cache_policy c);

#endif
