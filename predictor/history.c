/* A file's model from its recorded history: fit, then replay (history.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor/history.h"

int pred_model_from_history(struct pred_model *m, unsigned season, unsigned horizon,
			    const double *y, size_t n, struct pred_calib *calib)
{
	if (!m || (n && !y))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]) || y[i] < 0.0)
			return -EINVAL;
	struct pred_params p;
	pred_params_default(&p);
	int rc = pred_model_init(m, &p, season, horizon);
	if (rc)
		return rc;
	rc = pred_model_fit(m, y, n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		float z[PRED_MAX_H];
		rc = pred_model_update_resid(m, y[i], z);
		if (rc)
			return rc;
		if (calib)
			pred_calib_add(calib, z);
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double pred_history_quantile(const double *y, size_t n, double q)
{
	if (n == 0)
		return 0.0;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, y, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	q = q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
	double pos = q * (double)(n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo, v = s[lo];
	if (lo + 1 < n)
		v += frac * (s[lo + 1] - s[lo]);
	free(s);
	return v;
}
