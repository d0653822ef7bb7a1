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
 * Fields are bytes: checking that they are UTF-8 is the caller's (utf8.h).
 * Input in another encoding (Latin-1, UTF-16, ...) is decoded to UTF-8
 * before tokenizing when cf_csv_set_encoding() names it; cf_csv_sniff()
 * recognises UTF-16 and CR-only line ends (classic Mac OS), which are
 * not read as meant otherwise, so that callers can say so.
 *
 * A malformed record (an unterminated quote at end of input, text after a
 * closing quote) is still returned, with ->err saying what is wrong, so the
 * caller can stop or drop it.  Read errors, decoding errors and a record
 * longer than CF_CSV_MAX_RECORD are fatal (cf_die with the input's name and
 * line), unless the caller asked for errors with cf_csv_set_die(c, 0): then
 * they end the input (cf_csv_next() returns 0) and cf_csv_error() says what
 * happened.
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
	int ascii;              /* 1: the record is ASCII (so valid UTF-8); 0: it
	                           is not, or holds a quoted field (not looked at) */
} cf_csv_rec;

/* Reads fd (not closed by cf_csv_free); name is used in messages. */
cf_csv *cf_csv_new(int fd, const char *name);
void cf_csv_free(cf_csv *c);

/* Sets the delimiter (default ","); returns -1 if it is empty or holds '"', CR or LF. */
int cf_csv_set_delim(cf_csv *c, const char *d, size_t len);
/* quotes = 0: '"' is an ordinary character (default 1: RFC 4180 quoting). */
void cf_csv_set_quotes(cf_csv *c, int quotes);
/* die = 0: errors end the input instead of cf_die() (default 1). */
void cf_csv_set_die(cf_csv *c, int die);
/* The message of the error that ended the input (no program name), or NULL. */
const char *cf_csv_error(const cf_csv *c);

/* The encodings cf_csv_set_encoding() takes (any case), for messages and --help. */
#define CF_CSV_ENCODINGS "utf-8, latin1 (iso-8859-1), cp1252 (windows-1252), utf-16, " \
                         "utf-16le or utf-16be"
/*
 * Decodes the input from enc to UTF-8 (with iconv) before tokenizing;
 * "utf-8", the default, reads the bytes as they are.  "utf-16" takes the
 * byte order from a byte order mark; without one, big endian if the
 * first byte is zero, else little endian.  Call it
 * before anything is read.  Returns 0, or -1 (an unknown encoding, one
 * iconv cannot convert, or a call after reading began) with the reason
 * in cf_csv_error(); the input is then ended.  Bytes that are not valid
 * in enc are a decoding error "NAME:LINE: byte N: not valid ENC" (LINE
 * counted in the decoded text, N in the input's bytes).
 */
int cf_csv_set_encoding(cf_csv *c, const char *enc);
/* 1 if cf_csv_set_encoding() knows the name enc (it may still fail: iconv). */
int cf_csv_encoding_known(const char *enc);

/*
 * What the start of the input says about its text (after any decoding),
 * before the first record is read: CF_CSV_TEXT_OK, or UTF-16 (a byte
 * order mark FF FE or FE FF, or, without one, two ASCII characters each
 * beside a zero byte), or CR-only line ends (the first line holds a CR,
 * outside quotes, followed by more of the line).  Reads ahead like
 * cf_csv_peek_line(), consumes nothing.  cf_csv_sniff_name() says it in
 * words for a message ("UTF-16LE text (byte order mark FF FE), not UTF-8").
 */
enum { CF_CSV_TEXT_OK, CF_CSV_UTF16LE, CF_CSV_UTF16BE, CF_CSV_UTF16LE_NOBOM,
       CF_CSV_UTF16BE_NOBOM, CF_CSV_CR_ONLY };
int cf_csv_sniff(cf_csv *c);
const char *cf_csv_sniff_name(int what);
/* The encoding that reads it (cf_csv_set_encoding's and iconv's name), or NULL. */
const char *cf_csv_sniff_encoding(int what);

/*
 * The first non-blank line of the input (after a byte order mark, without
 * its line end), without consuming anything; for guessing the delimiter.
 * Returns 0 if the input holds no such line.  At most CF_CSV_MAX_RECORD
 * bytes are looked at.
 */
int cf_csv_peek_line(cf_csv *c, const char **p, size_t *len);
/* The delimiter a line suggests: "::" if it holds one, else tab if it holds one, else ",". */
const char *cf_csv_guess_delim(const char *line, size_t len);

/* Reads the next record: 1, or 0 at end of input (or an error, with cf_csv_set_die(c, 0)). */
int cf_csv_next(cf_csv *c, cf_csv_rec *r);

#endif
