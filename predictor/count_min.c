/* Count-min sketch: see count_min.h. Counters are floats so decay is a
 * multiplication; row i uses hash(key ^ seed_i) mapped to [0, width) by a
 * multiply-shift. */
#include "predictor/count_min.h"

#include <errno.h>
#include <stdlib.h>

struct pred_cms {
	uint32_t width, depth;
	double total;
	uint64_t seeds[32];
	float *cells; /* depth * width, row-major */
};

uint64_t pred_hash64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

int pred_cms_create(uint32_t width, uint32_t depth, uint64_t seed, struct pred_cms **ret)
{
	*ret = NULL;
	if (width == 0 || depth == 0 || depth > 32)
		return -EINVAL;
	struct pred_cms *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cells = calloc((size_t)width * depth, sizeof(float));
	if (!c->cells) {
		free(c);
		return -ENOMEM;
	}
	c->width = width;
	c->depth = depth;
	for (uint32_t i = 0; i < depth; i++)
		c->seeds[i] = pred_hash64(seed + 0x632be59bd9b4e019ULL * (i + 1));
	*ret = c;
	return 0;
}

void pred_cms_destroy(struct pred_cms *c)
{
	if (!c)
		return;
	free(c->cells);
	free(c);
}

static inline float *cell(const struct pred_cms *c, uint32_t row, uint64_t key)
{
	uint64_t h = pred_hash64(key ^ c->seeds[row]);
	uint32_t col = (uint32_t)(((h >> 32) * (uint64_t)c->width) >> 32);
	return &c->cells[(size_t)row * c->width + col];
}

double pred_cms_estimate(const struct pred_cms *c, uint64_t key)
{
	float m = *cell(c, 0, key);
	for (uint32_t i = 1; i < c->depth; i++) {
		float v = *cell(c, i, key);
		if (v < m)
			m = v;
	}
	return m;
}

void pred_cms_raise(struct pred_cms *c, uint64_t key, double v)
{
	for (uint32_t i = 0; i < c->depth; i++) {
		float *p = cell(c, i, key);
		if (*p < (float)v)
			*p = (float)v;
	}
}

double pred_cms_add(struct pred_cms *c, uint64_t key, double w)
{
	if (w <= 0)
		return pred_cms_estimate(c, key);
	double v = pred_cms_estimate(c, key) + w;
	pred_cms_raise(c, key, v);
	c->total += w;
	return v;
}

void pred_cms_decay(struct pred_cms *c, double factor)
{
	size_t n = (size_t)c->width * c->depth;
	for (size_t i = 0; i < n; i++)
		c->cells[i] *= (float)factor;
	c->total *= factor;
}

double pred_cms_total(const struct pred_cms *c) { return c->total; }

uint32_t pred_cms_width(const struct pred_cms *c) { return c->width; }

size_t pred_cms_memory(const struct pred_cms *c)
{
	return sizeof(*c) + (size_t)c->width * c->depth * sizeof(float);
}
