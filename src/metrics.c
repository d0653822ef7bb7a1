/*
 * metrics - evaluates predictions: RMSE and MAE of `mf-score --pairs`
 * output, or the top-k ranking metrics of recommendation lists (`topk`,
 * `mf-score --all --top N`) against held-out ratings (--truth).  The
 * computations are in src/lib/evalm.c; this is the command around them.
 */
#include "evalm.h"
#include "frame.h"
#include "out.h"
#include "ratings.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *input;      /* or NULL: stdin */
	const char *truth;      /* ranking mode when set */
	const char *train;
	unsigned long long catalogue;
	uint32_t k;
	int has_threshold;
	double threshold;
	int json;
	const char *metric;
};

/* One figure of the output: a name, an integer or a real, a note for people. */
struct fig {
	const char *name;
	int is_int;
	unsigned long long i;
	double d;
	const char *s;          /* a string figure */
	int json_only;          /* not in the table (its notes say it) */
	char note[160];
};

struct figs {
	struct fig f[16];
	size_t n;
};

static const char *const rating_names[] = {"n", "rmse", "mae", NULL};
static const char *const rank_names[] = {
	"k", "users", "precision", "recall", "ndcg", "map", "hit_rate", "mrr",
	"coverage", "recommended", "catalogue", "catalogue_from", "users_without_list",
	"lists", "threshold", NULL,
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: metrics [--json | --metric NAME] [FILE]\n"
"       metrics --truth TEST [--k K] [--threshold X] [--train TRAIN | --catalogue N]\n"
"               [--json | --metric NAME] [FILE]\n"
"Evaluates predictions read from stdin (or FILE), a cinefilter frame stream.\n"
"Every table of the input is read, all of the first one's kind: outputs\n"
"concatenated (cat a.bin b.bin | metrics) are evaluated as one, a user's\n"
"rows may span tables.  A table of another kind, or bytes that are no table,\n"
"are an error naming their byte offset.  TEST and TRAIN are each one\n"
"ratings stream (a ratings table, with its dictionaries if encoded), and\n"
"nothing more.\n"
"\n"
"Rating prediction (no --truth): the input is `mf-score --pairs` output, a\n"
"'scores' table with columns score and rating (the true rating), f32.\n"
"  n      rows evaluated\n"
"  rmse   sqrt(mean((score - rating)^2))\n"
"  mae    mean(|score - rating|)\n"
"\n"
"Ranking (--truth TEST): the input is recommendation lists: a 'topk' table\n"
"(user, item str; rank u32; from `topk N` or `mf-score --all --top N`), each\n"
"user's list in rank order, or a 'scores' table (user, item str; score f32),\n"
"each user's rows ordered by score, highest first; ties keep the input order.\n"
"Each list is cut at k.  TEST is the held-out ratings frame (raw or encoded).\n"
"A user's relevant items R are their held-out items rated >= X with\n"
"--threshold X, else all their held-out items.  For a list L (first k):\n"
"  hits         |L and R|, each relevant item counted once\n"
"  precision    hits / k  (a list shorter than k: its missing entries are misses)\n"
"  recall       hits / |R|\n"
"  ndcg         DCG / IDCG; DCG = sum over hits at rank r of 1/log2(r+1),\n"
"               IDCG = sum for r = 1 .. min(k, |R|) of 1/log2(r+1)\n"
"  map          mean of AP = (1/min(k, |R|)) * sum over hits at rank r of\n"
"               (hits at ranks <= r) / r\n"
"  hit_rate     fraction of users with at least one hit\n"
"  mrr          mean of 1 / (rank of the first hit), 0 without a hit\n"
"These are means over the users of TEST with at least one relevant item\n"
"(`users`); such a user with no list in the input scores 0 on all of them\n"
"(`users_without_list` counts them).  Lists of other users are not averaged\n"
"but count for coverage.  The lists are evaluated as given: excluding the\n"
"items a user saw in training is the list producer's job.\n"
"  coverage     distinct items in any user's top k (`recommended`) / the\n"
"               catalogue size (`catalogue`): N with --catalogue N, else the\n"
"               distinct items of TEST, of TRAIN (--train) and of the lists;\n"
"               the output says which (`catalogue_from`).  An N smaller than\n"
"               `recommended` is an error (exit 1): coverage is at most 1\n"
"\n"
"  -t, --truth FILE     held-out ratings: ranking mode\n"
"  -k, --k K            list length evaluated (default 10)\n"
"      --threshold X    relevant: held-out rating >= X (default: any held-out item)\n"
"      --train FILE     training ratings: their items join the catalogue\n"
"      --catalogue N    the catalogue size, given (>= the items recommended)\n"
"      --json           one JSON object: {\"n\", \"rmse\", \"mae\"} or {\"k\", \"users\",\n"
"                       \"precision\", \"recall\", \"ndcg\", \"map\", \"hit_rate\", \"mrr\",\n"
"                       \"coverage\", \"recommended\", \"catalogue\", \"catalogue_from\",\n"
"                       \"users_without_list\", \"lists\", \"threshold\"}; an undefined\n"
"                       value (NaN) is null\n"
"  -m, --metric NAME    print only that figure, a bare number (names as in --json;\n"
"                       rating names without --truth, ranking names with it)\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"Default output is an aligned table for people, one figure a line, with notes.\n"
"--metric prints the shortest form that reads back to the same double; --json\n"
"prints reals with 17 significant digits (exact).\n"
"Exit 1 with one line on stderr on bad input (not a frame, a wrong table or\n"
"column, no user with a relevant item, a catalogue smaller than the items\n"
"recommended); 2 on a usage error.\n"
"\n"
"  mf-score --pairs test.bin < model.bin | metrics --json\n"
"  mf-score --all --top 10 < model.bin | metrics --truth test.bin --k 10\n");
}

