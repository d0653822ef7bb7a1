/*
 * solve.c - the least-squares row solve (solve.h): exact (Gram matrices
 * by ssyrk over gathered rows, Cholesky solves by LAPACK's sposv) or by
 * warm-started conjugate gradient (BLAS sgemv passes over the rows).
 */
#include "solve.h"
#include "par.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran symbols in OpenBLAS); the trailing length is gfortran's
 * hidden string-length argument, ignored by implementations that lack it. */
extern void sposv_(const char *uplo, const int *n, const int *nrhs, float *a,
                   const int *lda, float *b, const int *ldb, int *info, size_t uplo_len);

typedef float v8f __attribute__((vector_size(32)));

/* Rows gathered per BLAS call: bounded scratch whatever the row count
 * (1024 rows of 64 floats: 256 KB per thread). */
#define GATHER 1024

/* Rows ahead that gather prefetches. */
#define PREFETCH 8

/* Row stride of the gathered features: k rounded up to 8 floats. */
static int
zstride(int k)
{
	return (k + 7) / 8 * 8;
}

void
cf_lsq_init(cf_lsq *s, int k)
{
	size_t d = (size_t)k + 1;

	s->Z = aligned_alloc(64, (size_t)GATHER * zstride(k) * sizeof(float));
	if (!s->Z)
		cf_die("out of memory");
	memset(s->Z, 0, (size_t)GATHER * zstride(k) * sizeof(float));
	s->y = cf_xmalloc(GATHER * sizeof(float));
	s->t = cf_xmalloc(2 * GATHER * sizeof(float));
	s->A = cf_xmalloc(d * d * sizeof(float));
	s->b = cf_xmalloc(d * sizeof(float));
	s->b0 = cf_xmalloc(d * sizeof(float));
	s->v = cf_xmalloc((6 * d + 8) * sizeof(float));
	s->T = s->ty = s->tt = NULL;
	s->cap = 0;
}

void
cf_lsq_free(cf_lsq *s)
{
	free(s->Z);
	free(s->y);
	free(s->t);
	free(s->A);
	free(s->b);
	free(s->b0);
	free(s->v);
	free(s->T);
	free(s->ty);
	free(s->tt);
}

double
cf_lsq_penalty(cf_regw w, double reg, double nu, double alpha0, size_t n, size_t nother)
{
	double r = reg * cf_reg_weight(w, n);

	if (nu != 0)
		r *= pow((double)n + alpha0 * (double)nother, nu);
	return r;
}

/*
 * Gathers entries a .. a+m of the row into Z (k columns, stride
 * zstride(k)) and y: explicit, the targets y_j = val_j - mu - fb[j];
 * implicit, the confidences c_j = 1 + alpha val_j.  Returns the sum of
 * y_j^2 (explicit) or of c_j (implicit): the constant of the loss.
 */
static double
gather_into(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t a,
            size_t m, float *Z, float *y)
{
	int k = sd->k, dz = zstride(k);
	double yy = 0;

	for (size_t j = 0; j < m; j++) {
		/* Rows of F are scattered (the other side's 41 MB for the items'
		 * half): prefetched a few rows ahead (8, 16 and 32 measured the
		 * same within the noise). */
		if (j + PREFETCH < m) {
			const char *nx = (const char *)(sd->F + (size_t)idx[a + j + PREFETCH] * sd->ldf);
			for (int c = 0; c < k * 4; c += 64)
				__builtin_prefetch(nx + c, 0);
		}
		const float *src = sd->F + (size_t)idx[a + j] * sd->ldf;
		float *dst = Z + j * dz;
		if (k == dz) {  /* inline vector copies, not a libc call per row */
			for (int c = 0; c < k; c += 8) {
				v8f x;
				memcpy(&x, src + c, sizeof x);
				memcpy(dst + c, &x, sizeof x);
			}
		} else {
			memcpy(dst, src, (size_t)k * sizeof(float));
		}
		if (sd->G) {
			float c = (float)(1 + sd->alpha * val[a + j]);
			y[j] = c;
			yy += c;
		} else {
			float t = (float)(val[a + j] - sd->mu - sd->fb[idx[a + j]]);
			y[j] = t;
			yy += (double)t * t;
		}
	}
	return yy;
}

