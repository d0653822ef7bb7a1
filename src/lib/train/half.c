/*
 * train/half.c - the ALS half-step (fit.h): every row of one side solved
 * against the other side's fixed factors (exactly or by CG, solve.h), in
 * parallel over rows, each row's loss kept apart and summed in row order:
 * a row's result depends on nothing but its own inputs, so models are
 * byte-identical at any thread count.
 */
#include "fit.h"
#include "par.h"
#include "solve.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct half_job {
	struct fit *f;
	const struct csr *c;    /* this side's rows */
	cf_lsq_side sd;         /* the other side */
	uint32_t nother;
	float *X, *xb;          /* this side */
	const unsigned char *fix;
	cf_regw regw, regbw;
	int cg_steps;           /* 0: exact solves */
	double *loss;           /* per entity: squared error, or iALS loss */
	cf_lsq *s;              /* per thread */
	atomic_int bad;         /* first entity whose system was singular, + 1 */
};

static inline float
dotk(const float *a, const float *b, int k)
{
	float s = 0;

	for (int c = 0; c < k; c++)
		s += a[c] * b[c];
	return s;
}

static void
half_range(void *a, size_t lo, size_t hi, int tid)
{
	struct half_job *j = a;
	struct fit *f = j->f;
	int k = f->k, kp = f->kp, implicit = j->sd.G != NULL;

	for (size_t e = lo; e < hi; e++) {
		uint64_t a0 = j->c->ptr[e], a1 = j->c->ptr[e + 1];
		size_t n = a1 - a0;
		float *x = j->X + e * kp, bias = 0, *xb = implicit ? &bias : &j->xb[e];
		j->loss[e] = 0;
		if (j->fix && j->fix[e])
			continue;
		if (n == 0) {
			memset(x, 0, (size_t)k * sizeof *x);
			j->xb[e] = 0;
			continue;
		}
		int rc;
		double l = 0;
		double regf = cf_lsq_penalty(j->regw, f->p.reg, implicit ? f->p.nu : 0,
		                             f->p.alpha0, n, j->nother);
		double regb = implicit ? 0 : f->p.reg_bias * cf_reg_weight(j->regbw, n);
		if (j->cg_steps > 0)
			rc = cf_lsq_cg(&j->sd, j->c->idx + a0, j->c->val + a0, n, regf, regb,
			               j->cg_steps, &j->s[tid], x, xb, &l);
		else
			rc = cf_lsq_solve(&j->sd, j->c->idx + a0, j->c->val + a0, n, regf, regb,
			                  &j->s[tid], x, xb, &l);
		if (rc != 0) {
			int zero = 0;
			atomic_compare_exchange_strong(&j->bad, &zero, (int)e + 1);
			continue;
		}
		/* iALS: the loss of this row includes its penalty. */
		if (implicit)
			l += regf * dotk(x, x, k);
		j->loss[e] = l;
	}
}

/* cf_fit_half with cg_steps conjugate-gradient steps per row (0: exact);
 * each row's loss into loss[] if given. */
