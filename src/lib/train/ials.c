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
	double l;

	(void)ep;
	l = cf_fit_half(f, &f->byi, f->ni, f->P, f->bu, f->nu, f->Q, f->bi, f->ifix, 1,
	                CF_REGW_NONE, CF_REGW_NONE, "item");
	if (!isnan(l))
		l = cf_fit_half(f, &f->byu, f->nu, f->Q, f->bi, f->ni, f->P, f->bu, f->ufix, 1,
		                CF_REGW_NONE, CF_REGW_NONE, "user");
	return isnan(l) ? NAN : l / f->n;
}

static void
ials_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "alpha", p->alpha);
	cf_schema_set(a, "reg_weight", "none");
}

const cf_fit_ops cf_fit_ials = {
	.algo = CF_IALS,
	.need_byi = 1,
	.epoch = ials_epoch,
	.attrs = ials_attrs,
};
