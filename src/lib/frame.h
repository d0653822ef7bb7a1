/*
 * frame.h - the cinefilter binary frame format: reading and writing
 * streams of named, typed tables (docs/frame-format.md is the contract).
 *
 * A stream is a sequence of tables.  A table is a header (name, columns,
 * attributes) followed by blocks of rows stored column by column, then an
 * end marker.  Every header and payload carries a CRC-32, every structure
 * is 64-byte aligned, all integers are little-endian.
 *
 * Errors: by default a reader or writer reports an error by calling
 * cf_die() with a one-line message naming the stream and byte offset.
 * A caller that must survive bad input (the server) sets ->die = 0 and
 * gets -1 back, with the message in cf_reader_error()/cf_writer_error().
 */
#ifndef CF_FRAME_H
#define CF_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CF_FRAME_VERSION 1
#define CF_ALIGN 64

typedef enum cf_type {
	CF_U8 = 1,
	CF_I32 = 2,
	CF_U32 = 3,
	CF_I64 = 4,
	CF_U64 = 5,
	CF_F32 = 6,
	CF_F64 = 7,
	CF_STR = 8,
} cf_type;

typedef struct cf_col {
	char *name;
	cf_type type;
	uint32_t width;         /* elements per row: 1, or k for f32[k] */
} cf_col;

typedef struct cf_attr {
	char *key;
	char *val;
} cf_attr;

typedef struct cf_schema {
	char *name;
	uint32_t ncols;
	cf_col *cols;
	uint32_t nattrs;
	cf_attr *attrs;
} cf_schema;

/*
 * A block as read: col[i] points at column i's nrows * width values; for a
 * CF_STR column it points at nrows + 1 uint32 offsets, and the bytes follow
 * them (use cf_str()).  The pointers stay valid until the next read call
 * (for an mmapped file, until the reader is closed).
 */
typedef struct cf_block {
	uint32_t nrows;
	uint32_t ncols;
	const void **col;
} cf_block;

/* A string column handed to the writer: off[0..nrows], bytes data[off[0]..]. */
typedef struct cf_strcol {
	const uint32_t *off;
	const char *data;
} cf_strcol;

/* ---- schemas ---- */

cf_schema *cf_schema_new(const char *name);
void cf_schema_free(cf_schema *s);
cf_schema *cf_schema_copy(const cf_schema *s);
/* Appends a column; returns its index. */
int cf_schema_add(cf_schema *s, const char *name, cf_type type, uint32_t width);
/* Sets (adds or replaces) an attribute. */
void cf_schema_set(cf_schema *s, const char *key, const char *val);
/* Column index by name, or -1. */
int cf_schema_col(const cf_schema *s, const char *name);
/* Attribute value by key, or NULL. */
const char *cf_schema_get(const cf_schema *s, const char *key);

const char *cf_type_name(cf_type t);
size_t cf_type_size(cf_type t);         /* 0 for CF_STR */

/* The i-th string of a CF_STR column of a block. */
static inline const char *
cf_str(const cf_block *b, int col, size_t row, size_t *len)
{
	const uint32_t *off = (const uint32_t *)b->col[col];
	const char *bytes = (const char *)(off + b->nrows + 1);

	*len = off[row + 1] - off[row];
	return bytes + off[row];
}

/* ---- reading ---- */

typedef struct cf_reader cf_reader;

/* Reads fd (a regular file is mmapped, anything else read()); name is for messages. */
cf_reader *cf_reader_open(int fd, const char *name);
/* Opens a path; dies (or returns NULL when die == 0 is not possible yet: always dies). */
cf_reader *cf_reader_open_path(const char *path);
void cf_reader_close(cf_reader *r);
void cf_reader_set_die(cf_reader *r, int die);
const char *cf_reader_error(const cf_reader *r);
const char *cf_reader_name(const cf_reader *r);
/* "empty input", or its longer form for a pipe (util.h's cf_empty_input). */
const char *cf_reader_empty(const cf_reader *r);
/* Byte offset of the next unread byte, for messages. */
uint64_t cf_reader_offset(const cf_reader *r);
/* Byte offset where the current (last read) table's header starts. */
uint64_t cf_reader_table_at(const cf_reader *r);

/*
 * Reads the next table header.  Returns 1 and sets *s (owned by the reader,
 * valid until the next cf_read_table) on success, 0 at a clean end of stream,
 * -1 on error.  Any unread blocks of the current table are skipped (and
 * still verified).
 */
