/*
 * train/ease.c - EASE (Steck 2019, "Embarrassingly shallow autoencoders"):
 * the item x item weights B minimizing |X - XB|^2 + reg |B|^2 with
 * diag(B) = 0, in closed form:
 *     G = X'X + reg I,  P = G^-1,  B = I - P diag(1 / P_jj)
 * i.e. B[j][i] = -P[j][i] / P[i][i] (i != j), 0 on the diagonal.  X is the
 * binary user x item matrix of the training ratings (a rating's value is
 * not used).  A user's score of i is sum over their items j of B[j][i].
 *
 * The co-rating time kernel (--time-window T, --time-weight w): a user
 * who rated i and j adds 1 + w exp(-|t_ui - t_uj| / T) to G[i][j] instead
 * of 1.  People rate in sessions (MovieLens shows a page of similar movies
 * at a time), so two movies rated minutes apart by many people are closer
 * than two rated years apart; the kernel is positive definite, so G stays
 * a Gram matrix, and a user's score is still their binary history times B
 * (fold-in and --explain unchanged).  Only training timestamps are read.
 *
 * The catalogue is the items with ratings, most popular first, cut to
 * --max-items; G is dense over it (4 x items^2 bytes, single precision:
 * README measures what float costs against a double reference), built by
 * sparse counting (each row of G from the users of its item: cost the sum
 * over users of their ratings squared, never users x items), inverted by
 * LAPACK's Cholesky (spotrf, spotri).  Each item keeps its `keep` weights
 * of largest magnitude.  Items outside the catalogue get bi = -FLT_MAX:
 * ranked after every catalogue item.
 *
 * One pass; the figure reported is 0 (no loss is computed).  OpenBLAS stays
 * on one thread (the byte-identical-at-any-thread-count rule); G's rows and
 * B's rows are built in parallel, each by one thread.
 */
#include "fit.h"
#include "par.h"
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* LAPACK (Fortran symbols in OpenBLAS, as solve.c declares sposv_). */
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info,
                    size_t uplo_len);
extern void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info,
                    size_t uplo_len);

struct ease_job {
	struct fit *f;
	uint32_t nc;
	const uint32_t *cat, *cmap;
	float *G;
	const float *pdiag;
	struct nn_rows *R;
};

/* User u's timestamp of item it (its first rating of it). */
static int64_t
ts_of(const struct fit *f, uint32_t u, uint32_t it)
{
	for (uint64_t s = f->byu.ptr[u]; s < f->byu.ptr[u + 1]; s++)
		if (f->byu.idx[s] == it)
			return cf_ts_at(&f->ts, s);
	return 0;       /* not reached: byi and byu hold the same ratings */
}

/*
 * Rows [lo, hi) of G = X'X over the catalogue: co-occurrence counts, each
 * plus the time kernel's term when it is on.  Each row is one thread's, in
 * byi's and byu's order: the same sums at any thread count.
 */
static void
gram_rows(void *arg, size_t lo, size_t hi, int tid)
{
	struct ease_job *J = arg;
	const struct fit *f = J->f;
	size_t nc = J->nc;
	double w = f->p.time_weight, T = w > 0 ? f->p.time_window : 0;

	(void)tid;
	for (size_t a = lo; a < hi; a++) {
		float *g = J->G + a * nc;
		uint32_t it = J->cat[a];
		for (uint64_t t = f->byi.ptr[it]; t < f->byi.ptr[it + 1]; t++) {
			uint32_t u = f->byi.idx[t];
			int64_t t0 = T > 0 ? ts_of(f, u, it) : 0;
			for (uint64_t s = f->byu.ptr[u]; s < f->byu.ptr[u + 1]; s++) {
				uint32_t c = J->cmap[f->byu.idx[s]];
				if (c == UINT32_MAX)
					continue;
				if (T > 0) {
					double dt = (double)(cf_ts_at(&f->ts, s) - t0);
					g[c] += (float)(1 + w * exp(-fabs(dt) / T));
				} else
					g[c] += 1;
			}
		}
		g[a] += (float)f->p.reg;
	}
}

