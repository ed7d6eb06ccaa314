/* Joint (path) exceedance probability from a pool of past standardised
 * error paths. See path_pool.h. */
#include "predictor/path_pool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/distribution.h"

#define MISSING INT8_MIN

/* 16-byte header: a per-file pool of 32 paths of 6 steps is 208 B, so that
 * model (752) + assembler (64) + pool fit in 1 KiB. */
struct pred_paths {
	uint16_t window;    /* W: steps per path */
	uint16_t cap;	    /* paths kept, <= PRED_PATH_MAX_CAP */
	uint16_t min_paths; /* fewer: no estimate */
	uint16_t n;	    /* paths held, <= cap */
	uint16_t next;	    /* ring position of the next path */
	uint32_t added;	    /* paths pushed in total (wraps) */
	int8_t z[];	    /* [cap][window] */
};

_Static_assert(sizeof(struct pred_paths) <= 16, "pool header");

size_t pred_paths_size(unsigned window, unsigned cap)
{
	return sizeof(struct pred_paths) + (size_t)cap * window;
}

struct pred_paths *pred_paths_new(unsigned window, unsigned cap, unsigned min_paths)
{
	if (window < 1 || window > PRED_MAX_H || cap < 1 || cap > PRED_PATH_MAX_CAP ||
	    min_paths < 1 || min_paths > cap)
		return NULL;
	struct pred_paths *p = calloc(1, pred_paths_size(window, cap));
	if (!p)
		return NULL;
	p->window = (uint16_t)window;
	p->cap = (uint16_t)cap;
	p->min_paths = (uint16_t)min_paths;
	return p;
}

void pred_paths_free(struct pred_paths *p)
{
	free(p);
}

void pred_path_asm_init(struct pred_path_asm *a)
{
	memset(a->z, (unsigned char)MISSING, sizeof(a->z));
}

static int8_t quantise(float z)
{
	double q = round((double)z * PRED_PATH_ZSCALE);
	if (q > 127.0)
		q = 127.0;
	if (q < -127.0)
		q = -127.0;
	return (int8_t)q;
}

bool pred_path_asm_add(struct pred_path_asm *a, unsigned window, uint64_t tick,
		       const float z[PRED_MAX_H], int8_t ret_path[PRED_MAX_H])
{
	if (window < 1 || window > PRED_MAX_H)
		return false;
	for (unsigned h = 1; h <= window && h <= tick + 1; h++) {
		uint64_t origin = tick + 1 - h;
		a->z[origin % PRED_MAX_H][h - 1] =
		    isfinite(z[h - 1]) ? quantise(z[h - 1]) : MISSING;
	}
	if (tick + 1 < window)
		return false;
	int8_t *row = a->z[(tick + 1 - window) % PRED_MAX_H];
	bool complete = true;
	for (unsigned h = 0; h < window; h++)
		complete = complete && row[h] != MISSING;
	if (complete)
		memcpy(ret_path, row, window);
	/* The slot is reused by a later origin: start it empty. */
	memset(row, (unsigned char)MISSING, PRED_MAX_H);
	return complete;
}

void pred_paths_push(struct pred_paths *p, const int8_t path[PRED_MAX_H])
{
	memcpy(p->z + (size_t)p->next * p->window, path, p->window);
	p->next = (uint16_t)((p->next + 1) % p->cap);
	if (p->n < p->cap)
		p->n++;
	p->added++;
}

unsigned pred_paths_count(const struct pred_paths *p)
{
	return p->n;
}

uint32_t pred_paths_added(const struct pred_paths *p)
{
	return p->added;
}

double pred_paths_exceed(const struct pred_paths *p, const struct pred_forecast *fc,
			 double capacity)
{
	unsigned W = p->window;
	if (p->n < p->min_paths || W > fc->horizon)
		return -1.0;
	if (capacity < 0.0)
		return 1.0;
	/* y > C  <=>  x > log1p(floor(C) + 0.5), as pred_count_exceed(); in
	 * quantised units: q_h > (xc - F_h) / sigma_h * ZSCALE. */
	double xc = log1p(floor(capacity) + 0.5);
	double need[PRED_MAX_H];
	for (unsigned h = 0; h < W; h++) {
		double sg = fc->scale[h] >= PRED_SIGMA_MIN ? fc->scale[h] : PRED_SIGMA_MIN;
		need[h] = (xc - fc->loc[h]) / sg * PRED_PATH_ZSCALE;
	}
	unsigned over = 0;
	for (unsigned i = 0; i < p->n; i++) {
		const int8_t *z = p->z + (size_t)i * W;
		bool hit = false;
		for (unsigned h = 0; h < W; h++)
			hit = hit || (double)z[h] > need[h];
		over += hit;
	}
	return (double)over / p->n;
}
