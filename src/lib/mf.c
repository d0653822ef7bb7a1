/*
 * mf.c - training (see mf.h): SGD, explicit ALS, implicit ALS, the bias
 * baseline and popularity, sharing one driver (epochs, progress,
 * validation, early stopping, divergence checks, warm start).
 *
 * Internals:
 *  - factors live in padded matrices (row stride kp = k rounded up to a
 *    multiple of 8, 64-byte aligned, padding zero) so the SGD inner loop
 *    runs over whole 8-float vectors; the model gets the k real columns;
 *  - SGD is FPSGD-like: users and items are randomly permuted and cut into
 *    a B x B grid of blocks; a scheduler hands threads blocks that share
 *    no user row and no item column (so no two threads ever write the same
 *    factors), in random order; inside a block ratings are sorted by user
 *    for cache locality.  With one thread the block order comes from the
 *    seed alone, so the model is byte-identical for a seed;
 *  - ALS / iALS solve each user's (item's) system independently
 *    (ssyrk + sposv), parallel over entities with a shared counter; every
 *    reduction (train RMSE, loss, validation) is done per entity or per
 *    fixed chunk into an array summed in index order afterwards, so the
 *    model is byte-identical for a seed at any thread count.
 */
#include "mf.h"
#include "rng.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* LAPACK (Fortran symbols in OpenBLAS); the trailing length is gfortran's
 * hidden string-length argument, ignored by implementations that lack it. */
extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a,
                   const int *lda, float *b, const int *ldb, int *info, size_t uplo_len);

/* ------------------------------------------------------------ parameters */

static const char *algo_names[] = {"sgd", "als", "ials", "baseline", "popular"};

int
cf_algo_parse(const char *name)
{
	for (int a = 0; a < 5; a++)
		if (strcmp(name, algo_names[a]) == 0)
			return a;
	return -1;
}

const char *
cf_algo_name(cf_algo a)
{
	return (unsigned)a < 5 ? algo_names[a] : "?";
}

cf_mf_params
cf_mf_defaults(cf_algo algo)
{
	cf_mf_params p;

	memset(&p, 0, sizeof p);
	p.algo = algo;
	p.seed = 42;
	p.threads = 0;
	p.init_scale = 0.1;
	switch (algo) {
	case CF_SGD:
		p.k = 64;
		p.epochs = 60;
		p.lr = 0.02;
		p.lr_decay = 0.02;
		p.reg = 0.1;
		p.reg_bias = 3;
		break;
	case CF_ALS:
		p.k = 64;
		p.epochs = 15;
		p.reg = 1.2;
		p.reg_bias = 2;
		break;
	case CF_IALS:
		p.k = 128;
		p.epochs = 10;
		p.reg = 20;
		p.alpha = 0.4;
		break;
	case CF_BASELINE:
		p.k = 0;
		p.epochs = 10;
		p.reg_bias = 3;
		break;
	case CF_POPULAR:
		p.k = 0;
		p.epochs = 1;
		break;
	}
	return p;
}

/* ------------------------------------------------------------ threads */

typedef void (*range_fn)(void *arg, size_t lo, size_t hi, int tid);

struct par {
	range_fn fn;
	void *arg;
	size_t n, grain;
	atomic_size_t next;
};

struct par_thread {
	struct par *par;
	int tid;
};

static void *
par_main(void *a)
{
	struct par_thread *t = a;
	struct par *p = t->par;

	for (;;) {
		size_t lo = atomic_fetch_add(&p->next, p->grain);
		if (lo >= p->n)
			break;
		size_t hi = lo + p->grain < p->n ? lo + p->grain : p->n;
		p->fn(p->arg, lo, hi, t->tid);
	}
	return NULL;
}

/*
 * Runs fn over [0, n) in chunks of grain, on `threads` threads taking
 * chunks from a shared counter.  Which thread runs a chunk varies; fn
 * must make each index's result independent of that (per-thread scratch
 * by tid only).
 */
