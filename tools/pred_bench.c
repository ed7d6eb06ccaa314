/* pred-bench: cost of the predictor at scale (not a test; see
 * docs/PREDICTOR.md). Builds N per-file models (default 100,000, season 24,
 * H 6) on synthetic seasonal counts, then measures in one run:
 * All times are CPU time of the benchmark thread (the machine is shared).
 *   - update: one bucket absorbed by every file (ns per file per bucket);
 *   - forecast: point, 80/95% intervals and P(max over W > C) for every file
 *     (total seconds for N files, ns per file);
 *   - the exceedance classifier (exceedance.h): per-file state update and
 *     features + probability after the forecast, for every file;
 *   - the joint path probability (path_pool.h): per-file path assembly for
 *     one bucket, and P from a mount-wide pool of 256 paths and from a
 *     per-file-sized pool of 32, after the forecast, for every file;
 *   - encode + decode of every file's state;
 * and prints memory per file. usage: pred-bench [N] [BUCKETS] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "predictor/distribution.h"
#include "predictor/exceedance.h"
#include "predictor/forecast.h"
#include "predictor/model.h"
#include "predictor/model_state.h"
#include "predictor/path_pool.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust to load */
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	unsigned buckets = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 96;
	if (n == 0 || buckets < 50) {
		fprintf(stderr, "usage: pred-bench [N>0] [BUCKETS>=50]\n");
		return 2;
	}
	struct pred_model *m = malloc(n * sizeof(*m));
	struct pred_calib *c = pred_calib_new(PRED_CALIB_DECAY);
	uint8_t *blob = malloc(pred_model_state_size());
	if (!m || !c || !blob)
		return 1;
	struct pred_params p;
	pred_params_default(&p);
	unsigned seed = 1;
	double t0 = now_s();
	for (size_t i = 0; i < n; i++)
		pred_model_init(&m[i], &p, 24, 6);
	double upd = 0.0;
	for (unsigned t = 0; t < buckets; t++) {
		double a = now_s();
		for (size_t i = 0; i < n; i++) {
			double lvl = 5.0 + (double)(i % 1000);
			double y = lvl * (1.0 + 0.5 * sin(2 * M_PI * t / 24.0)) *
				   (0.8 + 0.4 * rand_r(&seed) / (double)RAND_MAX);
			float z[PRED_MAX_H];
			pred_model_update_resid(&m[i], floor(y), z);
			if (i % 64 == 0)
				pred_calib_add(c, z);
		}
		if (t >= buckets - 10)
			upd += now_s() - a;
	}
	double warm = now_s() - t0;
	pred_calib_refresh(c);
	struct pred_forecast_req r;
	pred_forecast_req_default(&r);
	struct pred_forecast f;
	double sink = 0.0;
	double a = now_s();
	for (size_t i = 0; i < n; i++) {
		r.capacity = 2.0 * (5.0 + (double)(i % 1000));
		pred_forecast_compute(&m[i], c, &r, &f);
		sink += f.p_exceed + f.hi[1][5];
	}
	double fc = now_s() - a;
	/* Exceedance classifier: state update then features + p per file. */
	struct pred_exc_file *xf = malloc(n * sizeof(*xf));
	struct pred_exc_config ec;
	pred_exc_config_default(&ec);
	struct pred_exc *ex = pred_exc_new(&ec);
	if (!xf || !ex)
		return 1;
	for (size_t i = 0; i < n; i++)
		pred_exc_file_init(&xf[i], 24);
	a = now_s();
	for (size_t i = 0; i < n; i++)
		pred_exc_file_update(&xf[i], (double)(i % 1000), 2.0 * (5.0 + (double)(i % 1000)));
	double xupd = now_s() - a;
	a = now_s();
	for (size_t i = 0; i < n; i++) {
		float x[PRED_EXC_NF];
		r.capacity = 2.0 * (5.0 + (double)(i % 1000));
		pred_forecast_compute(&m[i], c, &r, &f);
		pred_exc_features(&xf[i], &m[i], &f, r.capacity, 6, x);
		sink += pred_exc_prob(ex, x);
	}
	double xfc = now_s() - a - fc; /* over the forecast itself */
	/* Joint path probability: assembly of one bucket per file, then P
	 * from a pool of 256 and of 32 synthetic paths (cost depends only on
	 * the pool's size and W). */
	struct pred_path_asm *pa = malloc(n * sizeof(*pa));
	struct pred_paths *pool = pred_paths_new(6, 256, 50), *own = pred_paths_new(6, 32, 24);
	if (!pa || !pool || !own)
		return 1;
	for (size_t i = 0; i < n; i++)
		pred_path_asm_init(&pa[i]);
	for (int k = 0; k < 256; k++) {
		int8_t path[PRED_MAX_H];
		for (int h = 0; h < 6; h++)
			path[h] = (int8_t)(rand_r(&seed) % 41 - 20);
		pred_paths_push(pool, path);
		if (k < 32)
			pred_paths_push(own, path);
	}
	float zz[PRED_MAX_H] = {0.1f, -0.2f, 0.3f, 0.f, 0.5f, -1.f, 0.f, 0.f};
	a = now_s();
	for (uint64_t t = 0; t < 6; t++)
		for (size_t i = 0; i < n; i++) {
			int8_t path[PRED_MAX_H];
			if (pred_path_asm_add(&pa[i], 6, t, zz, path) && i % 64 == 0)
				pred_paths_push(pool, path);
		}
	double pasm = (now_s() - a) / 6.0;
	double pj[2];
	for (int w = 0; w < 2; w++) {
		a = now_s();
		for (size_t i = 0; i < n; i++) {
			r.capacity = 2.0 * (5.0 + (double)(i % 1000));
			pred_forecast_compute(&m[i], c, &r, &f);
			sink += pred_paths_exceed(w ? own : pool, &f, r.capacity);
		}
		pj[w] = now_s() - a - fc;
	}
	a = now_s();
	size_t bad = 0;
	struct pred_model back;
	pred_model_init(&back, &p, 24, 6);
	for (size_t i = 0; i < n; i++) {
		long len = pred_model_encode(&m[i], blob, pred_model_state_size());
		bad += len < 0 || pred_model_decode(blob, (size_t)len, &back) != 0;
	}
	double st = now_s() - a;
	/* Parameter search (grid) on a 504-bucket history, 100 files. */
	double hist[504];
	a = now_s();
	for (int k = 0; k < 100; k++) {
		for (int t = 0; t < 504; t++)
			hist[t] = floor((10.0 + k) * (1.0 + 0.5 * sin(2 * M_PI * t / 24.0)) *
					(0.8 + 0.4 * rand_r(&seed) / (double)RAND_MAX));
		pred_model_fit(&back, hist, 504);
	}
	double fit = (now_s() - a) / 100.0;
	printf("pred-bench: %zu files, season 24, H 6, W 6 (%.1f s warm-up of %u buckets)\n", n,
	       warm, buckets);
	printf("memory per file: model %zu B in RAM, %zu B serialized\n", sizeof(struct pred_model),
	       pred_model_state_size());
	printf("update:   %.1f ns per file per bucket (mean of last 10 buckets)\n",
	       upd / 10.0 / (double)n * 1e9);
	printf("forecast: %.3f s for %zu files (%.1f ns per file: point, 80/95%% "
	       "intervals, P(max over 6 > C))\n",
	       fc, n, fc / (double)n * 1e9);
	printf("exceedance classifier: state %zu B per file, update %.1f ns, "
	       "features + p %.1f ns per file (beyond the forecast)\n",
	       sizeof(struct pred_exc_file), xupd / (double)n * 1e9, xfc / (double)n * 1e9);
	printf("joint path P: assembly %zu B per file, %.1f ns per file per bucket; "
	       "P beyond the forecast %.1f ns (pool of 256), %.1f ns (32; %zu B)\n",
	       sizeof(struct pred_path_asm), pasm / (double)n * 1e9, pj[0] / (double)n * 1e9,
	       pj[1] / (double)n * 1e9, pred_paths_size(6, 32));
	printf("state:    %.3f s encode+decode of %zu files (%zu failures)\n", st, n, bad);
	printf("fit:      %.1f ms per file on 504 buckets (grid search, done "
	       "rarely)\n",
	       fit * 1e3);
	printf("ratio forecast/update per file: %.1fx  (checksum %.3g)\n",
	       (fc / (double)n) / (upd / 10.0 / (double)n), sink);
	free(m);
	free(xf);
	free(pa);
	pred_paths_free(pool);
	pred_paths_free(own);
	pred_exc_free(ex);
	free(blob);
	pred_calib_free(c);
	return bad ? 1 : 0;
}
