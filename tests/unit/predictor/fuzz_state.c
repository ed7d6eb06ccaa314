/* Fuzz regression driver for the model-state decoder (bytes from disk).
 *
 * Starts from valid blobs and applies a fixed-seed sequence of mutations
 * (bit flips, random bytes, float specials, truncation), half of them with
 * the CRC recomputed so that the field validation itself is exercised. Every
 * blob must either be rejected with -EINVAL or decode to a model that is then
 * safe to use: finite forecasts, updates accepted, re-encoding identical.
 * Also exports LLVMFuzzerTestOneInput for use with libFuzzer. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/forecast.h"
#include "predictor/model_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
	}
	return ~c;
}

static int check_one(const uint8_t *data, size_t size)
{
	struct pred_model m;
	int rc = pred_model_decode(data, size, &m);
	if (rc == -EINVAL)
		return 0;
	if (rc != 0)
		return 1;
	for (unsigned h = 1; h <= PRED_MAX_H; h++)
		if (!isfinite(pred_model_point_log(&m, h)))
			return 1;
	struct pred_forecast_req r;
	pred_forecast_req_default(&r);
	r.capacity = 100.0;
	r.horizon = m.horizon;
	r.window = m.horizon;
	struct pred_forecast f;
	if (pred_forecast_compute(&m, NULL, &r, &f) || !(f.p_exceed >= 0.0 && f.p_exceed <= 1.0))
		return 1;
	for (unsigned h = 0; h < r.horizon; h++)
		if (!isfinite(f.point[h]) || !isfinite(f.hi[1][h]))
			return 1;
	uint8_t again[2048];
	long n = pred_model_encode(&m, again, sizeof(again));
	if (n != (long)size || memcmp(again, data, size))
		return 1;
	if (pred_model_update(&m, 5.0) != 0)
		return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (check_one(data, size))
		abort();
	return 0;
}

int main(void)
{
	size_t sz = pred_model_state_size();
	uint8_t seed[3][2048], buf[2048];
	struct pred_params p;
	pred_params_default(&p);
	unsigned seasons[3] = {0, 24, 48};
	for (int s = 0; s < 3; s++) {
		struct pred_model m;
		if (pred_model_init(&m, &p, seasons[s], 6))
			return 1;
		for (int i = 0; i < 300; i++)
			pred_model_update(&m, (i * 37) % 101 + (i % 24 == 3 ? 5000 : 0));
		if (pred_model_encode(&m, seed[s], sizeof(seed[s])) != (long)sz)
			return 1;
	}
	unsigned rs = 12345;
	long accepted = 0, rejected = 0;
	for (int it = 0; it < 60000; it++) {
		memcpy(buf, seed[it % 3], sz);
		size_t len = sz;
		int nmut = 1 + rand_r(&rs) % 4;
		for (int k = 0; k < nmut; k++) {
			size_t at = (size_t)rand_r(&rs) % sz;
			switch (rand_r(&rs) % 5) {
			case 0:
				buf[at] ^= (uint8_t)(1u << (rand_r(&rs) % 8));
				break;
			case 1:
				buf[at] = (uint8_t)rand_r(&rs);
				break;
			case 2: { /* float specials at a 4-byte boundary */
				static const float sp[] = {NAN,	   INFINITY, -INFINITY, 1e30f,
							   -1e30f, -0.5f,    2.0f,	0.0f};
				float v = sp[rand_r(&rs) % 8];
				size_t a = 8 + ((at - at % 4) % (sz - 12));
				memcpy(buf + a, &v, 4);
				break;
			}
			case 3:
				len = (size_t)rand_r(&rs) % sz;
				break;
			default: /* small integers in header fields */
				buf[8 + rand_r(&rs) % 12] = (uint8_t)(rand_r(&rs) % 70);
				break;
			}
		}
		if (it % 2 && len == sz) { /* valid CRC: reach the field checks */
			uint32_t c = crc32_ref(buf, sz - 4);
			for (int i = 0; i < 4; i++)
				buf[sz - 4 + i] = (uint8_t)(c >> (8 * i));
		}
		if (check_one(buf, len)) {
			fprintf(stderr, "iteration %d: unsafe decode\n", it);
			return 1;
		}
		struct pred_model tmp;
		if (pred_model_decode(buf, len, &tmp) == 0)
			accepted++;
		else
			rejected++;
	}
	printf("fuzz_state: %ld accepted, %ld rejected, all safe\n", accepted, rejected);
	/* Both outcomes must have been exercised. */
	return accepted > 0 && rejected > 0 ? 0 : 1;
}
