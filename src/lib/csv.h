/*
 * csv.h - a fast tokenizer for delimited text (RFC 4180 CSV, TSV, and
 * MovieLens' "::" files).
 *
 * A regular file is mapped; other input (a pipe) is read with large read()
 * calls into one buffer.  Records are
 * found with memchr and split in place, so an unquoted record costs a scan
 * of its bytes and no copy.  A record in which some field starts with a
 * double quote takes the slow path: quoted fields may hold delimiters,
 * doubled quotes ("") and line breaks, and are unescaped into a scratch
 * buffer.
 *
 * Handled: CRLF and LF line ends, a UTF-8 byte order mark at the start,
 * a missing final newline, blank lines (skipped).  The delimiter is any
 * non-empty byte string ("," "\t" "::"); it may not contain '"', CR or LF.
 *
 * A malformed record (an unterminated quote at end of input, text after a
 * closing quote) is still returned, with ->err saying what is wrong, so the
 * caller can stop or drop it.  Read errors and a record longer than
 * CF_CSV_MAX_RECORD are fatal (cf_die with the input's name and line).
 */
#ifndef CF_CSV_H
#define CF_CSV_H

#include <stddef.h>
#include <stdint.h>

/* Longest record accepted (a single field > 1 GiB is an error, not a crash). */
#define CF_CSV_MAX_RECORD ((size_t)1 << 30)
/* Fields stored per record; more are counted (->nfields) but not kept. */
#define CF_CSV_MAX_FIELDS 65536

typedef struct cf_csv cf_csv;

typedef struct cf_csv_field {
	const char *p;          /* not NUL-terminated; may hold any bytes */
	size_t len;
} cf_csv_field;

typedef struct cf_csv_rec {
	size_t nfields;         /* fields in the record (only the first
	                           CF_CSV_MAX_FIELDS are in f[]) */
	const cf_csv_field *f;  /* valid until the next cf_csv_next() */
	uint64_t line;          /* 1-based physical line the record starts on */
	const char *err;        /* NULL, or why the record is malformed */
} cf_csv_rec;

/* Reads fd (not closed by cf_csv_free); name is used in messages. */
cf_csv *cf_csv_new(int fd, const char *name);
void cf_csv_free(cf_csv *c);

/* Sets the delimiter (default ","); returns -1 if it is empty or holds '"', CR or LF. */
int cf_csv_set_delim(cf_csv *c, const char *d, size_t len);
/* quotes = 0: '"' is an ordinary character (default 1: RFC 4180 quoting). */
void cf_csv_set_quotes(cf_csv *c, int quotes);

/*
 * The first non-blank line of the input (after a byte order mark, without
 * its line end), without consuming anything; for guessing the delimiter.
 * Returns 0 if the input holds no such line.  At most CF_CSV_MAX_RECORD
 * bytes are looked at.
 */
int cf_csv_peek_line(cf_csv *c, const char **p, size_t *len);
/* The delimiter a line suggests: "::" if it holds one, else tab if it holds one, else ",". */
const char *cf_csv_guess_delim(const char *line, size_t len);

/* Reads the next record: 1, or 0 at end of input. */
int cf_csv_next(cf_csv *c, cf_csv_rec *r);

#endif
