/* CSV trace reader and bucketing for shadow-eval. See eval_trace.h. */
#include "tools/eval_trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct row {
	int64_t ts;
	size_t key;
	double count;
};

/* Open-addressing map key string -> index. */
struct keymap {
	size_t cap, n;
	size_t *slot; /* index+1, 0 = empty */
	char **names;
	size_t names_cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int keymap_grow(struct keymap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024;
	size_t *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		size_t j = hash_str(m->names[i]) & (ncap - 1);
		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = i + 1;
	}
	free(m->slot);
	m->slot = ns;
	m->cap = ncap;
	return 0;
}

static long keymap_get(struct keymap *m, const char *key)
{
	if ((m->n + 1) * 2 > m->cap && keymap_grow(m))
		return -ENOMEM;
	size_t j = hash_str(key) & (m->cap - 1);
	while (m->slot[j]) {
		if (!strcmp(m->names[m->slot[j] - 1], key))
			return (long)(m->slot[j] - 1);
		j = (j + 1) & (m->cap - 1);
	}
	if (m->n == m->names_cap) {
		size_t nc = m->names_cap ? m->names_cap * 2 : 1024;
		char **nn = realloc(m->names, nc * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		m->names = nn;
		m->names_cap = nc;
	}
	char *dup = strdup(key);
	if (!dup)
		return -ENOMEM;
	m->names[m->n] = dup;
	m->slot[j] = m->n + 1;
	return (long)m->n++;
}

static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int eval_trace_load(const char *path, long bucket, int keep_partial, long row_span,
		    struct eval_trace *ret, char *errbuf, size_t errlen)
{
	int rc = 0;
	FILE *f = NULL;
	char *line = NULL;
	size_t linecap = 0, nrows = 0, rowcap = 0;
	struct row *rows = NULL;
	int64_t *ts = NULL;
	struct keymap km = {0};
	memset(ret, 0, sizeof(*ret));
	if (bucket <= 0) {
		snprintf(errbuf, errlen, "bucket must be > 0");
		return -EINVAL;
	}
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	size_t lineno = 0;
	ssize_t len;
	while ((len = getline(&line, &linecap, f)) >= 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (lineno == 1 && !strncmp(line, "timestamp,", 10))
			continue;
		char *c1 = strchr(line, ',');
		char *c2 = c1 ? strrchr(line, ',') : NULL;
		if (!c1 || c2 == c1) {
			snprintf(errbuf, errlen, "%s:%zu: expected timestamp,key,count", path,
				 lineno);
			rc = -EINVAL;
			goto cleanup;
		}
		*c1 = *c2 = '\0';
		char *e1, *e2;
		errno = 0;
		double tsd = strtod(line, &e1);
		double cnt = strtod(c2 + 1, &e2);
		if (errno || e1 == line || *e1 || e2 == c2 + 1 || *e2 || !isfinite(tsd) ||
		    !isfinite(cnt) || cnt < 0 || fabs(tsd) > 9e15) {
			snprintf(errbuf, errlen, "%s:%zu: bad timestamp or count", path, lineno);
			rc = -EINVAL;
			goto cleanup;
		}
		long k = keymap_get(&km, c1 + 1);
		if (k < 0) {
			rc = (int)k;
			goto cleanup;
		}
		if (nrows == rowcap) {
			size_t nc = rowcap ? rowcap * 2 : 65536;
			struct row *nr = realloc(rows, nc * sizeof(*nr));
			if (!nr) {
				rc = -ENOMEM;
				goto cleanup;
			}
			rows = nr;
			rowcap = nc;
		}
		rows[nrows++] = (struct row){(int64_t)floor(tsd), (size_t)k, cnt};
	}
	if (nrows == 0) {
		snprintf(errbuf, errlen, "%s: no rows", path);
		rc = -EINVAL;
		goto cleanup;
	}
	if (row_span > 0) {
		/* Timestamps lost: spread the rows evenly in file order. */
		int64_t t0 = rows[0].ts;
		for (size_t i = 0; i < nrows; i++)
			rows[i].ts = t0 + (int64_t)((double)i * row_span / nrows);
	}
	/* Sampling period: smallest gap between distinct timestamps. */
	ts = malloc(nrows * sizeof(*ts));
	if (!ts) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < nrows; i++)
		ts[i] = rows[i].ts;
	qsort(ts, nrows, sizeof(*ts), cmp_i64);
	int64_t period = INT64_MAX;
	for (size_t i = 1; i < nrows; i++)
		if (ts[i] > ts[i - 1] && ts[i] - ts[i - 1] < period)
			period = ts[i] - ts[i - 1];
	int64_t tmin = ts[0], tmax = ts[nrows - 1];
	int64_t b0 = floordiv(tmin, bucket), b1 = floordiv(tmax, bucket);
	if (!keep_partial && period != INT64_MAX && b1 > b0 + 1) {
		if (tmin != b0 * bucket) {
			b0++;
			ret->dropped_first = 1;
		}
		if (tmax + period < (b1 + 1) * bucket) {
			b1--;
			ret->dropped_last = 1;
		}
	}
	if ((double)(b1 - b0 + 1) * (double)km.n > EVAL_TRACE_MAX_CELLS) {
		snprintf(errbuf, errlen,
			 "%s: %lld buckets x %zu keys is too large; use a "
			 "larger --bucket",
			 path, (long long)(b1 - b0 + 1), km.n);
		rc = -EINVAL;
		goto cleanup;
	}
	ret->nsteps = (size_t)(b1 - b0 + 1);
	ret->nkeys = km.n;
	ret->base = b0 * bucket;
	ret->rows = nrows;
	ret->y = calloc(ret->nsteps * ret->nkeys, sizeof(double));
	ret->last = malloc(ret->nkeys * sizeof(long));
	if (!ret->y || !ret->last) {
		rc = -ENOMEM;
		goto cleanup;
	}
	for (size_t k = 0; k < ret->nkeys; k++)
		ret->last[k] = -1;
	for (size_t i = 0; i < nrows; i++) {
		int64_t b = floordiv(rows[i].ts, bucket);
		if (b < b0 || b > b1)
			continue;
		size_t s = (size_t)(b - b0);
		double *cell = &ret->y[rows[i].key * ret->nsteps + s];
		*cell += rows[i].count;
		if (!isfinite(*cell)) { /* each count finite, their sum not */
			snprintf(errbuf, errlen,
				 "%s: the counts of key '%.64s' in the bucket at %lld add up "
				 "past the largest number",
				 path, km.names[rows[i].key], (long long)(b * bucket));
			rc = -EINVAL;
			goto cleanup;
		}
		if ((long)s > ret->last[rows[i].key])
			ret->last[rows[i].key] = (long)s;
	}
	ret->keys = km.names;
	km.names = NULL;
cleanup:
	if (f)
		fclose(f);
	free(line);
	free(rows);
	free(ts);
	free(km.slot);
	if (km.names) {
		for (size_t i = 0; i < km.n; i++)
			free(km.names[i]);
		free(km.names);
	}
	if (rc) {
		ret->keys = NULL;
		eval_trace_free(ret);
	}
	return rc;
}

void eval_trace_free(struct eval_trace *t)
{
	if (!t)
		return;
	if (t->keys)
		for (size_t i = 0; i < t->nkeys; i++)
			free(t->keys[i]);
	free(t->keys);
	free(t->y);
	free(t->last);
	memset(t, 0, sizeof(*t));
}
