/* Per-file online model: ETS(A,Ad,A) on log1p counts blended with seasonal
 * naive, parameters chosen per file by grid search. See model.h. */
#include "predictor/model.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

void pred_params_default(struct pred_params *p)
{
	p->alpha = 0.2f;
	p->beta = 0.02f;
	p->gamma = 0.1f;
	p->phi = 0.95f;
	p->w = 0.5f;
	p->delta = 0.0f;
	p->lambda = 0.03f;
}

static int in01(float v)
{
	return isfinite(v) && v >= 0.0f && v <= 1.0f;
}

int pred_params_check(const struct pred_params *p)
{
	if (!p || !in01(p->alpha) || p->alpha <= 0.0f || !in01(p->beta) || !in01(p->gamma) ||
	    !in01(p->phi) || !in01(p->w) || !in01(p->delta) || !in01(p->lambda) ||
	    p->lambda <= 0.0f)
		return -EINVAL;
	return 0;
}

int pred_model_init(struct pred_model *m, const struct pred_params *p, unsigned season,
		    unsigned horizon)
{
	if (!m || pred_params_check(p) || season > PRED_MAX_SEASON || season == 1 || horizon < 1 ||
	    horizon > PRED_MAX_H)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->p = *p;
	m->season = (uint16_t)season;
	m->horizon = (uint16_t)horizon;
	for (unsigned i = 0; i < PRED_MAX_H; i++)
		for (unsigned j = 0; j < PRED_MAX_H; j++)
			m->pend[i][j] = NAN;
	return 0;
}

static double cap_log(const struct pred_model *m)
{
	/* log1p(PRED_CAP_MULT * max) without overflow; at least log1p(4). */
	double xm = m->xmax > 0.0f ? m->xmax : 0.0;
	return log(PRED_CAP_MULT) + xm + log1p(PRED_CAP_MULT);
}

unsigned pred_model_slot(const struct pred_model *m, unsigned h)
{
	if (m->season == 0)
		return 0;
	return (m->pos + h - 1) % m->season;
}

/* The two components of the h-step forecast, log scale. */
static void components(const struct pred_model *m, unsigned h, double *ets, double *sn)
{
	double l = m->level, b = m->trend, phi = m->p.phi, damp = 0.0, pw = 1.0;
	for (unsigned i = 0; i < h; i++) {
		pw *= phi;
		damp += pw;
	}
	unsigned m_ = m->season;
	if (m_ == 0) {
		*ets = l + damp * b;
		*sn = *ets;
		return;
	}
	unsigned slot = (m->pos + h - 1) % m_;
	if (m->n < m_) { /* first season: only a running mean */
		*ets = l;
		*sn = l;
		return;
	}
	*ets = l + damp * b;
	if (!(m->flags & PRED_F_NOSEAS))
		*ets += m->seas[slot] + m->week[((m->n + h - 1) / m_) % 7];
	*sn = h <= m_ ? m->hist[slot] : *ets;
}

static double clampf(double v, double lo, double hi)
{
	return v < lo ? lo : (v > hi ? hi : v);
}

double pred_model_point_log(const struct pred_model *m, unsigned h)
{
	if (h < 1)
		h = 1;
	if (h > PRED_MAX_H)
		h = PRED_MAX_H;
	double ets, sn;
	components(m, h, &ets, &sn);
	double w = m->p.w;
	return clampf(w * ets + (1.0 - w) * sn, 0.0, cap_log(m));
}

/* One ETS step on x (log scale); no residual bookkeeping. */
static void absorb(struct pred_model *m, double x)
{
	unsigned s = m->season;
	if (s == 0) {
		if (m->n == 0) {
			m->level = (float)x;
		} else {
			double f = m->level + m->p.phi * m->trend;
			double e = x - f;
			m->level = (float)(f + m->p.alpha * e);
			m->trend = (float)(m->p.phi * m->trend + m->p.alpha * m->p.beta * e);
		}
	} else if (m->n < s) {
		/* First season: running mean, remember the values. */
		m->level = (float)((m->level * m->n + x) / (m->n + 1));
		m->hist[m->pos] = (float)x;
		if (m->n + 1 == s) {
			for (unsigned i = 0; i < s; i++)
				m->seas[i] = m->hist[i] - m->level;
		}
	} else {
		unsigned p = m->pos;
		bool ns = m->flags & PRED_F_NOSEAS;
		unsigned d = (m->n / s) % 7;
		double f = m->level + m->p.phi * m->trend + (ns ? 0.0 : m->seas[p] + m->week[d]);
		double e = x - f;
		double nl = m->level + m->p.phi * m->trend + m->p.alpha * e;
		m->trend = (float)(m->p.phi * m->trend + m->p.alpha * m->p.beta * e);
		m->level = (float)nl;
		if (!ns) {
			m->seas[p] = (float)(m->seas[p] + m->p.gamma * e);
			m->week[d] = (float)(m->week[d] + m->p.delta * e);
		}
		m->hist[p] = (float)x;
	}
	if (x > m->xmax)
		m->xmax = (float)x;
	m->n++;
	if (s)
		m->pos = (uint16_t)((m->pos + 1) % s);
}

int pred_model_update(struct pred_model *m, double count)
{
	return pred_model_update_resid(m, count, NULL);
}

