/*
 * train/seen.c - the model's seen table (fit.h): byu's own arrays, sorted
 * by item within each user, handed to the model.
 */
#include "fit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Sorts one user's seen entries item[0..n) (with r[] and timestamps t[],
 * element size tw, 0: none) by (item, position): cf_model_set_seen's order.
 * key, ti, tr, tt: scratch for n entries.
 */
static void
seen_sort(uint32_t *item, float *r, void *t, int tw, size_t n, uint64_t *key, uint32_t *ti,
          float *tr, char *tt)
{
	if (cf_nondecreasing(item, n))
		return;
	for (size_t j = 0; j < n; j++)
		key[j] = (uint64_t)item[j] << 32 | j;
	qsort(key, n, sizeof *key, cmp_u64);
	for (size_t j = 0; j < n; j++) {
		uint32_t o = (uint32_t)key[j];
		ti[j] = item[o];
		tr[j] = r[o];
		if (tw)
			memcpy(tt + j * tw, (char *)t + (size_t)o * tw, (size_t)tw);
	}
	memcpy(item, ti, n * sizeof *item);
	memcpy(r, tr, n * sizeof *r);
	if (tw)
		memcpy(t, tt, n * (size_t)tw);
}

/*
 * The model's seen items, sorted by (user, item): byu's own arrays, sorted
 * in place within each user and handed to the model (the fit loses them).
 */
void
cf_fit_build_seen(cf_model *m, struct fit *f)
{
	uint64_t maxn = 0, *key;
	uint32_t *ti;
	float *tr;
	char *tt;
	int tw = f->ts.w;

	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t c = f->byu.ptr[u + 1] - f->byu.ptr[u];
		maxn = c > maxn ? c : maxn;
	}
	key = cf_xmalloc((maxn + 1) * sizeof *key);
	ti = cf_xmalloc((maxn + 1) * sizeof *ti);
	tr = cf_xmalloc((maxn + 1) * sizeof *tr);
	tt = cf_xmalloc((maxn + 1) * 8);
	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t a = f->byu.ptr[u];
		seen_sort(f->byu.idx + a, f->byu.val + a, tw ? (char *)f->ts.a + a * tw : NULL, tw,
		          f->byu.ptr[u + 1] - a, key, ti, tr, tt);
	}
	memcpy(m->seen_ptr, f->byu.ptr, ((size_t)f->nu + 1) * sizeof *m->seen_ptr);
	m->nseen = f->n;
	m->seen_item = f->byu.idx;
	m->seen_rating = f->byu.val;
	f->byu.idx = NULL;
	f->byu.val = NULL;
	m->seen_ts = cf_ts_unpack(&f->ts, f->n);
	free(key);
	free(ti);
	free(tr);
	free(tt);
}
