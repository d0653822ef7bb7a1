/*
 * ratings.c - a ratings set in memory (see ratings.h): reading a raw or
 * encoded `ratings` table into compact arrays, and writing any subset of
 * its rows back as an encoded stream with the full dictionaries.
 */
#include "ratings.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Row numbers are u32 (cf_ratings_write's rows[]); keep UINT32_MAX free. */
#define MAX_ROWS ((size_t)UINT32_MAX - 1)

static void
reserve(cf_ratings *rs, size_t need)
{
	size_t c = rs->cap;

	if (need <= c)
		return;
	if (need > MAX_ROWS)
		cf_die("more than %zu ratings: too many to hold in memory", MAX_ROWS);
	if (c < 1024)
		c = 1024;
	/*
	 * Grow by half: realloc of large arrays is mremap on glibc, so the
	 * copy costs nothing and the peak stays near 20 bytes a row.
	 */
	while (c < need)
		c += c / 2;
	if (c > MAX_ROWS)
		c = MAX_ROWS;
	rs->user = cf_xrealloc(rs->user, c * sizeof *rs->user);
	rs->item = cf_xrealloc(rs->item, c * sizeof *rs->item);
	rs->rating = cf_xrealloc(rs->rating, c * sizeof *rs->rating);
	if (rs->has_ts)
		rs->ts = cf_xrealloc(rs->ts, c * sizeof *rs->ts);
	rs->cap = c;
}

void
cf_ratings_init(cf_ratings *rs, int has_ts)
{
	memset(rs, 0, sizeof *rs);
	rs->has_ts = has_ts;
	rs->users = cf_idmap_new();
	rs->items = cf_idmap_new();
	rs->attrs = cf_schema_new("ratings");
}

void
cf_ratings_add(cf_ratings *rs, uint32_t u, uint32_t i, float rating, int64_t ts)
{
	reserve(rs, rs->n + 1);
	rs->user[rs->n] = u;
	rs->item[rs->n] = i;
	rs->rating[rs->n] = rating;
	if (rs->has_ts)
		rs->ts[rs->n] = ts;
	rs->n++;
}

void
cf_ratings_free(cf_ratings *rs)
{
	free(rs->user);
	free(rs->item);
	free(rs->rating);
	free(rs->ts);
	cf_idmap_free(rs->users);
	cf_idmap_free(rs->items);
	cf_schema_free(rs->attrs);
	memset(rs, 0, sizeof *rs);
}

/* ---------------------------------------------------------------- reading */

