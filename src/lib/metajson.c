/*
 * metajson.c - a movie as a JSON object (see metajson.h).
 */
#include "metajson.h"

#include "out.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Sets key to v (stolen); returns -1 if v is NULL or setting failed. */
static int
put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

/* A JSON string of p; NULL (and *bad = what) if it is not valid UTF-8. */
static json_t *
str(const char *p, size_t n, const char *what, const char **bad)
{
	json_t *v = json_stringn(p, n);

	if (!v && !*bad)
		*bad = what;
	return v;
}

json_t *
cf_movie_json_why(const char *id, size_t idlen, const cf_movie *mv, unsigned flags,
                  const char **bad)
{
	json_t *o = json_object();
	int titled = mv && mv->in_movies, linked = mv && mv->in_links;
	const char *why = NULL;

	if (!o || put(o, "id", str(id, idlen, "the id", &why)) < 0)
		goto fail;
	if (flags & CF_MJ_META) {
		json_t *g = NULL;       /* made once the title is in: nothing to free if it fails */
		size_t pos = 0, gl;
		const char *gp;
		if (put(o, "title", titled ? str(mv->title, mv->title_len, "the title", &why) :
		                    json_string("")) < 0 || put(o, "genres", g = json_array()) < 0)
			goto fail;
		while (titled && cf_genre_next(mv->genres, mv->genres_len, &pos, &gp, &gl))
			if (json_array_append_new(g, str(gp, gl, "a genre", &why)) < 0)
				goto fail;
		if ((flags & CF_MJ_YEAR) &&
		    put(o, "year", titled && mv->year ? json_integer(mv->year) : json_null()) < 0)
			goto fail;
	}
	if (flags & CF_MJ_LINKS) {
		if (put(o, "imdb", linked ? str(mv->imdb, mv->imdb_len, "imdbId", &why) :
		                   json_null()) < 0 ||
		    put(o, "tmdb", linked ? str(mv->tmdb, mv->tmdb_len, "tmdbId", &why) :
		                   json_null()) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	if (bad)
		*bad = why;
	return NULL;
}

json_t *
cf_movie_json(const char *id, size_t idlen, const cf_movie *mv, unsigned flags)
{
	return cf_movie_json_why(id, idlen, mv, flags, NULL);
}

json_t *
cf_json_f32(float v)
{
	char b[CF_FMT_MAX];

	if (!isfinite(v))
		return json_null();
	cf_fmt_f32(b, sizeof b, v);     /* the fewest digits that read back as v */
	return json_real(strtod(b, NULL));
}
