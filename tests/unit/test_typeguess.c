/*
 * test_typeguess.c - unit tests of src/lib/typeguess.c (what csv2bin makes
 * of a file's columns) and of the shortest-float formatting of out.c.
 */
#include <check.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "out.h"
#include "typeguess.h"

Suite *typeguess_suite(void);

/* A record of the comma-separated fields of s (static storage). */
static cf_csv_rec *
rec(const char *s)
{
	static cf_csv_field f[16];
	static cf_csv_rec r;
	size_t n = 0;

	for (const char *p = s;; n++) {
		const char *c = strchr(p, ',');
		f[n].p = p;
		f[n].len = c ? (size_t)(c - p) : strlen(p);
		if (!c)
			break;
		p = c + 1;
	}
	r.nfields = n + 1;
	r.f = f;
	r.line = 1;
	r.err = NULL;
	return &r;
}

START_TEST(names_and_roles)
{
	for (int k = 0; k < CF_NKINDS; k++)
		ck_assert_int_eq(cf_kind_parse(cf_kind_name((cf_kind)k)), k);
	ck_assert_int_eq(cf_kind_parse("rating"), -1);
	ck_assert_int_eq(cf_role_of("userId", 6), CF_ROLE_USER);
	ck_assert_int_eq(cf_role_of("MOVIE_ID", 8), CF_ROLE_ITEM);
	ck_assert_int_eq(cf_role_of("stars", 5), CF_ROLE_OTHER);
	ck_assert_str_eq(cf_role_column(CF_ROLE_TS), "timestamp");
	ck_assert_int_eq(cf_role_type(CF_ROLE_TS), CF_I64);
	ck_assert_int_eq(cf_role_type(CF_ROLE_RATING), CF_F32);
	ck_assert_int_eq(cf_role_type(CF_ROLE_TITLE), CF_STR);
	ck_assert_str_eq(cf_kind_need(CF_KIND_LINKS), "item,imdb,tmdb");
	ck_assert_int_eq(cf_kind_roles(CF_KIND_MOVIES)[3], CF_ROLE_SKIP);
}
END_TEST

START_TEST(decimals)
{
	static const char *const yes[] = {"1", "-1", "+1.5", ".5", "5.", "1e3", "1E-3", "007"};
	static const char *const no[] = {"", "-", ".", "e3", "1e", "1e+", "1.2.3", "0x1", "nan", " 1"};

	for (size_t k = 0; k < sizeof yes / sizeof *yes; k++)
		ck_assert_msg(cf_is_decimal(yes[k], strlen(yes[k])), "%s", yes[k]);
	for (size_t k = 0; k < sizeof no / sizeof *no; k++)
		ck_assert_msg(!cf_is_decimal(no[k], strlen(no[k])), "%s", no[k]);
	ck_assert(cf_all_numeric(rec("1,2,3.5,4")));
	ck_assert(!cf_all_numeric(rec("1,2,x,4")));
}
END_TEST

START_TEST(guesses)
{
	cf_guess g;
	char *cols[] = {"user", "_", "item", "rating"};

	/* A MovieLens header: ratings; the first record is the header. */
	ck_assert_int_eq(cf_guess_columns(rec("userId,movieId,rating,timestamp"), NULL, 0, -1,
	                                  CF_KIND_AUTO, &g), CF_GUESS_OK);
	ck_assert_int_eq(g.header, 1);
	ck_assert_int_eq(g.kind, CF_KIND_RATINGS);
	ck_assert_int_eq(g.role[3], CF_ROLE_TS);
	free(g.role);
	/* Headerless 3 or 4 numeric fields: ratings, in the usual order. */
	ck_assert_int_eq(cf_guess_columns(rec("1,2,3"), NULL, 0, -1, CF_KIND_AUTO, &g),
	                 CF_GUESS_OK);
	ck_assert_int_eq(g.header, 0);
	ck_assert_int_eq(g.kind, CF_KIND_RATINGS);
	ck_assert_int_eq(g.role[2], CF_ROLE_RATING);
	free(g.role);
	ck_assert_int_eq(cf_guess_columns(rec("1,2,3,4,5"), NULL, 0, -1, CF_KIND_AUTO, &g),
	                 CF_GUESS_OK);
	ck_assert_int_eq(g.kind, CF_KIND_GENERIC);
	ck_assert_int_eq(g.role[0], CF_ROLE_OTHER);
	free(g.role);
	/* Headerless of a kind asked: its number of fields. */
	ck_assert_int_eq(cf_guess_columns(rec("1,2,3,4,5"), NULL, 0, 0, CF_KIND_MOVIES, &g),
	                 CF_GUESS_NFIELDS);
	ck_assert_int_eq(g.kind, CF_KIND_MOVIES);
	free(g.role);
	/* Named columns that do not make the kind asked. */
	ck_assert_int_eq(cf_guess_columns(rec("movieId,title,genres"), NULL, 0, -1,
	                                  CF_KIND_RATINGS, &g), CF_GUESS_NOT_KIND);
	ck_assert_int_eq(g.kind, CF_KIND_MOVIES);
	free(g.role);
	/* --columns: '_' skips; the header option is still what it says. */
	ck_assert_int_eq(cf_guess_columns(rec("1,9,2,3"), cols, 4, -1, CF_KIND_AUTO, &g),
	                 CF_GUESS_OK);
	ck_assert_int_eq(g.header, 0);
	ck_assert_int_eq(g.kind, CF_KIND_RATINGS);
	ck_assert_int_eq(g.role[1], CF_ROLE_SKIP);
	free(g.role);
	/* generic asked: generic, whatever the names. */
	ck_assert_int_eq(cf_guess_columns(rec("userId,movieId,rating"), NULL, 0, -1,
	                                  CF_KIND_GENERIC, &g), CF_GUESS_OK);
	ck_assert_int_eq(g.kind, CF_KIND_GENERIC);
	free(g.role);
}
END_TEST

START_TEST(shortest_floats)
{
	char b[CF_FMT_MAX];

	ck_assert_int_eq(cf_fmt_f32(b, sizeof b, 0.1f), 3);
	ck_assert_str_eq(b, "0.1");
	cf_fmt_f32(b, sizeof b, 1.0f / 3);
	ck_assert_str_eq(b, "0.33333334");
	ck_assert(strtof(b, NULL) == 1.0f / 3);
	cf_fmt_f32(b, sizeof b, -3.4028235e38f);
	ck_assert_str_eq(b, "-3.4028235e+38");
	cf_fmt_f32(b, sizeof b, NAN);
	ck_assert_str_eq(b, "nan");
	cf_fmt_f32(b, sizeof b, -INFINITY);
	ck_assert_str_eq(b, "-inf");
	ck_assert_int_eq(cf_fmt_f64(b, sizeof b, 0.1), 3);
	ck_assert_str_eq(b, "0.1");
	cf_fmt_f64(b, sizeof b, 1.0 / 3);
	ck_assert_str_eq(b, "0.3333333333333333");
	cf_fmt_f64(b, sizeof b, -1.7976931348623157e308);
	ck_assert_str_eq(b, "-1.7976931348623157e+308");
	cf_fmt_f64(b, sizeof b, NAN);
	ck_assert_str_eq(b, "nan");
}
END_TEST

Suite *
typeguess_suite(void)
{
	Suite *s = suite_create("typeguess");
	TCase *tc = tcase_create("typeguess");

	tcase_add_test(tc, names_and_roles);
	tcase_add_test(tc, decimals);
	tcase_add_test(tc, guesses);
	tcase_add_test(tc, shortest_floats);
	suite_add_tcase(s, tc);
	return s;
}
