/*
 * test_score.c - unit tests of the scoring library (score.h) against
 * naive loops: every user's top N through blocked sgemm tiles and bounded
 * heaps equals a full sort (ties by raw id, seen items excluded, any
 * thread count, any block and tile size); one user's scores; pair
 * fallbacks for unknown ids; cosine neighbours; explanations that add up
 * to the score they explain.
 *
 * Models are built here with deterministic factors.  Where results must
 * match exactly, factors and biases are multiples of 1/4 in a small range (factors of 1/2),
 * so every float sum is exact whatever the order, and ties are common.
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
#include "score.h"
#include "util.h"

Suite *score_suite(void);

/* Ids whose byte order differs from index order ("i10" < "i9"). */
static cf_model *
make_model(uint32_t nu, uint32_t ni, int k, const char *algo, int exact, double pseen,
           uint64_t seed)
{
	cf_model *m = cf_model_new(nu, ni, k, algo);
	cf_ratings rs;
	cf_rng r;
	char b[32];

	cf_rng_seed(&r, seed, 1);
	for (size_t x = 0; x < (size_t)nu * k; x++)
		m->P[x] = exact ? (float)((int)cf_rng_below(&r, 5) - 2) / 2 :
		                  (float)cf_rng_normal(&r);
	for (size_t x = 0; x < (size_t)ni * k; x++)
		m->Q[x] = exact ? (float)((int)cf_rng_below(&r, 5) - 2) / 2 :
		                  (float)cf_rng_normal(&r);
	for (uint32_t u = 0; u < nu; u++)
		m->bu[u] = (float)((int)cf_rng_below(&r, 5) - 2) / 4;
	for (uint32_t i = 0; i < ni; i++)
		m->bi[i] = (float)((int)cf_rng_below(&r, 5) - 2) / 4;
	m->mu = strcmp(algo, "ials") == 0 ? 0 : 3.5;
	m->has_scale = 1;
	m->rating_min = 0.5;
	m->rating_max = 5;
	cf_ratings_init(&rs, 0);
	for (uint32_t u = 0; u < nu; u++) {
		snprintf(b, sizeof b, "u%u", u);
		cf_idmap_intern(rs.users, b, strlen(b), NULL);
	}
	for (uint32_t i = 0; i < ni; i++) {
		/* scrambled names: index order is not id order */
		snprintf(b, sizeof b, "i%u", (i * 7919u) % 1000u + 1000u * (i / 1000u));
		cf_idmap_intern(rs.items, b, strlen(b), NULL);
	}
	for (uint32_t u = 0; u < nu; u++)
		for (uint32_t i = 0; i < ni; i++)
			if (cf_rng_uniform(&r) < pseen)
				cf_ratings_add(&rs, u, i, (float)(1 + cf_rng_below(&r, 9)) / 2, 0);
	cf_model_set_seen(m, &rs);
	cf_model_set_dicts(m, rs.users, rs.items);
	cf_ratings_free(&rs);
	return m;
}

/* The naive score, in double (exact for exact models). */
static double
naive(const cf_model *m, uint32_t u, uint32_t i)
{
	double d = 0;

	for (int f = 0; f < m->k; f++)
		d += (double)m->P[(size_t)u * m->k + f] * m->Q[(size_t)i * m->k + f];
	if (strcmp(m->algo, "ials") == 0)
		return d;
	if (strcmp(m->algo, "popular") == 0)
		return m->bi[i];
	return m->mu + m->bu[u] + m->bi[i] + d;
}

static const cf_model *sort_m;
static const double *sort_s;

static int
idcmp(const cf_model *m, uint32_t a, uint32_t b)
{
	size_t la, lb;
	const char *x = cf_idmap_id(m->items, a, &la), *y = cf_idmap_id(m->items, b, &lb);
	int c = memcmp(x, y, la < lb ? la : lb);

	return c ? c : (la > lb) - (la < lb);
}

