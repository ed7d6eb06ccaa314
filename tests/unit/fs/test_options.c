/* Unit tests of fs/options: defaults, our options, options passed on to
 * libfuse, fstab words dropped, and one clear message per bad option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/ops.h"
#include "fs/options.h"

struct parsed {
	struct fs_options o;
	struct fuse_args a;
	char err[256];
	int ret;
};

static void parse(struct parsed *p, int argc, const char **argv)
{
	memset(p, 0, sizeof(*p));
	p->ret = fs_options_parse(argc, (char **)argv, &p->o, &p->a, p->err, sizeof(p->err));
}

static void done(struct parsed *p)
{
	fuse_opt_free_args(&p->a);
	fs_options_free(&p->o);
}

/* Joins the arguments for libfuse into one string for easy matching. */
static void joined(struct parsed *p, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 1; i < p->a.argc; i++) {
		strncat(buf, p->a.argv[i], len - strlen(buf) - 2);
		strcat(buf, " ");
	}
}

/* With only BACKING and MOUNTPOINT, the documented defaults apply. */
static void test_defaults(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b", "/m"};
	parse(&p, 3, argv);
	assert_int_equal(p.ret, 0);
	assert_string_equal(p.o.backing, "/b");
	assert_string_equal(p.o.mountpoint, "/m");
	assert_false(p.o.foreground);
	assert_int_equal(p.o.cache, FS_CACHE_ALWAYS);
	assert_true(p.o.writeback);
	assert_false(p.o.splice_write);
	assert_int_equal(p.o.max_write, FS_DEFAULT_MAX_WRITE);
	assert_int_equal(p.o.max_threads, FS_DEFAULT_MAX_THREADS);
	assert_int_equal(p.o.max_idle_threads, FS_DEFAULT_MAX_THREADS);
	assert_int_equal(p.o.dirty_share, FS_DEFAULT_DIRTY_SHARE);
	assert_false(p.o.dirty_share_given);
	assert_true(p.o.timeout == FS_DEFAULT_TIMEOUT);
	assert_int_equal(p.o.locks, FS_LOCKS_KERNEL);
	assert_false(p.o.default_permissions);
	assert_null(p.o.state);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "fsname=/b"));
	assert_non_null(strstr(buf, "subtype=shadowfs"));
	done(&p);
}

/* Our options are parsed into the struct, with k/m suffixes. */
static void test_own_options(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b", "/m", "-f", "-o",
			      "cache=never,no_writeback,max_write=128k,threads=3",
			      "-o", "timeout=2.5,max_read=64k,locks=backing,hosts=a:1,no_splice",
			      "-o", "dirty_share=0"};
	parse(&p, 10, argv);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.foreground);
	assert_int_equal(p.o.cache, FS_CACHE_NEVER);
	assert_false(p.o.writeback);
	assert_false(p.o.splice_write);
	assert_int_equal(p.o.max_write, 128 * 1024);
	assert_int_equal(p.o.max_read, 64 * 1024);
	assert_int_equal(p.o.max_threads, 3);
	assert_int_equal(p.o.max_idle_threads, 3);
	assert_true(p.o.timeout == 2.5);
	assert_int_equal(p.o.locks, FS_LOCKS_BACKING);
	assert_string_equal(p.o.hosts, "a:1");
	assert_int_equal(p.o.dirty_share, 0);
	assert_true(p.o.dirty_share_given);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_null(strstr(buf, "dirty_share")); /* ours only */
	assert_non_null(strstr(buf, "max_read=65536")); /* a number for the kernel */
	assert_null(strstr(buf, "max_read=64k"));
	assert_null(strstr(buf, "max_write")); /* ours only */
	done(&p);
}

/* passthrough is off by default; on, it turns the default writeback cache
 * off (the kernel refuses the two together), and an explicit writeback with
 * it, in either order, is an error naming both; no_writeback then
 * passthrough is fine. */
static void test_passthrough(void **state)
{
	(void)state;
	static const struct {
		const char *opts;
		int ret;
		bool passthrough, writeback;
	} cases[] = {
		{"rw", 0, false, true},
		{"passthrough", 0, true, false},
		{"passthrough,writeback", -EINVAL, false, false},
		{"writeback_cache,passthrough", -EINVAL, false, false},
		{"writeback,no_writeback,passthrough", 0, true, false},
		{"passthrough,no_passthrough", 0, false, true},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct parsed p;
		const char *argv[] = {"shadowfs", "/b", "/m", "-o", cases[k].opts};
		parse(&p, 5, argv);
		assert_int_equal(p.ret, cases[k].ret);
		if (p.ret == 0) {
			assert_int_equal(p.o.passthrough, cases[k].passthrough);
			assert_int_equal(p.o.writeback, cases[k].writeback);
		} else {
			assert_non_null(strstr(p.err, "passthrough and writeback cannot be combined"));
		}
		done(&p);
	}
}

