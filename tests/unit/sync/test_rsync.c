/* Unit tests of the librsync streaming path: signature -> delta -> patch,
 * kept signatures, corrupt and mismatched streams, progress, bounded memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "sync/chunk_stream.h"
#include "sync/rsync_update.h"

static int open_ro(const char *p)
{
	int fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	return fd;
}

static int open_new(const char *p)
{
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	return fd;
}

/* Signature of a file, loaded (the "kept" signature of a copy). */
static struct sync_sig *sig_of(const char *path)
{
	struct sync_membuf blob = {0};
	struct sync_sink sink = sync_sink_mem(&blob);
	int fd = open_ro(path);
	assert_int_equal(sync_sig_write(fd, NULL, &sink, NULL), 0);
	close(fd);
	struct sync_memreader r = {.data = blob.data, .len = blob.len};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sig *sig = NULL;
	assert_int_equal(sync_sig_read(&src, &sig), 0);
	assert_int_equal(r.pos, r.len); /* read exactly the blob */
	sync_membuf_release(&blob);
	return sig;
}

/* Delta from basis's signature to newp into memory; returns stats. */
static void delta_to_mem(const char *basis, const char *newp, struct sync_membuf *out,
			 struct sync_delta_stats *st)
{
	struct sync_sig *sig = basis ? sig_of(basis) : NULL;
	struct sync_sink sink = sync_sink_mem(out);
	int fd = open_ro(newp);
	struct sync_delta_opts opts = {.content_sha256 = true};
	assert_int_equal(sync_delta_write(sig, fd, &sink, &opts, st), 0);
	close(fd);
	sync_sig_free(sig);
}

static int patch_from_mem(const char *basis, const struct sync_membuf *delta, const char *outp)
{
	int bfd = basis ? open_ro(basis) : -1;
	int ofd = open_new(outp);
	struct sync_memreader r = {.data = delta->data, .len = delta->len};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sink sink = sync_sink_fd(ofd);
	int rc = sync_patch_apply(bfd, &src, &sink, NULL, NULL);
	if (bfd >= 0)
		close(bfd);
	close(ofd);
	return rc;
}

/* Both ways (sequential in memory, pipelined) rebuild newp from basis. */
static void check_round_trip(const char *basis, const char *newp)
{
	struct sync_membuf d = {0};
	struct sync_delta_stats st;
	delta_to_mem(basis, newp, &d, &st);
	assert_int_equal(st.stream_bytes, d.len);
	assert_int_equal(patch_from_mem(basis, &d, th_path("out.seq")), 0);
	assert_true(th_files_equal(newp, th_path("out.seq")));
	sync_membuf_release(&d);

	struct sync_sig *sig = basis ? sig_of(basis) : NULL;
	int nfd = open_ro(newp), bfd = basis ? open_ro(basis) : -1;
	int ofd = open_new(th_path("out.pipe"));
	struct sync_update_stats ust;
	assert_int_equal(sync_rsync_update(sig, nfd, bfd, ofd, NULL, &ust), 0);
	close(nfd);
	close(ofd);
	if (bfd >= 0)
		close(bfd);
	sync_sig_free(sig);
	assert_true(th_files_equal(newp, th_path("out.pipe")));
}

static void write_random(const char *p, size_t len)
{
	uint8_t *b = malloc(len + 1);
	th_random(b, len);
	th_write_file(p, b, len);
	free(b);
}

/* Empty and one-byte files round-trip in every combination. */
static void test_round_trip_tiny(void **state)
{
	(void)state;
	th_seed(1);
	th_write_file(th_path("empty"), NULL, 0);
	write_random(th_path("one_a"), 1);
	uint8_t b = 0x5a;
	th_write_file(th_path("one_b"), &b, 1);
	const char *files[] = {"empty", "one_a", "one_b"};
	char basis[256], newp[256];
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++) {
			strcpy(basis, th_path(files[i]));
			strcpy(newp, th_path(files[j]));
			check_round_trip(basis, newp);
		}
	check_round_trip(NULL, th_path("empty"));
	check_round_trip(NULL, th_path("one_a"));
}

/* A file whose size is not a multiple of the block length, with scattered
 * unaligned changes, round-trips; and a full copy of it does too. */
