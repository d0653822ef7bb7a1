/*
 * train/baseline.c - mu + regularized user and item biases (k = 0): each
 * epoch solves every item's bias against the users', then every user's,
 * b = sum(r - mu - b_other) / (reg_bias + n).
 */
#include "fit.h"

static double
baseline_epoch(struct fit *f, int ep)
{
	(void)ep;
	for (uint32_t i = 0; i < f->ni; i++) {
		uint64_t a = f->byi.ptr[i], b = f->byi.ptr[i + 1];
		double s = 0;
		if (f->ifix && f->ifix[i])
			continue;
		for (uint64_t t = a; t < b; t++)
			s += f->byi.val[t] - f->mu - f->bu[f->byi.idx[t]];
		f->bi[i] = (float)(s / (f->p.reg_bias + (double)(b - a)));
	}
	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t a = f->byu.ptr[u], b = f->byu.ptr[u + 1];
		double s = 0;
		if (f->ufix && f->ufix[u])
			continue;
		for (uint64_t t = a; t < b; t++)
			s += f->byu.val[t] - f->mu - f->bi[f->byu.idx[t]];
		f->bu[u] = (float)(s / (f->p.reg_bias + (double)(b - a)));
	}
	return cf_fit_train_rmse(f);
}

static void
baseline_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "reg_bias", p->reg_bias);
}

const cf_fit_ops cf_fit_baseline = {
	.algo = CF_BASELINE,
	.need_byi = 1,
	.epoch = baseline_epoch,
	.attrs = baseline_attrs,
};
