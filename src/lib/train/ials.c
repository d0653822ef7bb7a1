/*
 * train/ials.c - implicit ALS (Hu, Koren, Volinsky 2008): preference 1
 * for rated items, confidence 1 + alpha r, 0 with confidence 1 for the
 * rest, solved with the shared Gram matrix (solve.h).  No biases, mu = 0.
 * The training figure is the loss (with its penalty) per rating.
 */
#include "fit.h"

static double
ials_epoch(struct fit *f, int ep)
{
	double l = cf_fit_sweep(f, 1);

	(void)ep;
	return isnan(l) ? NAN : l / f->n;
}

static void
ials_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "alpha", p->alpha);
	cf_fit_attr_weights(a, p, 0);
}

const cf_fit_ops cf_fit_ials = {
	.algo = CF_IALS,
	.need_byi = 1,
	.epoch = ials_epoch,
	.attrs = ials_attrs,
};