int cf_read_table(cf_reader *r, const cf_schema **s);
/* Reads the next block of the current table: 1 with rows, 0 at its end, -1 on error. */
int cf_read_block(cf_reader *r, cf_block *b);
/* Rows read from the current table so far. */
uint64_t cf_reader_rows(const cf_reader *r);

/*
 * A whole table read into contiguous columns: numeric columns as arrays of
 * nrows * width; string columns as 64-bit offsets (nrows + 1) and bytes.
 * Zero-copy when the table is one block of an mmapped file.
 */
typedef struct cf_table {
	cf_schema *schema;
	uint64_t nrows;
	void **col;             /* numeric data, or the bytes of a string column */
	uint64_t **stroff;      /* per column: offsets for CF_STR, else NULL */
	unsigned char *owned;   /* per column: 1 if col[i] was allocated */
} cf_table;

/* Reads the rest of the current table (after cf_read_table). 0 or -1. */
int cf_read_all(cf_reader *r, cf_table *t);
void cf_table_free(cf_table *t);
static inline const char *
cf_table_str(const cf_table *t, int col, uint64_t row, size_t *len)
{
	const uint64_t *off = t->stroff[col];

	*len = (size_t)(off[row + 1] - off[row]);
	return (const char *)t->col[col] + off[row];
}

/*
 * Expects the next table to be named `want` (a table kind); on a clean end
 * of stream, a wrong name or an error, dies with one line saying so
 * (e.g. "stdin: expected a 'ratings' table, found 'movies'").
 */
const cf_schema *cf_expect_table(cf_reader *r, const char *want);

/*
 * Checks that the stream ends here, after the tables the caller needed
 * (unread blocks of the current table are skipped, and verified).
 * Returns 0 at a clean end of stream.  Anything more is an error, as the
 * reader reports one (it dies, or returns -1 with the message in
 * cf_reader_error()): another table, "NAME: byte N: a 'T' table after
 * AFTER" (N where that table starts), or bytes that are no table, the
 * reader's own message ("bad table magic: ..., or data after the last
 * table", or truncation), with their offset.
 */
int cf_read_end(cf_reader *r, const char *after);

/* ---- writing ---- */

typedef struct cf_writer cf_writer;

/* Writes to fp (stdout or a cf_outfile's stream); name is for messages. */
cf_writer *cf_writer_new(FILE *fp, const char *name);
void cf_writer_set_die(cf_writer *w, int die);
const char *cf_writer_error(const cf_writer *w);
/* Starts a table; ends the previous one if still open. */
int cf_write_table(cf_writer *w, const cf_schema *s);
/*
 * Writes one block of nrows rows.  cols[i] points at nrows * width values
 * of column i, or at a cf_strcol for a string column.
 */
int cf_write_block(cf_writer *w, uint32_t nrows, const void *const *cols);
/* Ends the current table (writes its end marker). */
int cf_write_end(cf_writer *w);
/* Ends any open table, flushes; frees w.  Does not close fp. */
int cf_writer_finish(cf_writer *w);

/*
 * Row-at-a-time builder on top of the writer: buffers rows column-wise and
 * writes a block every `block_rows` rows.  Used by programs that produce
 * rows one by one (csv2bin, split).
 */
typedef struct cf_rowbuf cf_rowbuf;
cf_rowbuf *cf_rowbuf_new(cf_writer *w, const cf_schema *s, uint32_t block_rows);
void cf_rowbuf_u32(cf_rowbuf *b, int col, uint32_t v);
void cf_rowbuf_i64(cf_rowbuf *b, int col, int64_t v);
void cf_rowbuf_f32(cf_rowbuf *b, int col, float v);
void cf_rowbuf_f64(cf_rowbuf *b, int col, double v);
void cf_rowbuf_str(cf_rowbuf *b, int col, const char *s, size_t len);
/* Copies width values of the column's type from p. */
void cf_rowbuf_raw(cf_rowbuf *b, int col, const void *p);
/* Ends the row; writes a block when full.  Returns 0 or -1. */
int cf_rowbuf_end_row(cf_rowbuf *b);
/* Writes the pending rows and the end marker; frees b. */
int cf_rowbuf_finish(cf_rowbuf *b);

/* Default rows per block written by the tools. */
#define CF_BLOCK_ROWS 65536

#endif
