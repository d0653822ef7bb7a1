/*
 * train/popular.c - item popularity: the score of an item is its number
 * of training ratings (in bi; k = 0, mu = 0).  One pass.
 */
#include "fit.h"

static double
popular_epoch(struct fit *f, int ep)
{
	(void)ep;
	for (uint32_t i = 0; i < f->ni; i++)
		f->bi[i] = (float)(f->byi.ptr[i + 1] - f->byi.ptr[i]);
	return 0;
}

const cf_fit_ops cf_fit_popular = {
	.algo = CF_POPULAR,
	.one_pass = 1,
	.epoch = popular_epoch,
};