static void
par_for(int threads, size_t n, size_t grain, range_fn fn, void *arg)
{
	struct par p = {fn, arg, n, grain ? grain : 1, 0};
	struct par_thread t[64];
	pthread_t th[64];
	int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;

	atomic_init(&p.next, 0);
	if ((size_t)nt > (n + p.grain - 1) / p.grain)
		nt = (int)((n + p.grain - 1) / p.grain);
	if (nt <= 1) {
		for (size_t lo = 0; lo < n; lo += p.grain)
			fn(arg, lo, lo + p.grain < n ? lo + p.grain : n, 0);
		return;
	}
	for (int i = 0; i < nt; i++) {
		t[i].par = &p;
		t[i].tid = i;
		if (i > 0 && pthread_create(&th[i], NULL, par_main, &t[i]) != 0)
			cf_die("cannot create a thread:");
	}
	par_main(&t[0]);
	for (int i = 1; i < nt; i++)
		pthread_join(th[i], NULL);
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void
blas_single(void)
{
	/* Our own threads parallelize; BLAS inside them must not. */
	openblas_set_num_threads(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ the fit */

/* Compressed rows: row r's entries are idx/val[ptr[r] .. ptr[r+1]). */
struct csr {
	uint64_t *ptr;
	uint32_t *idx;
	float *val;
};

/* Timestamps: none (w 0), u32 offsets from base (w 4), or i64 (w 8). */
struct tsv {
	int w;
	int64_t base;
	void *a;
};

struct fit {
	cf_mf_params p;
	int k, kp, threads, explicit_;
	uint32_t nu, ni;
	size_t n;
	/*
	 * The training ratings.  byu: by user, each user's in input order
	 * (its ptr always; idx/val except while SGD holds them as blocks);
	 * byi: by item, in input order (ptr always; idx/val for als, ials,
	 * baseline).  ts: the timestamps, in byu's order.
	 */
	struct csr byu, byi;
	struct tsv ts;
	double mu;
	float *bu, *bi, *P, *Q; /* P: nu x kp, Q: ni x kp */
	unsigned char *ufix, *ifix; /* warm-started entities without new ratings */
	/* validation rows (model indices; UINT32_MAX: unknown) */
	size_t vn;
	uint32_t *vu, *vi;
	float *vr;
	struct csr vbyu;        /* validation items by user (known ones), top-N */
	int has_scale;
	float lo, hi;
	char *err;
	size_t errlen;
};

static void
fail(struct fit *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
fail(struct fit *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (f->err && f->errlen)
		vsnprintf(f->err, f->errlen, fmt, ap);
	va_end(ap);
}

/*
 * A zeroed rows x kp matrix, 64-byte aligned.  A large one is aligned to
 * 2 MiB and offered to transparent huge pages: SGD and ALS read its rows
 * in random order, and with 4 KiB pages most of those reads miss the TLB.
 */
#define HUGE_ALIGN ((size_t)2 << 20)

static float *
fmat(size_t rows, int kp)
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

static void
csr_build(struct csr *c, uint32_t nrows, size_t n, const uint32_t *row,
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

static void
csr_free(struct csr *c)
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

static inline int64_t
ts_at(const struct tsv *t, size_t k)
{
	if (t->w == 4)
		return t->base + (int64_t)((const uint32_t *)t->a)[k];
	return ((const int64_t *)t->a)[k];
}

/*
 * Packs n timestamps: into 4-byte offsets when max - min fits, written
 * over the input when `take` (the array is then shrunk), else into a new
 * array; an array kept as i64 is taken as it is, or copied.
 */
static struct tsv
ts_pack(int64_t *a, size_t n, int take)
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
static int64_t *
ts_unpack(struct tsv *t, size_t n)
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

/* Training rows in input order (model indices once mapped): consumed by fit_build. */
struct rows {
	size_t n;
	uint32_t *u, *i;
	float *r;
	struct tsv t;
};

static void
rows_free(struct rows *rw)
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
static int
nondecreasing(const uint32_t *key, size_t n)
{
	for (size_t j = 1; j < n; j++)
		if (key[j] < key[j - 1])
			return 0;
	return 1;
}

static int
finite_all(const float *x, size_t n)
{
	/* Summing hides no NaN/Inf: any one makes the sum non-finite. */
	float s = 0;

	for (size_t j = 0; j < n; j++)
		s += x[j] * 0.0f;
	return s == 0.0f;
}

static int
params_finite(const struct fit *f, const float *bu, const float *bi, const float *P,
              const float *Q)
{
	return finite_all(bu, f->nu) && finite_all(bi, f->ni) &&
	       finite_all(P, (size_t)f->nu * f->kp) && finite_all(Q, (size_t)f->ni * f->kp);
}

typedef float v8f __attribute__((vector_size(32)));

/* a . b over padded rows (kp a multiple of 8, padding zero). */
static inline float
dotkp(const float *a, const float *b, int kp)
{
	v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};

	for (int c = 0; c < kp; c += 8) {
		v8f x, y;
		memcpy(&x, a + c, sizeof x);
		memcpy(&y, b + c, sizeof y);
		acc += x * y;
	}
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static inline float
dotk(const float *a, const float *b, int k)
{
	float s = 0;

	for (int c = 0; c < k; c++)
		s += a[c] * b[c];
	return s;
}

static float
predict(const struct fit *f, uint32_t u, uint32_t i)
{
	float s = (float)f->mu;

	if (u != UINT32_MAX)
		s += f->bu[u];
	if (i != UINT32_MAX)
		s += f->bi[i];
	if (u != UINT32_MAX && i != UINT32_MAX && f->k > 0)
		s += dotkp(f->P + (size_t)u * f->kp, f->Q + (size_t)i * f->kp, f->kp);
	if (f->has_scale)
		s = s < f->lo ? f->lo : s > f->hi ? f->hi : s;
	return s;
}

/* Sums of squared errors over fixed chunks (independent of threads). */
#define CHUNK 65536

struct sse_job {
	const struct fit *f;
	const uint32_t *u, *i;
	const float *r;
	size_t n;
	double *part;
};

static void
sse_range(void *a, size_t lo, size_t hi, int tid)
{
	struct sse_job *j = a;

	(void)tid;
	for (size_t c = lo; c < hi; c++) {
		size_t b = c * CHUNK, e = b + CHUNK < j->n ? b + CHUNK : j->n;
		double s = 0;
		for (size_t t = b; t < e; t++) {
			double d = j->r[t] - predict(j->f, j->u[t], j->i[t]);
			s += d * d;
		}
		j->part[c] = s;
	}
}

static double
rmse_of(const struct fit *f, const uint32_t *u, const uint32_t *i, const float *r, size_t n)
{
	size_t nc = (n + CHUNK - 1) / CHUNK;
	struct sse_job j = {f, u, i, r, n, cf_xcalloc(nc, sizeof(double))};
	double s = 0;

	par_for(f->threads, nc, 1, sse_range, &j);
	for (size_t c = 0; c < nc; c++)
		s += j.part[c];
	free(j.part);
	return n ? sqrt(s / n) : 0;
}

/* Training RMSE, user by user (rows reused; per-user sums added in order). */
struct tr_job {
	const struct fit *f;
	double *part;
};

static void
tr_range(void *a, size_t lo, size_t hi, int tid)
{
	struct tr_job *j = a;
	const struct fit *f = j->f;

	(void)tid;
	for (size_t u = lo; u < hi; u++) {
		double s = 0;
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) {
			double d = f->byu.val[t] - predict(f, (uint32_t)u, f->byu.idx[t]);
			s += d * d;
		}
		j->part[u] = s;
	}
}

static double
train_rmse(const struct fit *f)
{
	struct tr_job j = {f, cf_xcalloc((size_t)f->nu + 1, sizeof(double))};
	double s = 0;

	par_for(f->threads, f->nu, 256, tr_range, &j);
	for (uint32_t u = 0; u < f->nu; u++)
		s += j.part[u];
	free(j.part);
	return sqrt(s / f->n);
}

/* ---- top-N validation (iALS, popular): NDCG@10 and recall@10 ---- */

#define TOPN 10

struct topn_job {
	const struct fit *f;
	double *ndcg, *recall;  /* per user; -1: not evaluated */
	float **score;          /* per thread: ni scores */
	unsigned char **rel;    /* per thread: ni flags */
};

static void
topn_range(void *a, size_t lo, size_t hi, int tid)
{
	struct topn_job *j = a;
	const struct fit *f = j->f;
	float *s = j->score[tid];
	unsigned char *rel = j->rel[tid];

	for (size_t u = lo; u < hi; u++) {
		uint64_t a0 = f->vbyu.ptr[u], a1 = f->vbyu.ptr[u + 1];
		uint64_t t0 = f->byu.ptr[u], t1 = f->byu.ptr[u + 1];
		j->ndcg[u] = j->recall[u] = -1;
		if (a0 == a1 || t0 == t1)
			continue;       /* nothing held out, or a user unknown to training */
		memcpy(s, f->bi, f->ni * sizeof *s);
		if (f->k > 0)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)f->ni, f->k, 1.0f, f->Q,
			            f->kp, f->P + u * f->kp, 1, 1.0f, s, 1);
		for (uint64_t t = t0; t < t1; t++)
			s[f->byu.idx[t]] = -INFINITY;
		size_t nrel = 0;
		for (uint64_t t = a0; t < a1; t++) {
			if (!rel[f->vbyu.idx[t]])
				nrel++;
			rel[f->vbyu.idx[t]] = 1;
		}
		/* Top TOPN by score, ties by lower index. */
		uint32_t top[TOPN];
		int nt = 0;
		for (uint32_t i = 0; i < f->ni; i++) {
			if (s[i] == -INFINITY)
				continue;
			if (nt == TOPN && !(s[i] > s[top[TOPN - 1]]))
				continue;
			int p = nt < TOPN ? nt++ : TOPN - 1;
			while (p > 0 && s[i] > s[top[p - 1]]) {
				top[p] = top[p - 1];
				p--;
			}
			top[p] = i;
		}
		double dcg = 0, idcg = 0;
		int hits = 0;
		for (int p = 0; p < nt; p++)
			if (rel[top[p]]) {
				dcg += 1 / log2(p + 2.0);
				hits++;
			}
		for (size_t p = 0; p < (nrel < TOPN ? nrel : TOPN); p++)
			idcg += 1 / log2(p + 2.0);
		j->ndcg[u] = dcg / idcg;
		j->recall[u] = (double)hits / nrel;
		for (uint64_t t = a0; t < a1; t++)
			rel[f->vbyu.idx[t]] = 0;
	}
}

static double
topn_eval(const struct fit *f, double *recall)
{
	struct topn_job j = {f, cf_xmalloc(f->nu * sizeof(double)),
	                     cf_xmalloc(f->nu * sizeof(double)),
	                     cf_xcalloc(f->threads, sizeof(float *)),
	                     cf_xcalloc(f->threads, sizeof(unsigned char *))};
	double nd = 0, rc = 0;
	size_t users = 0;

	for (int t = 0; t < f->threads; t++) {
		j.score[t] = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
		j.rel[t] = cf_xcalloc((size_t)f->ni + 1, 1);
	}
	par_for(f->threads, f->nu, 16, topn_range, &j);
	for (uint32_t u = 0; u < f->nu; u++)
		if (j.ndcg[u] >= 0) {
			nd += j.ndcg[u];
			rc += j.recall[u];
			users++;
		}
	for (int t = 0; t < f->threads; t++) {
		free(j.score[t]);
		free(j.rel[t]);
	}
	free(j.score);
	free(j.rel);
	free(j.ndcg);
	free(j.recall);
	*recall = users ? rc / users : 0;
	return users ? nd / users : 0;
}

/* ------------------------------------------------------------ solves */

/* Rows gathered per ssyrk call: bounded scratch whatever the row count. */
#define GATHER 256

struct scratch {
	float *Z;               /* GATHER rows of stride dz */
	float *y;               /* GATHER targets / weights */
	float *A, *A0;          /* (k+1)^2: the system, and Z^T Z kept for the loss */
	float *b, *b0;          /* k+1 */
};

/* Row stride of the gathered features: k + 1 rounded up to 8 floats. */
static int
zstride(int k)
{
	return (k + 1 + 7) / 8 * 8;
}

static void
scratch_init(struct scratch *s, int k)
{
	size_t d = (size_t)k + 1;

	s->Z = aligned_alloc(64, (size_t)GATHER * zstride(k) * sizeof(float));
	if (!s->Z)
		cf_die("out of memory");
	memset(s->Z, 0, (size_t)GATHER * zstride(k) * sizeof(float));
	s->y = cf_xmalloc(GATHER * sizeof(float));
	s->A = cf_xmalloc(d * d * sizeof(float));
	s->A0 = cf_xmalloc(d * d * sizeof(float));
	s->b = cf_xmalloc(d * sizeof(float));
	s->b0 = cf_xmalloc(d * sizeof(float));
}

static void
scratch_free(struct scratch *s)
{
	free(s->Z);
	free(s->y);
	free(s->A);
	free(s->A0);
	free(s->b);
	free(s->b0);
}

/*
 * One least-squares solve against fixed factors F (rows of stride ldf,
 * k columns used) from n entries idx[]/val[].
 *
 * explicit (G == NULL): unknowns x = [p; b] (k + 1), features [F_j; 1],
 *   targets y_j = val_j - mu - fb[j]; minimizes
 *   sum (y_j - x.z_j)^2 + regf |p|^2 + regb b^2.
 * implicit (G = F^T F, upper triangle, k x k): unknowns p (k); minimizes
 *   sum over all j of c_j (pref_j - p.F_j)^2 + regf |p|^2 with
 *   c_j = 1 + alpha val_j and pref 1 for the n entries, c = 1 and pref 0
 *   for the others:  (G + sum alpha val_j F_j F_j^T + regf I) p
 *   = sum (1 + alpha val_j) F_j  (Hu, Koren, Volinsky 2008).
 * Writes p (k floats) and *b (explicit), and *loss: the data term of the
 * objective at the solution (sum of squared errors; for iALS the weighted
 * sum over all columns), from the normal equations:
 *   loss = y.y - 2 x.(Z^T y) + x^T (Z^T Z) x  (iALS: sum c - 2 x.b + x^T A0 x).
 * Returns the LAPACK info (0: ok).
 */
static int
solve_one(int k, const float *F, size_t ldf, const float *fb, double mu,
          const uint32_t *idx, const float *val, size_t n, double regf, double regb,
          const float *G, double alpha, struct scratch *s, float *p, float *b, double *loss)
{
	int d = G ? k : k + 1, dz = zstride(k), one = 1, info = 0;
	float *A = s->A, *rhs = s->b;
	double yy = 0;

	if (G)
		memcpy(A, G, (size_t)k * k * sizeof *A);
	else
		memset(A, 0, (size_t)d * d * sizeof *A);
	memset(rhs, 0, (size_t)d * sizeof *rhs);
	for (size_t a = 0; a < n; a += GATHER) {
		size_t m = n - a < GATHER ? n - a : GATHER;
		for (size_t j = 0; j < m; j++) {
			if (j + 8 < m) {
				const char *nx = (const char *)(F + (size_t)idx[a + j + 8] * ldf);
				for (int c = 0; c < k * 4; c += 64)
					__builtin_prefetch(nx + c, 0);
			}
			float *z = s->Z + j * dz;
			memcpy(z, F + (size_t)idx[a + j] * ldf, (size_t)k * sizeof *z);
			if (G) {
				float c = (float)(alpha * val[a + j]);
				s->y[j] = 1 + c;
				yy += 1 + c;
			} else {
				float y = (float)(val[a + j] - mu - fb[idx[a + j]]);
				z[k] = 1;
				s->y[j] = y;
				yy += (double)y * y;
			}
		}
		cblas_sgemv(CblasRowMajor, CblasTrans, (int)m, d, 1.0f, s->Z, dz, s->y, 1, 1.0f,
		            rhs, 1);
		if (G) {
			/* Rows scaled by sqrt(alpha val) for the correction term. */
			for (size_t j = 0; j < m; j++) {
				float w = sqrtf(s->y[j] - 1);
				v8f vw = {w, w, w, w, w, w, w, w};
				for (int c = 0; c < dz; c += 8) {
					v8f x;
					memcpy(&x, s->Z + j * dz + c, sizeof x);
					x *= vw;
					memcpy(s->Z + j * dz + c, &x, sizeof x);
				}
			}
		}
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)m, 1.0f, s->Z, dz,
		            1.0f, A, d);
	}
	if (loss) {
		memcpy(s->A0, A, (size_t)d * d * sizeof *A);
		memcpy(s->b0, rhs, (size_t)d * sizeof *rhs);
	}
	for (int c = 0; c < k; c++)
		A[c * d + c] += (float)regf;
	if (!G)
		A[k * d + k] += (float)regb;
	/* Row-major upper is column-major lower. */
	sposv_("L", &d, &one, A, &d, rhs, &d, &info, 1);
	if (info != 0)
		return info;
	memcpy(p, rhs, (size_t)k * sizeof *p);
	if (!G && b)
		*b = rhs[k];
	if (loss) {
		const float *x = rhs;
		double xb = 0, xax = 0;
		for (int r = 0; r < d; r++) {
			double t = 0;
			for (int c = r + 1; c < d; c++)
				t += (double)s->A0[r * d + c] * x[c];
			xax += x[r] * ((double)s->A0[r * d + r] * x[r] + 2 * t);
			xb += (double)x[r] * s->b0[r];
		}
		*loss = yy - 2 * xb + xax;
		if (*loss < 0)
			*loss = 0;
	}
	return 0;
}

