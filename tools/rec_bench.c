/* Benchmarks of access recording (tests/bench/recording.sh).
 *
 * shadowfs-rec-bench [EVENTS]
 *   Micro-benchmark of the recorder's hot path: the cost of one
 *   fs_recorder_note() call (ns) and the memory per tracked file. One line:
 *   rec-bench: ns_per_event=X ns_off=Y bytes_per_file=Z ... dropped=D
 * shadowfs-rec-bench meta DIR FILES
 *   The metadata cycle, run in DIR (e.g. on a mount): FILES times create,
 *   write 1 KiB, close, stat, unlink. One line: meta: ops_per_s=X
 * ns_off is the same loop with recording off (rec NULL), for reference.
 * Events are noted in batches of 2048 with a pause between batches so the
 * aggregator drains the ring: a full ring (which drops, faster) is never
 * what is measured. Works in a temporary directory it removes. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/recorder.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(p);
}

static double timed_batches(struct fs_recorder *rec, struct fs_file_ref *refs, int nrefs,
			    long events)
{
	const int batch = 2048;
	uint64_t spent = 0;
	for (long done = 0; done < events; done += batch) {
		uint64_t t0 = fs_recorder_now_ns();
		for (int i = 0; i < batch; i++)
			fs_recorder_note(rec, FS_EV_READ, &refs[i % nrefs], 4096, 12000, 1000, 4242);
		spent += fs_recorder_now_ns() - t0;
		if (rec)
			usleep(25000); /* > two aggregator ticks: the ring is drained again */
	}
	return (double)spent / (double)events;
}

static int meta_cycle(const char *dir, long files)
{
	char buf[1024];
	memset(buf, 'x', sizeof(buf));
	uint64_t t0 = fs_recorder_now_ns();
	for (long i = 0; i < files; i++) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/m%ld", dir, i);
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		struct stat st;
		if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || close(fd) ||
		    stat(p, &st) || unlink(p)) {
			perror(p);
			return 1;
		}
	}
	double s = (double)(fs_recorder_now_ns() - t0) / 1e9;
	printf("meta: ops_per_s=%.1f\n", (double)files / s);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median5(double v[5])
{
	qsort(v, 5, sizeof(v[0]), cmp_double);
	return v[2];
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "meta"))
		return meta_cycle(argv[2], atol(argv[3]));
	long events = argc > 1 ? atol(argv[1]) : 500000;
	if (events < 5 * 2048)
		events = 5 * 2048;
	char root[] = "/tmp/rec-bench-XXXXXX";
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	char backing[64], state[64];
	snprintf(backing, sizeof(backing), "%s/backing", root);
	snprintf(state, sizeof(state), "%s/state", root);
	mkdir(backing, 0755);
	struct fs_recorder_config cfg = {.state_dir = state, .backing = backing, .track = 10000};
	struct fs_recorder *rec = NULL;
	char err[256];
	int rc = fs_recorder_start(&cfg, &rec, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "rec-bench: %s\n", err);
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		return 1;
	}
	/* 1000 real files with typical names, named through their handles. */
	enum { NFILES = 1000 };
	static struct fs_file_ref refs[NFILES];
	for (int i = 0; i < NFILES; i++) {
		char p[160];
		snprintf(p, sizeof(p), "%s/dataset-%04d/shard-%06d.bin", backing, i / 100, i);
		char dir[160];
		snprintf(dir, sizeof(dir), "%s/dataset-%04d", backing, i / 100);
		mkdir(dir, 0755);
		int fd = open(p, O_RDWR | O_CREAT, 0644);
		struct stat st;
		if (fd < 0 || fstat(fd, &st)) {
			perror(p);
			return 1;
		}
		static uint32_t stamps[NFILES];
		/* As the mount does: the inode's file handle names the file. */
		static union {
			struct file_handle fh;
			char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
		} handles[NFILES];
		int mount_id;
		handles[i].fh.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(fd, "", &handles[i].fh, &mount_id, AT_EMPTY_PATH)) {
			perror("name_to_handle_at");
			return 1;
		}
		fs_file_ref_init(&refs[i], st.st_dev, st.st_ino, &stamps[i], &handles[i].fh);
		fs_recorder_note_fd(rec, FS_EV_OPEN, &refs[i], fd, 0, 0, 1000, getpid());
		close(fd);
	}
	fs_recorder_flush_now(rec);
	/* Median of 5 rounds each: this machine is shared. */
	double offs[5], ons[5];
	for (int r = 0; r < 5; r++) {
		offs[r] = timed_batches(NULL, refs, NFILES, events / 5);
		ons[r] = timed_batches(rec, refs, NFILES, events / 5);
	}
	double off = median5(offs), on = median5(ons);
	fs_recorder_flush_now(rec);
	struct fs_recorder_stats st;
	fs_recorder_get_stats(rec, &st);
	printf("rec-bench: ns_per_event=%.1f ns_off=%.1f bytes_per_file=%llu tracked=%u "
	       "track=%u tracked_bytes=%llu events=%llu dropped=%llu\n",
	       on, off, (unsigned long long)st.bytes_per_file, st.tracked, st.track_capacity,
	       (unsigned long long)st.tracked_bytes, (unsigned long long)st.events,
	       (unsigned long long)st.dropped);
	fs_recorder_stop(rec);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}
