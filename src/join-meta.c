/*
 * join-meta - joins the item ids of a frame (recommendations, scores, a
 * user's history) with movie metadata (movies.csv, links.csv) and prints
 * them for people (an aligned table), for scripts (CSV) or in the JSON
 * shapes of the recommender API this project replaces.
 */
#include "frame.h"
#include "idmap.h"
#include "meta.h"
#include "metajson.h"
#include "out.h"
#include "ratings.h"
#include "utf8.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *input;              /* or NULL: stdin */
	const char *movies, *links;
	const char *user;               /* --user: only this user's rows */
	int json, csv, ids_only, history, extra;
	unsigned long long limit;       /* rows per user, 0: all */
};

/* The input held in memory: one row per input row, ids by dictionary index. */
struct input {
	char *name;                     /* the stream's, for messages */
	char *table;
	int has_user, has_score, has_rank, has_rating, has_ts;
	size_t n, cap;
	uint32_t *user, *item;
	float *score, *rating;
	uint32_t *rank;
	int64_t *ts;
	cf_idmap *users, *items;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: join-meta [-m MOVIES] [-l LINKS] [-u USER] [-n N] [--history]\n"
"                 [--json | --csv] [--ids-only] [--extra] [FILE]\n"
"Joins the item ids of a frame stream (stdin, or FILE) with movie metadata.\n"
"\n"
"The input's first table needs an 'item' column; its rows are kept in input\n"
"order, grouped by user (users in order of first appearance).  Known columns:\n"
"user, item (str raw ids, or u32 indices of an encoded stream's users/items\n"
"dictionaries), score (f32), rank (u32: rows are ordered by rank within a\n"
"user), rating (f32), timestamp (i64).  So it takes `topk` and `scores` tables,\n"
"and `ratings` tables, which are a user's history.\n"
"\n"
"  -m, --movies FILE  movies.csv (movieId,title,genres) or a 'movies' frame\n"
"                     from csv2bin (told apart by the frame magic)\n"
"  -l, --links FILE   links.csv (movieId,imdbId,tmdbId) or a 'links' frame:\n"
"                     adds imdbId and tmdbId columns\n"
"  -u, --user ID      only the rows of user ID\n"
"  -n, --limit N      at most N rows per user\n"
"      --history      print the rows as a history (the default for a\n"
"                     'ratings' table): most recent first when the input has\n"
"                     timestamps, else in input order\n"
"      --json         JSON in the shapes of the reference API (below)\n"
"      --csv          CSV with a header row\n"
"      --ids-only     ids without metadata (also --no-meta)\n"
"      --extra        JSON: add \"user\" to each object and year, imdb, tmdb,\n"
"                     score, rank, rating, timestamp (those known) to each\n"
"                     item; table and CSV: add the year column\n"
"  -h, --help         this help;  -V, --version  the version\n"
"\n"
"JSON shapes (one object per line, compact):\n"
"  ids only (--ids-only, or no --movies):  {\"items\":[{\"id\":\"74510\"},...]}\n"
"  with --movies:  {\"items\":[{\"id\":\"74510\",\"title\":\"Girl Who Played with Fire,\n"
"                  The (2009)\",\"genres\":[\"Action\",\"Crime\",...]},...]}\n"
"  --history:      {\"features\":[{\"histories\":[\"185135\",\"180777\",...]}]}\n"
"Ids are strings; genres are the movies file's genres split on '|'\n"
"(\"(no genres listed)\" stays one genre).  When the rows (after --user) hold\n"
"several users, the output is JSON Lines: one object of that shape per user,\n"
"in order of first appearance; use --user to pick one, or --extra to label\n"
"each with \"user\".  No rows: one object with an empty list.\n"
"\n"
"Table and CSV columns: userId (when several users), movieId, title, genres\n"
"(with --movies), year (--extra), imdbId, tmdbId (with --links), then score,\n"
"rank, rating, timestamp as the input has them.  The table aligns columns by\n"
"UTF-8 code points; CSV quotes as RFC 4180.\n"
"\n"
"A history in JSON is ids only, as in the reference API, even with --movies.\n"
"An item id not in the movies file keeps its row, with an empty title and no\n"
"genres (JSON: \"title\":\"\",\"genres\":[]); one line on stderr counts such rows.\n"
"Ids match in canonical form (\"018\" is \"18\"), as csv2bin writes them.\n"
"Exit 1 with one line on stderr on bad input (not a frame, no 'item' column,\n"
"a malformed movies or links file naming its line: also one without a movie,\n"
"not UTF-8, UTF-16 or with CR-only line ends; an id JSON cannot hold, naming\n"
"its row); 2 on a usage error.\n"
"\n"
"  mf-score --user 18 < model.bin | topk 20 | join-meta -m movies.csv --json\n");
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_JSON = 256, O_CSV, O_IDS, O_HISTORY, O_EXTRA };
	static const struct option lo[] = {
		{"movies", 1, 0, 'm'}, {"links", 1, 0, 'l'}, {"user", 1, 0, 'u'},
		{"limit", 1, 0, 'n'}, {"json", 0, 0, O_JSON}, {"csv", 0, 0, O_CSV},
		{"ids-only", 0, 0, O_IDS}, {"no-meta", 0, 0, O_IDS},
		{"history", 0, 0, O_HISTORY}, {"extra", 0, 0, O_EXTRA},
		CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "m:l:u:n:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'm': o->movies = optarg; break;
		case 'l': o->links = optarg; break;
		case 'u': o->user = optarg; break;
		case 'n':
			if (cf_parse_u64(optarg, &o->limit) != 0 || o->limit == 0)
				cf_usage_error(usage, "bad --limit '%s': want a positive integer", optarg);
			break;
		case O_JSON: o->json = 1; break;
		case O_CSV: o->csv = 1; break;
		case O_IDS: o->ids_only = 1; break;
		case O_HISTORY: o->history = 1; break;
		case O_EXTRA: o->extra = 1; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(0);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	if (o->json && o->csv)
		cf_usage_error(usage, "--json and --csv exclude each other");
	o->input = cf_one_operand(argc, argv, usage);
}

