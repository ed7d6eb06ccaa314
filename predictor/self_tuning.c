/* Self-tuning of the trigger threshold and of the window-probability
 * dependence from logged decisions and outcomes. See self_tuning.h. */
#include "predictor/self_tuning.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define NBINS 100
#define NDEP 5
#define TRAJ_MAX 64

static const double dep_grid[NDEP] = {0.0, 0.25, 0.5, 0.75, 1.0};

struct pending {
	uint64_t origin;
	float p_dep, p_indep;
	bool decision, overload;
};

struct pred_tuner {
	struct pred_tuner_config c;
	double threshold;
	int d;			 /* index in dep_grid */
	double pos[NDEP][NBINS]; /* forgetting outcome mass by p bin */
	double neg[NDEP][NBINS];
	double inc;	   /* weight of the next outcome */
	double target;	   /* cost-optimal threshold, < 0: none */
	struct pending *q; /* ring */
	size_t qcap, qhead, qlen;
	struct pred_tuner_stats st;
	/* trajectory: threshold after every traj_every resolutions */
	double traj[TRAJ_MAX];
	uint64_t traj_at[TRAJ_MAX];
	size_t ntraj;
	uint64_t traj_every;
};

void pred_tuner_config_default(struct pred_tuner_config *c)
{
	c->threshold = 0.8;
	c->min = 0.05;
	c->max = 0.99;
	c->w_miss = 4.0;
	c->w_false = 1.0;
	c->decay = 5e-5;
	c->step = 0.002;
	c->window = 6;
	c->dependence = 0.0;
	c->tune_dependence = true;
	c->min_record = 200;
}

static int dep_index(double d)
{
	for (int i = 0; i < NDEP; i++)
		if (fabs(d - dep_grid[i]) < 1e-9)
			return i;
	return -1;
}

struct pred_tuner *pred_tuner_new(const struct pred_tuner_config *c)
{
	if (!c ||
	    !(c->min > 0.0 && c->min <= c->threshold && c->threshold <= c->max && c->max <= 1.0) ||
	    !(c->w_miss > 0.0) || !(c->w_false > 0.0) || !(c->decay >= 0.0 && c->decay < 1.0) ||
	    !(c->step > 0.0) || c->window < 1 || dep_index(c->dependence) < 0)
		return NULL;
	struct pred_tuner *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->c = *c;
	t->threshold = c->threshold;
	t->d = dep_index(c->dependence);
	t->traj_every = 1;
	t->inc = 1.0;
	t->target = -1.0;
	return t;
}

void pred_tuner_free(struct pred_tuner *t)
{
	if (!t)
		return;
	free(t->q);
	free(t);
}

double pred_tuner_threshold(const struct pred_tuner *t)
{
	return t->threshold;
}

double pred_tuner_dependence(const struct pred_tuner *t)
{
	return dep_grid[t->d];
}

static double mix(int d, double p_dep, double p_indep)
{
	return dep_grid[d] * p_dep + (1.0 - dep_grid[d]) * p_indep;
}

double pred_tuner_prob(const struct pred_tuner *t, double p_dep, double p_indep)
{
	return mix(t->d, p_dep, p_indep);
}

bool pred_tuner_decide(const struct pred_tuner *t, double p_dep, double p_indep)
{
	return mix(t->d, p_dep, p_indep) >= t->threshold;
}

static int bin_of(double p)
{
	int b = (int)(p * NBINS);
	return b < 0 ? 0 : (b >= NBINS ? NBINS - 1 : b);
}

/* Cost of every threshold (bin lower edges 0..NBINS) for dependence d;
 * returns the minimum. */
static double cost_curve(const struct pred_tuner *t, int d, double cost[NBINS + 1])
{
	double neg_above = 0.0;
	for (int b = 0; b < NBINS; b++)
		neg_above += t->neg[d][b];
	double pos_below = 0.0, best = INFINITY;
	for (int b = 0; b <= NBINS; b++) {
		cost[b] = t->c.w_miss * pos_below + t->c.w_false * neg_above;
		if (cost[b] < best)
			best = cost[b];
		if (b < NBINS) {
			pos_below += t->pos[d][b];
			neg_above -= t->neg[d][b];
		}
	}
	return best;
}

/* Among thresholds within 0.5% of the minimum cost, the nearest to `cur`. */
static double settle(const double cost[NBINS + 1], double best, double cur)
{
	double bestd = INFINITY;
	int bestb = 0;
	for (int b = 0; b <= NBINS; b++) {
		if (cost[b] > best * 1.005)
			continue;
		double dd = fabs(b - cur * NBINS);
		if (dd < bestd) {
			bestd = dd;
			bestb = b;
		}
	}
	return (double)bestb / NBINS;
}

/* Re-evaluates the dependence and the target threshold (O(NDEP * bins)). */
static void retune(struct pred_tuner *t)
{
	double cost[NBINS + 1];
	double cur_best = cost_curve(t, t->d, cost);
	/* A model parameter changes only on a long record (10x min_record). */
	if (t->c.tune_dependence && t->st.resolved >= 10ull * t->c.min_record) {
		int bd = t->d;
		double bc = cur_best;
		for (int d = 0; d < NDEP; d++) {
			double other[NBINS + 1];
			if (d == t->d)
				continue;
			double c = cost_curve(t, d, other);
			if (c < bc * 0.95) {
				bd = d;
				bc = c;
			}
		}
		if (bd != t->d) {
			t->d = bd;
			t->st.dependence_switches++;
			cur_best = cost_curve(t, bd, cost);
			t->target = settle(cost, cur_best, t->threshold);
			t->threshold = t->target; /* p changed scale: jump */
			return;
		}
	}
	t->target = settle(cost, cur_best, t->threshold);
}

