/*
 * test_mf.c - unit tests of training (mf.h): the ALS and iALS solves
 * against dense normal equations solved here by Gaussian elimination, one
 * SGD step against the hand-derived update, fold-in reproducing a trained
 * user, determinism across thread counts, divergence and bad parameters
 * reported with a message instead of a model.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mf.h"
#include "solve.h"
#include "model.h"
#include "ratings.h"
#include "rng.h"
#include "util.h"

Suite *mf_suite(void);

/* ---------------------------------------------------------------- helpers */

/* Solves the n x n system A x = b (row-major, overwritten) by Gaussian
 * elimination with partial pivoting, in double. */
static void
gauss(int n, double *A, double *b, double *x)
{
	for (int c = 0; c < n; c++) {
		int piv = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(A[r * n + c]) > fabs(A[piv * n + c]))
				piv = r;
		for (int j = 0; j < n; j++) {
			double t = A[c * n + j];
			A[c * n + j] = A[piv * n + j];
			A[piv * n + j] = t;
		}
		double t = b[c];
		b[c] = b[piv];
		b[piv] = t;
		for (int r = c + 1; r < n; r++) {
			double f = A[r * n + c] / A[c * n + c];
			for (int j = c; j < n; j++)
				A[r * n + j] -= f * A[c * n + j];
			b[r] -= f * b[c];
		}
	}
	for (int r = n - 1; r >= 0; r--) {
		double s = b[r];
		for (int j = r + 1; j < n; j++)
			s -= A[r * n + j] * x[j];
		x[r] = s / A[r * n + r];
	}
}

static void
intern_ids(cf_ratings *rs, uint32_t nu, uint32_t ni)
{
	char b[32];

	for (uint32_t u = 0; u < nu; u++) {
		snprintf(b, sizeof b, "u%u", u);
		cf_idmap_intern(rs->users, b, strlen(b), NULL);
	}
	for (uint32_t i = 0; i < ni; i++) {
		snprintf(b, sizeof b, "i%u", i);
		cf_idmap_intern(rs->items, b, strlen(b), NULL);
	}
	cf_schema_set(rs->attrs, "rating_min", "0.5");
	cf_schema_set(rs->attrs, "rating_max", "5");
	rs->has_scale = 1;
	rs->rating_min = 0.5;
	rs->rating_max = 5;
}

/* A small low-rank ratings set: each user rates a random ~third of the items. */
static void
make_data(cf_ratings *rs, uint32_t nu, uint32_t ni, uint64_t seed)
{
	cf_rng g;
	float P[64][3], Q[64][3];

	cf_ratings_init(rs, 1);
	intern_ids(rs, nu, ni);
	cf_rng_seed(&g, seed, 0);
	for (uint32_t u = 0; u < nu; u++)
		for (int f = 0; f < 3; f++)
			P[u][f] = (float)(0.6 * cf_rng_normal(&g));
	for (uint32_t i = 0; i < ni; i++)
		for (int f = 0; f < 3; f++)
			Q[i][f] = (float)(0.6 * cf_rng_normal(&g));
	for (uint32_t u = 0; u < nu; u++)
		for (uint32_t i = 0; i < ni; i++) {
			if (cf_rng_uniform(&g) > 0.35)
				continue;
			double r = 3.5 + P[u][0] * Q[i][0] + P[u][1] * Q[i][1] + P[u][2] * Q[i][2] +
			           0.3 * cf_rng_normal(&g);
			r = r < 0.5 ? 0.5 : r > 5 ? 5 : r;
			cf_ratings_add(rs, u, i, (float)r, (int64_t)(u * 1000 + i));
		}
}

static cf_mf_params
quiet_params(cf_algo a)
{
	cf_mf_params p = cf_mf_defaults(a);

	p.quiet = 1;
	p.threads = 1;
	return p;
}

