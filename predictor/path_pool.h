/* P(demand > capacity at some step of the next W buckets) from the joint
 * distribution of the forecast-error path over the window.
 *
 * forecast.h gives per-step probabilities p_h and combines them as if the
 * steps were independent (or fully dependent): errors of neighbouring steps
 * are in fact correlated, in a way neither extreme describes. Here the joint
 * law is taken from what happened: a pool keeps the last `cap` complete
 * paths of standardised residuals (z_1 .. z_W of the forecasts made at one
 * origin, z_h = log-scale h-step error / sigma_h), as distribution.h keeps
 * the marginals. For a forecast (log location F_h, scale sigma_h)
 *
 *     P = share of pool paths z with  max_h<=W (F_h + sigma_h z_h) > log1p(C)
 *
 * i.e. the forecast's path resampled with past error paths (a bootstrap of
 * whole paths, so the correlation between steps is the observed one). A pool
 * can be mount-wide (every file's paths, e.g. cap 256) or per file (its own
 * recent paths, e.g. cap 32: 16 + 32 W bytes, 208 B for W 6).
 *
 * A path is complete W buckets after its origin: each file keeps the partial
 * paths of its last PRED_MAX_H origins (struct pred_path_asm, 64 B, z
 * quantised to 0.1 in int8) and pushes them to its pool(s) when the last
 * step arrives; origins with a missing residual (no forecast yet) are
 * dropped. Nothing is used before its outcome is observed.
 *
 * Costs: O(W) per file per bucket; O(cap * W) per probability. One owner,
 * not thread-safe. */
#ifndef SHADOWFS_PREDICTOR_PATH_POOL_H
#define SHADOWFS_PREDICTOR_PATH_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "predictor/forecast.h"
#include "predictor/model.h"

#define PRED_PATH_MAX_CAP 4096 /* largest pool */
#define PRED_PATH_ZSCALE 10.0  /* int8 quantisation: z = q / 10, |z| <= 12.7 */

/* Per-file partial paths, [origin mod PRED_MAX_H][h-1]; INT8_MIN = missing. */
struct pred_path_asm {
	int8_t z[PRED_MAX_H][PRED_MAX_H];
};

_Static_assert(sizeof(struct pred_path_asm) <= 64, "path assembler per file");

struct pred_paths;

/* window 1..PRED_MAX_H; cap 1..PRED_PATH_MAX_CAP paths (newest replace
 * oldest); min_paths 1..cap: fewer paths held and pred_paths_exceed()
 * declines. NULL on bad arguments or no memory. */
struct pred_paths *pred_paths_new(unsigned window, unsigned cap, unsigned min_paths);
void pred_paths_free(struct pred_paths *p);
/* Bytes of a pool of this size (for per-file memory budgets). */
size_t pred_paths_size(unsigned window, unsigned cap);

void pred_path_asm_init(struct pred_path_asm *a);
/* After the file absorbed bucket `tick` with pred_model_update_resid(),
 * which returned z (z[h-1]: residual of the forecast made h buckets ago for
 * this bucket, NaN where none): stores z[h-1] under origin tick-h+1 and
 * returns true when the path of origin tick-W+1 is complete, copying it to
 * ret_path[0..W-1] (and clearing it from the assembler). */
bool pred_path_asm_add(struct pred_path_asm *a, unsigned window, uint64_t tick,
		       const float z[PRED_MAX_H], int8_t ret_path[PRED_MAX_H]);

/* Adds a complete path (from pred_path_asm_add) to the pool. */
void pred_paths_push(struct pred_paths *p, const int8_t path[PRED_MAX_H]);
/* Paths held now, and pushed in total (modulo 2^32). */
unsigned pred_paths_count(const struct pred_paths *p);
uint32_t pred_paths_added(const struct pred_paths *p);

/* P(max over the pool's window of the forecast path > capacity), in [0, 1],
 * from fc->loc / fc->scale (forecast.h; scale floored at PRED_SIGMA_MIN).
 * capacity < 0: 1. -1 when fewer than min_paths paths are held or the window
 * is longer than fc->horizon (callers fall back to fc->p_exceed). */
double pred_paths_exceed(const struct pred_paths *p, const struct pred_forecast *fc,
			 double capacity);

#endif
