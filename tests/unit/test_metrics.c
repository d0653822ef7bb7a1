/*
 * test_metrics.c - unit tests of the evaluation metrics (evalm.h) and the
 * movie metadata module (meta.h): one list's metrics against values worked
 * out by hand, whole evaluations of tiny frames (topk and scores tables,
 * thresholds, users without lists, duplicates, catalogue sources), RMSE /
 * MAE, and movies/links loading from CSV (quotes, BOM, CRLF, non-ASCII,
 * no year) and from frames, with one-line errors on bad files.
 */
#include <check.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_util.h"
#include "evalm.h"
#include "frame.h"
#include "meta.h"
#include "ratings.h"
#include "util.h"

Suite *metrics_suite(void);

#define EPS 1e-12
#define L2(r) (1.0 / log2((double)(r) + 1.0))  /* the discount at rank r */

/* ---------------------------------------------------------------- frames */

struct rrow {                   /* a recommendation row */
	const char *u, *i;
	float score;
	uint32_t rank;
};

struct trow {                   /* a held-out rating */
	const char *u, *i;
	float rating;
};

/* A stream in a temp file, rewound; the caller reads it through dup(fileno). */
static cf_reader *
reader_of(FILE *fp, const char *name)
{
	int fd;

	ck_assert_int_eq(fflush(fp), 0);
	fd = dup(fileno(fp));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return cf_reader_open(fd, name);
}

/* A 'topk' table (with_rank) or a 'scores' table of rows, two rows a block. */
static FILE *
recs_stream(const struct rrow *rows, size_t n, int with_rank)
{
	FILE *fp = tmpfile();
	cf_writer *w;
	cf_schema *s = cf_schema_new(with_rank ? "topk" : "scores");
	cf_rowbuf *b;

	ck_assert_ptr_nonnull(fp);
	w = cf_writer_new(fp, "recs");
	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "score", CF_F32, 1);
	if (with_rank)
		cf_schema_add(s, "rank", CF_U32, 1);
	b = cf_rowbuf_new(w, s, 2);
	for (size_t k = 0; k < n; k++) {
		cf_rowbuf_str(b, 0, rows[k].u, strlen(rows[k].u));
		cf_rowbuf_str(b, 1, rows[k].i, strlen(rows[k].i));
		cf_rowbuf_f32(b, 2, rows[k].score);
		if (with_rank)
			cf_rowbuf_u32(b, 3, rows[k].rank);
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	cf_writer_finish(w);
	cf_schema_free(s);
	return fp;
}

static void
read_recs(const struct rrow *rows, size_t n, int with_rank, cf_recs *rc)
{
	FILE *fp = recs_stream(rows, n, with_rank);
	cf_reader *r = reader_of(fp, "recs");
	const cf_schema *s;

	ck_assert_int_eq(cf_read_table(r, &s), 1);
	cf_recs_read(r, s, rc);
	cf_reader_close(r);
	fclose(fp);
}