static int
same_model(const cf_model *a, const cf_model *b)
{
	size_t pk = (size_t)a->nusers * a->k, qk = (size_t)a->nitems * a->k;

	return a->nusers == b->nusers && a->nitems == b->nitems && a->k == b->k &&
	       a->mu == b->mu && memcmp(a->bu, b->bu, a->nusers * sizeof(float)) == 0 &&
	       memcmp(a->bi, b->bi, a->nitems * sizeof(float)) == 0 &&
	       memcmp(a->P, b->P, pk * sizeof(float)) == 0 &&
	       memcmp(a->Q, b->Q, qk * sizeof(float)) == 0 &&
	       strcmp(cf_schema_get(a->attrs, "train_rmse") ? cf_schema_get(a->attrs, "train_rmse") : "",
	              cf_schema_get(b->attrs, "train_rmse") ? cf_schema_get(b->attrs, "train_rmse") : "") == 0;
}

/* A hand-made model with k = 3 over 5 items. */
static cf_model *
small_model(const char *algo)
{
	static const float Q[5][3] = {
		{0.5f, -0.2f, 0.1f}, {0.3f, 0.8f, -0.4f}, {-0.6f, 0.1f, 0.7f},
		{0.2f, 0.2f, 0.2f}, {-0.1f, -0.5f, 0.3f},
	};
	static const float bi[5] = {0.2f, -0.3f, 0.1f, 0.4f, -0.1f};
	cf_model *m = cf_model_new(1, 5, 3, algo);

	memcpy(m->Q, Q, sizeof Q);
	memcpy(m->bi, bi, sizeof bi);
	m->mu = 3.5;
	return m;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_algo_names)
{
	for (int a = CF_SGD; a <= CF_POPULAR; a++)
		ck_assert_int_eq(cf_algo_parse(cf_algo_name((cf_algo)a)), a);
	ck_assert_int_eq(cf_algo_parse("svd"), -1);
	ck_assert_int_gt(cf_mf_defaults(CF_ALS).k, 0);
	ck_assert_int_eq(cf_mf_defaults(CF_BASELINE).k, 0);
}
END_TEST

/* The explicit ALS user solve is the solution of the normal equations
 * (Z^T Z + diag(reg sqrt(n) ..., reg_bias)) [p; b] = Z^T (r - mu - bi). */
START_TEST(test_als_solve_matches_normal_equations)
{
	cf_model *m = small_model("als");
	const uint32_t items[4] = {0, 1, 2, 4};
	const float r[4] = {4.0f, 2.5f, 3.5f, 5.0f};
	const double reg = 0.3, regb = 2;
	double A[16] = {0}, rhs[4] = {0}, x[4];
	float p[3], b;

	cf_schema_set(m->attrs, "reg_weight", "sqrt");
	cf_schema_set(m->attrs, "reg_bias_weight", "none");
	cf_model_parse_hparams(m);
	ck_assert_int_eq(cf_solve_user(m, items, r, 4, reg, regb, p, &b), 0);
	for (int j = 0; j < 4; j++) {
		double z[4] = {m->Q[items[j] * 3], m->Q[items[j] * 3 + 1], m->Q[items[j] * 3 + 2], 1};
		double y = r[j] - m->mu - m->bi[items[j]];
		for (int a = 0; a < 4; a++) {
			rhs[a] += z[a] * y;
			for (int c = 0; c < 4; c++)
				A[a * 4 + c] += z[a] * z[c];
		}
	}
	for (int a = 0; a < 3; a++)
		A[a * 4 + a] += reg * sqrt(4.0);
	A[15] += regb;
	gauss(4, A, rhs, x);
	for (int a = 0; a < 3; a++)
		ck_assert_double_eq_tol(p[a], x[a], 1e-5);
	ck_assert_double_eq_tol(b, x[3], 1e-5);
	cf_model_free(m);
}
END_TEST

/* The iALS solve equals the dense weighted least squares over ALL items:
 * sum_i c_i (pref_i - p.q_i)^2 + reg |p|^2, c = 1 + alpha r for rated
 * items (pref 1), c = 1 and pref 0 for the rest. */
