/*
 * mf-score - scores with a trained model (read on stdin, mmapped when a
 * file): (user, item) pairs of a ratings frame, one user's items, every
 * user's top N, an item's nearest items, new users folded in, and why an
 * item was recommended.  The scoring itself is src/lib/score.c, shared
 * with the server; this file parses flags, maps raw ids and writes frames.
 */
#include "frame.h"
#include "itemfeat.h"
#include "timefeat.h"
#include "meta.h"
#include "model.h"
#include "ratings.h"
#include "score.h"
#include "util.h"

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum mode { M_NONE, M_PAIRS, M_USER, M_ALL, M_SIMILAR, M_FOLDIN };

struct opts {
	enum mode mode;
	int nmodes;
	const char *frame;      /* --pairs / --fold-in FRAME */
	char **ids;             /* --user / --similar IDs */
	size_t nids;
	size_t top;
	int has_top;
	int include_seen, explain;
	size_t because;         /* --because N: history items per explanation; 0 all */
	const char *exclude;
	int threads;
	uint32_t shard, nshards;        /* --shard I/N; nshards 0: none */
	double reg, reg_bias;
	int has_reg, has_reg_bias;
	const char *items;      /* --items MOVIES: new items' genres and years (fm) */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mf-score MODE [-n N] [options] < MODEL > SCORES\n"
	    "Scores with a trained model (mf-fit's output) read on stdin.  Ids on the\n"
	    "command line and in output frames are raw ids (as in the CSV files).\n"
	    "The model stream ends after its 'seen' table ('neighbors' for ease and\n"
	    "rp3b, its last part's for a blend; fm's may add 'item_features'):\n"
	    "anything after it (another table, other bytes) is an error naming its\n"
	    "byte offset, as is a model whose mu, biases, factors or seen ratings are\n"
	    "NaN or infinite.  A FRAME of --pairs or --fold-in is one ratings stream\n"
	    "(a ratings table, with its users and items dictionaries if encoded), and\n"
	    "nothing more.\n"
	    "\n"
	    "MODE, one of:\n"
	    "  -p, --pairs FRAME    the prediction for each (user, item) row of a ratings\n"
	    "                       frame (raw, or encoded with its own dictionaries, such\n"
	    "                       as split's test set), clipped to the rating scale;\n"
	    "                       table 'scores': user, item, score, rating (the true\n"
	    "                       one), in input order.  A user or item the model does\n"
	    "                       not know falls back to the biases (mu + bi, mu + bu,\n"
	    "                       or mu); how many did is said in one line on stderr\n"
	    "      --items MOVIES   with --pairs, an fm model trained with --items: an\n"
	    "                       item not in the model but in MOVIES (movies.csv or\n"
	    "                       its csv2bin frame) is scored from its genres and year\n"
	    "                       as the model scores an item with no ratings, and,\n"
	    "                       with the raters group, the raters block a rated item\n"
	    "                       has on average: mu + bu + its features' biases and\n"
	    "                       pairwise terms + p.(sum of its features' vectors)\n"
	    "                       (the model's 'item_features'); genres and years no\n"
	    "                       training item had add nothing\n"
	    "  -u, --user ID        a score for every item user ID has not seen (may be\n"
	    "                       repeated); an unknown user is an error\n"
	    "  -a, --all            every user, seen items excluded.  With --top, the top\n"
	    "                       N is selected inside blocked matrix products (nothing\n"
	    "                       of size users x items is held); without, every score\n"
	    "                       is written (big: a warning says how big)\n"
	    "  -s, --similar ITEM   the items nearest ITEM by cosine of their factor\n"
	    "                       vectors, ITEM left out (may be repeated; default top\n"
	    "                       10); table 'similar': query (ITEM), item (the\n"
	    "                       similar one, so join-meta names it), score, rank\n"
	    "  -f, --fold-in FRAME  recommendations for users not in the model from a few\n"
	    "                       of their ratings (a ratings frame; several users\n"
	    "                       allowed): their factors are solved against the fixed\n"
	    "                       item factors (the ALS user step; no retraining); items\n"
	    "                       they rated are excluded; default top 10\n"
	    "\n"
	    "Options:\n"
	    "  -n, --top N          keep each user's best N: table 'topk' (user, item,\n"
	    "                       score, rank), as topk(1) writes\n"
	    "      --include-seen   keep the items a user has seen (--user, --all)\n"
	    "      --exclude FILE   items never to recommend (--user, --fold-in): one raw\n"
	    "                       id a line, or a frame: the items of every table in\n"
	    "                       it, each table with an item column\n"
	    "  -e, --explain        with --top and --user or --fold-in: after the 'topk'\n"
	    "                       table, a table 'explanations' (user, item, because,\n"
	    "                       contribution, rank): the history items contributing\n"
	    "                       most to each recommended item's score (see below)\n"
	    "      --because N      with --explain: that many history items per\n"
	    "                       recommended item (default 3; 0: all of them, whose\n"
	    "                       contributions add up to the score minus mu + bu + bi)\n"
	    "  -t, --threads N      worker threads for --all (default: the CPUs online);\n"
	    "                       the output is the same for any N\n"
	    "      --shard I/N      --all: only shard I (0 <= I < N) of N, a contiguous\n"
	    "                       range of users in blocks of 512; the N shards' rows,\n"
	    "                       in shard order, are the unsharded output's rows, the\n"
	    "                       same bytes once decoded (bin2csv); each shard is a\n"
	    "                       whole stream of its own, run anywhere (parallel)\n"
	    "      --reg X          fold-in and --explain: the factor regularization\n"
	    "                       (default: the model's 'reg' attribute)\n"
	    "      --reg-bias X     fold-in: the bias regularization (default: the model's)\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Scores: table 'scores' (user str, item str, score f32), streamed in blocks.\n"
	    "The score follows the model's algo: ials p.q; popular the popularity;\n"
	    "baseline, sgd, als mu + bu + bi + p.q; ease, rp3b (item-neighbour models)\n"
	    "the sum of the weights w(j -> i) over the user's items j (a --fold-in\n"
	    "user's: over the items given; exact, nothing solved; --similar lists an\n"
	    "item's largest weights; --explain gives each history item's weight, which\n"
	    "sum to the score); a blend (the blend program) sum_p w_p z_p over its parts\n"
	    "p, z_p the part's scores standardized over the user's unseen items (no\n"
	    "--similar; a --pairs row costs a whole row of each part; --explain for\n"
	    "blends of ials, ease and rp3b: sum_p w_p / sd_p times part p's, which sum\n"
	    "to the score plus a constant of the user, sum_p w_p mean_p / sd_p).\n"
	    "Only --pairs clips (and only rating predictions); a ranking is by score,\n"
	    "ties by raw item id in byte order.\n"
	    "\n"
	    "Explanations use the ALS kernel view (Hu, Koren, Volinsky 2008, sec. 5):\n"
	    "the ALS user step gives p_u = W_u sum_j e_j q_j over the user's history j,\n"
	    "with W_u = (sum_j q_j q_j' + lambda I)^-1, e_j = r_uj - (mu + bu + bj) and\n"
	    "lambda = reg times the weight training gave a row of n ratings (the model's\n"
	    "attribute reg_weight: sqrt(n) for als, n for sgd, 1 for ials), so the\n"
	    "factor part of a score splits exactly into\n"
	    "    contribution(j -> i) = e_j q_i' W_u q_j,\n"
	    "which sums to p_u.q_i when p_u is that solution: als, ials and sgd models\n"
	    "(each ends with that user step) and fold-in; for users a fine-tuning left\n"
	    "untouched it is close, not exact.  fm models: --fold-in only (a user's\n"
	    "stored factors are the samples' average, not that step).\n"
	    "For ials, e_j = 1 + alpha r_uj and W_u = (Q'Q + sum_j alpha r_uj q_j q_j'\n"
	    "+ reg I)^-1.  A contribution is in score units; negative ones pull down.\n");
}

