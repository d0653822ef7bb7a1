/*
 * test_dups.c - unit tests of src/lib/dups.c: the policies' names, the
 * in-place resolver on a ratings set (against a brute-force reference,
 * rows sorted by user or not, with and without timestamps) and the
 * streaming resolver on raw ids (every policy).
 */
#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "dups.h"
#include "ratings.h"
#include "rng.h"
#include "util.h"

Suite *dups_suite(void);

START_TEST(names)
{
	for (int p = 0; p < CF_NDUPS; p++)
		ck_assert_int_eq(cf_dups_parse(cf_dups_name((cf_dups)p)), p);
	ck_assert_str_eq(cf_dups_name(CF_DUPS_LATEST), "latest");
	ck_assert_str_eq(cf_dups_name(CF_DUPS_KEEP), "keep");
	ck_assert_int_eq(cf_dups_parse("Latest"), -1);
	ck_assert_int_eq(cf_dups_parse(""), -1);
}
END_TEST

/* The rows policy p keeps, by the definition: O(n^2). */
static void
reference(const cf_ratings *rs, cf_dups p, unsigned char *keep)
{
	for (size_t j = 0; j < rs->n; j++) {
		keep[j] = 1;
		for (size_t k = 0; k < rs->n && keep[j]; k++) {
			if (k == j || rs->user[k] != rs->user[j] || rs->item[k] != rs->item[j])
				continue;
			if (p == CF_DUPS_FIRST)
				keep[j] = k > j;
			else if (p == CF_DUPS_LAST || !rs->has_ts)
				keep[j] = k < j;
			else            /* latest: greatest time, ties to the later row */
				keep[j] = rs->ts[k] < rs->ts[j] || (rs->ts[k] == rs->ts[j] && k < j);
		}
	}
}

static void
random_set(cf_ratings *rs, uint64_t seed, int has_ts, int sorted, size_t n)
{
	cf_rng g;

	cf_rng_seed(&g, seed, 0);
	cf_ratings_init(rs, has_ts);
	for (uint32_t u = 0; u < 7; u++) {
		char id[8];
		snprintf(id, sizeof id, "u%u", u);
		cf_idmap_intern(rs->users, id, strlen(id), NULL);
	}
	for (uint32_t i = 0; i < 5; i++) {
		char id[8];
		snprintf(id, sizeof id, "i%u", i);
		cf_idmap_intern(rs->items, id, strlen(id), NULL);
	}
	for (size_t j = 0; j < n; j++) {
		uint32_t u = sorted ? (uint32_t)(j * 7 / n) : (uint32_t)cf_rng_below(&g, 7);
		cf_ratings_add(rs, u, (uint32_t)cf_rng_below(&g, 5), (float)j,
		               (int64_t)cf_rng_below(&g, 4));
	}
}

START_TEST(resolve_matches_reference)
{
	static const cf_dups pol[] = {CF_DUPS_LATEST, CF_DUPS_FIRST, CF_DUPS_LAST};

	for (int q = 0; q < 3; q++)
	for (int has_ts = 0; has_ts <= 1; has_ts++)
	for (int sorted = 0; sorted <= 1; sorted++)
	for (uint64_t seed = 1; seed <= 20; seed++) {
		cf_ratings rs;
		size_t n = 10 + seed * 7, kept = 0, w = 0;
		random_set(&rs, seed, has_ts, sorted, n);
		unsigned char *keep = malloc(n);
		reference(&rs, pol[q], keep);
		float *want = malloc(n * sizeof *want);
		for (size_t j = 0; j < n; j++)
			if (keep[j])
				want[kept++] = rs.rating[j];    /* the row's number */
		uint64_t *drop = calloc(n / 64 + 1, sizeof *drop);
		ck_assert_uint_eq(cf_dups_mark(&rs, pol[q], drop), n - kept);
		for (size_t j = 0; j < n; j++)
			ck_assert_int_eq((int)(drop[j / 64] >> (j % 64) & 1), !keep[j]);
		ck_assert_uint_eq(cf_dups_resolve(&rs, pol[q]), n - kept);
		ck_assert_uint_eq(rs.n, kept);
		for (size_t j = 0; j < rs.n; j++, w++)
			ck_assert(rs.rating[j] == want[w]);     /* in order */
		free(drop);
		free(want);
		free(keep);
		cf_ratings_free(&rs);
	}
}
END_TEST

START_TEST(resolve_no_dups)
{
	cf_ratings rs;

	random_set(&rs, 3, 1, 1, 0);
	ck_assert_uint_eq(cf_dups_resolve(&rs, CF_DUPS_LATEST), 0);
	cf_ratings_add(&rs, 0, 0, 1, 5);
	cf_ratings_add(&rs, 0, 1, 2, 5);
	cf_ratings_add(&rs, 1, 0, 3, 5);
	ck_assert_uint_eq(cf_dups_resolve(&rs, CF_DUPS_LATEST), 0);
	ck_assert_uint_eq(rs.n, 3);
	cf_ratings_free(&rs);
}
END_TEST

static void
mark_mean(void *arg)
{
	cf_ratings *rs = arg;
	uint64_t drop[1] = {0};

	cf_setprog("prog");
	cf_dups_mark(rs, CF_DUPS_MEAN, drop);
}