/* Dies with "stream: byte N: 'ratings' table: ..." for a bad column. */
static void
badcol(cf_reader *r, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

static void
badcol(cf_reader *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cf_die("%s: byte %llu: 'ratings' table: %s", cf_reader_name(r),
	       (unsigned long long)cf_reader_offset(r), msg);
}

static int
need_col(cf_reader *r, const cf_schema *s, const char *name)
{
	int c = cf_schema_col(s, name);

	if (c < 0)
		badcol(r, "no '%s' column", name);
	if (s->cols[c].width != 1)
		badcol(r, "column '%s' is a vector, expected a scalar", name);
	return c;
}

int
cf_ratings_schema(cf_reader *r, const cf_schema *s)
{
	int u = need_col(r, s, "user"), i = need_col(r, s, "item");
	int v = need_col(r, s, "rating"), t = cf_schema_col(s, "timestamp");
	cf_type ut = s->cols[u].type, it = s->cols[i].type;

	if (ut != CF_STR && ut != CF_U32)
		badcol(r, "column 'user' is %s, expected str or u32", cf_type_name(ut));
	if (it != CF_STR && it != CF_U32)
		badcol(r, "column 'item' is %s, expected str or u32", cf_type_name(it));
	if (ut != it)
		badcol(r, "column 'user' is %s but 'item' is %s: both raw or both encoded",
		       cf_type_name(ut), cf_type_name(it));
	if (s->cols[v].type != CF_F32)
		badcol(r, "column 'rating' is %s, expected f32", cf_type_name(s->cols[v].type));
	if (t >= 0 && (s->cols[t].type != CF_I64 || s->cols[t].width != 1))
		badcol(r, "column 'timestamp' is %s, expected i64", cf_type_name(s->cols[t].type));
	return ut == CF_U32;
}

static void
take_attrs(cf_ratings *rs, const cf_schema *s)
{
	const char *lo, *hi;

	/*
	 * rs->attrs is empty and s's keys are unique: a copy without the
	 * columns, as a cf_schema_set per attribute is quadratic in their
	 * number (a header may hold millions; found by fuzzing).
	 */
	cf_schema_free(rs->attrs);
	rs->attrs = cf_schema_copy(s);
	for (uint32_t k = 0; k < rs->attrs->ncols; k++)
		free(rs->attrs->cols[k].name);
	free(rs->attrs->cols);
	rs->attrs->cols = NULL;
	rs->attrs->ncols = 0;
	lo = cf_schema_get(rs->attrs, "rating_min");
	hi = cf_schema_get(rs->attrs, "rating_max");
	rs->has_scale = lo && hi && cf_parse_double(lo, &rs->rating_min) == 0 &&
	                cf_parse_double(hi, &rs->rating_max) == 0;
	rs->dups = cf_schema_get(rs->attrs, "dups");
}

static void
load_dict(cf_reader *r, const cf_schema *s, cf_idmap *m)
{
	int c = cf_schema_col(s, "id");
	cf_block b;
	uint64_t row = 0;

	if (c < 0 || s->cols[c].type != CF_STR)
		cf_die("%s: byte %llu: '%s' table: expected an 'id' column of type str",
		       cf_reader_name(r), (unsigned long long)cf_reader_offset(r), s->name);
	while (cf_read_block(r, &b) == 1) {
		for (uint32_t k = 0; k < b.nrows; k++, row++) {
			size_t len;
			const char *id = cf_str(&b, c, k, &len);
			int added = 0;
			cf_idmap_intern(m, id, len, &added);
			/* A repeated id would make two indices name one user. */
			if (!added)
				cf_die("%s: '%s' table row %llu: duplicate id '%.*s'",
				       cf_reader_name(r), s->name, (unsigned long long)row,
				       (int)(len > 64 ? 64 : len), id);
		}
	}
}

/*
 * After an encoded ratings table: finds and loads its users and items
 * tables, in either order.  Other tables in between are skipped, or, when
 * strict, an error.
 */
static int
read_dicts(cf_reader *r, cf_ratings *rs, int strict)
{
	int have_u = 0, have_i = 0;
	const cf_schema *s;

	while (!(have_u && have_i)) {
		int rc = cf_read_table(r, &s);
		if (rc < 0)
			return -1;      /* a reader that does not die: its message */
		if (rc == 0)
			cf_die("%s: byte %llu: stream ended: expected the '%s' table of the "
			       "encoded ratings", cf_reader_name(r),
			       (unsigned long long)cf_reader_offset(r), have_u ? "items" : "users");
		if (!have_u && strcmp(s->name, "users") == 0) {
			load_dict(r, s, rs->users);
			have_u = 1;
		} else if (!have_i && strcmp(s->name, "items") == 0) {
			load_dict(r, s, rs->items);
			have_i = 1;
		} else if (strict) {
			cf_die("%s: byte %llu: expected the '%s' table of the encoded ratings, "
			       "found '%s'", cf_reader_name(r),
			       (unsigned long long)cf_reader_offset(r), have_u ? "items" : "users",
			       s->name);
		}
		/* Any other table is skipped by the next cf_read_table. */
	}
	return 0;
}

static void
check_indices(cf_reader *r, const cf_ratings *rs)
{
	uint32_t nu = cf_idmap_count(rs->users), ni = cf_idmap_count(rs->items);

	for (size_t k = 0; k < rs->n; k++) {
		if (rs->user[k] >= nu)
			cf_die("%s: 'ratings' row %zu: user index %u out of range "
			       "(the 'users' table has %u ids)", cf_reader_name(r), k,
			       rs->user[k], nu);
		if (rs->item[k] >= ni)
			cf_die("%s: 'ratings' row %zu: item index %u out of range "
			       "(the 'items' table has %u ids)", cf_reader_name(r), k,
			       rs->item[k], ni);
	}
}

/*
 * Interns the string ids of one block.  Ratings files are usually sorted
 * by user, so the previous row's user is checked first: a memcmp instead
 * of a hash lookup for most rows.
 */
void
cf_encode_strcol(const cf_block *b, int c, cf_idmap *m, uint32_t *dst)
{
	const char *prev = NULL;
	size_t prevlen = 0;
	uint32_t previdx = 0;

	for (uint32_t k = 0; k < b->nrows; k++) {
		size_t len;
		const char *id = cf_str(b, c, k, &len);
		if (prev && len == prevlen && memcmp(id, prev, len) == 0) {
			dst[k] = previdx;
			continue;
		}
		dst[k] = previdx = cf_idmap_intern(m, id, len, NULL);
		prev = id;
		prevlen = len;
	}
}

static int
read_ratings(cf_reader *r, cf_ratings *out, int strict)
{
	const cf_schema *s = cf_expect_table(r, "ratings");
	int enc = cf_ratings_schema(r, s);
	int cu = cf_schema_col(s, "user"), ci = cf_schema_col(s, "item");
	int cv = cf_schema_col(s, "rating"), ct = cf_schema_col(s, "timestamp");
	cf_block b;
	int rc;

	cf_ratings_init(out, ct >= 0);
	take_attrs(out, s);
	while ((rc = cf_read_block(r, &b)) == 1) {
		size_t n = out->n;
		reserve(out, n + b.nrows);
		if (enc) {
			memcpy(out->user + n, b.col[cu], (size_t)b.nrows * 4);
			memcpy(out->item + n, b.col[ci], (size_t)b.nrows * 4);
		} else {
			cf_encode_strcol(&b, cu, out->users, out->user + n);
			cf_encode_strcol(&b, ci, out->items, out->item + n);
		}
		memcpy(out->rating + n, b.col[cv], (size_t)b.nrows * 4);
		if (ct >= 0)
			memcpy(out->ts + n, b.col[ct], (size_t)b.nrows * 8);
		out->n = n + b.nrows;
	}
	if (rc < 0)
		return -1;
	if (enc) {
		if (read_dicts(r, out, strict) < 0)
			return -1;
		check_indices(r, out);
	}
	if (strict && cf_read_end(r, enc ? "the ratings and their 'users' and 'items' "
	                          "dictionaries: " CF_RATINGS_ONE :
	                          "the 'ratings' table: " CF_RATINGS_ONE) < 0)
		return -1;
	return 0;
}

int
cf_ratings_read(cf_reader *r, cf_ratings *out)
{
	return read_ratings(r, out, 0);
}

int
cf_ratings_read_input(cf_reader *r, cf_ratings *out)
{
	return read_ratings(r, out, 1);
}

/* ---------------------------------------------------------------- writing */

int
cf_ratings_write_dict(cf_writer *w, const char *name, const cf_idmap *m)
{
	cf_schema *s = cf_schema_new(name);
	uint32_t n = cf_idmap_count(m);
	cf_rowbuf *rb;
	int rc = 0;

	cf_schema_add(s, "id", CF_STR, 1);
	rb = cf_rowbuf_new(w, s, CF_BLOCK_ROWS);
	for (uint32_t k = 0; k < n && rc == 0; k++) {
		size_t len;
		const char *id = cf_idmap_id(m, k, &len);
		cf_rowbuf_str(rb, 0, id, len);
		rc = cf_rowbuf_end_row(rb);
	}
	if (cf_rowbuf_finish(rb) < 0)
		rc = -1;
	cf_schema_free(s);
	return rc;
}

/*
 * The one writer behind both entry points: rows come from rows[] if given,
 * else from the mask (every row when mask is NULL too).
 */
static int
write_rows(cf_writer *w, const cf_ratings *rs, const uint32_t *rows, size_t nrows,
           const unsigned char *mask, unsigned char want)
{
	cf_schema *s = cf_schema_copy(rs->attrs);
	uint32_t *u = cf_xmalloc(CF_BLOCK_ROWS * sizeof *u);
	uint32_t *it = cf_xmalloc(CF_BLOCK_ROWS * sizeof *it);
	float *v = cf_xmalloc(CF_BLOCK_ROWS * sizeof *v);
	int64_t *t = rs->has_ts ? cf_xmalloc(CF_BLOCK_ROWS * sizeof *t) : NULL;
	const void *cols[4] = {u, it, v, t};
	size_t end = rows ? nrows : rs->n;
	uint32_t k = 0;
	int rc;

	/* Columns in the contract's order; the input's attributes, kept. */
	cf_schema_add(s, "user", CF_U32, 1);
	cf_schema_add(s, "item", CF_U32, 1);
	cf_schema_add(s, "rating", CF_F32, 1);
	if (rs->has_ts)
		cf_schema_add(s, "timestamp", CF_I64, 1);
	cf_schema_set(s, "encoded", "1");
	rc = cf_write_table(w, s);
	for (size_t j = 0; j < end && rc == 0; j++) {
		size_t i = rows ? rows[j] : j;
		if (!rows && mask && mask[i] != want)
			continue;
		if (i >= rs->n)
			cf_die("cf_ratings_write: row %zu of %zu (a bug)", i, rs->n);
		u[k] = rs->user[i];
		it[k] = rs->item[i];
		v[k] = rs->rating[i];
		if (t)
			t[k] = rs->ts[i];
		if (++k == CF_BLOCK_ROWS) {
			rc = cf_write_block(w, k, cols);
			k = 0;
		}
	}
	if (rc == 0 && k > 0)
		rc = cf_write_block(w, k, cols);
	if (rc == 0)
		rc = cf_write_end(w);
	if (rc == 0)
		rc = cf_ratings_write_dict(w, "users", rs->users);
	if (rc == 0)
		rc = cf_ratings_write_dict(w, "items", rs->items);
	free(u);
	free(it);
	free(v);
	free(t);
	cf_schema_free(s);
	return rc;
}

int
cf_ratings_write(cf_writer *w, const cf_ratings *rs, const uint32_t *rows, size_t nrows)
{
	return write_rows(w, rs, rows, nrows, NULL, 0);
}

int
cf_ratings_write_mask(cf_writer *w, const cf_ratings *rs, const unsigned char *mask,
                      unsigned char want)
{
	return write_rows(w, rs, NULL, 0, mask, want);
}