static void test_round_trip_scattered_unaligned(void **state)
{
	(void)state;
	th_seed(2);
	size_t len = (1u << 20) * 3 + 123;
	uint8_t *buf = malloc(len);
	th_random(buf, len);
	char oldp[256], newp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	th_write_file(oldp, buf, len);
	for (int i = 0; i < 30; i++) /* 1% of 3 MiB, at odd offsets */
		th_random(buf + th_rand() % (len - 1000), 1000);
	th_write_file(newp, buf, len);
	check_round_trip(oldp, newp);
	check_round_trip(NULL, newp);
	free(buf);
}

/* A 1 MiB insertion in the middle and a truncation both round-trip. */
static void test_round_trip_insert_truncate(void **state)
{
	(void)state;
	th_seed(3);
	size_t len = 4u << 20, ins = 1u << 20, mid = len / 2 + 17;
	uint8_t *buf = malloc(len + ins);
	th_random(buf, len);
	char oldp[256], newp[256], truncp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	strcpy(truncp, th_path("trunc"));
	th_write_file(oldp, buf, len);
	th_write_file(truncp, buf, len / 3 + 77);
	memmove(buf + mid + ins, buf + mid, len - mid);
	th_random(buf + mid, ins);
	th_write_file(newp, buf, len + ins);
	check_round_trip(oldp, newp);
	check_round_trip(oldp, truncp);
	check_round_trip(truncp, oldp);
	free(buf);
}

/* With 1% of the blocks changed, the delta carries about the changed bytes:
 * literal data <= 1.05x the changed bytes and the stream adds < 1% on top. */
static void test_delta_size_tracks_changes(void **state)
{
	(void)state;
	th_seed(4);
	size_t len = 16u << 20, changes = len / 4096 / 100;
	uint8_t *buf = malloc(len);
	th_random(buf, len);
	char oldp[256], newp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	th_write_file(oldp, buf, len);
	uint8_t *hit = calloc(len / 4096, 1);
	for (size_t k = 0; k < changes;) {
		size_t b = th_rand() % (len / 4096);
		if (hit[b])
			continue;
		hit[b] = 1;
		th_random(buf + b * 4096, 4096);
		k++;
	}
	th_write_file(newp, buf, len);
	struct sync_membuf d = {0};
	struct sync_delta_stats st;
	delta_to_mem(oldp, newp, &d, &st);
	uint64_t changed = changes * 4096;
	assert_true(st.literal_bytes >= changed);
	assert_true(st.literal_bytes * 100 <= changed * 105);
	assert_true(st.stream_bytes * 100 <= st.literal_bytes * 101);
	assert_int_equal(st.literal_bytes + st.copy_bytes, len);
	sync_membuf_release(&d);
	free(hit);
	free(buf);
}

/* A delta with any byte flipped (header, data, trailer) or cut short is
 * rejected and the basis is left byte-identical. */
static void test_corrupt_delta_rejected(void **state)
{
	(void)state;
	th_seed(5);
	size_t len = 1u << 20;
	uint8_t *buf = malloc(len);
	th_random(buf, len);
	char oldp[256], newp[256], keep[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	strcpy(keep, th_path("keep"));
	th_write_file(oldp, buf, len);
	th_write_file(keep, buf, len);
	th_random(buf + 1000, 50000);
	th_write_file(newp, buf, len);
	struct sync_membuf d = {0};
	struct sync_delta_stats st;
	delta_to_mem(oldp, newp, &d, &st);
	size_t spots[] = {5, 20, 40, d.len / 3, d.len / 2, d.len - 40, d.len - 1};
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		d.data[spots[i]] ^= 0x10;
		int rc = patch_from_mem(oldp, &d, th_path("out"));
		assert_true(rc == -EBADMSG || rc == -EPROTO || rc == -ESTALE ||
			    rc == -EPROTONOSUPPORT);
		d.data[spots[i]] ^= 0x10;
	}
	size_t full = d.len;
	d.len = full / 2; /* cut short */
	assert_int_equal(patch_from_mem(oldp, &d, th_path("out")), -EPROTO);
	d.len = full;
	assert_int_equal(patch_from_mem(oldp, &d, th_path("out")), 0);
	assert_true(th_files_equal(keep, oldp));
	sync_membuf_release(&d);
	free(buf);
}

/* A delta made for one basis refuses a basis of another size or no basis. */
static void test_delta_needs_its_basis(void **state)
{
	(void)state;
	th_seed(6);
	write_random(th_path("old"), 100000);
	write_random(th_path("other"), 99999);
	write_random(th_path("new"), 100000);
	char oldp[256], newp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	struct sync_membuf d = {0};
	struct sync_delta_stats st;
	delta_to_mem(oldp, newp, &d, &st);
	assert_int_equal(patch_from_mem(th_path("other"), &d, th_path("out")), -ESTALE);
	assert_int_equal(patch_from_mem(NULL, &d, th_path("out")), -ESTALE);
	sync_membuf_release(&d);
}