/* io_uring is off by default, on with io_uring, off again with
 * no_io_uring (the last one wins), and not a libfuse option: it does not
 * reach the kernel's mount options. */
static void test_io_uring(void **state)
{
	(void)state;
	static const struct {
		const char *opts;
		bool io_uring;
	} cases[] = {
		{"rw", false},
		{"io_uring", true},
		{"io_uring,no_io_uring", false},
		{"no_io_uring,io_uring,passthrough", true},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct parsed p;
		const char *argv[] = {"shadowfs", "/b", "/m", "-o", cases[k].opts};
		parse(&p, 5, argv);
		assert_int_equal(p.ret, 0);
		assert_int_equal(p.o.io_uring, cases[k].io_uring);
		char buf[512];
		joined(&p, buf, sizeof(buf));
		assert_null(strstr(buf, "io_uring"));
		done(&p);
	}
}

/* The shadowing options: defaults, then values given. */
static void test_shadow_options(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv0[] = {"shadowfs", "/b", "/m"};
	parse(&p, 3, argv0);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.shadow_tick == FS_DEFAULT_SHADOW_TICK);
	assert_true(p.o.shadow_idle == FS_DEFAULT_SHADOW_IDLE);
	assert_true(p.o.shadow_threshold == FS_DEFAULT_SHADOW_THRESHOLD);
	assert_true(p.o.shadow_capacity < 0);
	assert_false(p.o.shadow_all);
	assert_int_equal(p.o.remote_timeout_ms, FS_DEFAULT_REMOTE_TIMEOUT_MS);
	assert_true(p.o.copy_rate == FS_DEFAULT_COPY_RATE);
	done(&p);
	const char *argv[] = {"shadowfs", "/b", "/m", "-o",
			      "shadow_tick=0.5,shadow_idle=10,shadow_quiet=0,shadow_all,"
			      "shadow_capacity=1e12,shadow_threshold=0.9,shadow_window=120,"
			      "remote_timeout=50,copy_rate=12.5"};
	parse(&p, 5, argv);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.shadow_tick == 0.5);
	assert_true(p.o.shadow_idle == 10);
	assert_true(p.o.shadow_quiet == 0);
	assert_true(p.o.shadow_all);
	assert_true(p.o.shadow_capacity == 1e12);
	assert_true(p.o.shadow_threshold == 0.9);
	assert_true(p.o.shadow_window == 120);
	assert_int_equal(p.o.remote_timeout_ms, 50);
	assert_true(p.o.copy_rate == 12.5);
	done(&p);
	/* The window is checked in buckets, whichever option comes first. */
	const char *argv2[] = {"shadowfs", "/b", "/m", "-o", "shadow_window=80,bucket=10"};
	parse(&p, 5, argv2);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.shadow_window == 80);
	done(&p);
}

/* tls_name= takes the names shadowctl ca issue issues: host names, IP
 * addresses (v4 and v6). */
static void test_tls_name(void **state)
{
	(void)state;
	static const char *const names[] = {"tls_name=origin", "tls_name=host-1.example.org",
					    "tls_name=127.0.0.1", "tls_name=fe80::1"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		struct parsed p;
		const char *argv[] = {"shadowfs", "/b", "/m", "-o", names[k]};
		parse(&p, 5, argv);
		assert_int_equal(p.ret, 0);
		assert_string_equal(p.o.tls_name, strchr(names[k], '=') + 1);
		done(&p);
	}
}

/* Rollout options: defaults 10/25/50/100 %, 5 s, 1.5x, no injected delay;
 * each value given lands in the rollout parameters. */
