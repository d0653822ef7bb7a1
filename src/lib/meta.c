/*
 * meta.c - movie metadata in memory (see meta.h).
 *
 * Every string lives in one arena; a movie's record holds offsets into it
 * (so the arena can grow), and an idmap gives the record of an id.
 */
#include "meta.h"

#include "csv.h"
#include "frame.h"
#include "idmap.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
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
};

static const struct kind movies_kind = {
	"movies",
	{{"movieId", "item", "id", NULL}, {"title", NULL}, {"genres", NULL}},
	"movieId, title, genres",
};
static const struct kind links_kind = {
	"links",
	{{"movieId", "item", "id", NULL}, {"imdbId", "imdb", NULL}, {"tmdbId", "tmdb", NULL}},
	"movieId, imdbId, tmdbId",
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
 * Stores one row: f[0] the id (not empty), f[1], f[2] the kind's other two
 * columns.  where is the message prefix up to the line or row number.
 */
static void
store(cf_meta *m, const struct kind *k, const char *const f[3], const size_t n[3],
      const char *where, unsigned long long at)
{
	int added, movies = k == &movies_kind;
	struct rec *r = record(m, f[0], n[0], &added);
	int a = movies ? S_TITLE : S_IMDB, b = movies ? S_GENRES : S_TMDB;

	if (movies ? r->in_movies : r->in_links)
		cf_die("%s%llu: duplicate movie id '%.*s'", where, at,
		       (int)(n[0] > 40 ? 40 : n[0]), f[0]);
	if (n[1] > UINT32_MAX || n[2] > UINT32_MAX)
		cf_die("%s%llu: field longer than 4 GiB", where, at);
	r->off[a] = put(m, f[1], n[1]);
	r->len[a] = (uint32_t)n[1];
	r->off[b] = put(m, f[2], n[2]);
	r->len[b] = (uint32_t)n[2];
	if (movies) {
		r->year = cf_title_year(f[1], n[1]);
		r->in_movies = 1;
	} else {
		r->in_links = 1;
	}
}

static size_t
load_frame(cf_meta *m, const struct kind *k, int fd, const char *path)
{
	cf_reader *r = cf_reader_open(fd, path);
	const cf_schema *s = cf_expect_table(r, k->table);
	int col[3];
	cf_block b;
	size_t rows = 0;
	char where[512];

	snprintf(where, sizeof where, "%s: '%s' row ", path, k->table);
	for (int c = 0; c < 3; c++) {
		col[c] = -1;
		for (int j = 0; k->names[c][j] && col[c] < 0; j++)
			col[c] = cf_schema_col(s, k->names[c][j]);
		if (col[c] < 0 || s->cols[col[c]].type != CF_STR)
			cf_die("%s: the '%s' table has no str column '%s' (want %s)", path,
			       k->table, k->names[c][1] ? k->names[c][1] : k->names[c][0], k->want);
	}
	while (cf_read_block(r, &b) == 1) {
		for (uint32_t i = 0; i < b.nrows; i++, rows++) {
			const char *f[3];
			size_t n[3];
			for (int c = 0; c < 3; c++)
				f[c] = cf_str(&b, col[c], i, &n[c]);
			if (n[0] == 0)
				cf_die("%s: '%s' row %zu: empty movie id", path, k->table, rows);
			store(m, k, f, n, where, rows);
		}
	}
	cf_reader_close(r);     /* closes fd */
	return rows;
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

static size_t
load_csv(cf_meta *m, const struct kind *k, int fd, const char *path)
{
	cf_csv *c = cf_csv_new(fd, path);
	cf_csv_rec rec;
	const char *line, *d = ",";
	size_t len, rows = 0, need = 0;
	int col[3] = {0, 1, 2}, first = 1;
	char where[512];

	if (cf_csv_peek_line(c, &line, &len))
		d = cf_csv_guess_delim(line, len);
	cf_csv_set_delim(c, d, strlen(d));
	if (strcmp(d, "::") == 0)
		cf_csv_set_quotes(c, 0);        /* MovieLens' .dat files do not quote */
	snprintf(where, sizeof where, "%s: line ", path);
	while (cf_csv_next(c, &rec)) {
		const char *f[3];
		size_t n[3];

		if (rec.err)
			cf_die("%s: line %llu: %s", path, (unsigned long long)rec.line, rec.err);
		if (first) {
			int seen[3] = {0, 0, 0}, any = 0;
			first = 0;
			for (size_t j = 0; j < rec.nfields && j < CF_CSV_MAX_FIELDS; j++) {
				int role = col_role(k, rec.f[j].p, rec.f[j].len);
				if (role >= 0 && !seen[role]) {
					seen[role] = 1;
					col[role] = (int)j;
					any = 1;
				}
			}
			if (any) {
				for (int j = 0; j < 3; j++)
					if (!seen[j])
						cf_die("%s: line %llu: the header has no '%s' column (want %s)",
						       path, (unsigned long long)rec.line, k->names[j][0], k->want);
				need = rec.nfields;
				continue;
			}
			/* No header: a first field that is an id means positional columns. */
			if (rec.nfields != 3 || !is_int(rec.f[0].p, rec.f[0].len))
				cf_die("%s: line %llu: expected a header row naming %s", path,
				       (unsigned long long)rec.line, k->want);
			need = 3;
		}
		if (rec.nfields != need)
			cf_die("%s: line %llu: expected %zu fields, found %zu", path,
			       (unsigned long long)rec.line, need, rec.nfields);
		for (int j = 0; j < 3; j++) {
			f[j] = rec.f[col[j]].p;
			n[j] = rec.f[col[j]].len;
		}
		if (n[0] == 0)
			cf_die("%s: line %llu: empty movie id", path, (unsigned long long)rec.line);
		store(m, k, f, n, where, rec.line);
		rows++;
	}
	cf_csv_free(c);
	close(fd);
	return rows;
}

/*
 * Opens path and tells a frame (starts with the table magic) from text.
 * Input that cannot be peeked at in place (a pipe) is copied to a temp
 * file first.
 */
static int
open_peek(const char *path, int *frame)
{
	static const unsigned char magic[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};
	unsigned char head[8];
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		cf_die("%s:", path);
	if (fstat(fd, &st) != 0)
		cf_die("%s:", path);
	if (!S_ISREG(st.st_mode)) {
		FILE *tmp = tmpfile();
		char buf[1 << 16];
		ssize_t r;
		if (!tmp)
			cf_die("%s: temp file:", path);
		while ((r = read(fd, buf, sizeof buf)) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				cf_die("%s:", path);
			}
			if (fwrite(buf, 1, (size_t)r, tmp) != (size_t)r)
				cf_die("%s: temp file:", path);
		}
		if (fflush(tmp) != 0)
			cf_die("%s: temp file:", path);
		close(fd);
		fd = dup(fileno(tmp));
		fclose(tmp);
		if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0)
			cf_die("%s: temp file:", path);
	}
	got = pread(fd, head, sizeof head, 0);
	if (got < 0)
		cf_die("%s:", path);
	*frame = got == (ssize_t)sizeof head && memcmp(head, magic, sizeof head) == 0;
	return fd;
}

static size_t
load(cf_meta *m, const struct kind *k, const char *path)
{
	int frame, fd = open_peek(path, &frame);

	return frame ? load_frame(m, k, fd, path) : load_csv(m, k, fd, path);
}

size_t
cf_meta_load_movies(cf_meta *m, const char *path)
{
	return load(m, &movies_kind, path);
}

size_t
cf_meta_load_links(cf_meta *m, const char *path)
{
	return load(m, &links_kind, path);
}