/*
 * The factor penalty of one explicit ALS solve from n ratings: reg * sqrt(n),
 * between plain L2 (reg) and ALS-WR's reg * n (Zhou et al. 2008): on
 * MovieLens it was clearly better than either (cross-validated, not on
 * the test split).  The bias penalty is reg_bias whatever n, as in the
 * baseline.
 */
static double
als_regf(double reg, size_t n)
{
	return reg * sqrt((double)n);
}

/* iALS: a plain penalty, the same for every row (as Hu et al.). */
static double
ials_regf(double reg, size_t n)
{
	(void)n;
	return reg;
}

struct als_job {
	struct fit *f;
	const struct csr *c;    /* this side's rows */
	const float *F, *fb;    /* the other side: factors (stride kp), biases */
	float *X, *xb;          /* this side */
	const unsigned char *fix;
	const float *G;         /* iALS */
	double *loss;           /* per entity: squared error, or iALS loss */
	struct scratch *s;      /* per thread */
	atomic_int bad;         /* first entity whose system was singular, + 1 */
};

static void
als_range(void *a, size_t lo, size_t hi, int tid)
{
	struct als_job *j = a;
	struct fit *f = j->f;
	int k = f->k, kp = f->kp;

	for (size_t e = lo; e < hi; e++) {
		uint64_t a0 = j->c->ptr[e], a1 = j->c->ptr[e + 1];
		size_t n = a1 - a0;
		float *x = j->X + e * kp;
		j->loss[e] = 0;
		if (n == 0) {
			if (!(j->fix && j->fix[e])) {
				memset(x, 0, (size_t)k * sizeof *x);
				j->xb[e] = 0;
			}
			continue;
		}
		int rc;
		double l = 0;
		if (j->G)
			rc = solve_one(k, j->F, kp, NULL, 0, j->c->idx + a0, j->c->val + a0, n,
			               ials_regf(f->p.reg, n), 0, j->G, f->p.alpha, &j->s[tid], x, NULL,
			               &l);
		else
			rc = solve_one(k, j->F, kp, j->fb, f->mu, j->c->idx + a0, j->c->val + a0, n,
			               als_regf(f->p.reg, n), f->p.reg_bias, NULL, 0, &j->s[tid],
			               x, &j->xb[e], &l);
		if (rc != 0) {
			int zero = 0;
			atomic_compare_exchange_strong(&j->bad, &zero, (int)e + 1);
			continue;
		}
		/* iALS: the loss of this row includes its penalty. */
		if (j->G)
			l += ials_regf(f->p.reg, n) * dotk(x, x, k);
		j->loss[e] = l;
	}
}

/* One half-step of ALS / iALS: solves every row of c.  Returns summed loss or NAN. */
static double
als_half(struct fit *f, const struct csr *c, uint32_t nrows, const float *F,
         const float *fb, uint32_t nother, float *X, float *xb, const unsigned char *fix,
         int implicit, const char *what)
{
	struct als_job j;
	float *G = NULL;
	double total = 0;

	memset(&j, 0, sizeof j);
	if (implicit) {
		G = cf_xcalloc((size_t)f->k * f->k, sizeof *G);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, f->k, (int)nother, 1.0f, F,
		            f->kp, 0.0f, G, f->k);
	}
	j.f = f;
	j.c = c;
	j.F = F;
	j.fb = fb;
	j.X = X;
	j.xb = xb;
	j.fix = fix;
	j.G = G;
	j.loss = cf_xmalloc(((size_t)nrows + 1) * sizeof *j.loss);
	j.s = cf_xmalloc(f->threads * sizeof *j.s);
	atomic_init(&j.bad, 0);
	for (int t = 0; t < f->threads; t++)
		scratch_init(&j.s[t], f->k);
	par_for(f->threads, nrows, 64, als_range, &j);
	for (uint32_t e = 0; e < nrows; e++)
		total += j.loss[e];
	int bad = atomic_load(&j.bad);
	if (bad) {
		fail(f, "%s: the system of %s %d is singular: use --reg > 0", cf_algo_name(f->p.algo),
		     what, bad - 1);
		total = NAN;
	}
	for (int t = 0; t < f->threads; t++)
		scratch_free(&j.s[t]);
	free(j.s);
	free(j.loss);
	free(G);
	return total;
}

/* ------------------------------------------------------------ SGD */

struct sgd {
	struct fit *f;
	int B;
	/* Ratings grouped by block, by user inside (permuted indices). */
	uint32_t *ru, *ri;
	float *rr;
	/* Item block of each rating in byu's order: with the users' blocks
	 * (ub), where each rating went, to give byu back after training. */
	unsigned char *ibb;
	uint16_t *ub;           /* user -> block row */
	uint64_t *bptr;         /* B*B + 1 */
	double *bsse;           /* per block, this epoch */
	float lr;
	/*
	 * The parameters in permuted order (user u is row pu[u]), so that a
	 * block's users and items are contiguous ranges: no two threads share
	 * a cache line of biases, and a block's rows stay together in memory.
	 */
	uint32_t *pu, *pi;
	float *P, *Q, *bu, *bi;
	float *rbu, *rbi;       /* per-step bias penalties, permuted */
	/* scheduler */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *rowbusy, *colbusy, *done;
	int remaining;
	int *cand;
	cf_rng rng;
};

/* Ratings ahead whose factor rows the SGD loop prefetches. */
#define SGD_AHEAD 12

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define CF_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CF_CLONES
#endif

/*
 * The SGD pass over ratings (ru, ri, rr)[0..n): for each, the error e of the
 * prediction, then
 *   bu += lr (e - reg_bias bu),  bi += lr (e - reg_bias bi),
 *   p  += lr (e q - reg p),      q  += lr (e p - reg q)
 * (p and q both from before the step).  kp is a multiple of 8.
 * Returns the sum of e^2.
 */
