/*
 * train/als.c - explicit ALS: mu + bu + bi + p.q, each half-step an exact
 * least-squares solve of every item, then every user, against the other
 * side: exactly (Cholesky per row, LAPACK) or by cg_steps
 * conjugate-gradient steps warm-started from the last iteration's
 * factors (--solver; solve.h).  Factor penalty reg x sqrt(n), bias
 * penalty reg_bias (algo.c).  CG training ends with one exact user step.
 * Fine-tuning is the same sweep over the rows the new ratings touch,
 * always exact.
 */
#include "fit.h"

static double
als_epoch(struct fit *f, int ep)
{
	double l = cf_fit_sweep(f, 0);

	(void)ep;
	return isnan(l) ? NAN : sqrt(l / f->n);
}

/* CG training ends with an exact user step (fit.h). */
static int
als_finish(struct fit *f)
{
	return cf_fit_exact_users(f, 0);
}

static void
als_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "reg_bias", p->reg_bias);
	cf_fit_attr_weights(a, p, 1);
	cf_fit_attr_solver(a, p);
}

const cf_fit_ops cf_fit_als = {
	.algo = CF_ALS,
	.need_byi = 1,
	.epoch = als_epoch,
	.finish = als_finish,
	.attrs = als_attrs,
};