/* Held-out ratings, as a raw 'ratings' frame read back by cf_ratings_read. */
static void
read_truth(const struct trow *rows, size_t n, cf_ratings *rs)
{
	FILE *fp = tmpfile();
	cf_writer *w;
	cf_schema *s = cf_schema_new("ratings");
	cf_rowbuf *b;
	cf_reader *r;

	ck_assert_ptr_nonnull(fp);
	w = cf_writer_new(fp, "truth");
	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	b = cf_rowbuf_new(w, s, 3);
	for (size_t k = 0; k < n; k++) {
		cf_rowbuf_str(b, 0, rows[k].u, strlen(rows[k].u));
		cf_rowbuf_str(b, 1, rows[k].i, strlen(rows[k].i));
		cf_rowbuf_f32(b, 2, rows[k].rating);
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	cf_writer_finish(w);
	cf_schema_free(s);
	r = reader_of(fp, "truth");
	cf_ratings_read(r, rs);
	cf_reader_close(r);
	fclose(fp);
}

/* ---------------------------------------------------------------- one list */

START_TEST(rank_user_by_hand)
{
	/* k = 3, list: hit, miss, hit; |R| = 3.
	 * precision 2/3; recall 2/3; DCG = 1/log2(2) + 1/log2(4) = 1.5;
	 * IDCG = 1 + 1/log2(3) + 1/2; AP = (1/3) (1/1 + 2/3) = 5/9; RR = 1. */
	static const unsigned char h1[] = {1, 0, 1};
	/* k = 3, list: miss, hit (2 entries only); |R| = 1.
	 * precision 1/3 (short list: missing entries are misses); recall 1;
	 * DCG = 1/log2(3); IDCG = 1; AP = (1/1)(1/2) = 1/2; RR = 1/2. */
	static const unsigned char h2[] = {0, 1};
	/* k = 2 over a longer list: entries past k are ignored; |R| = 5.
	 * precision 0; recall 0; AP 0; RR 0 (the hit at rank 3 is past k). */
	static const unsigned char h3[] = {0, 0, 1};
	/* |R| = 1 > hits possible; k = 4, hit at rank 4: AP = (1/1)(1/4). */
	static const unsigned char h4[] = {0, 0, 0, 1};
	cf_rank1 m;

	cf_rank_user(h1, 3, 3, 3, &m);
	ck_assert_uint_eq(m.hits, 2);
	ck_assert_double_eq_tol(m.precision, 2.0 / 3, EPS);
	ck_assert_double_eq_tol(m.recall, 2.0 / 3, EPS);
	ck_assert_double_eq_tol(m.ndcg, 1.5 / (1 + L2(2) + 0.5), EPS);
	ck_assert_double_eq_tol(m.ndcg, 0.7039180890341347, 1e-12);
	ck_assert_double_eq_tol(m.ap, 5.0 / 9, EPS);
	ck_assert_double_eq_tol(m.hit, 1, EPS);
	ck_assert_double_eq_tol(m.rr, 1, EPS);

	cf_rank_user(h2, 2, 3, 1, &m);
	ck_assert_uint_eq(m.hits, 1);
	ck_assert_double_eq_tol(m.precision, 1.0 / 3, EPS);
	ck_assert_double_eq_tol(m.recall, 1, EPS);
	ck_assert_double_eq_tol(m.ndcg, L2(2), EPS);
	ck_assert_double_eq_tol(m.ap, 0.5, EPS);
	ck_assert_double_eq_tol(m.rr, 0.5, EPS);

	cf_rank_user(h3, 3, 2, 5, &m);
	ck_assert_uint_eq(m.hits, 0);
	ck_assert_double_eq_tol(m.precision, 0, EPS);
	ck_assert_double_eq_tol(m.ndcg, 0, EPS);
	ck_assert_double_eq_tol(m.ap, 0, EPS);
	ck_assert_double_eq_tol(m.hit, 0, EPS);
	ck_assert_double_eq_tol(m.rr, 0, EPS);

	cf_rank_user(h4, 4, 4, 1, &m);
	ck_assert_double_eq_tol(m.precision, 0.25, EPS);
	ck_assert_double_eq_tol(m.ndcg, L2(4), EPS);        /* 1/log2(5); IDCG 1 */
	ck_assert_double_eq_tol(m.ap, 0.25, EPS);
	ck_assert_double_eq_tol(m.rr, 0.25, EPS);

	/* A perfect list: every metric 1 (precision 1 when |R| >= k). */
	static const unsigned char h5[] = {1, 1, 1};
	cf_rank_user(h5, 3, 3, 4, &m);
	ck_assert_double_eq_tol(m.precision, 1, EPS);
	ck_assert_double_eq_tol(m.recall, 0.75, EPS);
	ck_assert_double_eq_tol(m.ndcg, 1, EPS);
	ck_assert_double_eq_tol(m.ap, 1, EPS);
}
END_TEST

/* ---------------------------------------------------------------- whole evaluations */

/*
 * The worked example (k = 3).  Held-out ratings:
 *   A: i1 5, i2 4, i3 2      B: i4 4      C: i5 3      D: i6 5
 * Lists (topk, rank order):
 *   A: i1, i7, i2, i3 (cut: rank 4 > k)   B: i8, i4   E: i1, i9 (E not in truth)
 *
 * Any held-out item relevant: users A, B, C, D (4; C and D have no list -> 0).
 *   A: hits at ranks 1, 3 of |R| = 3: P 2/3, R 2/3, DCG 1 + 1/2 = 1.5,
 *      IDCG 1 + 1/log2(3) + 1/2, AP (1/3)(1 + 2/3) = 5/9, RR 1
 *   B: hit at rank 2 of |R| = 1: P 1/3, R 1, NDCG 1/log2(3), AP 1/2, RR 1/2
 *   precision (2/3 + 1/3) / 4 = 0.25        recall (2/3 + 1) / 4 = 5/12
 *   ndcg (0.70391809 + 0.63092975) / 4      map (5/9 + 1/2) / 4 = 19/72
 *   hit_rate 2/4                            mrr (1 + 1/2) / 4 = 0.375
 *   recommended (top 3 of every list) {i1, i7, i2, i8, i4, i9} = 6;
 *   catalogue truth {i1..i6} + recommended {i7, i8, i9} = 9: coverage 2/3
 *
 * --threshold 4: relevant A {i1, i2}, B {i4}, D {i6}; C has none: 3 users.
 *   A: P 2/3, R 1, NDCG 1.5 / (1 + 1/log2(3)), AP (1/2)(1 + 2/3) = 5/6, RR 1
 *   precision 1/3, recall 2/3, map (5/6 + 1/2) / 3 = 4/9, hit 2/3, mrr 1/2
 */
static const struct trow truth1[] = {
	{"A", "i1", 5}, {"A", "i2", 4}, {"A", "i3", 2}, {"B", "i4", 4},
	{"C", "i5", 3}, {"D", "i6", 5},
};
static const struct rrow topk1[] = {
	{"A", "i1", 0.9f, 1}, {"A", "i7", 0.8f, 2}, {"A", "i2", 0.7f, 3},
	{"A", "i3", 0.6f, 4}, {"B", "i8", 0.9f, 1}, {"B", "i4", 0.5f, 2},
	{"E", "i1", 1.0f, 1}, {"E", "i9", 0.5f, 2},
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
check_example_any(const cf_rank_result *r)
{
	double ndcg_a = 1.5 / (1 + L2(2) + 0.5), ndcg_b = L2(2);

	ck_assert_uint_eq(r->k, 3);
	ck_assert_uint_eq(r->users, 4);
	ck_assert_uint_eq(r->users_no_list, 2);
	ck_assert_uint_eq(r->lists, 3);
	ck_assert_uint_eq(r->lists_unmatched, 1);
	ck_assert_double_eq_tol(r->precision, 0.25, EPS);
	ck_assert_double_eq_tol(r->recall, 5.0 / 12, EPS);
	ck_assert_double_eq_tol(r->ndcg, (ndcg_a + ndcg_b) / 4, EPS);
	ck_assert_double_eq_tol(r->ndcg, 0.3337119606513981, 1e-12);
	ck_assert_double_eq_tol(r->map, 19.0 / 72, EPS);
	ck_assert_double_eq_tol(r->hit_rate, 0.5, EPS);
	ck_assert_double_eq_tol(r->mrr, 0.375, EPS);
	ck_assert_uint_eq(r->recommended, 6);
	ck_assert_uint_eq(r->catalogue, 9);
	ck_assert_str_eq(r->catalogue_from, "truth+recommended");
	ck_assert_double_eq_tol(r->coverage, 6.0 / 9, EPS);
}

START_TEST(example_topk)
{
	cf_recs rc;
	cf_ratings t;
	cf_rank_opts o = {.k = 3};
	cf_rank_result r;

	read_recs(topk1, N(topk1), 1, &rc);
	ck_assert(rc.has_rank);
	read_truth(truth1, N(truth1), &t);
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	check_example_any(&r);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
}
END_TEST

START_TEST(example_threshold)
{
	cf_recs rc;
	cf_ratings t;
	cf_rank_opts o = {.k = 3, .has_threshold = 1, .threshold = 4};
	cf_rank_result r;

	read_recs(topk1, N(topk1), 1, &rc);
	read_truth(truth1, N(truth1), &t);
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	ck_assert_uint_eq(r.users, 3);
	ck_assert_uint_eq(r.users_no_list, 1);
	ck_assert_double_eq_tol(r.precision, 1.0 / 3, EPS);
	ck_assert_double_eq_tol(r.recall, 2.0 / 3, EPS);
	ck_assert_double_eq_tol(r.ndcg, (1.5 / (1 + L2(2)) + L2(2)) / 3, EPS);
	ck_assert_double_eq_tol(r.map, 4.0 / 9, EPS);
	ck_assert_double_eq_tol(r.hit_rate, 2.0 / 3, EPS);
	ck_assert_double_eq_tol(r.mrr, 0.5, EPS);
	/* Coverage does not depend on relevance. */
	ck_assert_double_eq_tol(r.coverage, 6.0 / 9, EPS);

	/* A threshold nobody reaches: nothing to average over. */
	o.threshold = 5.5;
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), -1);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
}
END_TEST