START_TEST(test_ials_solve_matches_dense)
{
	cf_model *m = small_model("ials");
	const uint32_t items[2] = {1, 3};
	const float r[2] = {4.0f, 1.0f};
	const double reg = 0.7, alpha = 2.5;
	double A[9] = {0}, rhs[3] = {0}, x[3];
	float p[3], b = 1;

	cf_schema_set(m->attrs, "alpha", "2.5");
	cf_model_parse_hparams(m);
	ck_assert_int_eq(cf_solve_user(m, items, r, 2, reg, 0, p, &b), 0);
	for (uint32_t i = 0; i < 5; i++) {
		double c = 1, pref = 0;
		for (int j = 0; j < 2; j++)
			if (items[j] == i)
				c = 1 + alpha * r[j], pref = 1;
		const float *q = m->Q + i * 3;
		for (int a = 0; a < 3; a++) {
			rhs[a] += c * pref * q[a];
			for (int d = 0; d < 3; d++)
				A[a * 3 + d] += c * q[a] * q[d];
		}
	}
	for (int a = 0; a < 3; a++)
		A[a * 3 + a] += reg;
	gauss(3, A, rhs, x);
	for (int a = 0; a < 3; a++)
		ck_assert_double_eq_tol(p[a], x[a], 1e-5);
	ck_assert(b == 0);
	cf_model_free(m);
}
END_TEST

/* Every half converts to its exact value (from its fields, in double)
 * and back to itself; every midpoint between neighbours rounds to the
 * even one and the floats just beside it to the nearer; out of range is
 * refused. */
START_TEST(test_f16_exhaustive)
{
	for (uint32_t h = 0; h < 0x10000; h++) {
		uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
		if (e == 31)
			continue;
		double v = e ? ldexp(1024.0 + m, (int)e - 25) : ldexp((double)m, -24);
		if (h & 0x8000)
			v = -v;
		float f = cf_f16_to_f32((uint16_t)h);
		ck_assert_msg((double)f == v, "half %04x: %.9g, not %.9g", h, (double)f, v);
		uint16_t back = 0;
		ck_assert_int_eq(cf_f32_to_f16(f, &back), 0);
		ck_assert_uint_eq(back, h == 0x8000 ? 0x8000 : h);
		if ((h & 0x7fff) == 0x7bff)
			continue;       /* the largest finite: no finite neighbour above */
		float g = cf_f16_to_f32((uint16_t)(h + 1)), mid = (float)(((double)f + g) / 2);
		ck_assert((double)mid == ((double)f + g) / 2);    /* 12 bits: exact */
		ck_assert_int_eq(cf_f32_to_f16(mid, &back), 0);
		ck_assert_uint_eq(back, (h & 1) ? h + 1 : h);
		ck_assert_int_eq(cf_f32_to_f16(nextafterf(mid, f), &back), 0);
		ck_assert_uint_eq(back, h);
		ck_assert_int_eq(cf_f32_to_f16(nextafterf(mid, g), &back), 0);
		ck_assert_uint_eq(back, h + 1);
	}
	uint16_t h = 7;
	ck_assert_int_eq(cf_f32_to_f16(65519.99f, &h), 0);
	ck_assert_uint_eq(h, 0x7bff);
	ck_assert_int_eq(cf_f32_to_f16(65520.0f, &h), -1);
	ck_assert_int_eq(cf_f32_to_f16(-1e30f, &h), -1);
	ck_assert_int_eq(cf_f32_to_f16(INFINITY, &h), -1);
	ck_assert_int_eq(cf_f32_to_f16(NAN, &h), -1);
	ck_assert_int_eq(cf_f32_to_f16(1e-30f, &h), 0);
	ck_assert_uint_eq(h, 0);
}
END_TEST

/* cf_lsq_f16 (F16C where the CPU has it) gives the scalar conversion's
 * bits, rows padded to 8 with zeros; a factor out of range: NULL. */
START_TEST(test_f16_copy)
{
	enum { N = 37, K = 13, LD = 16, DZ = 16 };
	float F[N * LD];
	cf_rng r;

	cf_rng_seed(&r, 5, 0);
	for (int i = 0; i < N * LD; i++) {
		double sc = ldexp(1.0, (int)(cf_rng_uniform(&r) * 40) - 28);  /* 2^-28 .. 2^11 */
		F[i] = (float)(cf_rng_normal(&r) * sc);
	}
	uint16_t *h = cf_lsq_f16(F, LD, N, K);
	ck_assert_ptr_nonnull(h);
	for (int i = 0; i < N; i++)
		for (int c = 0; c < DZ; c++) {
			uint16_t want = 0;
			if (c < K)
				ck_assert_int_eq(cf_f32_to_f16(F[i * LD + c], &want), 0);
			ck_assert_uint_eq(h[i * DZ + c], want);
		}
	free(h);
	F[20 * LD + 3] = -70000.0f;
	ck_assert_ptr_null(cf_lsq_f16(F, LD, N, K));
	F[20 * LD + 3] = NAN;
	ck_assert_ptr_null(cf_lsq_f16(F, LD, N, K));
}
END_TEST