/* ---------------------------------------------------------------- options */

static size_t
count_arg(const char *s, const char *flag, unsigned long long lo, unsigned long long hi)
{
	unsigned long long v;

	if (cf_parse_u64(s, &v) < 0 || v < lo || v > hi)
		cf_usage_error(usage, "%s '%s': expected a whole number from %llu to %llu",
		               flag, s, lo, hi);
	return (size_t)v;
}

static double
reg_arg(const char *s, const char *flag)
{
	double v;

	if (cf_parse_double(s, &v) < 0 || !(v >= 0) || isinf(v))
		cf_usage_error(usage, "%s '%s': expected a number >= 0", flag, s);
	return v;
}

/* "I/N", 0 <= I < N <= 2^20. */
static void
shard_arg(const char *s, struct opts *o)
{
	const char *slash = strchr(s, '/');
	unsigned long long i, n;
	char head[32];

	if (!slash || (size_t)(slash - s) >= sizeof head)
		cf_usage_error(usage, "--shard '%s': expected I/N, such as 0/4", s);
	memcpy(head, s, (size_t)(slash - s));
	head[slash - s] = 0;
	if (cf_parse_u64(head, &i) < 0 || cf_parse_u64(slash + 1, &n) < 0 || n < 1 ||
	    n > 1u << 20 || i >= n)
		cf_usage_error(usage, "--shard '%s': expected I/N with 0 <= I < N <= %u", s,
		               1u << 20);
	o->shard = (uint32_t)i;
	o->nshards = (uint32_t)n;
}

