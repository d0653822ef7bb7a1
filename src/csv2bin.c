/*
 * csv2bin - delimited text (MovieLens CSV, ml-100k's u.data, ml-1m's
 * ratings.dat, any CSV) to a cinefilter frame stream.  This file parses
 * and checks the rows; what the columns are is guessed by typeguess.h,
 * ids are made canonical by ids.h, duplicates are resolved by dups.h.
 */
#include "csv.h"
#include "dups.h"
#include "frame.h"
#include "ids.h"
#include "progress.h"
#include "typeguess.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_COLUMNS 4096

enum bad { B_MISSING, B_EXTRA, B_UNTERM, B_AFTERQ, B_EMPTY_USER, B_EMPTY_ITEM,
           B_RATING, B_NONFINITE, B_SCALE, B_TS, B_DUP, B_UTF8, NBAD };

struct opts {
	char *delim;            /* NULL: guess */
	size_t dlen;
	int header;             /* 1 yes, 0 no, -1 auto */
	char **cols;            /* --columns */
	size_t ncols;
	cf_kind kind;
	const char *table;
	int raw_ids, lenient, quiet, quotes;
	int scale;
	double smin, smax;
	cf_dups dups;
	const char *out;
	const char *in;
	const char *encoding;   /* NULL: UTF-8 */
};

struct conv {
	const struct opts *o;
	const char *fname;
	int fd;                 /* the input, for what an empty one is called */
	cf_kind kind;
	size_t ninput;          /* fields per record */
	cf_role *role;          /* per input column */
	int *outcol;            /* per input column: output column, or -1 */
	size_t *strcol, nstr;   /* the input columns written as strings */
	int col[CF_NROLES];     /* input column of a role, or -1 */
	int has_ts;
	cf_schema *schema;
	cf_writer *w;
	cf_rowbuf *rb;
	char reason[NBAD][96];
	uint64_t nbad[NBAD];
	char *cbuf[2];          /* canonical ids that need a copy ("-18") */
	size_t ccap[2];
	cf_dupset *dups;        /* a ratings table's duplicates */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: %s [options] [FILE]\n"
"Converts delimited text (stdin, or FILE) to a cinefilter frame stream.\n"
"MovieLens' ratings.csv, movies.csv, links.csv and tags.csv become the tables\n"
"ratings, movies, links and tags; any other file a table of strings.\n"
"\n"
"  -d, --delimiter STR  field delimiter, any string; '\\t' is a tab (default:\n"
"                       from the first line: '::' if it holds one, else tab\n"
"                       if it holds one, else ',')\n"
"      --header WHEN    yes, no or auto (default: the first line is a header\n"
"                       unless all its fields look numeric)\n"
"  -c, --columns LIST   names of the input columns in order, e.g.\n"
"                       user,item,rating,timestamp; '_' skips a column\n"
"  -k, --kind KIND      ratings, movies, links, tags or generic (default: from\n"
"                       the column names; a headerless file of 3 or 4 numeric\n"
"                       fields is ratings: user,item,rating[,timestamp])\n"
"      --no-quotes      '\"' is an ordinary character (default: RFC 4180 quoting)\n"
"      --encoding ENC   the input's encoding, converted to UTF-8 before parsing:\n"
"                       utf-8 (the default), latin1 (iso-8859-1), cp1252\n"
"                       (windows-1252), utf-16 (little or big endian, by the\n"
"                       byte order mark), utf-16le or utf-16be\n"
"  -t, --table NAME     output table name (default: the kind; 'table' for generic)\n"
"  -o, --output FILE    write FILE instead of stdout; no file appears on failure\n"
"      --raw-ids        keep ids verbatim (default: integers are canonical, so\n"
"                       18, 018, +18 and 18.0 are the same id '18')\n"
"  -s, --scale MIN:MAX  rating scale to check (default 0.5:5); 'none': no check\n"
"      --dups POLICY    duplicate (user, item) ratings: latest (default: keep\n"
"                       the greatest timestamp, ties to the later line), first,\n"
"                       last, mean (timestamp: the latest), error (a bad row)\n"
"                       or keep\n"
"  -l, --lenient        drop bad rows and print a count per reason (default:\n"
"                       stop at the first with 'FILE:LINE: reason', exit 1)\n"
"  -q, --quiet          do not report how many duplicates were resolved, nor\n"
"                       progress (on a terminal: rows written so far)\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"Text: every string written must be valid UTF-8 (a row that is not is a bad\n"
"row, 'invalid UTF-8'); a UTF-8 byte order mark is skipped.  UTF-16 input\n"
"without --encoding and CR-only line ends (classic Mac OS) are errors that\n"
"say so: convert them (--encoding utf-16; tr '\\r' '\\n').\n"
"\n"
"Memory: with --dups keep, rows stream through in constant memory.  first\n"
"and error stream too but remember every distinct (user, item) pair (about\n"
"14 bytes each).  latest, last and mean must hold every row until the input\n"
"ends, then write the survivors in input order (about 34 bytes a row, 46\n"
"with mean: some 850 MB for 25M ratings).\n",
		cf_progname);
}