static void keep_trajectory(struct pred_tuner *t)
{
	if (t->st.resolved % t->traj_every)
		return;
	if (t->ntraj == TRAJ_MAX) { /* halve the resolution */
		for (size_t i = 0; i < TRAJ_MAX / 2; i++) {
			t->traj[i] = t->traj[2 * i + 1];
			t->traj_at[i] = t->traj_at[2 * i + 1];
		}
		t->ntraj = TRAJ_MAX / 2;
		t->traj_every *= 2;
		if (t->st.resolved % t->traj_every)
			return;
	}
	t->traj[t->ntraj] = t->threshold;
	t->traj_at[t->ntraj] = t->st.resolved;
	t->ntraj++;
}

static void resolve(struct pred_tuner *t, double p_dep, double p_indep, bool decision,
		    bool overload)
{
	if (decision && overload)
		t->st.tp++;
	else if (decision)
		t->st.fp++;
	else if (overload)
		t->st.fn++;
	else
		t->st.tn++;
	t->st.utility -=
	    (decision && !overload) * t->c.w_false + (!decision && overload) * t->c.w_miss;
	t->st.resolved++;
	/* Forgetting in O(1): newer outcomes weigh more; rescale rarely. */
	if (t->c.decay > 0.0) {
		t->inc /= 1.0 - t->c.decay;
		if (t->inc > 1e150) {
			for (int d = 0; d < NDEP; d++)
				for (int b = 0; b < NBINS; b++) {
					t->pos[d][b] /= t->inc;
					t->neg[d][b] /= t->inc;
				}
			t->inc = 1.0;
		}
	}
	for (int d = 0; d < NDEP; d++) {
		int b = bin_of(mix(d, p_dep, p_indep));
		if (overload)
			t->pos[d][b] += t->inc;
		else
			t->neg[d][b] += t->inc;
	}
	if (t->st.resolved >= t->c.min_record) {
		/* The targets are refreshed every 16 outcomes. */
		if (t->st.resolved % 16 == 0 || t->target < 0.0)
			retune(t);
		double d = t->target - t->threshold;
		if (d > t->c.step)
			d = t->c.step;
		if (d < -t->c.step)
			d = -t->c.step;
		t->threshold += d;
		if (t->threshold < t->c.min)
			t->threshold = t->c.min;
		if (t->threshold > t->c.max)
			t->threshold = t->c.max;
	}
	keep_trajectory(t);
}

static bool valid_p(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN */
}

void pred_tuner_resolve(struct pred_tuner *t, double p_dep, double p_indep, bool overload)
{
	if (!t || !valid_p(p_dep) || !valid_p(p_indep))
		return;
	resolve(t, p_dep, p_indep, pred_tuner_decide(t, p_dep, p_indep), overload);
}

int pred_tuner_record(struct pred_tuner *t, uint64_t origin, double p_dep, double p_indep,
		      bool overload)
{
	if (!t || !valid_p(p_dep) || !valid_p(p_indep))
		return -EINVAL;
	if (t->qlen == t->qcap) {
		size_t nc = t->qcap ? t->qcap * 2 : 1024;
		struct pending *nq = malloc(nc * sizeof(*nq));
		if (!nq)
			return -ENOMEM;
		for (size_t i = 0; i < t->qlen; i++)
			nq[i] = t->q[(t->qhead + i) % t->qcap];
		free(t->q);
		t->q = nq;
		t->qcap = nc;
		t->qhead = 0;
	}
	t->q[(t->qhead + t->qlen) % t->qcap] = (struct pending){
	    origin, (float)p_dep, (float)p_indep, pred_tuner_decide(t, p_dep, p_indep), overload};
	t->qlen++;
	return 0;
}

void pred_tuner_advance(struct pred_tuner *t, uint64_t now)
{
	while (t->qlen) {
		struct pending *e = &t->q[t->qhead];
		if (e->origin + t->c.window > now)
			break;
		resolve(t, e->p_dep, e->p_indep, e->decision, e->overload);
		t->qhead = (t->qhead + 1) % t->qcap;
		t->qlen--;
	}
}

void pred_tuner_stats(const struct pred_tuner *t, struct pred_tuner_stats *ret)
{
	*ret = t->st;
}

void pred_tuner_report(const struct pred_tuner *t, FILE *out)
{
	const struct pred_tuner_stats *s = &t->st;
	fprintf(out,
		"self-tuning: %llu decisions resolved (tp %llu fp %llu fn %llu "
		"tn %llu), utility %.0f (w_miss %.1f, w_false %.1f), "
		"threshold %.3f -> %.3f, dependence %.2f -> %.2f (%u switches)\n",
		(unsigned long long)s->resolved, (unsigned long long)s->tp,
		(unsigned long long)s->fp, (unsigned long long)s->fn, (unsigned long long)s->tn,
		s->utility, t->c.w_miss, t->c.w_false, t->c.threshold, t->threshold,
		t->c.dependence, dep_grid[t->d], s->dependence_switches);
	fprintf(out, "threshold trajectory (decisions:threshold):");
	size_t stride = t->ntraj > 16 ? t->ntraj / 16 : 1;
	for (size_t i = 0; i < t->ntraj; i += stride)
		fprintf(out, " %llu:%.2f", (unsigned long long)t->traj_at[i], t->traj[i]);
	fprintf(out, "\n");
}
