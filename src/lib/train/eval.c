/*
 * train/eval.c - the figures a fit reports (fit.h): training RMSE,
 * validation RMSE, and NDCG@10 / recall@10 for top-N models, each summed
 * over fixed chunks or entities in index order (thread-count independent).
 */
#include "evalm.h"
#include "fit.h"
#include "par.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int
cf_finite_all(const float *x, size_t n)
{
	/* Summing hides no NaN/Inf: any one makes the sum non-finite. */
	float s = 0;

	for (size_t j = 0; j < n; j++)
		s += x[j] * 0.0f;
	return s == 0.0f;
}

int
cf_fit_params_finite(const struct fit *f, const float *bu, const float *bi, const float *P,
              const float *Q)
{
	return cf_finite_all(bu, f->nu) && cf_finite_all(bi, f->ni) &&
	       cf_finite_all(P, (size_t)f->nu * f->kp) && cf_finite_all(Q, (size_t)f->ni * f->kp);
}

static float
predict(const struct fit *f, uint32_t u, uint32_t i)
{
	float s = (float)f->mu;

	if (u != UINT32_MAX)
		s += f->bu[u];
	if (i != UINT32_MAX)
		s += f->bi[i];
	if (u != UINT32_MAX && i != UINT32_MAX && f->k > 0)
		s += cf_dotkp(f->P + (size_t)u * f->kp, f->Q + (size_t)i * f->kp, f->kp);
	if (f->has_scale)
		s = s < f->lo ? f->lo : s > f->hi ? f->hi : s;
	return s;
}

/* Sums of squared errors over fixed chunks (independent of threads). */
#define CHUNK 65536

struct sse_job {
	const struct fit *f;
	const uint32_t *u, *i;
	const float *r;
	size_t n;
	double *part;
};

static void
sse_range(void *a, size_t lo, size_t hi, int tid)
{
	struct sse_job *j = a;

	(void)tid;
	for (size_t c = lo; c < hi; c++) {
		size_t b = c * CHUNK, e = b + CHUNK < j->n ? b + CHUNK : j->n;
		double s = 0;
		for (size_t t = b; t < e; t++) {
			double d = j->r[t] - predict(j->f, j->u[t], j->i[t]);
			s += d * d;
		}
		j->part[c] = s;
	}
}

double
cf_fit_rmse(const struct fit *f, const uint32_t *u, const uint32_t *i, const float *r, size_t n)
{
	size_t nc = (n + CHUNK - 1) / CHUNK;
	struct sse_job j = {f, u, i, r, n, cf_xcalloc(nc, sizeof(double))};
	double s = 0;

	cf_par_for(f->threads, nc, 1, sse_range, &j);
	for (size_t c = 0; c < nc; c++)
		s += j.part[c];
	free(j.part);
	return n ? sqrt(s / n) : 0;
}

/* Training RMSE, user by user (rows reused; per-user sums added in order). */
struct tr_job {
	const struct fit *f;
	double *part;
};

static void
tr_range(void *a, size_t lo, size_t hi, int tid)
{
	struct tr_job *j = a;
	const struct fit *f = j->f;

	(void)tid;
	for (size_t u = lo; u < hi; u++) {
		double s = 0;
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) {
			double d = f->byu.val[t] - predict(f, (uint32_t)u, f->byu.idx[t]);
			s += d * d;
		}
		j->part[u] = s;
	}
}

double
cf_fit_train_rmse(const struct fit *f)
{
	struct tr_job j = {f, cf_xcalloc((size_t)f->nu + 1, sizeof(double))};
	double s = 0;

	cf_par_for(f->threads, f->nu, 256, tr_range, &j);
	for (uint32_t u = 0; u < f->nu; u++)
		s += j.part[u];
	free(j.part);
	return sqrt(s / f->n);
}

/* ---- top-N validation (iALS, popular): NDCG@10 and recall@10 ---- */

#define TOPN 10

struct topn_job {
	const struct fit *f;
	double *ndcg, *recall;  /* per user; -1: not evaluated */
	float **score;          /* per thread: ni scores */
	unsigned char **rel;    /* per thread: ni flags */
};

static void
topn_range(void *a, size_t lo, size_t hi, int tid)
{
	struct topn_job *j = a;
	const struct fit *f = j->f;
	float *s = j->score[tid];
	unsigned char *rel = j->rel[tid];

	for (size_t u = lo; u < hi; u++) {
		uint64_t a0 = f->vbyu.ptr[u], a1 = f->vbyu.ptr[u + 1];
		uint64_t t0 = f->byu.ptr[u], t1 = f->byu.ptr[u + 1];
		j->ndcg[u] = j->recall[u] = -1;
		if (a0 == a1 || t0 == t1)
			continue;       /* nothing held out, or a user unknown to training */
		memcpy(s, f->bi, f->ni * sizeof *s);
		if (f->k > 0)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)f->ni, f->k, 1.0f, f->Q,
			            f->kp, f->P + u * f->kp, 1, 1.0f, s, 1);
		if (f->nn.ptr)  /* item-neighbour models: the history times the weights */
			cf_nn_add(f->nn.ptr, f->nn.idx, f->nn.val, f->byu.idx + t0, t1 - t0, 0,
			          f->ni, s);
		for (uint64_t t = t0; t < t1; t++)
			s[f->byu.idx[t]] = -INFINITY;
		size_t nrel = 0;
		for (uint64_t t = a0; t < a1; t++) {
			if (!rel[f->vbyu.idx[t]])
				nrel++;
			rel[f->vbyu.idx[t]] = 1;
		}
		/* Top TOPN by score, ties by lower index. */
		uint32_t top[TOPN];
		int nt = 0;
		for (uint32_t i = 0; i < f->ni; i++)
			if (s[i] != -INFINITY)
				cf_top_insert(s, i, top, &nt, TOPN);
		double dcg = 0, idcg = 0;
		int hits = 0;
		for (int p = 0; p < nt; p++)
			if (rel[top[p]]) {
				dcg += 1 / log2(p + 2.0);
				hits++;
			}
		for (size_t p = 0; p < (nrel < TOPN ? nrel : TOPN); p++)
			idcg += 1 / log2(p + 2.0);
		j->ndcg[u] = dcg / idcg;
		j->recall[u] = (double)hits / nrel;
		for (uint64_t t = a0; t < a1; t++)
			rel[f->vbyu.idx[t]] = 0;
	}
}

double
cf_fit_topn(const struct fit *f, double *recall)
{
	struct topn_job j = {f, cf_xmalloc(f->nu * sizeof(double)),
	                     cf_xmalloc(f->nu * sizeof(double)),
	                     cf_xcalloc(f->threads, sizeof(float *)),
	                     cf_xcalloc(f->threads, sizeof(unsigned char *))};
	double nd = 0, rc = 0;
	size_t users = 0;

	for (int t = 0; t < f->threads; t++) {
		j.score[t] = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
		j.rel[t] = cf_xcalloc((size_t)f->ni + 1, 1);
	}
	cf_par_for(f->threads, f->nu, 16, topn_range, &j);
	for (uint32_t u = 0; u < f->nu; u++)
		if (j.ndcg[u] >= 0) {
			nd += j.ndcg[u];
			rc += j.recall[u];
			users++;
		}
	for (int t = 0; t < f->threads; t++) {
		free(j.score[t]);
		free(j.rel[t]);
	}
	free(j.score);
	free(j.rel);
	free(j.ndcg);
	free(j.recall);
	*recall = users ? rc / users : 0;
	return users ? nd / users : 0;
}

