/* Fuzz target for the decoders of the delta half of sync/: librsync delta
 * streams (sync_patch_apply), ranged deltas (sync_range_delta_apply, copy and
 * in-place modes) and signature blobs (sync_sig_read, then a delta computed
 * with the signature, as the origin does with a peer's). Invariants: no
 * crash, hang or out-of-bounds access (sanitizers); an accepted stream
 * yields output of exactly the size its header announces; a refused
 * in-place ranged delta leaves the copy byte-identical; an accepted
 * signature gives a delta (checked below, abort()).
 *
 * An input's first byte picks the decoder (its value mod 3: librsync delta,
 * ranged delta, signature blob) and, when (value / 3) is odd, has the
 * stream's XXH3 trailer recomputed over what precedes it (see
 * chunk_stream.h), so mutated records reach the decoders' checks after the
 * trailer's; the rest is the stream.
 *
 * Built two ways, as fuzz_wire: with clang a libFuzzer target; always a
 * regression driver: seeds made with the encoders (valid streams over a
 * small basis), the files in the corpus directories given, then N
 * mutations of the seeds with a fixed PRNG seed (bit flips, byte sets,
 * truncations, splices).
 *   fuzz_delta [-n N] [CORPUS_DIR...]     (default N = 3000)
 *   fuzz_delta --write-seeds DIR          writes the built-in seeds */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

#include "sync/chunk_stream.h"
#include "sync/range_delta.h"
#include "sync/rsync_update.h"
#include "tests/fuzz/fuzz_corpus.h"

#define BASIS_LEN 20000

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static int memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	check(fd >= 0);
	return fd;
}

static uint8_t basis_data[BASIS_LEN];
static int basis_fd, out_fd, spool_fd;
static int shifted_fd; /* the basis rotated: matches at other offsets */

static void reset_basis(void)
{
	check(ftruncate(basis_fd, 0) == 0);
	check(sync_pwrite_all(basis_fd, basis_data, BASIS_LEN, 0) == 0);
}

static uint64_t fd_size(int fd)
{
	struct stat st;
	check(fstat(fd, &st) == 0);
	return (uint64_t)st.st_size;
}

static int run_patch(const uint8_t *p, size_t n)
{
	struct sync_memreader r = {.data = p, .len = n};
	struct sync_source src = sync_source_mem(&r);
	uint64_t written = 0;
	struct sync_sink sink = sync_sink_count(&written);
	struct sync_patch_result res;
	int rc = sync_patch_apply(basis_fd, &src, &sink, NULL, &res);
	check(rc <= 0);
	if (rc == 0)
		check(written == res.new_size);
	return rc;
}

static int run_range(const uint8_t *p, size_t n)
{
	struct sync_memreader r = {.data = p, .len = n};
	struct sync_source src = sync_source_mem(&r);
	struct sync_range_stats st;
	int rc = sync_range_delta_apply(&src, basis_fd, out_fd, -1, &st);
	check(rc <= 0);
	if (rc == 0)
		check(fd_size(out_fd) == st.new_size);
	int first = rc;
	r = (struct sync_memreader){.data = p, .len = n};
	rc = sync_range_delta_apply(&src, basis_fd, basis_fd, spool_fd, &st);
	check(rc <= 0);
	if (rc == 0) {
		check(fd_size(basis_fd) == st.new_size);
		reset_basis();
	} else {
		static uint8_t now[BASIS_LEN];
		check(fd_size(basis_fd) == BASIS_LEN);
		check(sync_pread_all(basis_fd, now, BASIS_LEN, 0) == 0);
		check(memcmp(now, basis_data, BASIS_LEN) == 0);
	}
	check((rc == 0) == (first == 0)); /* both modes agree */
	return rc;
}

