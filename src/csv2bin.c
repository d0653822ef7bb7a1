/*
 * csv2bin - delimited text (MovieLens CSV, ml-100k's u.data, ml-1m's
 * ratings.dat, any CSV) to a cinefilter frame stream.
 */
#include "csv.h"
#include "frame.h"
#include "idmap.h"
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

enum kind { K_AUTO = -1, K_RATINGS, K_MOVIES, K_LINKS, K_TAGS, K_GENERIC, NKINDS };
static const char *const kind_name[] = {"ratings", "movies", "links", "tags", "generic"};
/* What each kind needs, for messages. */
static const char *const kind_need[] = {
	"user,item,rating[,timestamp]", "item,title,genres", "item,imdb,tmdb",
	"user,item,tag[,timestamp]", "",
};

enum dups { D_LATEST, D_FIRST, D_LAST, D_MEAN, D_ERROR, D_KEEP, NDUPS };
static const char *const dups_name[] = {"latest", "first", "last", "mean", "error", "keep"};

enum role { R_SKIP, R_USER, R_ITEM, R_RATING, R_TS, R_TITLE, R_GENRES,
            R_IMDB, R_TMDB, R_TAG, R_OTHER, NROLES };

/* Column names (lower case) and the role they play. */
static const struct { const char *name; enum role role; } role_names[] = {
	{"userid", R_USER}, {"user_id", R_USER}, {"user", R_USER},
	{"movieid", R_ITEM}, {"movie_id", R_ITEM}, {"movie", R_ITEM},
	{"itemid", R_ITEM}, {"item_id", R_ITEM}, {"item", R_ITEM},
	{"rating", R_RATING}, {"timestamp", R_TS},
	{"title", R_TITLE}, {"genres", R_GENRES}, {"tag", R_TAG},
	{"imdbid", R_IMDB}, {"imdb_id", R_IMDB}, {"imdb", R_IMDB},
	{"tmdbid", R_TMDB}, {"tmdb_id", R_TMDB}, {"tmdb", R_TMDB},
};
/* Output column names of the known kinds, by role. */
static const char *const role_out[NROLES] = {
	[R_USER] = "user", [R_ITEM] = "item", [R_RATING] = "rating",
	[R_TS] = "timestamp", [R_TITLE] = "title", [R_GENRES] = "genres",
	[R_IMDB] = "imdb", [R_TMDB] = "tmdb", [R_TAG] = "tag",
};
/* Columns of each known kind in output order; R_TS is optional. */
static const enum role kind_roles[][5] = {
	[K_RATINGS] = {R_USER, R_ITEM, R_RATING, R_TS, R_SKIP},
	[K_MOVIES] = {R_ITEM, R_TITLE, R_GENRES, R_SKIP},
	[K_LINKS] = {R_ITEM, R_IMDB, R_TMDB, R_SKIP},
	[K_TAGS] = {R_USER, R_ITEM, R_TAG, R_TS, R_SKIP},
};

enum bad { B_MISSING, B_EXTRA, B_UNTERM, B_AFTERQ, B_EMPTY_USER, B_EMPTY_ITEM,
           B_RATING, B_NONFINITE, B_SCALE, B_TS, B_DUP, NBAD };

struct opts {
	char *delim;            /* NULL: guess */
	size_t dlen;
	int header;             /* 1 yes, 0 no, -1 auto */
	char **cols;            /* --columns */
	size_t ncols;
	int kind;
	const char *table;
	int raw_ids, lenient, quiet, quotes;
	int scale;
	double smin, smax;
	int dups;
	const char *out;
	const char *in;
};

/*
 * Duplicate detection.  Ids become 32-bit codes: an id that is a canonical
 * decimal below 2^31 is its own code (no lookup: MovieLens' ids), any other
 * id is interned and coded 2^31 + its index.  Each user (found through a
 * code -> index table, with a one-entry cache for runs of the same user)
 * has its own small open-addressing table of 8-byte slots
 *     item code << 32 | value,   all ones = empty,
 * where value is the line of the pair's first row (--dups first, error) or
 * the index of the pair's live held row (latest, last, mean).  Input
 * grouped by user, as MovieLens' is, then probes one small table that
 * stays in cache instead of one huge one.
 */
