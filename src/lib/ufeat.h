/*
 * ufeat.h - user side features for fm (mf-fit --users): a table with a
 * user column and any other columns (a users.csv of age, gender,
 * occupation made a frame by csv2bin), read once into one categorical
 * feature per (column, value) and per user the list of its features.
 *
 * The columns:
 *   the user column   named userId, user or id (case-insensitive), str or
 *                     an integer type; ids canonical (ids.h), one row per
 *                     user (a repeated id is an error)
 *   str               one feature per distinct value; "" is no feature;
 *                     but a column whose values all are numbers is one
 *                     (csv2bin makes every column of a generic table str)
 *   integer           one feature per distinct value when there are at
 *                     most CF_UFEAT_MAX_LEVELS of them, else its deciles
 *   float             its deciles (NaN is no feature)
 * so a numeric column such as age enters as a few bins (its effect need
 * not be linear), a categorical one as itself.  Deciles are by rank over
 * the table's rows: values tie into the same bin.  Only the columns
 * asked for are read (all but the user column by default); a column that
 * is not in the table, or a vector column, is an error.
 *
 * Errors are one line naming the file and the table, column or row; the
 * input must be a frame (csv2bin's output; a text file is refused with
 * how to convert it) whose strings are valid UTF-8.
 */
#ifndef CF_UFEAT_H
#define CF_UFEAT_H

#include <stddef.h>
#include <stdint.h>

#define CF_UFEAT_MAX_LEVELS 32

typedef struct cf_ufeat cf_ufeat;

/*
 * Reads path's first table; columns is a comma-separated list of column
 * names or NULL (all).  NULL on error with the message in err.
 */
cf_ufeat *cf_ufeat_load(const char *path, const char *columns, char *err, size_t errlen);
void cf_ufeat_free(cf_ufeat *u);

/* The features in all (columns x their values or bins). */
uint32_t cf_ufeat_count(const cf_ufeat *u);
/* The row of a user id (any form: canonicalized here), or UINT32_MAX. */
uint32_t cf_ufeat_find(const cf_ufeat *u, const char *id, size_t len);
/* Row r's features (at most one per column): *n of them at *idx. */
void cf_ufeat_row(const cf_ufeat *u, uint32_t r, const uint32_t **idx, uint32_t *n);
/* The file's name, for messages. */
const char *cf_ufeat_path(const cf_ufeat *u);

#endif