/* A kept signature survives a save/load cycle through a file, the delta pass
 * emits the next one identical to a fresh signature of the new content, and
 * that kept signature drives the following sync. */
static void test_kept_signature_chain(void **state)
{
	(void)state;
	th_seed(7);
	size_t len = 2u << 20;
	uint8_t *buf = malloc(len);
	th_random(buf, len);
	char v1[256], v2[256], v3[256], sigp[256], nextp[256];
	strcpy(v1, th_path("v1"));
	strcpy(v2, th_path("v2"));
	strcpy(v3, th_path("v3"));
	strcpy(sigp, th_path("v1.sig"));
	strcpy(nextp, th_path("v2.sig"));
	th_write_file(v1, buf, len);
	th_random(buf + 5000, 3000);
	th_write_file(v2, buf, len);
	th_random(buf + 900000, 3000);
	th_write_file(v3, buf, len);

	int fd = open_ro(v1), sfd = open_new(sigp);
	struct sync_sink sink = sync_sink_fd(sfd);
	assert_int_equal(sync_sig_write(fd, NULL, &sink, NULL), 0);
	close(fd);
	close(sfd);

	/* sync v1 -> v2 with the kept signature, keeping v2's signature */
	sfd = open_ro(sigp);
	struct sync_source src = sync_source_fd(sfd);
	struct sync_sig *sig = NULL;
	assert_int_equal(sync_sig_read(&src, &sig), 0);
	close(sfd);
	assert_int_equal(sync_sig_basis_size(sig), len);
	int nfd = open_ro(v2), bfd = open_ro(v1), ofd = open_new(th_path("copy"));
	int next = open_new(nextp);
	struct sync_sink next_sink = sync_sink_fd(next);
	struct sync_update_opts opts = {.delta = {.next_sig = &next_sink}};
	assert_int_equal(sync_rsync_update(sig, nfd, bfd, ofd, &opts, NULL), 0);
	close(nfd);
	close(bfd);
	close(ofd);
	close(next);
	sync_sig_free(sig);
	assert_true(th_files_equal(v2, th_path("copy")));

	fd = open_ro(v2);
	sfd = open_new(th_path("fresh.sig"));
	sink = sync_sink_fd(sfd);
	assert_int_equal(sync_sig_write(fd, NULL, &sink, NULL), 0);
	close(fd);
	close(sfd);
	assert_true(th_files_equal(nextp, th_path("fresh.sig")));

	/* sync v2 -> v3 with the signature kept by the previous sync */
	sfd = open_ro(nextp);
	src = sync_source_fd(sfd);
	assert_int_equal(sync_sig_read(&src, &sig), 0);
	close(sfd);
	nfd = open_ro(v3);
	bfd = open_ro(th_path("copy"));
	ofd = open_new(th_path("copy2"));
	struct sync_update_stats ust;
	assert_int_equal(sync_rsync_update(sig, nfd, bfd, ofd, NULL, &ust), 0);
	close(nfd);
	close(bfd);
	close(ofd);
	sync_sig_free(sig);
	assert_true(th_files_equal(v3, th_path("copy2")));
	assert_true(ust.delta.literal_bytes < 3u * 8192);
	free(buf);
}

/* The signature blob of a new random file th_path("f") of 300,000 bytes. */
static void signature_blob(uint64_t seed, struct sync_membuf *blob)
{
	th_seed(seed);
	write_random(th_path("f"), 300000);
	*blob = (struct sync_membuf){0};
	struct sync_sink sink = sync_sink_mem(blob);
	int fd = open_ro(th_path("f"));
	assert_int_equal(sync_sig_write(fd, NULL, &sink, NULL), 0);
	close(fd);
}

