/* Per-file forecast: point, intervals, window exceedance. See forecast.h. */
#include "predictor/forecast.h"

#include <errno.h>
#include <math.h>

void pred_forecast_req_default(struct pred_forecast_req *r)
{
	r->horizon = 6;
	r->window = 6;
	r->capacity = -1.0;
	r->nlevels = 2;
	r->levels[0] = 0.8;
	r->levels[1] = 0.95;
	r->levels[2] = r->levels[3] = 0.0;
	r->dependence = 0.0;
	r->bucket = 0;
	r->profile = NULL;
}

static int req_check(const struct pred_forecast_req *r)
{
	if (r->horizon < 1 || r->horizon > PRED_MAX_H || r->window < 1 || r->window > r->horizon ||
	    r->nlevels > PRED_MAX_LEVELS || !(r->dependence >= 0.0 && r->dependence <= 1.0) ||
	    isnan(r->capacity))
		return -EINVAL;
	for (unsigned i = 0; i < r->nlevels; i++)
		if (!(r->levels[i] > 0.0 && r->levels[i] < 1.0))
			return -EINVAL;
	return 0;
}

int pred_forecast_compute(const struct pred_model *m, const struct pred_calib *calib,
			  const struct pred_forecast_req *req, struct pred_forecast *ret)
{
	if (!m || !req || !ret || req_check(req))
		return -EINVAL;
	double cap = log(PRED_CAP_MULT) + m->xmax + log1p(PRED_CAP_MULT);
	bool sparse = m->season == 0 || m->n < 2u * m->season;
	double none = 1.0, pmax = 0.0;
	ret->horizon = req->horizon;
	for (unsigned h = 1; h <= req->horizon; h++) {
		double f = pred_model_point_log(m, h);
		if (sparse && req->profile)
			f += pred_profile_shape(req->profile, req->bucket + h - 1);
		if (f < 0.0)
			f = 0.0;
		double sg = m->sigma[h - 1];
		if (!(sg > 0.0)) /* no residual yet: borrow the nearest */
			for (unsigned k = h - 1; k-- > 0 && !(sg > 0.0);)
				sg = m->sigma[k];
		ret->loc[h - 1] = f;
		ret->scale[h - 1] = sg;
		/* Point = calibrated median (MASE-optimal), not expm1(f);
		 * counts are integers, so is their median. */
		ret->point[h - 1] = round(pred_count_quantile(calib, h, f, sg, 0.5, cap));
		for (unsigned l = 0; l < req->nlevels; l++) {
			double a = (1.0 - req->levels[l]) / 2.0;
			ret->lo[l][h - 1] = pred_count_quantile(calib, h, f, sg, a, cap);
			ret->hi[l][h - 1] = pred_count_quantile(calib, h, f, sg, 1.0 - a, cap);
		}
		double p =
		    req->capacity < 0.0 ? 0.0 : pred_count_exceed(calib, h, f, sg, req->capacity);
		ret->p_step[h - 1] = p;
		if (h <= req->window) {
			none *= 1.0 - p;
			if (p > pmax)
				pmax = p;
		}
	}
	double indep = 1.0 - none;
	ret->p_dep = pmax;
	ret->p_indep = indep;
	ret->p_exceed = req->dependence * pmax + (1.0 - req->dependence) * indep;
	return 0;
}