/*
 * CG, explicit and implicit, at rank K (24: the generic pass; 61: the
 * unrolled one for 57 .. 64, with padding): gathered from the
 * half-precision copy it gives the bits of CG on F rounded to half (the
 * fp32 gather), and with 2d more steps it reaches the dense solution of
 * that system (CG is exact in d steps but for rounding).
 */
static void
cg_f16_check(int K)
{
	enum { NI = 60, N = 45 };
	int d1 = K + 1;
	float *F = malloc(sizeof(float) * NI * K), *Fr = malloc(sizeof(float) * NI * K);
	float *G = malloc(sizeof(float) * K * K), fb[NI], val[N];
	double *A = malloc(sizeof(double) * d1 * d1), *rhs = malloc(sizeof(double) * d1);
	double *x = malloc(sizeof(double) * d1);
	float *xh = malloc(sizeof(float) * d1), *xp = malloc(sizeof(float) * d1);
	uint32_t idx[N];
	cf_rng r;

	cf_rng_seed(&r, 9, (uint64_t)K);
	for (int i = 0; i < NI * K; i++) {
		F[i] = (float)(0.5 * cf_rng_normal(&r));
		uint16_t h;
		ck_assert_int_eq(cf_f32_to_f16(F[i], &h), 0);
		Fr[i] = cf_f16_to_f32(h);
	}
	for (int i = 0; i < NI; i++)
		fb[i] = (float)(0.3 * cf_rng_normal(&r));
	for (int j = 0; j < N; j++) {
		idx[j] = (uint32_t)(j * 7 % NI);
		val[j] = (float)(1 + (j * 13 % 9) * 0.5);
	}
	uint16_t *Fh = cf_lsq_f16(F, (size_t)K, NI, K);
	ck_assert_ptr_nonnull(Fh);
	for (int a = 0; a < K; a++)
		for (int c = 0; c < K; c++) {
			double t = 0;
			for (int i = 0; i < NI; i++)
				t += (double)Fr[i * K + a] * Fr[i * K + c];
			G[a * K + c] = (float)t;
		}
	for (int implicit = 0; implicit < 2; implicit++) {
		int d = implicit ? K : K + 1;
		double regf = 0.8, regb = 1.5;
		cf_lsq_side h = {K, F, (size_t)K, fb, 3.5, implicit ? G : NULL, 0.7, 0.6, Fh};
		cf_lsq_side p = h;
		p.F = Fr;
		p.Fh = NULL;
		cf_lsq s;
		cf_lsq_init(&s, K);
		float bh = 0, bp = 0;
		double lh, lp;
		memset(xh, 0, sizeof(float) * d1);
		memset(xp, 0, sizeof(float) * d1);
		ck_assert_int_eq(cf_lsq_cg(&h, idx, val, N, regf, regb, 3, &s, xh, &bh, &lh), 0);
		ck_assert_int_eq(cf_lsq_cg(&p, idx, val, N, regf, regb, 3, &s, xp, &bp, &lp), 0);
		ck_assert(memcmp(xh, xp, sizeof(float) * K) == 0 && bh == bp && lh == lp);
		/* 2d more steps from there: the dense solution of the rounded system */
		ck_assert_int_eq(cf_lsq_cg(&h, idx, val, N, regf, regb, 2 * d, &s, xh, &bh, NULL), 0);
		memset(A, 0, sizeof(double) * d1 * d1);
		memset(rhs, 0, sizeof(double) * d1);
		for (int j = 0; j < N; j++) {
			double y, w;
			if (implicit) {
				double cj = 1 + 0.7 * val[j];
				y = cj;
				w = cj - 0.6;
			} else {
				y = val[j] - 3.5 - fb[idx[j]];
				w = 1;
			}
			for (int a = 0; a < d; a++) {
				double za = a < K ? Fr[idx[j] * K + a] : 1;
				rhs[a] += (implicit ? 1 : w) * za * y;
				for (int c = 0; c < d; c++)
					A[a * d + c] += w * za * (c < K ? Fr[idx[j] * K + c] : 1);
			}
		}
		for (int a = 0; a < d; a++) {
			if (implicit)
				for (int c = 0; c < d; c++)
					A[a * d + c] += 0.6 * G[a * K + c];
			A[a * d + a] += a < K ? regf : regb;
		}
		gauss(d, A, rhs, x);
		for (int a = 0; a < K; a++)
			ck_assert_msg(fabs(xh[a] - x[a]) < 2e-4, "k %d, implicit %d, x[%d] %g, dense %g",
			              K, implicit, a, (double)xh[a], x[a]);
		if (!implicit)
			ck_assert_double_eq_tol(bh, x[K], 2e-4);
		cf_lsq_free(&s);
	}
	free(Fh);
	free(F);
	free(Fr);
	free(G);
	free(A);
	free(rhs);
	free(x);
	free(xh);
	free(xp);
}