CF_CLONES static double
sgd_run(const uint32_t *ru, const uint32_t *ri, const float *rr, size_t n,
        float *restrict P, float *restrict Q, float *restrict bu, float *restrict bi,
        int kp, float mu, float lr, float reg, const float *rbu, const float *rbi)
{
	double sse = 0;
	const float shrink = 1 - lr * reg;

	for (size_t t = 0; t < n; t++) {
		uint32_t u = ru[t], i = ri[t];
		float *restrict p = P + (size_t)u * kp, *restrict q = Q + (size_t)i * kp;
		/* Item rows are random accesses: fetch a few ratings ahead. */
		if (t + SGD_AHEAD < n) {
			const char *nq = (const char *)(Q + (size_t)ri[t + SGD_AHEAD] * kp);
			const char *np = (const char *)(P + (size_t)ru[t + SGD_AHEAD] * kp);
			for (int c = 0; c < kp * 4; c += 64) {
				__builtin_prefetch(nq + c, 1);
				__builtin_prefetch(np + c, 1);
			}
			__builtin_prefetch(bi + ri[t + SGD_AHEAD], 1);
			__builtin_prefetch(rbi + ri[t + SGD_AHEAD], 0);
		}
		v8f acc = {0, 0, 0, 0, 0, 0, 0, 0};
		for (int c = 0; c < kp; c += 8) {
			v8f a, b;
			memcpy(&a, p + c, sizeof a);
			memcpy(&b, q + c, sizeof b);
			acc += a * b;
		}
		float dot = ((acc[0] + acc[4]) + (acc[1] + acc[5])) +
		            ((acc[2] + acc[6]) + (acc[3] + acc[7]));
		float e = rr[t] - (mu + bu[u] + bi[i] + dot);
		sse += (double)e * e;
		bu[u] = (1 - lr * rbu[u]) * bu[u] + lr * e;
		bi[i] = (1 - lr * rbi[i]) * bi[i] + lr * e;
		float g = lr * e;
		for (int c = 0; c < kp; c += 8) {
			v8f a, b, na, nb;
			memcpy(&a, p + c, sizeof a);
			memcpy(&b, q + c, sizeof b);
			na = shrink * a + g * b;
			nb = shrink * b + g * a;
			memcpy(p + c, &na, sizeof na);
			memcpy(q + c, &nb, sizeof nb);
		}
	}
	return sse;
}

static void
sgd_block(struct sgd *s, int blk)
{
	struct fit *f = s->f;

	uint64_t a = s->bptr[blk];

	s->bsse[blk] = sgd_run(s->ru + a, s->ri + a, s->rr + a, s->bptr[blk + 1] - a, s->P,
	                       s->Q, s->bu, s->bi, f->kp, (float)f->mu, s->lr, (float)f->p.reg,
	                       s->rbu, s->rbi);
}

/* Picks a free block at random (with the lock held); -1 if none is free now. */
static int
sgd_pick(struct sgd *s)
{
	int nc = 0, B = s->B;

	for (int b = 0; b < B * B; b++)
		if (!s->done[b] && !s->rowbusy[b / B] && !s->colbusy[b % B])
			s->cand[nc++] = b;
	if (nc == 0)
		return -1;
	int b = s->cand[cf_rng_below(&s->rng, (uint64_t)nc)];
	s->done[b] = 1;
	s->rowbusy[b / B] = s->colbusy[b % B] = 1;
	s->remaining--;
	return b;
}

static void *
sgd_worker(void *a)
{
	struct sgd *s = a;
	int B = s->B;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		int b = sgd_pick(s);
		if (b < 0) {
			if (s->remaining == 0)
				break;
			pthread_cond_wait(&s->cv, &s->mu);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		sgd_block(s, b);
		pthread_mutex_lock(&s->mu);
		s->rowbusy[b / B] = s->colbusy[b % B] = 0;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
sgd_setup(struct sgd *s, struct fit *f)
{
	uint32_t *pu = cf_xmalloc(((size_t)f->nu + 1) * sizeof *pu);
	uint32_t *pi = cf_xmalloc(((size_t)f->ni + 1) * sizeof *pi);
	cf_rng rng;
	int B;

	memset(s, 0, sizeof *s);
	s->pu = pu;
	s->pi = pi;
	s->f = f;
	/* A grid with room for every thread to find a free block; fixed for
	 * few threads, so results do not depend on the thread count. */
	B = 2 * f->threads + 2;
	if (B < 16)
		B = 16;
	s->B = B;
	cf_rng_seed(&rng, f->p.seed, 3);
	for (uint32_t a = 0; a < f->nu; a++)
		pu[a] = a;
	for (uint32_t a = 0; a < f->ni; a++)
		pi[a] = a;
	for (uint32_t a = f->nu; a > 1; a--) {
		uint32_t b = (uint32_t)cf_rng_below(&rng, a), t = pu[a - 1];
		pu[a - 1] = pu[b], pu[b] = t;
	}
	for (uint32_t a = f->ni; a > 1; a--) {
		uint32_t b = (uint32_t)cf_rng_below(&rng, a), t = pi[a - 1];
		pi[a - 1] = pi[b], pi[b] = t;
	}
	/*
	 * Block of each rating, then a stable counting sort by block of the
	 * rows taken in user order (byu), so each block is sorted by user.
	 * One array at a time, each of byu's freed once copied: the ratings
	 * are held once, as blocks, while SGD runs.
	 */
	s->bptr = cf_xcalloc((size_t)B * B + 1, sizeof *s->bptr);
	s->bsse = cf_xcalloc((size_t)B * B, sizeof *s->bsse);
	s->ub = cf_xmalloc(((size_t)f->nu + 1) * sizeof *s->ub);
	uint16_t *ib = cf_xmalloc(((size_t)f->ni + 1) * sizeof *ib);
	for (uint32_t a = 0; a < f->nu; a++)
		s->ub[a] = (uint16_t)((uint64_t)pu[a] * B / f->nu);
	for (uint32_t a = 0; a < f->ni; a++)
		ib[a] = (uint16_t)((uint64_t)pi[a] * B / f->ni);
	s->ibb = cf_xmalloc(f->n ? f->n : 1);
	for (uint32_t u = 0; u < f->nu; u++)
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) {
			s->ibb[t] = (unsigned char)ib[f->byu.idx[t]];
			s->bptr[s->ub[u] * B + s->ibb[t] + 1]++;
		}
	for (int b = 0; b < B * B; b++)
		s->bptr[b + 1] += s->bptr[b];
	free(ib);
	uint64_t *pos = cf_xmalloc(((size_t)B * B + 1) * sizeof *pos);
	size_t nb = (f->n ? f->n : 1) * sizeof(uint32_t);
	/* d = the block position of byu's entry t, for each t in order. */
#define SGD_WALK(body) do { \
		memcpy(pos, s->bptr, ((size_t)B * B + 1) * sizeof *pos); \
		for (uint32_t u = 0; u < f->nu; u++) { \
			uint64_t *bp = pos + (size_t)s->ub[u] * B; \
			for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) { \
				uint64_t d = bp[s->ibb[t]]++; \
				body; \
			} \
		} \
	} while (0)
	s->rr = cf_xmalloc(nb);
	SGD_WALK(s->rr[d] = f->byu.val[t]);
	free(f->byu.val);
	f->byu.val = NULL;
	s->ri = cf_xmalloc(nb);
	SGD_WALK(s->ri[d] = pi[f->byu.idx[t]]);
	free(f->byu.idx);
	f->byu.idx = NULL;
	s->ru = cf_xmalloc(nb);
	SGD_WALK(s->ru[d] = pu[u]);
	free(pos);
	/*
	 * Per-step penalties: reg on factors at every rating (reg * n in all,
	 * the usual SGD objective), and reg_bias / n on a bias seen n times:
	 * reg_bias in all, as in the baseline.  The fixed bias penalty was worth
	 * ~0.006 RMSE on MovieLens over a per-rating one.
	 */
	if (f->vn) {
		s->P = fmat(f->nu, f->kp);
		s->Q = fmat(f->ni, f->kp);
	}
	s->bu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
	s->bi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
	s->rbu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
	s->rbi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
	for (uint32_t a = 0; a < f->nu; a++) {
		double n = (double)(f->byu.ptr[a + 1] - f->byu.ptr[a]);
		s->rbu[pu[a]] = (float)(f->p.reg_bias / (n < 1 ? 1 : n));
	}
	for (uint32_t a = 0; a < f->ni; a++) {
		double n = (double)(f->byi.ptr[a + 1] - f->byi.ptr[a]);
		s->rbi[pi[a]] = (float)(f->p.reg_bias / (n < 1 ? 1 : n));
	}
	s->rowbusy = cf_xcalloc(B, 1);
	s->colbusy = cf_xcalloc(B, 1);
	s->done = cf_xcalloc((size_t)B * B, 1);
	s->cand = cf_xmalloc((size_t)B * B * sizeof *s->cand);
	cf_rng_seed(&s->rng, f->p.seed, 4);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