/* A damaged or inconsistent signature blob is refused. */
static void test_bad_signature_blob(void **state)
{
	(void)state;
	struct sync_membuf blob;
	signature_blob(8, &blob);
	size_t spots[] = {0, 9, 12, 20, blob.len / 2, blob.len - 1};
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		blob.data[spots[i]] ^= 0x01;
		struct sync_memreader r = {.data = blob.data, .len = blob.len};
		struct sync_source src = sync_source_mem(&r);
		struct sync_sig *sig = NULL;
		int rc = sync_sig_read(&src, &sig);
		assert_true(rc == -EBADMSG || rc == -EPROTO || rc == -EPROTONOSUPPORT);
		assert_null(sig);
		blob.data[spots[i]] ^= 0x01;
	}
	struct sync_memreader r = {.data = blob.data, .len = blob.len - 10};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sig *sig = NULL;
	assert_int_equal(sync_sig_read(&src, &sig), -EPROTO);
	/* bad parameters are refused up front */
	struct sync_sig_params p = {.rs_magic = 0x1234, .block_len = 4096};
	assert_int_equal(sync_sig_params_check(1000, &p), -EINVAL);
	p = (struct sync_sig_params){.rs_magic = 0x72730136, .block_len = 10};
	assert_int_equal(sync_sig_params_check(1000, &p), -EINVAL);
	sync_membuf_release(&blob);
}

/* The signature blob of th_path("f") re-encoded (a good trailer) after
 * edit(data, len) changed librsync's own stream inside it; what
 * sync_sig_read makes of it. */
static int read_reencoded(const struct sync_membuf *blob, void (*edit)(uint8_t *, size_t))
{
	uint8_t hdr[24];
	struct sync_memreader in = {.data = blob->data, .len = blob->len};
	struct sync_source src = sync_source_mem(&in);
	struct sync_chunk_reader r;
	assert_int_equal(sync_chunk_reader_begin(&r, &src, "SFSG", 1, hdr, sizeof(hdr)), 0);
	uint8_t *data = malloc(blob->len);
	size_t n = 0;
	assert_non_null(data);
	for (;;) {
		uint8_t type;
		uint32_t len;
		assert_int_equal(sync_chunk_next(&r, &type, &len), 0);
		if (type == 0)
			break;
		assert_int_equal(sync_chunk_read(&r, data + n, len), 0);
		n += len;
	}
	sync_chunk_reader_release(&r);
	if (edit)
		edit(data, n);
	struct sync_membuf out = {0};
	struct sync_sink sink = sync_sink_mem(&out);
	struct sync_chunk_writer w;
	assert_int_equal(sync_chunk_writer_begin(&w, &sink, "SFSG", 1, hdr, sizeof(hdr)), 0);
	for (size_t off = 0; off < n; off += SYNC_CHUNK_MAX)
		assert_int_equal(sync_chunk_write(&w, 1, data + off,
						  n - off < SYNC_CHUNK_MAX ? n - off : SYNC_CHUNK_MAX,
						  NULL, 0),
				 0);
	assert_int_equal(sync_chunk_writer_end(&w), 0);
	sync_chunk_writer_release(&w);
	free(data);
	struct sync_memreader again = {.data = out.data, .len = out.len};
	struct sync_source src2 = sync_source_mem(&again);
	struct sync_sig *sig = NULL;
	int rc = sync_sig_read(&src2, &sig);
	sync_sig_free(sig);
	sync_membuf_release(&out);
	return rc;
}

/* librsync's header says another block length (big endian, bytes 4..7):
 * the blocks as many, the stream as long. */
static void double_block_len(uint8_t *p, size_t n)
{
	assert_true(n >= 12);
	uint32_t b = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
	b *= 2;
	p[4] = (uint8_t)(b >> 24);
	p[5] = (uint8_t)(b >> 16);
	p[6] = (uint8_t)(b >> 8);
	p[7] = (uint8_t)b;
}

/* A blob whose outer header and librsync's own disagree is refused, even
 * with a good trailer: the parallel delta cuts at the outer block length,
 * librsync matches at its own (found by reading, after fuzzing). */
static void test_signature_inner_header(void **state)
{
	(void)state;
	struct sync_membuf blob;
	signature_blob(9, &blob);
	assert_int_equal(read_reencoded(&blob, NULL), 0); /* re-encoding alone is fine */
	assert_int_equal(read_reencoded(&blob, double_block_len), -EBADMSG);
	sync_membuf_release(&blob);
}

/* Parameters: MD4, block about sqrt(size)/4 within bounds, strong sum set. */
static void test_sig_params(void **state)
{
	(void)state;
	struct sync_sig_params p;
	sync_sig_params_for_size(256u << 20, &p);
	assert_int_equal(p.rs_magic, 0x72730136);
	assert_int_equal(p.block_len, 4096);
	assert_true(p.strong_len >= 6 && p.strong_len <= 16);
	sync_sig_params_for_size(0, &p);
	assert_int_equal(p.block_len, SYNC_SIG_BLOCK_MIN);
	sync_sig_params_for_size(1ull << 50, &p);
	assert_int_equal(p.block_len, SYNC_SIG_BLOCK_MAX);
}

