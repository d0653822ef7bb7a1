/*
 * gen-ratings - MovieLens-shaped synthetic ratings from a known model.
 *
 * r(u,i) = clip(round_half(mu + b_u + b_i + p_u . q_i + noise)), with
 * power-law item popularity and user activity, every user with at least
 * --min-per-user ratings, ids shuffled so popularity is not id order, and
 * rows sorted by user then item as in ratings.csv.  Because the model is
 * known, the best RMSE any predictor can reach (the noise floor: the RMSE
 * of E[r | u, i] itself, rounding and clipping included) is computed and
 * reported, so a trained model can be judged against it.
 *
 * Users are generated one at a time: memory is O(users + items * k),
 * never O(ratings), so 25 million rows stream out in constant memory.
 */
#include "frame.h"
#include "progress.h"
#include "rng.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	uint64_t users, items, ratings, minper;
	int k;
	double noise, zipf, mu;
	uint64_t seed;
	int frame;
	int round;
	const char *floor_file;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: gen-ratings [-u USERS] [-i ITEMS] [-n RATINGS] [-k RANK] [--noise SD]\n"
	    "                   [--zipf A] [--min-per-user N] [--seed N] [--format csv|frame]\n"
	    "                   [--no-round] [--floor FILE]\n"
	    "Writes synthetic MovieLens-shaped ratings from a known low-rank model on stdout.\n"
	    "\n"
	    "  -u, --users N        users (default 610)\n"
	    "  -i, --items N        items (default 9000)\n"
	    "  -n, --ratings N      ratings in all (default 100000)\n"
	    "  -k, --rank K         rank of the true model (default 8)\n"
	    "      --noise SD       standard deviation of the Gaussian noise (default 0.5)\n"
	    "      --zipf A         item popularity ~ rank^-A (default 0.9)\n"
	    "      --min-per-user N every user rates at least N items (default 20)\n"
	    "      --seed N         seed (default 42); the same seed gives the same bytes\n"
	    "      --format F       csv (userId,movieId,rating,timestamp; default) or frame\n"
	    "                       (a raw 'ratings' table, as csv2bin would write)\n"
	    "      --no-round       keep ratings continuous (clipped to [0.5, 5]) instead of\n"
	    "                       rounding to half stars\n"
	    "      --floor FILE     write the noise floor (best reachable RMSE) to FILE\n"
	    "  -h, --help, -V, --version\n"
	    "\n"
	    "The noise floor is also printed on stderr.  Memory does not grow with -n.\n");
}

static uint64_t
num_arg(const char *s, const char *what, uint64_t min)
{
	unsigned long long v;

	if (cf_parse_u64(s, &v) != 0 || v < min)
		cf_usage_error(usage, "%s must be an integer >= %llu: '%s'", what,
		               (unsigned long long)min, s);
	return v;
}

