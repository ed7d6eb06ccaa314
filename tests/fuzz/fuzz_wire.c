/* Fuzz target for the wire frame decoder (sync/wire.c): the bytes a peer
 * sends, split into frames as the server reads them (24-byte header, then
 * the payload length the header announces), each decoded as both a request
 * and a response. Invariants: no crash or out-of-bounds read (sanitizers),
 * and anything accepted stays within its bounds (checked below, abort()).
 *
 * Built two ways: with clang, a libFuzzer target (-DSFS_LIBFUZZER,
 * -fsanitize=fuzzer); always, a regression driver that runs the seed corpus
 * (built-in seeds made with the encoders, plus files in the directories
 * given) and then N mutations of the seeds with a fixed PRNG seed.
 *   fuzz_wire [-n N] [CORPUS_DIR...]     (default N = 200000)
 *   fuzz_wire --write-seeds DIR          writes the built-in seeds */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_corpus.h"
#include "tests/fuzz/fuzz_rng.h"
#include "sync/wire.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

static void decode_frame(const uint8_t *head, const uint8_t *payload, size_t avail)
{
	struct sync_wire_header h;
	struct sync_wire_msg m;
	if (sync_wire_header_decode(head, &h) < 0)
		return;
	check(h.length <= SYNC_WIRE_MAX_PAYLOAD);
	if (h.length > avail)
		return;
	/* Exact-size copy so a sanitizer sees any read past the payload. */
	uint8_t *p = h.length ? malloc(h.length) : NULL;
	if (h.length)
		memcpy(p, payload, h.length);
	for (int dir = 0; dir < 2; dir++) {
		struct sync_wire_header hh = h;
		hh.flags = (uint16_t)(dir ? (h.flags | SYNC_WIRE_F_RESPONSE) : h.flags);
		if (sync_wire_decode(&hh, p, &m) < 0)
			continue;
		check(m.data_len <= h.length);
		if (m.data_len)
			check(m.data >= p && m.data + m.data_len <= p + h.length);
		check(m.size <= SYNC_WIRE_MAX_FILE_SIZE);
		/* VERIFY progress is never an error; its payload is exact */
		if (hh.type == SYNC_WIRE_VERIFY && (hh.flags & SYNC_WIRE_F_MORE))
			check(hh.status == SYNC_WS_OK && hh.length == SYNC_WIRE_VERIFY_SIZE);
		if (hh.type == SYNC_WIRE_VERIFY && !(hh.flags & SYNC_WIRE_F_RESPONSE))
			check(hh.length == SYNC_WIRE_VERIFY_REQ_SIZE);
		if (!(hh.flags & SYNC_WIRE_F_RESPONSE)) {
			check(m.length <= SYNC_WIRE_MAX_DATA);
			check(m.offset <= SYNC_WIRE_MAX_FILE_SIZE);
		}
		/* touch every accepted byte */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < m.data_len; i++)
			sum += m.data[i];
		(void)sum;
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (size - off >= SYNC_WIRE_HEADER_SIZE) {
		struct sync_wire_header h;
		const uint8_t *head = data + off;
		off += SYNC_WIRE_HEADER_SIZE;
		decode_frame(head, data + off, size - off);
		if (sync_wire_header_decode(head, &h) < 0 || h.length > size - off)
			break; /* the server closes the connection here */
		off += h.length;
	}
	sync_wire_status_to_errno((int32_t)size);
	return 0;
}

#ifndef SFS_LIBFUZZER
#define MAXSEED 64
#define MAXLEN 4096
static uint8_t seeds[MAXSEED][MAXLEN];
static size_t seed_len[MAXSEED];
static int nseeds;

static void add_frame(uint8_t type, uint16_t flags, int32_t status, const uint8_t *p, size_t n)
{
	struct sync_wire_header h = {.type = type,
				     .flags = flags,
				     .req_id = (uint64_t)nseeds,
				     .length = (uint32_t)n,
				     .status = status};
	if (nseeds == MAXSEED || n + SYNC_WIRE_HEADER_SIZE > MAXLEN)
		return;
	sync_wire_header_encode(&h, seeds[nseeds]);
	if (n)
		memcpy(seeds[nseeds] + SYNC_WIRE_HEADER_SIZE, p, n);
	seed_len[nseeds++] = n + SYNC_WIRE_HEADER_SIZE;
}