/* gather_into the block scratch s->Z, s->y. */
static double
gather(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t a, size_t m,
       cf_lsq *s)
{
	return gather_into(sd, idx, val, a, m, s->Z, s->y);
}

/* Grows CG's tile to hold n rows (its padding columns zero). */
static void
tile_reserve(cf_lsq *s, int k, size_t n)
{
	size_t dz = (size_t)zstride(k), bytes;

	if (n <= s->cap)
		return;
	if (n < 2 * s->cap)
		n = 2 * s->cap;
	free(s->T);
	free(s->ty);
	free(s->tt);
	bytes = (n * dz * sizeof(float) + 63) / 64 * 64;
	s->T = aligned_alloc(64, bytes);
	if (!s->T)
		cf_die("out of memory");
	memset(s->T, 0, bytes);
	s->ty = cf_xmalloc(n * sizeof(float));
	s->tt = cf_xmalloc(n * sizeof(float));
	s->cap = n;
}

/* The weight c_j - alpha0 of a rated entry's correction term (alpha0 = 1:
 * alpha val_j, as Hu, Koren and Volinsky write it). */
static inline float
corr_weight(const cf_lsq_side *sd, float c)
{
	return sd->alpha0 == 1 ? c - 1 : (float)(c - sd->alpha0);
}

int
cf_lsq_solve(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t n,
             double regf, double regb, cf_lsq *s, float *p, float *b, double *loss)
{
	const float *G = sd->G;
	int k = sd->k, d = G ? k : k + 1, dz = zstride(k), one = 1, info = 0;
	float *A = s->A, *rhs = s->b, *yz = s->v;
	double yy = 0;

	if (G && sd->alpha0 == 1) {
		memcpy(A, G, (size_t)k * k * sizeof *A);
	} else if (G) {
		for (int r = 0; r < k * k; r++)
			A[r] = (float)(sd->alpha0 * G[r]);
	} else {
		memset(A, 0, (size_t)d * d * sizeof *A);
	}
	/* Explicit, yz: Z^T [y 1] (k x 2, row-major), the right-hand side
	 * and the bias column's sums (the features'), in one BLAS call per
	 * block; implicit: the right-hand side Z^T c by sgemv. */
	memset(yz, 0, 2 * (size_t)k * sizeof *yz);
	float ysum = 0;
	for (size_t a = 0; a < n; a += GATHER) {
		size_t m = n - a < GATHER ? n - a : GATHER;
		yy += gather(sd, idx, val, a, m, s);
		if (G) {
			cblas_sgemv(CblasRowMajor, CblasTrans, (int)m, k, 1.0f, s->Z, dz, s->y, 1, 1.0f,
			            yz, 1);
		} else {
			for (size_t j = 0; j < m; j++) {
				s->t[2 * j] = s->y[j];
				s->t[2 * j + 1] = 1;
				ysum += s->y[j];
			}
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, 2, (int)m, 1.0f, s->Z,
			            dz, s->t, 2, 1.0f, yz, 2);
		}
		if (G) {
			/* Rows scaled by sqrt(c_j - alpha0) for the correction term. */
			for (size_t j = 0; j < m; j++) {
				float w = sqrtf(corr_weight(sd, s->y[j]));
				v8f vw = {w, w, w, w, w, w, w, w};
				for (int c = 0; c < dz; c += 8) {
					v8f x;
					memcpy(&x, s->Z + j * dz + c, sizeof x);
					x *= vw;
					memcpy(s->Z + j * dz + c, &x, sizeof x);
				}
			}
		}
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)m, 1.0f, s->Z, dz,
		            1.0f, A, d);
	}
	for (int c = 0; c < k; c++)
		rhs[c] = G ? yz[c] : yz[2 * c];
	if (!G) {
		for (int c = 0; c < k; c++)
			A[c * d + k] = yz[2 * c + 1];
		A[k * d + k] = (float)n;
		rhs[k] = ysum;
	}
	memcpy(s->b0, rhs, (size_t)d * sizeof *rhs);
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
		/* At the solution (A_data + R) x = b0, so x^T A_data x = x.b0 -
		 * x^T R x and the data loss yy - 2 x.b0 + x^T A_data x is
		 * yy - x.b0 - x^T R x: O(d), not the O(d^2) of the quadratic form. */
		double l = yy;
		for (int c = 0; c < d; c++)
			l -= (double)rhs[c] * (s->b0[c] + (c < k ? regf : regb) * rhs[c]);
		*loss = l < 0 ? 0 : l;
	}
	return 0;
}