#define STRCODE 0x80000000u
#define EMPTY64 UINT64_MAX
struct uset {
	uint64_t *slot;
	uint32_t mask, n;       /* mask + 1 slots (0 before the first pair) */
};
struct pairs {
	struct uset *set;       /* by user index */
	size_t nset, setcap;
	uint64_t *umap;         /* user code << 32 | user index */
	size_t umask;
	uint32_t last_code, last_ix;
	int have_last;
	uint64_t n;             /* distinct pairs */
};

/* Rows held until the end (--dups latest, last, mean), in chunks. */
#define CHUNK_BITS 16
#define CHUNK ((size_t)1 << CHUNK_BITS)
#define DEAD UINT32_MAX
struct held {
	uint32_t **u, **i;
	float **r;
	int64_t **t;            /* if the input has timestamps */
	double **sum;           /* --dups mean */
	uint32_t **cnt;
	size_t nchunks, ccap;
	uint64_t n;
};

struct conv {
	const struct opts *o;
	const char *fname;
	int kind;
	size_t ninput;          /* fields per record */
	enum role *role;        /* per input column */
	int *outcol;            /* per input column: output column, or -1 */
	int col[NROLES];        /* input column of a role, or -1 */
	int has_ts;
	cf_schema *schema;
	cf_writer *w;
	cf_rowbuf *rb;
	char reason[NBAD][96];
	uint64_t nbad[NBAD];
	uint64_t ndups;
	char *cbuf[2];          /* canonical ids that need a copy ("-18") */
	size_t ccap[2];
	cf_idmap *users, *items;
	struct pairs pm;
	struct held h;
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
"  -q, --quiet          do not report how many duplicates were resolved\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"Memory: with --dups keep, rows stream through in constant memory.  first\n"
"and error stream too but remember every distinct (user, item) pair (about\n"
"14 bytes each).  latest, last and mean must hold every row until the input\n"
"ends, then write the survivors in input order (about 34 bytes a row, 46\n"
"with mean: some 850 MB for 25M ratings).\n",
		cf_progname);
}

/* ---------------------------------------------------------------- options */

static int
lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

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
	enum { O_HEADER = 256, O_RAW, O_DUPS, O_NOQUOTES };
	static const struct option longopts[] = {
		{"delimiter", 1, 0, 'd'}, {"header", 1, 0, O_HEADER},
		{"columns", 1, 0, 'c'}, {"kind", 1, 0, 'k'}, {"table", 1, 0, 't'},
		{"output", 1, 0, 'o'}, {"raw-ids", 0, 0, O_RAW},
		{"scale", 1, 0, 's'}, {"dups", 1, 0, O_DUPS},
		{"lenient", 0, 0, 'l'}, {"quiet", 0, 0, 'q'},
		{"no-quotes", 0, 0, O_NOQUOTES},
		CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	static const char *const header_names[] = {"no", "yes", "auto"};
	int c, i;
	long n;

	memset(o, 0, sizeof *o);
	o->header = -1;
	o->kind = K_AUTO;
	o->quotes = 1;
	o->scale = 1;
	o->smin = 0.5;
	o->smax = 5;
	o->dups = D_LATEST;
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
			if ((i = lookup(optarg, header_names, 3)) < 0)
				cf_usage_error(usage, "bad --header '%s': want yes, no or auto", optarg);
			o->header = i == 2 ? -1 : i;
			break;
		case 'c':
			parse_columns(o, optarg);
			break;
		case 'k':
			if ((o->kind = lookup(optarg, kind_name, NKINDS)) < 0)
				cf_usage_error(usage, "bad --kind '%s': want ratings, movies, links, tags or generic", optarg);
			break;
		case 't':
			if (!*optarg)
				cf_usage_error(usage, "bad --table: empty name");
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
			if ((o->dups = lookup(optarg, dups_name, NDUPS)) < 0)
				cf_usage_error(usage, "bad --dups '%s': want latest, first, last, mean, error or keep", optarg);
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
		case 'h':
			usage(stdout);
			cf_close_stdout();
			exit(CF_EXIT_OK);
		case 'V':
			cf_version();
		default:
			cf_usage_error(usage, "unknown option");
		}
	}
	if (argc - optind > 1)
		cf_usage_error(usage, "one input file at most");
	if (optind < argc)
		o->in = argv[optind];
}