static void test_rollout_options(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv0[] = {"shadowfs", "/b", "/m"};
	parse(&p, 3, argv0);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.o.rollout.nsteps, 4);
	assert_int_equal(p.o.rollout.steps[0], 100);
	assert_int_equal(p.o.rollout.interval_ms, 5000);
	assert_true(p.o.rollout.factor == 1.5);
	assert_int_equal(p.o.fault_copy_delay_us, 0);
	assert_null(p.o.fault_origin_delay_file);
	done(&p);
	const char *argv[] = {"shadowfs", "/b", "/m", "-o",
			      "rollout=5/50/100,rollout_interval=0.25,rollback_factor=2.5,"
			      "rollout_min_reads=7,rollout_cooldown=3,fault_copy_delay_us=1500,"
			      "fault_origin_delay_file=/tmp/slow"};
	parse(&p, 5, argv);
	assert_int_equal(p.ret, 0);
	assert_int_equal(p.o.rollout.nsteps, 3);
	assert_int_equal(p.o.rollout.steps[0], 50);
	assert_int_equal(p.o.rollout.steps[1], 500);
	assert_int_equal(p.o.rollout.interval_ms, 250);
	assert_true(p.o.rollout.factor == 2.5);
	assert_int_equal(p.o.rollout.min_reads, 7);
	assert_int_equal(p.o.rollout.cooldown_ms, 3000);
	assert_int_equal(p.o.fault_copy_delay_us, 1500);
	assert_string_equal(p.o.fault_origin_delay_file, "/tmp/slow");
	done(&p);
}

/* -d implies foreground and passes debug on to libfuse. */
static void test_debug(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "-d", "/b", "/m"};
	parse(&p, 4, argv);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.debug);
	assert_true(p.o.foreground);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "debug"));
	done(&p);
}

/* Standard FUSE/mount options reach libfuse; fstab words do not;
 * allow_other turns default_permissions on. */
static void test_passed_on_and_dropped(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b", "/m", "-o",
			      ("rw,nosuid,nodev,allow_other,defaults,noauto,_netdev,x-systemd.automount,"
			       "fsname=mine,noatime,relatime,nodiratime,strictatime,lazytime")};
	parse(&p, 5, argv);
	assert_int_equal(p.ret, 0);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "nosuid"));
	assert_non_null(strstr(buf, "allow_other"));
	assert_non_null(strstr(buf, "default_permissions"));
	assert_non_null(strstr(buf, "fsname=mine"));
	assert_null(strstr(buf, "fsname=/b"));
	assert_null(strstr(buf, "defaults"));
	assert_null(strstr(buf, "noauto"));
	assert_null(strstr(buf, "_netdev"));
	assert_null(strstr(buf, "x-systemd"));
	/* libfuse 3.14 refuses these (the mount failed); FUSE ignores them */
	assert_non_null(strstr(buf, "noatime"));
	assert_null(strstr(buf, "relatime"));
	assert_null(strstr(buf, "diratime"));
	assert_null(strstr(buf, "strictatime"));
	assert_null(strstr(buf, "lazytime"));
	assert_true(p.o.allow_other);
	assert_true(p.o.default_permissions);
	done(&p);
}

/* no_default_permissions keeps allow_other without kernel checks. */
static void test_no_default_permissions(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b", "/m", "-o", "allow_other,no_default_permissions"};
	parse(&p, 5, argv);
	assert_int_equal(p.ret, 0);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_null(strstr(buf, "default_permissions"));
	done(&p);
}

/* The kernel checks permissions unless the mount is private to root: no
 * allow_other, no allow_root, no default_permissions, owner uid 0. */
static void test_kernel_checks_wanted(void **state)
{
	(void)state;
	static const struct {
		const char *opts; /* NULL: none */
		uid_t owner;
		bool want;
	} cases[] = {
		{NULL, 0, false},
		{"norecord,threads=1", 0, false},
		{NULL, 1000, true},
		{"allow_other", 0, true},
		{"allow_other,no_default_permissions", 0, true},
		{"allow_root", 0, true},
		{"default_permissions", 0, true},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct parsed p;
		const char *argv[] = {"shadowfs", "/b", "/m", "-o", cases[k].opts};
		parse(&p, cases[k].opts ? 5 : 3, argv);
		assert_int_equal(p.ret, 0);
		if (fs_kernel_checks_wanted(&p.o, cases[k].owner) != cases[k].want)
			fail_msg("case %zu (-o %s, owner %u): expected %d", k,
				 cases[k].opts ? cases[k].opts : "", (unsigned)cases[k].owner,
				 cases[k].want);
		done(&p);
	}
}

