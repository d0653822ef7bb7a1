/*
 * titles.h - movie title search as a person searches, for the server's
 * GET /movies: an index of every title of a cf_meta, queried by words.
 *
 * Normalisation (titles and queries alike): ASCII letters lower-cased,
 * the common accented Latin letters of UTF-8 folded to their base letter
 * ("Amélie" is "amelie"), apostrophes and periods dropped ("L.A." is
 * "la", "Schindler's" is "schindlers"), any other punctuation a word
 * break; a title's trailing "(YYYY)" is not a word.  Articles do not
 * matter: "the", "a" and "an" anywhere, and MovieLens' trailing ", La" /
 * ", Les" / ", Die" ... are optional words of a title; a query's article
 * words are ignored (unless it has nothing else).  So `the matrix` finds
 * "Matrix, The (1999)" and `godfather part ii` "Godfather: Part II, The
 * (1974)".
 *
 * Matching: every query word must match a word of the title: exactly,
 * as a prefix of it, or (words of 4 letters or more) within an edit
 * distance of 1 (2 from 8 letters; two letters swapped count as one
 * edit).  Ranking: match quality (per query word 3 exact, 2 prefix, 1
 * typo; plus 2 when the title has no more words, articles aside, than the
 * query), then popularity (the caller's), then order in the file.
 *
 * Bounded cost: a query is cut to CF_TITLES_QUERY_MAX bytes and
 * CF_TITLES_WORDS_MAX words; a title to CF_TITLES_WORDS_MAX words; edit
 * distance is computed only for words of at most CF_TITLES_WORD_MAX bytes,
 * by a banded dynamic program.  A query costs O(titles x words).
 */
#ifndef CF_SERVE_TITLES_H
#define CF_SERVE_TITLES_H

#include <stddef.h>
#include <stdint.h>

#include "meta.h"

#define CF_TITLES_QUERY_MAX 256
#define CF_TITLES_WORDS_MAX 16
#define CF_TITLES_WORD_MAX 32

typedef struct cf_titles cf_titles;

/* Indexes the titles of m's movies (those in movies.csv). */
cf_titles *cf_titles_new(const cf_meta *m);
void cf_titles_free(cf_titles *t);

/* A movie's popularity (meta index), or -1 to leave it out of the results. */
typedef int64_t (*cf_title_pop)(void *arg, uint32_t movie);

/*
 * The best k (at most) movies for query q (qlen bytes), best first, as
 * meta indices into out; returns how many.  An empty query (or one of
 * punctuation only) matches every movie: the most popular come first.
 */
size_t cf_titles_search(const cf_titles *t, const char *q, size_t qlen, size_t k,
                        cf_title_pop pop, void *arg, uint32_t *out);

/*
 * The normalised words of s (n bytes) as a title (is_title: the year is
 * dropped, optional words are marked with a leading '?') or a query,
 * space-separated, into out (cap bytes, NUL-terminated): for tests.
 */
void cf_titles_normalize(const char *s, size_t n, int is_title, char *out, size_t cap);

/* Edit distance of a and b if it is at most max, else max + 1. */
int cf_titles_distance(const char *a, size_t an, const char *b, size_t bn, int max);

#endif