/* After training: byu's items and ratings back from the blocks, which are freed. */
static void
sgd_unbuild(struct sgd *s)
{
	struct fit *f = s->f;
	int B = s->B;
	uint32_t *upi = cf_xmalloc(((size_t)f->ni + 1) * sizeof *upi);
	uint64_t *pos = cf_xmalloc(((size_t)B * B + 1) * sizeof *pos);
	size_t nb = (f->n ? f->n : 1) * sizeof(uint32_t);

	for (uint32_t a = 0; a < f->ni; a++)
		upi[s->pi[a]] = a;
	free(s->ru);
	s->ru = NULL;
	f->byu.idx = cf_xmalloc(nb);
	SGD_WALK(f->byu.idx[t] = upi[s->ri[d]]);
	free(s->ri);
	s->ri = NULL;
	f->byu.val = cf_xmalloc(nb);
	SGD_WALK(f->byu.val[t] = s->rr[d]);
	free(s->rr);
	s->rr = NULL;
	free(s->ibb);
	s->ibb = NULL;
	free(pos);
	free(upi);
}
#undef SGD_WALK

static void
sgd_free(struct sgd *s)
{
	free(s->ru);
	free(s->ri);
	free(s->rr);
	free(s->ibb);
	free(s->ub);
	free(s->bptr);
	free(s->bsse);
	free(s->pu);
	free(s->pi);
	free(s->P);
	free(s->Q);
	free(s->bu);
	free(s->bi);
	free(s->rbu);
	free(s->rbi);
	free(s->rowbusy);
	free(s->colbusy);
	free(s->done);
	free(s->cand);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

/* Moves row a of X (rows of kp floats) to row d[a], in place (cycles). */
static void
permute_rows(float *X, uint32_t n, int kp, const uint32_t *d)
{
	unsigned char *done = cf_xcalloc((size_t)n + 1, 1);
	size_t rb = (size_t)kp * sizeof(float);
	float *carry = cf_xmalloc(rb + 1), *tmp = cf_xmalloc(rb + 1);

	for (uint32_t s = 0; s < n; s++) {
		if (done[s])
			continue;
		uint32_t cur = s, to;
		memcpy(carry, X + (size_t)s * kp, rb);
		do {
			to = d[cur];
			done[cur] = 1;
			memcpy(tmp, X + (size_t)to * kp, rb);
			memcpy(X + (size_t)to * kp, carry, rb);
			float *t = carry;
			carry = tmp;
			tmp = t;
			cur = to;
		} while (to != s);
	}
	free(done);
	free(carry);
	free(tmp);
}

/*
 * The parameters between the model's order and the permuted one.  Without
 * validation only the end wants them back: the factor matrices then move
 * (permuted in place and handed over) instead of being copied, so only
 * one copy of them is ever held.
 */
static void
sgd_sync(struct sgd *s, int to_fit)
{
	struct fit *f = s->f;
	size_t rb = (size_t)f->kp * sizeof(float);

	if (!f->vn) {
		if (to_fit) {
			uint32_t *inv = cf_xmalloc(((size_t)(f->nu > f->ni ? f->nu : f->ni) + 1) *
			                           sizeof *inv);
			for (uint32_t a = 0; a < f->nu; a++)
				inv[s->pu[a]] = a;
			permute_rows(s->P, f->nu, f->kp, inv);
			for (uint32_t a = 0; a < f->ni; a++)
				inv[s->pi[a]] = a;
			permute_rows(s->Q, f->ni, f->kp, inv);
			free(inv);
			free(f->P);
			free(f->Q);
			f->P = s->P;
			f->Q = s->Q;
			s->P = s->Q = NULL;
		} else {
			permute_rows(f->P, f->nu, f->kp, s->pu);
			permute_rows(f->Q, f->ni, f->kp, s->pi);
			free(s->P);
			free(s->Q);
			s->P = f->P;
			s->Q = f->Q;
			f->P = f->Q = NULL;
		}
		for (uint32_t a = 0; a < f->nu; a++)
			if (to_fit)
				f->bu[a] = s->bu[s->pu[a]];
			else
				s->bu[s->pu[a]] = f->bu[a];
		for (uint32_t a = 0; a < f->ni; a++)
			if (to_fit)
				f->bi[a] = s->bi[s->pi[a]];
			else
				s->bi[s->pi[a]] = f->bi[a];
		return;
	}
	for (uint32_t a = 0; a < f->nu; a++) {
		float *x = f->P + (size_t)a * f->kp, *y = s->P + (size_t)s->pu[a] * f->kp;
		if (to_fit) {
			memcpy(x, y, rb);
			f->bu[a] = s->bu[s->pu[a]];
		} else {
			memcpy(y, x, rb);
			s->bu[s->pu[a]] = f->bu[a];
		}
	}
	for (uint32_t a = 0; a < f->ni; a++) {
		float *x = f->Q + (size_t)a * f->kp, *y = s->Q + (size_t)s->pi[a] * f->kp;
		if (to_fit) {
			memcpy(x, y, rb);
			f->bi[a] = s->bi[s->pi[a]];
		} else {
			memcpy(y, x, rb);
			s->bi[s->pi[a]] = f->bi[a];
		}
	}
}

/* One epoch; returns the mean squared error seen during the pass. */
static double
sgd_epoch(struct sgd *s, int epoch)
{
	struct fit *f = s->f;
	int B = s->B, nt = f->threads;
	pthread_t th[64];
	double sse = 0;

	s->lr = (float)(f->p.lr / (1 + f->p.lr_decay * epoch));
	memset(s->done, 0, (size_t)B * B);
	s->remaining = B * B;
	if (nt > B / 2)
		nt = B / 2;
	if (nt > 64)
		nt = 64;
	for (int t = 1; t < nt; t++)
		if (pthread_create(&th[t], NULL, sgd_worker, s) != 0)
			cf_die("cannot create a thread:");
	sgd_worker(s);
	for (int t = 1; t < nt; t++)
		pthread_join(th[t], NULL);
	for (int b = 0; b < B * B; b++)
		sse += s->bsse[b];
	return f->n ? sse / f->n : 0;
}

/* ------------------------------------------------------------ baseline */

static void
baseline_iter(struct fit *f)
{
	for (uint32_t i = 0; i < f->ni; i++) {
		uint64_t a = f->byi.ptr[i], b = f->byi.ptr[i + 1];
		double s = 0;
		if (a == b && f->ifix && f->ifix[i])
			continue;
		for (uint64_t t = a; t < b; t++)
			s += f->byi.val[t] - f->mu - f->bu[f->byi.idx[t]];
		f->bi[i] = (float)(s / (f->p.reg_bias + (double)(b - a)));
	}
	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t a = f->byu.ptr[u], b = f->byu.ptr[u + 1];
		double s = 0;
		if (a == b && f->ufix && f->ufix[u])
			continue;
		for (uint64_t t = a; t < b; t++)
			s += f->byu.val[t] - f->mu - f->bi[f->byu.idx[t]];
		f->bu[u] = (float)(s / (f->p.reg_bias + (double)(b - a)));
	}
}

/* ------------------------------------------------------------ setup */

static int
check_params(struct fit *f)
{
	const cf_mf_params *p = &f->p;
	struct {
		const char *name;
		double v;
	} h[] = {{"lr", p->lr}, {"lr-decay", p->lr_decay}, {"reg", p->reg},
	         {"reg-bias", p->reg_bias}, {"alpha", p->alpha}, {"init-scale", p->init_scale}};

	if ((unsigned)p->algo > CF_POPULAR)
		return fail(f, "unknown algorithm %d", (int)p->algo), -1;
	for (size_t a = 0; a < sizeof h / sizeof h[0]; a++)
		if (!(h[a].v >= 0) || isinf(h[a].v))
			return fail(f, "--%s must be a finite number >= 0, not %g", h[a].name, h[a].v), -1;
	if (p->algo <= CF_IALS && p->k <= 0)
		return fail(f, "-k must be at least 1 for %s, not %d", cf_algo_name(p->algo), p->k), -1;
	if (p->k < 0 || p->k > 65536)
		return fail(f, "-k must be between 0 and 65536, not %d", p->k), -1;
	if (p->epochs <= 0)
		return fail(f, "--epochs must be at least 1, not %d", p->epochs), -1;
	if (p->algo == CF_SGD && p->lr <= 0)
		return fail(f, "--lr must be > 0 for sgd"), -1;
	if (p->patience < 0)
		return fail(f, "--patience must be >= 0, not %d", p->patience), -1;
	if (p->threads < 0)
		return fail(f, "--threads must be >= 0, not %d", p->threads), -1;
	return 0;
}

/* Index of every id of `from` in `to`, UINT32_MAX where absent. */
static uint32_t *
dict_map(const cf_idmap *from, const cf_idmap *to)
{
	uint32_t n = cf_idmap_count(from);
	uint32_t *m = cf_xmalloc(((size_t)n + 1) * sizeof *m);
	size_t len;

	for (uint32_t a = 0; a < n; a++) {
		const char *id = cf_idmap_id(from, a, &len);
		m[a] = cf_idmap_find(to, id, len);
	}
	return m;
}