static int
cmp_naive(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (sort_s[x] != sort_s[y])
		return sort_s[x] > sort_s[y] ? -1 : 1;
	return idcmp(sort_m, x, y);
}

/* User u's full ranking by a full sort; returns how many items qualify. */
static size_t
naive_rank(const cf_model *m, uint32_t u, int include_seen, uint32_t *order, double *sc)
{
	size_t n = 0;

	for (uint32_t i = 0; i < m->nitems; i++) {
		sc[i] = naive(m, u, i);
		if (include_seen || !cf_model_seen(m, u, i))
			order[n++] = i;
	}
	sort_m = m;
	sort_s = sc;
	qsort(order, n, sizeof *order, cmp_naive);
	return n;
}

/* ---- every user's top n through the blocked path ---- */

struct collect {
	size_t n;
	uint32_t next_user;
	cf_hit *hits;           /* nusers x n */
	uint32_t *cnt;
	int in_order;
};

static int
collect(void *arg, uint32_t u0, uint32_t u1, size_t n, const cf_hit *hits,
        const uint32_t *cnt)
{
	struct collect *c = arg;

	if (u0 != c->next_user)
		c->in_order = 0;
	c->next_user = u1;
	for (uint32_t u = u0; u < u1; u++) {
		memcpy(c->hits + (size_t)u * c->n, hits + (size_t)(u - u0) * n,
		       cnt[u - u0] * sizeof *hits);
		c->cnt[u] = cnt[u - u0];
	}
	return 0;
}

static void
check_all_topn(const char *algo, uint32_t B, uint32_t T, int threads, size_t n,
               int include_seen)
{
	cf_model *m = make_model(53, 97, 4, algo, 1, 0.3, 11);
	cf_scorer *s = cf_scorer_new(m);
	struct collect c = {n, 0, NULL, NULL, 1};
	uint32_t *order = malloc(m->nitems * sizeof *order);
	double *sc = malloc(m->nitems * sizeof *sc);
	size_t ties = 0;

	s->block_users = B;
	s->tile_items = T;
	c.hits = calloc((size_t)m->nusers * n, sizeof *c.hits);
	c.cnt = calloc(m->nusers, sizeof *c.cnt);
	ck_assert_int_eq(cf_score_all_topn(s, n, include_seen, threads, collect, &c), 0);
	ck_assert(c.in_order);
	ck_assert_uint_eq(c.next_user, m->nusers);
	for (uint32_t u = 0; u < m->nusers; u++) {
		size_t q = naive_rank(m, u, include_seen, order, sc);
		size_t want = q < n ? q : n;
		ck_assert_uint_eq(c.cnt[u], want);
		for (size_t r = 0; r < want; r++) {
			const cf_hit *h = &c.hits[(size_t)u * n + r];
			ck_assert_msg(h->item == order[r],
			              "%s user %u rank %zu: item %u, want %u (B=%u T=%u t=%d)",
			              algo, u, r, h->item, order[r], B, T, threads);
			ck_assert(h->score == (float)sc[order[r]]);
			if (r > 0 && sc[order[r]] == sc[order[r - 1]])
				ties++;
		}
	}
	if (n >= 10)
		ck_assert_msg(ties > 10, "the model should have ties (%zu)", ties);
	free(order);
	free(sc);
	free(c.hits);
	free(c.cnt);
	cf_scorer_free(s);
	cf_model_free(m);
}

START_TEST(all_topn_equals_sort)
{
	static const struct {
		uint32_t B, T;
		int threads;
		size_t n;
	} cfg[] = {
		{512, 512, 1, 10}, {8, 16, 1, 10}, {8, 16, 3, 10}, {5, 7, 2, 1},
		{16, 97, 4, 200}, {1, 1, 2, 5}, {64, 30, 1, 97},
	};
	static const char *algos[] = {"als", "ials", "popular", "baseline"};

	for (size_t a = 0; a < sizeof algos / sizeof *algos; a++)
		for (size_t x = 0; x < sizeof cfg / sizeof *cfg; x++)
			for (int seen = 0; seen < 2; seen++)
				check_all_topn(algos[a], cfg[x].B, cfg[x].T, cfg[x].threads,
				               cfg[x].n, seen);
}
END_TEST

