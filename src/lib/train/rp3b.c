/*
 * train/rp3b.c - RP3beta (Paudel et al. 2017; Christoffel et al. 2015):
 * item-item weights from the 3-step random walk user -> item -> user ->
 * item over the binary rating graph.  With P_iu = 1 / |U_i| (item to one
 * of its users) and P_ui = 1 / |I_u| (user to one of their items), each
 * raised to alpha:
 *     W[j][i] = sum over users u of both j and i of |U_j|^-alpha |I_u|^-alpha
 *               / pop(i)^beta,      pop(i) = |U_i|,  W[j][j] = 0
 * and each item keeps its `keep` largest weights.  A user's score of i is
 * sum over their items j of W[j][i].  Cost: the sum over users of their
 * ratings squared; memory one dense row per thread.  One pass; figure 0.
 */
#include "fit.h"
#include "par.h"
#include "util.h"

#include <stdlib.h>

struct rp3b_job {
	struct fit *f;
	const float *uw;        /* |I_u|^-alpha */
	const float *ipen;      /* |U_i|^-beta (0 for unrated items) */
	struct nn_rows *R;
};

static void
rp3b_rows(void *arg, size_t lo, size_t hi, int tid)
{
	struct rp3b_job *J = arg;
	const struct fit *f = J->f;
	float *row = cf_nn_row(J->R, tid);

	for (size_t j = lo; j < hi; j++) {
		uint64_t a = f->byi.ptr[j], b = f->byi.ptr[j + 1];
		if (a == b) {
			J->R->cnt[j] = 0;
			continue;
		}
		float pj = (float)pow((double)(b - a), -f->p.alpha);
		memset(row, 0, (size_t)f->ni * sizeof *row);
		for (uint64_t t = a; t < b; t++) {
			uint32_t u = f->byi.idx[t];
			float x = pj * J->uw[u];
			for (uint64_t s = f->byu.ptr[u]; s < f->byu.ptr[u + 1]; s++)
				row[f->byu.idx[s]] += x;
		}
		for (uint32_t i = 0; i < f->ni; i++)
			row[i] *= J->ipen[i];
		cf_nn_keep_row(J->R, tid, (uint32_t)j, f->ni, NULL, (uint32_t)j);
	}
}

static double
rp3b_epoch(struct fit *f, int ep)
{
	struct rp3b_job J = {.f = f};
	struct nn_rows R;
	float *uw = cf_xmalloc(((size_t)f->nu + 1) * sizeof *uw);
	float *ipen = cf_xmalloc(((size_t)f->ni + 1) * sizeof *ipen);

	(void)ep;
	if (cf_nn_rows_init(f, &R, f->ni) < 0) {
		free(uw);
		free(ipen);
		return NAN;
	}
	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t n = f->byu.ptr[u + 1] - f->byu.ptr[u];
		uw[u] = n ? (float)pow((double)n, -f->p.alpha) : 0.0f;
	}
	for (uint32_t i = 0; i < f->ni; i++) {
		uint64_t n = f->byi.ptr[i + 1] - f->byi.ptr[i];
		ipen[i] = n ? (float)pow((double)n, -f->p.beta) : 0.0f;
	}
	J.uw = uw;
	J.ipen = ipen;
	J.R = &R;
	cf_par_for(f->threads, f->ni, 16, rp3b_rows, &J);
	free(uw);
	free(ipen);
	cf_nn_rows_done(f, &R);
	return 0;
}

static void
rp3b_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "alpha", p->alpha);
	cf_fit_attr_num(a, "beta", p->beta);
	cf_nn_attrs(a, p);
}

const cf_fit_ops cf_fit_rp3b = {
	.algo = CF_RP3B,
	.need_byi = 1,
	.one_pass = 1,
	.epoch = rp3b_epoch,
	.attrs = rp3b_attrs,
};
