/* Unit tests of fs/host_metrics: exact deltas parsed from fixed /proc files
 * (the parsers), and sane values from the real /proc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/host_metrics.h"
#include "tests/unit/tmpdir.h"

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void write_proc(const char *dir, unsigned k)
{
	char buf[1024];
	/* user nice system idle iowait irq softirq steal */
	snprintf(buf, sizeof(buf), "cpu  %u 0 %u %u 0 0 0 0 0 0\ncpu0 1 2 3 4\n", 100 + 30 * k,
		 50 + 10 * k, 1000 + 60 * k);
	put(dir, "stat", buf);
	put(dir, "meminfo", "MemTotal:       1000000 kB\nMemFree:  1 kB\nMemAvailable:    250000 kB\n");
	snprintf(buf, sizeof(buf),
		 "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes\n"
		 "    lo: 999%u 1 0 0 0 0 0 0 999%u 1 0 0 0 0 0 0\n"
		 "  eth0: %u 10 0 0 0 0 0 0 %u 5 0 0 0 0 0 0\n",
		 k, k, 5000 + 1500 * k, 7000 + 100 * k);
	put(dir, "net/dev", buf);
	snprintf(buf, sizeof(buf),
		 "   7       0 loop0 9 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
		 "   8       0 sda %u 0 %u 0 %u 0 %u 0 0 %u 0 0 0 0 0 0 0\n",
		 10 + 4 * k, 80 + 16 * k, 3 + k, 24 + 8 * k, 100 + 7 * k);
	put(dir, "diskstats", buf);
}

/* Each sample reports exactly the change since the previous one: CPU busy
 * share, network bytes without lo, disk I/O without loop devices. */
static void test_fixture_deltas(void **state)
{
	(void)state;
	char *dir = tmpdir_make("proc");
	char net[512];
	snprintf(net, sizeof(net), "%s/net", dir);
	mkdir(net, 0755);
	write_proc(dir, 0);
	struct fs_host_sampler *s = NULL;
	assert_int_equal(fs_host_sampler_new(dir, -1, &s), 0);
	write_proc(dir, 1);
	struct pred_host_bucket h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(fs_host_sample(s, &h), 0);
	assert_true(h.cpu_pct > 39.99 && h.cpu_pct < 40.01); /* 40 busy of 100 */
	assert_int_equal(h.mem_total_kb, 1000000);
	assert_int_equal(h.mem_avail_kb, 250000);
	assert_int_equal(h.net_rx_bytes, 1500);
	assert_int_equal(h.net_tx_bytes, 100);
	assert_int_equal(h.ndisks, 1);
	assert_string_equal(h.disks[0].device, "sda");
	assert_int_equal(h.disks[0].reads, 4);
	assert_int_equal(h.disks[0].read_bytes, 16 * 512);
	assert_int_equal(h.disks[0].writes, 1);
	assert_int_equal(h.disks[0].write_bytes, 8 * 512);
	assert_int_equal(h.disks[0].io_ms, 7);
	/* No change: zero deltas. A missing file is reported, the rest filled. */
	char p[512];
	snprintf(p, sizeof(p), "%s/diskstats", dir);
	unlink(p);
	assert_true(fs_host_sample(s, &h) < 0);
	assert_int_equal(h.net_rx_bytes, 0);
	assert_int_equal(h.mem_total_kb, 1000000);
	assert_int_equal(h.ndisks, 0);
	fs_host_sampler_free(s);
	tmpdir_remove(dir);
}

/* On the real /proc the values are within their ranges. */
static void test_real_proc(void **state)
{
	(void)state;
	struct fs_host_sampler *s = NULL;
	int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	assert_int_equal(fs_host_sampler_new(NULL, root, &s), 0);
	close(root);
	struct pred_host_bucket h;
	memset(&h, 0, sizeof(h));
	assert_int_equal(fs_host_sample(s, &h), 0);
	assert_true(h.cpu_pct >= 0 && h.cpu_pct <= 100);
	assert_true(h.mem_total_kb > 0 && h.mem_avail_kb <= h.mem_total_kb);
	assert_true(h.ndisks <= FS_HOST_MAX_DISKS);
	fs_host_sampler_free(s);
	fs_host_sampler_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_deltas),
		cmocka_unit_test(test_real_proc),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
