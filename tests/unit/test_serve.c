/*
 * test_serve.c - unit tests of the server's modules: model names that
 * may reach the filesystem (src/serve/models.c), version naming and
 * publishing with handles held across the swap, and the movie JSON shared
 * with join-meta (metajson.c).  HTTP itself is tested end to end
 * (tests/e2e/serve.sh).
 */
#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frame.h"
#include "metajson.h"
#include "mf.h"
#include "ratings.h"
#include "models.h"
#include "util.h"

Suite *serve_suite(void);

START_TEST(model_names)
{
	static const char *const good[] = {"als", "als_1", "a.b-c", "X9", "a..b"};
	static const char *const bad[] = {"", ".x", "..", "a/b", "../x", "a b", "a\nb",
	                                  "caf\xc3\xa9", "a%2f"};
	char longest[CF_MODEL_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(cf_model_name_ok(good[i]), "%s should be good", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!cf_model_name_ok(bad[i]), "%s should be bad", bad[i]);
	ck_assert(!cf_model_name_ok(NULL));
	memset(longest, 'a', sizeof longest);
	longest[CF_MODEL_NAME_MAX] = 0;
	ck_assert(cf_model_name_ok(longest));
	longest[CF_MODEL_NAME_MAX] = 'a';
	longest[CF_MODEL_NAME_MAX + 1] = 0;
	ck_assert(!cf_model_name_ok(longest));
}
END_TEST

START_TEST(movie_json)
{
	cf_movie mv = {0};
	char *s;
	json_t *o;

	mv.id = "1";
	mv.id_len = 1;
	mv.in_movies = 1;
	mv.title = "Toy Story (1995)";
	mv.title_len = strlen(mv.title);
	mv.genres = "Adventure|Animation";
	mv.genres_len = strlen(mv.genres);
	mv.year = 1995;
	o = cf_movie_json("1", 1, &mv, CF_MJ_META);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(s, "{\"id\":\"1\",\"title\":\"Toy Story (1995)\","
	                    "\"genres\":[\"Adventure\",\"Animation\"]}");
	free(s);
	json_decref(o);

	o = cf_movie_json("1", 1, &mv, CF_MJ_META | CF_MJ_YEAR | CF_MJ_LINKS);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(s, "{\"id\":\"1\",\"title\":\"Toy Story (1995)\","
	                    "\"genres\":[\"Adventure\",\"Animation\"],\"year\":1995,"
	                    "\"imdb\":null,\"tmdb\":null}");
	free(s);
	json_decref(o);

	o = cf_movie_json("42", 2, NULL, 0);
	s = json_dumps(o, JSON_COMPACT);
	ck_assert_str_eq(s, "{\"id\":\"42\"}");
	free(s);
	json_decref(o);

	o = cf_movie_json("42", 2, NULL, CF_MJ_META);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(s, "{\"id\":\"42\",\"title\":\"\",\"genres\":[]}");
	free(s);
	json_decref(o);

	ck_assert_ptr_null(cf_movie_json("\xff", 1, NULL, 0));  /* not UTF-8 */
}
END_TEST

/* A small baseline model trained here. */
static cf_model *
small_model(void)
{
	cf_ratings rs;
	cf_mf_params p = cf_mf_defaults(CF_BASELINE);
	char err[200], b[16];
	cf_model *m;

	cf_ratings_init(&rs, 0);
	for (int u = 0; u < 5; u++) {
		snprintf(b, sizeof b, "%d", u + 1);
		cf_idmap_intern(rs.users, b, strlen(b), NULL);
	}
	for (int i = 0; i < 7; i++) {
		snprintf(b, sizeof b, "%d", 100 + i);
		cf_idmap_intern(rs.items, b, strlen(b), NULL);
	}
	for (uint32_t u = 0; u < 5; u++)
		for (uint32_t i = 0; i < 7; i += 1 + u % 2)
			cf_ratings_add(&rs, u, i, (float)(1 + (u + i) % 5), 0);
	p.quiet = 1;
	p.threads = 1;
	m = cf_mf_train(&rs, NULL, &p, NULL, err, sizeof err);
	ck_assert_msg(m != NULL, "%s", err);
	cf_ratings_free(&rs);
	return m;
}

static void
write_file(const char *path, const cf_model *m)
{
	FILE *fp = fopen(path, "wb");
	cf_writer *w;

	ck_assert_ptr_nonnull(fp);
	w = cf_writer_new(fp, path);
	ck_assert_int_eq(cf_model_write(w, m), 0);
	ck_assert_int_eq(cf_writer_finish(w), 0);
	ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(versions)
{
	char dir[] = "/tmp/cf-serve-test-XXXXXX", path[256], name[CF_MODEL_NAME_MAX + 1];
	char err[600];
	cf_model *m = small_model();
	cf_registry *g;
	cf_served *old, *h;
	size_t n;
	char **names;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/m.bin", dir);
	write_file(path, m);
	snprintf(path, sizeof path, "%s/m_2.bin", dir);
	write_file(path, m);
	snprintf(path, sizeof path, "%s/.m_9.bin.tmp-abcdef", dir);   /* a crash's leftover */
	write_file(path, m);

	g = cf_registry_open(dir, NULL, err, sizeof err);
	ck_assert_msg(g != NULL, "%s", err);
	names = cf_registry_names(g, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(names[0], "m");
	ck_assert_str_eq(names[1], "m_2");
	cf_registry_names_free(names, n);

	old = cf_registry_get(g, NULL);
	ck_assert_str_eq(old->name, "m");
	ck_assert_ptr_null(cf_registry_get(g, "nope"));

	ck_assert_int_eq(cf_registry_reserve(g, "m", name, sizeof name), 0);
	ck_assert_str_eq(name, "m_3");
	ck_assert_int_eq(cf_registry_reserve(g, "m_2", name, sizeof name), 0);
	ck_assert_str_eq(name, "m_4");      /* m_3 is reserved */
	cf_registry_unreserve(g, "m_4");
	ck_assert_int_eq(cf_registry_publish(g, "m_3", m, "m", err, sizeof err), 0);

	/* The default moved to the new version; the old handle is still whole. */
	h = cf_registry_get(g, NULL);
	ck_assert_str_eq(h->name, "m_3");
	ck_assert_uint_eq(h->m->nitems, old->m->nitems);
	ck_assert_str_eq(old->name, "m");
	ck_assert_uint_eq(old->m->nusers, 5);
	cf_served_put(h);
	ck_assert_int_eq(cf_registry_reserve(g, "m_3", name, sizeof name), 0);
	ck_assert_str_eq(name, "m_4");
	cf_registry_unreserve(g, name);

	/* The handle outlives the registry's own reference. */
	cf_registry_free(g);
	ck_assert_uint_eq(old->m->nusers, 5);
	cf_served_put(old);

	/* Reopened: the published file is a model; the temp file is not one. */
	g = cf_registry_open(dir, "m_3", err, sizeof err);
	ck_assert_msg(g != NULL, "%s", err);
	names = cf_registry_names(g, &n);
	ck_assert_uint_eq(n, 3);
	cf_registry_names_free(names, n);
	cf_registry_free(g);
	ck_assert_ptr_null(cf_registry_open(dir, "m_9", err, sizeof err));

	const char *files[] = {"m.bin", "m_2.bin", "m_3.bin", ".m_9.bin.tmp-abcdef"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	cf_model_free(m);
}
END_TEST

Suite *
serve_suite(void)
{
	Suite *s = suite_create("serve");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, model_names);
	tcase_add_test(tc, movie_json);
	tcase_add_test(tc, versions);
	suite_add_tcase(s, tc);
	return s;
}