/* ---------------------------------------------------------------- input */

static int
optcol(cf_reader *r, const cf_schema *s, const char *name, cf_type t1, cf_type t2)
{
	int c = cf_schema_col(s, name);

	if (c < 0)
		return -1;
	if ((s->cols[c].type != t1 && s->cols[c].type != t2) || s->cols[c].width != 1)
		cf_die("%s: the '%s' table's '%s' column is %s, expected %s", cf_reader_name(r),
		       s->name, name, cf_type_name(s->cols[c].type), cf_type_name(t1));
	return c;
}

static double
num(const cf_block *b, const cf_schema *s, int c, uint32_t i)
{
	return s->cols[c].type == CF_F32 ? (double)((const float *)b->col[c])[i] :
	       ((const double *)b->col[c])[i];
}

static void
reserve(struct input *in, size_t need)
{
	size_t cap = in->cap ? in->cap : 256;

	if (need <= in->cap)
		return;
	while (cap < need)
		cap *= 2;
	in->user = cf_xrealloc(in->user, cap * sizeof *in->user);
	in->item = cf_xrealloc(in->item, cap * sizeof *in->item);
	in->score = cf_xrealloc(in->score, cap * sizeof *in->score);
	in->rating = cf_xrealloc(in->rating, cap * sizeof *in->rating);
	in->rank = cf_xrealloc(in->rank, cap * sizeof *in->rank);
	in->ts = cf_xrealloc(in->ts, cap * sizeof *in->ts);
	in->cap = cap;
}

/* Reads an id dictionary table (one str column 'id') into m, in row order. */
static void
read_dict(cf_reader *r, const cf_schema *s, cf_idmap *m)
{
	int c = cf_schema_col(s, "id");
	cf_block b;

	if (c < 0 || s->cols[c].type != CF_STR)
		cf_die("%s: the '%s' dictionary has no str column 'id'", cf_reader_name(r), s->name);
	while (cf_read_block(r, &b) == 1) {
		for (uint32_t i = 0; i < b.nrows; i++) {
			size_t len;
			const char *id = cf_str(&b, c, i, &len);
			int added;
			cf_idmap_intern(m, id, len, &added);
			if (!added)
				cf_die("%s: the '%s' dictionary repeats the id '%.*s'", cf_reader_name(r),
				       s->name, (int)(len > 40 ? 40 : len), id);
		}
	}
}