/* ---------------------------------------------------------------- numbers */

static int isdig(char c) { return c >= '0' && c <= '9'; }

/* [+-]?(digits(.digits*)?|.digits)([eE][+-]?digits)? */
static int
is_decimal(const char *p, size_t n)
{
	size_t i = 0, d = 0;

	if (i < n && (p[i] == '+' || p[i] == '-'))
		i++;
	while (i < n && isdig(p[i]))
		i++, d++;
	if (i < n && p[i] == '.')
		for (i++; i < n && isdig(p[i]); i++)
			d++;
	if (d == 0)
		return 0;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t e = 0;
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		while (i < n && isdig(p[i]))
			i++, e++;
		if (e == 0)
			return 0;
	}
	return i == n;
}

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
	if (!is_decimal(p, n))
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
	if (!is_decimal(p, n))
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

/*
 * The canonical form of an id: [+-]?digits(.0*)? becomes the integer in
 * decimal (no '+', no leading zeros, no ".0", "-0" is "0"); anything else
 * is kept as it is.  Sets *op, *on (into p, or into *buf for "-18").
 */
static void
canon_id(const char *p, size_t n, char **buf, size_t *cap, const char **op, size_t *on)
{
	size_t i = 0, ds, de;
	int neg = 0;

	*op = p;
	*on = n;
	if (i < n && (p[i] == '+' || p[i] == '-'))
		neg = p[i++] == '-';
	for (ds = i; i < n && isdig(p[i]); i++)
		;
	de = i;
	if (de == ds)
		return;
	if (i < n) {
		if (p[i] != '.')
			return;
		for (i++; i < n && p[i] == '0'; i++)
			;
		if (i != n)
			return;
	}
	while (de - ds > 1 && p[ds] == '0')
		ds++;
	if (de - ds == 1 && p[ds] == '0')
		neg = 0;
	if (!neg) {
		*op = p + ds;
		*on = de - ds;
		return;
	}
	cf_grow((void **)buf, cap, de - ds + 1, 1);
	(*buf)[0] = '-';
	memcpy(*buf + 1, p + ds, de - ds);
	*op = *buf;
	*on = de - ds + 1;
}

/* ---------------------------------------------------------------- bad rows */

/* A value for a message: quoted, control bytes escaped, at most 40 bytes. */
static const char *
show(const char *p, size_t n)
{
	static char s[200];
	size_t k = 0;

	s[k++] = '\'';
	for (size_t i = 0; i < n && i < 40; i++) {
		unsigned char ch = (unsigned char)p[i];
		if (ch < 0x20 || ch == 0x7f)
			k += (size_t)snprintf(s + k, 5, "\\x%02x", ch);
		else
			s[k++] = (char)ch;
	}
	s[k++] = '\'';
	if (n > 40)
		k += (size_t)snprintf(s + k, 6, "...");
	s[k] = '\0';
	return s;
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
	};
	for (int b = 0; b < NBAD; b++)
		snprintf(cv->reason[b], sizeof cv->reason[b], "%s", text[b] ? text[b] : "");
	snprintf(cv->reason[B_SCALE], sizeof cv->reason[B_SCALE],
	         "rating off the scale [%g, %g]", cv->o->smin, cv->o->smax);
}

/* ---------------------------------------------------------------- pairs */

static uint32_t
id_code(cf_idmap *m, const char *p, size_t n)
{
	if (n >= 1 && n <= 10 && (p[0] != '0' || n == 1)) {
		uint64_t v = 0;
		size_t k;
		for (k = 0; k < n && isdig(p[k]); k++)
			v = v * 10 + (uint64_t)(p[k] - '0');
		if (k == n && v < STRCODE)
			return (uint32_t)v;
	}
	uint32_t ix = cf_idmap_intern(m, p, n, NULL);
	if (ix >= STRCODE - 1)
		cf_die("more than %u distinct non-numeric ids", STRCODE - 2);
	return STRCODE | ix;
}