static void
set_mode(struct opts *o, enum mode m)
{
	if (o->mode != m)
		o->nmodes++;
	o->mode = m;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_INCLUDE_SEEN = 256, O_EXCLUDE, O_REG, O_REG_BIAS, O_BECAUSE, O_SHARD, O_ITEMS };
	static const struct option lo[] = {
		{"pairs", 1, 0, 'p'}, {"user", 1, 0, 'u'}, {"all", 0, 0, 'a'},
		{"similar", 1, 0, 's'}, {"fold-in", 1, 0, 'f'}, {"top", 1, 0, 'n'},
		{"include-seen", 0, 0, O_INCLUDE_SEEN}, {"exclude", 1, 0, O_EXCLUDE},
		{"explain", 0, 0, 'e'}, {"threads", 1, 0, 't'}, {"reg", 1, 0, O_REG},
		{"reg-bias", 1, 0, O_REG_BIAS}, {"because", 1, 0, O_BECAUSE}, {"shard", 1, 0, O_SHARD},
		{"items", 1, 0, O_ITEMS}, CF_STD_LONGOPTS,
		{0, 0, 0, 0},
	};
	int c;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	o->threads = ncpu > 0 ? (int)(ncpu < 256 ? ncpu : 256) : 1;
	o->because = 3;
	o->ids = cf_xcalloc((size_t)argc, sizeof *o->ids);
	while ((c = getopt_long(argc, argv, "p:u:as:f:n:et:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'p': set_mode(o, M_PAIRS); o->frame = optarg; break;
		case 'f': set_mode(o, M_FOLDIN); o->frame = optarg; break;
		case 'a': set_mode(o, M_ALL); break;
		case 'u': set_mode(o, M_USER); o->ids[o->nids++] = optarg; break;
		case 's': set_mode(o, M_SIMILAR); o->ids[o->nids++] = optarg; break;
		case 'n':
			o->top = count_arg(optarg, "--top", 1, 1u << 30);
			o->has_top = 1;
			break;
		case 'e': o->explain = 1; break;
		case 't': o->threads = (int)count_arg(optarg, "--threads", 1, 1024); break;
		case O_INCLUDE_SEEN: o->include_seen = 1; break;
		case O_EXCLUDE: o->exclude = optarg; break;
		case O_SHARD: shard_arg(optarg, o); break;
		case O_ITEMS: o->items = optarg; break;
		case O_BECAUSE: o->because = count_arg(optarg, "--because", 0, 1u << 30); break;
		case O_REG: o->reg = reg_arg(optarg, "--reg"); o->has_reg = 1; break;
		case O_REG_BIAS:
			o->reg_bias = reg_arg(optarg, "--reg-bias");
			o->has_reg_bias = 1;
			break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	cf_no_operand(argc, argv, usage, "the model comes on stdin");
	if (o->nmodes != 1)
		cf_usage_error(usage, o->nmodes ? "give one mode only" :
		               "a mode is required: --pairs, --user, --all, --similar or --fold-in");
	if (o->mode == M_PAIRS && o->has_top)
		cf_usage_error(usage, "--top does not apply to --pairs");
	if (o->explain && !(o->has_top && (o->mode == M_USER || o->mode == M_FOLDIN)))
		cf_usage_error(usage, "--explain needs --top and --user or --fold-in");
	if (o->exclude && o->mode != M_USER && o->mode != M_FOLDIN)
		cf_usage_error(usage, "--exclude applies to --user and --fold-in");
	if (o->include_seen && o->mode != M_USER && o->mode != M_ALL)
		cf_usage_error(usage, "--include-seen applies to --user and --all");
	if (o->nshards && o->mode != M_ALL)
		cf_usage_error(usage, "--shard applies to --all");
	if (o->items && o->mode != M_PAIRS)
		cf_usage_error(usage, "--items applies to --pairs");
	if (!o->has_top && (o->mode == M_SIMILAR || o->mode == M_FOLDIN))
		o->top = 10;
}

/* ----------------------------------------------------------------- output */

typedef struct out {
	cf_writer *w;
	cf_rowbuf *b;
	const cf_model *m;
} out;

static void
out_table(out *o, const char *name, const char *const *cols, const cf_type *types, int n)
{
	cf_schema *s = cf_schema_new(name);

	if (o->b)
		cf_rowbuf_finish(o->b);
	for (int c = 0; c < n; c++)
		cf_schema_add(s, cols[c], types[c], 1);
	o->b = cf_rowbuf_new(o->w, s, CF_BLOCK_ROWS);
	cf_schema_free(s);
}

static void
topk_table(out *o)
{
	static const char *const cols[] = {"user", "item", "score", "rank"};
	static const cf_type types[] = {CF_STR, CF_STR, CF_F32, CF_U32};

	out_table(o, "topk", cols, types, 4);
}

static void
scores_table(out *o)
{
	static const char *const cols[] = {"user", "item", "score"};
	static const cf_type types[] = {CF_STR, CF_STR, CF_F32};

	out_table(o, "scores", cols, types, 3);
}

static void
put_id(out *o, int col, const cf_idmap *d, uint32_t i)
{
	size_t len;
	const char *id = cf_idmap_id(d, i, &len);

	cf_rowbuf_str(o->b, col, id, len);
}

/* One user's ranked hits; the user given by raw id. */
static void
put_hits(out *o, const char *uid, size_t ulen, const cf_hit *h, size_t n)
{
	for (size_t r = 0; r < n; r++) {
		cf_rowbuf_str(o->b, 0, uid, ulen);
		put_id(o, 1, o->m->items, h[r].item);
		cf_rowbuf_f32(o->b, 2, h[r].score);
		cf_rowbuf_u32(o->b, 3, (uint32_t)(r + 1));
		cf_rowbuf_end_row(o->b);
	}
}

/* A score row (-inf: excluded). */
static void
put_row(out *o, const char *uid, size_t ulen, const float *sc)
{
	for (uint32_t i = 0; i < o->m->nitems; i++) {
		if (sc[i] == -INFINITY)
			continue;
		cf_rowbuf_str(o->b, 0, uid, ulen);
		put_id(o, 1, o->m->items, i);
		cf_rowbuf_f32(o->b, 2, sc[i]);
		cf_rowbuf_end_row(o->b);
	}
}

/* ------------------------------------------------------------------ ids */

/* Model index of a raw id given on the command line or in a list, or CF_NOID. */
static uint32_t
find_id(const cf_idmap *d, const char *id, size_t len)
{
	char small[64], *buf = len + 2 <= sizeof small ? small : cf_xmalloc(len + 2);
	const char *c;
	size_t n = cf_canon_id(id, len, buf, &c);
	uint32_t i = cf_idmap_find(d, c, n);

	if (buf != small)
		free(buf);
	return i;
}

/*
 * --exclude FILE: the model's indices of the items listed (unknown ones
 * ignored).  A file that starts with the frame magic is a frame.
 */
static uint32_t *
read_exclude(const char *path, const cf_model *m, size_t *n)
{
	static const unsigned char magic[8] = {0x89, 'C', 'F', 'R', '\r', '\n', 0x1a, '\n'};
	unsigned char head[8];
	uint32_t *v = NULL;
	size_t cap = 0, cnt = 0, len;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		cf_die("%s:", path);
	ssize_t got = read(fd, head, sizeof head);
	close(fd);
	if (got == (ssize_t)sizeof head && memcmp(head, magic, sizeof magic) == 0) {
		cf_reader *r = cf_reader_open_path(path);
		const cf_schema *s;
		cf_block b;
		int ntables = 0;
		/* Every table of the stream, each with an item column. */
		while (cf_read_table(r, &s) == 1) {
			int ci = cf_schema_col(s, "item");
			if (ci < 0 || s->cols[ci].type != CF_STR)
				cf_die("%s: byte %llu: expected a table with an item column (str), "
				       "found '%s'", path, (unsigned long long)cf_reader_table_at(r),
				       s->name);
			ntables++;
			while (cf_read_block(r, &b) == 1) {
				for (uint32_t j = 0; j < b.nrows; j++) {
					const char *id = cf_str(&b, ci, j, &len);
					uint32_t i = find_id(m->items, id, len);
					if (i == CF_NOID)
						continue;
					cf_grow((void **)&v, &cap, cnt + 1, sizeof *v);
					v[cnt++] = i;
				}
			}
		}
		if (ntables == 0)
			cf_die("%s: empty frame stream: expected a table with an item column",
			       path);
		cf_reader_close(r);
	} else {
		FILE *fp = fopen(path, "r");
		char *line = NULL;
		size_t lcap = 0;
		ssize_t l;
		if (!fp)
			cf_die("%s:", path);
		while ((l = getline(&line, &lcap, fp)) >= 0) {
			while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r' ||
			                 line[l - 1] == ' ' || line[l - 1] == '\t'))
				l--;
			if (l == 0)
				continue;
			uint32_t i = find_id(m->items, line, (size_t)l);
			if (i == CF_NOID)
				continue;
			cf_grow((void **)&v, &cap, cnt + 1, sizeof *v);
			v[cnt++] = i;
		}
		if (ferror(fp))
			cf_die("%s: read error:", path);
		free(line);
		fclose(fp);
	}
	*n = cnt;
	return v;
}