static int
stop_at_second(void *arg, uint32_t u0, uint32_t u1, size_t n, const cf_hit *hits,
               const uint32_t *cnt)
{
	int *calls = arg;

	(void)u0, (void)u1, (void)n, (void)hits, (void)cnt;
	return ++*calls == 2 ? 7 : 0;
}

START_TEST(all_topn_stops_early)
{
	cf_model *m = make_model(100, 20, 3, "als", 1, 0.2, 3);
	cf_scorer *s = cf_scorer_new(m);

	s->block_users = 10;
	for (int t = 1; t <= 3; t++) {
		int calls = 0;
		ck_assert_int_eq(cf_score_all_topn(s, 5, 0, t, stop_at_second, &calls), 7);
		ck_assert_int_eq(calls, 2);
	}
	cf_scorer_free(s);
	cf_model_free(m);
}
END_TEST

/* ---- every score, and one user's ---- */

struct rows {
	const cf_model *m;
	int include_seen, ok;
	uint32_t next;
};

static int
check_rows(void *arg, uint32_t u0, uint32_t u1, const float *scores)
{
	struct rows *c = arg;

	if (u0 != c->next)
		c->ok = 0;
	c->next = u1;
	for (uint32_t u = u0; u < u1; u++)
		for (uint32_t i = 0; i < c->m->nitems; i++) {
			float want = !c->include_seen && cf_model_seen(c->m, u, i) ?
			             -INFINITY : (float)naive(c->m, u, i);
			if (scores[(size_t)(u - u0) * c->m->nitems + i] != want)
				c->ok = 0;
		}
	return 0;
}

START_TEST(all_rows_and_user)
{
	cf_model *m = make_model(41, 33, 5, "sgd", 1, 0.25, 5);
	cf_scorer *s = cf_scorer_new(m);
	float *row = malloc(m->nitems * sizeof *row);
	cf_hit hits[40];

	for (int t = 1; t <= 3; t++)
		for (int inc = 0; inc < 2; inc++) {
			struct rows c = {m, inc, 1, 0};
			ck_assert_int_eq(cf_score_all_rows(s, 4, inc, t, check_rows, &c), 0);
			ck_assert(c.ok);
			ck_assert_uint_eq(c.next, m->nusers);
		}
	/* One user alone: the same scores; top n after exclusion matches the sort. */
	uint32_t *order = malloc(m->nitems * sizeof *order);
	double *sc = malloc(m->nitems * sizeof *sc);
	for (uint32_t u = 0; u < m->nusers; u++) {
		cf_score_user(s, u, row);
		for (uint32_t i = 0; i < m->nitems; i++)
			ck_assert(row[i] == (float)naive(m, u, i));
		uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
		cf_score_exclude(row, m->seen_item + a, b - a);
		size_t nh = cf_score_topn(s, row, 40, hits);
		size_t q = naive_rank(m, u, 0, order, sc);
		ck_assert_uint_eq(nh, q);
		for (size_t r = 0; r < nh; r++)
			ck_assert_uint_eq(hits[r].item, order[r]);
	}
	/* A factor vector scores like the user it copies. */
	float *row2 = malloc(m->nitems * sizeof *row2);
	cf_score_user(s, 3, row);
	cf_score_vec(s, m->P + 3 * m->k, m->bu[3], row2);
	ck_assert(memcmp(row, row2, m->nitems * sizeof *row) == 0);
	free(row2);
	free(order);
	free(sc);
	free(row);
	cf_scorer_free(s);
	cf_model_free(m);
}
END_TEST

/* ---- pairs ---- */

