/*
 * train/csr.c - the training structures (fit.h): ratings by user and by
 * item as compressed rows, built from the input rows by counting sorts
 * with bounded memory, and the padded factor matrices.
 */
#include "fit.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * A zeroed rows x kp matrix, 64-byte aligned.  A large one is aligned to
 * 2 MiB and offered to transparent huge pages: SGD and ALS read its rows
 * in random order, and with 4 KiB pages most of those reads miss the TLB.
 */
#define HUGE_ALIGN ((size_t)2 << 20)

float *
cf_fmat(size_t rows, int kp)
{
	size_t b = (rows * kp * sizeof(float) + 63) & ~(size_t)63;
	size_t al = b >= 4 * HUGE_ALIGN ? HUGE_ALIGN : 64;
	size_t sz = b ? (b + al - 1) / al * al : al;
	float *m = aligned_alloc(al, sz);

	if (!m)
		cf_die("out of memory for a %zu x %d matrix", rows, kp);
#ifdef MADV_HUGEPAGE
	if (al == HUGE_ALIGN)
		madvise(m, sz, MADV_HUGEPAGE);  /* advice only: failure is harmless */
#endif
	memset(m, 0, b);
	return m;
}

void
cf_csr_build(struct csr *c, uint32_t nrows, size_t n, const uint32_t *row,
          const uint32_t *col, const float *val)
{
	uint64_t *pos;

	c->ptr = cf_xcalloc((size_t)nrows + 1, sizeof *c->ptr);
	c->idx = cf_xmalloc(n * sizeof *c->idx);
	c->val = cf_xmalloc(n * sizeof *c->val);
	for (size_t j = 0; j < n; j++)
		c->ptr[row[j] + 1]++;
	for (uint32_t a = 0; a < nrows; a++)
		c->ptr[a + 1] += c->ptr[a];
	pos = cf_xmalloc(((size_t)nrows + 1) * sizeof *pos);
	memcpy(pos, c->ptr, ((size_t)nrows + 1) * sizeof *pos);
	for (size_t j = 0; j < n; j++) {
		uint64_t d = pos[row[j]]++;
		c->idx[d] = col[j];
		c->val[d] = val[j];
	}
	free(pos);
}

void
cf_csr_free(struct csr *c)
{
	free(c->ptr);
	free(c->idx);
	free(c->val);
	memset(c, 0, sizeof *c);
}

/*
 * Memory.  The ratings are the bulk of a fit (25M of them: 12 bytes each
 * as user, item, rating), so each structure is built from the rows by
 * counting sorts one array at a time, every input array freed as soon as
 * its last use is done, and the same arrays end up as the model's seen
 * table.  Timestamps travel in 4 bytes (offsets from their minimum) when
 * their range allows.
 */

/*
 * Packs n timestamps: into 4-byte offsets when max - min fits, written
 * over the input when `take` (the array is then shrunk), else into a new
 * array; an array kept as i64 is taken as it is, or copied.
 */
struct tsv
cf_ts_pack(int64_t *a, size_t n, int take)
{
	struct tsv t = {0, 0, NULL};
	int64_t lo, hi;

	if (!a || n == 0)
		return t;
	lo = hi = a[0];
	for (size_t j = 1; j < n; j++) {
		lo = a[j] < lo ? a[j] : lo;
		hi = a[j] > hi ? a[j] : hi;
	}
	if ((uint64_t)hi - (uint64_t)lo > UINT32_MAX) {
		t.w = 8;
		t.a = take ? a : memcpy(cf_xmalloc(n * 8), a, n * 8);
		return t;
	}
	t.w = 4;
	t.base = lo;
	char *o = take ? (char *)a : cf_xmalloc(n * 4);
	/* In place, element j's 4 bytes land below element j + 1's 8: byte
	 * copies keep the compiler from reordering the overlapping accesses. */
	for (size_t j = 0; j < n; j++) {
		int64_t v;
		memcpy(&v, (const char *)a + j * 8, 8);
		uint32_t d = (uint32_t)((uint64_t)v - (uint64_t)lo);
		memcpy(o + j * 4, &d, 4);
	}
	t.a = take ? cf_xrealloc(a, n * 4) : o;
	return t;
}

/* The timestamps as the model holds them (i64); t's array is consumed. */
int64_t *
cf_ts_unpack(struct tsv *t, size_t n)
{
	int64_t *o = NULL;

	if (t->w == 8) {
		o = t->a;
	} else if (t->w == 4) {
		/* Widened in place, last first (element j's 8 bytes lie at or
		 * above element j's 4): realloc grows a large block by remapping,
		 * without a second copy of the array. */
		char *a = cf_xrealloc(t->a, (n ? n : 1) * 8);
		for (size_t j = n; j-- > 0;) {
			uint32_t d;
			memcpy(&d, a + j * 4, 4);
			int64_t v = t->base + (int64_t)d;
			memcpy(a + j * 8, &v, 8);
		}
		o = (int64_t *)(void *)a;
	}
	memset(t, 0, sizeof *t);
	return o;
}

void
cf_rows_free(struct rows *rw)
{
	free(rw->u);
	free(rw->i);
	free(rw->r);
	free(rw->t.a);
	memset(rw, 0, sizeof *rw);
}