/* Rows [lo, hi) of B, cut to the largest `keep`. */
static void
b_rows(void *arg, size_t lo, size_t hi, int tid)
{
	struct ease_job *J = arg;
	size_t nc = J->nc;
	float *row = cf_nn_row(J->R, tid);

	for (size_t j = lo; j < hi; j++) {
		/* spotri left P in G's upper triangle (row-major view): P(j, i),
		 * j <= i, at G[j * nc + i]. */
		for (size_t i = 0; i < nc; i++) {
			float p = j <= i ? J->G[j * nc + i] : J->G[i * nc + j];
			row[i] = -p / J->pdiag[i];
		}
		row[j] = 0;
		cf_nn_keep_row(J->R, tid, J->cat[j], (uint32_t)nc, J->cat, (uint32_t)j);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The catalogue: rated items by popularity (ties by index), at most max. */
static uint32_t
catalogue(const struct fit *f, uint32_t *cat, uint32_t max)
{
	uint64_t *key = cf_xmalloc(((size_t)f->ni + 1) * sizeof *key);
	uint32_t n = 0;

	for (uint32_t i = 0; i < f->ni; i++) {
		uint64_t c = f->byi.ptr[i + 1] - f->byi.ptr[i];
		if (c > 0)      /* most popular first: the count's complement */
			key[n++] = (uint64_t)(UINT32_MAX - (uint32_t)c) << 32 | i;
	}
	qsort(key, n, sizeof *key, cmp_u64);
	if (max && n > max)
		n = max;
	for (uint32_t a = 0; a < n; a++)
		cat[a] = (uint32_t)key[a];
	free(key);
	return n;
}

static int
ease_solve(struct fit *f, struct ease_job *J)
{
	int n = (int)J->nc, info;

	/* Column-major 'L' is the row-major upper triangle (G is symmetric). */
	spotrf_("L", &n, J->G, &n, &info, 1);
	if (info == 0)
		spotri_("L", &n, J->G, &n, &info, 1);
	if (info != 0) {
		cf_fit_fail(f, "ease: X'X + reg I is not positive definite in single precision "
		            "(LAPACK info %d): raise --reg (now %g)", (int)info, f->p.reg);
		return -1;
	}
	return 0;
}

static double
ease_epoch(struct fit *f, int ep)
{
	struct ease_job J = {.f = f};
	uint32_t *cat = cf_xmalloc(((size_t)f->ni + 1) * sizeof *cat);
	uint32_t *cmap = cf_xmalloc(((size_t)f->ni + 1) * sizeof *cmap);
	struct nn_rows R;
	double rc = NAN;

	(void)ep;
	if (f->p.time_window > 0 && f->p.time_weight > 0 && !f->ts.w) {
		cf_fit_fail(f, "ease: the time kernel (--time-window %g) needs the ratings' "
		            "timestamps, and this input has none: give --time-window 0",
		            f->p.time_window);
		goto out;
	}
	J.nc = catalogue(f, cat, (uint32_t)f->p.max_items);
	if (!f->p.max_items && J.nc > CF_EASE_MAX_ITEMS) {
		cf_fit_fail(f, "ease: %u rated items need %.3g GB for X'X (4 x items^2 bytes), "
		            "above the %d-item limit: give --max-items N to keep the N most "
		            "popular", J.nc, 4.0 * J.nc * J.nc / 1e9, CF_EASE_MAX_ITEMS);
		goto out;
	}
	J.G = calloc((size_t)J.nc * J.nc + 1, sizeof *J.G);
	if (!J.G) {
		cf_fit_fail(f, "ease: no memory for X'X over %u items (%.3g GB): lower "
		            "--max-items", J.nc, 4.0 * J.nc * J.nc / 1e9);
		goto out;
	}
	if (cf_nn_rows_init(f, &R, J.nc) < 0)
		goto out;
	memset(cmap, 0xff, ((size_t)f->ni + 1) * sizeof *cmap);
	for (uint32_t a = 0; a < J.nc; a++)
		cmap[cat[a]] = a;
	J.cat = cat;
	J.cmap = cmap;
	J.R = &R;
	cf_par_for(f->threads, J.nc, 16, gram_rows, &J);
	if (ease_solve(f, &J) < 0) {
		cf_nn_rows_free(&R);
		goto out;
	}
	float *pdiag = cf_xmalloc(((size_t)J.nc + 1) * sizeof *pdiag);
	for (size_t i = 0; i < J.nc; i++)
		pdiag[i] = J.G[i * J.nc + i];
	J.pdiag = pdiag;
	/* Items outside the catalogue have no row: their count stays 0. */
	cf_par_for(f->threads, J.nc, 16, b_rows, &J);
	free(pdiag);
	cf_nn_rows_done(f, &R);
	for (uint32_t i = 0; i < f->ni; i++)
		f->bi[i] = cmap[i] == UINT32_MAX ? -FLT_MAX : 0.0f;
	rc = 0;
out:
	free(J.G);
	free(cat);
	free(cmap);
	return rc;
}

static void
ease_attrs(cf_schema *a, const cf_mf_params *p)
{
	char b[32];

	cf_fit_attr_num(a, "reg", p->reg);
	cf_nn_attrs(a, p);
	snprintf(b, sizeof b, "%d", p->max_items);
	cf_schema_set(a, "max_items", b);
	cf_fit_attr_num(a, "time_window", p->time_window);
	cf_fit_attr_num(a, "time_weight", p->time_weight);
}

const cf_fit_ops cf_fit_ease = {
	.algo = CF_EASE,
	.need_byi = 1,
	.one_pass = 1,
	.epoch = ease_epoch,
	.attrs = ease_attrs,
};