/* ------------------------------------------------------------------ modes */

/*
 * --items: new items (not in the model) scored from their metadata by
 * the model's item_features (itemfeat.h), each item's bias and vector
 * computed once.
 */
struct newitems {
	const cf_model *m;
	cf_meta *meta;
	signed char *state;     /* per pairs item: 0 not yet, 1 has features, -1 none */
	double *b;
	float *q;               /* per pairs item: k */
	size_t scored;
};

static void
newitems_init(struct newitems *n, const struct opts *o, const cf_model *m, uint32_t nitems)
{
	memset(n, 0, sizeof *n);
	if (!o->items)
		return;
	if (!m->itemfeat)
		cf_die("--items: this '%s' model keeps no item features (an fm model trained "
		       "with --items does)", m->algo);
	n->m = m;
	n->meta = cf_meta_new();
	cf_meta_load_movies(n->meta, o->items);     /* dies naming the file and line */
	n->state = cf_xcalloc((size_t)nitems + 1, 1);
	n->b = cf_xcalloc((size_t)nitems + 1, sizeof *n->b);
	n->q = cf_xcalloc((size_t)nitems * m->k + 1, sizeof *n->q);
}

static void
newitems_free(struct newitems *n)
{
	cf_meta_free(n->meta);
	free(n->state);
	free(n->b);
	free(n->q);
}

