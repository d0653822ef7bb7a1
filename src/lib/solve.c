/*
 * solve.c - the least-squares row solve (solve.h): exact (Gram matrices
 * by ssyrk over gathered rows, Cholesky solves by LAPACK's sposv) or by
 * warm-started conjugate gradient (fused passes over the rows gathered
 * from a half-precision copy of the other side).
 */
#include "solve.h"
#include "par.h"
#include "util.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
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
	s->cv = aligned_alloc(64, ((size_t)2 * zstride(k) * sizeof(float) + 63) / 64 * 64);
	if (!s->cv)
		cf_die("out of memory");
	s->T = s->ty = NULL;
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
	free(s->cv);
}

double
cf_lsq_penalty(cf_regw w, double reg, double nu, double alpha0, size_t n, size_t nother)
{
	double r = reg * cf_reg_weight(w, n);

	if (nu != 0)
		r *= pow((double)n + alpha0 * (double)nother, nu);
	return r;
}

/* An entry's target: explicit, val - mu - fb[j]; implicit, its
 * confidence 1 + alpha val. */
static inline float
target(const cf_lsq_side *sd, uint32_t j, float val)
{
	return sd->G ? (float)(1 + sd->alpha * val) : (float)(val - sd->mu - sd->fb[j]);
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
		float t = target(sd, idx[a + j], val[a + j]);
		y[j] = t;
		yy += sd->G ? t : (double)t * t;
	}
	return yy;
}

/* ------------------------------------------------------------ half precision */

/*
 * IEEE binary16 by hand, exact and round-to-nearest-even: the same bits
 * as the F16C instructions, which do the same conversions 8 at a time
 * where the CPU has them (checked against each other in test_mf.c).
 */
float
cf_f16_to_f32(uint16_t h)
{
	uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
	float f;

	if (e == 0) {           /* zero or subnormal: m x 2^-24, exact in float */
		f = (float)m * 0x1p-24f;
		memcpy(&x, &f, sizeof x);
		x |= s;
	} else if (e == 31) {
		x = s | 0x7f800000u | (m << 13);
	} else {
		x = s | ((e + 112) << 23) | (m << 13);
	}
	memcpy(&f, &x, sizeof f);
	return f;
}