static void builtin_seeds(void)
{
	uint8_t p[512], id[16] = {1, 2, 3}, sha[32] = {9};
	struct sync_wire_load l = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	struct sync_wire_list_entry e = {{7}, 3, 4096};
	const uint16_t R = SYNC_WIRE_F_RESPONSE;
	add_frame(SYNC_WIRE_PING, 0, 0, NULL, 0);
	add_frame(SYNC_WIRE_PING, R, 0, NULL, 0);
	add_frame(SYNC_WIRE_READ, 0, 0, p,
		  (size_t)sync_wire_enc_read(p, sizeof(p), id, 1, 4096, 65536));
	add_frame(SYNC_WIRE_READ, R, 0, (const uint8_t *)"hello", 5);
	add_frame(SYNC_WIRE_READ, R, SYNC_WS_NOENT, NULL, 0);
	add_frame(SYNC_WIRE_PUT_BEGIN, 0, 0, p,
		  (size_t)sync_wire_enc_put(p, sizeof(p), id, 1, 100, sha));
	add_frame(SYNC_WIRE_UPDATE_BEGIN, 0, 0, p,
		  (size_t)sync_wire_enc_update(p, sizeof(p), id, 1, 2, 100, sha));
	add_frame(SYNC_WIRE_DELTA_BEGIN, 0, 0, p,
		  (size_t)sync_wire_enc_update(p, sizeof(p), id, 1, 2, 100, sha));
	add_frame(SYNC_WIRE_DATA, 0, 0, (const uint8_t *)"0123456789", 10);
	add_frame(SYNC_WIRE_DATA, R | SYNC_WIRE_F_MORE, 0, (const uint8_t *)"sig", 3);
	sync_wire_enc_range_off(p, 4096);
	memcpy(p + 8, "xyz", 3);
	add_frame(SYNC_WIRE_RANGE, 0, 0, p, 11);
	add_frame(SYNC_WIRE_END, 0, 0, NULL, 0);
	add_frame(SYNC_WIRE_END, 0, 0, sha, 32);
	add_frame(SYNC_WIRE_END, R, SYNC_WS_BADSUM, NULL, 0);
	add_frame(SYNC_WIRE_SIGNATURE, 0, 0, p, (size_t)sync_wire_enc_id_ver(p, sizeof(p), id, 1));
	add_frame(SYNC_WIRE_DELETE, 0, 0, p, (size_t)sync_wire_enc_id_ver(p, sizeof(p), id, 1));
	add_frame(SYNC_WIRE_LIST, 0, 0, NULL, 0);
	memset(p, 0, 4);
	p[3] = 2;
	sync_wire_enc_list_entry(p + 4, &e);
	sync_wire_enc_list_entry(p + 4 + SYNC_WIRE_LIST_ENTRY_SIZE, &e);
	add_frame(SYNC_WIRE_LIST, R | SYNC_WIRE_F_MORE, 0, p, 4 + 2 * SYNC_WIRE_LIST_ENTRY_SIZE);
	add_frame(SYNC_WIRE_STATS, 0, 0, NULL, 0);
	{
		struct sync_wire_stats ws = {1, 2, 3, 4, 5, 6, SYNC_WIRE_FEATURE_ZEROS};
		add_frame(SYNC_WIRE_STATS, R, 0, p, (size_t)sync_wire_enc_stats(p, sizeof(p), &ws));
	}
	add_frame(SYNC_WIRE_ZEROS, 0, 0, p, (size_t)sync_wire_enc_zeros(p, sizeof(p), 1u << 20));
	add_frame(SYNC_WIRE_LOAD, 0, 0, NULL, 0);
	add_frame(SYNC_WIRE_LOAD, R, 0, p, (size_t)sync_wire_enc_load(p, sizeof(p), &l));
	/* VERIFY: request, progress, outcome (match, mismatch) */
	add_frame(SYNC_WIRE_VERIFY, 0, 0, p,
		  (size_t)sync_wire_enc_verify(p, sizeof(p), id, 1, sha));
	add_frame(SYNC_WIRE_VERIFY, R | SYNC_WIRE_F_MORE, 0, p,
		  (size_t)sync_wire_enc_verify_resp(p, sizeof(p), 1u << 20));
	add_frame(SYNC_WIRE_VERIFY, R, 0, p, (size_t)sync_wire_enc_verify_resp(p, sizeof(p), 4096));
	add_frame(SYNC_WIRE_VERIFY, R, SYNC_WS_BADSUM, NULL, 0);
	/* a stream of two frames */
	if (nseeds < MAXSEED) {
		memcpy(seeds[nseeds], seeds[2], seed_len[2]);
		memcpy(seeds[nseeds] + seed_len[2], seeds[11], seed_len[11]);
		seed_len[nseeds] = seed_len[2] + seed_len[11];
		nseeds++;
	}
}