/* The id of a code; buf holds at least 12 bytes. */
static const char *
id_str(const cf_idmap *m, uint32_t code, char *buf, size_t *len)
{
	char *p = buf + 12;

	if (code & STRCODE)
		return cf_idmap_id(m, code & ~STRCODE, len);
	do {
		*--p = (char)('0' + code % 10);
		code /= 10;
	} while (code);
	*len = (size_t)(buf + 12 - p);
	return p;
}

static uint64_t *
slots_new(size_t n)
{
	uint64_t *p = cf_xmalloc(n * sizeof *p);

	memset(p, 0xff, n * sizeof *p);
	return p;
}

static void
pairs_init(struct pairs *m)
{
	memset(m, 0, sizeof *m);
	m->umask = 1023;
	m->umap = slots_new(m->umask + 1);
}

static void
pairs_free(struct pairs *m)
{
	for (size_t k = 0; k < m->nset; k++)
		free(m->set[k].slot);
	free(m->set);
	free(m->umap);
}

/* The index of the user with this code (a new one if unseen). */
static uint32_t
user_index(struct pairs *m, uint32_t code)
{
	size_t j;

	if (m->have_last && m->last_code == code)
		return m->last_ix;
	for (j = (size_t)cf_hash_u64(code) & m->umask; m->umap[j] != EMPTY64;
	     j = (j + 1) & m->umask) {
		if ((uint32_t)(m->umap[j] >> 32) == code) {
			m->have_last = 1;
			m->last_code = code;
			return m->last_ix = (uint32_t)m->umap[j];
		}
	}
	if (m->nset >= UINT32_MAX - 1)
		cf_die("more than %u distinct users", UINT32_MAX - 2);
	uint32_t ix = (uint32_t)m->nset;
	cf_grow((void **)&m->set, &m->setcap, m->nset + 1, sizeof *m->set);
	m->set[m->nset++] = (struct uset){NULL, 0, 0};
	m->umap[j] = (uint64_t)code << 32 | ix;
	if (m->nset * 4 > (m->umask + 1) * 3) {        /* load 0.75: double */
		size_t on = m->umask + 1;
		uint64_t *old = m->umap;
		m->umask = on * 2 - 1;
		m->umap = slots_new(on * 2);
		for (size_t k = 0; k < on; k++) {
			if (old[k] == EMPTY64)
				continue;
			for (j = (size_t)cf_hash_u64(old[k] >> 32) & m->umask; m->umap[j] != EMPTY64;
			     j = (j + 1) & m->umask)
				;
			m->umap[j] = old[k];
		}
		free(old);
	}
	m->have_last = 1;
	m->last_code = code;
	return m->last_ix = ix;
}

/*
 * The slot of (user, item): *found = 1 if the pair was there; else the pair
 * is added with value 0 and the caller sets the value (the low 32 bits).
 */
static uint64_t *
pair_slot(struct pairs *m, uint32_t ucode, uint32_t item, int *found)
{
	uint32_t ux = user_index(m, ucode);   /* may move m->set */
	struct uset *u = &m->set[ux];
	size_t j;

	if (u->slot == NULL || (u->n + 1) * 4 > (u->mask + 1) * 3) {
		size_t on = u->slot ? (size_t)u->mask + 1 : 0, nn = on ? on * 2 : 8;
		uint64_t *old = u->slot;
		if (nn - 1 > UINT32_MAX)
			cf_die("out of memory: too many items for one user");
		u->slot = slots_new(nn);
		u->mask = (uint32_t)(nn - 1);
		for (size_t k = 0; k < on; k++) {
			if (old[k] == EMPTY64)
				continue;
			for (j = (size_t)cf_hash_u64(old[k] >> 32) & u->mask; u->slot[j] != EMPTY64;
			     j = (j + 1) & u->mask)
				;
			u->slot[j] = old[k];
		}
		free(old);
	}
	for (j = (size_t)cf_hash_u64(item) & u->mask; u->slot[j] != EMPTY64; j = (j + 1) & u->mask) {
		if ((uint32_t)(u->slot[j] >> 32) == item) {
			*found = 1;
			return &u->slot[j];
		}
	}
	u->slot[j] = (uint64_t)item << 32;
	u->n++;
	m->n++;
	*found = 0;
	return &u->slot[j];
}

/* ---------------------------------------------------------------- held rows */

