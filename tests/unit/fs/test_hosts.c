/* Unit tests of fs/hosts.c: parsing of hosts= (every accepted form and a
 * clear error for each bad one), and a local host store opened and reported
 * in the status file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/hosts.h"

static void test_parse_forms(void **state)
{
	(void)state;
	struct fs_host_spec *v = NULL;
	size_t n = 0;
	char err[256] = "";
	assert_int_equal(fs_hosts_parse("/ssd/shadows:cost=2:budget=512m;10.0.0.2:7811;"
					"[fd00::2]:7812:cost=0.25;/nvme",
					&v, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 4);
	assert_int_equal(v[0].kind, FS_HOST_LOCAL);
	assert_string_equal(v[0].where, "/ssd/shadows");
	assert_true(v[0].cost == 2.0);
	assert_int_equal(v[0].budget_bytes, 512ull << 20);
	assert_int_equal(v[1].kind, FS_HOST_REMOTE);
	assert_string_equal(v[1].where, "10.0.0.2");
	assert_int_equal(v[1].port, 7811);
	assert_true(v[1].cost == 1.0); /* default */
	assert_string_equal(v[2].where, "fd00::2");
	assert_int_equal(v[2].port, 7812);
	assert_true(v[2].cost == 0.25);
	assert_int_equal(v[3].budget_bytes, 0); /* unlimited */
	free(v);
	v = NULL;
	assert_int_equal(fs_hosts_parse("/nvme:budget=0", &v, &n, err, sizeof(err)), 0);
	assert_int_equal(v[0].budget_bytes, 0); /* 0: unlimited too, as shadowd's */
	free(v);
	assert_int_equal(fs_hosts_parse("shadow-1.example_net:7811;[fe80::2%eth0]:7812", &v, &n, err,
					sizeof(err)),
			 0);
	assert_string_equal(v[0].where, "shadow-1.example_net");
	assert_string_equal(v[1].where, "fe80::2%eth0");
	free(v);
}

static void expect_error(const char *list, const char *fragment)
{
	struct fs_host_spec *v = NULL;
	size_t n = 0;
	char err[256] = "";
	assert_int_equal(fs_hosts_parse(list, &v, &n, err, sizeof(err)), -EINVAL);
	if (!strstr(err, fragment))
		fail_msg("hosts=%s: error '%s' lacks '%s'", list, err, fragment);
}

/* A host directory has one spelling: trailing '/', empty and "."
 * components go (its name in status lines and user.shadow.hosts; a
 * remount spelled "/d/h/" named another host than "/d/h"), an existing
 * one is its realpath; two spellings of one directory are one host. */
static void test_parse_normalized(void **state)
{
	(void)state;
	struct fs_host_spec *v = NULL;
	size_t n = 0;
	char err[256] = "", dir[] = "/tmp/sfs-hosts-test.XXXXXX", list[256];
	assert_non_null(mkdtemp(dir));
	snprintf(list, sizeof(list), "/no-such-sfs//a/./b/;/no-such-sfs/c/.;%s/", dir);
	assert_int_equal(fs_hosts_parse(list, &v, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].where, "/no-such-sfs/a/b");
	assert_string_equal(v[1].where, "/no-such-sfs/c");
	assert_string_equal(v[2].where, dir);
	free(v);
	v = NULL;
	snprintf(list, sizeof(list), "%s;%s//.", dir, dir);
	assert_int_equal(fs_hosts_parse(list, &v, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "listed twice"));
	assert_null(v);
	assert_int_equal(rmdir(dir), 0);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_error("", "empty entry");
	/* the directory names the host in space-separated status lines */
	expect_error("/x/h x=1", "may not hold spaces");
	expect_error("/x/h\tx", "may not hold spaces");
	expect_error("/x/q\"uote:cost=2", "may not hold spaces");
	expect_error("q\"uote:7000", "may hold only letters");
	expect_error("a=b:7000", "may hold only letters");
	expect_error("[::1\\x]:7000", "may hold only letters");
	expect_error("/x/a=b", "may not hold spaces");
	expect_error("/a;", "empty entry");
	expect_error("relative", "neither an absolute directory nor HOST:PORT");
	expect_error("host:0", "bad host or port");
	expect_error("host:65536", "bad host or port");
	expect_error("host:12x", "bad host or port");
	expect_error(":80", "bad host or port");
	expect_error("[::1]80", "want [ADDR]:PORT");
	expect_error("/a:cost=abc", "cost 'abc'");
	expect_error("/a:cost=-1", "cost '-1'");
	expect_error("/a:cost=nan", "cost 'nan'");
	expect_error("/a:budget=12q", "budget '12q'");
	expect_error("/a:budget=99999999999t", "budget");
	expect_error("/a:speed=3", "unknown attribute 'speed'");
	expect_error("/a:cost", "not KEY=VALUE");
	expect_error("/a:cost=1:cost=2", "cost given twice");
	expect_error("/a:budget=1g:cost=2:budget=2g", "budget given twice");
	expect_error("h:1:cost=1:cost=1", "cost given twice");
	expect_error("h:1:budget=1g", "shadowd --space-budget");
	expect_error("/a;/a", "listed twice");
	expect_error("h:1;h:1", "listed twice");
	expect_error("/a;/a/b", "one store inside the other");
	expect_error("/a/b/;/a/", "one store inside the other");
}

/* A local store is opened (created) and shows in the status file. */
static void test_local_store_status(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_hosts.XXXXXX", store[64], status[64], line[512];
	assert_non_null(mkdtemp(dir));
	snprintf(store, sizeof(store), "%s/store", dir);
	snprintf(status, sizeof(status), "%s/hosts.status", dir);
	struct fs_host_spec spec = {.kind = FS_HOST_LOCAL, .cost = 3, .budget_bytes = 1 << 20};
	snprintf(spec.where, sizeof(spec.where), "%s", store);
	struct fs_hosts_config cfg = {.specs = &spec, .n = 1};
	struct fs_hosts *h = NULL;
	char err[256] = "";
	assert_int_equal(fs_hosts_open(&cfg, &h, err, sizeof(err)), 0);
	assert_int_equal(access(store, F_OK), 0);
	assert_int_equal(fs_hosts_start(h, status), 0);
	FILE *f = fopen(status, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, "kind=local cost=3 state=up copies=0"));
	assert_non_null(strstr(line, "budget_bytes=1048576"));
	fs_hosts_close(h);
	/* Remote hosts without tls= are refused at open, with the reason. */
	struct fs_host_spec remote = {.kind = FS_HOST_REMOTE, .where = "127.0.0.1", .port = 9};
	cfg.specs = &remote;
	assert_int_equal(fs_hosts_open(&cfg, &h, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "need -o tls=DIR"));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_forms),
	    cmocka_unit_test(test_parse_normalized),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_local_store_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