static void
read_input(cf_reader *r, struct input *in)
{
	const cf_schema *s;
	int cu, ci, cs, ck, cr, ct, enc_u, enc_i;
	int need_u, need_i;
	cf_block b;

	if (cf_read_table(r, &s) == 0)
		cf_die("%s: %s: expected a table with an 'item' column "
		       "(topk, scores, ratings)", cf_reader_name(r), cf_reader_empty(r));
	ci = optcol(r, s, "item", CF_STR, CF_U32);
	if (ci < 0)
		cf_die("%s: byte %llu: the '%s' table has no 'item' column: expected topk, "
		       "scores or ratings", cf_reader_name(r),
		       (unsigned long long)cf_reader_offset(r), s->name);
	cu = optcol(r, s, "user", CF_STR, CF_U32);
	cs = optcol(r, s, "score", CF_F32, CF_F64);
	ck = optcol(r, s, "rank", CF_U32, CF_U32);
	cr = optcol(r, s, "rating", CF_F32, CF_F64);
	ct = optcol(r, s, "timestamp", CF_I64, CF_I64);
	enc_i = s->cols[ci].type == CF_U32;
	enc_u = cu >= 0 && s->cols[cu].type == CF_U32;
	in->name = cf_xstrdup(cf_reader_name(r));
	in->table = cf_xstrdup(s->name);
	in->has_user = cu >= 0;
	in->has_score = cs >= 0;
	in->has_rank = ck >= 0;
	in->has_rating = cr >= 0;
	in->has_ts = ct >= 0;
	in->users = cf_idmap_new();
	in->items = cf_idmap_new();
	while (cf_read_block(r, &b) == 1) {
		size_t n = in->n;
		reserve(in, n + b.nrows);
		if (cu < 0)
			memset(in->user + n, 0, b.nrows * sizeof *in->user);
		else if (enc_u)
			memcpy(in->user + n, b.col[cu], b.nrows * sizeof *in->user);
		else
			cf_encode_strcol(&b, cu, in->users, in->user + n);
		if (enc_i)
			memcpy(in->item + n, b.col[ci], b.nrows * sizeof *in->item);
		else
			cf_encode_strcol(&b, ci, in->items, in->item + n);
		for (uint32_t i = 0; i < b.nrows; i++) {
			in->score[n + i] = cs >= 0 ? (float)num(&b, s, cs, i) : 0;
			in->rating[n + i] = cr >= 0 ? (float)num(&b, s, cr, i) : 0;
			in->rank[n + i] = ck >= 0 ? ((const uint32_t *)b.col[ck])[i] : 0;
			in->ts[n + i] = ct >= 0 ? ((const int64_t *)b.col[ct])[i] : 0;
		}
		in->n = n + b.nrows;
	}
	/* Encoded ids: the dictionaries follow; the rest of the stream is read (and checked). */
	need_u = enc_u, need_i = enc_i;
	while (cf_read_table(r, &s) == 1) {
		if (need_u && strcmp(s->name, "users") == 0) {
			read_dict(r, s, in->users);
			need_u = 0;
		} else if (need_i && strcmp(s->name, "items") == 0) {
			read_dict(r, s, in->items);
			need_i = 0;
		}
	}
	if (need_u || need_i)
		cf_die("%s: the '%s' table holds encoded %s ids but the stream has no '%s' "
		       "dictionary", cf_reader_name(r), in->table, need_u ? "user" : "item",
		       need_u ? "users" : "items");
	for (size_t i = 0; i < in->n; i++) {
		if (enc_u && in->user[i] >= cf_idmap_count(in->users))
			cf_die("%s: '%s' row %zu: user index %u out of range (the 'users' table "
			       "has %u ids)", cf_reader_name(r), in->table, i, in->user[i],
			       cf_idmap_count(in->users));
		if (enc_i && in->item[i] >= cf_idmap_count(in->items))
			cf_die("%s: '%s' row %zu: item index %u out of range (the 'items' table "
			       "has %u ids)", cf_reader_name(r), in->table, i, in->item[i],
			       cf_idmap_count(in->items));
	}
}