static double
real_arg(const char *s, const char *what, double min, double max)
{
	double v;

	if (cf_parse_double(s, &v) != 0 || v < min || v > max)
		cf_usage_error(usage, "%s must be a number in [%g, %g]: '%s'", what, min, max, s);
	return v;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"users", 1, 0, 'u'}, {"items", 1, 0, 'i'}, {"ratings", 1, 0, 'n'},
		{"rank", 1, 0, 'k'}, {"noise", 1, 0, 'N'}, {"zipf", 1, 0, 'z'},
		{"min-per-user", 1, 0, 'm'}, {"seed", 1, 0, 's'}, {"format", 1, 0, 'f'},
		{"no-round", 0, 0, 'R'}, {"floor", 1, 0, 'F'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	*o = (struct opts){.users = 610, .items = 9000, .ratings = 100000, .minper = 20,
	                   .k = 8, .noise = 0.5, .zipf = 0.9, .mu = 3.5, .seed = 42,
	                   .round = 1};
	while ((c = getopt_long(argc, argv, "u:i:n:k:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o->users = num_arg(optarg, "--users", 1); break;
		case 'i': o->items = num_arg(optarg, "--items", 1); break;
		case 'n': o->ratings = num_arg(optarg, "--ratings", 1); break;
		case 'k': o->k = (int)num_arg(optarg, "--rank", 1); break;
		case 'N': o->noise = real_arg(optarg, "--noise", 0, 10); break;
		case 'z': o->zipf = real_arg(optarg, "--zipf", 0, 5); break;
		case 'm': o->minper = num_arg(optarg, "--min-per-user", 1); break;
		case 's': o->seed = num_arg(optarg, "--seed", 0); break;
		case 'R': o->round = 0; break;
		case 'F': o->floor_file = optarg; break;
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				o->frame = 0;
			else if (strcmp(optarg, "frame") == 0)
				o->frame = 1;
			else
				cf_usage_error(usage, "--format is csv or frame: '%s'", optarg);
			break;
		case 'h': usage(stdout); cf_close_stdout(); exit(0);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	cf_no_operand(argc, argv, usage, NULL);
	if (o->k > 1024)
		cf_usage_error(usage, "--rank must be at most 1024");
	if (o->users > UINT32_MAX || o->items > UINT32_MAX)
		cf_usage_error(usage, "at most %u users and items", UINT32_MAX);
	if (o->minper > o->items / 2 + 1)
		cf_usage_error(usage, "--min-per-user %llu is more than half of --items",
		               (unsigned long long)o->minper);
	if (o->ratings < o->users * o->minper)
		cf_usage_error(usage, "--ratings must be at least users x min-per-user (%llu)",
		               (unsigned long long)(o->users * o->minper));
	if (o->ratings > o->users * (o->items / 2 + 1))
		cf_usage_error(usage, "--ratings too many: a user rates at most half the items");
}

/* Ratings per user: min + a Pareto-distributed share of the rest, capped. */
static uint32_t *
activity(const struct opts *o, cf_rng *g)
{
	uint64_t n = o->users, cap = o->items / 2 + 1, extra = o->ratings - n * o->minper;
	uint32_t *cnt = cf_xmalloc(n * sizeof *cnt);
	double *w = cf_xmalloc(n * sizeof *w), sum = 0;
	uint64_t total = 0;

	for (uint64_t u = 0; u < n; u++) {
		w[u] = pow(1 - cf_rng_uniform(g), -1 / 1.2);  /* Pareto, alpha 1.2 */
		sum += w[u];
	}
	for (uint64_t u = 0; u < n; u++) {
		uint64_t c = o->minper + (uint64_t)floor((double)extra * w[u] / sum);
		cnt[u] = (uint32_t)(c > cap ? cap : c);
		total += cnt[u];
	}
	/* Hand out what rounding and the cap left over, one at a time. */
	for (uint64_t u = 0; total < o->ratings; u = (u + 1) % n)
		if (cnt[u] < cap) {
			cnt[u]++;
			total++;
		}
	free(w);
	return cnt;
}

/* P(round_half(clip(x + noise)) = v) summed into E[r]; the noise floor's
 * building block.  Continuous ratings: E of a clipped normal. */
static double
expected(double x, const struct opts *o)
{
	double sd = o->noise, e = 0;

	if (sd == 0) {
		double v = x < 0.5 ? 0.5 : x > 5 ? 5 : x;
		return o->round ? fmin(5, fmax(0.5, round(v * 2) / 2)) : v;
	}
	if (!o->round) {
		/* E[clip(X, a, b)] for X ~ N(x, sd). */
		double a = 0.5, b = 5, za = (a - x) / sd, zb = (b - x) / sd;
		double pa = 0.5 * erfc(-za / M_SQRT2), pb = 0.5 * erfc(-zb / M_SQRT2);
		double phia = exp(-za * za / 2) / sqrt(2 * M_PI), phib = exp(-zb * zb / 2) / sqrt(2 * M_PI);
		return a * pa + b * (1 - pb) + x * (pb - pa) + sd * (phia - phib);
	}
	for (int h = 1; h <= 10; h++) {
		double v = h / 2.0;
		double lo = h == 1 ? -INFINITY : v - 0.25, hi = h == 10 ? INFINITY : v + 0.25;
		double p = 0.5 * (erfc(-(hi - x) / (sd * M_SQRT2)) - erfc(-(lo - x) / (sd * M_SQRT2)));
		e += v * p;
	}
	return e;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Item by popularity: binary search of the cumulative Zipf weights. */
static uint32_t
pick_item(const double *cdf, uint64_t n, cf_rng *g)
{
	double u = cf_rng_uniform(g) * cdf[n - 1];
	uint64_t lo = 0, hi = n - 1;

	while (lo < hi) {
		uint64_t mid = (lo + hi) / 2;
		if (cdf[mid] <= u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static char obuf[1 << 16];
static size_t olen;

static void
oflush(void)
{
	if (olen && fwrite(obuf, 1, olen, stdout) != olen)
		cf_write_failed("stdout");
	olen = 0;
}

static size_t
utoa(char *b, uint64_t v)
{
	char t[24];
	size_t n = 0, i = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		b[i++] = t[--n];
	return i;
}

int
main(int argc, char **argv)
{
	struct opts o;
	cf_rng g;
	cf_writer *w = NULL;
	cf_rowbuf *rb = NULL;

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	cf_rng_seed(&g, o.seed, 0);

	/* The true model.  Factor scale gives p.q a variance of about 0.3, and
	 * biases like MovieLens' (item spread wider than user spread). */
	uint64_t U = o.users, I = o.items;
	int k = o.k;
	double fs = pow(0.3 / k, 0.25);
	float *P = cf_xmalloc(U * k * sizeof *P), *Q = cf_xmalloc(I * k * sizeof *Q);
	double *bu = cf_xmalloc(U * sizeof *bu), *bi = cf_xmalloc(I * sizeof *bi);
	double *cdf = cf_xmalloc(I * sizeof *cdf);
	uint32_t *id_of = cf_xmalloc(I * sizeof *id_of);   /* popularity rank -> id */
	for (uint64_t u = 0; u < U; u++) {
		bu[u] = 0.35 * cf_rng_normal(&g);
		for (int f = 0; f < k; f++)
			P[u * k + f] = (float)(fs * cf_rng_normal(&g));
	}
	for (uint64_t i = 0; i < I; i++) {
		/* Popular items are rated higher, as in MovieLens. */
		bi[i] = 0.45 * cf_rng_normal(&g) + 0.3 * (i < I / 20 ? 1 : 0);
		for (int f = 0; f < k; f++)
			Q[i * k + f] = (float)(fs * cf_rng_normal(&g));
		cdf[i] = (i ? cdf[i - 1] : 0) + pow((double)(i + 1), -o.zipf);
		id_of[i] = (uint32_t)i + 1;
	}
	for (uint64_t i = I - 1; i > 0; i--) {          /* shuffle ids */
		uint64_t j = cf_rng_below(&g, i + 1);
		uint32_t t = id_of[i];
		id_of[i] = id_of[j];
		id_of[j] = t;
	}
	uint32_t *cnt = activity(&o, &g);
	uint32_t maxc = 0;
	for (uint64_t u = 0; u < U; u++)
		maxc = cnt[u] > maxc ? cnt[u] : maxc;
	uint64_t *mine = cf_xmalloc((size_t)maxc * sizeof *mine);
	unsigned char *taken = cf_xcalloc(I, 1);

	if (o.frame) {
		cf_schema *s = cf_schema_new("ratings");
		cf_schema_add(s, "user", CF_STR, 1);
		cf_schema_add(s, "item", CF_STR, 1);
		cf_schema_add(s, "rating", CF_F32, 1);
		cf_schema_add(s, "timestamp", CF_I64, 1);
		cf_schema_set(s, "rating_min", "0.5");
		cf_schema_set(s, "rating_max", "5");
		cf_schema_set(s, "dups", "latest");
		w = cf_writer_new(stdout, "stdout");
		rb = cf_rowbuf_new(w, s, CF_BLOCK_ROWS);
		cf_schema_free(s);
	} else {
		static const char hdr[] = "userId,movieId,rating,timestamp\n";
		memcpy(obuf, hdr, sizeof hdr - 1);
		olen = sizeof hdr - 1;
	}

	double sse = 0;
	int64_t t0 = 946684800;                     /* 2000-01-01 */
	uint64_t made = 0;
	for (uint64_t u = 0; u < U; u++) {
		uint32_t n = cnt[u];
		cf_progress_count("generating ratings", made, o.ratings);     /* on a terminal */
		made += n;
		for (uint32_t j = 0; j < n; j++) {  /* n distinct items by popularity */
			uint32_t it;
			do
				it = pick_item(cdf, I, &g);
			while (taken[it]);
			taken[it] = 1;
			mine[j] = it;
		}
		for (uint32_t j = 0; j < n; j++)
			taken[mine[j]] = 0;
		/* Sort by id, as ratings.csv is, keeping the popularity rank
		 * (the model's index) in the low half. */
		for (uint32_t j = 0; j < n; j++)
			mine[j] = (uint64_t)id_of[mine[j]] << 32 | mine[j];
		qsort(mine, n, sizeof *mine, cmp_u64);
		int64_t ts = t0 + (int64_t)cf_rng_below(&g, 18u * 365 * 86400);
		for (uint32_t j = 0; j < n; j++) {
			uint32_t id = (uint32_t)(mine[j] >> 32), it = (uint32_t)mine[j];
			double x = o.mu + bu[u] + bi[it];
			for (int f = 0; f < k; f++)
				x += (double)P[u * k + f] * Q[(uint64_t)it * k + f];
			double r = x + o.noise * cf_rng_normal(&g);
			r = r < 0.5 ? 0.5 : r > 5 ? 5 : r;
			if (o.round)
				r = round(r * 2) / 2;
			double e = expected(x, &o);
			sse += (r - e) * (r - e);
			ts += (int64_t)cf_rng_below(&g, 3600);
			if (o.frame) {
				char b[24];
				cf_rowbuf_str(rb, 0, b, utoa(b, u + 1));
				cf_rowbuf_str(rb, 1, b, utoa(b, id));
				cf_rowbuf_f32(rb, 2, (float)r);
				cf_rowbuf_i64(rb, 3, ts);
				cf_rowbuf_end_row(rb);
			} else {
				if (olen > sizeof obuf - 64)
					oflush();
				char *p = obuf + olen;
				p += utoa(p, u + 1);
				*p++ = ',';
				p += utoa(p, id);
				*p++ = ',';
				if (o.round) {
					int h = (int)(r * 2 + 0.5);
					*p++ = (char)('0' + h / 2);
					*p++ = '.';
					*p++ = h % 2 ? '5' : '0';
				} else {
					p += snprintf(p, 16, "%.4f", r);
				}
				*p++ = ',';
				p += utoa(p, (uint64_t)ts);
				*p++ = '\n';
				olen = (size_t)(p - obuf);
			}
		}
	}
	double floor_rmse = sqrt(sse / (double)o.ratings);
	if (o.frame)
		cf_rowbuf_finish(rb), cf_writer_finish(w);
	else
		oflush();
	cf_close_stdout();
	cf_warn("%llu ratings, %llu users, %llu items, rank %d; noise floor RMSE %.4f",
	        (unsigned long long)o.ratings, (unsigned long long)U, (unsigned long long)I,
	        k, floor_rmse);
	if (o.floor_file) {
		cf_outfile *f = cf_outfile_open(o.floor_file);
		fprintf(f->fp, "%.6f\n", floor_rmse);
		cf_outfile_commit(f);
	}
	free(P), free(Q), free(bu), free(bi), free(cdf), free(id_of), free(cnt);
	free(mine), free(taken);
	return 0;
}
