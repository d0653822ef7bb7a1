/*
 * metajson.c - a movie as a JSON object (see metajson.h).
 */
#include "metajson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Sets key to v (stolen); returns -1 if v is NULL or setting failed. */
static int
put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

json_t *
cf_movie_json(const char *id, size_t idlen, const cf_movie *mv, unsigned flags)
{
	json_t *o = json_object();
	int titled = mv && mv->in_movies, linked = mv && mv->in_links;

	if (!o || put(o, "id", json_stringn(id, idlen)) < 0)
		goto fail;
	if (flags & CF_MJ_META) {
		json_t *g = json_array();
		size_t pos = 0, gl;
		const char *gp;
		if (put(o, "title", titled ? json_stringn(mv->title, mv->title_len) :
		                    json_string("")) < 0 || put(o, "genres", g) < 0)
			goto fail;
		while (titled && cf_genre_next(mv->genres, mv->genres_len, &pos, &gp, &gl))
			if (json_array_append_new(g, json_stringn(gp, gl)) < 0)
				goto fail;
		if ((flags & CF_MJ_YEAR) &&
		    put(o, "year", titled && mv->year ? json_integer(mv->year) : json_null()) < 0)
			goto fail;
	}
	if (flags & CF_MJ_LINKS) {
		if (put(o, "imdb", linked ? json_stringn(mv->imdb, mv->imdb_len) :
		                   json_null()) < 0 ||
		    put(o, "tmdb", linked ? json_stringn(mv->tmdb, mv->tmdb_len) :
		                   json_null()) < 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *
cf_json_f32(float v)
{
	char b[32];

	if (!isfinite(v))
		return json_null();
	/* The fewest digits that read back as the same float. */
	for (int p = 6; p <= 9; p++) {
		snprintf(b, sizeof b, "%.*g", p, (double)v);
		if (strtof(b, NULL) == v)
			break;
	}
	return json_real(strtod(b, NULL));
}
