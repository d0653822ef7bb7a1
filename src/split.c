/*
 * split - train/test splits of a ratings stream: train on stdout, test to
 * the file named by --test (written atomically).
 *
 * The ratings are held in memory (ratings.h, 20 bytes a row) and a one-byte
 * mark per row says which side it goes to; both outputs keep the input's
 * row order and carry the full dictionaries, so their indices agree.
 * Every random choice comes from one xoshiro256** stream seeded by --seed
 * and consumed in a fixed order, so a seed gives the same bytes every time.
 */
#include "frame.h"
#include "ratings.h"
#include "rng.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum mode { M_RATIO, M_PER_USER, M_TIME_CUT, M_TIME_RATIO, M_LAST, M_FOLDS, NMODES };

static const char *const mode_flag[NMODES] = {
	"--ratio", "--per-user", "--time-cut", "--time-ratio", "--last", "--folds",
};

struct opts {
	const char *test;       /* --test FILE */
	const char *input;      /* NULL: stdin */
	enum mode mode;
	unsigned modes;         /* bit per mode flag given */
	double ratio;           /* --ratio, --per-user, --time-ratio */
	long long cut;          /* --time-cut */
	uint64_t last;          /* --last */
	uint64_t min_train;
	int has_min_train;
	uint64_t folds, fold;
	int has_fold;
	uint64_t seed;
	int verbose;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: split -t TEST [-s SEED] [-v] [MODE] [FILE] > TRAIN\n"
	    "Splits the ratings of stdin (or FILE), raw or encoded, into a train set on\n"
	    "stdout and a test set in TEST.  Both are encoded streams sharing the full\n"
	    "users and items dictionaries; each keeps the input's row order.  The input\n"
	    "is one ratings stream: a ratings table (encoded: followed by its users and\n"
	    "items tables), and nothing more; another table or bytes after it are an\n"
	    "error naming their byte offset (split two streams one at a time).\n"
	    "\n"
	    "  -t, --test FILE      where the test set goes (required; written atomically)\n"
	    "  -s, --seed N         seed of the random modes (default 42)\n"
	    "  -v, --verbose        print the train and test row counts on stderr\n"
	    "\n"
	    "MODE, one of (default --ratio 0.2):\n"
	    "  -r, --ratio R        a random round(R*n) rows go to test (0 < R < 1)\n"
	    "      --per-user R     each user's round(R*n_u) random rows go to test\n"
	    "      --time-cut TS    rows with timestamp >= TS go to test\n"
	    "      --time-ratio R   the latest round(R*n) rows go to test\n"
	    "      --last N         each user's N latest rows go to test\n"
	    "      --folds K --fold I\n"
	    "                       K-fold: rows are dealt into K folds of sizes differing\n"
	    "                       by at most 1; fold I (0 <= I < K) is test.  The K\n"
	    "                       folds of one seed partition the input.\n"
	    "      --min-train M    with --per-user and --last: every user keeps at least\n"
	    "                       M rows in train (default 1)\n"
	    "\n"
	    "Time order is by timestamp, ties by input order (a later row is later).\n"
	    "The time modes need a timestamp column.\n"
	    "  -h, --help           this help;  -V, --version  the version\n");
}

/* ---------------------------------------------------------------- options */

static double
ratio_arg(const char *s, const char *flag)
{
	double v;

	if (cf_parse_double(s, &v) < 0 || !(v > 0 && v < 1))
		cf_usage_error(usage, "%s '%s': expected a number between 0 and 1, exclusive",
		               flag, s);
	return v;
}

static uint64_t
count_arg(const char *s, const char *flag, uint64_t lo, uint64_t hi)
{
	unsigned long long v;

	if (cf_parse_u64(s, &v) < 0 || v < lo || v > hi)
		cf_usage_error(usage, "%s '%s': expected a whole number from %llu to %llu",
		               flag, s, (unsigned long long)lo, (unsigned long long)hi);
	return v;
}

