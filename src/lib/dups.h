/*
 * dups.h - the duplicate-rating policy: what becomes of several ratings of
 * one (user, item) pair.  This module owns the policies, their names (the
 * `dups` attribute of a ratings table, csv2bin's --dups) and the rule that
 * decides between two rows of a pair, and applies it two ways:
 *
 *   - streaming, on raw ids as csv2bin reads them (cf_dupset): a row goes
 *     out at once (first, error, keep), or every row is held until the
 *     input ends and the survivors go out in input order (latest, last,
 *     mean);
 *   - in place, on a ratings set held in memory (cf_dups_mark and
 *     cf_dups_resolve): mf-fit's and the server's training's `latest`.
 *
 * The policies:
 *   latest  the greatest timestamp wins, ties (and no timestamps) to the
 *           later row
 *   first   the first row wins
 *   last    the last row wins
 *   mean    one row, at the first's place: the mean rating and the
 *           greatest timestamp (streaming only)
 *   error   a second row of a pair is a bad row (streaming only)
 *   keep    nothing is resolved
 */
#ifndef CF_DUPS_H
#define CF_DUPS_H

#include <stddef.h>
#include <stdint.h>

#include "ratings.h"

typedef enum cf_dups {
	CF_DUPS_LATEST, CF_DUPS_FIRST, CF_DUPS_LAST, CF_DUPS_MEAN, CF_DUPS_ERROR,
	CF_DUPS_KEEP, CF_NDUPS
} cf_dups;

/* "latest", "first", ...; cf_dups_parse() gives the policy of a name, or -1. */
const char *cf_dups_name(cf_dups p);
int cf_dups_parse(const char *name);

/* ---- streaming, on raw ids ---- */

/*
 * Ids are 32-bit codes: an id that is a canonical decimal below 2^31 is
 * its own code (no lookup: MovieLens' ids), any other is interned.  Each
 * user has a small open-addressing table of its pairs (8 bytes a slot),
 * so input grouped by user, as MovieLens' is, probes one table that stays
 * in cache.  Memory: about 14 bytes a distinct pair (first, error); 34 a
 * row held (latest, last; 46 with mean); nothing with keep.
 */
typedef struct cf_dupset cf_dupset;

/* has_ts: rows carry a timestamp; name (the input's) is used in messages. */
cf_dupset *cf_dupset_new(cf_dups p, int has_ts, const char *name);
/* 1 if the policy holds every row until cf_dupset_flush() (latest, last, mean). */
int cf_dupset_holds(const cf_dupset *d);

enum { CF_DUP_NONE = 0, CF_DUP_WRITE = 1, CF_DUP_REPEAT = -1 };
/*
 * Offers the next row (ids in canonical form; t is ignored without
 * timestamps).  Returns CF_DUP_WRITE when the caller writes it now (keep;
 * first and error: the first row of its pair), CF_DUP_NONE when there is
 * nothing to write now (held, or a duplicate resolved), CF_DUP_REPEAT
 * under `error` for a second row of a pair: *first_line is the line of
 * the pair's first row (0 if past 2^32 - 2), and the row is forgotten.
 * Dies on more distinct users, non-numeric ids or held rows than it can
 * number (2^32 - 2).
 */
int cf_dupset_add(cf_dupset *d, const char *u, size_t ul, const char *i, size_t il,
                  float r, int64_t t, uint64_t line, uint64_t *first_line);
/* Duplicates resolved so far (rows dropped, or merged under mean). */
uint64_t cf_dupset_resolved(const cf_dupset *d);

/* The row callback of cf_dupset_flush(): raw ids, rating, timestamp. */
typedef void cf_dup_emit(void *ctx, const char *u, size_t ul, const char *i, size_t il,
                         float r, int64_t t);
/* Calls emit for every surviving held row, in input order; frees the rows. */
void cf_dupset_flush(cf_dupset *d, cf_dup_emit *emit, void *ctx);
void cf_dupset_free(cf_dupset *d);

/* ---- in place, on a ratings set ---- */

/*
 * Sets in drop (rs->n / 64 + 1 words, zeroed by the caller) the bit of
 * every row that policy p (latest, first or last; another is a fatal
 * error) drops, and returns their number.  rs is not changed.  Rows sorted
 * by user (the usual input) are checked where they lie; otherwise a list
 * of row numbers by user (4 bytes a row) is made first; and 4 bytes an
 * item.
 */
size_t cf_dups_mark(const cf_ratings *rs, cf_dups p, uint64_t *drop);
/*
 * Resolves the duplicates of rs by policy p in place: drops the rows
 * cf_dups_mark() marks, keeping the others in their order.  Returns the
 * number of rows dropped.
 */
size_t cf_dups_resolve(cf_ratings *rs, cf_dups p);

#endif