/*
 * The same lists as a 'scores' table: rows shuffled, users interleaved,
 * ordered by score (highest first) per user; the results are the example's.
 */
START_TEST(example_scores)
{
	static const struct rrow scores[] = {
		{"E", "i9", 0.5f, 0}, {"A", "i3", 0.6f, 0}, {"B", "i4", 0.5f, 0},
		{"A", "i2", 0.7f, 0}, {"E", "i1", 1.0f, 0}, {"A", "i1", 0.9f, 0},
		{"B", "i8", 0.9f, 0}, {"A", "i7", 0.8f, 0},
	};
	cf_recs rc;
	cf_ratings t;
	cf_rank_opts o = {.k = 3};
	cf_rank_result r;

	read_recs(scores, N(scores), 0, &rc);
	ck_assert(!rc.has_rank);
	read_truth(truth1, N(truth1), &t);
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	check_example_any(&r);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
}
END_TEST

/*
 * Ties in score keep the input order; a relevant item listed twice is one
 * hit; a duplicated held-out row is one relevant item; NaN scores rank last.
 *   truth U: a, b, b (dup)  -> R = {a, b}
 *   scores U: x 1.0, b 2.0, b 2.0 (again), a 1.0, n NaN   k = 4
 *   order: b, b, x, a (x before a: tie, input order); n is 5th, cut
 *   hits at ranks 1 and 4 (rank 2 repeats b): P 2/4, R 1,
 *   DCG 1 + 1/log2(5), IDCG 1 + 1/log2(3), AP (1/2)(1 + 2/4) = 3/4, RR 1
 */
