/* sync-bench: driver for tests/bench/sync.sh (not installed).
 *
 * Subcommands (each prints one "key=value ..." line on success):
 *   gen OLD NEW_SCATTERED NEW_INSERTED SIZE_MIB SEED
 *       random OLD; NEW_SCATTERED = OLD with 1% of its 4 KiB blocks rewritten;
 *       NEW_INSERTED = OLD with 1 MiB of new bytes inserted in the middle.
 *       Also writes NEW_*.writes: the writes an application made through the
 *       mount to turn OLD into NEW_* ("offset length" per line): the 4 KiB
 *       blocks, and for the insertion the rewrite of the tail from the middle.
 *   sig FILE SIGOUT [BLOCK_LEN]
 *       keep a signature of FILE (what the last sync leaves behind).
 *   rsync SIG|- NEW BASIS OUT [--sha] [--next-sig FILE]
 *       librsync update of BASIS into OUT (delta and patch pipelined); with
 *       "-" the signature of BASIS is computed first (nothing kept).
 *   known WRITES NEW BASIS OUT [--in-place]
 *       ranged-delta update: the dirty set is built from the WRITES file (what
 *       the mount recorded as the writes happened: before the clock starts);
 *       the clock covers encoding from NEW and applying to BASIS (into a temp
 *       file renamed over OUT, or in place into BASIS with --in-place),
 *       pipelined in two threads. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librsync.h>

#include "sync/mem_pipe.h"
#include "sync/range_delta.h"
#include "sync/rsync_update.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "sync-bench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static void die_rc(const char *what, int rc)
{
	fprintf(stderr, "sync-bench: %s: %s\n", what, strerror(-rc));
	exit(1);
}

/* xorshift64*: reproducible data without reading /dev/urandom. */
static uint64_t rng_state;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}
static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng();
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int cmd_gen(int argc, char **argv)
{
	if (argc != 7)
		return 2;
	size_t size = (size_t)atol(argv[5]) << 20;
	rng_state = (uint64_t)atol(argv[6]) * 0x9E3779B97F4A7C15ull + 1;
	uint8_t *buf = malloc(size);
	if (!buf)
		return 1;
	fill_random(buf, size);
	int fd = open_or_die(argv[2], O_WRONLY | O_CREAT | O_TRUNC);
	if (sync_write_all(fd, buf, size))
		return 1;
	close(fd);
	/* insertion: old[0..mid) + 1 MiB new + old[mid..) */
	size_t mid = size / 2, ins = 1u << 20;
	uint8_t *ib = malloc(ins);
	fill_random(ib, ins);
	fd = open_or_die(argv[4], O_WRONLY | O_CREAT | O_TRUNC);
	if (sync_write_all(fd, buf, mid) || sync_write_all(fd, ib, ins) ||
	    sync_write_all(fd, buf + mid, size - mid))
		return 1;
	close(fd);
	free(ib);
	char wpath[4096];
	snprintf(wpath, sizeof(wpath), "%s.writes", argv[4]);
	FILE *wf = fopen(wpath, "w");
	for (size_t off = mid; off < size + ins; off += 1u << 20) /* tail rewritten */
		fprintf(wf, "%zu %zu\n", off,
			size + ins - off < (1u << 20) ? size + ins - off : (size_t)1 << 20);
	fclose(wf);
	/* scattered: 1% of the 4 KiB blocks, distinct, rewritten in place */
	size_t blocks = size / 4096, changes = blocks / 100;
	uint8_t *hit = calloc(blocks, 1);
	for (size_t k = 0; k < changes;) {
		size_t b = rng() % blocks;
		if (hit[b])
			continue;
		hit[b] = 1;
		fill_random(buf + b * 4096, 4096);
		k++;
	}
	fd = open_or_die(argv[3], O_WRONLY | O_CREAT | O_TRUNC);
	if (sync_write_all(fd, buf, size))
		return 1;
	close(fd);
	snprintf(wpath, sizeof(wpath), "%s.writes", argv[3]);
	wf = fopen(wpath, "w");
	for (size_t b = 0; b < blocks; b++)
		if (hit[b])
			fprintf(wf, "%zu 4096\n", b * 4096);
	fclose(wf);
	printf("gen size=%zu changed_bytes_scattered=%zu changed_bytes_inserted=%zu "
	       "written_bytes_inserted=%zu\n",
	       size, changes * 4096, ins, size + ins - mid);
	free(hit);
	free(buf);
	return 0;
}

static int cmd_sig(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int fd = open_or_die(argv[2], O_RDONLY);
	int out = open_or_die(argv[3], O_WRONLY | O_CREAT | O_TRUNC);
	struct stat st;
	fstat(fd, &st);
	struct sync_sig_params p;
	sync_sig_params_for_size((uint64_t)st.st_size, &p);
	if (argc > 4) {
		p.block_len = (uint32_t)atol(argv[4]);
		p.strong_len = 0;
		if (argc > 5)
			p.rs_magic = !strcmp(argv[5], "blake2")	    ? RS_BLAKE2_SIG_MAGIC
				     : !strcmp(argv[5], "rkmd4")    ? RS_RK_MD4_SIG_MAGIC
				     : !strcmp(argv[5], "rkblake2") ? RS_RK_BLAKE2_SIG_MAGIC
								    : RS_MD4_SIG_MAGIC;
		int rc = sync_sig_params_check((uint64_t)st.st_size, &p);
		if (rc)
			die_rc("params", rc);
	}
	struct sync_sink sink = sync_sink_fd(out);
	double t0 = now_s();
	int rc = sync_sig_write(fd, &p, &sink, NULL);
	if (rc)
		die_rc("sig", rc);
	printf("sig seconds=%.4f block_len=%u strong_len=%u\n", now_s() - t0, p.block_len,
	       p.strong_len);
	close(fd);
	close(out);
	return 0;
}