static void
free_input(struct input *in)
{
	free(in->name);
	free(in->table);
	free(in->user);
	free(in->item);
	free(in->score);
	free(in->rating);
	free(in->rank);
	free(in->ts);
	cf_idmap_free(in->users);
	cf_idmap_free(in->items);
}

/* ---------------------------------------------------------------- order */

struct ord {
	size_t first;           /* the row where the row's user first appears */
	int64_t key;            /* within a user: ascending */
	size_t row;
};

static int
by_ord(const void *a, const void *b)
{
	const struct ord *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

/*
 * The rows to print, in order: grouped by user (first appearance), by rank
 * (or most recent first in a history with timestamps), else input order;
 * at most limit a user.  Returns their count; (*grp)[g] is the first
 * position of group g, ngrp groups, (*grp)[ngrp] the end.
 */
static size_t
order(const struct input *in, const struct opts *o, int history, long long only,
      size_t **rowsp, size_t **grpp, size_t *ngrp)
{
	uint32_t nu = cf_idmap_count(in->users);
	size_t *first = cf_xmalloc((nu ? nu : 1) * sizeof *first);
	struct ord *e = cf_xmalloc((in->n ? in->n : 1) * sizeof *e);
	size_t *rows = cf_xmalloc((in->n ? in->n : 1) * sizeof *rows);
	size_t *grp = cf_xmalloc((in->n + 1) * sizeof *grp);
	size_t m = 0, out = 0, g = 0, run = 0;

	for (uint32_t u = 0; u < nu; u++)
		first[u] = SIZE_MAX;
	for (size_t i = 0; i < in->n; i++) {
		uint32_t u = in->user[i];
		if (only != -1 && (only < 0 || u != (uint32_t)only))
			continue;       /* -2: --user is not in the input */
		if (nu && first[u] == SIZE_MAX)
			first[u] = i;
		e[m].first = nu ? first[u] : 0;
		if (history && in->has_ts)      /* most recent first */
			e[m].key = in->ts[i] == INT64_MIN ? INT64_MAX : -in->ts[i];
		else if (!history && in->has_rank)
			e[m].key = in->rank[i];
		else
			e[m].key = 0;
		e[m].row = i;
		m++;
	}
	qsort(e, m, sizeof *e, by_ord);
	for (size_t j = 0; j < m; j++) {
		if (j == 0 || e[j].first != e[j - 1].first) {
			grp[g++] = out;
			run = 0;
		}
		if (o->limit && run >= o->limit)
			continue;
		run++;
		rows[out++] = e[j].row;
	}
	grp[g] = out;
	free(first);
	free(e);
	*rowsp = rows;
	*grpp = grp;
	*ngrp = g;
	return out;
}

/* ---------------------------------------------------------------- output */

enum { C_USER, C_ITEM, C_TITLE, C_GENRES, C_YEAR, C_IMDB, C_TMDB, C_SCORE, C_RANK,
       C_RATING, C_TS, NCOLS };
static const char *const col_head[NCOLS] = {
	"userId", "movieId", "title", "genres", "year", "imdbId", "tmdbId", "score",
	"rank", "rating", "timestamp",
};
static const unsigned char col_right[NCOLS] = {
	[C_YEAR] = 1, [C_SCORE] = 1, [C_RANK] = 1, [C_RATING] = 1, [C_TS] = 1,
};

struct ctx {
	const struct opts *o;
	const struct input *in;
	cf_meta *meta;
	cf_movie *mv;           /* per input item index */
	unsigned char *known;   /* per input item index: in the movies file */
	int meta_shown;         /* titles and genres are printed */
	int col[NCOLS];         /* which columns the table and CSV have */
	int csv;
};

/* Cell (column c, input row i) as bytes; buf holds numbers. */
static const char *
cell(const struct ctx *x, int c, size_t i, char *buf, size_t bn, size_t *len)
{
	const struct input *in = x->in;
	uint32_t it = in->item[i];
	const cf_movie *mv = &x->mv[it];
	int n = 0;

	switch (c) {
	case C_USER: return cf_idmap_id(in->users, in->user[i], len);
	case C_ITEM: return cf_idmap_id(in->items, it, len);
	case C_TITLE:
		*len = x->known[it] ? mv->title_len : 0;
		return x->known[it] ? mv->title : "";
	case C_GENRES:
		*len = x->known[it] ? mv->genres_len : 0;
		return x->known[it] ? mv->genres : "";
	case C_YEAR:
		if (x->known[it] && mv->year)
			n = snprintf(buf, bn, "%d", mv->year);
		break;
	case C_IMDB:
		*len = mv->in_links ? mv->imdb_len : 0;
		return mv->in_links ? mv->imdb : "";
	case C_TMDB:
		*len = mv->in_links ? mv->tmdb_len : 0;
		return mv->in_links ? mv->tmdb : "";
	case C_SCORE:
		n = x->csv ? cf_fmt_f32(buf, bn, in->score[i]) :
		    snprintf(buf, bn, "%.4f", (double)in->score[i]);
		break;
	case C_RANK: n = snprintf(buf, bn, "%u", in->rank[i]); break;
	case C_RATING: n = cf_fmt_f32(buf, bn, in->rating[i]); break;
	case C_TS: n = snprintf(buf, bn, "%lld", (long long)in->ts[i]); break;
	}
	*len = n > 0 ? (size_t)n : 0;
	return buf;
}

static void
out_text(const char *s, size_t n)
{
	size_t a = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			cf_out(s + a, i - a);
			cf_outc(' ');
			a = i + 1;
		}
	}
	cf_out(s + a, n - a);
}