static int
known(const char *const *names, const char *n)
{
	for (; *names; names++)
		if (strcmp(*names, n) == 0)
			return 1;
	return 0;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_THRESHOLD = 256, O_TRAIN, O_CATALOGUE, O_JSON };
	static const struct option lo[] = {
		{"truth", 1, 0, 't'}, {"k", 1, 0, 'k'}, {"threshold", 1, 0, O_THRESHOLD},
		{"train", 1, 0, O_TRAIN}, {"catalogue", 1, 0, O_CATALOGUE},
		{"json", 0, 0, O_JSON}, {"metric", 1, 0, 'm'}, CF_STD_LONGOPTS,
		{0, 0, 0, 0},
	};
	unsigned long long u;
	int c;

	o->k = 10;
	while ((c = getopt_long(argc, argv, "t:k:m:hV", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->truth = optarg; break;
		case 'k':
			if (cf_parse_u64(optarg, &u) != 0 || u == 0 || u > 1000000)
				cf_usage_error(usage, "bad --k '%s': want an integer 1 .. 1000000", optarg);
			o->k = (uint32_t)u;
			break;
		case O_THRESHOLD:
			if (cf_parse_double(optarg, &o->threshold) != 0 || !isfinite(o->threshold))
				cf_usage_error(usage, "bad --threshold '%s': want a number", optarg);
			o->has_threshold = 1;
			break;
		case O_TRAIN: o->train = optarg; break;
		case O_CATALOGUE:
			if (cf_parse_u64(optarg, &o->catalogue) != 0 || o->catalogue == 0)
				cf_usage_error(usage, "bad --catalogue '%s': want a positive integer", optarg);
			break;
		case O_JSON: o->json = 1; break;
		case 'm': o->metric = optarg; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(0);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->input = cf_one_operand(argc, argv, usage);
	if (o->json && o->metric)
		cf_usage_error(usage, "--json and --metric exclude each other");
	if (!o->truth && (o->train || o->catalogue || o->has_threshold))
		cf_usage_error(usage, "--train, --catalogue and --threshold need --truth (ranking)");
	if (o->train && o->catalogue)
		cf_usage_error(usage, "--train and --catalogue exclude each other");
	if (o->metric && !known(o->truth ? rank_names : rating_names, o->metric)) {
		if (known(o->truth ? rating_names : rank_names, o->metric))
			cf_usage_error(usage, "--metric %s is a %s metric: %s", o->metric,
			               o->truth ? "rating" : "ranking",
			               o->truth ? "drop --truth" : "give --truth FILE");
		cf_usage_error(usage, "unknown --metric '%s'", o->metric);
	}
}

/* ---- output ---- */

static void
print_json(const struct fig *f, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++) {
		json_t *v;
		if (f[i].s)
			v = json_string(f[i].s);
		else if (f[i].is_int)
			v = json_integer((json_int_t)f[i].i);
		else
			v = isfinite(f[i].d) ? json_real(f[i].d) : json_null();
		if (!v || json_object_set_new(o, f[i].name, v) != 0)
			cf_die("out of memory building JSON");
	}
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
	    putchar('\n') == EOF)
		cf_write_failed("stdout");
	json_decref(o);
}