START_TEST(ties_duplicates_nan)
{
	static const struct trow t2[] = {{"U", "a", 3}, {"U", "b", 4}, {"U", "b", 4}};
	static const struct rrow s2[] = {
		{"U", "x", 1.0f, 0}, {"U", "b", 2.0f, 0}, {"U", "b", 2.0f, 0},
		{"U", "a", 1.0f, 0}, {"U", "n", NAN, 0},
	};
	cf_recs rc;
	cf_ratings t;
	cf_rank_opts o = {.k = 4};
	cf_rank_result r;

	read_recs(s2, N(s2), 0, &rc);
	read_truth(t2, N(t2), &t);
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	ck_assert_uint_eq(r.users, 1);
	ck_assert_double_eq_tol(r.precision, 0.5, EPS);
	ck_assert_double_eq_tol(r.recall, 1, EPS);
	ck_assert_double_eq_tol(r.ndcg, (1 + L2(4)) / (1 + L2(2)), EPS);
	ck_assert_double_eq_tol(r.map, 0.75, EPS);
	ck_assert_double_eq_tol(r.mrr, 1, EPS);
	ck_assert_uint_eq(r.recommended, 3);       /* b, x, a: n was cut */

	/* k = 2: b, b -> one hit at rank 1: P 1/2, R 1/2, AP (1/2)(1) */
	o.k = 2;
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	ck_assert_double_eq_tol(r.precision, 0.5, EPS);
	ck_assert_double_eq_tol(r.recall, 0.5, EPS);
	ck_assert_double_eq_tol(r.map, 0.5, EPS);
	ck_assert_double_eq_tol(r.ndcg, 1 / (1 + L2(2)), EPS);
	ck_assert_uint_eq(r.recommended, 1);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
}
END_TEST