static void
print_csv(const struct ctx *x, const size_t *rows, size_t n)
{
	char buf[64];
	int any = 0;

	for (int c = 0; c < NCOLS; c++) {
		if (!x->col[c])
			continue;
		if (any++)
			cf_outc(',');
		cf_out(col_head[c], strlen(col_head[c]));
	}
	cf_outc('\n');
	for (size_t j = 0; j < n; j++) {
		any = 0;
		for (int c = 0; c < NCOLS; c++) {
			size_t len;
			const char *p;
			if (!x->col[c])
				continue;
			if (any++)
				cf_outc(',');
			p = cell(x, c, rows[j], buf, sizeof buf, &len);
			cf_out_field(p, len, ',');
		}
		cf_outc('\n');
	}
}

static void
pad(size_t n)
{
	while (n--)
		cf_outc(' ');
}

static void
print_table(const struct ctx *x, const size_t *rows, size_t n)
{
	size_t w[NCOLS] = {0};
	char buf[64];
	int last = -1;

	for (int c = 0; c < NCOLS; c++) {
		if (!x->col[c])
			continue;
		last = c;
		w[c] = strlen(col_head[c]);
		for (size_t j = 0; j < n; j++) {
			size_t len, cw;
			const char *p = cell(x, c, rows[j], buf, sizeof buf, &len);
			cw = cf_utf8_width(p, len);
			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (size_t j = 0; j <= n; j++) {       /* j == 0: the header */
		int any = 0;
		for (int c = 0; c < NCOLS; c++) {
			size_t len, cw;
			const char *p;
			if (!x->col[c])
				continue;
			if (any++)
				cf_out("  ", 2);
			if (j == 0) {
				p = col_head[c];
				len = strlen(p);
			} else {
				p = cell(x, c, rows[j - 1], buf, sizeof buf, &len);
			}
			cw = cf_utf8_width(p, len);
			if (col_right[c])
				pad(w[c] - cw);
			out_text(p, len);
			if (!col_right[c] && c != last)
				pad(w[c] - cw);
		}
		cf_outc('\n');
	}
}

/* ---- JSON ---- */

/*
 * Dies: `what` (a string of row's item: its id, from the input, or its
 * metadata, from the movies or links file) is not valid UTF-8.
 */
static void __attribute__((noreturn))
not_utf8(const struct ctx *x, size_t row, const char *what)
{
	size_t idl;
	const char *id = cf_idmap_id(x->in->items, x->in->item[row], &idl);
	char shown[CF_UTF8_SHOW_SIZE(40)];

	cf_utf8_show(shown, id, idl, 40);
	if (strcmp(what, "the id") == 0)
		cf_die("%s: '%s' row %zu: the item id %s is not valid UTF-8: JSON cannot hold it",
		       x->in->name, x->in->table, row, shown);
	cf_die("%s: %s of item %s is not valid UTF-8: JSON cannot hold it",
	       strcmp(what, "imdbId") == 0 || strcmp(what, "tmdbId") == 0 ? x->o->links :
	       x->o->movies, what, shown);
}

static json_t *
jstr(const char *p, size_t n, const char *what, const struct ctx *x, size_t row)
{
	json_t *v = json_stringn(p, n);

	if (!v)
		not_utf8(x, row, what);
	return v;
}

static void
jset(json_t *o, const char *key, json_t *v)
{
	if (!v || json_object_set_new(o, key, v) != 0)
		cf_die("out of memory building JSON");
}

static void
jappend(json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) != 0)
		cf_die("out of memory building JSON");
}