static int run_sig(const uint8_t *p, size_t n)
{
	struct sync_memreader r = {.data = p, .len = n};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sig *sig = NULL;
	int rc = sync_sig_read(&src, &sig);
	check(rc <= 0);
	check((rc == 0) == (sig != NULL));
	if (sig) { /* a peer's signature is what the origin computes a delta with */
		uint64_t written = 0;
		struct sync_sink sink = sync_sink_count(&written);
		check(sync_delta_write(sig, shifted_fd, &sink, NULL, NULL) == 0);
	}
	sync_sig_free(sig);
	return rc;
}

static int (*const runs[3])(const uint8_t *, size_t) = {run_patch, run_range, run_sig};

static void setup(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	basis_fd = memfd("basis");
	out_fd = memfd("out");
	spool_fd = memfd("spool");
	for (size_t i = 0; i < BASIS_LEN; i++)
		basis_data[i] = (uint8_t)(rng() >> 24);
	reset_basis();
	shifted_fd = memfd("shifted");
	check(sync_pwrite_all(shifted_fd, basis_data + 3000, BASIS_LEN - 3000, 0) == 0);
	check(sync_pwrite_all(shifted_fd, basis_data, 3000, BASIS_LEN - 3000) == 0);
}

/* Walks the chunk stream in p (n bytes, cap of room) to its end record and
 * writes the XXH3-128 of the bytes before it as the trailer, growing the
 * stream if it was cut there. The new length (n when there is no end). */
static size_t fix_trailer(uint8_t *p, size_t n, size_t cap)
{
	if (n < 8)
		return n;
	size_t off = 8 + (size_t)sync_get_le16(p + 6);
	while (off + 5 <= n) {
		uint32_t len = sync_get_le32(p + off + 1);
		if (p[off] == 0) {
			off += 5;
			if (off + SYNC_CHUNK_TRAILER_LEN > cap)
				return n;
			XXH128_canonical_t canon;
			XXH128_canonicalFromHash(&canon, XXH3_128bits(p, off));
			memcpy(p + off, canon.digest, SYNC_CHUNK_TRAILER_LEN);
			return off + SYNC_CHUNK_TRAILER_LEN > n ? off + SYNC_CHUNK_TRAILER_LEN : n;
		}
		if (len > n - off - 5)
			return n;
		off += 5 + (size_t)len;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size == 0)
		return 0;
	size_t n = size - 1, cap = n + SYNC_CHUNK_TRAILER_LEN;
	uint8_t *p = malloc(cap);
	memcpy(p, data + 1, n);
	if ((data[0] / 3) % 2)
		n = fix_trailer(p, n, cap);
	/* Exact-size copy so a sanitizer sees any read past the stream. */
	uint8_t *q = malloc(n ? n : 1);
	memcpy(q, p, n);
	free(p);
	runs[data[0] % 3](q, n);
	free(q);
	return 0;
}

#ifndef SFS_LIBFUZZER
/* One random mutation of seed into buf; returns the new length. */
static size_t mutate(const uint8_t *seed, size_t n, uint8_t *buf, size_t cap)
{
	size_t len = n < cap ? n : cap;
	memcpy(buf, seed, len);
	int edits = 1 + (int)(rng() % 3);
	for (int e = 0; e < edits && len; e++) {
		size_t at = rng() % len;
		switch (rng() % 5) {
		case 0:
			buf[at] ^= (uint8_t)(1u << (rng() % 8));
			break;
		case 1:
			buf[at] = (uint8_t)rng();
			break;
		case 2:
			len = at; /* truncate */
			break;
		case 3: { /* duplicate a slice further on */
			size_t k = rng() % 64, to = rng() % len;
			if (at + k <= len && to + k <= cap) {
				memmove(buf + to, buf + at, k);
				if (to + k > len)
					len = to + k;
			}
			break;
		}
		default: /* small integer fields are where bounds live */
			buf[at] = (uint8_t)(rng() % 2 ? 0xff : 0x00);
			break;
		}
	}
	return len;
}

struct seed {
	struct sync_membuf m;
	int (*run)(const uint8_t *, size_t);
	uint8_t which; /* its index in runs[] */
};