static void
print_table(const struct fig *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char b[64];
		if (f[i].json_only)
			continue;
		if (f[i].is_int)
			snprintf(b, sizeof b, "%llu", f[i].i);
		else if (isnan(f[i].d))
			snprintf(b, sizeof b, "nan");
		else
			snprintf(b, sizeof b, "%.6f", f[i].d);
		if (f[i].note[0])
			printf("%-18s %10s  %s\n", f[i].name, b, f[i].note);
		else
			printf("%-18s %10s\n", f[i].name, b);
	}
}

static void
print_one(const struct fig *f, size_t n, const char *name)
{
	char b[64];

	for (size_t i = 0; i < n; i++) {
		if (strcmp(f[i].name, name) != 0)
			continue;
		if (f[i].s)
			snprintf(b, sizeof b, "%s", f[i].s);
		else if (f[i].is_int)
			snprintf(b, sizeof b, "%llu", f[i].i);
		else
			cf_fmt_f64(b, sizeof b, f[i].d);   /* the shortest form */
		puts(b);
		return;
	}
}

static void
output(const struct opts *o, const struct figs *g)
{
	if (o->json)
		print_json(g->f, g->n);
	else if (o->metric)
		print_one(g->f, g->n, o->metric);
	else
		print_table(g->f, g->n);
}

/* Appends a figure; returns it (for its note). */
static struct fig *
fig(struct figs *g, const char *name)
{
	struct fig *f = &g->f[g->n++];

	f->name = name;
	return f;
}

static struct fig *
fig_int(struct figs *g, const char *name, unsigned long long v)
{
	struct fig *f = fig(g, name);

	f->is_int = 1;
	f->i = v;
	return f;
}

static struct fig *
fig_real(struct figs *g, const char *name, double v)
{
	struct fig *f = fig(g, name);

	f->d = v;
	return f;
}

/* ---- the two modes ---- */

static void
rating_figs(const cf_errm *e, struct figs *g)
{
	fig_int(g, "n", e->n);
	fig_real(g, "rmse", cf_errm_rmse(e));
	fig_real(g, "mae", cf_errm_mae(e));
}

static void
read_ratings(const char *path, cf_ratings *rs)
{
	cf_reader *r = cf_reader_open_path(path);

	cf_ratings_read_input(r, rs);
	cf_reader_close(r);
}

