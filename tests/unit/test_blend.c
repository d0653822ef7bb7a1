/*
 * test_blend.c - the blend rule and its weight search (blend.h): z-scores
 * over the candidates only; the search recovers the weights of a known
 * mixture from the relevant items it makes, on generated scores, with and
 * without noise; bad grids are refused.
 */
#include <check.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "blend.h"
#include "rng.h"

Suite *blend_suite(void);

START_TEST(z_over_candidates)
{
	float row[6] = {1, 2, 3, 100, -FLT_MAX, 5}, z[6];
	unsigned char skip[6] = {0, 0, 0, 1, 0, 0};

	cf_blend_z(row, 6, skip, z);
	/* candidates 1, 2, 3, 5: mean 2.75, population sd sqrt(2.1875) */
	double sd = sqrt(((1 - 2.75) * (1 - 2.75) + (2 - 2.75) * (2 - 2.75) +
	                  (3 - 2.75) * (3 - 2.75) + (5 - 2.75) * (5 - 2.75)) / 4);
	ck_assert_double_eq_tol(z[0], (1 - 2.75) / sd, 1e-6);
	ck_assert_double_eq_tol(z[5], (5 - 2.75) / sd, 1e-6);
	ck_assert_float_eq(z[3], 0);    /* skipped */
	ck_assert_float_eq(z[4], 0);    /* not ranked */
	float c[3] = {4, 4, 4};
	cf_blend_z(c, 3, NULL, z);      /* sd 0 */
	ck_assert_float_eq(z[1], 0);

	const float *zs[2] = {z, z}, *rows[2] = {row, row};
	float out[6];
	double w[2] = {0.5, 0.5};
	cf_blend_z(row, 6, skip, z);
	cf_blend_mix(zs, rows, w, 2, 6, out);
	ck_assert_float_eq(out[4], -FLT_MAX);
	ck_assert_double_eq_tol(out[5], z[5], 1e-6);
}
END_TEST

/*
 * Users with np generated score rows (z-scored); the relevant items are the
 * top 10 of sum_p truth_p z_p (+ noise sd x N(0,1)).  Returns the fit.
 */
static void
recover(int np, const double *truth, double noise, double tol)
{
	enum { NU = 150, NI = 400 };
	cf_blend_fit *f = cf_blend_fit_new(np, 0.05);
	cf_rng r;
	float *raw = malloc(sizeof(float) * NI), *z[CF_BLEND_MAX_PARTS], t[NI];
	unsigned char skip[NI];

	ck_assert_ptr_nonnull(f);
	cf_rng_seed(&r, 7, (uint64_t)np);
	for (int p = 0; p < np; p++)
		z[p] = malloc(sizeof(float) * NI);
	for (int u = 0; u < NU; u++) {
		for (int i = 0; i < NI; i++)
			skip[i] = cf_rng_below(&r, 20) == 0;    /* the user's "seen" items */
		for (int p = 0; p < np; p++) {
			for (int i = 0; i < NI; i++)
				raw[i] = (float)(p * 3 + (p + 1) * cf_rng_normal(&r));  /* scales differ */
			cf_blend_z(raw, NI, skip, z[p]);
		}
		for (int i = 0; i < NI; i++) {
			double x = noise * cf_rng_normal(&r);
			for (int p = 0; p < np; p++)
				x += truth[p] * z[p][i];
			t[i] = skip[i] ? -INFINITY : (float)x;
		}
		uint32_t rel[10];
		for (int k = 0; k < 10; k++) {      /* the 10 best of the truth */
			int b = -1;
			for (int i = 0; i < NI; i++)
				if (t[i] != -INFINITY && (b < 0 || t[i] > t[b]))
					b = i;
			rel[k] = (uint32_t)b;
			t[b] = -INFINITY;
		}
		cf_blend_fit_user(f, (const float *const *)z, NI, rel, 10, skip);
	}
	double w[CF_BLEND_MAX_PARTS];
	size_t users;
	double nd = cf_blend_fit_best(f, w, &users);
	ck_assert_uint_eq(users, NU);
	for (int p = 0; p < np; p++)
		ck_assert_msg(fabs(w[p] - truth[p]) <= tol, "part %d: weight %g, truth %g (NDCG %g)",
		              p, w[p], truth[p], nd);
	for (int p = 0; p < np; p++)
		ck_assert(cf_blend_fit_corner(f, p) < nd);
	if (noise == 0)
		ck_assert_double_eq_tol(nd, 1.0, 1e-12);
	for (int p = 0; p < np; p++)
		free(z[p]);
	free(raw);
	cf_blend_fit_free(f);
}

START_TEST(recovers_a_known_mixture)
{
	double two[2] = {0.7, 0.3}, three[3] = {0.6, 0.3, 0.1}, four[4] = {0.4, 0.1, 0.2, 0.3};

	recover(2, two, 0, 0.05);
	recover(3, three, 0, 0.05);
	recover(4, four, 0, 0.1);
	recover(2, two, 0.3, 0.1);
	recover(3, three, 0.3, 0.1);
}
END_TEST

START_TEST(bad_grids)
{
	ck_assert_ptr_null(cf_blend_fit_new(1, 0.05));
	ck_assert_ptr_null(cf_blend_fit_new(CF_BLEND_MAX_PARTS + 1, 0.05));
	ck_assert_ptr_null(cf_blend_fit_new(2, 0.03));
	ck_assert_ptr_null(cf_blend_fit_new(2, 0));
	ck_assert_ptr_null(cf_blend_fit_new(2, 0.001));
	ck_assert(cf_blend_step_ok(0.25));
	ck_assert(!cf_blend_step_ok(NAN));
}
END_TEST

Suite *
blend_suite(void)
{
	Suite *s = suite_create("blend");
	TCase *tc = tcase_create("blend");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, z_over_candidates);
	tcase_add_test(tc, recovers_a_known_mixture);
	tcase_add_test(tc, bad_grids);
	suite_add_tcase(s, tc);
	return s;
}