/* The catalogue: given, or truth + train + recommended items (distinct). */
START_TEST(catalogue_sources)
{
	static const struct trow train[] = {
		{"A", "i1", 3}, {"A", "t1", 3}, {"B", "t2", 3}, {"B", "i7", 1}, {"C", "t1", 2},
	};
	cf_recs rc;
	cf_ratings t, tr;
	cf_rank_opts o = {.k = 3};
	cf_rank_result r;

	read_recs(topk1, N(topk1), 1, &rc);
	read_truth(truth1, N(truth1), &t);
	read_truth(train, N(train), &tr);
	o.train = &tr;
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	/* {i1..i6} + {t1, t2, i7} + {i8, i9} = 11 */
	ck_assert_uint_eq(r.catalogue, 11);
	ck_assert_str_eq(r.catalogue_from, "truth+train+recommended");
	ck_assert_double_eq_tol(r.coverage, 6.0 / 11, EPS);
	o.train = NULL;
	o.catalogue = 100;
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	ck_assert_uint_eq(r.catalogue, 100);
	ck_assert_str_eq(r.catalogue_from, "given");
	ck_assert_double_eq_tol(r.coverage, 0.06, EPS);
	/* Catalogue and relevance do not change the ranking figures. */
	ck_assert_double_eq_tol(r.map, 19.0 / 72, EPS);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
	cf_ratings_free(&tr);
}
END_TEST

/* Recommendations in memory (cf_recs_add), without a frame. */
START_TEST(recs_in_memory)
{
	static const struct trow t3[] = {{"1", "10", 5}, {"2", "20", 5}};
	cf_recs rc;
	cf_ratings t;
	cf_rank_opts o = {.k = 1};
	cf_rank_result r;

	cf_recs_init(&rc, 1);
	cf_recs_add(&rc, "1", 1, "11", 2, 0, 2);
	cf_recs_add(&rc, "1", 1, "10", 2, 0, 1);        /* rank 1 comes second */
	cf_recs_add(&rc, "2", 1, "21", 2, 0, 1);
	read_truth(t3, N(t3), &t);
	ck_assert_int_eq(cf_eval_ranking(&rc, &t, &o, &r), 0);
	/* user 1: hit at rank 1; user 2: miss. */
	ck_assert_double_eq_tol(r.precision, 0.5, EPS);
	ck_assert_double_eq_tol(r.ndcg, 0.5, EPS);
	ck_assert_double_eq_tol(r.mrr, 0.5, EPS);
	ck_assert_double_eq_tol(r.hit_rate, 0.5, EPS);
	cf_recs_free(&rc);
	cf_ratings_free(&t);
}
END_TEST

/* ---------------------------------------------------------------- RMSE, MAE */