int
cf_f32_to_f16(float f, uint16_t *h)
{
	uint32_t x, a;

	memcpy(&x, &f, sizeof x);
	a = x & 0x7fffffffu;
	uint16_t s = (uint16_t)((x >> 16) & 0x8000);
	if (a >= 0x477ff000u)   /* rounds to infinity (>= 65520), or inf, NaN */
		return -1;
	if (a >= 0x38800000u) { /* a normal half: rebias, round off 13 bits */
		uint32_t r = a - 0x38000000u;
		r += 0xfffu + ((r >> 13) & 1);
		*h = (uint16_t)(s | (r >> 13));
	} else {                /* subnormal (1024 rounds up to the least normal) */
		float v;
		memcpy(&v, &a, sizeof v);
		*h = (uint16_t)(s | (uint16_t)rintf(v * 0x1p24f));
	}
	return 0;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

/* The CPU converts halves (F16C) and the OS saves the AVX registers. */
static int
have_f16c(void)
{
	static _Atomic int have = -1;
	int h = atomic_load_explicit(&have, memory_order_relaxed);

	if (h < 0) {
		unsigned a, b, c, d, lo, hi;
		h = 0;
		/* CPUID 1, ECX: bit 27 OSXSAVE, 28 AVX, 29 F16C */
		if (__get_cpuid(1, &a, &b, &c, &d) && (c & (7u << 27)) == (7u << 27)) {
			__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
			h = (lo & 6) == 6;      /* XMM and YMM state enabled */
		}
		atomic_store_explicit(&have, h, memory_order_relaxed);
	}
	return h;
}

__attribute__((target("avx,f16c"))) static int
to_f16_hw(const float *src, uint16_t *dst, int k)
{
	int c = 0;
	__m256 big = _mm256_set1_ps(65520.0f), any = _mm256_setzero_ps();
	for (; c + 8 <= k; c += 8) {
		__m256 x = _mm256_loadu_ps(src + c);
		__m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
		/* not (|x| < 65520): too big, or NaN */
		any = _mm256_or_ps(any, _mm256_cmp_ps(ax, big, _CMP_NLT_UQ));
		_mm_storeu_si128((__m128i *)(void *)(dst + c),
		                 _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
	}
	if (_mm256_movemask_ps(any))
		return -1;
	for (; c < k; c++)
		if (cf_f32_to_f16(src[c], dst + c) < 0)
			return -1;
	return 0;
}

__attribute__((target("avx,f16c"))) static void
gather_f16_hw(const uint16_t *Fh, int dz, const uint32_t *idx, size_t m, float *Z)
{
	for (size_t j = 0; j < m; j++) {
		if (j + PREFETCH < m) {
			const char *nx = (const char *)(Fh + (size_t)idx[j + PREFETCH] * dz);
			for (int c = 0; c < dz * 2; c += 64)
				__builtin_prefetch(nx + c, 0);
		}
		const uint16_t *src = Fh + (size_t)idx[j] * dz;
		float *dst = Z + j * dz;
		for (int c = 0; c < dz; c += 8)
			_mm256_storeu_ps(dst + c, _mm256_cvtph_ps(_mm_loadu_si128(
			                                  (const __m128i *)(const void *)(src + c))));
	}
}
#else
static int
have_f16c(void)
{
	return 0;
}

static int
to_f16_hw(const float *src, uint16_t *dst, int k)
{
	(void)src, (void)dst, (void)k;
	return -1;
}

static void
gather_f16_hw(const uint16_t *Fh, int dz, const uint32_t *idx, size_t m, float *Z)
{
	(void)Fh, (void)dz, (void)idx, (void)m, (void)Z;
}
#endif

uint16_t *
cf_lsq_f16(const float *F, size_t ldf, size_t n, int k)
{
	int dz = zstride(k), hw = have_f16c();
	uint16_t *h = cf_xcalloc(n * dz + 1, sizeof *h);

	for (size_t r = 0; r < n; r++) {
		const float *src = F + r * ldf;
		uint16_t *dst = h + r * dz;
		int bad = 0;
		if (hw) {
			bad = to_f16_hw(src, dst, k) < 0;
		} else {
			for (int c = 0; c < k && !bad; c++)
				bad = cf_f32_to_f16(src[c], dst + c) < 0;
		}
		if (bad) {
			free(h);
			return NULL;
		}
	}
	return h;
}

/* CG's gather from the half-precision copy: rows of dz halves, 2 bytes
 * a factor where F's rows are 4, the scattered reads halved. */
static void
gather_f16(const uint16_t *Fh, int dz, const uint32_t *idx, size_t m, float *Z)
{
	if (have_f16c()) {
		gather_f16_hw(Fh, dz, idx, m, Z);
		return;
	}
	for (size_t j = 0; j < m; j++) {
		const uint16_t *src = Fh + (size_t)idx[j] * dz;
		for (int c = 0; c < dz; c++)
			Z[j * dz + c] = cf_f16_to_f32(src[c]);
	}
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
	bytes = (n * dz * sizeof(float) + 63) / 64 * 64;
	s->T = aligned_alloc(64, bytes);
	if (!s->T)
		cf_die("out of memory");
	memset(s->T, 0, bytes);
	s->ty = cf_xmalloc(n * sizeof(float));
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

/* Rows per block of tile_rows: their dot products are independent, so
 * they overlap; the block is re-read from L1 for the sums. */
#define TBLOCK 16

/*
 * The tile pass of cg_pass, fused: each gathered row z_j is read once
 * (from L1 after its first touch) for both t_j = z_j.v (+ vb) and
 * acc += u_j z_j, where two sgemv read the tile twice and ran as chains
 * of dependent adds.  u_j, and the loss term when loss is not NULL:
 *   implicit, loss:  y (1 - t)^2 - alpha0 t^2,  u = y - w t
 *   implicit:        u = w t                    (w = corr_weight)
 *   explicit, loss:  (y - t)^2,  u = y - t
 *   explicit:        u = t
 * V and A are dz floats, V zero beyond k.  Compiled for AVX2 too (the
 * loader picks by CPU): the same IEEE operations in the same order, so
 * the same bits in either and at any thread count.
 */
static inline __attribute__((always_inline)) float
tile_rows(const cf_lsq_side *sd, const float *T, const float *ty, size_t n, const int nb,
          const v8f *V, float vb, double *loss, v8f *A)
{
	int implicit = sd->G != NULL;
	double l = 0, alpha0 = sd->alpha0;
	float usum = 0, tu[TBLOCK];

	for (size_t j0 = 0; j0 < n; j0 += TBLOCK) {
		size_t m = n - j0 < TBLOCK ? n - j0 : TBLOCK;
		const float *Tb = T + j0 * (size_t)nb * 8;
		for (size_t r = 0; r < m; r++) {
			const float *z = Tb + r * (size_t)nb * 8;
			/* four partial sums: the dot product is not one chain of adds */
			v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, x;
			int c = 0;
			for (; c + 4 <= nb; c += 4) {
				memcpy(&x, z + 8 * c, sizeof x);
				s0 += x * V[c];
				memcpy(&x, z + 8 * c + 8, sizeof x);
				s1 += x * V[c + 1];
				memcpy(&x, z + 8 * c + 16, sizeof x);
				s2 += x * V[c + 2];
				memcpy(&x, z + 8 * c + 24, sizeof x);
				s3 += x * V[c + 3];
			}
			for (; c < nb; c++) {
				memcpy(&x, z + 8 * c, sizeof x);
				s0 += x * V[c];
			}
			v8f sv = (s0 + s1) + (s2 + s3);
			tu[r] = ((sv[0] + sv[4]) + (sv[1] + sv[5])) + ((sv[2] + sv[6]) + (sv[3] + sv[7]));
		}
		for (size_t r = 0; r < m; r++) {
			float t = tu[r], y = ty[j0 + r], u;
			if (implicit) {
				float w = corr_weight(sd, y);
				if (loss) {
					l += (double)y * (1 - t) * (1 - t) - alpha0 * t * t;
					u = y - w * t;
				} else {
					u = w * t;
				}
			} else {
				t += vb;
				if (loss) {
					u = y - t;
					l += (double)u * u;
				} else {
					u = t;
				}
				usum += u;
			}
			tu[r] = u;
		}
		for (size_t r = 0; r < m; r++) {
			const float *z = Tb + r * (size_t)nb * 8;
			v8f uu = {tu[r], tu[r], tu[r], tu[r], tu[r], tu[r], tu[r], tu[r]}, x;
#pragma GCC unroll 16
			for (int c = 0; c < nb; c++) {
				memcpy(&x, z + 8 * c, sizeof x);
				A[c] += uu * x;
			}
		}
	}
	if (loss)
		*loss = l;
	return usum;
}

__attribute__((target_clones("avx2", "default"))) static float
tile_pass(const cf_lsq_side *sd, const float *T, const float *ty, size_t n, int dz,
          const v8f *V, float vb, double *loss, v8f *A)
{
	int nb = dz / 8;
	float r;

	if (nb == 8) {  /* k = 57 .. 64: unrolled, the sums in registers */
		v8f A8[8] = {{0}};
		r = tile_rows(sd, T, ty, n, 8, V, vb, loss, A8);
		memcpy(A, A8, sizeof A8);
	} else {
		for (int c = 0; c < nb; c++)
			A[c] = (v8f){0};
		r = tile_rows(sd, T, ty, n, nb, V, vb, loss, A);
	}
	return r;
}

/*
 * One pass over the row's tile with A_data, the data part of the system
 * matrix (Z^T Z with the bias column, or alpha0 G + sum (c_j - alpha0)
 * F_j F_j^T): out = A_data v, or, when loss0 is not NULL, out = rhs -
 * A_data v with *loss0 the data loss at v.  The tile pass above, and
 * for implicit the G v of the full G by sgemv.
 */
static void
cg_pass(const cf_lsq_side *sd, size_t n, cf_lsq *s, const float *v, float *out,
        double *loss0)
{
	int k = sd->k, dz = zstride(k), implicit = sd->G != NULL;
	float sign = loss0 ? -1.0f : 1.0f, *vp = s->cv, *acc = s->cv + dz;
	double l = 0;

	if (implicit) {
		cblas_sgemv(CblasRowMajor, CblasNoTrans, k, k, sign * (float)sd->alpha0, sd->G, k,
		            v, 1, 0.0f, out, 1);
		if (loss0)
			l = -sd->alpha0 * (double)cblas_sdot(k, v, 1, out, 1);  /* alpha0 v.Gv */
	} else {
		memset(out, 0, (size_t)(k + 1) * sizeof *out);
	}
	memcpy(vp, v, (size_t)k * sizeof *vp);
	memset(vp + k, 0, (size_t)(dz - k) * sizeof *vp);
	double lt = 0;
	float usum = tile_pass(sd, s->T, s->ty, n, dz, (const v8f *)(void *)vp,
	                       implicit ? 0 : v[k], loss0 ? &lt : NULL, (v8f *)(void *)acc);
	for (int c = 0; c < k; c++)
		out[c] += acc[c];
	if (!implicit)
		out[k] = usum;
	if (loss0)
		*loss0 = l + lt;
}

/* In double, four partial sums (a chain of d dependent adds would cost
 * more than the rest of a CG step's vector work). */
static double
dotd(const float *a, const float *b, int d)
{
	double s[4] = {0, 0, 0, 0};
	int c = 0;

	for (; c + 4 <= d; c += 4)
		for (int l = 0; l < 4; l++)
			s[l] += (double)a[c + l] * b[c + l];
	for (; c < d; c++)
		s[0] += (double)a[c] * b[c];
	return (s[0] + s[1]) + (s[2] + s[3]);
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
	if (sd->Fh) {
		gather_f16(sd->Fh, zstride(k), idx, n, s->T);
		for (size_t j = 0; j < n; j++)
			s->ty[j] = target(sd, idx[j], val[j]);
	} else {
		gather_into(sd, idx, val, 0, n, s->T, s->ty);
	}
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
	cf_lsq_side sd = {k, m->Q, (size_t)k, m->bi, m->mu, NULL, 0, 1, NULL};
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
