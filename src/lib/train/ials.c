/*
 * train/ials.c - implicit ALS: preference 1 with confidence 1 + alpha r
 * for rated items, 0 with weight alpha0 for the rest, solved with the
 * shared Gram matrix (solve.h).  alpha0 = 1, nu = 0 is Hu, Koren,
 * Volinsky (2008); a small alpha0 with the penalty reg x (n + alpha0 x
 * others)^nu is Rendle et al. (2021).  Exact or conjugate-gradient
 * solves (--solver).  No biases, mu = 0.  The training figure is the
 * loss (with its penalty) per rating.
 */
#include "fit.h"

static double
ials_epoch(struct fit *f, int ep)
{
	double l = cf_fit_sweep(f, 1);

	(void)ep;
	return isnan(l) ? NAN : l / f->n;
}

/* CG training ends with an exact user step (fit.h). */
static int
ials_finish(struct fit *f)
{
	return cf_fit_exact_users(f, 1);
}

static void
ials_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "alpha", p->alpha);
	cf_fit_attr_num(a, "alpha0", p->alpha0);
	cf_fit_attr_num(a, "nu", p->nu);
	cf_fit_attr_weights(a, p, 0);
	cf_fit_attr_solver(a, p);
}

const cf_fit_ops cf_fit_ials = {
	.algo = CF_IALS,
	.need_byi = 1,
	.epoch = ials_epoch,
	.finish = ials_finish,
	.attrs = ials_attrs,
};