START_TEST(pair_fallbacks)
{
	cf_model *m = make_model(4, 5, 2, "als", 1, 0, 9);
	cf_scorer *s = cf_scorer_new(m);

	m->bu[1] = 0.25f;
	m->bi[2] = -0.5f;
	ck_assert(cf_score_pair(s, CF_NOID, 2) == 3.0f);
	ck_assert(cf_score_pair(s, 1, CF_NOID) == 3.75f);
	ck_assert(cf_score_pair(s, CF_NOID, CF_NOID) == 3.5f);
	ck_assert(cf_score_pair(s, 1, 2) == cf_model_clip(m, cf_model_predict(m, 1, 2)));
	/* Clipped to the scale. */
	m->bi[3] = 10;
	ck_assert(cf_score_pair(s, 0, 3) == 5.0f);
	ck_assert(cf_score_pair(s, CF_NOID, 3) == 5.0f);
	m->bi[3] = -10;
	ck_assert(cf_score_pair(s, CF_NOID, 3) == 0.5f);
	cf_scorer_free(s);
	cf_model_free(m);

	/* ials: p.q, unknowns 0, no clipping; popular: bi. */
	m = make_model(3, 3, 2, "ials", 1, 0, 9);
	s = cf_scorer_new(m);
	m->P[0] = 4, m->P[1] = 4, m->Q[0] = 4, m->Q[1] = 4;
	ck_assert(cf_score_pair(s, 0, 0) == 32.0f);
	ck_assert(cf_score_pair(s, CF_NOID, 0) == 0.0f);
	ck_assert(!s->ratings);
	cf_scorer_free(s);
	cf_model_free(m);
	m = make_model(3, 3, 0, "popular", 1, 0, 9);
	s = cf_scorer_new(m);
	m->bi[1] = 42;
	ck_assert(cf_score_pair(s, 0, 1) == 42.0f);
	ck_assert(cf_score_pair(s, CF_NOID, 1) == 42.0f);
	ck_assert(cf_score_pair(s, 0, CF_NOID) == 0.0f);
	cf_scorer_free(s);
	cf_model_free(m);
}
END_TEST

/* ---- cosine neighbours ---- */

START_TEST(similar_equals_naive)
{
	cf_model *m = make_model(2, 300, 8, "als", 0, 0, 21);
	cf_scorer *s = cf_scorer_new(m);
	cf_hit hits[25];
	double *cs = malloc(m->nitems * sizeof *cs);
	uint32_t *order = malloc(m->nitems * sizeof *order);

	memset(m->Q + 17 * m->k, 0, m->k * sizeof *m->Q);   /* a zero vector */
	for (uint32_t it = 0; it < m->nitems; it += 37) {
		size_t n = 0, nh = cf_score_similar(s, it, 25, hits);
		for (uint32_t j = 0; j < m->nitems; j++) {
			double d = 0, a = 0, b = 0;
			for (int f = 0; f < m->k; f++) {
				double x = m->Q[(size_t)it * m->k + f], y = m->Q[(size_t)j * m->k + f];
				d += x * y, a += x * x, b += y * y;
			}
			cs[j] = a > 0 && b > 0 ? d / sqrt(a * b) : 0;
			if (j != it)
				order[n++] = j;
		}
		sort_m = m;
		sort_s = cs;
		qsort(order, n, sizeof *order, cmp_naive);
		ck_assert_uint_eq(nh, 25);
		for (size_t r = 0; r < nh; r++) {
			ck_assert_uint_ne(hits[r].item, it);
			ck_assert_msg(fabs(hits[r].score - cs[order[r]]) < 1e-5,
			              "item %u rank %zu: %g, want %g", it, r, hits[r].score,
			              cs[order[r]]);
			ck_assert(fabs(hits[r].score - cs[hits[r].item]) < 1e-5);
			if (r > 0)
				ck_assert(hits[r].score <= hits[r - 1].score);
		}
	}
	/* The zero vector: every cosine 0. */
	ck_assert_uint_eq(cf_score_similar(s, 17, 3, hits), 3);
	ck_assert(hits[0].score == 0.0f);
	free(cs);
	free(order);
	cf_scorer_free(s);
	cf_model_free(m);
}
END_TEST

