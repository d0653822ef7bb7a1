/*
 * ufeat.c - user side features from a frame table (ufeat.h).
 */
#include "ufeat.h"

#include "frame.h"
#include "idmap.h"
#include "ids.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct cf_ufeat {
	char *path;
	cf_idmap *ids;                  /* canonical user id -> row */
	uint32_t nfeat;
	uint64_t *ptr;                  /* row r's features: idx[ptr[r] .. ptr[r+1]) */
	uint32_t *idx;
};

static int
fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The message, on one line; returns -1. */
static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	cf_oneline(err);
	return -1;
}

static int
is_int_type(cf_type t)
{
	return t == CF_U8 || t == CF_I32 || t == CF_U32 || t == CF_I64 || t == CF_U64;
}

/* Numeric cell r of column c as a double (integers exactly up to 2^53). */
static double
num_at(const cf_table *t, int c, uint64_t r)
{
	const void *p = t->col[c];

	switch (t->schema->cols[c].type) {
	case CF_U8: return ((const uint8_t *)p)[r];
	case CF_I32: return ((const int32_t *)p)[r];
	case CF_U32: return ((const uint32_t *)p)[r];
	case CF_I64: return (double)((const int64_t *)p)[r];
	case CF_U64: return (double)((const uint64_t *)p)[r];
	case CF_F32: return ((const float *)p)[r];
	case CF_F64: return ((const double *)p)[r];
	default: return NAN;
	}
}

/* The id of row r as text (an integer column's value in decimal). */
static const char *
id_at(const cf_table *t, int c, uint64_t r, char *buf, size_t len, size_t *n)
{
	cf_type ty = t->schema->cols[c].type;

	if (ty == CF_STR)
		return cf_table_str(t, c, r, n);
	if (ty == CF_I32 || ty == CF_I64)
		*n = (size_t)snprintf(buf, len, "%lld", (long long)num_at(t, c, r));
	else if (ty == CF_U64)
		*n = (size_t)snprintf(buf, len, "%llu",
		                      (unsigned long long)((const uint64_t *)t->col[c])[r]);
	else
		*n = (size_t)snprintf(buf, len, "%.0f", num_at(t, c, r));
	return buf;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * A str column whose non-empty values are all numbers (csv2bin makes
 * every column of a generic table a string: "24" is an age): 1 and the
 * values in x (NaN for ""), *integral if all are integers; else 0.
 */
static int
str_numbers(const cf_table *t, int c, double *x, int *integral)
{
	char buf[64];

	*integral = 1;
	for (uint64_t r = 0; r < t->nrows; r++) {
		size_t len;
		const char *s = cf_table_str(t, c, r, &len);
		char *end;
		if (len == 0) {
			x[r] = NAN;
			continue;
		}
		if (len >= sizeof buf)
			return 0;
		memcpy(buf, s, len);
		buf[len] = 0;
		x[r] = strtod(buf, &end);
		if (*end || end == buf || !isfinite(x[r]))
			return 0;
		*integral &= x[r] == floor(x[r]);
	}
	return 1;
}

/*
 * Levels of numbers x[0..n) into lev (NaN: UINT32_MAX): one per distinct
 * value if integral and few, else deciles by rank.  Returns the count.
 */
static uint32_t
num_levels(const double *x, uint64_t n, int integral, uint32_t *lev)
{
	double *v = cf_xmalloc((n + 1) * sizeof *v);
	uint64_t m = 0, distinct = 0;

	for (uint64_t r = 0; r < n; r++)
		if (!isnan(x[r]))
			v[m++] = x[r];
	qsort(v, m, sizeof *v, cmp_double);
	/* dr[j]: the distinct values below v[j] (the value's level if by value). */
	uint32_t *dr = cf_xmalloc((m + 1) * sizeof *dr);
	for (uint64_t j = 0; j < m; j++) {
		distinct += j > 0 && v[j] != v[j - 1];
		dr[j] = (uint32_t)distinct;
	}
	distinct += m > 0;
	int by_value = integral && distinct <= CF_UFEAT_MAX_LEVELS;
	uint32_t nl = 0;
	for (uint64_t r = 0; r < n; r++) {
		if (isnan(x[r])) {
			lev[r] = UINT32_MAX;
			continue;
		}
		/* Rank of the first value equal to x[r] (binary search). */
		uint64_t lo = 0, hi = m;
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo) / 2;
			if (v[mid] < x[r])
				lo = mid + 1;
			else
				hi = mid;
		}
		lev[r] = by_value ? dr[lo] : (uint32_t)(lo * 10 / m);
		nl = lev[r] + 1 > nl ? lev[r] + 1 : nl;
	}
	free(v);
	free(dr);
	return nl;
}

/*
 * Column c's level of every row into lev (UINT32_MAX: none); returns the
 * number of levels.  Strings: one per distinct value; numbers (or
 * strings that all are): num_levels().
 */