/* Evaluates the lists rc (read from the input) against --truth. */
static void
rank_mode(const struct opts *o, const cf_recs *rc, struct figs *g)
{
	cf_ratings truth, train;
	cf_rank_opts ro = {0};
	cf_rank_result res;
	char thr[48] = "";
	struct fig *f;

	read_ratings(o->truth, &truth);
	if (o->train)
		read_ratings(o->train, &train);
	ro.k = o->k;
	ro.has_threshold = o->has_threshold;
	ro.threshold = o->threshold;
	ro.train = o->train ? &train : NULL;
	ro.catalogue = o->catalogue;
	if (o->has_threshold)
		snprintf(thr, sizeof thr, " rated >= %g", o->threshold);
	int rc_eval = cf_eval_ranking(rc, &truth, &ro, &res);
	if (rc_eval == -2)
		cf_die("--catalogue %llu: the lists recommend %llu distinct items, more than "
		       "the catalogue holds", o->catalogue, (unsigned long long)res.recommended);
	if (rc_eval != 0)
		cf_die("%s: no user has a held-out item%s: nothing to average over",
		       o->truth, thr);

	fig_int(g, "k", res.k);
	f = fig_int(g, "users", res.users);
	snprintf(f->note, sizeof f->note, "users with a held-out item%s",
	         o->has_threshold ? thr : " (any rating)");
	fig_real(g, "precision", res.precision);
	fig_real(g, "recall", res.recall);
	fig_real(g, "ndcg", res.ndcg);
	fig_real(g, "map", res.map);
	fig_real(g, "hit_rate", res.hit_rate);
	fig_real(g, "mrr", res.mrr);
	f = fig_real(g, "coverage", res.coverage);
	snprintf(f->note, sizeof f->note, "recommended / catalogue");
	f = fig_int(g, "recommended", res.recommended);
	snprintf(f->note, sizeof f->note, "distinct items in the top-%u lists", res.k);
	f = fig_int(g, "catalogue", res.catalogue);
	snprintf(f->note, sizeof f->note, "items: %s", res.catalogue_from);
	f = fig(g, "catalogue_from");
	f->s = res.catalogue_from;      /* a static string */
	f->json_only = 1;
	f = fig_int(g, "users_without_list", res.users_no_list);
	snprintf(f->note, sizeof f->note, "of `users`: no list in the input, scored 0");
	f = fig_int(g, "lists", res.lists);
	snprintf(f->note, sizeof f->note, "users with a list (%llu not among `users`)",
	         (unsigned long long)res.lists_unmatched);
	f = fig_real(g, "threshold", o->has_threshold ? o->threshold : NAN);
	f->json_only = 1;               /* null: any held-out item is relevant */

	cf_ratings_free(&truth);
	if (o->train)
		cf_ratings_free(&train);
}

/*
 * Reads every table of the input, all of the first one's kind: the
 * recommendation lists into rc (ranking), or the errors into e.
 */
static void
read_input(cf_reader *r, const struct opts *o, cf_recs *rc, cf_errm *e)
{
	const cf_schema *s;
	char kind[64];
	int ntables = 0;

	if (cf_read_table(r, &s) == 0)
		cf_die("%s: %s: expected a 'scores' or 'topk' table", cf_reader_name(r),
		       cf_reader_empty(r));
	if (strcmp(s->name, "scores") != 0 && strcmp(s->name, "topk") != 0)
		cf_die("%s: byte %llu: expected a 'scores' or 'topk' table, found '%s'",
		       cf_reader_name(r), (unsigned long long)cf_reader_offset(r), s->name);
	snprintf(kind, sizeof kind, "%s", s->name);
	if (o->truth)
		cf_recs_read(r, s, rc);
	for (;;) {
		if (!o->truth)
			cf_errm_read(r, s, e);
		ntables++;
		/* The next table; a corrupt or truncated tail is reported, not scored. */
		if (cf_read_table(r, &s) != 1)
			break;
		if (strcmp(s->name, kind) != 0)
			cf_die("%s: byte %llu: a '%s' table after '%s' tables: every table of "
			       "the input is read, and all must be of one kind", cf_reader_name(r),
			       (unsigned long long)cf_reader_table_at(r), s->name, kind);
		if (o->truth)
			cf_recs_add_table(r, s, rc);
	}
	if (!o->truth && e->n == 0)
		cf_die("%s: the '%s' table%s no rows: nothing to evaluate", cf_reader_name(r),
		       kind, ntables > 1 ? "s have" : " has");
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	struct figs g = {0};
	cf_recs rc;
	cf_errm e = {0};
	static cf_reader *r;     /* static: reachable for LeakSanitizer if we die */

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	r = o.input ? cf_reader_open_path(o.input) : cf_reader_open(0, "stdin");
	read_input(r, &o, &rc, &e);
	cf_reader_close(r);
	if (o.truth) {
		rank_mode(&o, &rc, &g);
		cf_recs_free(&rc);
	} else {
		rating_figs(&e, &g);
	}
	output(&o, &g);
	cf_close_stdout();
	return 0;
}