#define AT(arr, r) ((arr)[(r) >> CHUNK_BITS][(r) & (CHUNK - 1)])

static uint32_t
held_add(struct conv *cv, uint32_t u, uint32_t i, float r, int64_t t)
{
	struct held *h = &cv->h;
	uint64_t k = h->n;

	if (k == UINT32_MAX)
		cf_die("%s: more than %lu ratings to hold; use --dups keep",
		       cv->fname, (unsigned long)UINT32_MAX - 1);
	if ((k & (CHUNK - 1)) == 0) {
		size_t c = h->nchunks;
		if (c == h->ccap) {
			size_t cap = h->ccap;
			cf_grow((void **)&h->u, &cap, c + 1, sizeof *h->u);
			cap = h->ccap;
			cf_grow((void **)&h->i, &cap, c + 1, sizeof *h->i);
			cap = h->ccap;
			cf_grow((void **)&h->r, &cap, c + 1, sizeof *h->r);
			cap = h->ccap;
			cf_grow((void **)&h->t, &cap, c + 1, sizeof *h->t);
			cap = h->ccap;
			cf_grow((void **)&h->sum, &cap, c + 1, sizeof *h->sum);
			cap = h->ccap;
			cf_grow((void **)&h->cnt, &cap, c + 1, sizeof *h->cnt);
			h->ccap = cap;
		}
		h->u[c] = cf_xmalloc(CHUNK * sizeof **h->u);
		h->i[c] = cf_xmalloc(CHUNK * sizeof **h->i);
		h->r[c] = cf_xmalloc(CHUNK * sizeof **h->r);
		h->t[c] = cv->has_ts ? cf_xmalloc(CHUNK * sizeof **h->t) : NULL;
		h->sum[c] = cv->o->dups == D_MEAN ? cf_xmalloc(CHUNK * sizeof **h->sum) : NULL;
		h->cnt[c] = cv->o->dups == D_MEAN ? cf_xmalloc(CHUNK * sizeof **h->cnt) : NULL;
		h->nchunks++;
	}
	AT(h->u, k) = u;
	AT(h->i, k) = i;
	AT(h->r, k) = r;
	if (cv->has_ts)
		AT(h->t, k) = t;
	if (cv->o->dups == D_MEAN) {
		AT(h->sum, k) = r;
		AT(h->cnt, k) = 1;
	}
	h->n++;
	return (uint32_t)k;
}

static void
held_write(struct conv *cv)
{
	struct held *h = &cv->h;
	int mean = cv->o->dups == D_MEAN;

	for (uint64_t k = 0; k < h->n; k++) {
		uint32_t u = AT(h->u, k);
		size_t len;
		const char *id;
		char buf[12];
		float r;
		if (u == DEAD)
			continue;
		id = id_str(cv->users, u, buf, &len);
		cf_rowbuf_str(cv->rb, 0, id, len);
		id = id_str(cv->items, AT(h->i, k), buf, &len);
		cf_rowbuf_str(cv->rb, 1, id, len);
		r = AT(h->r, k);
		if (mean && AT(h->cnt, k) > 1)
			r = (float)(AT(h->sum, k) / AT(h->cnt, k));
		cf_rowbuf_f32(cv->rb, 2, r);
		if (cv->has_ts)
			cf_rowbuf_i64(cv->rb, 3, AT(h->t, k));
		cf_rowbuf_end_row(cv->rb);
	}
	for (size_t c = 0; c < h->nchunks; c++) {
		free(h->u[c]);
		free(h->i[c]);
		free(h->r[c]);
		free(h->t[c]);
		free(h->sum[c]);
		free(h->cnt[c]);
	}
	free(h->u);
	free(h->i);
	free(h->r);
	free(h->t);
	free(h->sum);
	free(h->cnt);
}

/* ---------------------------------------------------------------- rows */