START_TEST(errors_by_hand)
{
	/* errors 0.5, 1, 0, 1.5: SE 0.25 + 1 + 0 + 2.25 = 3.5, AE 3;
	 * RMSE sqrt(3.5 / 4) = 0.935414346693485, MAE 0.75 */
	static const float pred[] = {3.5f, 2.0f, 5.0f, 3.0f}, truth[] = {4, 1, 5, 4.5f};
	cf_errm e = {0};
	FILE *fp = tmpfile();
	cf_writer *w;
	cf_schema *s = cf_schema_new("scores");
	cf_rowbuf *b;
	cf_reader *r;
	const cf_schema *rs;

	ck_assert(isnan(cf_errm_rmse(&e)));
	ck_assert(isnan(cf_errm_mae(&e)));
	for (int k = 0; k < 4; k++)
		cf_errm_add(&e, pred[k], truth[k]);
	ck_assert_uint_eq(e.n, 4);
	ck_assert_double_eq_tol(cf_errm_rmse(&e), sqrt(3.5 / 4), EPS);
	ck_assert_double_eq_tol(cf_errm_rmse(&e), 0.935414346693485, 1e-12);
	ck_assert_double_eq_tol(cf_errm_mae(&e), 0.75, EPS);

	/* The same through a frame: user, item, score, rating (mf-score --pairs). */
	w = cf_writer_new(fp, "pairs");
	cf_schema_add(s, "user", CF_STR, 1);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "score", CF_F32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	b = cf_rowbuf_new(w, s, 3);
	for (int k = 0; k < 4; k++) {
		cf_rowbuf_str(b, 0, "u", 1);
		cf_rowbuf_str(b, 1, "i", 1);
		cf_rowbuf_f32(b, 2, pred[k]);
		cf_rowbuf_f32(b, 3, truth[k]);
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	cf_writer_finish(w);
	cf_schema_free(s);
	r = reader_of(fp, "pairs");
	ck_assert_int_eq(cf_read_table(r, &rs), 1);
	memset(&e, 0, sizeof e);
	cf_errm_read(r, rs, &e);
	ck_assert_uint_eq(e.n, 4);
	ck_assert_double_eq_tol(cf_errm_rmse(&e), sqrt(3.5 / 4), EPS);
	ck_assert_double_eq_tol(cf_errm_mae(&e), 0.75, EPS);
	cf_reader_close(r);
	fclose(fp);
}
END_TEST

/* ---------------------------------------------------------------- meta helpers */

START_TEST(meta_helpers)
{
	char buf[64];
	const char *c;
	size_t n, pos, gl;
	const char *g;
	const char *genres = "Action|Crime||Drama";
	const char *want[] = {"Action", "Crime", "", "Drama"};
	int k = 0;

	ck_assert_int_eq(cf_title_year("Toy Story (1995)", 16), 1995);
	ck_assert_int_eq(cf_title_year("Toy Story (1995)  ", 18), 1995);
	ck_assert_int_eq(cf_title_year("Hyena Road", 10), 0);
	ck_assert_int_eq(cf_title_year("Babylon 5 (1994-1998)", 21), 0);
	ck_assert_int_eq(cf_title_year("(2001)", 6), 2001);
	ck_assert_int_eq(cf_title_year("X (19a5)", 8), 0);
	ck_assert_int_eq(cf_title_year("", 0), 0);

	pos = 0;
	while (cf_genre_next(genres, strlen(genres), &pos, &g, &gl)) {
		ck_assert_int_lt(k, 4);
		ck_assert_uint_eq(gl, strlen(want[k]));
		ck_assert(memcmp(g, want[k], gl) == 0);
		k++;
	}
	ck_assert_int_eq(k, 4);
	pos = 0;
	ck_assert_int_eq(cf_genre_next("", 0, &pos, &g, &gl), 0);
	pos = 0;
	ck_assert_int_eq(cf_genre_next("Drama", 5, &pos, &g, &gl), 1);
	ck_assert_int_eq(cf_genre_next("Drama", 5, &pos, &g, &gl), 0);

	n = cf_canon_id("018", 3, buf, &c);
	ck_assert_uint_eq(n, 2);
	ck_assert(memcmp(c, "18", 2) == 0);
	n = cf_canon_id("+18.00", 6, buf, &c);
	ck_assert(n == 2 && memcmp(c, "18", 2) == 0);
	n = cf_canon_id("-007", 4, buf, &c);
	ck_assert(n == 2 && memcmp(c, "-7", 2) == 0);
	n = cf_canon_id("-0", 2, buf, &c);
	ck_assert(n == 1 && c[0] == '0');
	n = cf_canon_id("tt0114709", 9, buf, &c);
	ck_assert(n == 9 && memcmp(c, "tt0114709", 9) == 0);
	n = cf_canon_id("18.5", 4, buf, &c);
	ck_assert(n == 4 && memcmp(c, "18.5", 4) == 0);

	ck_assert_uint_eq(cf_utf8_width("abc", 3), 3);
	ck_assert_uint_eq(cf_utf8_width("Cit\xc3\xa9", 5), 4);           /* Cité */
	ck_assert_uint_eq(cf_utf8_width("\xe2\x82\xac\xf0\x9f\x8e\xac", 7), 2);
}
END_TEST

/* ---------------------------------------------------------------- meta files */

static char tmpdir[64];

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

/* A movies.csv with a BOM, CRLF ends, quoted titles, non-ASCII, no year. */
static const char movies_csv[] =
	"\xef\xbb\xbfmovieId,title,genres\r\n"
	"1,Toy Story (1995),Adventure|Animation|Children\r\n"
	"011,\"American President, The (1995)\",Comedy|Drama|Romance\r\n"
	"29,\"City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)\",Drama\r\n"
	"7,\"Say \"\"Cheese\"\" (2001)\",(no genres listed)\r\n"
	"149,Hyena Road,\r\n";

static void
check_movies(const cf_meta *m)
{
	cf_movie mv;

	ck_assert_uint_eq(cf_meta_count(m), 5);
	ck_assert(cf_meta_find(m, "11", 2, &mv));       /* stored canonical */
	ck_assert(cf_meta_find(m, "0011", 4, &mv));     /* looked up canonical */
	ck_assert(mv.in_movies);
	ck_assert_uint_eq(mv.title_len, strlen("American President, The (1995)"));
	ck_assert(memcmp(mv.title, "American President, The (1995)", mv.title_len) == 0);
	ck_assert_int_eq(mv.year, 1995);
	ck_assert(cf_meta_find(m, "29", 2, &mv));
	ck_assert(mv.title_len == 64 && cf_utf8_width(mv.title, mv.title_len) == 63);
	ck_assert(cf_meta_find(m, "7", 1, &mv));
	ck_assert(mv.title_len == 19 && memcmp(mv.title, "Say \"Cheese\" (2001)", 19) == 0);
	ck_assert(mv.genres_len == 18 && memcmp(mv.genres, "(no genres listed)", 18) == 0);
	ck_assert(cf_meta_find(m, "149", 3, &mv));
	ck_assert_int_eq(mv.year, 0);
	ck_assert_uint_eq(mv.genres_len, 0);
	ck_assert(!mv.in_links);
	ck_assert(!cf_meta_find(m, "2", 1, &mv));
	cf_meta_get(m, 0, &mv);
	ck_assert(mv.id_len == 1 && mv.id[0] == '1');
	ck_assert(mv.genres_len == 28 && memcmp(mv.genres, "Adventure|Animation|Children", 28) == 0);
}

START_TEST(meta_csv)
{
	char path[128], lpath[128];
	cf_meta *m = cf_meta_new();
	cf_movie mv;
	static const char links[] = "movieId,imdbId,tmdbId\n1,0114709,862\n11,0112346,\n999,0000001,5\n";

	snprintf(path, sizeof path, "%s/movies.csv", tmpdir);
	write_file(path, movies_csv, sizeof movies_csv - 1);
	ck_assert_uint_eq(cf_meta_load_movies(m, path), 5);
	check_movies(m);
	snprintf(lpath, sizeof lpath, "%s/links.csv", tmpdir);
	write_file(lpath, links, sizeof links - 1);
	ck_assert_uint_eq(cf_meta_load_links(m, lpath), 3);
	ck_assert(cf_meta_find(m, "1", 1, &mv));
	ck_assert(mv.in_movies && mv.in_links);
	ck_assert(mv.imdb_len == 7 && memcmp(mv.imdb, "0114709", 7) == 0);
	ck_assert(mv.tmdb_len == 3 && memcmp(mv.tmdb, "862", 3) == 0);
	ck_assert(cf_meta_find(m, "11", 2, &mv));
	ck_assert(mv.in_links && mv.tmdb_len == 0);
	ck_assert(cf_meta_find(m, "999", 3, &mv));      /* only in links */
	ck_assert(!mv.in_movies && mv.in_links);
	ck_assert(cf_meta_find(m, "29", 2, &mv) && mv.title_len == 64);
	cf_meta_free(m);
}
END_TEST

/* A 'movies' frame (as csv2bin writes one) loads to the same metadata. */
START_TEST(meta_frame)
{
	static const char *const rows[][3] = {
		{"1", "Toy Story (1995)", "Adventure|Animation|Children"},
		{"11", "American President, The (1995)", "Comedy|Drama|Romance"},
		{"29", "City of Lost Children, The (Cit\xc3\xa9 des enfants perdus, La) (1995)", "Drama"},
		{"7", "Say \"Cheese\" (2001)", "(no genres listed)"},
		{"149", "Hyena Road", ""},
	};
	char path[128];
	FILE *fp;
	cf_writer *w;
	cf_schema *s = cf_schema_new("movies");
	cf_rowbuf *b;
	cf_meta *m = cf_meta_new();

	snprintf(path, sizeof path, "%s/movies.bin", tmpdir);
	fp = fopen(path, "wb");
	ck_assert_ptr_nonnull(fp);
	w = cf_writer_new(fp, path);
	cf_schema_add(s, "item", CF_STR, 1);
	cf_schema_add(s, "title", CF_STR, 1);
	cf_schema_add(s, "genres", CF_STR, 1);
	b = cf_rowbuf_new(w, s, 2);
	for (size_t k = 0; k < 5; k++) {
		for (int c = 0; c < 3; c++)
			cf_rowbuf_str(b, c, rows[k][c], strlen(rows[k][c]));
		cf_rowbuf_end_row(b);
	}
	cf_rowbuf_finish(b);
	cf_writer_finish(w);
	cf_schema_free(s);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_uint_eq(cf_meta_load_movies(m, path), 5);
	check_movies(m);
	cf_meta_free(m);
}
END_TEST

/* Loads path as movies in a child; returns its exit status and stderr. */
static void
load_movies(void *path)
{
	static cf_meta *m;      /* static: reachable for LeakSanitizer at exit */

	m = cf_meta_new();
	cf_meta_load_movies(m, path);
}

static int
load_status(const char *path, char *msg, size_t msgsz)
{
	return cf_test_in_child(load_movies, (void *)path, msg, msgsz);
}

START_TEST(meta_errors)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"movieId,title,genres\n1,A (2000),Drama\n1,B (2001),Drama\n",
		 "bad.csv: line 3: duplicate movie id '1'"},
		{"movieId,title,genres\n1,A (2000),Drama\n2,B (2001)\n",
		 "bad.csv: line 3: expected 3 fields, found 2"},
		{"movieId,name,genres\n1,A,Drama\n", "bad.csv: line 1: the header has no 'title' column"},
		{"movieId,title,genres\n1,\"A (2000),Drama\n", "bad.csv: line 2: unterminated"},
		{"movieId,title,genres\n,A (2000),Drama\n", "bad.csv: line 2: empty movie id"},
		{"some,random,text,here\n", "bad.csv: line 1: expected a header row"},
	};
	char path[128], msg[1024];

	snprintf(path, sizeof path, "%s/bad.csv", tmpdir);
	for (size_t k = 0; k < N(bad); k++) {
		write_file(path, bad[k].text, strlen(bad[k].text));
		ck_assert_int_eq(load_status(path, msg, sizeof msg), 1);
		ck_assert_msg(strstr(msg, bad[k].want), "case %zu: message: %s", k, msg);
		ck_assert_msg(strchr(msg, '\n') == msg + strlen(msg) - 1, "not one line: %s", msg);
	}
	snprintf(path, sizeof path, "%s/missing.csv", tmpdir);
	ck_assert_int_eq(load_status(path, msg, sizeof msg), 1);
	ck_assert_msg(strstr(msg, "missing.csv: No such file"), "message: %s", msg);
	/* Headerless "::" files (MovieLens 1M movies.dat) are read by position. */
	{
		cf_meta *m = cf_meta_new();
		cf_movie mv;
		static const char dat[] = "1::Toy Story (1995)::Animation|Comedy\n2::Jumanji (1995)::Adventure\n";
		snprintf(path, sizeof path, "%s/movies.dat", tmpdir);
		write_file(path, dat, sizeof dat - 1);
		ck_assert_uint_eq(cf_meta_load_movies(m, path), 2);
		ck_assert(cf_meta_find(m, "2", 1, &mv) && mv.title_len == 14 && mv.year == 1995);
		cf_meta_free(m);
	}
}
END_TEST

static void
setup(void)
{
	cf_test_mkdtemp(tmpdir, sizeof tmpdir, "metrics");
}

static void
teardown(void)
{
	cf_test_rmdir(tmpdir);
}

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc;

	tc = tcase_create("ranking");
	tcase_add_test(tc, rank_user_by_hand);
	tcase_add_test(tc, example_topk);
	tcase_add_test(tc, example_threshold);
	tcase_add_test(tc, example_scores);
	tcase_add_test(tc, ties_duplicates_nan);
	tcase_add_test(tc, catalogue_sources);
	tcase_add_test(tc, recs_in_memory);
	tcase_add_test(tc, errors_by_hand);
	suite_add_tcase(s, tc);

	tc = tcase_create("meta");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, meta_helpers);
	tcase_add_test(tc, meta_csv);
	tcase_add_test(tc, meta_frame);
	tcase_add_test(tc, meta_errors);
	suite_add_tcase(s, tc);
	return s;
}
