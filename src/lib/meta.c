/*
 * meta.c - movie metadata in memory (see meta.h).
 *
 * Every string lives in one arena; a movie's record holds offsets into it
 * (so the arena can grow), and an idmap gives the record of an id.
 * Loading reports errors up the call chain (-1, the message in the
 * loader's buffer); cf_meta_load_movies() and _links() die with it.
 */
#include "meta.h"

#include "csv.h"
#include "frame.h"
#include "idmap.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct rec {
	uint64_t off[4];        /* title, genres, imdb, tmdb */
	uint32_t len[4];
	int year;
	unsigned char in_movies, in_links;
};

enum { S_TITLE, S_GENRES, S_IMDB, S_TMDB };

struct cf_meta {
	cf_idmap *ids;
	struct rec *rec;
	size_t cap;
	char *bytes;
	size_t nbytes, bcap;
};

cf_meta *
cf_meta_new(void)
{
	cf_meta *m = cf_xcalloc(1, sizeof *m);

	m->ids = cf_idmap_new();
	m->bcap = 64;           /* never NULL: empty strings point into it */
	m->bytes = cf_xmalloc(m->bcap);
	return m;
}

void
cf_meta_free(cf_meta *m)
{
	if (!m)
		return;
	cf_idmap_free(m->ids);
	free(m->rec);
	free(m->bytes);
	free(m);
}

uint32_t
cf_meta_count(const cf_meta *m)
{
	return cf_idmap_count(m->ids);
}

void
cf_meta_get(const cf_meta *m, uint32_t i, cf_movie *out)
{
	const struct rec *r = &m->rec[i];
	const char *b = m->bytes;

	out->id = cf_idmap_id(m->ids, i, &out->id_len);
	out->in_movies = r->in_movies;
	out->in_links = r->in_links;
	out->title = b + r->off[S_TITLE];
	out->title_len = r->len[S_TITLE];
	out->genres = b + r->off[S_GENRES];
	out->genres_len = r->len[S_GENRES];
	out->year = r->year;
	out->imdb = b + r->off[S_IMDB];
	out->imdb_len = r->len[S_IMDB];
	out->tmdb = b + r->off[S_TMDB];
	out->tmdb_len = r->len[S_TMDB];
}

int
cf_meta_find(const cf_meta *m, const char *id, size_t len, cf_movie *out)
{
	char small[64], *buf = len + 2 <= sizeof small ? small : cf_xmalloc(len + 2);
	const char *c;
	size_t n = cf_canon_id(id, len, buf, &c);
	uint32_t i = cf_idmap_find(m->ids, c, n);

	if (buf != small)
		free(buf);
	if (i == UINT32_MAX)
		return 0;
	cf_meta_get(m, i, out);
	return 1;
}

/* ---------------------------------------------------------------- helpers */

int
cf_title_year(const char *t, size_t n)
{
	int y = 0;

	while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
		n--;
	if (n < 6 || t[n - 1] != ')' || t[n - 6] != '(')
		return 0;
	for (size_t i = n - 5; i < n - 1; i++) {
		if (t[i] < '0' || t[i] > '9')
			return 0;
		y = y * 10 + (t[i] - '0');
	}
	return y;
}

int
cf_genre_next(const char *list, size_t len, size_t *pos, const char **g, size_t *glen)
{
	const char *bar;
	size_t end;

	if (len == 0 || *pos > len)
		return 0;
	bar = memchr(list + *pos, '|', len - *pos);
	end = bar ? (size_t)(bar - list) : len;
	*g = list + *pos;
	*glen = end - *pos;
	*pos = end + 1;
	return 1;
}

size_t
cf_utf8_width(const char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xC0) != 0x80;
	return w;
}

/* ---------------------------------------------------------------- loading */

/* One load: the file, its kind and where an error's message goes. */
struct load {
	cf_meta *m;
	const struct kind *k;
	const char *path;
	char *err;
	size_t errlen;
};