START_TEST(test_cg_f16)
{
	cg_f16_check(24);
	cg_f16_check(61);
}
END_TEST

/*
 * One SGD epoch on one rating, against the update derived by hand from
 * the seeded start (factors N(0, (0.1 / sqrt(k))^2) from streams 1 and 2,
 * biases 0, mu = r so e = -p.q):  bi += lr (e - reg_bias bi),
 * q += lr (e p - reg q); then the final exact user step: [p; bu] solves
 * (z z^T + diag(reg, reg, reg, reg_bias)) x = z (r - mu - bi), z = [q; 1].
 */
START_TEST(test_sgd_one_step)
{
	cf_ratings rs;
	const double r = 4.5, lr = 0.1, reg = 0.05, regb = 0.02;
	cf_mf_params prm = quiet_params(CF_SGD);
	double p0[3], q0[3], sd = 0.1 / sqrt(3.0), A[16] = {0}, rhs[4], x[4];
	char err[256];
	cf_rng g;

	cf_ratings_init(&rs, 0);
	intern_ids(&rs, 1, 1);
	cf_ratings_add(&rs, 0, 0, (float)r, 0);
	prm.k = 3;
	prm.epochs = 1;
	prm.lr = lr;
	prm.lr_decay = 0;
	prm.reg = reg;
	prm.reg_bias = regb;
	cf_model *m = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	cf_rng_seed(&g, prm.seed, 1);
	for (int f = 0; f < 3; f++)
		p0[f] = (float)(sd * cf_rng_normal(&g));
	cf_rng_seed(&g, prm.seed, 2);
	for (int f = 0; f < 3; f++)
		q0[f] = (float)(sd * cf_rng_normal(&g));
	double e = -(p0[0] * q0[0] + p0[1] * q0[1] + p0[2] * q0[2]);
	double bi = lr * e, q[3];
	ck_assert_double_eq_tol(m->bi[0], bi, 1e-6);
	for (int f = 0; f < 3; f++) {
		q[f] = q0[f] + lr * (e * p0[f] - reg * q0[f]);
		ck_assert_double_eq_tol(m->Q[f], q[f], 1e-6);
	}
	double z[4] = {q[0], q[1], q[2], 1}, y = r - m->mu - bi;
	for (int a = 0; a < 4; a++) {
		rhs[a] = z[a] * y;
		for (int c = 0; c < 4; c++)
			A[a * 4 + c] = z[a] * z[c] + (a == c ? (a < 3 ? reg : regb) : 0);
	}
	gauss(4, A, rhs, x);
	for (int f = 0; f < 3; f++)
		ck_assert_double_eq_tol(m->P[f], x[f], 1e-5);
	ck_assert_double_eq_tol(m->bu[0], x[3], 1e-5);
	cf_model_free(m);
	cf_ratings_free(&rs);
}
END_TEST

