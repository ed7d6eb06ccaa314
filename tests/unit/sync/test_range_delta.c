/* Unit tests of sync/range_delta: ranged deltas built from dirty ranges
 * rebuild the new version exactly (copy and in-place modes); corrupt, forged
 * out-of-bounds and mismatched streams are refused without touching the copy. */
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
#include "sync/range_delta.h"

static int open_rw(const char *p, int trunc)
{
	int fd = open(p, O_RDWR | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
	assert_true(fd >= 0);
	return fd;
}

static void copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *b = th_read_file(from, &n);
	th_write_file(to, b, n);
	free(b);
}

/* Encodes d's ranges of file `cur` into memory. */
static void encode(const char *cur, const struct sync_dirty *d, struct sync_membuf *out,
		   struct sync_range_stats *st)
{
	int fd = open(cur, O_RDONLY);
	assert_true(fd >= 0);
	struct sync_sink sink = sync_sink_mem(out);
	assert_int_equal(sync_range_delta_write(fd, d, &sink, NULL, st), 0);
	close(fd);
}

/* Applies a stream to basis: copy mode into `out` (in_place 0) or in place. */
static int apply(const struct sync_membuf *m, const char *basis, const char *out, int in_place)
{
	struct sync_memreader r = {.data = m->data, .len = m->len};
	struct sync_source src = sync_source_mem(&r);
	int bfd = open_rw(basis, 0);
	int rc;
	if (in_place) {
		int spool = open_rw(th_path("spool"), 1);
		rc = sync_range_delta_apply(&src, bfd, bfd, spool, NULL);
		close(spool);
	} else {
		int ofd = open_rw(out, 1);
		rc = sync_range_delta_apply(&src, bfd, ofd, -1, NULL);
		close(ofd);
	}
	close(bfd);
	return rc;
}

/* Random writes, holes and truncations made to a file while a dirty set
 * records them: the ranged delta rebuilds the file from the old copy, in copy
 * mode and in place, for several seeds. */
static void test_round_trip_random_ops(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		th_seed(seed);
		uint64_t base = th_rand() % (3u << 20);
		char basep[256], curp[256];
		strcpy(basep, th_path("base"));
		strcpy(curp, th_path("cur"));
		th_write_random_file(basep, base);
		copy_file(basep, curp);
		struct sync_dirty d;
		assert_int_equal(sync_dirty_init(&d, base, NULL), 0);
		int fd = open_rw(curp, 0);
		uint8_t buf[8192];
		for (int op = 0; op < 40; op++) {
			uint64_t size = d.size, r = th_rand() % 10;
			if (r < 7) { /* write, sometimes past the end */
				uint64_t off = th_rand() % (size + 100000),
					 len = 1 + th_rand() % 8192;
				th_random(buf, len);
				assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
				sync_dirty_write(&d, off, len);
			} else { /* truncate to grow or shrink */
				uint64_t s = th_rand() % (size + 200000);
				assert_int_equal(ftruncate(fd, (off_t)s), 0);
				sync_dirty_truncate(&d, s);
			}
		}
		close(fd);
		struct stat sb;
		assert_int_equal(stat(curp, &sb), 0);
		assert_int_equal((uint64_t)sb.st_size, d.size);
		struct sync_membuf m = {0};
		struct sync_range_stats st;
		encode(curp, &d, &m, &st);
		assert_int_equal(st.stream_bytes, m.len);
		assert_int_equal(st.data_bytes + st.zero_bytes, sync_dirty_bytes(&d));
		assert_int_equal(apply(&m, basep, th_path("out"), 0), 0);
		assert_true(th_files_equal(curp, th_path("out")));
		assert_int_equal(apply(&m, basep, NULL, 1), 0);
		assert_true(th_files_equal(curp, basep));
		sync_membuf_release(&m);
		sync_dirty_release(&d);
	}
}

/* Scattered 4 KiB writes cost at most 1.05x the written bytes on the wire;
 * a file grown by truncate ships its zeros as a few bytes. */