/* Item j of the pairs (id): 1 if its metadata gives it features (its
 * bias n->b[j] and vector n->q + j k computed on its first pair), else 0. */
static int
newitems_known(struct newitems *n, uint32_t j, const char *id, size_t len)
{
	if (!n->meta)
		return 0;
	const cf_model *m = n->m;
	cf_movie mv;

	if (n->state[j] == 0) {
		int has = cf_meta_find(n->meta, id, len, &mv) && mv.in_movies &&
		          cf_itemfeat_item(m->itemfeat, mv.genres, mv.genres_len, mv.year, &n->b[j],
		                           n->q + (size_t)j * m->k) > 0;
		n->state[j] = has ? 1 : -1;
	}
	return n->state[j] > 0;
}

/* Item j of the pairs (id) for model user u (or CF_NOID): 1 and *score, or 0. */
static int
newitems_score(struct newitems *n, uint32_t j, const char *id, size_t len, uint32_t u,
               float *score)
{
	if (!newitems_known(n, j, id, len))
		return 0;
	const cf_model *m = n->m;
	const float *q = n->q + (size_t)j * m->k;
	float s = (float)m->mu + (float)n->b[j];
	if (u != CF_NOID) {
		s += m->bu[u];
		for (int c = 0; c < m->k; c++)
			s += m->P[(size_t)u * m->k + c] * q[c];
	}
	*score = cf_model_clip(m, s);
	n->scored++;
	return 1;
}

/*
 * A pair's score by an fm model with time features at timestamp ts: the
 * stored form (or a new item's, from its metadata) plus the active time
 * features' terms (timefeat.h), clipped once.
 */
static float
time_score(const cf_model *m, struct newitems *nw, uint32_t j, const char *id, size_t len,
           uint32_t u, uint32_t i, int64_t ts)
{
	const float *p = u != CF_NOID ? m->P + (size_t)u * m->k : NULL;
	const float *q = i != CF_NOID ? m->Q + (size_t)i * m->k : NULL;
	double x = m->mu + (u != CF_NOID ? m->bu[u] : 0);

	if (i == CF_NOID && newitems_known(nw, j, id, len)) {
		q = nw->q + (size_t)j * m->k;
		x += nw->b[j];
		nw->scored++;
	} else if (i != CF_NOID) {
		x += m->bi[i];
	}
	for (int c = 0; p && q && c < m->k; c++)
		x += p[c] * q[c];
	x += cf_timefeat_term(m->timefeat, u, p, q, ts);
	return cf_model_clip(m, (float)x);
}