/* Each bad input fails with -EINVAL and a message naming the culprit. */
static void test_bad_options(void **state)
{
	(void)state;
	static const struct {
		const char *opt;
		const char *expect;
	} cases[] = {
		{"cache=sometimes", "cache=sometimes"},
		{"max_write=0", "max_write=0"},
		{"max_write=2m", "max_write=2m"},
		{"max_write=12x", "max_write=12x"},
		{"threads=0", "threads=0"},
		{"threads=-1", "threads=-1"},
		{"timeout=-1", "timeout=-1"},
		{"timeout=abc", "timeout=abc"},
		{"locks=maybe", "locks=maybe"},
		{"bogus", "unknown option 'bogus'"},
		{"state=", "state="},
		{"state=/etc/passwd", "not a directory"},
		{"fd_cache=1", "fd_cache=1"},
		{"dirty_share=101", "dirty_share=101"},
		{"dirty_share=-1", "dirty_share=-1"},
		{"dirty_share=half", "dirty_share=half"},
		{"dirty_share=", "dirty_share="},
		{"shadow_tick=0", "shadow_tick=0"},
		{"shadow_tick=x", "shadow_tick=x"},
		{"shadow_idle=-1", "shadow_idle=-1"},
		{"shadow_threshold=0", "shadow_threshold=0"},
		{"shadow_threshold=1.5", "shadow_threshold=1.5"},
		/* each message gives the option's own range, whatever was wrong
		 * (text or value): was "a number of seconds from 0 to 1e9" */
		{"shadow_threshold=abc", "'shadow_threshold=abc': expected a probability in (0, 1]"},
		{"shadow_threshold=nan", "'shadow_threshold=nan': expected a probability in (0, 1]"},
		{"shadow_threshold=-1", "'shadow_threshold=-1': expected a probability in (0, 1]"},
		{"shadow_tick=x", "'shadow_tick=x': expected 0.05 to 3600 seconds"},
		{"shadow_tick=2e9", "'shadow_tick=2e9': expected 0.05 to 3600 seconds"},
		{"rollout_interval=x", "'rollout_interval=x': expected 0.05 to 86400 seconds"},
		{"rollout_cooldown=-1", "'rollout_cooldown=-1': expected 0 to 2592000 seconds"},
		{"shadow_window=0", "shadow_window=0"},
		{"allow_other,allow_root", "allow_other and allow_root cannot be combined"},
		{"shadow_window=30", "forecast window is 1 to 8 buckets (bucket=60: 60 to 480 seconds)"},
		{"shadow_window=90,bucket=10", "forecast window is 1 to 8 buckets (bucket=10: 10 to 80"},
		{"shadow_capacity=lots", "shadow_capacity=lots"},
		{"shadow_capacity=-1", "expected reads per bucket, a number from 0 to 1e15"},
		{"shadow_capacity=2e15", "shadow_capacity=2e15"},
		{"timeout=1e10", "expected a number of seconds from 0 to 1e9"},
		{"shadow_verify=-5", "shadow_verify=-5"},
		{"rollout=50/25/100", "increasing percentages ending at 100"},
		{"rollout=10/50", "rollout=10/50"},
		{"rollout=", "rollout="},
		{"rollout=0/100", "rollout=0/100"},
		{"rollout_interval=0", "0.05 to 86400 seconds"},
		{"rollout_interval=x", "rollout_interval=x"},
		{"rollback_factor=1", "a factor from 1.05 to 1000"},
		{"rollback_factor=-2", "rollback_factor=-2"},
		{"rollback_factor=2x", "rollback_factor=2x"},
		{"rollout_min_reads=0", "rollout_min_reads=0"},
		{"rollout_cooldown=-1", "rollout_cooldown=-1"},
		{"fault_copy_delay_us=soon", "fault_copy_delay_us=soon"},
		{"fault_origin_delay_file=slow", "expected an absolute path"},
		{"fault_origin_delay_file=", "expected an absolute path"},
		{"remote_timeout=0", "remote_timeout=0"},
		{"remote_timeout=60001", "remote_timeout=60001"},
		{"remote_timeout=fast", "remote_timeout=fast"},
		{"copy_rate=abc", "bad option 'copy_rate=abc': expected MB/s"},
		{"copy_rate=-1", "bad option 'copy_rate=-1': expected MB/s"},
		{"copy_rate=", "copy_rate="},
		{"copy_rate=10MB", "copy_rate=10MB"},
		{"copy_rate=nan", "copy_rate=nan"},
		{"copy_rate=inf", "copy_rate=inf"},
		{"copy_rate=2e6", "copy_rate=2e6"},
		/* A path in the name read DIR/../ca/ops.crt (shadowctl ca issue
		 * refuses the same names). */
		{"tls_name=../ca/ops", "bad option 'tls_name=../ca/ops': expected a name as "
				       "'shadowctl ca issue DIR NAME' takes"},
		{"tls_name=ca/ops", "tls_name=ca/ops"},
		{"tls_name=/etc/ops", "tls_name=/etc/ops"},
		{"tls_name=..", "tls_name=.."},
		{"tls_name=", "tls_name="},
		/* the mount refused them after ours, in two lines ("fuse: mount
		 * failed: Invalid argument", then "see the message above") */
		{"fsname=", "bad option 'fsname=': expected fsname=NAME"},
		{"subtype=", "bad option 'subtype=': expected subtype=NAME"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct parsed p;
		const char *argv[] = {"shadowfs", "/b", "/m", "-o", cases[k].opt};
		parse(&p, 5, argv);
		assert_int_equal(p.ret, -EINVAL);
		assert_non_null(strstr(p.err, cases[k].expect));
		assert_null(strchr(p.err, '\n'));
		assert_null(p.o.backing);
		done(&p);
	}
}

/* Missing or extra positional arguments and unknown flags are errors. */
static void test_bad_arguments(void **state)
{
	(void)state;
	struct parsed p;
	const char *one[] = {"shadowfs", "/b"};
	parse(&p, 2, one);
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "usage"));
	done(&p);
	const char *three[] = {"shadowfs", "/b", "/m", "/x"};
	parse(&p, 4, three);
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "unexpected argument '/x'"));
	done(&p);
	const char *flag[] = {"shadowfs", "/b", "/m", "-z"};
	parse(&p, 4, flag);
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "'-z'"));
	done(&p);
	/* -o last, with nothing after it: one line of ours (libfuse printed
	 * "missing argument after `-o'", then ours said "cannot parse") */
	const char *dash_o[] = {"shadowfs", "/b", "/m", "-o"};
	parse(&p, 4, dash_o);
	assert_int_equal(p.ret, -EINVAL);
	assert_string_equal(p.err, "-o needs a list of options after it (see shadowfs --help)");
	done(&p);
	/* an empty entry (two commas in a row) was "unknown option ''" */
	const char *commas[] = {"shadowfs", "/b", "/m", "-o", "norecord,,cache=never"};
	parse(&p, 5, commas);
	assert_int_equal(p.ret, -EINVAL);
	assert_non_null(strstr(p.err, "an empty option in an -o list"));
	done(&p);
}