static void test_stream_size(void **state)
{
	(void)state;
	th_seed(20);
	uint64_t size = 16u << 20;
	char curp[256];
	strcpy(curp, th_path("cur"));
	th_write_random_file(curp, size);
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, size, NULL), 0);
	int fd = open_rw(curp, 0);
	uint8_t buf[4096];
	uint64_t written = 0;
	for (int i = 0; i < 40; i++) {
		uint64_t off = (th_rand() % (size / 4096)) * 4096;
		th_random(buf, sizeof(buf));
		assert_int_equal(pwrite(fd, buf, sizeof(buf), (off_t)off), sizeof(buf));
		sync_dirty_write(&d, off, sizeof(buf));
	}
	written = sync_dirty_bytes(&d);
	struct sync_membuf m = {0};
	struct sync_range_stats st;
	encode(curp, &d, &m, &st);
	assert_true(st.stream_bytes * 100 <= written * 105);
	sync_membuf_release(&m);

	assert_int_equal(ftruncate(fd, (off_t)(size + (64u << 20))), 0);
	sync_dirty_reset(&d, size);
	sync_dirty_truncate(&d, size + (64u << 20));
	close(fd);
	m = (struct sync_membuf){0};
	encode(curp, &d, &m, &st);
	assert_true(m.len < 1024);
	assert_int_equal(st.zero_bytes, 64u << 20);
	sync_membuf_release(&m);
	sync_dirty_release(&d);
}

/* Flipped bytes anywhere or a cut-short stream are refused, in both modes,
 * and the copy keeps its old content. */
static void test_corrupt_rejected(void **state)
{
	(void)state;
	th_seed(21);
	char basep[256], curp[256], keep[256];
	strcpy(basep, th_path("base"));
	strcpy(curp, th_path("cur"));
	strcpy(keep, th_path("keep"));
	th_write_random_file(basep, 1u << 20);
	copy_file(basep, curp);
	copy_file(basep, keep);
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, 1u << 20, NULL), 0);
	int fd = open_rw(curp, 0);
	uint8_t buf[5000];
	th_random(buf, sizeof(buf));
	for (int i = 0; i < 5; i++) {
		assert_int_equal(pwrite(fd, buf, sizeof(buf), i * 100000), sizeof(buf));
		sync_dirty_write(&d, (uint64_t)i * 100000, sizeof(buf));
	}
	close(fd);
	struct sync_membuf m = {0};
	struct sync_range_stats st;
	encode(curp, &d, &m, &st);
	size_t spots[] = {1, 6, 10, 30, 40, m.len / 2, m.len - 33, m.len - 1};
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		m.data[spots[i]] ^= 0x40;
		for (int in_place = 0; in_place <= 1; in_place++) {
			int rc = apply(&m, basep, th_path("out"), in_place);
			assert_true(rc == -EBADMSG || rc == -EPROTO || rc == -ESTALE ||
				    rc == -EPROTONOSUPPORT);
			assert_true(th_files_equal(basep, keep));
		}
		m.data[spots[i]] ^= 0x40;
	}
	size_t full = m.len;
	m.len = full - 1;
	assert_int_equal(apply(&m, basep, NULL, 1), -EPROTO);
	assert_true(th_files_equal(basep, keep));
	m.len = full;
	assert_int_equal(apply(&m, basep, NULL, 1), 0);
	assert_true(th_files_equal(basep, curp));
	sync_membuf_release(&m);
	sync_dirty_release(&d);
}

/* Forges a well-checksummed stream with the given records (type, off, len). */
static void forge(struct sync_membuf *m, uint64_t base, uint64_t size, const uint64_t (*recs)[3],
		  int n)
{
	struct sync_sink sink = sync_sink_mem(m);
	struct sync_chunk_writer w;
	uint8_t hdr[24] = {0};
	sync_put_le64(hdr, base);
	sync_put_le64(hdr + 8, size);
	assert_int_equal(sync_chunk_writer_begin(&w, &sink, "SFRD", 1, hdr, 24), 0);
	static uint8_t data[4096];
	for (int i = 0; i < n; i++) {
		uint8_t h[16];
		sync_put_le64(h, recs[i][1]);
		sync_put_le64(h + 8, recs[i][2]);
		if (recs[i][0] == 1)
			assert_int_equal(sync_chunk_write(&w, 1, h, 8, data, recs[i][2]), 0);
		else
			assert_int_equal(sync_chunk_write(&w, (uint8_t)recs[i][0], h, 16, NULL, 0),
					 0);
	}
	assert_int_equal(sync_chunk_writer_end(&w), 0);
	sync_chunk_writer_release(&w);
}

