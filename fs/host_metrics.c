/* Host metrics from /proc: see host_metrics.h. Counters are kept from the
 * previous sample; deltas are clamped at 0 (a counter that went backwards,
 * e.g. an interface that was re-created, reports 0 for that interval). */
#include "fs/host_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct disk_state {
	char name[32];
	uint64_t reads, sectors_read, writes, sectors_written, io_ms;
};

struct fs_host_sampler {
	char proc[PATH_MAX / 2];
	char backing_dev[32]; /* "" when all disks are reported */
	uint64_t cpu_busy, cpu_total;
	uint64_t net_rx, net_tx;
	struct disk_state prev[FS_HOST_MAX_DISKS];
	size_t nprev;
	struct pred_disk_bucket out[FS_HOST_MAX_DISKS];
};

static uint64_t delta(uint64_t now, uint64_t before) { return now > before ? now - before : 0; }

static FILE *open_proc(const struct fs_host_sampler *s, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", s->proc, name);
	return fopen(path, "re");
}

/* Name of the block device holding path ("" when there is none). */
static void backing_device(int fd, char *out, size_t len)
{
	out[0] = '\0';
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || major(st.st_dev) == 0)
		return;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	snprintf(out, len, "%.31s", base ? base + 1 : target);
}

static int read_cpu(struct fs_host_sampler *s, uint64_t *busy, uint64_t *total)
{
	FILE *f = open_proc(s, "stat");
	if (!f)
		return -errno;
	char line[512];
	int rc = -EPROTO;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "cpu ", 4)) {
		uint64_t v[8] = {0};
		int n = sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
				" %" SCNu64 " %" SCNu64 " %" SCNu64,
			       &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		if (n >= 4) {
			*total = 0;
			for (int i = 0; i < 8; i++)
				*total += v[i];
			*busy = *total - v[3] - v[4]; /* minus idle and iowait */
			rc = 0;
		}
	}
	fclose(f);
	return rc;
}

static int read_mem(struct fs_host_sampler *s, struct pred_host_bucket *out)
{
	FILE *f = open_proc(s, "meminfo");
	if (!f)
		return -errno;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		uint64_t v;
		if (sscanf(line, "MemTotal: %" SCNu64, &v) == 1)
			out->mem_total_kb = v;
		else if (sscanf(line, "MemAvailable: %" SCNu64, &v) == 1)
			out->mem_avail_kb = v;
	}
	fclose(f);
	return out->mem_total_kb ? 0 : -EPROTO;
}

static int read_net(struct fs_host_sampler *s, uint64_t *rx, uint64_t *tx)
{
	FILE *f = open_proc(s, "net/dev");
	if (!f)
		return -errno;
	char line[512];
	*rx = *tx = 0;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		char *name = line;
		while (*name == ' ')
			name++;
		if (!strcmp(name, "lo"))
			continue;
		uint64_t v[9];
		if (sscanf(colon + 1,
			   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			   " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
			*rx += v[0];
			*tx += v[8];
		}
	}
	fclose(f);
	return 0;
}

static bool want_disk(const struct fs_host_sampler *s, const char *name)
{
	if (s->backing_dev[0])
		return !strcmp(name, s->backing_dev);
	return strncmp(name, "loop", 4) && strncmp(name, "ram", 3) && strncmp(name, "zram", 4);
}

static int read_disks(struct fs_host_sampler *s, struct pred_host_bucket *out)
{
	FILE *f = open_proc(s, "diskstats");
	if (!f)
		return -errno;
	char line[512];
	struct disk_state now[FS_HOST_MAX_DISKS];
	size_t n = 0;
	while (n < FS_HOST_MAX_DISKS && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char name[32];
		uint64_t v[10];
		if (sscanf(line,
			   " %u %u %31s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
			   " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &maj, &min, name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
			   &v[8], &v[9]) != 13)
			continue;
		if (!want_disk(s, name))
			continue;
		struct disk_state *d = &now[n++];
		snprintf(d->name, sizeof(d->name), "%.31s", name);
		d->reads = v[0];
		d->sectors_read = v[2];
		d->writes = v[4];
		d->sectors_written = v[6];
		d->io_ms = v[9];
	}
	fclose(f);
	out->ndisks = n;
	out->disks = s->out;
	for (size_t i = 0; i < n; i++) {
		const struct disk_state *p = NULL;
		for (size_t j = 0; j < s->nprev; j++)
			if (!strcmp(s->prev[j].name, now[i].name))
				p = &s->prev[j];
		struct disk_state zero = {0};
		if (!p)
			p = &zero;
		struct pred_disk_bucket *o = &s->out[i];
		memset(o, 0, sizeof(*o));
		snprintf(o->device, sizeof(o->device), "%.31s", now[i].name);
		o->reads = delta(now[i].reads, p->reads);
		o->read_bytes = delta(now[i].sectors_read, p->sectors_read) * 512;
		o->writes = delta(now[i].writes, p->writes);
		o->write_bytes = delta(now[i].sectors_written, p->sectors_written) * 512;
		o->io_ms = delta(now[i].io_ms, p->io_ms);
	}
	memcpy(s->prev, now, n * sizeof(now[0]));
	s->nprev = n;
	return 0;
}

int fs_host_sample(struct fs_host_sampler *s, struct pred_host_bucket *out)
{
	int first_err = 0, rc;
	uint64_t busy = 0, total = 0, rx = 0, tx = 0;
	out->cpu_pct = 0;
	out->mem_total_kb = out->mem_avail_kb = 0;
	out->net_rx_bytes = out->net_tx_bytes = 0;
	out->ndisks = 0;
	out->disks = NULL;
	if ((rc = read_cpu(s, &busy, &total)) == 0) {
		uint64_t dt = delta(total, s->cpu_total), db = delta(busy, s->cpu_busy);
		out->cpu_pct = dt ? 100.0 * (double)db / (double)dt : 0;
		if (out->cpu_pct > 100)
			out->cpu_pct = 100;
		s->cpu_busy = busy;
		s->cpu_total = total;
	} else {
		first_err = rc;
	}
	if ((rc = read_mem(s, out)) && !first_err)
		first_err = rc;
	if ((rc = read_net(s, &rx, &tx)) == 0) {
		out->net_rx_bytes = delta(rx, s->net_rx);
		out->net_tx_bytes = delta(tx, s->net_tx);
		s->net_rx = rx;
		s->net_tx = tx;
	} else if (!first_err) {
		first_err = rc;
	}
	if ((rc = read_disks(s, out)) && !first_err)
		first_err = rc;
	return first_err;
}

int fs_host_sampler_new(const char *proc_root, int backing_fd, struct fs_host_sampler **ret)
{
	*ret = NULL;
	struct fs_host_sampler *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (snprintf(s->proc, sizeof(s->proc), "%s", proc_root ? proc_root : "/proc") >=
	    (int)sizeof(s->proc)) {
		free(s);
		return -ENAMETOOLONG;
	}
	backing_device(backing_fd, s->backing_dev, sizeof(s->backing_dev));
	/* Baseline: the first sample reports changes since now. */
	struct pred_host_bucket scratch;
	memset(&scratch, 0, sizeof(scratch));
	fs_host_sample(s, &scratch);
	if (s->backing_dev[0] && s->nprev == 0) { /* not in diskstats: report all */
		s->backing_dev[0] = '\0';
		fs_host_sample(s, &scratch);
	}
	*ret = s;
	return 0;
}

void fs_host_sampler_free(struct fs_host_sampler *s) { free(s); }
