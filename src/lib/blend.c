/*
 * blend.c - the blend rule and the weight search (see blend.h).
 */
#include "blend.h"
#include "evalm.h"
#include "score.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOPN 10

static int
ranked(float x)
{
	return x > -FLT_MAX && isfinite(x);
}

void
cf_blend_stats(const float *row, uint32_t n, const unsigned char *skip, double *mean,
               double *sd)
{
	double s = 0, ss = 0;
	size_t c = 0;

	for (uint32_t i = 0; i < n; i++)
		if (!(skip && skip[i]) && ranked(row[i])) {
			s += row[i];
			c++;
		}
	*mean = c ? s / c : 0;
	for (uint32_t i = 0; i < n; i++)
		if (!(skip && skip[i]) && ranked(row[i]))
			ss += (row[i] - *mean) * (row[i] - *mean);
	*sd = c > 1 ? sqrt(ss / c) : 0;
}

void
cf_blend_z(const float *row, uint32_t n, const unsigned char *skip, float *z)
{
	double mean, sd;

	cf_blend_stats(row, n, skip, &mean, &sd);
	for (uint32_t i = 0; i < n; i++)
		z[i] = sd > 0 && !(skip && skip[i]) && ranked(row[i]) ? (float)((row[i] - mean) / sd)
		                                                      : 0.0f;
}

void
cf_blend_mix(const float *const *z, const float *const *rows, const double *w, int np,
             uint32_t n, float *out)
{
	for (uint32_t i = 0; i < n; i++) {
		float x = 0;
		int off = 0;
		for (int p = 0; p < np; p++) {
			x += (float)w[p] * z[p][i];
			off |= rows && rows[p] && !ranked(rows[p][i]);
		}
		out[i] = off ? -FLT_MAX : x;
	}
}

struct cf_blend_fit {
	int np, steps;
	size_t npoints, users;
	uint8_t *grid;          /* npoints x np: each weight in units of 1/steps */
	double *ndcg;           /* per point: the sum over users */
	float *mix;             /* scratch row */
	uint32_t nmix;
};

/* Every composition of steps into np parts, the first part's largest first. */
static size_t
compositions(uint8_t *out, int np, int left, int at, uint8_t *cur)
{
	size_t n = 0;

	if (at == np - 1) {
		cur[at] = (uint8_t)left;
		if (out)
			memcpy(out, cur, (size_t)np);
		return 1;
	}
	for (int v = left; v >= 0; v--) {
		cur[at] = (uint8_t)v;
		n += compositions(out ? out + n * np : NULL, np, left - v, at + 1, cur);
	}
	return n;
}

cf_blend_fit *
cf_blend_fit_new(int np, double step)
{
	double k = 1 / step;
	uint8_t cur[CF_BLEND_MAX_PARTS];

	if (np < 2 || np > CF_BLEND_MAX_PARTS || !cf_blend_step_ok(step))
		return NULL;
	cf_blend_fit *f = cf_xcalloc(1, sizeof *f);
	f->np = np;
	f->steps = (int)round(k);
	f->npoints = compositions(NULL, np, f->steps, 0, cur);
	f->grid = cf_xmalloc(f->npoints * (size_t)np);
	compositions(f->grid, np, f->steps, 0, cur);
	f->ndcg = cf_xcalloc(f->npoints, sizeof *f->ndcg);
	return f;
}

/* NDCG@10 of a row: top 10 of the non-skipped ranked items, ties by index. */
static double
ndcg10(const float *s, uint32_t n, const unsigned char *skip, const unsigned char *isrel,
       size_t nrel)
{
	uint32_t top[TOPN];
	int nt = 0;
	double dcg = 0, idcg = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (!(skip && skip[i]) && ranked(s[i]))
			cf_top_insert(s, i, top, &nt, TOPN);
	}
	for (int p = 0; p < nt; p++)
		if (isrel[top[p]])
			dcg += 1 / log2(p + 2.0);
	for (size_t p = 0; p < (nrel < TOPN ? nrel : TOPN); p++)
		idcg += 1 / log2(p + 2.0);
	return idcg > 0 ? dcg / idcg : 0;
}

void
cf_blend_fit_user(cf_blend_fit *f, const float *const *z, uint32_t n, const uint32_t *rel,
                  size_t nrel, const unsigned char *skip)
{
	double w[CF_BLEND_MAX_PARTS];
	unsigned char *isrel;
	size_t distinct = 0;

	if (nrel == 0 || n == 0)
		return;
	if (f->nmix < n) {
		free(f->mix);
		f->mix = cf_xmalloc((size_t)n * sizeof *f->mix);
		f->nmix = n;
	}
	isrel = cf_xcalloc(n, 1);
	for (size_t r = 0; r < nrel; r++)
		if (rel[r] < n && !(skip && skip[rel[r]]) && !isrel[rel[r]]) {
			isrel[rel[r]] = 1;
			distinct++;
		}
	if (distinct > 0) {
		for (size_t g = 0; g < f->npoints; g++) {
			for (int p = 0; p < f->np; p++)
				w[p] = (double)f->grid[g * f->np + p] / f->steps;
			cf_blend_mix(z, NULL, w, f->np, n, f->mix);
			f->ndcg[g] += ndcg10(f->mix, n, skip, isrel, distinct);
		}
		f->users++;
	}
	free(isrel);
}