/* Streams whose checksum is right but whose records fall outside the new size,
 * overlap, go backwards, are empty or of unknown type are refused; a stream for
 * another base size gets -ESTALE. The copy is untouched each time. */
static void test_forged_out_of_bounds(void **state)
{
	(void)state;
	th_seed(22);
	char basep[256], keep[256];
	strcpy(basep, th_path("base"));
	strcpy(keep, th_path("keep"));
	th_write_random_file(basep, 10000);
	copy_file(basep, keep);
	const uint64_t cases[][2][3] = {
	    {{1, 9000, 2000}, {0, 0, 0}},	    /* DATA past the end */
	    {{2, 5000, UINT64_MAX}, {0, 0, 0}},	    /* ZERO wrapping around */
	    {{1, 100, 100}, {1, 150, 100}},	    /* overlapping */
	    {{1, 500, 100}, {1, 100, 100}},	    /* out of order */
	    {{2, 100, 0}, {0, 0, 0}},		    /* empty run */
	    {{7, 100, 10}, {0, 0, 0}},		    /* unknown record type */
	    {{1, UINT64_MAX - 10, 100}, {0, 0, 0}}, /* offset wrap */
	};
	const int counts[] = {1, 1, 2, 2, 1, 1, 1};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sync_membuf m = {0};
		forge(&m, 10000, 10000, cases[i], counts[i]);
		for (int in_place = 0; in_place <= 1; in_place++) {
			assert_int_equal(apply(&m, basep, th_path("out"), in_place), -EBADMSG);
			assert_true(th_files_equal(basep, keep));
		}
		sync_membuf_release(&m);
	}
	const uint64_t ok[][3] = {{1, 100, 100}};
	struct sync_membuf m = {0};
	forge(&m, 12345, 10000, ok, 1);
	assert_int_equal(apply(&m, basep, th_path("out"), 1), -ESTALE);
	assert_true(th_files_equal(basep, keep));
	sync_membuf_release(&m);
	m = (struct sync_membuf){0};
	forge(&m, 10000, 10000, ok, 1);
	assert_int_equal(apply(&m, basep, th_path("out"), 0), 0);
	sync_membuf_release(&m);
}

/* The encoder refuses an unknown set, and a file whose size is not the one the
 * mount recorded (changed behind its back). */
static void test_encoder_refusals(void **state)
{
	(void)state;
	th_seed(23);
	char curp[256];
	strcpy(curp, th_path("cur"));
	th_write_random_file(curp, 5000);
	struct sync_dirty d;
	assert_int_equal(sync_dirty_init(&d, 5000, NULL), 0);
	sync_dirty_write(&d, 4000, 2000); /* the mount thinks the size is 6000 */
	int fd = open(curp, O_RDONLY);
	struct sync_membuf m = {0};
	struct sync_sink sink = sync_sink_mem(&m);
	assert_int_equal(sync_range_delta_write(fd, &d, &sink, NULL, NULL), -ESTALE);
	sync_dirty_mark_unknown(&d);
	assert_int_equal(sync_range_delta_write(fd, &d, &sink, NULL, NULL), -EINVAL);
	struct sync_range bad[] = {{.off = 10, .len = 10}, {.off = 15, .len = 10}};
	assert_int_equal(sync_range_delta_write_ranges(fd, 5000, 5000, bad, 2, &sink, NULL, NULL),
			 -EINVAL);
	close(fd);
	sync_membuf_release(&m);
	sync_dirty_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip_random_ops, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_size, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_rejected, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_forged_out_of_bounds, th_setup, th_teardown),
	    cmocka_unit_test_setup_teardown(test_encoder_refusals, th_setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