static void
set_mode(struct opts *o, enum mode m)
{
	o->mode = m;
	o->modes |= 1u << m;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_PER_USER = 256, O_TIME_CUT, O_TIME_RATIO, O_LAST, O_FOLDS, O_FOLD,
	       O_MIN_TRAIN };
	static const struct option lo[] = {
		{"test", 1, 0, 't'}, {"seed", 1, 0, 's'}, {"verbose", 0, 0, 'v'},
		{"ratio", 1, 0, 'r'}, {"per-user", 1, 0, O_PER_USER},
		{"time-cut", 1, 0, O_TIME_CUT}, {"time-ratio", 1, 0, O_TIME_RATIO},
		{"last", 1, 0, O_LAST}, {"folds", 1, 0, O_FOLDS}, {"fold", 1, 0, O_FOLD},
		{"min-train", 1, 0, O_MIN_TRAIN}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	unsigned long long u;
	int c, n;

	o->ratio = 0.2;
	o->seed = 42;
	o->min_train = 1;
	while ((c = getopt_long(argc, argv, "t:s:vr:hV", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->test = optarg; break;
		case 's':
			if (cf_parse_u64(optarg, &u) < 0)
				cf_usage_error(usage, "--seed '%s': expected a whole number "
				               "from 0 to 2^64-1", optarg);
			o->seed = u;
			break;
		case 'v': o->verbose = 1; break;
		case 'r': set_mode(o, M_RATIO); o->ratio = ratio_arg(optarg, "--ratio"); break;
		case O_PER_USER:
			set_mode(o, M_PER_USER);
			o->ratio = ratio_arg(optarg, "--per-user");
			break;
		case O_TIME_CUT:
			set_mode(o, M_TIME_CUT);
			if (cf_parse_i64(optarg, &o->cut) < 0)
				cf_usage_error(usage, "--time-cut '%s': expected a timestamp "
				               "(whole seconds since the epoch)", optarg);
			break;
		case O_TIME_RATIO:
			set_mode(o, M_TIME_RATIO);
			o->ratio = ratio_arg(optarg, "--time-ratio");
			break;
		case O_LAST:
			set_mode(o, M_LAST);
			o->last = count_arg(optarg, "--last", 1, UINT32_MAX);
			break;
		case O_FOLDS:
			set_mode(o, M_FOLDS);
			o->folds = count_arg(optarg, "--folds", 2, UINT32_MAX);
			break;
		case O_FOLD:
			o->fold = count_arg(optarg, "--fold", 0, UINT32_MAX);
			o->has_fold = 1;
			break;
		case O_MIN_TRAIN:
			o->min_train = count_arg(optarg, "--min-train", 0, UINT32_MAX);
			o->has_min_train = 1;
			break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->input = cf_one_operand(argc, argv, usage);
	if (!o->test)
		cf_usage_error(usage, "--test FILE is required: where the test set goes");
	n = 0;
	for (int m = 0; m < NMODES; m++)
		n += (o->modes >> m) & 1;
	if (n > 1)
		cf_usage_error(usage, "choose one mode: --ratio, --per-user, --time-cut, "
		               "--time-ratio, --last or --folds");
	if (o->mode == M_FOLDS && !o->has_fold)
		cf_usage_error(usage, "--folds needs --fold I: which fold is the test set");
	if (o->has_fold && o->mode != M_FOLDS)
		cf_usage_error(usage, "--fold needs --folds K");
	if (o->mode == M_FOLDS && o->fold >= o->folds)
		cf_usage_error(usage, "--fold %llu: expected 0 to %llu with --folds %llu",
		               (unsigned long long)o->fold, (unsigned long long)(o->folds - 1),
		               (unsigned long long)o->folds);
	if (o->has_min_train && o->mode != M_PER_USER && o->mode != M_LAST)
		cf_usage_error(usage, "--min-train goes with --per-user or --last");
}

/* --------------------------------------------------------------- helpers */

static size_t
round_share(double r, size_t n)
{
	/* round() is half away from zero: 0.5 * 3 rows -> 2. */
	return (size_t)round(r * (double)n);
}

/* Rows per user. */
static uint32_t *
user_counts(const cf_ratings *rs)
{
	uint32_t *c = cf_xcalloc(cf_idmap_count(rs->users), sizeof *c);

	for (size_t i = 0; i < rs->n; i++)
		c[rs->user[i]]++;
	return c;
}

/* How many of n_u rows a user may give to test, keeping min_train in train. */
static uint32_t
cap_share(uint64_t want, uint32_t n_u, uint64_t min_train)
{
	uint64_t room = n_u > min_train ? n_u - min_train : 0;

	return (uint32_t)(want < room ? want : room);
}

/* Digit d (16 bits) of timestamp t, ordered as signed numbers are. */
static unsigned
ts_digit(int64_t t, int d)
{
	return (unsigned)((((uint64_t)t ^ (1ULL << 63)) >> (16 * d)) & 0xffff);
}

/*
 * Row numbers in time order, ties in input order: a stable LSD radix sort
 * on the timestamp, 16 bits a pass, skipping digits every row shares (real
 * timestamps differ in the low 32 bits only, so usually two passes).
 */
static uint32_t *
time_order(const cf_ratings *rs)
{
	size_t n = rs->n, *cnt = cf_xmalloc(65536 * sizeof *cnt);
	uint32_t *a = cf_xmalloc(n * sizeof *a), *b = cf_xmalloc(n * sizeof *b), *t;

	for (size_t i = 0; i < n; i++)
		a[i] = (uint32_t)i;
	for (int d = 0; d < 4; d++) {
		size_t sum = 0;
		int skip = 0;
		memset(cnt, 0, 65536 * sizeof *cnt);
		for (size_t i = 0; i < n; i++)
			cnt[ts_digit(rs->ts[i], d)]++;
		for (unsigned k = 0; k < 65536; k++) {
			size_t c = cnt[k];
			if (c == n)
				skip = 1;
			cnt[k] = sum;
			sum += c;
		}
		if (skip)
			continue;
		for (size_t j = 0; j < n; j++)
			b[cnt[ts_digit(rs->ts[a[j]], d)]++] = a[j];
		t = a, a = b, b = t;
	}
	free(b);
	free(cnt);
	return a;
}

/* ----------------------------------------------------------------- modes */

/*
 * Each mode sets mark[i] = 1 for the test rows.  The random ones use
 * selection sampling (Knuth's algorithm S): row i is taken with chance
 * (still wanted) / (rows left), which yields exactly the wanted count, every
 * subset of that size equally likely, in one pass and no extra memory.
 */
static void
by_ratio(const cf_ratings *rs, double r, cf_rng *g, unsigned char *mark)
{
	size_t want = round_share(r, rs->n);

	for (size_t i = 0; i < rs->n && want > 0; i++) {
		if (cf_rng_below(g, rs->n - i) < want) {
			mark[i] = 1;
			want--;
		}
	}
}

static void
by_user_ratio(const cf_ratings *rs, double r, uint64_t min_train, cf_rng *g,
              unsigned char *mark)
{
	uint32_t *left = user_counts(rs), nu = cf_idmap_count(rs->users);
	uint32_t *want = cf_xmalloc((nu ? nu : 1) * sizeof *want);

	for (uint32_t u = 0; u < nu; u++)
		want[u] = cap_share(round_share(r, left[u]), left[u], min_train);
	/* Algorithm S run per user, interleaved in input order. */
	for (size_t i = 0; i < rs->n; i++) {
		uint32_t u = rs->user[i];
		if (want[u] > 0 && cf_rng_below(g, left[u]) < want[u]) {
			mark[i] = 1;
			want[u]--;
		}
		left[u]--;
	}
	free(left);
	free(want);
}

static void
by_time_cut(const cf_ratings *rs, long long cut, unsigned char *mark)
{
	for (size_t i = 0; i < rs->n; i++)
		mark[i] = rs->ts[i] >= cut;
}

static void
by_time_ratio(const cf_ratings *rs, double r, unsigned char *mark)
{
	uint32_t *ord = time_order(rs);
	size_t want = round_share(r, rs->n);

	for (size_t j = rs->n - want; j < rs->n; j++)
		mark[ord[j]] = 1;
	free(ord);
}

static void
by_last(const cf_ratings *rs, uint64_t last, uint64_t min_train, unsigned char *mark)
{
	uint32_t *want = user_counts(rs), nu = cf_idmap_count(rs->users);
	uint32_t *ord = time_order(rs);

	for (uint32_t u = 0; u < nu; u++)
		want[u] = cap_share(last, want[u], min_train);
	/* Walking back from the latest row, each user's first rows are its last. */
	for (size_t j = rs->n; j-- > 0;) {
		uint32_t i = ord[j];
		if (want[rs->user[i]] > 0) {
			mark[i] = 1;
			want[rs->user[i]]--;
		}
	}
	free(ord);
	free(want);
}

/*
 * K-fold: a seeded Fisher-Yates permutation deals the rows round-robin
 * into folds (position j goes to fold j mod K), so the fold sizes differ by
 * at most one and, for one seed and K, the folds partition the rows
 * whichever fold is asked for.
 */
static void
by_fold(const cf_ratings *rs, uint64_t k, uint64_t fold, cf_rng *g,
        unsigned char *mark)
{
	size_t n = rs->n;
	uint32_t *p = cf_xmalloc((n ? n : 1) * sizeof *p);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint32_t)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)cf_rng_below(g, i), t = p[i - 1];
		p[i - 1] = p[j];
		p[j] = (uint32_t)t;
	}
	for (size_t j = fold; j < n; j += k)
		mark[p[j]] = 1;
	free(p);
}