static void
do_pairs(const struct opts *o, cf_scorer *sc, out *w)
{
	static const char *const cols[] = {"user", "item", "score", "rating"};
	static const cf_type types[] = {CF_STR, CF_STR, CF_F32, CF_F32};
	const cf_model *m = sc->m;
	cf_reader *r = cf_reader_open_path(o->frame);
	cf_ratings rs;
	size_t nu = 0, ni = 0, nb = 0, len;

	cf_ratings_read_input(r, &rs);
	cf_reader_close(r);
	uint32_t *umap = cf_idmap_map(rs.users, m->users), *imap = cf_idmap_map(rs.items, m->items);
	struct newitems nw;
	newitems_init(&nw, o, m, cf_idmap_count(rs.items));
	out_table(w, "scores", cols, types, 4);
	for (size_t j = 0; j < rs.n; j++) {
		uint32_t u = umap[rs.user[j]], i = imap[rs.item[j]];
		const char *id = cf_idmap_id(rs.users, rs.user[j], &len);
		cf_rowbuf_str(w->b, 0, id, len);
		id = cf_idmap_id(rs.items, rs.item[j], &len);
		cf_rowbuf_str(w->b, 1, id, len);
		float s;
		if (m->timefeat && rs.has_ts) {
			/* fm's time features: the pair's own time (timefeat.h) */
			cf_rowbuf_f32(w->b, 2, time_score(m, &nw, rs.item[j], id, len, u, i, rs.ts[j]));
		} else if (i == CF_NOID && newitems_score(&nw, rs.item[j], id, len, u, &s)) {
			cf_rowbuf_f32(w->b, 2, s);      /* a new item, from its metadata */
		} else {
			nu += u == CF_NOID && i != CF_NOID;
			ni += i == CF_NOID && u != CF_NOID;
			nb += u == CF_NOID && i == CF_NOID;
			cf_rowbuf_f32(w->b, 2, cf_score_pair(sc, u, i));
		}
		cf_rowbuf_f32(w->b, 3, rs.rating[j]);
		cf_rowbuf_end_row(w->b);
	}
	if (nu + ni + nb)
		cf_warn("%zu of %zu pairs scored from biases alone: %zu unknown user, "
		        "%zu unknown item, %zu both", nu + ni + nb, rs.n, nu, ni, nb);
	if (nw.scored)
		cf_warn("%zu of %zu pairs of items new to the model scored from their genres and "
		        "year (--items)", nw.scored, rs.n);
	newitems_free(&nw);
	free(umap);
	free(imap);
	cf_ratings_free(&rs);
}

/* Writes the explanations table for users' hits gathered during --top. */
typedef struct user_expl {
	char *uid;
	size_t ulen;
	cf_explainer *e;
	cf_hit *hits;
	size_t nhits;
} user_expl;

static void
put_explanations(out *w, user_expl *ex, size_t n, size_t top)
{
	static const char *const cols[] = {"user", "item", "because", "contribution", "rank"};
	static const cf_type types[] = {CF_STR, CF_STR, CF_STR, CF_F32, CF_U32};
	size_t cap = top ? top : w->m->nitems;
	cf_because *because = cf_xmalloc((cap ? cap : 1) * sizeof *because);

	out_table(w, "explanations", cols, types, 5);
	for (size_t x = 0; x < n; x++) {
		for (size_t h = 0; ex[x].e && h < ex[x].nhits; h++) {
			size_t nb = cf_explain_top(ex[x].e, ex[x].hits[h].item, cap, because);
			for (size_t r = 0; r < nb; r++) {
				cf_rowbuf_str(w->b, 0, ex[x].uid, ex[x].ulen);
				put_id(w, 1, w->m->items, ex[x].hits[h].item);
				put_id(w, 2, w->m->items, because[r].item);
				cf_rowbuf_f32(w->b, 3, because[r].contribution);
				cf_rowbuf_u32(w->b, 4, (uint32_t)(r + 1));
				cf_rowbuf_end_row(w->b);
			}
		}
		cf_explain_free(ex[x].e);
		free(ex[x].hits);
		free(ex[x].uid);
	}
	free(because);
}

static void
do_user(const struct opts *o, cf_scorer *sc, out *w)
{
	const cf_model *m = sc->m;
	uint32_t *us = cf_xmalloc(o->nids * sizeof *us);
	float *row = cf_xmalloc(((size_t)m->nitems + 1) * sizeof *row);
	size_t nex = 0;
	uint32_t *ex = o->exclude ? read_exclude(o->exclude, m, &nex) : NULL;
	cf_hit *hits = cf_xmalloc((o->top ? o->top : 1) * sizeof *hits);
	user_expl *xs = o->explain ? cf_xcalloc(o->nids, sizeof *xs) : NULL;

	/* Every id is checked before anything is written. */
	for (size_t x = 0; x < o->nids; x++) {
		us[x] = find_id(m->users, o->ids[x], strlen(o->ids[x]));
		if (us[x] == CF_NOID)
			cf_die("unknown user '%s': not in the model's users", o->ids[x]);
	}
	if (o->has_top)
		topk_table(w);
	else
		scores_table(w);
	for (size_t x = 0; x < o->nids; x++) {
		uint32_t u = us[x];
		size_t ulen;
		const char *uid = cf_idmap_id(m->users, u, &ulen);
		cf_score_user(sc, u, row);
		if (!o->include_seen)
			cf_score_exclude(row, m->seen_item + m->seen_ptr[u],
			                 m->seen_ptr[u + 1] - m->seen_ptr[u]);
		cf_score_exclude(row, ex, nex);
		if (!o->has_top) {
			put_row(w, uid, ulen, row);
			continue;
		}
		size_t nh = cf_score_topn(sc, row, o->top, hits);
		put_hits(w, uid, ulen, hits, nh);
		if (xs) {
			uint64_t a = m->seen_ptr[u], b = m->seen_ptr[u + 1];
			xs[x].uid = cf_xmalloc(ulen ? ulen : 1);
			memcpy(xs[x].uid, uid, ulen);
			xs[x].ulen = ulen;
			xs[x].e = cf_explain_new(sc, m->seen_item + a, m->seen_rating + a, b - a,
			                         m->bu[u]);
			xs[x].hits = cf_xmalloc((nh ? nh : 1) * sizeof *hits);
			memcpy(xs[x].hits, hits, nh * sizeof *hits);
			xs[x].nhits = nh;
		}
	}
	if (xs)
		put_explanations(w, xs, o->nids, o->because);
	free(xs);
	free(hits);
	free(ex);
	free(row);
	free(us);
}