static uint32_t
levels(const cf_table *t, int c, uint32_t *lev)
{
	uint64_t n = t->nrows;
	double *x = cf_xmalloc((n + 1) * sizeof *x);
	cf_type ty = t->schema->cols[c].type;
	int integral = is_int_type(ty), numeric = ty != CF_STR;
	uint32_t m;

	if (ty == CF_STR)
		numeric = str_numbers(t, c, x, &integral);
	else
		for (uint64_t r = 0; r < n; r++)
			x[r] = num_at(t, c, r);
	if (numeric) {
		m = num_levels(x, n, integral, lev);
	} else {
		cf_idmap *vals = cf_idmap_new();
		for (uint64_t r = 0; r < n; r++) {
			size_t len;
			const char *s = cf_table_str(t, c, r, &len);
			int added;
			lev[r] = len ? cf_idmap_intern(vals, s, len, &added) : UINT32_MAX;
		}
		m = cf_idmap_count(vals);
		cf_idmap_free(vals);
	}
	free(x);
	return m;
}

/* The user column: userId, user or id; -1 (with the message) if none. */
static int
user_col(const cf_schema *s, const char *path, char *err, size_t errlen)
{
	static const char *names[] = {"userId", "user", "id"};

	for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
		for (uint32_t c = 0; c < s->ncols; c++)
			if (!strcasecmp(s->cols[c].name, names[j])) {
				cf_type ty = s->cols[c].type;
				if (ty != CF_STR && !is_int_type(ty))
					return fail(err, errlen, "%s: the '%s' table's user column '%s' is %s, "
					            "not str or an integer", path, s->name, s->cols[c].name,
					            cf_type_name(ty));
				return (int)c;
			}
	return fail(err, errlen, "%s: the '%s' table has no user column (userId, user or id)",
	            path, s->name);
}

/* Which columns to read: want[c] = 1; -1 with the message on a bad list. */
static int
pick_columns(const cf_schema *s, int uc, const char *columns, unsigned char *want,
             const char *path, char *err, size_t errlen)
{
	for (uint32_t c = 0; c < s->ncols; c++)
		want[c] = !columns && (int)c != uc;
	for (const char *p = columns; p && *p;) {
		size_t len = strcspn(p, ",");
		uint32_t c;
		for (c = 0; c < s->ncols; c++)
			if (strlen(s->cols[c].name) == len && !strncmp(s->cols[c].name, p, len))
				break;
		if (c == s->ncols || (int)c == uc)
			return fail(err, errlen, "%s: --user-columns: the '%s' table has no feature "
			            "column '%.*s'", path, s->name, (int)(len > 60 ? 60 : len), p);
		want[c] = 1;
		p += len + (p[len] == ',');
	}
	for (uint32_t c = 0; c < s->ncols; c++)
		if (want[c] && s->cols[c].width != 1)
			return fail(err, errlen, "%s: the '%s' table's column '%s' is a vector (%s[%u]): "
			            "not a user feature", path, s->name, s->cols[c].name,
			            cf_type_name(s->cols[c].type), s->cols[c].width);
	return 0;
}

/* Every string of the chosen columns valid UTF-8, the ids non-empty and unique. */
static int
check_rows(cf_ufeat *u, const cf_table *t, int uc, const unsigned char *want, char *err,
           size_t errlen)
{
	const cf_schema *s = t->schema;

	for (uint64_t r = 0; r < t->nrows; r++) {
		for (uint32_t c = 0; c < s->ncols; c++) {
			size_t len, bad;
			char shown[CF_UTF8_SHOW_SIZE(40)];
			if ((!want[c] && (int)c != uc) || s->cols[c].type != CF_STR)
				continue;
			const char *p = cf_table_str(t, (int)c, r, &len);
			if (!cf_utf8_valid(p, len, &bad))
				return fail(err, errlen, "%s: '%s' row %llu: invalid UTF-8 in column '%s', "
				            "byte %zu: %s", u->path, s->name, (unsigned long long)r + 1,
				            s->cols[c].name, bad + 1, cf_utf8_show(shown, p, len, 40));
		}
		char buf[32], *cb = NULL;
		size_t len;
		const char *id = id_at(t, uc, r, buf, sizeof buf, &len), *canon;
		if (len == 0)
			return fail(err, errlen, "%s: '%s' row %llu: empty user id", u->path, s->name,
			            (unsigned long long)r + 1);
		cb = cf_xmalloc(len + 2);
		size_t cl = cf_canon_id(id, len, cb, &canon);
		int added;
		cf_idmap_intern(u->ids, canon, cl, &added);
		free(cb);
		if (!added)
			return fail(err, errlen, "%s: '%s' row %llu: user '%.*s' repeated", u->path,
			            s->name, (unsigned long long)r + 1, (int)(len > 40 ? 40 : len), id);
	}
	return 0;
}

