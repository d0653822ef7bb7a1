/*
 * test_search.c - unit tests of the search module (search.h): successive
 * halving's plan and selection, space parsing, sampling on each scale,
 * and the whole sampler + halving on a synthetic objective with a known
 * optimum.
 */
#include <check.h>

#include <math.h>
#include <string.h>

#include "search.h"

Suite *search_suite(void);

START_TEST(test_plan)
{
	cf_halving h;

	cf_halving_plan(50, 3, 2, 60, &h);
	ck_assert_int_eq(h.rungs, 4);
	const int e[4] = {2, 6, 20, 60}, n[4] = {50, 17, 6, 2};
	for (int r = 0; r < 4; r++) {
		ck_assert_int_eq(h.epochs[r], e[r]);
		ck_assert_int_eq(h.n[r], n[r]);
	}
	cf_halving_plan(50, 1, 2, 60, &h);     /* no halving */
	ck_assert_int_eq(h.rungs, 1);
	ck_assert_int_eq(h.epochs[0], 60);
	ck_assert_int_eq(h.n[0], 50);
	cf_halving_plan(9, 3, 2, 15, &h);
	ck_assert_int_eq(h.rungs, 2);
	ck_assert_int_eq(h.epochs[0], 5);
	ck_assert_int_eq(h.epochs[1], 15);
	ck_assert_int_eq(h.n[1], 3);
}
END_TEST

START_TEST(test_select)
{
	const double obj[6] = {0.9, NAN, 0.8, 0.8, 1.2, 0.7};
	const uint32_t ids[6] = {10, 11, 12, 13, 14, 15};
	uint32_t out[6];

	ck_assert_uint_eq(cf_halving_select(obj, ids, 6, 3, 1, out), 3);
	ck_assert_uint_eq(out[0], 15);
	ck_assert_uint_eq(out[1], 12);  /* a tie goes to the lower id */
	ck_assert_uint_eq(out[2], 13);
	ck_assert_uint_eq(cf_halving_select(obj, ids, 6, 2, 0, out), 2);
	ck_assert_uint_eq(out[0], 14);  /* maximizing */
	ck_assert_uint_eq(out[1], 10);
	ck_assert_uint_eq(cf_halving_select(obj, ids, 6, 6, 1, out), 5);  /* the failed one never */
}
END_TEST

START_TEST(test_parse)
{
	cf_space s;
	char err[200], d[64];

	cf_space_default(CF_SGD, &s);
	ck_assert_int_eq(s.n, 5);
	ck_assert_int_eq(cf_space_parse(&s, "reg=0.01:10:log,k=16:64:log2,lr-decay=off,alpha=2",
	                                err, sizeof err), 0);
	ck_assert_int_eq(s.n, 5);       /* lr_decay dropped, alpha added */
	cf_param_describe(&s.p[0], d, sizeof d);
	ck_assert_str_eq(d, "k=16:64:log2");
	cf_param_describe(&s.p[4], d, sizeof d);
	ck_assert_str_eq(d, "alpha=2");
	ck_assert_int_eq(cf_space_parse(&s, "nope=1:2:lin", err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "reg=0:1:log", err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "reg=2:1:lin", err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "reg=1:2:cubic", err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "k=5:7:log2", err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "reg", err, sizeof err), -1);
	cf_space_default(CF_POPULAR, &s);
	ck_assert_int_eq(s.n, 0);
}
END_TEST

/* Each scale keeps to its range and its kind; log scales are log-uniform. */
START_TEST(test_sample)
{
	cf_space s;
	char err[200];
	cf_rng r;
	double x[4], below = 0;
	const int N = 20000;

	memset(&s, 0, sizeof s);
	ck_assert_int_eq(cf_space_parse(&s, "k=16:256:log2,reg=0.01:100:log,epochs_not=1:2:lin",
	                                err, sizeof err), -1);
	ck_assert_int_eq(cf_space_parse(&s, "k=16:256:log2,reg=0.01:100:log,lr=1:5:int,alpha=0.5:1.5:lin",
	                                err, sizeof err), 0);
	cf_rng_seed(&r, 7, 0);
	int seen[9] = {0};
	for (int t = 0; t < N; t++) {
		cf_space_sample(&s, &r, x);
		double l = log2(x[0]);
		ck_assert(l >= 4 && l <= 8 && l == floor(l));
		seen[(int)l]++;
		ck_assert(x[1] >= 0.01 && x[1] <= 100);
		below += x[1] < 1;      /* the geometric middle */
		ck_assert(x[2] >= 1 && x[2] <= 5 && x[2] == floor(x[2]));
		ck_assert(x[3] >= 0.5 && x[3] <= 1.5);
	}
	for (int l = 4; l <= 8; l++)
		ck_assert_int_gt(seen[l], N / 5 - N / 25);
	ck_assert_double_eq_tol(below / N, 0.5, 0.02);
	char f[256];
	const double y[4] = {64, 0.5, 3, 1};
	cf_space_flags(&s, y, f, sizeof f);
	ck_assert_str_eq(f, "-k 64 --reg 0.5 --lr 3 --alpha 1");
}
END_TEST

/*
 * The sampler and halving together on a synthetic objective whose optimum
 * is known: reg = 0.3, k = 64, and a budget term that early rungs see
 * (1 / epochs, the same for every configuration).  The search must find a
 * configuration near the optimum, and prune: the last rung runs few.
 */
static double
synthetic(const double *x, int epochs)
{
	double a = log10(x[1]) - log10(0.3), b = (log2(x[0]) - 6) / 2;

	return a * a + b * b + 1.0 / epochs;
}

START_TEST(test_synthetic)
{
	cf_space s;
	cf_halving h;
	cf_rng r;
	enum { T = 81 };
	double x[T][2], v[T];
	uint32_t ids[T];
	char err[200];
	int n = T;

	memset(&s, 0, sizeof s);
	ck_assert_int_eq(cf_space_parse(&s, "k=8:1024:log2,reg=0.001:100:log", err, sizeof err), 0);
	cf_rng_seed(&r, 42, 0x7475);
	for (int t = 0; t < T; t++) {
		cf_space_sample(&s, &r, x[t]);
		ids[t] = (uint32_t)t;
	}
	cf_halving_plan(T, 3, 1, 27, &h);
	ck_assert_int_eq(h.rungs, 4);
	for (int g = 0; g < h.rungs; g++) {
		for (int j = 0; j < n; j++)
			v[j] = synthetic(x[ids[j]], h.epochs[g]);
		if (g + 1 < h.rungs)
			n = (int)cf_halving_select(v, ids, (size_t)n, (size_t)h.n[g + 1], 1, ids);
	}
	ck_assert_int_eq(n, 3);
	uint32_t best;
	cf_halving_select(v, ids, (size_t)n, 1, 1, &best);
	ck_assert_msg(fabs(log10(x[best][1]) - log10(0.3)) < 0.35 && x[best][0] >= 32 &&
	              x[best][0] <= 128, "best k %g reg %g", x[best][0], x[best][1]);
	/* and it is the best of all 81 at full budget */
	double all = INFINITY;
	for (int t = 0; t < T; t++)
		all = fmin(all, synthetic(x[t], 27));
	ck_assert_double_eq_tol(synthetic(x[best], 27), all, 1e-12);
}
END_TEST

Suite *
search_suite(void)
{
	Suite *s = suite_create("search");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plan);
	tcase_add_test(tc, test_select);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_synthetic);
	suite_add_tcase(s, tc);
	return s;
}