START_TEST(mark_other_policy_dies)
{
	cf_ratings rs;
	char msg[256];

	random_set(&rs, 3, 1, 1, 4);
	ck_assert_int_eq(cf_test_in_child(mark_mean, &rs, msg, sizeof msg), CF_EXIT_FAIL);
	ck_assert_ptr_nonnull(strstr(msg, "'mean'"));
	cf_ratings_free(&rs);
}
END_TEST

/* ---- streaming ---- */

struct row { const char *u, *i; float r; int64_t t; };
static const struct row rows[] = {
	{"1", "10", 4, 100}, {"1", "10", 3, 200}, {"1", "11", 5, 50}, {"1", "10", 2, 150},
	{"2", "10", 1, 9}, {"x", "m", 1, 1}, {"x", "m", 2, 1}, {"-7", "4", 1, 1},
	{"2", "10", 3, 8}, {"4294967296", "10", 1, 1}, {"4294967296", "10", 5, 0},
};
#define NROWS (sizeof rows / sizeof rows[0])

static char got[1024];
static size_t gotn;

static void
collect(void *ctx, const char *u, size_t ul, const char *i, size_t il, float r, int64_t t)
{
	(void)ctx;
	gotn += (size_t)snprintf(got + gotn, sizeof got - gotn, "%.*s,%.*s,%g,%lld;",
	                         (int)ul, u, (int)il, i, (double)r, (long long)t);
}

/* Runs the rows through policy p; got: what it writes, in order. */
static uint64_t
stream(cf_dups p, int has_ts, int *nrepeat)
{
	cf_dupset *d = cf_dupset_new(p, has_ts, "test");
	uint64_t first, n;

	gotn = 0;
	got[0] = '\0';
	*nrepeat = 0;
	for (size_t k = 0; k < NROWS; k++) {
		const struct row *w = &rows[k];
		int rc = cf_dupset_add(d, w->u, strlen(w->u), w->i, strlen(w->i), w->r,
		                       has_ts ? w->t : 0, k + 2, &first);
		if (rc == CF_DUP_WRITE)
			collect(NULL, w->u, strlen(w->u), w->i, strlen(w->i), w->r, has_ts ? w->t : 0);
		if (rc == CF_DUP_REPEAT) {
			ck_assert_uint_lt(first, k + 2);
			(*nrepeat)++;
		}
	}
	ck_assert_int_eq(cf_dupset_holds(d), p == CF_DUPS_LATEST || p == CF_DUPS_LAST ||
	                                     p == CF_DUPS_MEAN);
	cf_dupset_flush(d, collect, NULL);
	n = cf_dupset_resolved(d);
	cf_dupset_free(d);
	return n;
}

START_TEST(streaming)
{
	int rep;

	ck_assert_uint_eq(stream(CF_DUPS_KEEP, 1, &rep), 0);
	ck_assert_uint_eq(strlen(got) > 0, 1);
	ck_assert_uint_eq(stream(CF_DUPS_FIRST, 1, &rep), 5);
	ck_assert_str_eq(got, "1,10,4,100;1,11,5,50;2,10,1,9;x,m,1,1;-7,4,1,1;"
	                      "4294967296,10,1,1;");
	ck_assert_uint_eq(stream(CF_DUPS_LAST, 1, &rep), 5);
	ck_assert_str_eq(got, "1,11,5,50;1,10,2,150;x,m,2,1;-7,4,1,1;2,10,3,8;"
	                      "4294967296,10,5,0;");
	ck_assert_uint_eq(stream(CF_DUPS_LATEST, 1, &rep), 5);
	ck_assert_str_eq(got, "1,10,3,200;1,11,5,50;2,10,1,9;x,m,2,1;-7,4,1,1;"
	                      "4294967296,10,1,1;");
	ck_assert_uint_eq(stream(CF_DUPS_LATEST, 0, &rep), 5);   /* no times: the last */
	ck_assert_str_eq(got, "1,11,5,0;1,10,2,0;x,m,2,0;-7,4,1,0;2,10,3,0;4294967296,10,5,0;");
	ck_assert_uint_eq(stream(CF_DUPS_MEAN, 1, &rep), 5);
	ck_assert_str_eq(got, "1,10,3,200;1,11,5,50;2,10,2,9;x,m,1.5,1;-7,4,1,1;"
	                      "4294967296,10,3,1;");
	ck_assert_uint_eq(stream(CF_DUPS_ERROR, 1, &rep), 0);
	ck_assert_int_eq(rep, 5);
	ck_assert_str_eq(got, "1,10,4,100;1,11,5,50;2,10,1,9;x,m,1,1;-7,4,1,1;"
	                      "4294967296,10,1,1;");
}
END_TEST

Suite *
dups_suite(void)
{
	Suite *s = suite_create("dups");
	TCase *tc = tcase_create("dups");

	tcase_add_test(tc, names);
	tcase_add_test(tc, resolve_matches_reference);
	tcase_add_test(tc, resolve_no_dups);
	tcase_add_test(tc, mark_other_policy_dies);
	tcase_add_test(tc, streaming);
	suite_add_tcase(s, tc);
	return s;
}
