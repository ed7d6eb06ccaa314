/* Mount-wide seasonal profile for sparse files. See global_profile.h. */
#include "predictor/global_profile.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct pred_profile {
	unsigned season;
	unsigned seen; /* slots seen at least once */
	double rate;
	double sum;	    /* sum of val[] over seen slots */
	unsigned char *hit; /* [season] slot seen */
	double *val;	    /* [season] EW mean of log1p(total) */
};

struct pred_profile *pred_profile_new(unsigned season, double rate)
{
	if (season < 2 || season > PRED_PROFILE_MAX_SEASON || !(rate > 0.0) || rate > 1.0)
		return NULL;
	struct pred_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->val = calloc(season, sizeof(*p->val));
	p->hit = calloc(season, 1);
	if (!p->val || !p->hit) {
		pred_profile_free(p);
		return NULL;
	}
	p->season = season;
	p->rate = rate;
	return p;
}

void pred_profile_free(struct pred_profile *p)
{
	if (!p)
		return;
	free(p->val);
	free(p->hit);
	free(p);
}

int pred_profile_add(struct pred_profile *p, uint64_t bucket, double total)
{
	if (!p || !isfinite(total) || total < 0.0)
		return -EINVAL;
	unsigned s = (unsigned)(bucket % p->season);
	double x = log1p(total);
	if (!p->hit[s]) {
		p->hit[s] = 1;
		p->seen++;
		p->val[s] = x;
		p->sum += x;
	} else {
		double old = p->val[s];
		p->val[s] = old + p->rate * (x - old);
		p->sum += p->val[s] - old;
	}
	return 0;
}

double pred_profile_shape(const struct pred_profile *p, uint64_t bucket)
{
	if (!p || p->seen < p->season)
		return 0.0;
	double mean = p->sum / p->season; /* sum kept up to date: O(1) */
	return p->val[bucket % p->season] - mean;
}