static void
need_ts(const cf_ratings *rs, const char *stream, const char *flag)
{
	if (!rs->has_ts)
		cf_die("%s: the 'ratings' table has no 'timestamp' column, which %s needs",
		       stream, flag);
}

static size_t
choose(const cf_ratings *rs, const struct opts *o, const char *stream,
       unsigned char *mark)
{
	cf_rng g;
	size_t ntest = 0;

	cf_rng_seed(&g, o->seed, 0);
	switch (o->mode) {
	case M_RATIO: by_ratio(rs, o->ratio, &g, mark); break;
	case M_PER_USER: by_user_ratio(rs, o->ratio, o->min_train, &g, mark); break;
	case M_TIME_CUT:
		need_ts(rs, stream, mode_flag[o->mode]);
		by_time_cut(rs, o->cut, mark);
		break;
	case M_TIME_RATIO:
		need_ts(rs, stream, mode_flag[o->mode]);
		by_time_ratio(rs, o->ratio, mark);
		break;
	case M_LAST:
		need_ts(rs, stream, mode_flag[o->mode]);
		by_last(rs, o->last, o->min_train, mark);
		break;
	case M_FOLDS: by_fold(rs, o->folds, o->fold, &g, mark); break;
	case NMODES: break;
	}
	for (size_t i = 0; i < rs->n; i++)
		ntest += mark[i];
	return ntest;
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	cf_ratings rs;
	cf_reader *r;
	cf_writer *w, *tw;
	cf_outfile *out;
	unsigned char *mark;
	size_t ntest;

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	r = o.input ? cf_reader_open_path(o.input) : cf_reader_open(0, "stdin");
	cf_ratings_read_input(r, &rs);
	mark = cf_xcalloc(rs.n ? rs.n : 1, 1);
	ntest = choose(&rs, &o, cf_reader_name(r), mark);
	cf_reader_close(r);

	/*
	 * Test goes to a temp file first and is renamed into place only after
	 * train is out: if anything fails, cf_die removes it, so no test file
	 * is left without its train.
	 */
	out = cf_outfile_open(o.test);
	tw = cf_writer_new(out->fp, o.test);
	cf_ratings_write_mask(tw, &rs, mark, 1);
	cf_writer_finish(tw);
	w = cf_writer_new(stdout, "stdout");
	cf_ratings_write_mask(w, &rs, mark, 0);
	cf_writer_finish(w);
	cf_outfile_commit(out);
	if (o.verbose)
		cf_warn("%zu train, %zu test", rs.n - ntest, ntest);
	free(mark);
	cf_ratings_free(&rs);
	cf_close_stdout();
	return CF_EXIT_OK;
}
