/* shadowd: a resource host. Holds shadow copies in a host store and serves
 * them to shadowfs mounts over mutually authenticated TLS (see shadowd(8)).
 * This file only parses options, builds the pieces and runs the server until
 * SIGTERM/SIGINT. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/daemon_start.h"
#include "common/fd_limit.h"
#include "common/log.h"
#include "common/parse.h"
#include "daemon/copy_expiry.h"
#include "daemon/delta_ops.h"
#include "daemon/fault_inject.h"
#include "daemon/host_store.h"
#include "daemon/load.h"
#include "daemon/server.h"
#include "daemon/throttle.h"
#include "sync/tls.h"
#include "sync/wire.h"

static struct daemon_server *g_server;

static void on_signal(int sig)
{
	(void)sig;
	daemon_server_stop(g_server);
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: shadowd --store DIR --listen ADDR:PORT --cert FILE --key FILE --ca FILE\n"
	    "               [--cost C] [--capacity-read MB/s] [--capacity-iops N]\n"
	    "               [--space-budget MiB] [--max-copy-size MiB] [--max-conns N]\n"
	    "               [--max-conns-per-peer N]\n"
	    "               [--sync-delay-ms N] [--expire-hours H] [-f] [-v]\n"
	    "               shadowd --help | --version\n"
	    "test-only:     [--test-inject-latency-ms N] [--test-inject-error-rate P]\n"
	    "               [--test-inject-commit-ms N] [--test-no-verify] [--test-no-zeros]\n"
	    "               [--test-no-stamp-check] [--test-io-timeout-ms N]\n"
	    "See shadowd(8).\n");
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *ret)
{
	double v;
	if (sfs_parse_number(s, lo, hi, &v) < 0) {
		fprintf(stderr,
			"shadowd: invalid value '%s' for %s (expected a number in [%g, %g])\n", s,
			opt, lo, hi);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* The same for a limit whose 0 means "none": a positive value below min
 * (what it rounds to 0 in its unit, or a rate no request would ever meet)
 * is refused rather than taken for "none" or for a stall. */
static int parse_limit(const char *opt, const char *s, double min, double hi, const char *zero,
		       double *ret)
{
	int r = parse_double(opt, s, 0, hi, ret);
	if (r == 0 && *ret > 0 && *ret < min) {
		fprintf(stderr, "shadowd: %s %s is too small: 0 means %s, else at least %g\n", opt,
			s, zero, min);
		return -EINVAL;
	}
	return r;
}

/* Whether the value of a count option is a whole number (else said). */
static bool whole(const char *opt, double v)
{
	if (v == (double)(unsigned)v)
		return true;
	fprintf(stderr, "shadowd: invalid value '%g' for %s (expected a whole number)\n", v, opt);
	return false;
}

/* The default --max-copy-size: the size of the filesystem dir is on (a
 * sparse copy may be bigger than its free space, not than its disk); 0, the
 * protocol's limit, when it says none (ramfs). */
static uint64_t fs_size_bytes(const char *dir)
{
	struct statvfs vfs;
	if (statvfs(dir, &vfs) < 0)
		return 0;
	return (uint64_t)vfs.f_blocks * vfs.f_frsize;
}