static int
lfail(struct load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the message (one line) and returns -1. */
static int
lfail(struct load *l, const char *fmt, ...)
{
	va_list ap;

	if (l->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	cf_oneline(l->err);
	return -1;
}

static uint64_t
put(cf_meta *m, const char *p, size_t n)
{
	uint64_t at = m->nbytes;

	cf_grow((void **)&m->bytes, &m->bcap, m->nbytes + n + 1, 1);
	if (n)
		memcpy(m->bytes + at, p, n);
	m->nbytes += n;
	return at;
}

/* The record of id, added if new; *added says so. */
static struct rec *
record(cf_meta *m, const char *id, size_t len, int *added)
{
	char small[64], *buf = len + 2 <= sizeof small ? small : cf_xmalloc(len + 2);
	const char *c;
	size_t n = cf_canon_id(id, len, buf, &c);
	uint32_t i = cf_idmap_intern(m->ids, c, n, added);

	if (buf != small)
		free(buf);
	if (*added) {
		cf_grow((void **)&m->rec, &m->cap, (size_t)i + 1, sizeof *m->rec);
		memset(&m->rec[i], 0, sizeof m->rec[i]);
	}
	return &m->rec[i];
}

/* What a file holds: its kind, and the names its three columns go by. */
struct kind {
	const char *table;              /* frame table name */
	const char *names[3][4];        /* per column: accepted header names */
	const char *want;               /* for messages */
	const char *what[3];            /* the columns, for messages */
};

static const struct kind movies_kind = {
	"movies",
	{{"movieId", "item", "id", NULL}, {"title", NULL}, {"genres", NULL}},
	"movieId, title, genres",
	{"the movie id", "the title", "the genres"},
};
static const struct kind links_kind = {
	"links",
	{{"movieId", "item", "id", NULL}, {"imdbId", "imdb", NULL}, {"tmdbId", "tmdb", NULL}},
	"movieId, imdbId, tmdbId",
	{"the movie id", "imdbId", "tmdbId"},
};

static int
col_role(const struct kind *k, const char *p, size_t n)
{
	for (int c = 0; c < 3; c++)
		for (int j = 0; k->names[c][j]; j++)
			if (strlen(k->names[c][j]) == n && strncasecmp(p, k->names[c][j], n) == 0)
				return c;
	return -1;
}

/*
 * Stores one row: f[0] the id, f[1], f[2] the kind's other two columns.
 * where is the message prefix up to the line or row number.  -1 on a bad
 * row: an empty or repeated id, a string that is not UTF-8.
 */
static int
store(struct load *l, const char *const f[3], const size_t n[3], const char *where,
      unsigned long long at)
{
	const struct kind *k = l->k;
	int added, movies = k == &movies_kind;
	struct rec *r;
	int a = movies ? S_TITLE : S_IMDB, b = movies ? S_GENRES : S_TMDB;

	if (n[0] == 0)
		return lfail(l, "%s%llu: empty movie id", where, at);
	for (int c = 0; c < 3; c++) {
		size_t bad;
		char shown[CF_UTF8_SHOW_SIZE(40)];
		if (!cf_utf8_valid(f[c], n[c], &bad))
			return lfail(l, "%s%llu: invalid UTF-8 in %s, byte %zu: %s (convert the "
			             "file to UTF-8: iconv, or csv2bin --encoding)", where, at,
			             k->what[c], bad + 1, cf_utf8_show(shown, f[c], n[c], 40));
	}
	r = record(l->m, f[0], n[0], &added);
	if (movies ? r->in_movies : r->in_links)
		return lfail(l, "%s%llu: duplicate movie id '%.*s'", where, at,
		             (int)(n[0] > 40 ? 40 : n[0]), f[0]);
	if (n[1] > UINT32_MAX || n[2] > UINT32_MAX)
		return lfail(l, "%s%llu: field longer than 4 GiB", where, at);
	r->off[a] = put(l->m, f[1], n[1]);
	r->len[a] = (uint32_t)n[1];
	r->off[b] = put(l->m, f[2], n[2]);
	r->len[b] = (uint32_t)n[2];
	if (movies) {
		r->year = cf_title_year(f[1], n[1]);
		r->in_movies = 1;
	} else {
		r->in_links = 1;
	}
	return 0;
}

/* The frame's table must be the kind's: 0, or -1 as cf_expect_table() would say. */
static int
expect_table(struct load *l, cf_reader *r, const cf_schema **s)
{
	int rc = cf_read_table(r, s);

	if (rc < 0)
		return lfail(l, "%s", cf_reader_error(r));
	if (rc == 0 && cf_reader_offset(r) == 0)
		return lfail(l, "%s: empty input: expected a '%s' table", l->path, l->k->table);
	if (rc == 0)
		return lfail(l, "%s: byte %llu: stream ended: expected a '%s' table", l->path,
		             (unsigned long long)cf_reader_offset(r), l->k->table);
	if (strcmp((*s)->name, l->k->table) != 0)
		return lfail(l, "%s: byte %llu: expected a '%s' table, found '%s'", l->path,
		             (unsigned long long)cf_reader_offset(r), l->k->table, (*s)->name);
	return 0;
}

static int
load_frame(struct load *l, int fd, size_t *rows)
{
	const struct kind *k = l->k;
	cf_reader *r = cf_reader_open(fd, l->path);
	const cf_schema *s;
	int col[3], rc = 0, bad = 0;    /* bad: the message is written */
	cf_block b;
	char where[512];

	cf_reader_set_die(r, 0);
	bad = expect_table(l, r, &s) != 0;
	snprintf(where, sizeof where, "%s: '%s' row ", l->path, k->table);
	for (int c = 0; c < 3 && !bad; c++) {
		col[c] = -1;
		for (int j = 0; k->names[c][j] && col[c] < 0; j++)
			col[c] = cf_schema_col(s, k->names[c][j]);
		if (col[c] < 0 || s->cols[col[c]].type != CF_STR)
			bad = lfail(l, "%s: the '%s' table has no str column '%s' (want %s)",
			            l->path, k->table, k->names[c][1] ? k->names[c][1] :
			            k->names[c][0], k->want) != 0;
	}
	while (!bad && (rc = cf_read_block(r, &b)) == 1) {
		for (uint32_t i = 0; i < b.nrows && !bad; i++) {
			const char *f[3];
			size_t n[3];
			for (int c = 0; c < 3; c++)
				f[c] = cf_str(&b, col[c], i, &n[c]);
			bad = store(l, f, n, where, *rows) != 0;
			*rows += !bad;
		}
	}
	if (!bad && rc < 0)
		bad = lfail(l, "%s", cf_reader_error(r)) != 0;
	if (!bad && *rows == 0)
		bad = lfail(l, "%s: the '%s' table has no rows: no %s", l->path, k->table,
		            k->table) != 0;
	cf_reader_close(r);     /* closes fd */
	return bad ? -1 : 0;
}

/* [+-]?digits: a record that starts so has no header row. */
static int
is_int(const char *p, size_t n)
{
	size_t i = n && (p[0] == '+' || p[0] == '-');

	if (i == n)
		return 0;
	for (; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return 0;
	return 1;
}

/* UTF-16 or CR-only line ends: -1 with a message that says so, else 0. */
static int
check_text(struct load *l, cf_csv *c)
{
	int what = cf_csv_sniff(c);

	if (what == CF_CSV_TEXT_OK)
		return 0;
	if (what == CF_CSV_CR_ONLY)
		return lfail(l, "%s: line 1: %s: convert them to LF (tr '\\r' '\\n')", l->path,
		             cf_csv_sniff_name(what));
	return lfail(l, "%s: line 1: %s: convert it (iconv -f %s -t utf-8, or csv2bin "
	             "--encoding %s)", l->path, cf_csv_sniff_name(what),
	             cf_csv_sniff_encoding(what), cf_csv_sniff_encoding(what));
}

/*
 * The header (or, if the first record has no known column name and starts
 * with an id, positional columns): col[] and the field count *need; 1 if
 * the record was a header, 0 if it is the first row, -1 on an error.
 */
static int
header(struct load *l, const cf_csv_rec *rec, int col[3], size_t *need)
{
	const struct kind *k = l->k;
	int seen[3] = {0, 0, 0}, any = 0;

	for (size_t j = 0; j < rec->nfields && j < CF_CSV_MAX_FIELDS; j++) {
		int role = col_role(k, rec->f[j].p, rec->f[j].len);
		if (role >= 0 && !seen[role]) {
			seen[role] = 1;
			col[role] = (int)j;
			any = 1;
		}
	}
	if (any) {
		for (int j = 0; j < 3; j++)
			if (!seen[j])
				return lfail(l, "%s: line %llu: the header has no '%s' column (want %s)",
				             l->path, (unsigned long long)rec->line, k->names[j][0],
				             k->want);
		*need = rec->nfields;
		return 1;
	}
	/* No header: a first field that is an id means positional columns. */
	if (rec->nfields != 3 || !is_int(rec->f[0].p, rec->f[0].len))
		return lfail(l, "%s: line %llu: expected a header row naming %s", l->path,
		             (unsigned long long)rec->line, k->want);
	*need = 3;
	return 0;
}

static int
read_csv(struct load *l, cf_csv *c, size_t *rows)
{
	cf_csv_rec rec;
	const char *line, *d = ",";
	size_t len, need = 0;
	int col[3] = {0, 1, 2}, first = 1, headed = 0;
	char where[512];

	if (check_text(l, c) != 0)
		return -1;
	if (cf_csv_peek_line(c, &line, &len))
		d = cf_csv_guess_delim(line, len);
	cf_csv_set_delim(c, d, strlen(d));
	if (strcmp(d, "::") == 0)
		cf_csv_set_quotes(c, 0);        /* MovieLens' .dat files do not quote */
	snprintf(where, sizeof where, "%s: line ", l->path);
	while (cf_csv_next(c, &rec)) {
		const char *f[3];
		size_t n[3];

		if (rec.err)
			return lfail(l, "%s: line %llu: %s", l->path, (unsigned long long)rec.line,
			             rec.err);
		if (first) {
			first = 0;
			if ((headed = header(l, &rec, col, &need)) < 0)
				return -1;
			if (headed)
				continue;
		}
		if (rec.nfields != need)
			return lfail(l, "%s: line %llu: expected %zu fields, found %zu", l->path,
			             (unsigned long long)rec.line, need, rec.nfields);
		for (int j = 0; j < 3; j++) {
			f[j] = rec.f[col[j]].p;
			n[j] = rec.f[col[j]].len;
		}
		if (store(l, f, n, where, rec.line) != 0)
			return -1;
		(*rows)++;
	}
	if (cf_csv_error(c))
		return lfail(l, "%s", cf_csv_error(c));
	if (first)
		return lfail(l, "%s: empty file: expected a header naming %s, then %s",
		             l->path, l->k->want, l->k->table);
	if (*rows == 0)
		return lfail(l, "%s: no %s: the header is followed by no rows", l->path,
		             l->k->table);
	return 0;
}

static int
load_csv(struct load *l, int fd, size_t *rows)
{
	cf_csv *c = cf_csv_new(fd, l->path);
	int rc;

	cf_csv_set_die(c, 0);
	rc = read_csv(l, c, rows);
	cf_csv_free(c);
	close(fd);
	return rc;
}

/* Copies the rest of fd (a pipe) to a temp file; returns its fd (at 0), or -1. */
static int
spool(struct load *l, int fd)
{
	FILE *tmp = tmpfile();
	char buf[1 << 16];
	ssize_t r;
	int out;

	if (!tmp)
		return lfail(l, "%s: temp file: %s", l->path, strerror(errno));
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lfail(l, "%s: %s", l->path, strerror(errno));
			fclose(tmp);
			return -1;
		}
		if (fwrite(buf, 1, (size_t)r, tmp) != (size_t)r) {
			lfail(l, "%s: temp file: %s", l->path, strerror(errno));
			fclose(tmp);
			return -1;
		}
	}
	if (fflush(tmp) != 0) {
		lfail(l, "%s: temp file: %s", l->path, strerror(errno));
		fclose(tmp);
		return -1;
	}
	out = dup(fileno(tmp));
	fclose(tmp);
	if (out < 0 || lseek(out, 0, SEEK_SET) != 0) {
		lfail(l, "%s: temp file: %s", l->path, strerror(errno));
		if (out >= 0)
			close(out);
		return -1;
	}
	return out;
}

/*
 * Opens path and tells a frame (starts with the table magic) from text.
 * Input that cannot be peeked at in place (a pipe) is copied to a temp
 * file first.  Returns the fd, or -1.
 */
static int
open_peek(struct load *l, int *frame)
{
	static const unsigned char magic[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};
	unsigned char head[8];
	struct stat st;
	ssize_t got;
	int fd = open(l->path, O_RDONLY);

	if (fd < 0)
		return lfail(l, "%s: %s", l->path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		lfail(l, "%s: %s", l->path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		int t = spool(l, fd);
		close(fd);
		if ((fd = t) < 0)
			return -1;
	}
	got = pread(fd, head, sizeof head, 0);
	if (got < 0) {
		lfail(l, "%s: %s", l->path, strerror(errno));
		close(fd);
		return -1;
	}
	*frame = got == (ssize_t)sizeof head && memcmp(head, magic, sizeof head) == 0;
	return fd;
}

static int
load(cf_meta *m, const struct kind *k, const char *path, size_t *rows, char *err,
     size_t errlen)
{
	struct load l = {m, k, path, err, errlen};
	size_t n = 0;
	int frame = 0, fd, rc;

	if (errlen)
		err[0] = '\0';
	if ((fd = open_peek(&l, &frame)) < 0)
		rc = -1;
	else
		rc = frame ? load_frame(&l, fd, &n) : load_csv(&l, fd, &n);
	if (rows)
		*rows = n;
	return rc;
}

int
cf_meta_read_movies(cf_meta *m, const char *path, size_t *rows, char *err, size_t errlen)
{
	return load(m, &movies_kind, path, rows, err, errlen);
}

int
cf_meta_read_links(cf_meta *m, const char *path, size_t *rows, char *err, size_t errlen)
{
	return load(m, &links_kind, path, rows, err, errlen);
}

size_t
cf_meta_load_movies(cf_meta *m, const char *path)
{
	char err[1024];
	size_t rows;

	if (cf_meta_read_movies(m, path, &rows, err, sizeof err) != 0)
		cf_die("%s", err);
	return rows;
}

size_t
cf_meta_load_links(cf_meta *m, const char *path)
{
	char err[1024];
	size_t rows;

	if (cf_meta_read_links(m, path, &rows, err, sizeof err) != 0)
		cf_die("%s", err);
	return rows;
}