/*
 * Fine-tuning (init): users and items the new ratings do not touch keep
 * their parameters bit for bit; touched ones are re-fitted against their
 * whole history (the old ratings kept), so their predictions move toward
 * the new ratings; the seen table holds old and new, a re-rated pair once.
 */
static void
check_finetune(cf_algo algo)
{
	cf_ratings rs, add;
	cf_mf_params prm = quiet_params(algo);
	char err[256];
	const uint32_t nu = 40, ni = 60;

	make_data(&rs, nu, ni, 7);
	prm.k = 4;
	prm.epochs = algo == CF_SGD ? 200 : 5;
	cf_model *m0 = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m0 != NULL, "%s", err);
	/* Two new ratings of user 3 (one re-rating a pair it had), one of a
	 * new user "u-new" for item 5. */
	cf_ratings_init(&add, 1);
	add.has_scale = 1;
	add.rating_min = 0.5;
	add.rating_max = 5;
	uint32_t u3 = cf_idmap_intern(add.users, "u3", 2, NULL);
	uint32_t un = cf_idmap_intern(add.users, "u-new", 5, NULL);
	uint32_t ia = m0->seen_item[m0->seen_ptr[3]];
	char ida[32];
	snprintf(ida, sizeof ida, "i%u", ia);
	uint32_t i1 = cf_idmap_intern(add.items, ida, strlen(ida), NULL);
	uint32_t i2 = cf_idmap_intern(add.items, "i5", 2, NULL);
	float old_a = m0->seen_rating[m0->seen_ptr[3]], new_a = old_a >= 2.75f ? 0.5f : 5.0f;
	cf_ratings_add(&add, u3, i1, new_a, 1);
	cf_ratings_add(&add, u3, i2, 5.0f, 2);
	cf_ratings_add(&add, un, i2, 5.0f, 3);
	int form_biased = algo != CF_IALS;
	float before = cf_model_predict(m0, 3, 5), before_a = cf_model_predict(m0, 3, ia);
	cf_model *m1 = cf_mf_train(&add, NULL, &prm, m0, err, sizeof err);
	ck_assert_msg(m1 != NULL, "%s", err);
	ck_assert_uint_eq(m1->nusers, nu + 1);
	ck_assert_uint_eq(m1->nitems, ni);
	ck_assert_uint_eq(m1->nseen, m0->nseen + 2);   /* one pair re-rated */
	for (uint32_t u = 0; u < nu; u++) {
		if (u == 3)
			continue;
		ck_assert(m1->bu[u] == m0->bu[u]);
		ck_assert(memcmp(m1->P + u * m0->k, m0->P + u * m0->k, m0->k * sizeof(float)) == 0);
	}
	for (uint32_t i = 0; i < ni; i++) {
		if (i == ia || i == 5)
			continue;
		ck_assert(m1->bi[i] == m0->bi[i]);
		ck_assert(memcmp(m1->Q + i * m0->k, m0->Q + i * m0->k, m0->k * sizeof(float)) == 0);
	}
	if (form_biased) {
		/* Each new pair's prediction moves toward its new rating. */
		ck_assert_msg((cf_model_predict(m1, 3, ia) - before_a) * (new_a - old_a) > 0,
		              "%s: %g -> %g",
		              cf_algo_name(algo), before_a, cf_model_predict(m1, 3, ia));
		ck_assert_msg(cf_model_predict(m1, 3, 5) > before, "%s: %g -> %g",
		              cf_algo_name(algo), before, cf_model_predict(m1, 3, 5));
		ck_assert(m1->mu == m0->mu);
	}
	ck_assert_int_eq(cf_model_seen(m1, nu, 5), 1);
	cf_model_free(m1);
	cf_model_free(m0);
	cf_ratings_free(&add);
	cf_ratings_free(&rs);
}

START_TEST(test_finetune_als) { check_finetune(CF_ALS); }
END_TEST
START_TEST(test_finetune_sgd) { check_finetune(CF_SGD); }
END_TEST
START_TEST(test_finetune_ials) { check_finetune(CF_IALS); }
END_TEST
START_TEST(test_finetune_baseline) { check_finetune(CF_BASELINE); }
END_TEST

/* ALS ends with the user step, so folding a trained user back in from
 * its own training ratings gives its factors and scores again. */