/* Row counts per key as CSR offsets: ptr[k] .. ptr[k+1]. */
static uint64_t *
count_ptr(const uint32_t *key, size_t n, uint32_t nkeys)
{
	uint64_t *ptr = cf_xcalloc((size_t)nkeys + 1, sizeof *ptr);

	for (size_t j = 0; j < n; j++)
		ptr[key[j] + 1]++;
	for (uint32_t a = 0; a < nkeys; a++)
		ptr[a + 1] += ptr[a];
	return ptr;
}

/* Stable counting-sort scatter of 4-byte src[] into key order (offsets ptr). */
static void *
scatter_by_key(const uint32_t *key, const void *src, size_t n, const uint64_t *ptr,
               uint32_t nkeys)
{
	uint64_t *pos = cf_xmalloc(((size_t)nkeys + 1) * sizeof *pos);
	uint32_t *dst = cf_xmalloc((n ? n : 1) * sizeof *dst);
	const uint32_t *s = src;

	memcpy(pos, ptr, ((size_t)nkeys + 1) * sizeof *pos);
	for (size_t j = 0; j < n; j++)
		dst[pos[key[j]]++] = s[j];
	free(pos);
	return dst;
}

/* Element j of a (w bytes each, w 4 or 8) to d[j], into a new array; a is freed. */
static void *
scatter_to(void *a, int w, const uint32_t *d, size_t n)
{
	char *o = cf_xmalloc((n ? n : 1) * (size_t)w);

	if (w == 4)
		for (size_t j = 0; j < n; j++)
			((uint32_t *)(void *)o)[d[j]] = ((const uint32_t *)a)[j];
	else
		for (size_t j = 0; j < n; j++)
			((uint64_t *)(void *)o)[d[j]] = ((const uint64_t *)a)[j];
	free(a);
	return o;
}

/*
 * Moves element j of each array to d[j], in place, following the cycles
 * of the permutation (no copy of any array); d is used up (every entry
 * becomes UINT32_MAX).  w[a] is 4 or 8 (arrays with w 0 are skipped).
 */
static void
permute_inplace(uint32_t *d, size_t n, void *const *arr, const int *w, int na)
{
	for (size_t s = 0; s < n; s++) {
		if (d[s] == UINT32_MAX)
			continue;
		if (d[s] == s) {
			d[s] = UINT32_MAX;
			continue;
		}
		uint64_t carry[4] = {0, 0, 0, 0}, tmp = 0;
		for (int a = 0; a < na; a++)
			if (w[a])
				memcpy(&carry[a], (char *)arr[a] + s * w[a], (size_t)w[a]);
		size_t cur = s, to;
		do {
			to = d[cur];
			d[cur] = UINT32_MAX;
			for (int a = 0; a < na; a++) {
				if (!w[a])
					continue;
				char *x = (char *)arr[a] + to * w[a];
				memcpy(&tmp, x, (size_t)w[a]);
				memcpy(x, &carry[a], (size_t)w[a]);
				carry[a] = tmp;
			}
			cur = to;
		} while (to != s);
	}
}

/* 1 if key[] never decreases. */
int
cf_nondecreasing(const uint32_t *key, size_t n)
{
	for (size_t j = 1; j < n; j++)
		if (key[j] < key[j - 1])
			return 0;
	return 1;
}

/*
 * Builds byu and byi (per the algorithm) from the rows, which it consumes.
 * Peak: the rows (12 bytes a rating, plus 4 or 8 of timestamp) and one
 * 4-byte array; the input is usually sorted by user already, when byu is
 * the rows themselves.
 */
void
cf_fit_build(struct fit *f, struct rows *rw)
{
	size_t n = rw->n;
	int sorted = cf_nondecreasing(rw->u, n);
	int need_byi = f->ops->need_byi || f->finetune;

	f->byu.ptr = count_ptr(rw->u, n, f->nu);
	f->byi.ptr = count_ptr(rw->i, n, f->ni);
	/* byi in input order within an item: from the rows as they came. */
	if (need_byi) {
		f->byi.idx = scatter_by_key(rw->i, rw->u, n, f->byi.ptr, f->ni);
		if (sorted) {
			free(rw->u);
			rw->u = NULL;
		}
		f->byi.val = scatter_by_key(rw->i, rw->r, n, f->byi.ptr, f->ni);
	}
	if (!sorted) {
		/* Each row's place in byu (a stable counting sort), over the users. */
		uint32_t *d = rw->u;
		uint64_t *pos = cf_xmalloc(((size_t)f->nu + 1) * sizeof *pos);
		memcpy(pos, f->byu.ptr, ((size_t)f->nu + 1) * sizeof *pos);
		for (size_t j = 0; j < n; j++)
			d[j] = (uint32_t)pos[d[j]]++;
		free(pos);
		if (need_byi) {
			/* byi is held too: no room for copies, move the rows in place. */
			void *arr[3] = {rw->i, rw->r, rw->t.a};
			int w[3] = {4, 4, rw->t.w};
			permute_inplace(d, n, arr, w, 3);
		} else {
			rw->i = scatter_to(rw->i, 4, d, n);
			rw->r = scatter_to(rw->r, 4, d, n);
			if (rw->t.w)
				rw->t.a = scatter_to(rw->t.a, rw->t.w, d, n);
		}
	}
	free(rw->u);
	f->byu.idx = rw->i;
	f->byu.val = rw->r;
	f->ts = rw->t;
	memset(rw, 0, sizeof *rw);
}