static uint64_t rng = 0x5eed5eed12345678ull;
static uint64_t next(void)
{
	return fuzz_rng_next(&rng);
}

static void mutate(uint8_t *b, size_t *len)
{
	static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x10, 0x40};
	int k = 1 + (int)(next() % 4);
	for (int i = 0; i < k; i++) {
		size_t pos = *len ? next() % *len : 0;
		switch (next() % 6) {
		case 0:
			if (*len)
				b[pos] ^= (uint8_t)(1u << (next() % 8));
			break;
		case 1:
			if (*len)
				b[pos] = interesting[next() % sizeof(interesting)];
			break;
		case 2:
			if (*len)
				b[pos] = (uint8_t)next();
			break;
		case 3:
			*len = next() % (*len + 1);
			break; /* truncate */
		case 4: {      /* extend with random bytes */
			size_t add = next() % 64;
			if (*len + add > MAXLEN)
				add = MAXLEN - *len;
			for (size_t j = 0; j < add; j++)
				b[*len + j] = (uint8_t)next();
			*len += add;
			break;
		}
		case 5: /* rewrite the length field near the payload size */
			if (*len >= SYNC_WIRE_HEADER_SIZE) {
				uint32_t v = (uint32_t)(*len - SYNC_WIRE_HEADER_SIZE) +
					     (uint32_t)(next() % 5) - 2;
				if (next() % 4 == 0)
					v = SYNC_WIRE_MAX_PAYLOAD + (uint32_t)(next() % 3) - 1;
				b[16] = (uint8_t)(v >> 24);
				b[17] = (uint8_t)(v >> 16);
				b[18] = (uint8_t)(v >> 8);
				b[19] = (uint8_t)v;
			}
			break;
		}
	}
}


int main(int argc, char **argv)
{
	long iterations = 200000;
	int files = 0;
	builtin_seeds();
	if (argc == 3 && !strcmp(argv[1], "--write-seeds")) {
		for (int i = 0; i < nseeds; i++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/seed-%02d", argv[2], i);
			FILE *f = fopen(path, "wb");
			if (!f || fwrite(seeds[i], 1, seed_len[i], f) != seed_len[i]) {
				fprintf(stderr, "fuzz_wire: cannot write %s\n", path);
				return 1;
			}
			fclose(f);
		}
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			iterations = atol(argv[++i]);
			continue;
		}
		int n = fuzz_run_dir("fuzz_wire", argv[i], LLVMFuzzerTestOneInput);
		if (n < 0)
			return 1;
		files += n;
	}
	for (int i = 0; i < nseeds; i++)
		LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);
	uint8_t *b = malloc(MAXLEN);
	for (long it = 0; it < iterations; it++) {
		int s = (int)(next() % (uint64_t)nseeds);
		size_t len = seed_len[s];
		memcpy(b, seeds[s], len);
		mutate(b, &len);
		uint8_t *exact = malloc(len ? len : 1);
		memcpy(exact, b, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	free(b);
	printf("fuzz_wire: %d corpus files, %d built-in seeds, %ld mutations: ok\n", files, nseeds,
	       iterations);
	return 0;
}
#endif