static double
half(struct fit *f, const struct csr *c, uint32_t nrows, const float *F, const float *fb,
     uint32_t nother, float *X, float *xb, const unsigned char *fix, int implicit,
     cf_regw regw, cf_regw regbw, int cg_steps, const char *what, double *loss)
{
	struct half_job j;
	float *G = NULL;
	double total = 0;

	memset(&j, 0, sizeof j);
	if (implicit) {
		G = cf_xcalloc((size_t)f->k * f->k, sizeof *G);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, f->k, (int)nother, 1.0f, F,
		            f->kp, 0.0f, G, f->k);
		/* Both triangles: CG multiplies by G with sgemv (solve.h). */
		for (int r = 1; r < f->k; r++)
			for (int q = 0; q < r; q++)
				G[(size_t)r * f->k + q] = G[(size_t)q * f->k + r];
	}
	j.f = f;
	j.c = c;
	j.sd.k = f->k;
	j.sd.F = F;
	j.sd.ldf = (size_t)f->kp;
	j.sd.fb = implicit ? NULL : fb;
	j.sd.mu = f->mu;
	j.sd.G = G;
	j.sd.alpha = f->p.alpha;
	j.sd.alpha0 = implicit ? f->p.alpha0 : 1;
	/* CG gathers from a half-precision copy of F (solve.h); the exact
	 * solves, and CG where F is out of half's range, from F. */
	uint16_t *Fh = cg_steps > 0 ? cf_lsq_f16(F, f->kp, nother, f->k) : NULL;
	j.sd.Fh = Fh;
	j.nother = nother;
	j.X = X;
	j.xb = xb;
	j.fix = fix;
	j.regw = regw;
	j.regbw = regbw;
	j.cg_steps = cg_steps;
	j.loss = loss ? loss : cf_xmalloc(((size_t)nrows + 1) * sizeof *j.loss);
	j.s = cf_xmalloc(f->threads * sizeof *j.s);
	atomic_init(&j.bad, 0);
	for (int t = 0; t < f->threads; t++)
		cf_lsq_init(&j.s[t], f->k);
	cf_par_for(f->threads, nrows, 64, half_range, &j);
	for (uint32_t e = 0; e < nrows; e++)
		total += j.loss[e];
	int bad = atomic_load(&j.bad);
	if (bad) {
		cf_fit_fail(f, "%s: the system of %s %d is singular: use --reg > 0",
		            cf_algo_name(f->p.algo), what, bad - 1);
		total = NAN;
	}
	for (int t = 0; t < f->threads; t++)
		cf_lsq_free(&j.s[t]);
	free(j.s);
	if (!loss)
		free(j.loss);
	free(G);
	free(Fh);
	return total;
}

double
cf_fit_half(struct fit *f, const struct csr *c, uint32_t nrows, const float *F,
            const float *fb, uint32_t nother, float *X, float *xb, const unsigned char *fix,
            int implicit, cf_regw regw, cf_regw regbw, const char *what)
{
	return half(f, c, nrows, F, fb, nother, X, xb, fix, implicit, regw, regbw, 0, what, NULL);
}

/* Fine-tuning solves exactly: its new rows start from random factors,
 * not from the last iteration's. */
static int
sweep_steps(const struct fit *f)
{
	return f->p.solver == CF_SOLVER_CG && !f->finetune ? f->p.cg_steps : 0;
}

double
cf_fit_half_rows(struct fit *f, const struct csr *c, uint32_t nrows, const float *F,
                 const float *fb, uint32_t nother, float *X, float *xb, int implicit,
                 const char *what, double *loss)
{
	return half(f, c, nrows, F, fb, nother, X, xb, NULL, implicit, f->info->reg_weight,
	            f->info->reg_bias_weight, sweep_steps(f), what, loss);
}

double
cf_fit_sweep(struct fit *f, int implicit)
{
	cf_regw w = f->info->reg_weight, wb = f->info->reg_bias_weight;
	int steps = sweep_steps(f);
	double l;

	l = half(f, &f->byi, f->ni, f->P, f->bu, f->nu, f->Q, f->bi, f->ifix, implicit, w, wb,
	         steps, "item", NULL);
	if (!isnan(l))
		l = half(f, &f->byu, f->nu, f->Q, f->bi, f->ni, f->P, f->bu, f->ufix, implicit, w,
		         wb, steps, "user", NULL);
	return l;
}

void
cf_fit_attr_solver(cf_schema *s, const cf_mf_params *p)
{
	char b[16];

	cf_schema_set(s, "solver", cf_solver_name(p->solver));
	if (p->solver == CF_SOLVER_CG) {
		snprintf(b, sizeof b, "%d", p->cg_steps);
		cf_schema_set(s, "cg_steps", b);
	}
}

int
cf_fit_exact_users(struct fit *f, int implicit)
{
	if (f->p.solver != CF_SOLVER_CG)
		return 0;
	/* A row whose system is singular (reg 0) keeps its CG factors; the
	 * message is not an error here. */
	cf_fit_half(f, &f->byu, f->nu, f->Q, f->bi, f->ni, f->P, f->bu, f->ufix, implicit,
	            f->info->reg_weight, f->info->reg_bias_weight, "user");
	if (f->err && f->errlen)
		f->err[0] = 0;
	return 1;
}