static int
emit_topn(void *arg, uint32_t u0, uint32_t u1, size_t n, const cf_hit *hits,
          const uint32_t *cnt)
{
	out *w = arg;
	size_t ulen;

	for (uint32_t u = u0; u < u1; u++) {
		const char *uid = cf_idmap_id(w->m->users, u, &ulen);
		put_hits(w, uid, ulen, hits + (size_t)(u - u0) * n, cnt[u - u0]);
	}
	return 0;
}

static int
emit_rows(void *arg, uint32_t u0, uint32_t u1, const float *scores)
{
	out *w = arg;
	size_t ulen;

	for (uint32_t u = u0; u < u1; u++) {
		const char *uid = cf_idmap_id(w->m->users, u, &ulen);
		put_row(w, uid, ulen, scores + (size_t)(u - u0) * w->m->nitems);
	}
	return 0;
}

static void
do_all(const struct opts *o, cf_scorer *sc, out *w)
{
	const cf_model *m = sc->m;

	if (o->nshards)
		cf_scorer_shard(sc, o->shard, o->nshards);
	if (o->has_top) {
		topk_table(w);
		cf_score_all_topn(sc, o->top, o->include_seen, o->threads, emit_topn, w);
		return;
	}
	cf_warn("warning: writing every score: up to %u users x %u items = %.3g rows",
	        sc->user_hi - sc->user_lo, m->nitems,
	        (double)(sc->user_hi - sc->user_lo) * m->nitems);
	scores_table(w);
	cf_score_all_rows(sc, 16, o->include_seen, o->threads, emit_rows, w);
}

static void
do_similar(const struct opts *o, cf_scorer *sc, out *w)
{
	static const char *const cols[] = {"query", "item", "score", "rank"};
	static const cf_type types[] = {CF_STR, CF_STR, CF_F32, CF_U32};
	const cf_model *m = sc->m;
	uint32_t *is = cf_xmalloc(o->nids * sizeof *is);
	cf_hit *hits = cf_xmalloc(o->top * sizeof *hits);

	if (m->k == 0 && sc->kind != CF_SCORE_ITEMNN)
		cf_die("--similar needs a model with factors or item neighbours; this '%s' model "
		       "has neither", m->algo);
	for (size_t x = 0; x < o->nids; x++) {
		is[x] = find_id(m->items, o->ids[x], strlen(o->ids[x]));
		if (is[x] == CF_NOID)
			cf_die("unknown item '%s': not in the model's items", o->ids[x]);
	}
	out_table(w, "similar", cols, types, 4);
	for (size_t x = 0; x < o->nids; x++) {
		size_t len, nh = cf_score_similar(sc, is[x], o->top, hits);
		const char *id = cf_idmap_id(m->items, is[x], &len);
		put_hits(w, id, len, hits, nh);
	}
	free(hits);
	free(is);
}