static void
emit_rating(struct conv *cv, const char *u, size_t ul, const char *i, size_t il,
            float r, int64_t t)
{
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
	const cf_csv_field *U = &rec->f[cv->col[R_USER]], *I = &rec->f[cv->col[R_ITEM]];
	const cf_csv_field *R = &rec->f[cv->col[R_RATING]];
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
		const cf_csv_field *T = &rec->f[cv->col[R_TS]];
		if (parse_ts(T->p, T->len, &t) != 0)
			BAD(cv, rec->line, B_TS, show(T->p, T->len));
	}
	if (!o->raw_ids) {
		canon_id(u, ul, &cv->cbuf[0], &cv->ccap[0], &u, &ul);
		canon_id(i, il, &cv->cbuf[1], &cv->ccap[1], &i, &il);
	}
	if (o->dups == D_KEEP)
		EMIT(cv, u, ul, i, il, r, t);

	uint32_t uc = id_code(cv->users, u, ul), ic = id_code(cv->items, i, il);
	int found;
	uint64_t *slot = pair_slot(&cv->pm, uc, ic, &found);
	uint32_t old = (uint32_t)*slot, line32;
	struct held *h = &cv->h;

	switch (o->dups) {
	case D_FIRST:
		if (found) {
			cv->ndups++;
			return;
		}
		EMIT(cv, u, ul, i, il, r, t);
	case D_ERROR:
		if (found) {
			char d[64];
			snprintf(d, sizeof d, "(first on line %lu)", (unsigned long)old);
			BAD(cv, rec->line, B_DUP, old != UINT32_MAX ? d : NULL);
		}
		line32 = rec->line < UINT32_MAX ? (uint32_t)rec->line : UINT32_MAX;
		*slot |= line32;
		EMIT(cv, u, ul, i, il, r, t);
	case D_LATEST:
	case D_LAST:
		if (found) {
			cv->ndups++;
			if (o->dups == D_LATEST && cv->has_ts && t < AT(h->t, old))
				return;
			AT(h->u, old) = DEAD;
		}
		*slot = (uint64_t)ic << 32 | held_add(cv, uc, ic, r, t);
		return;
	case D_MEAN:
		if (found) {
			cv->ndups++;
			AT(h->sum, old) += r;
			AT(h->cnt, old)++;
			if (cv->has_ts && t > AT(h->t, old))
				AT(h->t, old) = t;
			return;
		}
		*slot = (uint64_t)ic << 32 | held_add(cv, uc, ic, r, t);
		return;
	}
}

