/*
 * solve.c - the least-squares row solve (solve.h): Gram matrices by
 * ssyrk over gathered rows, Cholesky solves by LAPACK's sposv.
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

/* Rows gathered per ssyrk call: bounded scratch whatever the row count. */
#define GATHER 256

/* Row stride of the gathered features: k + 1 rounded up to 8 floats. */
static int
zstride(int k)
{
	return (k + 1 + 7) / 8 * 8;
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
	s->A = cf_xmalloc(d * d * sizeof(float));
	s->A0 = cf_xmalloc(d * d * sizeof(float));
	s->b = cf_xmalloc(d * sizeof(float));
	s->b0 = cf_xmalloc(d * sizeof(float));
}

void
cf_lsq_free(cf_lsq *s)
{
	free(s->Z);
	free(s->y);
	free(s->A);
	free(s->A0);
	free(s->b);
	free(s->b0);
}

int
cf_lsq_solve(int k, const float *F, size_t ldf, const float *fb, double mu,
             const uint32_t *idx, const float *val, size_t n, double regf, double regb,
             const float *G, double alpha, cf_lsq *s, float *p, float *b, double *loss)
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
	if (m->hp.form == CF_FORM_DOT) {
		double alpha = m->hp.alpha;
		float *G = cf_xcalloc((size_t)k * k, sizeof *G);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, (int)m->nitems, 1.0f, m->Q, k,
		            0.0f, G, k);
		rc = cf_lsq_solve(k, m->Q, k, NULL, 0, items, r, n, reg * wf, 0, G, alpha,
		                  &s, p, NULL, NULL);
		free(G);
	} else {
		rc = cf_lsq_solve(k, m->Q, k, m->bi, m->mu, items, r, n,
		                  reg * wf, reg_bias * wbf, NULL, 0, &s, p, b, NULL);
	}
	cf_lsq_free(&s);
	return rc == 0 ? 0 : -1;
}
