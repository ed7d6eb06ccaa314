/* Window exceedance probability as an online logistic classifier over
 * features of the past. See exceedance.h. */
#include "predictor/exceedance.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SINCE_MAX 100000u
#define EWMA_ALPHA 0.1
#define PHASE_ALPHA 0.3
#define LOGIT_CLAMP 9.2 /* p in [1e-4, 1 - 1e-4] */
#define MARGIN_CLAMP 4.0

struct pending {
	uint64_t origin;
	float x[PRED_EXC_NF];
	bool overload;
};

struct pred_exc {
	struct pred_exc_config c;
	double w[2][PRED_EXC_NF];  /* [regime]: quiet, active */
	double g2[2][PRED_EXC_NF]; /* AdaGrad: sum of squared gradients */
	uint64_t learned;
	struct pending *q; /* ring, oldest at qhead */
	size_t qcap, qhead, qlen;
};

static double clampd(double v, double lo, double hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

int pred_exc_file_init(struct pred_exc_file *f, unsigned season)
{
	if (!f || season > PRED_MAX_SEASON)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->season = (uint16_t)season;
	f->since = SINCE_MAX;
	return 0;
}

int pred_exc_file_update(struct pred_exc_file *f, double count, double capacity)
{
	if (!f || !isfinite(count) || count < 0.0 || isnan(capacity))
		return -EINVAL;
	if (count > PRED_MAX_COUNT)
		count = PRED_MAX_COUNT;
	double x = log1p(count);
	bool over = capacity >= 0.0 && count > capacity;
	f->recent[f->n % PRED_MAX_H] = (float)x;
	f->ewma = f->n == 0 ? (float)x : (float)(f->ewma + EWMA_ALPHA * (x - f->ewma));
	f->since = over ? 0 : (f->since < SINCE_MAX ? f->since + 1 : SINCE_MAX);
	if (f->season) {
		unsigned s = f->n % f->season;
		double r = f->phase[s] / 255.0;
		r += PHASE_ALPHA * ((over ? 1.0 : 0.0) - r);
		f->phase[s] = (uint8_t)lround(clampd(r, 0.0, 1.0) * 255.0);
	}
	f->n++;
	return 0;
}

static float logit4(double p)
{
	p = clampd(p, 1e-4, 1.0 - 1e-4);
	return (float)(clampd(log(p / (1.0 - p)), -LOGIT_CLAMP, LOGIT_CLAMP) / 4.0);
}

static float margin(double x, double xc)
{
	return (float)clampd(x - xc, -MARGIN_CLAMP, MARGIN_CLAMP);
}

int pred_exc_features(const struct pred_exc_file *f, const struct pred_model *m,
		      const struct pred_forecast *fc, double capacity, unsigned window,
		      float ret_x[PRED_EXC_NF])
{
	if (!f || !m || !fc || !ret_x || window < 1 || window > PRED_MAX_H ||
	    window > fc->horizon || isnan(capacity))
		return -EINVAL;
	/* No capacity: nothing can exceed it; features that say "far below". */
	double xc = capacity >= 0.0 ? log1p(capacity) : log1p(PRED_MAX_COUNT);
	float *x = ret_x;
	x[0] = 1.0f;
	x[1] = logit4(fc->p_indep);
	x[2] = logit4(fc->p_dep);
	/* Seasonal naive: the model's ring holds the last m values of x,
	 * hist[(pos + j) mod m] = x[t - m + j]. */
	double snmax = -INFINITY;
	unsigned ms = m->season;
	if (ms > 0 && m->n >= ms)
		for (unsigned j = 0; j < window; j++) {
			double v = m->hist[(m->pos + j) % ms];
			snmax = v > snmax ? v : snmax;
		}
	if (snmax == -INFINITY)
		snmax = f->ewma; /* no season: the level stands in */
	x[3] = margin(snmax, xc);
	x[4] = snmax > xc ? 1.0f : 0.0f;
	unsigned nr = f->n < PRED_MAX_H ? f->n : PRED_MAX_H;
	unsigned k = window < nr ? window : nr;
	double last = nr ? f->recent[(f->n - 1) % PRED_MAX_H] : 0.0;
	double rmax = 0.0, oldest = last;
	for (unsigned i = 1; i <= k; i++) {
		double v = f->recent[(f->n - i) % PRED_MAX_H];
		rmax = v > rmax ? v : rmax;
		oldest = v;
	}
	x[5] = margin(last, xc);
	x[6] = margin(rmax, xc);
	x[7] = last > xc ? 1.0f : 0.0f;
	double ph = 0.0;
	if (f->season)
		for (unsigned j = 0; j < window; j++) {
			double r = f->phase[(f->n + j) % f->season] / 255.0;
			ph = r > ph ? r : ph;
		}
	x[8] = (float)ph;
	x[9] = f->since >= SINCE_MAX ? 0.0f : (float)exp(-(double)f->since / window);
	x[10] = margin(f->ewma, xc);
	x[11] = (float)clampd(last - oldest, -MARGIN_CLAMP, MARGIN_CLAMP);
	double pmax = 0.0;
	for (unsigned h = 0; h < window; h++)
		pmax = fc->point[h] > pmax ? fc->point[h] : pmax;
	x[12] = margin(log1p(pmax), xc);
	return 0;
}

void pred_exc_config_default(struct pred_exc_config *c)
{
	c->window = 6;
	c->lr = 0.1;
	c->l2 = 1e-4;
}

struct pred_exc *pred_exc_new(const struct pred_exc_config *c)
{
	if (!c || c->window < 1 || c->window > PRED_MAX_H || !(c->lr > 0.0 && c->lr <= 10.0) ||
	    !(c->l2 >= 0.0 && c->l2 < 1.0))
		return NULL;
	struct pred_exc *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->c = *c;
	e->w[0][1] = e->w[1][1] = 4.0; /* prior: p = the model's p_indep */
	return e;
}

void pred_exc_free(struct pred_exc *e)
{
	if (!e)
		return;
	free(e->q);
	free(e);
}

static double dot(const double *w, const float *x)
{
	double s = 0.0;
	for (int i = 0; i < PRED_EXC_NF; i++)
		s += w[i] * x[i];
	return s;
}

/* Active regime: over capacity within the last W buckets (feature 9 is
 * exp(-since / W)). Onsets happen in the quiet one, where the same signals
 * weigh differently. */
static int regime(const float *x)
{
	return x[9] > 0.3678;
}

double pred_exc_prob(const struct pred_exc *e, const float x[PRED_EXC_NF])
{
	double z = clampd(dot(e->w[regime(x)], x), -40.0, 40.0);
	return 1.0 / (1.0 + exp(-z));
}

void pred_exc_learn(struct pred_exc *e, const float x[PRED_EXC_NF], bool overload)
{
	double p = pred_exc_prob(e, x);
	double err = p - (overload ? 1.0 : 0.0);
	double *w = e->w[regime(x)], *g2 = e->g2[regime(x)];
	for (int i = 0; i < PRED_EXC_NF; i++) {
		double g = err * x[i] + (i ? e->c.l2 * w[i] : 0.0);
		g2[i] += g * g;
		if (g2[i] > 0.0)
			w[i] -= e->c.lr * g / sqrt(g2[i] + 1e-8);
	}
	e->learned++;
}

static int grow(struct pred_exc *e)
{
	size_t ncap = e->qcap ? 2 * e->qcap : 256;
	struct pending *nq = malloc(ncap * sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	for (size_t i = 0; i < e->qlen; i++)
		nq[i] = e->q[(e->qhead + i) % e->qcap];
	free(e->q);
	e->q = nq;
	e->qcap = ncap;
	e->qhead = 0;
	return 0;
}

int pred_exc_record(struct pred_exc *e, uint64_t origin, const float x[PRED_EXC_NF], bool overload)
{
	if (!e || !x)
		return -EINVAL;
	for (int i = 0; i < PRED_EXC_NF; i++)
		if (!isfinite(x[i]))
			return -EINVAL;
	if (e->qlen == e->qcap && grow(e))
		return -ENOMEM;
	struct pending *p = &e->q[(e->qhead + e->qlen) % e->qcap];
	p->origin = origin;
	memcpy(p->x, x, sizeof(p->x));
	p->overload = overload;
	e->qlen++;
	return 0;
}

void pred_exc_advance(struct pred_exc *e, uint64_t now)
{
	while (e->qlen) {
		struct pending *p = &e->q[e->qhead];
		if (p->origin + e->c.window > now)
			break;
		pred_exc_learn(e, p->x, p->overload);
		e->qhead = (e->qhead + 1) % e->qcap;
		e->qlen--;
	}
}

void pred_exc_weights(const struct pred_exc *e, double ret_w[PRED_EXC_NF])
{
	memcpy(ret_w, e->w[0], sizeof(e->w[0]));
}

uint64_t pred_exc_learned(const struct pred_exc *e)
{
	return e->learned;
}