/* "1.2.3.4:PORT" or "[::1]:PORT". addr receives the address text. */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"store", required_argument, 0, 's'},
	    {"listen", required_argument, 0, 'l'},
	    {"cert", required_argument, 0, 'c'},
	    {"key", required_argument, 0, 'k'},
	    {"ca", required_argument, 0, 'a'},
	    {"cost", required_argument, 0, 'C'},
	    {"capacity-read", required_argument, 0, 'R'},
	    {"capacity-iops", required_argument, 0, 'I'},
	    {"space-budget", required_argument, 0, 'B'},
	    {"max-copy-size", required_argument, 0, 'P'},
	    {"max-conns", required_argument, 0, 'M'},
	    {"max-conns-per-peer", required_argument, 0, 'N'},
	    {"sync-delay-ms", required_argument, 0, 'S'},
	    {"expire-hours", required_argument, 0, 'X'},
	    {"test-inject-latency-ms", required_argument, 0, 'L'},
	    {"test-inject-error-rate", required_argument, 0, 'E'},
	    {"test-inject-commit-ms", required_argument, 0, 'T'},
	    {"test-no-verify", no_argument, 0, 'V'},
	    {"test-no-zeros", no_argument, 0, 'Z'},
	    {"test-no-stamp-check", no_argument, 0, 'D'},
	    {"test-io-timeout-ms", required_argument, 0, 'O'},
	    {"foreground", no_argument, 0, 'f'},
	    {"verbose", no_argument, 0, 'v'},
	    {"help", no_argument, 0, 'h'},
	    {"version", no_argument, 0, 'W'},
	    {0, 0, 0, 0},
	};
	const char *store_dir = NULL, *listen = NULL, *cert = NULL, *key = NULL, *ca = NULL;
	/* cost: the mount's default for a host (shown only: see shadowd(8)) */
	double cost = 1, cap_read = 0, cap_iops = 0, budget_mib = 0, max_conns = 64;
	double max_per_peer = DAEMON_SERVER_CONNS_PER_PEER;
	double lat_ms = 0, err_rate = 0, commit_ms = 0, sync_delay_ms = DAEMON_STORE_SYNC_DELAY_MS;
	double io_timeout_ms = 30000;
	double expire_h = 168; /* a week */
	double max_copy_mib = -1; /* -1: the size of the store's filesystem */
	int foreground = 0, verbose = 0, no_verify = 0, no_zeros = 0, no_stamp_check = 0, c, r;
	int status = 1, start_fd = -1;
	char addr[64], why[512];
	uint16_t port = 0;
	struct daemon_store *store = NULL;
	struct sync_tls_ctx *tls = NULL;
	struct daemon_load *load = NULL;
	struct daemon_copy_expiry *expiry = NULL;
	struct daemon_throttle throttle;
	struct daemon_fault fault;

	while ((c = getopt_long(argc, argv, "fvh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			store_dir = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'C':
			r = parse_double("--cost", optarg, 0, 1e9, &cost);
			goto check;
		case 'R':
			r = parse_limit("--capacity-read", optarg, 0.001, 1e6, "no throttle", &cap_read);
			goto check;
		case 'I':
			r = parse_limit("--capacity-iops", optarg, 0.001, 1e9, "no throttle", &cap_iops);
			goto check;
		case 'B':
			r = parse_limit("--space-budget", optarg, 1.0 / 1048576, 1e12, "no limit", &budget_mib);
			goto check;
		case 'P':
			r = parse_limit("--max-copy-size", optarg, 1.0 / 1048576,
					(double)(SYNC_WIRE_MAX_FILE_SIZE >> 20), "the protocol's 1 PiB",
					&max_copy_mib);
			goto check;
		case 'M':
			r = parse_double("--max-conns", optarg, 1, 4096, &max_conns);
			goto check;
		case 'N':
			r = parse_double("--max-conns-per-peer", optarg, 1, 4096, &max_per_peer);
			goto check;
		case 'S':
			r = parse_double("--sync-delay-ms", optarg, 0, 86400000, &sync_delay_ms);
			goto check;
		case 'X':
			r = parse_limit("--expire-hours", optarg, 1.0 / 3600, 87600, "never", &expire_h);
			goto check;
		case 'L':
			r = parse_double("--test-inject-latency-ms", optarg, 0, 3600000, &lat_ms);
			goto check;
		case 'E':
			r = parse_double("--test-inject-error-rate", optarg, 0, 1, &err_rate);
			goto check;
		case 'T':
			r = parse_double("--test-inject-commit-ms", optarg, 0, 3600000, &commit_ms);
			goto check;
		case 'V':
			no_verify = 1;
			break;
		case 'Z':
			no_zeros = 1;
			break;
		case 'D':
			no_stamp_check = 1;
			break;
		case 'O':
			r = parse_double("--test-io-timeout-ms", optarg, 100, 3600000, &io_timeout_ms);
			goto check;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'W':
			printf("shadowd %s\n", SHADOWFS_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		continue;
	check:
		if (r < 0)
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "shadowd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!store_dir || !listen || !cert || !key || !ca) {
		fprintf(stderr,
			"shadowd: --store, --listen, --cert, --key and --ca are required\n");
		usage(stderr);
		return 2;
	}
	struct in6_addr numeric;
	if (sfs_parse_hostport(listen, addr, sizeof(addr), &port) == 0 &&
	    inet_pton(AF_INET, addr, &numeric) != 1 && inet_pton(AF_INET6, addr, &numeric) != 1) {
		fprintf(stderr,
			"shadowd: invalid --listen '%s': the address must be numeric, e.g. "
			"127.0.0.1:7070 or [::1]:7070 (names such as localhost are not "
			"resolved)\n",
			listen);
		return 2;
	}
	if (!whole("--max-conns", max_conns) || !whole("--max-conns-per-peer", max_per_peer))
		return 2;
	if (sfs_parse_hostport(listen, addr, sizeof(addr), &port) < 0) {
		fprintf(stderr,
			"shadowd: invalid --listen '%s' (expected ADDR:PORT, e.g. "
			"127.0.0.1:7070 or [::1]:7070)\n",
			listen);
		return 2;
	}
	/* stderr until the daemon serves (sfs_daemon_ready), syslog after. */
	sfs_log_init("shadowd", verbose ? SFS_LOG_DEBUG : SFS_LOG_INFO, false);

	r = sync_tls_ctx_new(true, cert, key, ca, &tls, why, sizeof(why));
	if (r == 0 && (r = sync_tls_ctx_check_identity(tls, why, sizeof(why))) < 0) {
		fprintf(stderr, "shadowd: --cert %s and --ca %s: %s\n", cert, ca, why);
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "shadowd: TLS setup failed: %s\n", why);
		goto out;
	}
	r = daemon_store_open(store_dir, (uint64_t)(budget_mib * 1048576.0), &store);
	if (r < 0) {
		fprintf(stderr, "shadowd: cannot open store %s: %s\n", store_dir,
			r == -EBUSY ? "in use by another shadowd or shadowfs mount"
				    : strerror(-r));
		goto out;
	}
	daemon_store_set_sync_delay(store, (uint64_t)sync_delay_ms);
	if (no_stamp_check)
		daemon_store_set_no_stamp_check(store);
	struct daemon_store_stats st;
	daemon_store_stats(store, &st);
	if (st.recovered_copies || st.discarded_copies)
		sfs_info("store %s: %llu unsynced copies re-verified after a crash, %llu discarded",
			 store_dir, (unsigned long long)st.recovered_copies,
			 (unsigned long long)st.discarded_copies);
	uint64_t expire_ms = (uint64_t)(expire_h * 3600000.0);
	r = daemon_copy_expiry_new(store, expire_ms, sync_now_ms(), &expiry);
	if (r < 0) {
		fprintf(stderr, "shadowd: cannot list the store for the copy expiry: %s\n",
			strerror(-r));
		goto out;
	}
	r = daemon_load_new(&load);
	if (r < 0)
		goto out;
	daemon_throttle_init(&throttle, cap_read, cap_iops);
	daemon_fault_init(&fault, (uint32_t)lat_ms, err_rate, (uint64_t)getpid());
	fault.commit_ms = (uint32_t)commit_ms;
	fault.no_verify = no_verify;
	fault.no_zeros = no_zeros;
	struct daemon_server_config cfg = {
	    .store = store,
	    .tls = tls,
	    .listen_addr = addr,
	    .listen_port = port,
	    .max_conns = (unsigned)max_conns,
	    .max_conns_per_peer = (unsigned)max_per_peer, /* at most max_conns (server.c) */
	    .io_timeout_ms = (unsigned)io_timeout_ms,
	    .throttle = (cap_read > 0 || cap_iops > 0) ? &throttle : NULL,
	    .fault = lat_ms > 0 || err_rate > 0 || commit_ms > 0 || no_verify || no_zeros ? &fault
											  : NULL,
	    .load = load,
	    .delta = daemon_delta_ops_librsync(),
	    .expiry = expiry,
	    .max_copy_size = max_copy_mib >= 0 ? (uint64_t)(max_copy_mib * 1048576.0)
					       : fs_size_bytes(store_dir),
	};
	/* A connection takes 2 fds and 1 more per request; the store, the
	 * listening socket and the log a few. Short of that, connections wait
	 * in the backlog at the limit (daemon/server.c): said now, not then. */
	uint64_t fds = sfs_fd_limit_raise();
	if (fds < 3 * (uint64_t)max_conns + 32)
		sfs_warn("the open files limit (%llu) is low for --max-conns %u (3 file "
			 "descriptors per connection): past about %llu connections, new ones "
			 "will wait until one ends",
			 (unsigned long long)fds, (unsigned)max_conns,
			 (unsigned long long)(fds > 32 ? (fds - 32) / 3 : 0));
	r = daemon_server_new(&cfg, &g_server);
	if (r < 0) {
		fprintf(stderr, "shadowd: cannot listen on %s: %s\n", listen, strerror(-r));
		goto out_tf;
	}
	/* The rest in the daemon, its errors still on the terminal; this
	 * process's exit status says whether it started. Threads only after. */
	if (!foreground && (start_fd = sfs_daemon_start("shadowd", NULL, NULL)) < 0) {
		fprintf(stderr, "shadowd: cannot daemonize: %s\n", strerror(-start_fd));
		goto out_tf;
	}
	/* Copies no mount used for expire_h hours go (copy_expiry.h): a pass
	 * every quarter of that, at most a minute apart. */
	r = daemon_copy_expiry_start(expiry, expire_ms / 4 < 60000 ? expire_ms / 4 + 1 : 60000);
	if (r < 0) {
		fprintf(stderr, "shadowd: cannot start the copy expiry: %s\n", strerror(-r));
		goto out_tf;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfs_info("listening on %s:%u store %s cost %g%s%s", addr, daemon_server_port(g_server),
		 store_dir, cost, cfg.throttle ? " (throttled)" : "",
		 cfg.fault ? " (TEST FAULT INJECTION ON)" : "");
	sfs_daemon_ready(start_fd);
	start_fd = -1;
	daemon_server_run(g_server);
	sfs_info("stopped");
	status = 0;
out_tf:
	daemon_server_free(g_server);
	daemon_throttle_destroy(&throttle);
	daemon_fault_destroy(&fault);
out:
	daemon_load_free(load);
	daemon_copy_expiry_free(expiry);
	daemon_store_close(store);
	sync_tls_ctx_free(tls);
	sfs_daemon_failed(start_fd); /* only if it never got ready */
	return status;
}