/* ------------------------------------------------------------ CG */

/*
 * One pass over the row's tile with A_data, the data part of the system
 * matrix (Z^T Z with the bias column, or alpha0 G + sum (c_j - alpha0)
 * F_j F_j^T): out = A_data v, or, when loss0 is not NULL, out = rhs -
 * A_data v with *loss0 the data loss at v.  Two sgemv over the tile:
 * t = Z v, out += Z^T u with u_j a function of t_j (a row of the
 * average length, 138 x 64 floats, stays in L2 between them); the
 * implicit G v is one more sgemv on the full G.
 */
static void
cg_pass(const cf_lsq_side *sd, size_t n, cf_lsq *s, const float *v, float *out,
        double *loss0)
{
	int k = sd->k, dz = zstride(k), implicit = sd->G != NULL;
	float sign = loss0 ? -1.0f : 1.0f;
	double l = 0;

	if (implicit) {
		cblas_sgemv(CblasRowMajor, CblasNoTrans, k, k, sign * (float)sd->alpha0, sd->G, k,
		            v, 1, 0.0f, out, 1);
		if (loss0)
			l = -sd->alpha0 * (double)cblas_sdot(k, v, 1, out, 1);  /* alpha0 v.Gv */
	} else {
		memset(out, 0, (size_t)(k + 1) * sizeof *out);
	}
	float *t = s->tt, vb = implicit ? 0 : v[k], usum = 0;
	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, k, 1.0f, s->T, dz, v, 1, 0.0f, t, 1);
	if (implicit) {
		for (size_t j = 0; j < n; j++) {
			float y = s->ty[j], w = corr_weight(sd, y);
			if (loss0) {
				l += (double)y * (1 - t[j]) * (1 - t[j]) - sd->alpha0 * t[j] * t[j];
				t[j] = y - w * t[j];
			} else {
				t[j] = w * t[j];
			}
		}
	} else {
		for (size_t j = 0; j < n; j++) {
			float u = loss0 ? s->ty[j] - (t[j] + vb) : t[j] + vb;
			if (loss0)
				l += (double)u * u;
			t[j] = u;
			usum += u;
		}
		out[k] = usum;
	}
	cblas_sgemv(CblasRowMajor, CblasTrans, (int)n, k, 1.0f, s->T, dz, t, 1, 1.0f, out, 1);
	if (loss0)
		*loss0 = l;
}

static double
dotd(const float *a, const float *b, int d)
{
	double s = 0;

	for (int c = 0; c < d; c++)
		s += (double)a[c] * b[c];
	return s;
}