struct progress_probe {
	uint64_t last_done, total, calls, rss0, rss_max;
	int monotonic;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress_probe *p = ctx;
	if (done < p->last_done)
		p->monotonic = 0;
	p->last_done = done;
	p->total = total;
	p->calls++;
	uint64_t rss = th_rss_bytes();
	if (rss > p->rss_max)
		p->rss_max = rss;
}

/* A 64 MiB file (64x the I/O buffers) streams through signature, delta and
 * patch with resident memory growing by less than 24 MiB, and progress runs
 * monotonically to the total on both sides. */
static void test_large_file_bounded_memory(void **state)
{
	(void)state;
	th_seed(9);
	uint64_t len = 64ull << 20;
	char oldp[256], newp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	th_write_random_file(oldp, len);
	th_seed(9);
	th_write_random_file(newp, len); /* same content as old */
	int wfd = open(newp, O_WRONLY);
	uint8_t chunk[4096];
	for (uint64_t off = 0; off < len; off += 1u << 20) { /* then 1 block per MiB changes */
		th_random(chunk, sizeof(chunk));
		assert_int_equal(pwrite(wfd, chunk, sizeof(chunk), (off_t)off), sizeof(chunk));
	}
	close(wfd);
	(void)th_rss_bytes();
	struct progress_probe dp = {.monotonic = 1}, pp = {.monotonic = 1};
	dp.rss0 = pp.rss0 = th_rss_bytes();
	struct sync_sig *sig = NULL;
	{
		struct sync_membuf blob = {0};
		struct sync_sink sink = sync_sink_mem(&blob);
		int fd = open_ro(oldp);
		struct sync_progress sp = {.fn = on_progress, .ctx = &dp};
		assert_int_equal(sync_sig_write(fd, NULL, &sink, &sp), 0);
		close(fd);
		struct sync_memreader r = {.data = blob.data, .len = blob.len};
		struct sync_source src = sync_source_mem(&r);
		assert_int_equal(sync_sig_read(&src, &sig), 0);
		sync_membuf_release(&blob);
	}
	dp = (struct progress_probe){.monotonic = 1, .rss0 = dp.rss0, .rss_max = dp.rss_max};
	int nfd = open_ro(newp), bfd = open_ro(oldp), ofd = open_new(th_path("out"));
	struct sync_update_opts opts = {
	    .delta = {.progress = {.fn = on_progress, .ctx = &dp}},
	    .patch = {.progress = {.fn = on_progress, .ctx = &pp}, .want_sha256 = true},
	};
	struct sync_update_stats st;
	assert_int_equal(sync_rsync_update(sig, nfd, bfd, ofd, &opts, &st), 0);
	close(nfd);
	close(bfd);
	close(ofd);
	sync_sig_free(sig);
	assert_true(th_files_equal(newp, th_path("out")));
	assert_true(dp.monotonic && pp.monotonic);
	assert_int_equal(dp.last_done, len);
	assert_int_equal(dp.total, len);
	assert_int_equal(pp.last_done, len);
	assert_int_equal(pp.total, len);
	assert_true(dp.calls >= 32 && pp.calls >= 32);
	assert_true(st.patch.have_sha256);
	uint64_t peak = dp.rss_max > pp.rss_max ? dp.rss_max : pp.rss_max;
	assert_true(peak < dp.rss0 + (24ull << 20));
	assert_true(st.delta.literal_bytes < len / 100);
}

/* A failure on the output side (a sink refusing writes) stops both threads and
 * reports the sink's error. */
static int refuse_write(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return -ENOSPC;
}

static void test_sink_error_propagates(void **state)
{
	(void)state;
	th_seed(10);
	write_random(th_path("new"), 3u << 20);
	int fd = open_ro(th_path("new"));
	struct sync_sink sink = {.write = refuse_write};
	assert_int_equal(sync_delta_write(NULL, fd, &sink, NULL, NULL), -ENOSPC);
	close(fd);
	/* patch output to a read-only fd fails with that fd's errno */
	int nfd = open_ro(th_path("new")), ofd = open_ro(th_path("new"));
	assert_int_equal(sync_rsync_update(NULL, nfd, -1, ofd, NULL, NULL), -EBADF);
	close(nfd);
	close(ofd);
}

