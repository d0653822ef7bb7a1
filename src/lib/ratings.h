/*
 * ratings.h - a ratings set held in memory: the module owns the compact
 * column arrays (20 bytes a row: user, item, rating, timestamp), the users
 * and items dictionaries, and the table attributes, and converts between
 * them and the `ratings` / `users` / `items` tables of a frame stream
 * (docs/frame-format.md).  Used by split, mf-fit and metrics.
 *
 * In memory the set is always encoded: user[i] and item[i] are dense
 * indices into the dictionaries, whether the stream held raw string ids
 * (encoded here by first appearance, as encode-ids would) or was already
 * encoded (its dictionaries are read and every index checked).
 */
#ifndef CF_RATINGS_H
#define CF_RATINGS_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "idmap.h"

typedef struct cf_ratings {
	size_t n;               /* rows; at most UINT32_MAX - 1 (row numbers are u32) */
	uint32_t *user;         /* n indices into users */
	uint32_t *item;         /* n indices into items */
	float *rating;
	int64_t *ts;            /* n timestamps, or NULL when !has_ts */
	int has_ts;
	cf_idmap *users, *items;

	/*
	 * The input table's attributes, verbatim, so a stage that writes the
	 * set back keeps rating_min, rating_max, dups and any it does not know.
	 */
	cf_schema *attrs;
	int has_scale;          /* rating_min and rating_max were both present */
	double rating_min, rating_max;
	const char *dups;       /* the dups attribute (inside attrs), or NULL */

	size_t cap;             /* allocated rows */
} cf_ratings;

/*
 * Checks that s (a table named `ratings`) has the required columns: user
 * and item both str (raw) or both u32 (encoded), rating f32, timestamp i64
 * if present.  Returns 1 for encoded, 0 for raw; otherwise dies with one
 * line naming r's stream and offset.
 */
int cf_ratings_schema(cf_reader *r, const cf_schema *s);

/*
 * Reads a stream whose first table is `ratings`, raw or encoded.  For an
 * encoded table, reads on to its `users` and `items` tables (tables in
 * between are skipped) and checks every index against them; tables after
 * what it needs are left unread.  *out is initialised here; free it with
 * cf_ratings_free().  Dies with one line on any error (a frame error, the
 * wrong table kind, a bad column, an index out of range naming its row,
 * a duplicate dictionary id).  Returns 0 (-1 only if r was set not to
 * die and the frame reader failed: its message is in cf_reader_error()).
 */
int cf_ratings_read(cf_reader *r, cf_ratings *out);

/*
 * What the programs read (split, mf-fit, mf-score --pairs and --fold-in,
 * metrics --truth and --train): cf_ratings_read, but the stream must be
 * one ratings stream and nothing else: a raw `ratings` table, or an
 * encoded one directly followed by its `users` and `items` tables (either
 * order), then the end of the stream.  Another table, between or after,
 * or bytes after the last table are an error naming the byte offset:
 * "stdin: byte N: a 'ratings' table after the ratings and their 'users'
 * and 'items' dictionaries: one ratings table ... expected".
 */
int cf_ratings_read_input(cf_reader *r, cf_ratings *out);
#define CF_RATINGS_ONE "one ratings table (with its dictionaries) expected, nothing more"

/*
 * Encodes the string column c of block b through m (first appearance gets
 * the next index) into dst[0..b->nrows).  Shared with encode-ids so both
 * number ids the same way.
 */
void cf_encode_strcol(const cf_block *b, int c, cf_idmap *m, uint32_t *dst);

/*
 * Writes the encoded `ratings` table holding rows[0..nrows) of rs, in that
 * order (rows == NULL: every row in order), in blocks of CF_BLOCK_ROWS,
 * then the FULL users and items dictionaries, so that every subset written
 * from one set (train and test of a split) shares its indices.  Attributes
 * are the input's, with encoded=1.  Returns 0, or -1 on a write error of a
 * writer set not to die.
 */
int cf_ratings_write(cf_writer *w, const cf_ratings *rs, const uint32_t *rows,
                     size_t nrows);
/* The same for the rows i with mask[i] == want, in order. */
int cf_ratings_write_mask(cf_writer *w, const cf_ratings *rs,
                          const unsigned char *mask, unsigned char want);

/* Writes a dictionary as a one-column (`id` str) table called name. */
int cf_ratings_write_dict(cf_writer *w, const char *name, const cf_idmap *m);

/*
 * An empty set with empty dictionaries and no attributes, for building
 * one row by row (tests, generators); has_ts says whether rows carry a
 * timestamp.
 */
void cf_ratings_init(cf_ratings *rs, int has_ts);
/* Appends one row (u and i must be valid indices); grows the arrays. */
void cf_ratings_add(cf_ratings *rs, uint32_t u, uint32_t i, float rating, int64_t ts);

void cf_ratings_free(cf_ratings *rs);

#endif