int
cf_lsq_cg(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t n,
          double regf, double regb, int steps, cf_lsq *s, float *p, float *b, double *loss)
{
	int k = sd->k, d = sd->G ? k : k + 1;
	float *x = s->v, *r = x + d, *dir = r + d, *Ad = dir + d, *x0 = Ad + d, *r0 = x0 + d;
	double l0;

	memcpy(x, p, (size_t)k * sizeof *x);
	if (!sd->G)
		x[k] = *b;
	tile_reserve(s, k, n);
	gather_into(sd, idx, val, 0, n, s->T, s->ty);
	/* r = rhs - A x, with A = A_data + the penalties R. */
	cg_pass(sd, n, s, x, r, &l0);
	double f0 = l0;     /* the objective at the start, penalties included */
	for (int c = 0; c < d; c++) {
		double rc = c < k ? regf : regb;
		r[c] -= (float)(rc * x[c]);
		f0 += rc * (double)x[c] * x[c];
	}
	memcpy(x0, x, (size_t)d * sizeof *x);
	memcpy(r0, r, (size_t)d * sizeof *r);
	memcpy(dir, r, (size_t)d * sizeof *r);
	double rr = dotd(r, r, d);
	for (int it = 0; it < steps && rr > 0; it++) {
		cg_pass(sd, n, s, dir, Ad, NULL);
		for (int c = 0; c < d; c++)
			Ad[c] += (float)((c < k ? regf : regb) * dir[c]);
		double dAd = dotd(dir, Ad, d);
		if (!(dAd > 0))
			break;
		float step = (float)(rr / dAd);
		for (int c = 0; c < d; c++) {
			x[c] += step * dir[c];
			r[c] -= step * Ad[c];
		}
		double rr1 = dotd(r, r, d);
		float beta = (float)(rr1 / rr);
		for (int c = 0; c < d; c++)
			dir[c] = r[c] + beta * dir[c];
		rr = rr1;
	}
	memcpy(p, x, (size_t)k * sizeof *p);
	if (!sd->G)
		*b = x[k];
	if (loss) {
		/* A quadratic's change: f(x) - f(x0) = -(x - x0).(r + r0) with
		 * r = rhs - A x (CG's running residual); less the penalty, the
		 * data loss at x. */
		double l = f0;
		for (int c = 0; c < d; c++) {
			l -= ((double)x[c] - x0[c]) * ((double)r[c] + r0[c]);
			l -= (c < k ? regf : regb) * (double)x[c] * x[c];
		}
		*loss = l < 0 ? 0 : l;
	}
	return 0;
}

/* ------------------------------------------------------------ fold-in */

int
cf_solve_user(const cf_model *m, const uint32_t *items, const float *r, size_t n,
              double reg, double reg_bias, float *p, float *b)
{
	cf_lsq s;
	int k = m->k, rc = 0;
	double wf = cf_reg_weight(m->hp.reg_weight, n);
	double wbf = cf_reg_weight(m->hp.reg_bias_weight, n);

	cf_blas_single();
	*b = 0;
	if (k > 0)
		memset(p, 0, (size_t)k * sizeof *p);
	if (n == 0)
		return 0;
	if (m->hp.form == CF_FORM_POP)
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
	cf_lsq_init(&s, k);
	cf_lsq_side sd = {k, m->Q, (size_t)k, m->bi, m->mu, NULL, 0, 1};
	if (m->hp.form == CF_FORM_DOT) {
		float *G = cf_xcalloc((size_t)k * k, sizeof *G);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)m->nitems, 1.0f, m->Q, k,
		            0.0f, G, k);
		sd.fb = NULL;
		sd.G = G;
		sd.alpha = m->hp.alpha;
		sd.alpha0 = m->hp.alpha0;
		rc = cf_lsq_solve(&sd, items, r, n, cf_lsq_penalty(m->hp.reg_weight, reg, m->hp.nu,
		                  m->hp.alpha0, n, m->nitems), 0, &s, p, NULL, NULL);
		free(G);
	} else {
		rc = cf_lsq_solve(&sd, items, r, n, reg * wf, reg_bias * wbf, &s, p, b, NULL);
	}
	cf_lsq_free(&s);
	return rc == 0 ? 0 : -1;
}
