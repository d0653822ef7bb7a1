/*
 * meta.h - movie metadata held in memory and looked up by raw movie id:
 * MovieLens' movies.csv (movieId, title, genres) and links.csv (movieId,
 * imdbId, tmdbId), read as CSV with the csv.h tokenizer, or the `movies`
 * and `links` tables csv2bin makes of them (a file that starts with the
 * frame magic is read as a frame).  Used by join-meta and the HTTP server.
 *
 * Ids are stored in their canonical form, as csv2bin writes them ("018",
 * "+18" and "18.0" are "18"), so they match the ids of every frame.  A
 * title's year is parsed from its trailing "(YYYY)"; it may be absent.
 * Genres are kept as in the file ('|'-separated); cf_genre_next() splits
 * them.  Strings are not NUL-terminated; they are valid UTF-8.
 *
 * Loading fails with one line naming the file and line (CSV) or row
 * (frame) on anything malformed: a missing column, a record with the
 * wrong number of fields, an empty or duplicate movie id, a string that
 * is not valid UTF-8 (utf8.h: what JSON and the frame format's `str`
 * hold), UTF-16 text or CR-only line ends (csv.h's cf_csv_sniff), and a
 * file without a movie: empty, or a header and no rows (a frame's table
 * with no rows).  The cf_meta_read_* functions return the message; the
 * cf_meta_load_* ones die (cf_die) with it.
 */
#ifndef CF_META_H
#define CF_META_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"          /* cf_canon_id(): ids are looked up canonical */

typedef struct cf_meta cf_meta;

/* One movie as looked up; pointers are valid until the next load or free. */
typedef struct cf_movie {
	const char *id;
	size_t id_len;
	int in_movies;          /* listed in movies.csv: title and genres valid */
	const char *title;
	size_t title_len;
	const char *genres;     /* '|'-separated, as in the file */
	size_t genres_len;
	int year;               /* from the title's trailing "(YYYY)", or 0 */
	int in_links;           /* listed in links.csv: imdb and tmdb valid */
	const char *imdb;       /* leading zeros kept ("0114709") */
	size_t imdb_len;
	const char *tmdb;       /* may be empty */
	size_t tmdb_len;
} cf_movie;

cf_meta *cf_meta_new(void);
void cf_meta_free(cf_meta *m);

/* Loads movies.csv or a `movies` frame; dies on errors.  Returns the rows read. */
size_t cf_meta_load_movies(cf_meta *m, const char *path);
/* Loads links.csv or a `links` frame; ids not yet known are added (in_movies 0). */
size_t cf_meta_load_links(cf_meta *m, const char *path);
/*
 * The same without dying: 0 (and *rows, unless NULL, the rows read), or
 * -1 with the one-line message in err (errlen bytes; what the _load_
 * functions die with, without the program's name).  After an error m
 * holds the rows stored before it: free it.
 */
int cf_meta_read_movies(cf_meta *m, const char *path, size_t *rows, char *err,
                        size_t errlen);
int cf_meta_read_links(cf_meta *m, const char *path, size_t *rows, char *err,
                       size_t errlen);

/* Movies known (from either file). */
uint32_t cf_meta_count(const cf_meta *m);
/* 1 and *out filled if id (any form: canonicalized here) is known, else 0. */
int cf_meta_find(const cf_meta *m, const char *id, size_t len, cf_movie *out);
/* The movie of index i < cf_meta_count(m), in order of first appearance. */
void cf_meta_get(const cf_meta *m, uint32_t i, cf_movie *out);

/* ---- helpers, shared with the programs that print metadata ---- */

/* The year of a title ending in "(YYYY)" (trailing blanks allowed), or 0. */
int cf_title_year(const char *title, size_t len);

/*
 * The next genre of a '|'-separated list of len bytes: start with *pos = 0;
 * returns 1 and sets *g, *glen (advancing *pos), or 0 when done.  "" has no
 * genres; "A||B" has three ("A", "", "B").  "(no genres listed)", as
 * MovieLens writes it, is one genre like any other.
 */
int cf_genre_next(const char *list, size_t len, size_t *pos, const char **g,
                  size_t *glen);

/* Display width of UTF-8 text: code points (bytes not of the form 10xxxxxx). */
size_t cf_utf8_width(const char *s, size_t len);

#endif