static void
do_foldin(const struct opts *o, cf_scorer *sc, out *w)
{
	const cf_model *m = sc->m;
	cf_reader *r = cf_reader_open_path(o->frame);
	cf_ratings rs;
	size_t nex = 0, unknown = 0, len;
	uint32_t *ex = o->exclude ? read_exclude(o->exclude, m, &nex) : NULL;

	cf_ratings_read_input(r, &rs);
	cf_reader_close(r);
	uint32_t *imap = cf_idmap_map(rs.items, m->items);
	uint32_t nusers = cf_idmap_count(rs.users);
	/* Rows grouped by user (a counting sort keeps each user's input order). */
	size_t *ptr = cf_xcalloc((size_t)nusers + 1, sizeof *ptr);
	size_t *pos = cf_xmalloc(((size_t)nusers + 1) * sizeof *pos);
	uint32_t *items = cf_xmalloc((rs.n ? rs.n : 1) * sizeof *items);
	float *rat = cf_xmalloc((rs.n ? rs.n : 1) * sizeof *rat);
	for (size_t j = 0; j < rs.n; j++)
		ptr[rs.user[j] + 1] += imap[rs.item[j]] != CF_NOID;
	for (uint32_t u = 0; u < nusers; u++)
		ptr[u + 1] += ptr[u];
	memcpy(pos, ptr, ((size_t)nusers + 1) * sizeof *pos);
	for (size_t j = 0; j < rs.n; j++) {
		uint32_t i = imap[rs.item[j]];
		if (i == CF_NOID) {
			unknown++;
			continue;
		}
		items[pos[rs.user[j]]] = i;
		rat[pos[rs.user[j]]++] = rs.rating[j];
	}
	if (unknown)
		cf_warn("%zu of %zu ratings are of items the model does not know: ignored",
		        unknown, rs.n);

	int k = m->k;
	float *p = cf_xcalloc(k ? (size_t)k : 1, sizeof *p), b;
	float *row = cf_xmalloc(((size_t)m->nitems + 1) * sizeof *row);
	cf_hit *hits = cf_xmalloc(o->top * sizeof *hits);
	user_expl *xs = o->explain ? cf_xcalloc(nusers, sizeof *xs) : NULL;
	topk_table(w);
	for (uint32_t u = 0; u < nusers; u++) {
		size_t a = ptr[u], n = ptr[u + 1] - a;
		const char *uid = cf_idmap_id(rs.users, u, &len);
		if (cf_score_given(sc, items + a, rat + a, n, p, &b, row) < 0)
			cf_die("fold-in of user '%.*s' failed: singular system (try a larger --reg)",
			       (int)len, uid);
		cf_score_exclude(row, items + a, n);
		cf_score_exclude(row, ex, nex);
		size_t nh = cf_score_topn(sc, row, o->top, hits);
		put_hits(w, uid, len, hits, nh);
		if (xs) {
			xs[u].uid = cf_xmalloc(len ? len : 1);
			memcpy(xs[u].uid, uid, len);
			xs[u].ulen = len;
			xs[u].e = n ? cf_explain_new(sc, items + a, rat + a, n, b) : NULL;
			xs[u].hits = cf_xmalloc((nh ? nh : 1) * sizeof *hits);
			memcpy(xs[u].hits, hits, nh * sizeof *hits);
			xs[u].nhits = nh;
		}
	}
	if (xs)
		put_explanations(w, xs, nusers, o->because);
	free(xs);
	free(hits);
	free(row);
	free(p);
	free(rat);
	free(items);
	free(pos);
	free(ptr);
	free(imap);
	free(ex);
	cf_ratings_free(&rs);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	cf_model *m;
	cf_scorer *sc;
	out w = {0};

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	m = cf_model_read(cf_reader_open(0, "stdin"), NULL, 0);
	sc = cf_scorer_new(m);
	if (o.top > m->nitems)
		o.top = m->nitems ? m->nitems : 1;
	if (o.has_reg)
		sc->reg = o.reg;
	if (o.has_reg_bias)
		sc->reg_bias = o.reg_bias;
	if (o.explain && !cf_score_explains(sc))
		cf_die("--explain needs a model with factors or item neighbours (a blend: of ials, "
		       "ease and rp3b models only); this '%s' model is not one", m->algo);
	/* fm: a user's vector is the samples' average, not the ALS user step the
	 * split needs; a folded-in user's is that step, so its split is exact. */
	if (o.explain && o.mode == M_USER && m->hp.algo == CF_FM)
		cf_die("--explain --user: an fm model's user factors are sample averages, which "
		       "do not split exactly into history items; use --fold-in");
	w.w = cf_writer_new(stdout, "stdout");
	w.m = m;
	switch (o.mode) {
	case M_PAIRS: do_pairs(&o, sc, &w); break;
	case M_USER: do_user(&o, sc, &w); break;
	case M_ALL: do_all(&o, sc, &w); break;
	case M_SIMILAR: do_similar(&o, sc, &w); break;
	case M_FOLDIN: do_foldin(&o, sc, &w); break;
	case M_NONE: break;
	}
	if (w.b)
		cf_rowbuf_finish(w.b);
	cf_writer_finish(w.w);
	cf_scorer_free(sc);
	cf_model_free(m);
	free(o.ids);
	cf_close_stdout();
	return CF_EXIT_OK;
}