START_TEST(test_fold_in_reproduces_user)
{
	cf_ratings rs;
	cf_mf_params prm = quiet_params(CF_ALS);
	char err[256];
	cf_model *m;

	make_data(&rs, 40, 60, 1);
	prm.k = 4;
	prm.epochs = 5;
	prm.solver = CF_SOLVER_EXACT;   /* fold-in is exact: so must the last step be */
	m = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	for (uint32_t u = 0; u < 40; u += 13) {
		uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
		float p[4], bias;
		ck_assert_int_gt(b - a, 0);
		ck_assert_int_eq(cf_solve_user(m, m->seen_item + a, m->seen_rating + a, b - a,
		                                  prm.reg, prm.reg_bias, p, &bias), 0);
		for (int f = 0; f < 4; f++)
			ck_assert_double_eq_tol(p[f], m->P[u * 4 + f], 1e-4);
		ck_assert_double_eq_tol(bias, m->bu[u], 1e-4);
		for (uint32_t i = 0; i < 60; i += 7) {
			double s = m->mu + bias + m->bi[i];
			for (int f = 0; f < 4; f++)
				s += p[f] * m->Q[i * 4 + f];
			ck_assert_double_eq_tol(s, cf_model_predict(m, u, i), 1e-4);
		}
	}
	cf_model_free(m);
	cf_ratings_free(&rs);
}
END_TEST

/* The same for iALS: the implicit fold-in reproduces the trained user,
 * for Hu-Koren-Volinsky's form and for Rendle et al.'s (alpha0 < 1 and
 * the frequency-scaled penalty, which fold-in must weight the same). */
static void
check_ials_fold_in(double alpha0, double nu, double reg, double alpha)
{
	cf_ratings rs;
	cf_mf_params prm = quiet_params(CF_IALS);
	char err[256];
	cf_model *m;

	make_data(&rs, 30, 50, 2);
	prm.k = 4;
	prm.epochs = 4;
	prm.reg = reg;
	prm.alpha = alpha;
	prm.alpha0 = alpha0;
	prm.nu = nu;
	prm.solver = CF_SOLVER_EXACT;
	m = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_double_eq(m->hp.alpha0, alpha0);
	ck_assert_double_eq(m->hp.nu, nu);
	for (uint32_t u = 0; u < 30; u += 11) {
		uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
		float p[4], bias;
		ck_assert_int_eq(cf_solve_user(m, m->seen_item + a, m->seen_rating + a, b - a,
		                                  prm.reg, 0, p, &bias), 0);
		for (int f = 0; f < 4; f++)
			ck_assert_double_eq_tol(p[f], m->P[u * 4 + f], 1e-4);
	}
	cf_model_free(m);
	cf_ratings_free(&rs);
}

START_TEST(test_ials_fold_in) { check_ials_fold_in(1, 0, 1, 0.4); }
END_TEST
START_TEST(test_ials_rendle_fold_in) { check_ials_fold_in(0.1, 1, 0.02, 0); }
END_TEST

/* ALS and iALS: the same bytes at 1 and 3 threads; SGD at 1 thread twice. */
START_TEST(test_determinism)
{
	cf_ratings rs;
	char err[256];
	cf_algo algos[3] = {CF_ALS, CF_IALS, CF_SGD};

	make_data(&rs, 50, 64, 3);
	for (int a = 0; a < 3; a++) {
		cf_mf_params prm = quiet_params(algos[a]);
		prm.k = 5;
		prm.epochs = 3;
		cf_model *m1 = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
		ck_assert_msg(m1 != NULL, "%s", err);
		prm.threads = algos[a] == CF_SGD ? 1 : 3;
		cf_model *m2 = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
		ck_assert_msg(m2 != NULL, "%s", err);
		ck_assert_msg(same_model(m1, m2), "%s differs between runs", cf_algo_name(algos[a]));
		cf_model_free(m1);
		cf_model_free(m2);
	}
	cf_ratings_free(&rs);
}
END_TEST