int pred_model_update_resid(struct pred_model *m, double count, float ret_z[PRED_MAX_H])
{
	if (!m || !isfinite(count) || count < 0.0)
		return -EINVAL;
	if (count > PRED_MAX_COUNT)
		count = PRED_MAX_COUNT;
	double x = log1p(count);
	unsigned H = m->horizon;
	float *row = m->pend[m->n % PRED_MAX_H];
	for (unsigned h = 0; h < PRED_MAX_H; h++) {
		if (ret_z)
			ret_z[h] = NAN;
		if (h >= H || isnan(row[h]))
			continue;
		double r = x - row[h];
		double sg = m->sigma[h];
		if (ret_z && sg > 0.0)
			ret_z[h] = (float)(r / sg);
		/* Running mean for the first 1/lambda residuals, then EW. */
		double k = (double)m->n - m->season;
		double lam = k > 0 ? 1.0 / k : 1.0;
		if (lam < m->p.lambda)
			lam = m->p.lambda;
		m->sigma[h] = (float)(sg + lam * (fabs(r) - sg));
		row[h] = NAN;
	}
	absorb(m, x);
	/* Forecasts made at this origin, for residuals when the targets come. */
	if (m->season == 0 || m->n >= m->season) {
		for (unsigned h = 1; h <= H; h++)
			m->pend[(m->n + h - 1) % PRED_MAX_H][h - 1] =
			    (float)pred_model_point_log(m, h);
	}
	return 0;
}

/* ---- fitting ---------------------------------------------------------- */

static const float grid_alpha[] = {0.05f, 0.1f, 0.2f, 0.35f, 0.5f, 0.7f, 0.9f, 1.0f};
static const float grid_beta[] = {0.0f, 0.05f};
static const float grid_gamma[] = {0.05f, 0.15f, 0.3f};
static const float grid_phi[] = {0.8f, 0.95f};
static const float grid_w[] = {0.0f, 0.25f, 0.5f, 0.75f, 1.0f};
#define NW (sizeof(grid_w) / sizeof(grid_w[0]))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Raw-scale absolute h-step errors of one parameter set, per blend weight. */
static void fit_cost(const struct pred_model *proto, const double *y, size_t n, size_t warm,
		     double cost[NW])
{
	struct pred_model m = *proto;
	for (size_t k = 0; k < NW; k++)
		cost[k] = 0.0;
	for (size_t t = 0; t < n; t++) {
		if (t >= warm) {
			double cap = cap_log(&m);
			for (unsigned h = 1; h <= m.horizon && t + h - 1 < n; h++) {
				double ets, sn;
				components(&m, h, &ets, &sn);
				double a = y[t + h - 1];
				for (size_t k = 0; k < NW; k++) {
					double f = grid_w[k] * ets + (1.0 - grid_w[k]) * sn;
					f = expm1(clampf(f, 0.0, cap));
					cost[k] += fabs(a - f);
				}
			}
		}
		double c = y[t] > PRED_MAX_COUNT ? PRED_MAX_COUNT : y[t];
		absorb(&m, log1p(c));
	}
}

int pred_model_fit(struct pred_model *m, const double *y, size_t n)
{
	if (!m || (!y && n))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]) || y[i] < 0.0)
			return -EINVAL;
	struct pred_params best = m->p;
	uint16_t best_flags = 0;
	unsigned s = m->season, H = m->horizon;
	size_t warm = (size_t)2 * s + 1;
	if (s == 0)
		warm = 8;
	if (n / 3 > warm) /* judge on the steady state, not the start-up */
		warm = n / 3;
	size_t nonzero = 0;
	for (size_t i = 0; i < n; i++)
		nonzero += y[i] > 0.0;
	/* Sparse files keep the defaults (and borrow the global profile):
	 * a search over a handful of events would fit noise. */
	if (n >= warm + H && nonzero >= PRED_FIT_MIN_EVENTS) {
		double best_cost = INFINITY;
		struct pred_model proto;
		for (int ns = 0; ns < (s ? 2 : 1); ns++)
			for (size_t a = 0; a < ARRAY_LEN(grid_alpha); a++)
				for (size_t b = 0; b < ARRAY_LEN(grid_beta); b++)
					for (size_t g = 0;
					     g < (s && !ns ? ARRAY_LEN(grid_gamma) : 1); g++)
						for (size_t f = 0; f < ARRAY_LEN(grid_phi); f++) {
							struct pred_params p = m->p;
							p.alpha = grid_alpha[a];
							p.beta = grid_beta[b];
							p.gamma = grid_gamma[g];
							p.phi = grid_phi[f];
							p.w = 1.0f;
							p.delta = ns ? 0.0f : 0.02f;
							pred_model_init(&proto, &p, s, H);
							proto.flags = ns ? PRED_F_NOSEAS : 0;
							double cost[NW];
							fit_cost(&proto, y, n, warm, cost);
							for (size_t k = 0; k < NW; k++) {
								if (!s && k + 1 < NW)
									continue;
								if (cost[k] < best_cost) {
									best_cost = cost[k];
									best = p;
									best.w = grid_w[k];
									best_flags = proto.flags;
								}
							}
						}
	}
	int rc = pred_model_init(m, &best, s, H);
	if (!rc)
		m->flags = best_flags;
	return rc;
}