static int write_seeds(const char *dir, const struct seed *seeds, int n)
{
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/seed-%02d", dir, i);
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(&seeds[i].which, 1, 1, f) != 1 ||
		    fwrite(seeds[i].m.data, 1, seeds[i].m.len, f) != seeds[i].m.len) {
			fprintf(stderr, "fuzz_delta: cannot write %s\n", path);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long iters = 3000;
	setup();
	int new_fd = memfd("new");
	uint8_t newer[BASIS_LEN + 3000];
	memcpy(newer, basis_data, BASIS_LEN);
	memmove(newer + 9000, basis_data + 6000, BASIS_LEN - 6000);
	for (size_t i = 6000; i < 9000; i++)
		newer[i] = (uint8_t)i;
	check(sync_pwrite_all(new_fd, newer, sizeof(newer), 0) == 0);

	struct seed seeds[4] = {0};
	/* librsync delta against the basis's signature, with content hash */
	struct sync_sink sink = sync_sink_mem(&seeds[3].m);
	check(sync_sig_write(basis_fd, NULL, &sink, NULL) == 0);
	seeds[3].run = run_sig;
	seeds[3].which = 2;
	struct sync_memreader r = {.data = seeds[3].m.data, .len = seeds[3].m.len};
	struct sync_source src = sync_source_mem(&r);
	struct sync_sig *sig = NULL;
	check(sync_sig_read(&src, &sig) == 0);
	struct sync_delta_opts dopts = {.content_sha256 = true};
	sink = sync_sink_mem(&seeds[0].m);
	check(sync_delta_write(sig, new_fd, &sink, &dopts, NULL) == 0);
	seeds[0].run = run_patch;
	seeds[0].which = 0;
	sink = sync_sink_mem(&seeds[1].m); /* full copy */
	check(sync_delta_write(NULL, new_fd, &sink, NULL, NULL) == 0);
	seeds[1].run = run_patch;
	seeds[1].which = 0;
	sync_sig_free(sig);
	/* ranged delta: data, a zero run, growth */
	struct sync_range ranges[] = {{100, 50}, {5000, 4000}, {BASIS_LEN + 1000, 2000}};
	check(ftruncate(new_fd, BASIS_LEN + 3000) == 0);
	sink = sync_sink_mem(&seeds[2].m);
	check(sync_range_delta_write_ranges(new_fd, BASIS_LEN, BASIS_LEN + 3000, ranges, 3, &sink,
					    NULL, NULL) == 0);
	seeds[2].run = run_range;
	seeds[2].which = 1;
	if (argc == 3 && !strcmp(argv[1], "--write-seeds")) {
		int rc = write_seeds(argv[2], seeds, 4);
		for (int s = 0; s < 4; s++)
			sync_membuf_release(&seeds[s].m);
		return rc;
	}
	int files = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			iters = atol(argv[++i]);
			continue;
		}
		int n = fuzz_run_dir("fuzz_delta", argv[i], LLVMFuzzerTestOneInput);
		if (n < 0)
			return 1;
		files += n;
	}

	for (int s = 0; s < 4; s++) /* the seeds themselves are accepted */
		check(seeds[s].run(seeds[s].m.data, seeds[s].m.len) == 0);
	static uint8_t buf[1 << 16];
	for (long i = 0; i < iters; i++) {
		struct seed *s = &seeds[i % 4];
		size_t len = mutate(s->m.data, s->m.len, buf, sizeof(buf));
		if (i % 8 >= 4) /* half of them with a good trailer */
			len = fix_trailer(buf, len, sizeof(buf));
		s->run(buf, len);
	}
	for (int s = 0; s < 4; s++)
		sync_membuf_release(&seeds[s].m);
	close(basis_fd);
	close(out_fd);
	close(spool_fd);
	close(shifted_fd);
	close(new_fd);
	printf("fuzz_delta: %d corpus files, %ld mutated inputs, no failure\n", files, iters);
	return 0;
}
#endif
