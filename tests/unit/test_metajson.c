/*
 * test_metajson.c - unit tests of src/lib/metajson.c beyond the server's
 * (test_serve.c): which string a movie object could not hold, and the
 * JSON of a float score.
 */
#include <check.h>

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metajson.h"

Suite *metajson_suite(void);

static cf_movie
movie(const char *title, const char *genres, const char *imdb)
{
	cf_movie mv = {0};

	mv.in_movies = 1;
	mv.title = title;
	mv.title_len = strlen(title);
	mv.genres = genres;
	mv.genres_len = strlen(genres);
	mv.in_links = 1;
	mv.imdb = imdb;
	mv.imdb_len = strlen(imdb);
	mv.tmdb = "862";
	mv.tmdb_len = 3;
	return mv;
}

START_TEST(why_not)
{
	const unsigned all = CF_MJ_META | CF_MJ_YEAR | CF_MJ_LINKS;
	const char *bad = "unset";
	cf_movie mv = movie("caf\xe9", "A", "0114709");
	json_t *o;

	ck_assert_ptr_null(cf_movie_json_why("1", 1, &mv, all, &bad));
	ck_assert_str_eq(bad, "the title");
	mv = movie("Toy Story", "A|\xff", "0114709");
	ck_assert_ptr_null(cf_movie_json_why("1", 1, &mv, all, &bad));
	ck_assert_str_eq(bad, "a genre");
	mv = movie("Toy Story", "A", "\xff");
	ck_assert_ptr_null(cf_movie_json_why("1", 1, &mv, all, &bad));
	ck_assert_str_eq(bad, "imdbId");
	ck_assert_ptr_null(cf_movie_json_why("\xff", 1, &mv, all, &bad));
	ck_assert_str_eq(bad, "the id");
	/* A string that is not printed is not looked at. */
	o = cf_movie_json_why("1", 1, &mv, CF_MJ_META, &bad);
	ck_assert_ptr_nonnull(o);
	json_decref(o);
	mv = movie("caf\xe9", "A", "0114709");
	mv.in_movies = 0;
	o = cf_movie_json_why("1", 1, &mv, CF_MJ_META, NULL);
	ck_assert_ptr_nonnull(o);
	json_decref(o);
}
END_TEST

START_TEST(f32)
{
	json_t *v = cf_json_f32(0.1f);
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));

	ck_assert_str_eq(s, "0.1");
	free(s);
	json_decref(v);
	v = cf_json_f32(NAN);
	ck_assert(json_is_null(v));
	json_decref(v);
	v = cf_json_f32(INFINITY);
	ck_assert(json_is_null(v));
	json_decref(v);
}
END_TEST

Suite *
metajson_suite(void)
{
	Suite *s = suite_create("metajson");
	TCase *tc = tcase_create("metajson");

	tcase_add_test(tc, why_not);
	tcase_add_test(tc, f32);
	suite_add_tcase(s, tc);
	return s;
}