/* state=DIR is kept as an absolute path; an existing one is resolved. */
static void test_state(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b", "/m", "-o", "state=/tmp/../tmp"};
	parse(&p, 5, argv);
	assert_int_equal(p.ret, 0);
	assert_string_equal(p.o.state, "/tmp");
	done(&p);
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	const char *rel[] = {"shadowfs", "/b", "/m", "-o", "state=does-not-exist-yet"};
	parse(&p, 5, rel);
	assert_int_equal(p.ret, 0);
	assert_int_equal(strncmp(p.o.state, cwd, strlen(cwd)), 0);
	assert_non_null(strstr(p.o.state, "/does-not-exist-yet"));
	done(&p);
}

/* --help and -V need no positional arguments. */
static void test_help_version(void **state)
{
	(void)state;
	struct parsed p;
	const char *h[] = {"shadowfs", "--help"};
	parse(&p, 2, h);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.show_help);
	done(&p);
	const char *v[] = {"shadowfs", "-V"};
	parse(&p, 2, v);
	assert_int_equal(p.ret, 0);
	assert_true(p.o.show_version);
	done(&p);
}

/* A comma in BACKING is escaped in the fsname handed to libfuse. */
static void test_fsname_escaped(void **state)
{
	(void)state;
	struct parsed p;
	const char *argv[] = {"shadowfs", "/b,c", "/m"};
	parse(&p, 3, argv);
	assert_int_equal(p.ret, 0);
	char buf[512];
	joined(&p, buf, sizeof(buf));
	assert_non_null(strstr(buf, "fsname=/b\\,c"));
	done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_own_options),
		cmocka_unit_test(test_debug),
		cmocka_unit_test(test_passed_on_and_dropped),
		cmocka_unit_test(test_no_default_permissions),
		cmocka_unit_test(test_kernel_checks_wanted),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_io_uring),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_shadow_options),
		cmocka_unit_test(test_tls_name),
		cmocka_unit_test(test_rollout_options),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_fsname_escaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
