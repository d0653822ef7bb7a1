/*
 * typeguess.h - what csv2bin makes of a delimited file's columns from its
 * first record, before any row is parsed: whether that record is a header
 * (not all its fields numeric), the role each column plays (from its name:
 * userId, movieId, rating, ...), the kind of table the roles make
 * (MovieLens' ratings, movies, links, tags, or a generic table of
 * strings), and each kind's output columns, their names and types.
 */
#ifndef CF_TYPEGUESS_H
#define CF_TYPEGUESS_H

#include <stddef.h>

#include "csv.h"
#include "frame.h"

typedef enum cf_kind {
	CF_KIND_AUTO = -1,      /* not given: guess */
	CF_KIND_RATINGS, CF_KIND_MOVIES, CF_KIND_LINKS, CF_KIND_TAGS, CF_KIND_GENERIC,
	CF_NKINDS
} cf_kind;

typedef enum cf_role {
	CF_ROLE_SKIP,           /* a column not written ('_' in --columns) */
	CF_ROLE_USER, CF_ROLE_ITEM, CF_ROLE_RATING, CF_ROLE_TS, CF_ROLE_TITLE,
	CF_ROLE_GENRES, CF_ROLE_IMDB, CF_ROLE_TMDB, CF_ROLE_TAG,
	CF_ROLE_OTHER,          /* a name no kind knows */
	CF_NROLES
} cf_role;

/* "ratings", ...; cf_kind_parse() gives the kind of a name, or -1. */
const char *cf_kind_name(cf_kind k);
int cf_kind_parse(const char *name);
/* What a kind needs, for messages: "user,item,rating[,timestamp]". */
const char *cf_kind_need(cf_kind k);
/* The roles of a known kind in output order, ending with CF_ROLE_SKIP; CF_ROLE_TS is optional. */
const cf_role *cf_kind_roles(cf_kind k);

/* The role a column name plays (any case: "userId", "movie_id", ...), or CF_ROLE_OTHER. */
cf_role cf_role_of(const char *name, size_t len);
/* The name and the type of a known kind's output column. */
const char *cf_role_column(cf_role r);
cf_type cf_role_type(cf_role r);
/* The known kind n roles make (each needed one once, no other), or CF_KIND_GENERIC. */
cf_kind cf_kind_of(const cf_role *role, size_t n);

/* p is a decimal number: [+-]?(digits(.digits*)?|.digits)([eE][+-]?digits)? */
int cf_is_decimal(const char *p, size_t n);
/* Every field of the record is a decimal number. */
int cf_all_numeric(const cf_csv_rec *r);

/* What the first record and the options say. */
typedef struct cf_guess {
	int header;             /* the first record is a header */
	cf_kind kind;
	size_t n;               /* input columns */
	cf_role *role;          /* n roles; free() it */
} cf_guess;

enum { CF_GUESS_OK, CF_GUESS_NOT_KIND, CF_GUESS_NFIELDS };
/*
 * Decides from the first record and the options: cols[0..ncols) the
 * --columns names ('_' skips a column; ncols 0: none given), header 1, 0
 * or -1 (auto: unless all fields are numeric), kind the one asked or
 * CF_KIND_AUTO.  A header or --columns names the columns and their roles
 * make the kind; a headerless file has the kind's columns in their usual
 * order (auto: 3 or 4 numeric fields are ratings, else generic).  Returns
 * CF_GUESS_OK, CF_GUESS_NOT_KIND (the named columns do not make the kind
 * asked) or CF_GUESS_NFIELDS (a headerless file has not the kind's number
 * of fields; g->kind is the kind meant).  g->role is set in every case.
 */
int cf_guess_columns(const cf_csv_rec *first, char *const *cols, size_t ncols, int header,
                     cf_kind kind, cf_guess *g);

#endif