/* `base`'s ids, then those of `more` it lacks (a warm start's dictionary). */
static cf_idmap *
dict_union(const cf_idmap *base, const cf_idmap *more)
{
	cf_idmap *d = cf_idmap_new();
	size_t len;

	for (uint32_t a = 0; a < cf_idmap_count(base); a++) {
		const char *id = cf_idmap_id(base, a, &len);
		cf_idmap_intern(d, id, len, NULL);
	}
	for (uint32_t a = 0; a < cf_idmap_count(more); a++) {
		const char *id = cf_idmap_id(more, a, &len);
		cf_idmap_intern(d, id, len, NULL);
	}
	return d;
}

static void
init_factors(float *X, uint32_t n, int k, int kp, double sd, uint64_t seed, uint64_t stream,
             const unsigned char *keep)
{
	cf_rng rng;

	cf_rng_seed(&rng, seed, stream);
	for (uint32_t a = 0; a < n; a++)
		for (int c = 0; c < k; c++) {
			float v = (float)(sd * cf_rng_normal(&rng));
			if (!(keep && keep[a]))
				X[(size_t)a * kp + c] = v;
		}
}

static void
set_attr_num(cf_schema *s, const char *key, double v)
{
	char b[40];

	snprintf(b, sizeof b, "%.17g", v);
	cf_schema_set(s, key, b);
}

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
	if (nondecreasing(item, n))
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
 * The model's seen items, sorted by (user, item): without a warm start,
 * byu's own arrays, sorted in place within each user and handed to the
 * model (the fit loses them); with one, the warm start's pairs not rated
 * again, then the new ratings, merged per user (the new ones win a tie).
 */
static void
build_seen(cf_model *m, struct fit *f, const cf_model *init)
{
	uint64_t maxn = 0, *key;
	uint32_t *ti;
	float *tr;
	char *tt;

	for (uint32_t u = 0; u < f->nu; u++) {
		uint64_t c = f->byu.ptr[u + 1] - f->byu.ptr[u];
		if (init && u < init->nusers)
			c += init->seen_ptr[u + 1] - init->seen_ptr[u];
		maxn = c > maxn ? c : maxn;
	}
	key = cf_xmalloc((maxn + 1) * sizeof *key);
	ti = cf_xmalloc((maxn + 1) * sizeof *ti);
	tr = cf_xmalloc((maxn + 1) * sizeof *tr);
	tt = cf_xmalloc((maxn + 1) * 8);
	if (!init) {
		int tw = f->ts.w;
		for (uint32_t u = 0; u < f->nu; u++) {
			uint64_t a = f->byu.ptr[u];
			seen_sort(f->byu.idx + a, f->byu.val + a, tw ? (char *)f->ts.a + a * tw : NULL,
			          tw, f->byu.ptr[u + 1] - a, key, ti, tr, tt);
		}
		memcpy(m->seen_ptr, f->byu.ptr, ((size_t)f->nu + 1) * sizeof *m->seen_ptr);
		m->nseen = f->n;
		m->seen_item = f->byu.idx;
		m->seen_rating = f->byu.val;
		f->byu.idx = NULL;
		f->byu.val = NULL;
		m->seen_ts = ts_unpack(&f->ts, f->n);
	} else {
		int has_ts = f->ts.w && init->seen_ts;
		size_t cap = f->n + init->nseen, w = 0;
		uint32_t *mark = cf_xmalloc(((size_t)f->ni + 1) * sizeof *mark);
		int64_t *t64 = (int64_t *)(void *)tt;
		m->seen_item = cf_xmalloc((cap + 1) * sizeof *m->seen_item);
		m->seen_rating = cf_xmalloc((cap + 1) * sizeof *m->seen_rating);
		m->seen_ts = has_ts ? cf_xmalloc((cap + 1) * sizeof *m->seen_ts) : NULL;
		memset(mark, 0xff, ((size_t)f->ni + 1) * sizeof *mark);
		m->seen_ptr[0] = 0;
		for (uint32_t u = 0; u < f->nu; u++) {
			uint64_t a = f->byu.ptr[u], b = f->byu.ptr[u + 1];
			size_t c = 0;
			if (u < init->nusers) {
				for (uint64_t t = a; t < b; t++)
					mark[f->byu.idx[t]] = u;
				for (uint64_t t = init->seen_ptr[u]; t < init->seen_ptr[u + 1]; t++) {
					if (mark[init->seen_item[t]] == u)
						continue;
					m->seen_item[w + c] = init->seen_item[t];
					m->seen_rating[w + c] = init->seen_rating[t];
					if (has_ts)
						m->seen_ts[w + c] = init->seen_ts[t];
					c++;
				}
			}
			for (uint64_t t = a; t < b; t++, c++) {
				m->seen_item[w + c] = f->byu.idx[t];
				m->seen_rating[w + c] = f->byu.val[t];
				if (has_ts)
					m->seen_ts[w + c] = ts_at(&f->ts, t);
			}
			seen_sort(m->seen_item + w, m->seen_rating + w,
			          has_ts ? (void *)(m->seen_ts + w) : NULL, has_ts ? 8 : 0, c, key, ti,
			          tr, (char *)t64);
			w += c;
			m->seen_ptr[u + 1] = w;
		}
		m->nseen = w;
		free(mark);
	}
	free(key);
	free(ti);
	free(tr);
	free(tt);
}

/*
 * Builds byu and byi (per the algorithm) from the rows, which it consumes.
 * Peak: the rows (12 bytes a rating, plus 4 or 8 of timestamp) and one
 * 4-byte array; the input is usually sorted by user already, when byu is
 * the rows themselves.
 */