double
cf_blend_fit_best(const cf_blend_fit *f, double *w, size_t *users)
{
	size_t best = 0;

	for (size_t g = 1; g < f->npoints; g++)
		if (f->ndcg[g] > f->ndcg[best])
			best = g;
	for (int p = 0; p < f->np; p++)
		w[p] = (double)f->grid[best * f->np + p] / f->steps;
	*users = f->users;
	return f->users ? f->ndcg[best] / f->users : 0;
}

double
cf_blend_fit_corner(const cf_blend_fit *f, int p)
{
	for (size_t g = 0; g < f->npoints; g++)
		if (f->grid[g * f->np + p] == f->steps)
			return f->users ? f->ndcg[g] / f->users : 0;
	return 0;
}

int
cf_blend_step_ok(double step)
{
	double k = 1 / step;

	return step > 0 && fabs(k - round(k)) <= 1e-9 && round(k) >= 1 && round(k) <= 100;
}

void
cf_blend_fit_free(cf_blend_fit *f)
{
	if (!f)
		return;
	free(f->grid);
	free(f->ndcg);
	free(f->mix);
	free(f);
}

/* ------------------------------------------------- fitting on models */

/*
 * Every validation user the models know with a held-out item they know:
 * each part's row (cf_score_user), z-scored over the items the user has
 * not seen in part 0's training, offered to the search.
 */
double
cf_blend_fit_models(cf_model *const *fit, int np, const cf_ratings *valid, double step,
                    double *w, double *alone, size_t *users)
{
	const cf_model *m0 = fit[0];
	size_t ni = m0->nitems;
	uint32_t nvu = cf_idmap_count(valid->users);
	uint32_t *um = cf_idmap_map(valid->users, m0->users);
	uint32_t *im = cf_idmap_map(valid->items, m0->items);
	uint64_t *ptr = cf_xcalloc((size_t)nvu + 2, sizeof *ptr);
	uint32_t *rel = cf_xmalloc((valid->n + 1) * sizeof *rel);
	cf_scorer *sc[CF_BLEND_MAX_PARTS];
	float *rows = cf_xmalloc(((size_t)2 * np * ni + 1) * sizeof *rows);
	float *zp[CF_BLEND_MAX_PARTS];
	unsigned char *skip = cf_xcalloc(ni + 1, 1);
	cf_blend_fit *f = cf_blend_fit_new(np, step);
	double best;

	/* The held-out known items grouped by validation user (counting sort). */
	for (size_t j = 0; j < valid->n; j++)
		ptr[valid->user[j] + 2] += im[valid->item[j]] != CF_NOID;
	for (uint32_t u = 0; u < nvu; u++)
		ptr[u + 2] += ptr[u + 1];
	for (size_t j = 0; j < valid->n; j++)
		if (im[valid->item[j]] != CF_NOID)
			rel[ptr[valid->user[j] + 1]++] = im[valid->item[j]];
	for (int p = 0; p < np; p++) {
		sc[p] = cf_scorer_new(fit[p]);
		zp[p] = rows + (size_t)(2 * p + 1) * ni;
	}
	for (uint32_t v = 0; v < nvu; v++) {
		uint32_t u = um[v];
		if (u == CF_NOID || ptr[v] == ptr[v + 1] || m0->seen_ptr[u] == m0->seen_ptr[u + 1])
			continue;       /* unknown to training, or nothing held out */
		for (uint64_t t = m0->seen_ptr[u]; t < m0->seen_ptr[u + 1]; t++)
			skip[m0->seen_item[t]] = 1;
		for (int p = 0; p < np; p++) {
			float *row = rows + (size_t)2 * p * ni;
			cf_score_user(sc[p], u, row);
			cf_blend_z(row, (uint32_t)ni, skip, zp[p]);
		}
		/* Items a part does not rank are no candidates (after the z-scores:
		 * those skipped them already). */
		for (int p = 0; p < np; p++)
			for (size_t i = 0; i < ni; i++)
				skip[i] |= !ranked(rows[(size_t)2 * p * ni + i]);
		cf_blend_fit_user(f, (const float *const *)zp, (uint32_t)ni, rel + ptr[v],
		                  ptr[v + 1] - ptr[v], skip);
		memset(skip, 0, ni);
	}
	best = cf_blend_fit_best(f, w, users);
	for (int p = 0; p < np; p++)
		alone[p] = cf_blend_fit_corner(f, p);
	for (int p = 0; p < np; p++)
		cf_scorer_free(sc[p]);
	cf_blend_fit_free(f);
	free(skip);
	free(rows);
	free(rel);
	free(ptr);
	free(um);
	free(im);
	return best;
}