/* The item of row i: the movie object of metajson.h, then the row's numbers. */
static json_t *
json_item(const struct ctx *x, size_t i)
{
	const struct input *in = x->in;
	uint32_t it = in->item[i];
	unsigned flags = (x->meta_shown ? CF_MJ_META : 0) |
	                 (x->meta_shown && x->o->extra ? CF_MJ_YEAR : 0) |
	                 (x->o->links && x->o->extra ? CF_MJ_LINKS : 0);
	size_t len;
	const char *id = cf_idmap_id(in->items, it, &len), *bad = NULL;
	json_t *o = cf_movie_json_why(id, len, &x->mv[it], flags, &bad);

	if (!o && bad)
		not_utf8(x, i, bad);
	if (!o)
		cf_die("out of memory building JSON");
	if (!x->o->extra)
		return o;
	if (in->has_score)
		jset(o, "score", cf_json_f32(in->score[i]));
	if (in->has_rank)
		jset(o, "rank", json_integer(in->rank[i]));
	if (in->has_rating)
		jset(o, "rating", cf_json_f32(in->rating[i]));
	if (in->has_ts)
		jset(o, "timestamp", json_integer(in->ts[i]));
	return o;
}

/* One object: the rows[a..b) of one user. */
static void
print_json(const struct ctx *x, int history, const size_t *rows, size_t a, size_t b)
{
	const struct input *in = x->in;
	json_t *o = json_object(), *list = json_array();

	if (x->o->extra && in->has_user && b > a) {
		size_t len;
		const char *u = cf_idmap_id(in->users, in->user[rows[a]], &len);
		json_t *v = json_stringn(u, len);
		char shown[CF_UTF8_SHOW_SIZE(40)];
		if (!v)
			cf_die("%s: '%s' row %zu: the user id %s is not valid UTF-8: JSON cannot "
			       "hold it", in->name, in->table, rows[a], cf_utf8_show(shown, u, len, 40));
		jset(o, "user", v);
	}
	for (size_t j = a; j < b; j++) {
		if (history) {
			size_t len;
			const char *id = cf_idmap_id(in->items, in->item[rows[j]], &len);
			jappend(list, jstr(id, len, "the id", x, rows[j]));
		} else {
			jappend(list, json_item(x, rows[j]));
		}
	}
	if (history) {
		json_t *f = json_array(), *h = json_object();
		jset(h, "histories", list);
		jappend(f, h);
		jset(o, "features", f);
	} else {
		jset(o, "items", list);
	}
	/* Reals are f32 values: 9 digits print them in their shortest form. */
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) != 0)
		cf_write_failed("stdout");
	cf_outc('\n');
	json_decref(o);
}