/* A huge learning rate diverges: no model, a one-line reason. */
START_TEST(test_divergence)
{
	cf_ratings rs;
	cf_mf_params prm = quiet_params(CF_SGD);
	char err[256];

	make_data(&rs, 30, 40, 4);
	prm.k = 4;
	prm.epochs = 20;
	prm.lr = 1e4;
	prm.init_scale = 1;
	ck_assert(cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err) == NULL);
	ck_assert_msg(strstr(err, "diverged") != NULL, "message: %s", err);
	ck_assert(strchr(err, '\n') == NULL);
	cf_ratings_free(&rs);
}
END_TEST

START_TEST(test_bad_params)
{
	cf_ratings rs, empty;
	char err[256];
	cf_mf_params prm;

	make_data(&rs, 10, 10, 5);
	prm = quiet_params(CF_ALS);
	prm.k = 0;
	ck_assert(cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err) == NULL);
	ck_assert(strstr(err, "-k") != NULL);
	prm = quiet_params(CF_SGD);
	prm.reg = -1;
	ck_assert(cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err) == NULL);
	ck_assert(strstr(err, "--reg") != NULL);
	prm = quiet_params(CF_SGD);
	prm.lr = NAN;
	ck_assert(cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err) == NULL);
	ck_assert(strstr(err, "--lr") != NULL);
	prm = quiet_params(CF_IALS);
	prm.epochs = 0;
	ck_assert(cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err) == NULL);
	cf_ratings_init(&empty, 0);
	prm = quiet_params(CF_BASELINE);
	ck_assert(cf_mf_train(&empty, NULL, &prm, NULL, err, sizeof err) == NULL);
	ck_assert(strstr(err, "no ratings") != NULL);
	cf_ratings_free(&empty);
	cf_ratings_free(&rs);
}
END_TEST

/* Baseline: at its fixed point every bias is the penalized mean residual. */
START_TEST(test_baseline_fixed_point)
{
	cf_ratings rs;
	cf_mf_params prm = quiet_params(CF_BASELINE);
	char err[256];
	cf_model *m;

	make_data(&rs, 20, 30, 6);
	prm.epochs = 200;
	m = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	for (uint32_t u = 0; u < 20; u += 5) {
		double s = 0;
		uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
		for (uint64_t t = a; t < b; t++)
			s += m->seen_rating[t] - m->mu - m->bi[m->seen_item[t]];
		ck_assert_double_eq_tol(m->bu[u], s / (prm.reg_bias + (double)(b - a)), 1e-4);
	}
	cf_model_free(m);
	cf_ratings_free(&rs);
}
END_TEST

/* Popular: bi holds each item's number of ratings. */
START_TEST(test_popular_counts)
{
	cf_ratings rs;
	cf_mf_params prm = quiet_params(CF_POPULAR);
	char err[256];
	cf_model *m;
	uint32_t cnt[30] = {0};

	make_data(&rs, 20, 30, 7);
	for (size_t j = 0; j < rs.n; j++)
		cnt[rs.item[j]]++;
	m = cf_mf_train(&rs, NULL, &prm, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(m->k, 0);
	for (int i = 0; i < 30; i++)
		ck_assert(m->bi[i] == (float)cnt[i]);
	cf_model_free(m);
	cf_ratings_free(&rs);
}
END_TEST

Suite *
mf_suite(void)
{
	Suite *s = suite_create("mf");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_algo_names);
	tcase_add_test(tc, test_als_solve_matches_normal_equations);
	tcase_add_test(tc, test_ials_solve_matches_dense);
	tcase_add_test(tc, test_f16_exhaustive);
	tcase_add_test(tc, test_f16_copy);
	tcase_add_test(tc, test_cg_f16);
	tcase_add_test(tc, test_sgd_one_step);
	tcase_add_test(tc, test_finetune_als);
	tcase_add_test(tc, test_finetune_sgd);
	tcase_add_test(tc, test_finetune_ials);
	tcase_add_test(tc, test_finetune_baseline);
	tcase_add_test(tc, test_fold_in_reproduces_user);
	tcase_add_test(tc, test_ials_fold_in);
	tcase_add_test(tc, test_ials_rendle_fold_in);
	tcase_add_test(tc, test_determinism);
	tcase_add_test(tc, test_divergence);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_baseline_fixed_point);
	tcase_add_test(tc, test_popular_counts);
	suite_add_tcase(s, tc);
	return s;
}