/* ---------------------------------------------------------------- options */

/* Decodes \t and \\ in a delimiter; returns its length, or -1. */
static long
unescape_delim(const char *s, char *out)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s != '\\') {
			out[n++] = *s;
			continue;
		}
		s++;
		if (*s == 't')
			out[n++] = '\t';
		else if (*s == '\\')
			out[n++] = '\\';
		else
			return -1;
	}
	return (long)n;
}

static void
parse_scale(struct opts *o, const char *arg)
{
	char *s, *colon;

	if (strcmp(arg, "none") == 0) {
		o->scale = 0;
		return;
	}
	s = cf_xstrdup(arg);
	colon = strchr(s, ':');
	if (colon)
		*colon = '\0';
	if (!colon || cf_parse_double(s, &o->smin) != 0 ||
	    cf_parse_double(colon + 1, &o->smax) != 0 || o->smin > o->smax)
		cf_usage_error(usage, "bad --scale '%s': want MIN:MAX or none", arg);
	free(s);
	o->scale = 1;
}

static void
parse_columns(struct opts *o, const char *arg)
{
	char *s = cf_xstrdup(arg), *p = s, *comma;

	for (;;) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (!*p)
			cf_usage_error(usage, "bad --columns '%s': empty column name", arg);
		if (!cf_utf8_valid(p, strlen(p), NULL))
			cf_usage_error(usage, "bad --columns: a name is not valid UTF-8");
		if (o->ncols == MAX_COLUMNS)
			cf_usage_error(usage, "bad --columns: more than %d columns", MAX_COLUMNS);
		o->cols = cf_xrealloc(o->cols, (o->ncols + 1) * sizeof *o->cols);
		o->cols[o->ncols++] = cf_xstrdup(p);
		if (!comma)
			break;
		p = comma + 1;
	}
	free(s);
}

