/*
 * metajson.h - one movie as a JSON object in the reference API's shape:
 *     {"id":"74510","title":"...","genres":["Action",...]}
 * and, with the extra fields, "year", "imdb", "tmdb" (join-meta --json
 * --extra --links prints the same keys in the same order).  The HTTP
 * server builds every movie it returns through this one function, so
 * its JSON and the command line's cannot drift apart.
 */
#ifndef CF_METAJSON_H
#define CF_METAJSON_H

#include <stddef.h>

#include <jansson.h>

#include "meta.h"

enum {
	CF_MJ_META = 1,         /* title and genres */
	CF_MJ_YEAR = 2,         /* "year": the title's year or null (with META) */
	CF_MJ_LINKS = 4,        /* "imdb", "tmdb": strings, or null if not in links */
};

/*
 * The object for movie id (raw, idlen bytes); mv is its metadata or NULL
 * if unknown (then the title is "" and genres [], as join-meta prints an
 * unknown movie).  NULL if a string is not valid UTF-8 (JSON cannot hold
 * it) or memory ran out.
 */
json_t *cf_movie_json(const char *id, size_t idlen, const cf_movie *mv, unsigned flags);
/*
 * The same; when it returns NULL, *bad names the string JSON cannot hold
 * ("the id", "the title", "a genre", "imdbId" or "tmdbId"), or is NULL if
 * memory ran out.  For messages (join-meta's).
 */
json_t *cf_movie_json_why(const char *id, size_t idlen, const cf_movie *mv, unsigned flags,
                          const char **bad);

/* A float score as the double of its shortest decimal form (null if not finite). */
json_t *cf_json_f32(float v);

#endif