/* ---- explanations ---- */

/*
 * The user's factors set to the ALS user step of their history: then the
 * contributions must add up to p.q for every item.
 */
static void
check_explain(const char *algo, const char *reg_weight)
{
	cf_model *m = make_model(3, 120, 6, algo, 0, 0.2, 33);
	float p[6], b = 0;
	double *all;
	cf_because top[3];

	for (size_t x = 0; x < (size_t)m->nitems * m->k; x++)
		m->Q[x] *= 0.3f;
	cf_schema_set(m->attrs, "reg", "0.05");
	cf_schema_set(m->attrs, "reg_bias", "2");
	cf_schema_set(m->attrs, "alpha", "3");
	if (reg_weight)
		cf_schema_set(m->attrs, "reg_weight", reg_weight);
	cf_model_parse_hparams(m);
	cf_scorer *s = cf_scorer_new(m);
	uint32_t u = 1;
	uint64_t a = m->seen_ptr[u], n = m->seen_ptr[u + 1] - a;
	ck_assert_uint_gt(n, 5);
	ck_assert_int_eq(cf_score_foldin(s, m->seen_item + a, m->seen_rating + a, n, p, &b), 0);
	cf_explainer *e = cf_explain_new(s, m->seen_item + a, m->seen_rating + a, n, b);
	ck_assert_ptr_nonnull(e);
	all = malloc(n * sizeof *all);
	for (uint32_t i = 0; i < m->nitems; i++) {
		double sum = 0, pq = 0, best = -INFINITY;
		cf_explain_all(e, i, all);
		for (uint64_t j = 0; j < n; j++) {
			sum += all[j];
			if (all[j] > best)
				best = all[j];
		}
		for (int f = 0; f < m->k; f++)
			pq += (double)p[f] * m->Q[(size_t)i * m->k + f];
		ck_assert_msg(fabs(sum - pq) < 1e-4 * (1 + fabs(pq)),
		              "%s item %u: contributions sum to %g, p.q is %g", algo, i, sum, pq);
		size_t nt = cf_explain_top(e, i, 3, top);
		ck_assert_uint_eq(nt, 3);
		ck_assert(fabs(top[0].contribution - best) < 1e-6 * (1 + fabs(best)));
		ck_assert(top[0].contribution >= top[1].contribution);
		ck_assert(top[1].contribution >= top[2].contribution);
	}
	free(all);
	cf_explain_free(e);
	cf_scorer_free(s);
	cf_model_free(m);
}

START_TEST(explain_sums_to_score)
{
	check_explain("als", "count");
	check_explain("als", NULL);
	check_explain("ials", NULL);
}
END_TEST

START_TEST(explain_needs_factors)
{
	cf_model *m = make_model(2, 10, 0, "baseline", 1, 0.5, 1);
	cf_scorer *s = cf_scorer_new(m);
	uint32_t it = 0;
	float r = 4;

	ck_assert_ptr_null(cf_explain_new(s, &it, &r, 1, 0));
	ck_assert_uint_eq(cf_score_similar(s, 0, 3, NULL), 0);
	cf_scorer_free(s);
	cf_model_free(m);
}
END_TEST

Suite *
score_suite(void)
{
	Suite *s = suite_create("score");
	TCase *tc = tcase_create("score");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, all_topn_equals_sort);
	tcase_add_test(tc, all_topn_stops_early);
	tcase_add_test(tc, all_rows_and_user);
	tcase_add_test(tc, pair_fallbacks);
	tcase_add_test(tc, similar_equals_naive);
	tcase_add_test(tc, explain_sums_to_score);
	tcase_add_test(tc, explain_needs_factors);
	suite_add_tcase(s, tc);
	return s;
}