/* ---------------------------------------------------------------- main */

/* The index of --user in the input's users, or -1 (with a warning) if absent. */
static long long
pick_user(const struct opts *o, const struct input *in, const char *name)
{
	size_t n = strlen(o->user);
	char *buf = cf_xmalloc(n + 2);
	const char *c;
	size_t cn = cf_canon_id(o->user, n, buf, &c);
	uint32_t u;

	if (!in->has_user)
		cf_die("%s: --user: the '%s' table has no 'user' column", name, in->table);
	u = cf_idmap_find(in->users, c, cn);
	if (u == UINT32_MAX) {
		u = cf_idmap_find(in->users, o->user, n);       /* as given, if not canonical */
		if (u == UINT32_MAX)
			cf_warn("%s: user '%s' is not in the input", name, o->user);
	}
	free(buf);
	return u == UINT32_MAX ? -2 : (long long)u;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct input in = {0};
	struct ctx x = {0};
	static cf_reader *r;     /* static: reachable for LeakSanitizer if we die */
	size_t *rows, *grp, ngrp, nrows, unknown = 0, first_unknown = 0;
	uint32_t ni;
	int history;
	long long only = -1;

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	r = o.input ? cf_reader_open_path(o.input) : cf_reader_open(0, "stdin");
	read_input(r, &in);
	if (o.user)
		only = pick_user(&o, &in, cf_reader_name(r));
	cf_reader_close(r);
	history = o.history || strcmp(in.table, "ratings") == 0;

	x.o = &o;
	x.in = &in;
	x.csv = o.csv;
	x.meta = cf_meta_new();
	if (o.movies)
		cf_meta_load_movies(x.meta, o.movies);
	if (o.links)
		cf_meta_load_links(x.meta, o.links);
	ni = cf_idmap_count(in.items);
	x.mv = cf_xcalloc(ni ? ni : 1, sizeof *x.mv);
	x.known = cf_xcalloc(ni ? ni : 1, 1);
	for (uint32_t i = 0; i < ni; i++) {
		size_t len;
		const char *id = cf_idmap_id(in.items, i, &len);
		if (cf_meta_find(x.meta, id, len, &x.mv[i]))
			x.known[i] = (unsigned char)x.mv[i].in_movies;
	}
	x.meta_shown = o.movies && !o.ids_only && !(o.json && history);

	nrows = order(&in, &o, history, only, &rows, &grp, &ngrp);
	for (size_t j = 0; j < nrows && x.meta_shown; j++) {
		if (!x.known[in.item[rows[j]]] && unknown++ == 0)
			first_unknown = rows[j];
	}

	x.col[C_USER] = in.has_user && ngrp > 1;
	x.col[C_ITEM] = 1;
	x.col[C_TITLE] = x.col[C_GENRES] = x.meta_shown;
	x.col[C_YEAR] = x.meta_shown && o.extra;
	x.col[C_IMDB] = x.col[C_TMDB] = o.links && !o.ids_only;
	x.col[C_SCORE] = in.has_score;
	x.col[C_RANK] = in.has_rank;
	x.col[C_RATING] = in.has_rating;
	x.col[C_TS] = in.has_ts;

	if (o.json) {
		if (ngrp == 0)
			print_json(&x, history, rows, 0, 0);
		for (size_t g = 0; g < ngrp; g++)
			print_json(&x, history, rows, grp[g], grp[g + 1]);
	} else if (o.csv) {
		print_csv(&x, rows, nrows);
	} else {
		print_table(&x, rows, nrows);
	}
	if (unknown) {
		size_t len;
		const char *id = cf_idmap_id(in.items, in.item[first_unknown], &len);
		cf_warn("%zu of %zu rows have an item id not in %s (first: '%.*s'): "
		        "printed with an empty title and no genres", unknown, nrows, o.movies,
		        (int)(len > 40 ? 40 : len), id);
	}
	free(rows);
	free(grp);
	free(x.mv);
	free(x.known);
	cf_meta_free(x.meta);
	free_input(&in);
	cf_close_stdout();
	return 0;
}