/* movies, links, tags and generic tables: strings (and a timestamp). */
static void
other_row(struct conv *cv, const cf_csv_rec *rec)
{
	int64_t t = 0;

	if (cv->kind != K_GENERIC) {
		if (cv->col[R_USER] >= 0 && rec->f[cv->col[R_USER]].len == 0)
			BAD(cv, rec->line, B_EMPTY_USER, NULL);
		if (rec->f[cv->col[R_ITEM]].len == 0)
			BAD(cv, rec->line, B_EMPTY_ITEM, NULL);
		if (cv->has_ts) {
			const cf_csv_field *T = &rec->f[cv->col[R_TS]];
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
		if (cv->role[k] == R_TS) {
			cf_rowbuf_i64(cv->rb, oc, t);
			continue;
		}
		if (!cv->o->raw_ids && (cv->role[k] == R_USER || cv->role[k] == R_ITEM))
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
	if (cv->kind == K_RATINGS)
		rating_row(cv, rec);
	else
		other_row(cv, rec);
}

/* ---------------------------------------------------------------- setup */

static enum role
role_of(const char *p, size_t n)
{
	for (size_t k = 0; k < sizeof role_names / sizeof role_names[0]; k++)
		if (strlen(role_names[k].name) == n && strncasecmp(p, role_names[k].name, n) == 0)
			return role_names[k].role;
	return R_OTHER;
}

/* The known kind the roles make, or K_GENERIC. */
static int
kind_of(const enum role *role, size_t n)
{
	int count[NROLES] = {0};

	for (size_t k = 0; k < n; k++)
		count[role[k]]++;
	for (int kind = 0; kind < K_GENERIC; kind++) {
		int ok = 1, want[NROLES] = {0};
		for (const enum role *r = kind_roles[kind]; *r != R_SKIP; r++)
			want[*r] = 1;
		for (int r = R_USER; r < NROLES; r++) {
			if (count[r] > 1 || (count[r] && !want[r]) ||
			    (!count[r] && want[r] && r != R_TS))
				ok = 0;
		}
		if (ok)
			return kind;
	}
	return K_GENERIC;
}

static int
all_numeric(const cf_csv_rec *r)
{
	for (size_t k = 0; k < r->nfields && k < CF_CSV_MAX_FIELDS; k++)
		if (!is_decimal(r->f[k].p, r->f[k].len))
			return 0;
	return 1;
}

/* Decides the kind and the columns from the first record; 1 if it is a header. */
static int
setup(struct conv *cv, const cf_csv_rec *first)
{
	const struct opts *o = cv->o;
	int header = o->header >= 0 ? o->header : !all_numeric(first);
	size_t n = o->ncols ? o->ncols : first->nfields;
	int named = o->ncols > 0 || header;

	if (first->err)
		cf_die("%s:%llu: %s", cv->fname, (unsigned long long)first->line, first->err);
	if (n > MAX_COLUMNS)
		cf_die("%s:%llu: more than %d columns", cv->fname,
		       (unsigned long long)first->line, MAX_COLUMNS);
	cv->ninput = n;
	cv->role = cf_xcalloc(n, sizeof *cv->role);
	cv->outcol = cf_xcalloc(n, sizeof *cv->outcol);
	for (size_t k = 0; k < n; k++) {
		if (o->ncols)
			cv->role[k] = strcmp(o->cols[k], "_") == 0 ? R_SKIP :
			              role_of(o->cols[k], strlen(o->cols[k]));
		else if (header)
			cv->role[k] = role_of(first->f[k].p, first->f[k].len);
		else
			cv->role[k] = R_OTHER;
	}
	if (o->kind == K_GENERIC) {
		cv->kind = K_GENERIC;
	} else if (named) {
		cv->kind = kind_of(cv->role, n);
		if (o->kind != K_AUTO && cv->kind != o->kind) {
			char cols[200];
			size_t at = 0;
			for (size_t k = 0; k < n && at < sizeof cols - 5; k++) {
				const char *p = o->ncols ? o->cols[k] : first->f[k].p;
				size_t l = o->ncols ? strlen(p) : first->f[k].len;
				at += (size_t)snprintf(cols + at, sizeof cols - at, "%s%.*s",
				                       k ? "," : "", (int)(l > 40 ? 40 : l), p);
			}
			cf_die("%s:%llu: columns %s do not make a %s table (need %s); use --columns",
			       cv->fname, (unsigned long long)first->line, show(cols, strlen(cols)),
			       kind_name[o->kind], kind_need[o->kind]);
		}
	} else {
		/* Headerless, no --columns: the kind's columns in their usual order. */
		int kind = o->kind;
		if (kind == K_AUTO)
			kind = (n == 3 || n == 4) && all_numeric(first) ? K_RATINGS : K_GENERIC;
		if (kind != K_GENERIC) {
			size_t need = 0;
			while (kind_roles[kind][need] != R_SKIP)
				need++;
			if (n != need && !(kind_roles[kind][need - 1] == R_TS && n == need - 1))
				cf_die("%s:%llu: a headerless %s file has the columns %s, found %zu fields; use --columns",
				       cv->fname, (unsigned long long)first->line, kind_name[kind],
				       kind_need[kind], n);
			for (size_t k = 0; k < n; k++)
				cv->role[k] = kind_roles[kind][k];
		}
		cv->kind = kind;
	}

	/* The output schema. */
	cv->schema = cf_schema_new(o->table ? o->table :
	                           cv->kind == K_GENERIC ? "table" : kind_name[cv->kind]);
	for (int r = 0; r < NROLES; r++)
		cv->col[r] = -1;
	if (cv->kind == K_GENERIC) {
		int oc = 0;
		for (size_t k = 0; k < n; k++) {
			char name[32], *nm;
			cv->outcol[k] = -1;
			if (cv->role[k] == R_SKIP)
				continue;
			if (o->ncols) {
				nm = cf_xstrdup(o->cols[k]);
			} else if (header && first->f[k].len > 0) {
				nm = cf_xmalloc(first->f[k].len + 1);
				memcpy(nm, first->f[k].p, first->f[k].len);
				nm[first->f[k].len] = '\0';
			} else {
				snprintf(name, sizeof name, "c%zu", k + 1);
				nm = cf_xstrdup(name);
			}
			cv->outcol[k] = cf_schema_add(cv->schema, nm, CF_STR, 1);
			cv->role[k] = R_OTHER;
			free(nm);
			oc++;
		}
		if (oc == 0)
			cf_die("%s: no columns to write", cv->fname);
	} else {
		for (size_t k = 0; k < n; k++) {
			cv->outcol[k] = -1;
			if (cv->role[k] != R_SKIP)
				cv->col[cv->role[k]] = (int)k;
		}
		cv->has_ts = cv->col[R_TS] >= 0;
		for (const enum role *r = kind_roles[cv->kind]; *r != R_SKIP; r++) {
			if (cv->col[*r] < 0)
				continue;
			cv->outcol[cv->col[*r]] = cf_schema_add(cv->schema, role_out[*r],
			        *r == R_TS ? CF_I64 : *r == R_RATING ? CF_F32 : CF_STR, 1);
		}
	}
	if (cv->kind == K_RATINGS) {
		if (o->scale) {
			char v[40];
			snprintf(v, sizeof v, "%.17g", o->smin);
			cf_schema_set(cv->schema, "rating_min", v);
			snprintf(v, sizeof v, "%.17g", o->smax);
			cf_schema_set(cv->schema, "rating_max", v);
		}
		cf_schema_set(cv->schema, "dups", dups_name[o->dups]);
	}
	return header;
}

static void
convert(struct conv *cv, cf_csv *csv)
{
	const struct opts *o = cv->o;
	cf_csv_rec rec;
	int hold;

	if (!cf_csv_next(csv, &rec))
		cf_die("%s: empty input", cv->fname);
	int header = setup(cv, &rec);
	hold = cv->kind == K_RATINGS &&
	       (o->dups == D_LATEST || o->dups == D_LAST || o->dups == D_MEAN);
	if (cv->kind == K_RATINGS && o->dups != D_KEEP) {
		cv->users = cf_idmap_new();
		cv->items = cf_idmap_new();
		pairs_init(&cv->pm);
	}
	if (!hold)
		cv->rb = cf_rowbuf_new(cv->w, cv->schema, CF_BLOCK_ROWS);
	if (!header)
		row(cv, &rec);
	while (cf_csv_next(csv, &rec))
		row(cv, &rec);
	if (hold) {
		cv->rb = cf_rowbuf_new(cv->w, cv->schema, CF_BLOCK_ROWS);
		held_write(cv);
	}
	cf_rowbuf_finish(cv->rb);

	for (int b = 0; b < NBAD; b++)
		if (cv->nbad[b])
			cf_warn("%s: dropped %llu row%s: %s", cv->fname,
			        (unsigned long long)cv->nbad[b], cv->nbad[b] == 1 ? "" : "s",
			        cv->reason[b]);
	if (cv->ndups && !o->quiet)
		cf_warn("%s: %llu duplicate (user, item) rating%s resolved by --dups %s",
		        cv->fname, (unsigned long long)cv->ndups, cv->ndups == 1 ? "" : "s",
		        dups_name[o->dups]);
	if (cv->users) {
		cf_idmap_free(cv->users);
		cf_idmap_free(cv->items);
		pairs_free(&cv->pm);
	}
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
	memset(&cv, 0, sizeof cv);
	cv.o = &o;
	cv.fname = "stdin";
	if (o.in && strcmp(o.in, "-") != 0) {
		if ((fd = open(o.in, O_RDONLY)) < 0)
			cf_die("%s:", o.in);
		cv.fname = o.in;
	}
	cf_csv *csv = cf_csv_new(fd, cv.fname);
	if (!o.delim) {
		const char *d = cf_csv_peek_line(csv, &line, &len) ?
		                cf_csv_guess_delim(line, len) : ",";
		o.delim = cf_xstrdup(d);
		o.dlen = strlen(d);
	}
	cf_csv_set_delim(csv, o.delim, o.dlen);
	cf_csv_set_quotes(csv, o.quotes);
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
	free(cv.cbuf[0]);
	free(cv.cbuf[1]);
	free(o.delim);
	for (size_t k = 0; k < o.ncols; k++)
		free(o.cols[k]);
	free(o.cols);
	cf_close_stdout();
	return CF_EXIT_OK;
}