/* The rows' feature lists: the chosen columns' levels, offset per column. */
static void
build(cf_ufeat *u, const cf_table *t, const unsigned char *want)
{
	uint64_t n = t->nrows;
	uint32_t nc = t->schema->ncols;
	uint32_t *lev = cf_xmalloc((size_t)(n + 1) * nc * sizeof *lev);

	for (uint32_t c = 0; c < nc; c++) {
		uint32_t *l = lev + (size_t)c * n;
		if (!want[c])
			continue;
		uint32_t nl = levels(t, (int)c, l);
		for (uint64_t r = 0; r < n; r++)
			if (l[r] != UINT32_MAX)
				l[r] += u->nfeat;
		u->nfeat += nl;
	}
	u->ptr = cf_xcalloc(n + 1, sizeof *u->ptr);
	u->idx = cf_xmalloc(((size_t)n * nc + 1) * sizeof *u->idx);
	uint64_t m = 0;
	for (uint64_t r = 0; r < n; r++) {
		for (uint32_t c = 0; c < nc; c++)
			if (want[c] && lev[(size_t)c * n + r] != UINT32_MAX)
				u->idx[m++] = lev[(size_t)c * n + r];
		u->ptr[r + 1] = m;
	}
	free(lev);
}

static int
load_table(cf_ufeat *u, cf_reader *r, const char *columns, char *err, size_t errlen)
{
	const cf_schema *s;
	cf_table t;
	int rc = cf_read_table(r, &s), uc;

	if (rc < 0)
		return fail(err, errlen, "%s", cf_reader_error(r));
	if (rc == 0)
		return fail(err, errlen, "%s: empty input: expected a table of users", u->path);
	if ((uc = user_col(s, u->path, err, errlen)) < 0)
		return -1;
	unsigned char *want = cf_xcalloc(s->ncols + 1, 1);
	char name[128];
	snprintf(name, sizeof name, "%s", s->name);
	if (pick_columns(s, uc, columns, want, u->path, err, errlen) < 0) {
		free(want);
		return -1;
	}
	if (cf_read_all(r, &t) < 0) {
		free(want);
		return fail(err, errlen, "%s", cf_reader_error(r));
	}
	if (t.nrows == 0)
		rc = fail(err, errlen, "%s: the '%s' table has no rows", u->path, name);
	else if (t.nrows >= UINT32_MAX)
		rc = fail(err, errlen, "%s: the '%s' table has too many rows", u->path, name);
	else
		rc = check_rows(u, &t, uc, want, err, errlen);
	if (rc == 0)
		build(u, &t, want);
	cf_table_free(&t);
	free(want);
	return rc;
}

cf_ufeat *
cf_ufeat_load(const char *path, const char *columns, char *err, size_t errlen)
{
	static const unsigned char magic[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};
	unsigned char head[8];
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	ssize_t got = pread(fd, head, sizeof head, 0);
	if (got == (ssize_t)sizeof head && memcmp(head, magic, sizeof head) != 0) {
		close(fd);
		fail(err, errlen, "%s: not a frame: make one of a CSV with csv2bin (its --encoding "
		     "converts non-UTF-8 text)", path);
		return NULL;
	}
	cf_ufeat *u = cf_xcalloc(1, sizeof *u);
	u->path = cf_xstrdup(path);
	u->ids = cf_idmap_new();
	cf_reader *r = cf_reader_open(fd, path);
	cf_reader_set_die(r, 0);
	int rc = load_table(u, r, columns, err, errlen);
	cf_reader_close(r);     /* closes fd */
	if (rc < 0) {
		cf_ufeat_free(u);
		return NULL;
	}
	return u;
}

void
cf_ufeat_free(cf_ufeat *u)
{
	if (!u)
		return;
	free(u->path);
	cf_idmap_free(u->ids);
	free(u->ptr);
	free(u->idx);
	free(u);
}

uint32_t
cf_ufeat_count(const cf_ufeat *u)
{
	return u->nfeat;
}

uint32_t
cf_ufeat_find(const cf_ufeat *u, const char *id, size_t len)
{
	char small[64], *buf = len + 2 <= sizeof small ? small : cf_xmalloc(len + 2);
	const char *c;
	size_t n = cf_canon_id(id, len, buf, &c);
	uint32_t r = cf_idmap_find(u->ids, c, n);

	if (buf != small)
		free(buf);
	return r;
}

void
cf_ufeat_row(const cf_ufeat *u, uint32_t r, const uint32_t **idx, uint32_t *n)
{
	*idx = u->idx + u->ptr[r];
	*n = (uint32_t)(u->ptr[r + 1] - u->ptr[r]);
}

const char *
cf_ufeat_path(const cf_ufeat *u)
{
	return u->path;
}