static void
parse_args(struct opts *o, int argc, char **argv)
{
	enum { O_HEADER = 256, O_RAW, O_DUPS, O_NOQUOTES, O_ENCODING };
	static const struct option longopts[] = {
		{"delimiter", 1, 0, 'd'}, {"header", 1, 0, O_HEADER},
		{"columns", 1, 0, 'c'}, {"kind", 1, 0, 'k'}, {"table", 1, 0, 't'},
		{"output", 1, 0, 'o'}, {"raw-ids", 0, 0, O_RAW},
		{"scale", 1, 0, 's'}, {"dups", 1, 0, O_DUPS},
		{"lenient", 0, 0, 'l'}, {"quiet", 0, 0, 'q'},
		{"no-quotes", 0, 0, O_NOQUOTES}, {"encoding", 1, 0, O_ENCODING},
		CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	static const char *const header_names[] = {"no", "yes", "auto"};
	int c, i;
	long n;

	memset(o, 0, sizeof *o);
	o->header = -1;
	o->kind = CF_KIND_AUTO;
	o->quotes = 1;
	o->scale = 1;
	o->smin = 0.5;
	o->smax = 5;
	o->dups = CF_DUPS_LATEST;
	while ((c = getopt_long(argc, argv, "d:c:k:t:o:s:lqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			free(o->delim);
			o->delim = cf_xmalloc(strlen(optarg) + 1);
			if ((n = unescape_delim(optarg, o->delim)) <= 0)
				cf_usage_error(usage, "bad --delimiter '%s'", optarg);
			o->dlen = (size_t)n;
			if (memchr(o->delim, '"', o->dlen) || memchr(o->delim, '\n', o->dlen) ||
			    memchr(o->delim, '\r', o->dlen))
				cf_usage_error(usage, "bad --delimiter '%s': no quote or line break", optarg);
			break;
		case O_HEADER:
			if ((i = cf_lookup(optarg, header_names, 3)) < 0)
				cf_usage_error(usage, "bad --header '%s': want yes, no or auto", optarg);
			o->header = i == 2 ? -1 : i;
			break;
		case 'c':
			parse_columns(o, optarg);
			break;
		case 'k':
			if ((i = cf_kind_parse(optarg)) < 0)
				cf_usage_error(usage, "bad --kind '%s': want ratings, movies, links, tags or generic", optarg);
			o->kind = (cf_kind)i;
			break;
		case 't':
			if (!*optarg)
				cf_usage_error(usage, "bad --table: empty name");
			if (!cf_utf8_valid(optarg, strlen(optarg), NULL))
				cf_usage_error(usage, "bad --table: the name is not valid UTF-8");
			o->table = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case O_RAW:
			o->raw_ids = 1;
			break;
		case 's':
			parse_scale(o, optarg);
			break;
		case O_DUPS:
			if ((i = cf_dups_parse(optarg)) < 0)
				cf_usage_error(usage, "bad --dups '%s': want latest, first, last, mean, error or keep", optarg);
			o->dups = (cf_dups)i;
			break;
		case 'l':
			o->lenient = 1;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case O_NOQUOTES:
			o->quotes = 0;
			break;
		case O_ENCODING:
			if (!cf_csv_encoding_known(optarg))
				cf_usage_error(usage, "bad --encoding '%s': want %s", optarg,
				               CF_CSV_ENCODINGS);
			o->encoding = optarg;
			break;
		case 'h':
			usage(stdout);
			cf_close_stdout();
			exit(CF_EXIT_OK);
		case 'V':
			cf_version();
		default:
			cf_usage_hint();        /* getopt said what was wrong */
		}
	}
	o->in = cf_one_operand(argc, argv, usage);
}

/* ---------------------------------------------------------------- numbers */

static int isdig(char c) { return c >= '0' && c <= '9'; }

static int
is_nonfinite(const char *p, size_t n)
{
	if (n > 0 && (p[0] == '+' || p[0] == '-'))
		p++, n--;
	return (n == 3 && strncasecmp(p, "nan", 3) == 0) ||
	       (n == 3 && strncasecmp(p, "inf", 3) == 0) ||
	       (n == 8 && strncasecmp(p, "infinity", 8) == 0);
}

/* A NUL-terminated copy of [p, p+n) in tmp (or allocated; free if != tmp). */
static char *
cstr(const char *p, size_t n, char *tmp, size_t tmpsize)
{
	char *s = n < tmpsize ? tmp : cf_xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * A rating: 0 ok, 1 not a number, 2 NaN or infinite.  The fast path takes
 * plain decimals of at most 15 digits, at most 8 after the point: m / 10^k
 * is then exact in both operands, the double quotient correctly rounded,
 * and no double-rounding to float can differ from strtof (a binary32
 * halfway point h = H * 2^j, H < 2^25, lies at least h / (10^k * H) >
 * h * 2^-53 from any such m / 10^k it is not equal to).  Anything else
 * goes to strtof.
 */
static int
parse_rating(const char *p, size_t n, float *out)
{
	static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
	size_t i = 0, nd = 0, nf = 0;
	uint64_t m = 0;
	int neg = 0;

	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	for (; i < n && isdig(p[i]); i++, nd++)
		m = m * 10 + (uint64_t)(p[i] - '0');
	if (i < n && p[i] == '.')
		for (i++; i < n && isdig(p[i]); i++, nf++)
			m = m * 10 + (uint64_t)(p[i] - '0');
	if (i == n && nd + nf > 0 && nd + nf <= 15 && nf <= 8) {
		float f = (float)((double)m / p10[nf]);
		*out = neg ? -f : f;
		return 0;
	}
	if (!cf_is_decimal(p, n))
		return is_nonfinite(p, n) ? 2 : 1;
	char tmp[64], *s = cstr(p, n, tmp, sizeof tmp);
	float f = strtof(s, NULL);
	if (s != tmp)
		free(s);
	if (!isfinite(f))
		return 2;
	*out = f;
	return 0;
}

/* A timestamp: an integer, or an integral float (964982703.0, 9.6e8). */
static int
parse_ts(const char *p, size_t n, int64_t *out)
{
	size_t i = 0, nd = 0;
	uint64_t m = 0;
	int neg = 0;

	if (i < n && (p[i] == '-' || p[i] == '+'))
		neg = p[i++] == '-';
	for (; i < n && isdig(p[i]); i++, nd++)
		m = m * 10 + (uint64_t)(p[i] - '0');
	if (nd > 0 && nd <= 18) {
		size_t j = i;
		if (j < n && p[j] == '.')
			for (j++; j < n && p[j] == '0'; j++)
				;
		if (j == n) {
			*out = neg ? -(int64_t)m : (int64_t)m;
			return 0;
		}
	}
	if (!cf_is_decimal(p, n))
		return -1;
	char tmp[64], *s = cstr(p, n, tmp, sizeof tmp);
	int rc = 0;
	errno = 0;
	if (i == n) {           /* all digits: exact */
		long long v = strtoll(s, NULL, 10);
		if (errno == ERANGE)
			rc = -1;
		*out = v;
	} else {
		double v = strtod(s, NULL);
		if (!isfinite(v) || v != floor(v) || v < -9.2e18 || v > 9.2e18)
			rc = -1;
		else
			*out = (int64_t)v;
	}
	if (s != tmp)
		free(s);
	return rc;
}

/* The canonical form of an id (ids.h); *buf holds it when it is a copy ("-18"). */
static void
canon_id(const char *p, size_t n, char **buf, size_t *cap, const char **op, size_t *on)
{
	cf_grow((void **)buf, cap, n + 2, 1);
	*on = cf_canon_id(p, n, *buf, op);
}

/* ---------------------------------------------------------------- bad rows */

/* A value for a message: quoted, control bytes and invalid UTF-8 escaped, at most 40 bytes. */
static const char *
show(const char *p, size_t n)
{
	static char s[CF_UTF8_SHOW_SIZE(40)];

	return cf_utf8_show(s, p, n, 40);
}

/* A bad row: strict, dies with FILE:LINE: reason[: detail]; lenient, counts it. */
static void
bad(struct conv *cv, uint64_t line, enum bad b, const char *detail)
{
	if (cv->o->lenient) {
		cv->nbad[b]++;
		return;
	}
	cf_die("%s:%llu: %s%s%s", cv->fname, (unsigned long long)line, cv->reason[b],
	       detail ? " " : "", detail ? detail : "");
}

#define BAD(...) do { bad(__VA_ARGS__); return; } while (0)

static void
init_reasons(struct conv *cv)
{
	static const char *const text[NBAD] = {
		[B_MISSING] = "missing fields", [B_EXTRA] = "too many fields",
		[B_UNTERM] = "unterminated quoted field",
		[B_AFTERQ] = "text after a closing quote",
		[B_EMPTY_USER] = "empty user id", [B_EMPTY_ITEM] = "empty item id",
		[B_RATING] = "rating is not a number",
		[B_NONFINITE] = "rating is NaN or infinite",
		[B_TS] = "timestamp is not an integer",
		[B_DUP] = "duplicate (user, item) pair",
		[B_UTF8] = "invalid UTF-8",
	};
	for (int b = 0; b < NBAD; b++)
		snprintf(cv->reason[b], sizeof cv->reason[b], "%s", text[b] ? text[b] : "");
	snprintf(cv->reason[B_SCALE], sizeof cv->reason[B_SCALE],
	         "rating off the scale [%g, %g]", cv->o->smin, cv->o->smax);
}

/* ---------------------------------------------------------------- rows */

/* Writes a rating row; also the cf_dup_emit of the rows held by cv->dups. */
static void
emit_rating(void *ctx, const char *u, size_t ul, const char *i, size_t il, float r,
            int64_t t)
{
	struct conv *cv = ctx;

	cf_rowbuf_str(cv->rb, 0, u, ul);
	cf_rowbuf_str(cv->rb, 1, i, il);
	cf_rowbuf_f32(cv->rb, 2, r);
	if (cv->has_ts)
		cf_rowbuf_i64(cv->rb, 3, t);
	cf_rowbuf_end_row(cv->rb);
}

#define EMIT(...) do { emit_rating(__VA_ARGS__); return; } while (0)

static void
rating_row(struct conv *cv, const cf_csv_rec *rec)
{
	const struct opts *o = cv->o;
	const cf_csv_field *U = &rec->f[cv->col[CF_ROLE_USER]];
	const cf_csv_field *I = &rec->f[cv->col[CF_ROLE_ITEM]];
	const cf_csv_field *R = &rec->f[cv->col[CF_ROLE_RATING]];
	const char *u = U->p, *i = I->p;
	size_t ul = U->len, il = I->len;
	float r;
	int64_t t = 0;
	int rc;

	if (ul == 0)
		BAD(cv, rec->line, B_EMPTY_USER, NULL);
	if (il == 0)
		BAD(cv, rec->line, B_EMPTY_ITEM, NULL);
	if ((rc = parse_rating(R->p, R->len, &r)) != 0)
		BAD(cv, rec->line, rc == 1 ? B_RATING : B_NONFINITE, show(R->p, R->len));
	if (o->scale && !((double)r >= o->smin && (double)r <= o->smax))
		BAD(cv, rec->line, B_SCALE, show(R->p, R->len));
	if (cv->has_ts) {
		const cf_csv_field *T = &rec->f[cv->col[CF_ROLE_TS]];
		if (parse_ts(T->p, T->len, &t) != 0)
			BAD(cv, rec->line, B_TS, show(T->p, T->len));
	}
	if (!o->raw_ids) {
		canon_id(u, ul, &cv->cbuf[0], &cv->ccap[0], &u, &ul);
		canon_id(i, il, &cv->cbuf[1], &cv->ccap[1], &i, &il);
	}
	uint64_t first;
	switch (cf_dupset_add(cv->dups, u, ul, i, il, r, t, rec->line, &first)) {
	case CF_DUP_WRITE:
		EMIT(cv, u, ul, i, il, r, t);
	case CF_DUP_REPEAT: {
		char d[64];
		snprintf(d, sizeof d, "(first on line %lu)", (unsigned long)first);
		BAD(cv, rec->line, B_DUP, first ? d : NULL);
	}
	}
}

/* movies, links, tags and generic tables: strings (and a timestamp). */
static void
other_row(struct conv *cv, const cf_csv_rec *rec)
{
	int64_t t = 0;

	if (cv->kind != CF_KIND_GENERIC) {
		if (cv->col[CF_ROLE_USER] >= 0 && rec->f[cv->col[CF_ROLE_USER]].len == 0)
			BAD(cv, rec->line, B_EMPTY_USER, NULL);
		if (rec->f[cv->col[CF_ROLE_ITEM]].len == 0)
			BAD(cv, rec->line, B_EMPTY_ITEM, NULL);
		if (cv->has_ts) {
			const cf_csv_field *T = &rec->f[cv->col[CF_ROLE_TS]];
			if (parse_ts(T->p, T->len, &t) != 0)
				BAD(cv, rec->line, B_TS, show(T->p, T->len));
		}
	}
	for (size_t k = 0; k < cv->ninput; k++) {
		const char *p = rec->f[k].p;
		size_t n = rec->f[k].len;
		int oc = cv->outcol[k];
		if (oc < 0)
			continue;
		if (cv->role[k] == CF_ROLE_TS) {
			cf_rowbuf_i64(cv->rb, oc, t);
			continue;
		}
		if (!cv->o->raw_ids && (cv->role[k] == CF_ROLE_USER || cv->role[k] == CF_ROLE_ITEM))
			canon_id(p, n, &cv->cbuf[0], &cv->ccap[0], &p, &n);
		cf_rowbuf_str(cv->rb, oc, p, n);
	}
	cf_rowbuf_end_row(cv->rb);
}

static void
row(struct conv *cv, const cf_csv_rec *rec)
{
	if (rec->err)
		BAD(cv, rec->line, strcmp(rec->err, "unterminated quoted field") == 0 ?
		           B_UNTERM : B_AFTERQ, NULL);
	if (rec->nfields != cv->ninput) {
		char d[80];
		snprintf(d, sizeof d, "(expected %zu, found %zu)", cv->ninput, rec->nfields);
		BAD(cv, rec->line, rec->nfields < cv->ninput ? B_MISSING : B_EXTRA, d);
	}
	for (size_t j = 0; j < cv->nstr && !rec->ascii; j++) {
		size_t k = cv->strcol[j], at;
		if (cf_utf8_ascii(rec->f[k].p, rec->f[k].len) ||
		    cf_utf8_valid(rec->f[k].p, rec->f[k].len, &at))
			continue;
		char d[96 + CF_UTF8_SHOW_SIZE(40)];
		snprintf(d, sizeof d, "in column '%.40s', byte %zu: %s (a Latin-1 file needs "
		         "--encoding latin1)", cv->schema->cols[cv->outcol[k]].name, at + 1,
		         show(rec->f[k].p, rec->f[k].len));
		BAD(cv, rec->line, B_UTF8, d);
	}
	if (cv->kind == CF_KIND_RATINGS)
		rating_row(cv, rec);
	else
		other_row(cv, rec);
}

/* ---------------------------------------------------------------- setup */

/* The names of the first n columns, comma-separated, into cols (for a message). */
static void
column_names(const struct conv *cv, const cf_csv_rec *first, size_t n, char *cols, size_t size)
{
	const struct opts *o = cv->o;
	size_t at = 0;

	cols[0] = '\0';
	for (size_t k = 0; k < n && at < size - 5; k++) {
		const char *p = o->ncols ? o->cols[k] : first->f[k].p;
		size_t l = o->ncols ? strlen(p) : first->f[k].len;
		at += (size_t)snprintf(cols + at, size - at, "%s%.*s",
		                       k ? "," : "", (int)(l > 40 ? 40 : l), p);
	}
}

/* Decides the kind and the columns from the first record; 1 if it is a header. */
static int
setup(struct conv *cv, const cf_csv_rec *first)
{
	const struct opts *o = cv->o;
	size_t n = o->ncols ? o->ncols : first->nfields;
	cf_guess g;

	if (first->err)
		cf_die("%s:%llu: %s", cv->fname, (unsigned long long)first->line, first->err);
	if (n > MAX_COLUMNS)
		cf_die("%s:%llu: more than %d columns", cv->fname,
		       (unsigned long long)first->line, MAX_COLUMNS);
	int rc = cf_guess_columns(first, o->cols, o->ncols, o->header, o->kind, &g);
	cv->role = g.role;      /* held by cv before any error (freed by main) */
	char cols[200];
	switch (rc) {
	case CF_GUESS_NOT_KIND:
		column_names(cv, first, n, cols, sizeof cols);
		cf_die("%s:%llu: columns %s do not make a %s table (need %s); use --columns",
		       cv->fname, (unsigned long long)first->line, show(cols, strlen(cols)),
		       cf_kind_name(o->kind), cf_kind_need(o->kind));
	case CF_GUESS_NFIELDS:
		cf_die("%s:%llu: a headerless %s file has the columns %s, found %zu fields; use --columns",
		       cv->fname, (unsigned long long)first->line, cf_kind_name(g.kind),
		       cf_kind_need(g.kind), n);
	}
	cv->ninput = n;
	cv->kind = g.kind;
	cv->outcol = cf_xcalloc(n, sizeof *cv->outcol);

	/* The output schema. */
	cv->schema = cf_schema_new(o->table ? o->table :
	                           cv->kind == CF_KIND_GENERIC ? "table" : cf_kind_name(cv->kind));
	for (int r = 0; r < CF_NROLES; r++)
		cv->col[r] = -1;
	if (cv->kind == CF_KIND_GENERIC) {
		int oc = 0;
		for (size_t k = 0; k < n; k++) {
			char name[32], *nm;
			cv->outcol[k] = -1;
			if (cv->role[k] == CF_ROLE_SKIP)
				continue;
			if (o->ncols) {
				nm = cf_xstrdup(o->cols[k]);
			} else if (g.header && first->f[k].len > 0) {
				size_t at;
				if (!cf_utf8_valid(first->f[k].p, first->f[k].len, &at))
					cf_die("%s:%llu: invalid UTF-8 in the header, column %zu, byte %zu: "
					       "%s (a Latin-1 file needs --encoding latin1)", cv->fname,
					       (unsigned long long)first->line, k + 1, at + 1,
					       show(first->f[k].p, first->f[k].len));
				nm = cf_xmalloc(first->f[k].len + 1);
				memcpy(nm, first->f[k].p, first->f[k].len);
				nm[first->f[k].len] = '\0';
			} else {
				snprintf(name, sizeof name, "c%zu", k + 1);
				nm = cf_xstrdup(name);
			}
			cv->outcol[k] = cf_schema_add(cv->schema, nm, CF_STR, 1);
			cv->role[k] = CF_ROLE_OTHER;
			free(nm);
			oc++;
		}
		if (oc == 0)
			cf_die("%s: no columns to write", cv->fname);
	} else {
		for (size_t k = 0; k < n; k++) {
			cv->outcol[k] = -1;
			if (cv->role[k] != CF_ROLE_SKIP)
				cv->col[cv->role[k]] = (int)k;
		}
		cv->has_ts = cv->col[CF_ROLE_TS] >= 0;
		for (const cf_role *r = cf_kind_roles(cv->kind); *r != CF_ROLE_SKIP; r++) {
			if (cv->col[*r] < 0)
				continue;
			cv->outcol[cv->col[*r]] = cf_schema_add(cv->schema, cf_role_column(*r),
			                                        cf_role_type(*r), 1);
		}
	}
	cv->strcol = cf_xcalloc(n, sizeof *cv->strcol);
	for (size_t k = 0; k < n; k++)
		if (cv->outcol[k] >= 0 && cf_role_type(cv->role[k]) == CF_STR)
			cv->strcol[cv->nstr++] = k;
	if (cv->kind == CF_KIND_RATINGS) {
		if (o->scale) {
			char v[40];
			snprintf(v, sizeof v, "%.17g", o->smin);
			cf_schema_set(cv->schema, "rating_min", v);
			snprintf(v, sizeof v, "%.17g", o->smax);
			cf_schema_set(cv->schema, "rating_max", v);
		}
		cf_schema_set(cv->schema, "dups", cf_dups_name(o->dups));
	}
	return g.header;
}

/* Dies if the input is UTF-16 (not decoded) or has CR-only line ends. */
static void
check_text(const struct conv *cv, cf_csv *csv)
{
	int what = cf_csv_sniff(csv);

	if (what == CF_CSV_CR_ONLY)
		cf_die("%s:1: %s: convert them to LF first (tr '\\r' '\\n')", cv->fname,
		       cf_csv_sniff_name(what));
	if (what != CF_CSV_TEXT_OK)
		cf_die("%s:1: %s: use --encoding %s (or convert it: iconv -f %s -t utf-8)",
		       cv->fname, cf_csv_sniff_name(what), cf_csv_sniff_encoding(what),
		       cf_csv_sniff_encoding(what));
}

static void
convert(struct conv *cv, cf_csv *csv)
{
	const struct opts *o = cv->o;
	cf_csv_rec rec;
	int hold;

	if (!cf_csv_next(csv, &rec))
		cf_die("%s: %s", cv->fname, cf_empty_input(cv->fd));
	int header = setup(cv, &rec);
	if (cv->kind == CF_KIND_RATINGS)
		cv->dups = cf_dupset_new(o->dups, cv->has_ts, cv->fname);
	hold = cv->dups && cf_dupset_holds(cv->dups);
	if (!hold)
		cv->rb = cf_rowbuf_new(cv->w, cv->schema, CF_BLOCK_ROWS);
	if (!header)
		row(cv, &rec);
	while (cf_csv_next(csv, &rec))
		row(cv, &rec);
	if (hold) {
		cv->rb = cf_rowbuf_new(cv->w, cv->schema, CF_BLOCK_ROWS);
		cf_dupset_flush(cv->dups, emit_rating, cv);
	}
	cf_rowbuf_finish(cv->rb);

	for (int b = 0; b < NBAD; b++)
		if (cv->nbad[b])
			cf_warn("%s: dropped %llu row%s: %s", cv->fname,
			        (unsigned long long)cv->nbad[b], cv->nbad[b] == 1 ? "" : "s",
			        cv->reason[b]);
	uint64_t ndups = cv->dups ? cf_dupset_resolved(cv->dups) : 0;
	if (ndups && !o->quiet)
		cf_warn("%s: %llu duplicate (user, item) rating%s resolved by --dups %s",
		        cv->fname, (unsigned long long)ndups, ndups == 1 ? "" : "s",
		        cf_dups_name(o->dups));
	cf_dupset_free(cv->dups);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct conv cv;
	cf_outfile *of = NULL;
	const char *line;
	size_t len;
	int fd = 0;

	cf_setprog(argv[0]);
	parse_args(&o, argc, argv);
	if (o.quiet)
		cf_progress_quiet();
	memset(&cv, 0, sizeof cv);
	cv.o = &o;
	cv.fname = "stdin";
	if (o.in && strcmp(o.in, "-") != 0) {
		if ((fd = open(o.in, O_RDONLY)) < 0)
			cf_die("%s:", o.in);
		cv.fname = o.in;
	}
	cv.fd = fd;
	static cf_csv *csv;     /* static: reachable for LeakSanitizer if we die */
	csv = cf_csv_new(fd, cv.fname);
	if (o.encoding && cf_csv_set_encoding(csv, o.encoding) != 0)
		cf_die("%s", cf_csv_error(csv));
	cf_csv_set_quotes(csv, o.quotes);
	check_text(&cv, csv);
	if (!o.delim) {
		const char *d = cf_csv_peek_line(csv, &line, &len) ?
		                cf_csv_guess_delim(line, len) : ",";
		o.delim = cf_xstrdup(d);
		o.dlen = strlen(d);
	}
	cf_csv_set_delim(csv, o.delim, o.dlen);
	init_reasons(&cv);

	if (o.out)
		of = cf_outfile_open(o.out);
	cv.w = cf_writer_new(of ? of->fp : stdout, o.out ? o.out : "stdout");
	convert(&cv, csv);
	cf_writer_finish(cv.w);
	if (of)
		cf_outfile_commit(of);

	cf_csv_free(csv);
	if (fd != 0)
		close(fd);
	cf_schema_free(cv.schema);
	free(cv.role);
	free(cv.outcol);
	free(cv.strcol);
	free(cv.cbuf[0]);
	free(cv.cbuf[1]);
	free(o.delim);
	for (size_t k = 0; k < o.ncols; k++)
		free(o.cols[k]);
	free(o.cols);
	cf_close_stdout();
	return CF_EXIT_OK;
}
