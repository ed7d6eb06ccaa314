/* Empirically calibrated log-scale predictive distribution. See
 * distribution.h. */
#include "predictor/distribution.h"

#include <math.h>
#include <stdlib.h>

#define BIN_W (2.0 * PRED_CALIB_ZMAX / PRED_CALIB_BINS)

struct pred_calib *pred_calib_new(double decay)
{
	if (!(decay >= 0.0 && decay < 1.0))
		return NULL;
	struct pred_calib *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->decay = decay;
	c->dirty = true;
	for (unsigned h = 0; h < PRED_MAX_H; h++)
		c->inc[h] = 1.0;
	return c;
}

void pred_calib_free(struct pred_calib *c)
{
	free(c);
}

void pred_calib_add(struct pred_calib *c, const float z[PRED_MAX_H])
{
	for (unsigned h = 0; h < PRED_MAX_H; h++) {
		if (!isfinite(z[h]))
			continue;
		double v = z[h];
		if (v < -PRED_CALIB_ZMAX)
			v = -PRED_CALIB_ZMAX;
		if (v > PRED_CALIB_ZMAX)
			v = PRED_CALIB_ZMAX;
		int b = (int)((v + PRED_CALIB_ZMAX) / BIN_W);
		if (b >= PRED_CALIB_BINS)
			b = PRED_CALIB_BINS - 1;
		/* Exponential forgetting in O(1): instead of shrinking every
		 * bin, each new residual weighs 1/(1-decay) times the last;
		 * rescale all bins once the weights grow large. */
		if (c->decay > 0.0) {
			c->inc[h] /= 1.0 - c->decay;
			if (c->inc[h] > 1e150) {
				for (int i = 0; i < PRED_CALIB_BINS; i++)
					c->bins[h][i] /= c->inc[h];
				c->mass[h] /= c->inc[h];
				c->inc[h] = 1.0;
			}
		}
		c->bins[h][b] += c->inc[h];
		c->mass[h] += c->inc[h];
		c->count[h] += 1.0;
		c->dirty = true;
	}
}

void pred_calib_refresh(struct pred_calib *c)
{
	for (unsigned h = 0; h < PRED_MAX_H; h++) {
		double s = 0.0;
		c->cum[h][0] = 0.0;
		for (int i = 0; i < PRED_CALIB_BINS; i++) {
			s += c->bins[h][i];
			c->cum[h][i + 1] = s;
		}
	}
	c->dirty = false;
}

double pred_laplace_quantile(double q)
{
	if (q < 0.5)
		return log(2.0 * q);
	return -log(2.0 * (1.0 - q));
}

static double laplace_cdf(double z)
{
	return z < 0 ? 0.5 * exp(z) : 1.0 - 0.5 * exp(-z);
}

/* Enough residuals in horizon h to trust the histogram. */
static bool usable(const struct pred_calib *c, unsigned h)
{
	return c && h >= 1 && h <= PRED_MAX_H && c->count[h - 1] >= 50.0 && !c->dirty;
}

double pred_calib_quantile(const struct pred_calib *c, unsigned h, double q)
{
	if (q <= 0.0)
		q = 1e-9;
	if (q >= 1.0)
		q = 1.0 - 1e-9;
	if (!usable(c, h))
		return pred_laplace_quantile(q);
	const double *cum = c->cum[h - 1];
	double target = q * cum[PRED_CALIB_BINS];
	int lo = 0, hi = PRED_CALIB_BINS; /* cum[lo] <= target <= cum[hi] */
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		if (cum[mid] < target)
			lo = mid;
		else
			hi = mid;
	}
	double span = cum[hi] - cum[lo];
	double frac = span > 0 ? (target - cum[lo]) / span : 0.5;
	return -PRED_CALIB_ZMAX + (lo + frac) * BIN_W;
}

double pred_calib_cdf(const struct pred_calib *c, unsigned h, double z)
{
	if (!usable(c, h))
		return laplace_cdf(z);
	if (z <= -PRED_CALIB_ZMAX)
		return 0.0;
	if (z >= PRED_CALIB_ZMAX)
		return 1.0;
	const double *cum = c->cum[h - 1];
	double pos = (z + PRED_CALIB_ZMAX) / BIN_W;
	int b = (int)pos;
	if (b >= PRED_CALIB_BINS)
		b = PRED_CALIB_BINS - 1;
	double v = cum[b] + (pos - b) * (cum[b + 1] - cum[b]);
	return v / cum[PRED_CALIB_BINS];
}

double pred_count_quantile(const struct pred_calib *c, unsigned h, double f, double sigma, double q,
			   double cap_log)
{
	if (!(sigma >= PRED_SIGMA_MIN))
		sigma = PRED_SIGMA_MIN;
	double x = f + sigma * pred_calib_quantile(c, h, q);
	if (x > cap_log)
		x = cap_log;
	if (x < 0.0)
		return 0.0;
	double y = expm1(x);
	return q < 0.5 ? floor(y) : (q > 0.5 ? ceil(y) : y);
}

double pred_count_exceed(const struct pred_calib *c, unsigned h, double f, double sigma,
			 double capacity)
{
	if (!(sigma >= PRED_SIGMA_MIN))
		sigma = PRED_SIGMA_MIN;
	if (capacity < 0.0)
		return 1.0;
	/* y > C  <=>  x > log1p(C) (y integer: y >= floor(C)+1). */
	double xc = log1p(floor(capacity) + 0.5);
	return 1.0 - pred_calib_cdf(c, h, (xc - f) / sigma);
}