/* Re-emits a delta stream with a correct trailer, dropping the records of
 * type drop_type (a forger who knows the format). */
static void reseal_without(const struct sync_membuf *in, uint8_t drop_type, struct sync_membuf *out)
{
	struct sync_memreader r = {.data = in->data, .len = in->len};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sink sink = sync_sink_mem(out);
	struct sync_chunk_reader rd;
	struct sync_chunk_writer w;
	uint8_t hdr[24];
	assert_int_equal(sync_chunk_reader_begin(&rd, &src, "SFDL", 1, hdr, 24), 0);
	assert_int_equal(sync_chunk_writer_begin(&w, &sink, "SFDL", 1, hdr, 24), 0);
	uint8_t *buf = malloc(SYNC_CHUNK_MAX);
	for (;;) {
		uint8_t type;
		uint32_t len;
		assert_int_equal(sync_chunk_next(&rd, &type, &len), 0);
		if (type == 0)
			break;
		assert_int_equal(sync_chunk_read(&rd, buf, len), 0);
		if (type != drop_type)
			assert_int_equal(sync_chunk_write(&w, type, buf, len, NULL, 0), 0);
	}
	assert_int_equal(sync_chunk_writer_end(&w), 0);
	sync_chunk_writer_release(&w);
	sync_chunk_reader_release(&rd);
	free(buf);
}

/* A well-sealed stream whose structure is wrong (segments not terminated, or
 * the content hash missing while flagged) is refused: the container's
 * checksum is not the only check. */
static void test_forged_structure_rejected(void **state)
{
	(void)state;
	th_seed(11);
	size_t len = 12u << 20; /* two segments */
	char oldp[256], newp[256];
	strcpy(oldp, th_path("old"));
	strcpy(newp, th_path("new"));
	th_write_random_file(oldp, len);
	th_write_random_file(newp, len);
	struct sync_membuf d = {0}, f = {0};
	struct sync_delta_stats st;
	delta_to_mem(oldp, newp, &d, &st);
	reseal_without(&d, 0xff, &f); /* unchanged structure: accepted */
	assert_int_equal(patch_from_mem(oldp, &f, th_path("out")), 0);
	assert_true(th_files_equal(newp, th_path("out")));
	sync_membuf_release(&f);
	f = (struct sync_membuf){0};
	reseal_without(&d, 3, &f); /* no segment ends */
	assert_int_equal(patch_from_mem(oldp, &f, th_path("out")), -EBADMSG);
	sync_membuf_release(&f);
	f = (struct sync_membuf){0};
	reseal_without(&d, 2, &f); /* flagged hash missing */
	assert_int_equal(patch_from_mem(oldp, &f, th_path("out")), -EBADMSG);
	sync_membuf_release(&f);
	sync_membuf_release(&d);
}

/* Progress advances while the delta reads an unchanged file (no output is
 * produced until a match run ends), and ends at the file size. */
static void test_progress_on_unchanged_file(void **state)
{
	(void)state;
	th_seed(12);
	uint64_t len = 24u << 20;
	char p[256];
	strcpy(p, th_path("same"));
	th_write_random_file(p, len);
	struct sync_sig *sig = sig_of(p);
	struct progress_probe pr = {.monotonic = 1};
	struct sync_delta_opts opts = {.progress = {.fn = on_progress, .ctx = &pr}};
	uint64_t bytes = 0;
	struct sync_sink sink = sync_sink_count(&bytes);
	struct sync_delta_stats st;
	int fd = open_ro(p);
	assert_int_equal(sync_delta_write(sig, fd, &sink, &opts, &st), 0);
	close(fd);
	sync_sig_free(sig);
	assert_true(pr.monotonic);
	assert_true(pr.calls >= 8);
	assert_int_equal(pr.last_done, len);
	assert_int_equal(pr.total, len);
	assert_int_equal(st.literal_bytes, 0);
	assert_true(bytes < 4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip_tiny, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_scattered_unaligned, th_setup,
					    th_teardown),
	    cmocka_unit_test_setup_teardown(test_round_trip_insert_truncate, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_delta_size_tracks_changes, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_delta_rejected, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_delta_needs_its_basis, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_kept_signature_chain, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_bad_signature_blob, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_signature_inner_header, th_setup, th_teardown),
	    cmocka_unit_test(test_sig_params),
	    cmocka_unit_test_setup_teardown(test_large_file_bounded_memory, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_sink_error_propagates, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_structure_rejected, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_progress_on_unchanged_file, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