static void
fit_build(struct fit *f, struct rows *rw)
{
	size_t n = rw->n;
	int sorted = nondecreasing(rw->u, n);
	int need_byi = f->p.algo == CF_ALS || f->p.algo == CF_IALS || f->p.algo == CF_BASELINE;

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

static void
fit_free(struct fit *f)
{
	csr_free(&f->byu);
	csr_free(&f->byi);
	csr_free(&f->vbyu);
	free(f->ts.a);
	free(f->bu);
	free(f->bi);
	free(f->P);
	free(f->Q);
	free(f->ufix);
	free(f->ifix);
	free(f->vu);
	free(f->vi);
	free(f->vr);
}

struct snap {
	float *bu, *bi, *P, *Q;
};

static void
snap_take(struct snap *s, const struct fit *f)
{
	size_t pb = (size_t)f->nu * f->kp * sizeof(float), qb = (size_t)f->ni * f->kp * sizeof(float);

	if (!s->bu) {
		s->bu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
		s->bi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
		s->P = cf_xmalloc(pb + 1);
		s->Q = cf_xmalloc(qb + 1);
	}
	memcpy(s->bu, f->bu, f->nu * sizeof(float));
	memcpy(s->bi, f->bi, f->ni * sizeof(float));
	memcpy(s->P, f->P, pb);
	memcpy(s->Q, f->Q, qb);
}

static void
snap_restore(const struct snap *s, struct fit *f)
{
	memcpy(f->bu, s->bu, f->nu * sizeof(float));
	memcpy(f->bi, s->bi, f->ni * sizeof(float));
	memcpy(f->P, s->P, (size_t)f->nu * f->kp * sizeof(float));
	memcpy(f->Q, s->Q, (size_t)f->ni * f->kp * sizeof(float));
}

/* ------------------------------------------------------------ training */

/*
 * Checks the parameters and sets up f for n ratings; -1 (f->err set) if
 * they are refused.
 */
static int
fit_init(struct fit *f, const cf_mf_params *p, size_t n, const cf_model *init, char *err,
         size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->p = *p;
	f->err = err;
	f->errlen = errlen;
	if (err && errlen)
		err[0] = 0;
	pthread_once(&blas_once, blas_single);
	if (p->algo == CF_BASELINE || p->algo == CF_POPULAR)
		f->p.k = 0;
	if (check_params(f) < 0)
		return -1;
	if (n == 0) {
		fail(f, "no ratings to train on");
		return -1;
	}
	f->k = f->p.k;
	f->kp = (f->k + 7) / 8 * 8;
	f->threads = p->threads > 0 ? p->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (f->threads < 1)
		f->threads = 1;
	if (f->threads > 64)
		f->threads = 64;
	f->explicit_ = p->algo == CF_SGD || p->algo == CF_ALS || p->algo == CF_BASELINE;
	if (init && init->k != f->k && f->k > 0) {
		fail(f, "the --init model has k=%d, training asks for k=%d", init->k, f->k);
		return -1;
	}
	return 0;
}

static cf_model *fit_run(struct fit *f, const cf_ratings *train, struct rows *rw,
                         const cf_ratings *valid, const cf_model *init);

cf_model *
cf_mf_train(const cf_ratings *train, const cf_ratings *valid, const cf_mf_params *p,
            const cf_model *init, char *err, size_t errlen)
{
	struct fit F;
	struct rows rw;
	size_t n = train->n;

	if (fit_init(&F, p, n, init, err, errlen) < 0)
		return NULL;
	rw.n = n;
	rw.u = memcpy(cf_xmalloc(n * sizeof *rw.u), train->user, n * sizeof *rw.u);
	rw.i = memcpy(cf_xmalloc(n * sizeof *rw.i), train->item, n * sizeof *rw.i);
	rw.r = memcpy(cf_xmalloc(n * sizeof *rw.r), train->rating, n * sizeof *rw.r);
	rw.t = ts_pack(train->has_ts ? train->ts : NULL, n, 0);
	return fit_run(&F, train, &rw, valid, init);
}

cf_model *
cf_mf_train_take(cf_ratings *train, const cf_ratings *valid, const cf_mf_params *p,
                 const cf_model *init, char *err, size_t errlen)
{
	struct fit F;
	struct rows rw;

	rw.n = train->n;
	rw.u = train->user;
	rw.i = train->item;
	rw.r = train->rating;
	rw.t.w = 0;
	rw.t.a = NULL;
	train->user = train->item = NULL;
	train->rating = NULL;
	if (fit_init(&F, p, rw.n, init, err, errlen) < 0) {
		free(train->ts);
		train->ts = NULL;
		rows_free(&rw);
		return NULL;
	}
	rw.t = ts_pack(train->has_ts ? train->ts : NULL, rw.n, 1);
	if (!train->has_ts)
		free(train->ts);
	train->ts = NULL;
	/* The arrays may have room to spare (grown while reading). */
	rw.u = cf_xrealloc(rw.u, rw.n * sizeof *rw.u);
	rw.i = cf_xrealloc(rw.i, rw.n * sizeof *rw.i);
	rw.r = cf_xrealloc(rw.r, rw.n * sizeof *rw.r);
	return fit_run(&F, train, &rw, valid, init);
}

/* Trains from the rows (train's indices; consumed); train gives the rest. */
static cf_model *
fit_run(struct fit *f, const cf_ratings *train, struct rows *rw, const cf_ratings *valid,
        const cf_model *init)
{
	const cf_mf_params *p = &f->p;
	cf_idmap *users = NULL, *items = NULL;
	cf_model *m = NULL;
	struct sgd sg;
	struct snap best = {0};
	int have_sgd = 0;

	/* Model dictionaries: the init model's ids first (so its indices
	 * stay), then the new ones; training rows mapped into them. */
	if (init) {
		users = dict_union(init->users, train->users);
		items = dict_union(init->items, train->items);
	} else {
		users = dict_union(train->users, train->users);
		items = dict_union(train->items, train->items);
	}
	f->nu = cf_idmap_count(users);
	f->ni = cf_idmap_count(items);
	f->n = rw->n;
	{
		uint32_t *um = dict_map(train->users, users), *im = dict_map(train->items, items);
		for (size_t j = 0; j < f->n; j++) {
			rw->u[j] = um[rw->u[j]];
			rw->i[j] = im[rw->i[j]];
		}
		free(um);
		free(im);
	}
	f->has_scale = train->has_scale;
	f->lo = (float)train->rating_min;
	f->hi = (float)train->rating_max;
	{
		double s = 0;
		for (size_t j = 0; j < f->n; j++)
			s += rw->r[j];
		f->mu = p->algo == CF_POPULAR || p->algo == CF_IALS ? 0 : s / f->n;
		if (!finite_all(rw->r, f->n)) {
			fail(f, "a rating is NaN or infinite");
			rows_free(rw);
			goto out;
		}
	}
	if (init && f->explicit_ && strcmp(init->algo, "popular") != 0 &&
	    strcmp(init->algo, "ials") != 0)
		f->mu = init->mu;
	fit_build(f, rw);

	/* Parameters, fresh or warm-started. */
	f->bu = cf_xcalloc((size_t)f->nu + 1, sizeof *f->bu);
	f->bi = cf_xcalloc((size_t)f->ni + 1, sizeof *f->bi);
	f->P = fmat(f->nu, f->kp);
	f->Q = fmat(f->ni, f->kp);
	if (init) {
		f->ufix = cf_xcalloc((size_t)f->nu + 1, 1);
		f->ifix = cf_xcalloc((size_t)f->ni + 1, 1);
		int copyb = f->explicit_ && strcmp(init->algo, "popular") != 0;
		for (uint32_t u = 0; u < init->nusers; u++) {
			f->ufix[u] = 1;
			if (copyb)
				f->bu[u] = init->bu[u];
			if (f->k > 0)
				memcpy(f->P + (size_t)u * f->kp, init->P + (size_t)u * init->k,
				       (size_t)f->k * sizeof(float));
		}
		for (uint32_t i = 0; i < init->nitems; i++) {
			f->ifix[i] = 1;
			if (copyb)
				f->bi[i] = init->bi[i];
			if (f->k > 0)
				memcpy(f->Q + (size_t)i * f->kp, init->Q + (size_t)i * init->k,
				       (size_t)f->k * sizeof(float));
		}
	}
	if (f->k > 0) {
		double sd = f->p.init_scale / sqrt((double)f->k);
		init_factors(f->P, f->nu, f->k, f->kp, sd, f->p.seed, 1, f->ufix);
		init_factors(f->Q, f->ni, f->k, f->kp, sd, f->p.seed, 2, f->ifix);
		/* Ids with no ratings (a split's full dictionaries) and no warm
		 * start get no factors: they are predicted by biases alone. */
		for (uint32_t u = 0; u < f->nu; u++)
			if (f->byu.ptr[u] == f->byu.ptr[u + 1] && !(f->ufix && f->ufix[u]))
				memset(f->P + (size_t)u * f->kp, 0, (size_t)f->kp * sizeof(float));
		for (uint32_t i = 0; i < f->ni; i++)
			if (f->byi.ptr[i] == f->byi.ptr[i + 1] && !(f->ifix && f->ifix[i]))
				memset(f->Q + (size_t)i * f->kp, 0, (size_t)f->kp * sizeof(float));
	}

	/* Validation rows, mapped by raw id. */
	if (valid && valid->n > 0) {
		uint32_t *um = dict_map(valid->users, users), *im = dict_map(valid->items, items);
		f->vn = valid->n;
		f->vu = cf_xmalloc(f->vn * sizeof *f->vu);
		f->vi = cf_xmalloc(f->vn * sizeof *f->vi);
		f->vr = cf_xmalloc(f->vn * sizeof *f->vr);
		for (size_t j = 0; j < f->vn; j++) {
			f->vu[j] = um[valid->user[j]];
			f->vi[j] = im[valid->item[j]];
			f->vr[j] = valid->rating[j];
		}
		free(um);
		free(im);
		if (!f->explicit_) {
			/* Top-N: each known user's held-out known items. */
			size_t nk = 0;
			uint32_t *ku = cf_xmalloc(f->vn * sizeof *ku), *ki = cf_xmalloc(f->vn * sizeof *ki);
			for (size_t j = 0; j < f->vn; j++)
				if (f->vu[j] != UINT32_MAX && f->vi[j] != UINT32_MAX) {
					ku[nk] = f->vu[j];
					ki[nk++] = f->vi[j];
				}
			csr_build(&f->vbyu, f->nu, nk, ku, ki, f->vr);
			free(ku);
			free(ki);
		}
	}

	const char *metric = f->explicit_ ? "rmse" : "loss";
	const char *vmetric = f->explicit_ ? "valid_rmse" : "valid_ndcg10";
	if (!p->quiet)
		fprintf(stderr, "%6s %12s %12s%s %8s\n", "epoch", f->explicit_ ? "train_rmse" : "train_loss",
		        f->vn ? vmetric : "", f->vn && !f->explicit_ ? "  valid_recall10" : "", "seconds");
	if (p->log)
		fprintf(p->log, "epoch,train_%s%s%s,seconds\n", metric, f->vn ? "," : "",
		        f->vn ? vmetric : "");

	if (p->algo == CF_SGD) {
		sgd_setup(&sg, f);
		sgd_sync(&sg, 0);
		have_sgd = 1;
	}
	double best_v = NAN, last_train = NAN, last_v = NAN, vrecall = NAN;
	int best_ep = 0, ep, since = 0;
	for (ep = 1; ep <= f->p.epochs; ep++) {
		double t0 = now(), tr = 0;
		switch (p->algo) {
		case CF_SGD:
			tr = sqrt(sgd_epoch(&sg, ep - 1));
			break;
		case CF_ALS:
		case CF_IALS: {
			int imp = p->algo == CF_IALS;
			double l = als_half(f, &f->byi, f->ni, f->P, f->bu, f->nu, f->Q, f->bi, f->ifix,
			                    imp, "item");
			if (!isnan(l))
				l = als_half(f, &f->byu, f->nu, f->Q, f->bi, f->ni, f->P, f->bu, f->ufix,
				             imp, "user");
			if (isnan(l) && f->err && f->err[0])
				goto out;
			tr = imp ? l / f->n : sqrt(l / f->n);
			break;
		}
		case CF_BASELINE:
			baseline_iter(f);
			tr = train_rmse(f);
			break;
		case CF_POPULAR:
			for (uint32_t i = 0; i < f->ni; i++)
				f->bi[i] = (float)(f->byi.ptr[i + 1] - f->byi.ptr[i]);
			tr = 0;
			break;
		}
		int ok = p->algo == CF_SGD ? params_finite(f, sg.bu, sg.bi, sg.P, sg.Q)
		                           : params_finite(f, f->bu, f->bi, f->P, f->Q);
		if (!isfinite(tr) || !ok) {
			fail(f, "%s diverged at epoch %d (NaN or infinite factors): lower --lr "
			     "(now %g) or raise --reg (now %g)", cf_algo_name(p->algo), ep, f->p.lr,
			     f->p.reg);
			goto out;
		}
		last_train = tr;
		/* SGD's permuted parameters back in model order when needed. */
		if (p->algo == CF_SGD && (f->vn || ep == f->p.epochs))
			sgd_sync(&sg, 1);
		double v = NAN;
		if (f->vn)
			v = f->explicit_ ? rmse_of(f, f->vu, f->vi, f->vr, f->vn) : topn_eval(f, &vrecall);
		last_v = v;
		double secs = now() - t0;
		if (!p->quiet) {
			fprintf(stderr, "%6d %12.6f", ep, tr);
			if (f->vn)
				fprintf(stderr, " %12.6f", v);
			if (f->vn && !f->explicit_)
				fprintf(stderr, " %16.6f", vrecall);
			fprintf(stderr, " %8.2f\n", secs);
		}
		if (p->log) {
			fprintf(p->log, "%d,%.6f", ep, tr);
			if (f->vn)
				fprintf(p->log, ",%.6f", v);
			fprintf(p->log, ",%.3f\n", secs);
		}
		if (f->vn) {
			int better = isnan(best_v) || (f->explicit_ ? v < best_v : v > best_v);
			if (better) {
				best_v = v;
				best_ep = ep;
				since = 0;
				if (p->patience > 0)
					snap_take(&best, f);
			} else if (p->patience > 0 && ++since >= p->patience) {
				break;
			}
		}
		if (p->algo == CF_POPULAR)
			break;
	}
	int epochs_run = ep > f->p.epochs ? f->p.epochs : ep;
	if (p->algo == CF_POPULAR)
		epochs_run = 1;
	if (f->vn && p->patience > 0 && best_ep != epochs_run && best.bu) {
		snap_restore(&best, f);
		last_v = best_v;
	}
	if (f->vn && p->patience == 0)
		best_ep = epochs_run;
	if (!f->vn)
		best_ep = epochs_run;

	/*
	 * The figures that need the training ratings (byu in input order),
	 * then the model; byu's arrays become its seen table, the rest goes
	 * first so that the peak stays that of training.
	 */
	if (have_sgd) {
		sgd_unbuild(&sg);
		sgd_free(&sg);
		have_sgd = 0;
	}
	double final_rmse = f->explicit_ ? train_rmse(f) : NAN, final_recall = vrecall;
	if (f->vn && !f->explicit_ && (best_ep != epochs_run || p->patience == 0))
		topn_eval(f, &final_recall);
	free(f->byi.idx);
	free(f->byi.val);
	f->byi.idx = NULL;
	f->byi.val = NULL;
	free(best.P);
	free(best.Q);
	best.P = best.Q = NULL;

	m = cf_model_new(f->nu, f->ni, f->k, cf_algo_name(p->algo));
	m->mu = f->mu;
	m->has_scale = f->has_scale;
	m->rating_min = train->rating_min;
	m->rating_max = train->rating_max;
	memcpy(m->bu, f->bu, f->nu * sizeof(float));
	memcpy(m->bi, f->bi, f->ni * sizeof(float));
	for (uint32_t u = 0; u < f->nu && f->k > 0; u++)
		memcpy(m->P + (size_t)u * f->k, f->P + (size_t)u * f->kp, f->k * sizeof(float));
	for (uint32_t i = 0; i < f->ni && f->k > 0; i++)
		memcpy(m->Q + (size_t)i * f->k, f->Q + (size_t)i * f->kp, f->k * sizeof(float));
	free(f->P);
	free(f->Q);
	f->P = f->Q = NULL;
	cf_model_set_dicts(m, users, items);
	build_seen(m, f, init);

	cf_schema *a = m->attrs;
	char b[32];
	snprintf(b, sizeof b, "%d", f->p.epochs);
	cf_schema_set(a, "epochs", b);
	snprintf(b, sizeof b, "%d", epochs_run);
	cf_schema_set(a, "epochs_run", b);
	snprintf(b, sizeof b, "%d", best_ep);
	cf_schema_set(a, "best_epoch", b);
	if (p->algo == CF_SGD) {
		set_attr_num(a, "lr", f->p.lr);
		set_attr_num(a, "lr_decay", f->p.lr_decay);
	}
	if (p->algo != CF_POPULAR) {
		if (p->algo != CF_BASELINE)
			set_attr_num(a, "reg", f->p.reg);
		if (p->algo != CF_IALS)
			set_attr_num(a, "reg_bias", f->p.reg_bias);
	}
	/* How the penalties scale with a row's ratings, for fold-in: SGD's
	 * per-rating penalties add up to reg * n; ALS-WR scales the factor
	 * penalty by n and keeps the bias penalty fixed. */
	if (p->algo == CF_SGD) {
		cf_schema_set(a, "reg_weight", "count");
		cf_schema_set(a, "reg_bias_weight", "none");
	}
	if (p->algo == CF_ALS) {
		cf_schema_set(a, "reg_weight", "sqrt");
		cf_schema_set(a, "reg_bias_weight", "none");
	}
	if (p->algo == CF_IALS) {
		set_attr_num(a, "alpha", f->p.alpha);
		cf_schema_set(a, "reg_weight", "none");
	}
	if (f->k > 0)
		set_attr_num(a, "init_scale", f->p.init_scale);
	snprintf(b, sizeof b, "%llu", (unsigned long long)f->p.seed);
	cf_schema_set(a, "seed", b);
	if (p->patience > 0) {
		snprintf(b, sizeof b, "%d", p->patience);
		cf_schema_set(a, "patience", b);
	}
	snprintf(b, sizeof b, "%zu", f->n);
	cf_schema_set(a, "n_ratings", b);
	if (f->explicit_)
		set_attr_num(a, "train_rmse", final_rmse);
	else if (p->algo == CF_IALS)
		set_attr_num(a, "train_loss", last_train);
	if (f->vn) {
		snprintf(b, sizeof b, "%zu", f->vn);
		cf_schema_set(a, "n_valid", b);
		set_attr_num(a, f->explicit_ ? "valid_rmse" : "valid_ndcg10", last_v);
		if (!f->explicit_)
			set_attr_num(a, "valid_recall10", final_recall);
	}
	if (init)
		cf_schema_set(a, "warm_start", "1");
out:
	if (have_sgd)
		sgd_free(&sg);
	free(best.bu);
	free(best.bi);
	free(best.P);
	free(best.Q);
	fit_free(f);
	cf_idmap_free(users);
	cf_idmap_free(items);
	return m;
}

/* ------------------------------------------------------------ fold-in */

int
cf_mf_solve_user(const cf_model *m, const uint32_t *items, const float *r, size_t n,
                 double reg, double reg_bias, float *p, float *b)
{
	struct scratch s;
	int k = m->k, rc = 0;
	const char *w = cf_schema_get(m->attrs, "reg_weight");
	const char *wb = cf_schema_get(m->attrs, "reg_bias_weight");
	double wf = !w ? 1 : strcmp(w, "count") == 0 ? (double)n : strcmp(w, "sqrt") == 0 ? sqrt((double)n) : 1;
	double wbf = wb && strcmp(wb, "count") == 0 ? (double)n : wb && strcmp(wb, "sqrt") == 0 ? sqrt((double)n) : 1;

	pthread_once(&blas_once, blas_single);
	*b = 0;
	if (k > 0)
		memset(p, 0, (size_t)k * sizeof *p);
	if (n == 0)
		return 0;
	if (strcmp(m->algo, "popular") == 0)
		return 0;
	if (k == 0) {
		double sum = 0;
		for (size_t j = 0; j < n; j++)
			sum += r[j] - m->mu - m->bi[items[j]];
		if (reg_bias + n <= 0)
			return -1;
		*b = (float)(sum / (reg_bias + n));
		return 0;
	}
	scratch_init(&s, k);
	if (strcmp(m->algo, "ials") == 0) {
		double alpha = 1;
		const char *al = cf_schema_get(m->attrs, "alpha");
		if (al)
			cf_parse_double(al, &alpha);
		float *G = cf_xcalloc((size_t)k * k, sizeof *G);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)m->nitems, 1.0f, m->Q, k,
		            0.0f, G, k);
		rc = solve_one(k, m->Q, k, NULL, 0, items, r, n, ials_regf(reg, n), 0, G, alpha,
		               &s, p, NULL, NULL);
		free(G);
	} else {
		rc = solve_one(k, m->Q, k, m->bi, m->mu, items, r, n,
		               reg * wf, reg_bias * wbf, NULL, 0, &s, p, b, NULL);
	}
	scratch_free(&s);
	return rc == 0 ? 0 : -1;
}