static int cmd_rsync(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	struct sync_update_opts opts = {0};
	int next_fd = -1;
	for (int i = 6; i < argc; i++) {
		if (!strcmp(argv[i], "--sha")) {
			opts.delta.content_sha256 = true;
		} else if (!strcmp(argv[i], "--next-sig") && i + 1 < argc) {
			next_fd = open_or_die(argv[++i], O_WRONLY | O_CREAT | O_TRUNC);
		} else {
			return 2;
		}
	}
	struct sync_sink next_sink = sync_sink_fd(next_fd);
	if (next_fd >= 0)
		opts.delta.next_sig = &next_sink;
	int new_fd = open_or_die(argv[3], O_RDONLY);
	int basis_fd = open_or_die(argv[4], O_RDONLY);
	double t0 = now_s();
	struct sync_sig *sig = NULL;
	if (strcmp(argv[2], "-") != 0) {
		int sfd = open_or_die(argv[2], O_RDONLY);
		struct sync_source src = sync_source_fd(sfd);
		int rc = sync_sig_read(&src, &sig);
		if (rc)
			die_rc("load signature", rc);
		close(sfd);
	}
	/* the new copy goes to a temp name and replaces OUT, as a store does */
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[5]);
	int out_fd = open_or_die(tmp, O_WRONLY | O_CREAT | O_TRUNC);
	struct sync_update_stats st;
	int rc = sync_rsync_update(sig, new_fd, basis_fd, out_fd, &opts, &st);
	if (rc)
		die_rc("update", rc);
	close(out_fd);
	if (rename(tmp, argv[5]) < 0)
		die_rc("rename", -errno);
	double dt = now_s() - t0;
	printf("rsync seconds=%.4f bytes=%llu literal=%llu new_size=%llu\n", dt,
	       (unsigned long long)st.delta.stream_bytes,
	       (unsigned long long)st.delta.literal_bytes, (unsigned long long)st.delta.new_size);
	sync_sig_free(sig);
	close(new_fd);
	close(basis_fd);
	if (next_fd >= 0)
		close(next_fd);
	return 0;
}

struct encoder {
	int new_fd;
	struct sync_dirty *d;
	struct sync_mem_pipe *pipe;
	struct sync_range_stats st;
	int rc;
};

static void *encoder_main(void *arg)
{
	struct encoder *e = arg;
	struct sync_sink sink = sync_mem_pipe_sink(e->pipe);
	e->rc = sync_range_delta_write(e->new_fd, e->d, &sink, NULL, &e->st);
	if (e->rc)
		sync_mem_pipe_abort(e->pipe, e->rc);
	else
		sync_mem_pipe_close(e->pipe);
	return NULL;
}

static int cmd_known(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	bool in_place = argc > 6 && !strcmp(argv[6], "--in-place");
	int new_fd = open_or_die(argv[3], O_RDONLY);
	int basis_fd = open_or_die(argv[4], O_RDWR);
	struct stat st;
	fstat(basis_fd, &st);
	struct sync_dirty d;
	if (sync_dirty_init(&d, (uint64_t)st.st_size, NULL))
		return 1;
	FILE *wf = fopen(argv[2], "r");
	if (!wf)
		die_rc(argv[2], -errno);
	unsigned long long off, len;
	while (fscanf(wf, "%llu %llu", &off, &len) == 2)
		sync_dirty_write(&d, off, len);
	fclose(wf);
	if (!sync_dirty_known(&d))
		die_rc("dirty set overflowed", -EOVERFLOW);

	double t0 = now_s();
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[5]);
	int out_fd = in_place ? basis_fd : open_or_die(tmp, O_RDWR | O_CREAT | O_TRUNC);
	int spool_fd = -1;
	if (in_place) {
		snprintf(tmp, sizeof(tmp), "%s.spool", argv[5]);
		spool_fd = open_or_die(tmp, O_RDWR | O_CREAT | O_TRUNC);
		unlink(tmp);
	}
	struct sync_mem_pipe pipe;
	if (sync_mem_pipe_init(&pipe, 4u << 20))
		return 1;
	struct encoder e = {.new_fd = new_fd, .d = &d, .pipe = &pipe};
	pthread_t tid;
	pthread_create(&tid, NULL, encoder_main, &e);
	struct sync_source src = sync_mem_pipe_source(&pipe);
	struct sync_range_stats ast;
	int rc = sync_range_delta_apply(&src, basis_fd, out_fd, spool_fd, &ast);
	if (rc)
		sync_mem_pipe_abort(&pipe, rc);
	pthread_join(tid, NULL);
	if (e.rc)
		die_rc("encode", e.rc);
	if (rc)
		die_rc("apply", rc);
	if (!in_place) {
		close(out_fd);
		snprintf(tmp, sizeof(tmp), "%s.tmp", argv[5]);
		if (rename(tmp, argv[5]) < 0)
			die_rc("rename", -errno);
	} else {
		close(spool_fd);
	}
	double dt = now_s() - t0;
	printf("known seconds=%.4f bytes=%llu dirty=%llu ranges=%u\n", dt,
	       (unsigned long long)e.st.stream_bytes, (unsigned long long)sync_dirty_bytes(&d),
	       d.n);
	sync_mem_pipe_release(&pipe);
	sync_dirty_release(&d);
	close(new_fd);
	close(basis_fd);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		rc = cmd_gen(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "sig"))
		rc = cmd_sig(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "rsync"))
		rc = cmd_rsync(argc, argv);
	else if (argc >= 2 && !strcmp(argv[1], "known"))
		rc = cmd_known(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: see the comment at the top of tools/sync-bench.c\n");
	return rc;
}
