/*
 * train/dist.c - ALS and iALS step by step over row shards (dist.h): the
 * start is the driver's (cf_fit_prepare), each shard's rows are solved
 * by the sweep's own half-step (cf_fit_half_rows), the model is the
 * driver's (cf_fit_model_after).  Only the files between the steps are
 * this file's: frame tables named dist_state, dist_rows, dist_factors.
 */
#include "dist.h"
#include "fit.h"
#include "frame.h"
#include "par.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHARDS 4096
#define BLOCK_ROWS 65536u

/* What every step reads from state.bin. */
struct dstate {
	cf_mf_params p;
	uint32_t nu, ni;
	uint64_t n;
	double mu;
	int shards;
	uint32_t *ulo, *ilo;    /* shard s: rows [lo[s], lo[s+1]) */
};

static void
pathf(char *b, size_t n, const char *dir, const char *fmt, ...)
{
	va_list ap;
	int w = snprintf(b, n, "%s/", dir);

	va_start(ap, fmt);
	if (w < 0 || (size_t)w >= n || (size_t)vsnprintf(b + w, n - w, fmt, ap) >= n - w)
		cf_die("%s: directory name too long", dir);
	va_end(ap);
}

static int
side_items(const char *side)
{
	if (strcmp(side, "items") == 0)
		return 1;
	if (strcmp(side, "users") == 0)
		return 0;
	cf_die("side '%s': items or users", side);
}

/* ------------------------------------------------------------ attributes */

static void
set_u(cf_schema *s, const char *key, unsigned long long v)
{
	char b[32];

	snprintf(b, sizeof b, "%llu", v);
	cf_schema_set(s, key, b);
}

static const char *
need(const cf_schema *s, const char *path, const char *key)
{
	const char *v = cf_schema_get(s, key);

	if (!v)
		cf_die("%s: the '%s' table has no '%s' attribute", path, s->name, key);
	return v;
}

static unsigned long long
get_u(const cf_schema *s, const char *path, const char *key, unsigned long long max)
{
	long long v;

	if (cf_parse_i64(need(s, path, key), &v) != 0 || v < 0 || (unsigned long long)v > max)
		cf_die("%s: attribute %s='%s' is not an integer from 0 to %llu", path, key,
		       need(s, path, key), max);
	return (unsigned long long)v;
}

static double
get_d(const cf_schema *s, const char *path, const char *key)
{
	const char *v = need(s, path, key);
	char *end;
	double x = strtod(v, &end);

	if (!*v || *end)
		cf_die("%s: attribute %s='%s' is not a number", path, key, v);
	return x;
}

/* The training parameters a step depends on, as attributes (and back). */
static void
params_set(cf_schema *s, const cf_mf_params *p)
{
	cf_schema_set(s, "algo", cf_algo_name(p->algo));
	set_u(s, "k", (unsigned)p->k);
	set_u(s, "epochs", (unsigned)p->epochs);
	cf_fit_attr_num(s, "reg", p->reg);
	cf_fit_attr_num(s, "reg_bias", p->reg_bias);
	cf_fit_attr_num(s, "alpha", p->alpha);
	cf_fit_attr_num(s, "alpha0", p->alpha0);
	cf_fit_attr_num(s, "nu", p->nu);
	cf_fit_attr_num(s, "init_scale", p->init_scale);
	cf_schema_set(s, "solver", cf_solver_name(p->solver));
	set_u(s, "cg_steps", (unsigned)p->cg_steps);
	set_u(s, "seed", (unsigned long long)p->seed);
}

static void
params_get(const cf_schema *s, const char *path, cf_mf_params *p)
{
	int a = cf_algo_parse(need(s, path, "algo")), sv = cf_solver_parse(need(s, path, "solver"));

	if (a != CF_ALS && a != CF_IALS)
		cf_die("%s: algo '%s' is not als or ials", path, need(s, path, "algo"));
	if (sv < 0)
		cf_die("%s: solver '%s' is not exact or cg", path, need(s, path, "solver"));
	*p = cf_mf_defaults((cf_algo)a);
	p->k = (int)get_u(s, path, "k", 4096);
	p->epochs = (int)get_u(s, path, "epochs", 1000000);
	p->reg = get_d(s, path, "reg");
	p->reg_bias = get_d(s, path, "reg_bias");
	p->alpha = get_d(s, path, "alpha");
	p->alpha0 = get_d(s, path, "alpha0");
	p->nu = get_d(s, path, "nu");
	p->init_scale = get_d(s, path, "init_scale");
	p->solver = (cf_solver)sv;
	p->cg_steps = (int)get_u(s, path, "cg_steps", 1000);
	p->seed = get_u(s, path, "seed", UINT64_MAX >> 1);
	if (p->k < 1)
		cf_die("%s: k must be at least 1", path);
}

/* ------------------------------------------------------------ state.bin */

/* Shard bounds over rows by ratings (ptr), each a multiple of 64 rows so
 * that a shard's rows keep the whole matrix's alignment. */
static uint32_t *
bounds(const uint64_t *ptr, uint32_t nrows, int shards)
{
	uint32_t *lo = cf_xmalloc(((size_t)shards + 1) * sizeof *lo), r = 0;

	lo[0] = 0;
	for (int s = 1; s < shards; s++) {
		uint64_t want = ptr[nrows] / shards * s + ptr[nrows] % shards * s / shards;
		while (r < nrows && ptr[r] < want)
			r++;
		uint64_t up = ((uint64_t)r + 63) / 64 * 64;
		lo[s] = up > nrows ? nrows : (uint32_t)up;
		if (lo[s] < lo[s - 1])
			lo[s] = lo[s - 1];
	}
	lo[shards] = nrows;
	return lo;
}

static void
state_write(const char *dir, const struct dstate *st)
{
	char path[4096];
	cf_schema *s = cf_schema_new("dist_state");

	pathf(path, sizeof path, dir, "state.bin");
	params_set(s, &st->p);
	set_u(s, "n_users", st->nu);
	set_u(s, "n_items", st->ni);
	set_u(s, "n_ratings", st->n);
	char mu[48];
	snprintf(mu, sizeof mu, "%a", st->mu);
	cf_schema_set(s, "mu", mu);
	set_u(s, "shards", (unsigned)st->shards);
	cf_schema_add(s, "user_lo", CF_U32, 1);
	cf_schema_add(s, "item_lo", CF_U32, 1);
	cf_outfile *o = cf_outfile_open(path);
	cf_writer *w = cf_writer_new(o->fp, path);
	const void *cols[2] = {st->ulo, st->ilo};
	cf_write_table(w, s);
	cf_write_block(w, (uint32_t)st->shards + 1, cols);
	cf_writer_finish(w);
	cf_outfile_commit(o);
	cf_schema_free(s);
}

static void
state_read(const char *dir, struct dstate *st)
{
	char path[4096];
	cf_table t;

	pathf(path, sizeof path, dir, "state.bin");
	cf_reader *r = cf_reader_open_path(path);
	const cf_schema *s = cf_expect_table(r, "dist_state");
	params_get(s, path, &st->p);
	st->nu = (uint32_t)get_u(s, path, "n_users", UINT32_MAX - 1);
	st->ni = (uint32_t)get_u(s, path, "n_items", UINT32_MAX - 1);
	st->n = get_u(s, path, "n_ratings", UINT64_MAX >> 1);
	st->mu = get_d(s, path, "mu");
	st->shards = (int)get_u(s, path, "shards", MAX_SHARDS);
	int cu = cf_schema_col(s, "user_lo"), ci = cf_schema_col(s, "item_lo");
	if (st->shards < 1 || cu < 0 || ci < 0 || s->cols[cu].type != CF_U32 ||
	    s->cols[ci].type != CF_U32 || s->cols[cu].width != 1 || s->cols[ci].width != 1)
		cf_die("%s: a dist_state table needs shards >= 1 and u32 columns user_lo, item_lo",
		       path);
	cf_read_all(r, &t);
	if (t.nrows != (uint64_t)st->shards + 1)
		cf_die("%s: %llu shard bounds for %d shards", path, (unsigned long long)t.nrows,
		       st->shards);
	size_t b = ((size_t)st->shards + 1) * sizeof(uint32_t);
	st->ulo = memcpy(cf_xmalloc(b), t.col[cu], b);
	st->ilo = memcpy(cf_xmalloc(b), t.col[ci], b);
	for (int a = 0; a <= st->shards; a++)
		if (st->ulo[0] != 0 || st->ilo[0] != 0 || st->ulo[st->shards] != st->nu ||
		    st->ilo[st->shards] != st->ni ||
		    (a > 0 && (st->ulo[a] < st->ulo[a - 1] || st->ilo[a] < st->ilo[a - 1])))
			cf_die("%s: the shard bounds do not cover the rows in order", path);
	cf_table_free(&t);
	cf_read_end(r, "the dist_state table");
	cf_reader_close(r);
}

static void
state_free(struct dstate *st)
{
	free(st->ulo);
	free(st->ilo);
}

/* ------------------------------------------------------------ factor files */

/* Rows [lo, hi) of a side (X padded to kp, xb, loss or NULL: zeros). */
static void
fac_write(const char *path, const char *side, int epoch, uint32_t lo, uint32_t hi, int k,
          int kp, const float *X, const float *xb, const double *loss)
{
	cf_schema *s = cf_schema_new("dist_factors");
	uint32_t m = hi - lo, nb = m < BLOCK_ROWS ? m : BLOCK_ROWS;
	float *x = cf_xmalloc(((size_t)nb * k + 1) * sizeof *x);
	double *zero = loss ? NULL : cf_xcalloc((size_t)nb + 1, sizeof *zero);

	cf_schema_set(s, "side", side);
	set_u(s, "epoch", (unsigned)epoch);
	set_u(s, "lo", lo);
	set_u(s, "hi", hi);
	cf_schema_add(s, "bias", CF_F32, 1);
	cf_schema_add(s, "factors", CF_F32, (uint32_t)k);
	cf_schema_add(s, "loss", CF_F64, 1);
	cf_outfile *o = cf_outfile_open(path);
	cf_writer *w = cf_writer_new(o->fp, path);
	cf_write_table(w, s);
	for (uint32_t a = 0; a < m; a += nb) {
		uint32_t b = m - a < nb ? m - a : nb;
		for (uint32_t e = 0; e < b; e++)
			memcpy(x + (size_t)e * k, X + (size_t)(a + e) * kp, (size_t)k * sizeof *x);
		const void *cols[3] = {xb + a, x, loss ? loss + a : zero};
		cf_write_block(w, b, cols);
	}
	cf_writer_finish(w);
	cf_outfile_commit(o);
	cf_schema_free(s);
	free(x);
	free(zero);
}

/* Reads rows [lo, hi) of side at epoch into X (padded), xb and loss (if not NULL). */
static void
fac_read(const char *path, const char *side, int epoch, uint32_t lo, uint32_t hi, int k,
         int kp, float *X, float *xb, double *loss)
{
	cf_reader *r = cf_reader_open_path(path);
	const cf_schema *s = cf_expect_table(r, "dist_factors");
	int cb = cf_schema_col(s, "bias"), cx = cf_schema_col(s, "factors");
	int cl = cf_schema_col(s, "loss");
	cf_table t;

	if (strcmp(need(s, path, "side"), side) != 0 || get_u(s, path, "epoch", 1000000) !=
	    (unsigned)epoch || get_u(s, path, "lo", UINT32_MAX) != lo ||
	    get_u(s, path, "hi", UINT32_MAX) != hi)
		cf_die("%s: expected %s rows %u to %u after epoch %d, found %s %s to %s after %s",
		       path, side, lo, hi, epoch, need(s, path, "side"), need(s, path, "lo"),
		       need(s, path, "hi"), need(s, path, "epoch"));
	if (cb < 0 || cx < 0 || cl < 0 || s->cols[cb].type != CF_F32 || s->cols[cb].width != 1 ||
	    s->cols[cx].type != CF_F32 || s->cols[cx].width != (uint32_t)k ||
	    s->cols[cl].type != CF_F64 || s->cols[cl].width != 1)
		cf_die("%s: a dist_factors table needs bias f32, factors f32[%d], loss f64", path, k);
	cf_read_all(r, &t);
	if (t.nrows != (uint64_t)(hi - lo))
		cf_die("%s: %llu rows, not %u", path, (unsigned long long)t.nrows, hi - lo);
	const float *x = t.col[cx];
	for (uint32_t e = 0; e < hi - lo; e++)
		memcpy(X + (size_t)e * kp, x + (size_t)e * k, (size_t)k * sizeof *X);
	if (hi > lo)
		memcpy(xb, t.col[cb], (size_t)(hi - lo) * sizeof *xb);
	if (loss && hi > lo)
		memcpy(loss, t.col[cl], (size_t)(hi - lo) * sizeof *loss);
	cf_table_free(&t);
	cf_read_end(r, "the dist_factors table");
	cf_reader_close(r);
}

/* ------------------------------------------------------------ rating shards */

static void
rows_write(const char *path, const char *side, int shard, const struct csr *c, uint32_t lo,
           uint32_t hi)
{
	cf_schema *s = cf_schema_new("dist_rows");
	uint64_t a0 = c->ptr[lo], n = c->ptr[hi] - a0;
	uint32_t *row = cf_xmalloc(((size_t)n + 1) * sizeof *row);

	for (uint32_t e = lo; e < hi; e++)
		for (uint64_t a = c->ptr[e]; a < c->ptr[e + 1]; a++)
			row[a - a0] = e - lo;
	cf_schema_set(s, "side", side);
	set_u(s, "shard", (unsigned)shard);
	set_u(s, "lo", lo);
	set_u(s, "hi", hi);
	cf_schema_add(s, "row", CF_U32, 1);
	cf_schema_add(s, "idx", CF_U32, 1);
	cf_schema_add(s, "val", CF_F32, 1);
	cf_outfile *o = cf_outfile_open(path);
	cf_writer *w = cf_writer_new(o->fp, path);
	cf_write_table(w, s);
	for (uint64_t a = 0; a < n; a += 1u << 20) {
		uint32_t b = n - a < (1u << 20) ? (uint32_t)(n - a) : 1u << 20;
		const void *cols[3] = {row + a, c->idx + a0 + a, c->val + a0 + a};
		cf_write_block(w, b, cols);
	}
	cf_writer_finish(w);
	cf_outfile_commit(o);
	cf_schema_free(s);
	free(row);
}

/* Shard's rows [lo, hi) as compressed rows (local indices), others < nother. */
static void
rows_read(const char *path, const char *side, int shard, uint32_t lo, uint32_t hi,
          uint32_t nother, struct csr *c)
{
	cf_reader *r = cf_reader_open_path(path);
	const cf_schema *s = cf_expect_table(r, "dist_rows");
	int cr = cf_schema_col(s, "row"), ci = cf_schema_col(s, "idx"), cv = cf_schema_col(s, "val");
	uint32_t m = hi - lo;
	cf_table t;

	if (strcmp(need(s, path, "side"), side) != 0 ||
	    get_u(s, path, "shard", MAX_SHARDS) != (unsigned)shard ||
	    get_u(s, path, "lo", UINT32_MAX) != lo || get_u(s, path, "hi", UINT32_MAX) != hi)
		cf_die("%s: not shard %d (%s %u to %u) of this run", path, shard, side, lo, hi);
	if (cr < 0 || ci < 0 || cv < 0 || s->cols[cr].type != CF_U32 ||
	    s->cols[ci].type != CF_U32 || s->cols[cv].type != CF_F32 || s->cols[cr].width != 1 ||
	    s->cols[ci].width != 1 || s->cols[cv].width != 1)
		cf_die("%s: a dist_rows table needs u32 row, u32 idx, f32 val", path);
	cf_read_all(r, &t);
	size_t n = (size_t)t.nrows;
	const uint32_t *row = t.col[cr], *idx = t.col[ci];
	c->ptr = cf_xcalloc((size_t)m + 1, sizeof *c->ptr);
	c->idx = cf_xmalloc((n + 1) * sizeof *c->idx);
	c->val = cf_xmalloc((n + 1) * sizeof *c->val);
	for (size_t j = 0; j < n; j++) {
		if (row[j] >= m || (j > 0 && row[j] < row[j - 1]) || idx[j] >= nother)
			cf_die("%s: rating %zu: row %u or index %u out of range or order", path, j,
			       row[j], idx[j]);
		c->ptr[row[j] + 1]++;
	}
	for (uint32_t e = 0; e < m; e++)
		c->ptr[e + 1] += c->ptr[e];
	if (n) {
		memcpy(c->idx, idx, n * sizeof *c->idx);
		memcpy(c->val, t.col[cv], n * sizeof *c->val);
	}
	cf_table_free(&t);
	cf_read_end(r, "the dist_rows table");
	cf_reader_close(r);
}

/* ------------------------------------------------------------ the steps */

void
cf_dist_init(cf_ratings *train, const cf_mf_params *p, int shards, const char *dir)
{
	struct fit f;
	struct dstate st;
	cf_idmap *users, *items;
	char err[512], path[4096];

	if (p->algo != CF_ALS && p->algo != CF_IALS)
		cf_die("distributed training is for als and ials, not %s", cf_algo_name(p->algo));
	if (shards < 1 || shards > MAX_SHARDS)
		cf_die("--shards must be between 1 and %d, not %d", MAX_SHARDS, shards);
	if (cf_fit_prepare(&f, train, p, &users, &items, err, sizeof err) < 0)
		cf_die("%s", err);
	memset(&st, 0, sizeof st);
	st.p = f.p;
	st.nu = f.nu;
	st.ni = f.ni;
	st.n = f.n;
	st.mu = f.mu;
	st.shards = shards;
	st.ulo = bounds(f.byu.ptr, f.nu, shards);
	st.ilo = bounds(f.byi.ptr, f.ni, shards);
	for (int s = 0; s < shards; s++) {
		uint32_t ul = st.ulo[s], uh = st.ulo[s + 1], il = st.ilo[s], ih = st.ilo[s + 1];
		pathf(path, sizeof path, dir, "items-%d.rows", s);
		rows_write(path, "items", s, &f.byi, il, ih);
		pathf(path, sizeof path, dir, "users-%d.rows", s);
		rows_write(path, "users", s, &f.byu, ul, uh);
		pathf(path, sizeof path, dir, "items-0.%d.fac", s);
		fac_write(path, "items", 0, il, ih, f.k, f.kp, f.Q + (size_t)il * f.kp, f.bi + il,
		          NULL);
		pathf(path, sizeof path, dir, "users-0.%d.fac", s);
		fac_write(path, "users", 0, ul, uh, f.k, f.kp, f.P + (size_t)ul * f.kp, f.bu + ul,
		          NULL);
	}
	pathf(path, sizeof path, dir, "users-0.fac");
	fac_write(path, "users", 0, 0, f.nu, f.k, f.kp, f.P, f.bu, NULL);
	/* Last: its presence says the rest is complete. */
	state_write(dir, &st);
	state_free(&st);
	cf_fit_release(&f);
	cf_idmap_free(users);
	cf_idmap_free(items);
}

void
cf_dist_solve(const char *dir, const char *side, int epoch, int shard, int threads)
{
	struct dstate st;
	struct fit f;
	struct csr c;
	char path[4096], err[512] = "";
	int items = side_items(side);
	const char *other = items ? "users" : "items";

	state_read(dir, &st);
	if (shard < 0 || shard >= st.shards || epoch < 1 || epoch > st.p.epochs)
		cf_die("%s: shard %d of %d at epoch %d: the run has shards 0 to %d, epochs 1 to %d",
		       dir, shard, st.shards, epoch, st.shards - 1, st.p.epochs);
	uint32_t nrows = items ? st.ni : st.nu, nother = items ? st.nu : st.ni;
	uint32_t lo = (items ? st.ilo : st.ulo)[shard], hi = (items ? st.ilo : st.ulo)[shard + 1];
	uint32_t m = hi - lo;
	(void)nrows;
	/* The fit a row solve sees: the parameters, mu and the thread count. */
	memset(&f, 0, sizeof f);
	f.p = st.p;
	f.info = cf_algo_get(f.p.algo);
	f.k = f.p.k;
	f.kp = (f.k + 7) / 8 * 8;
	f.threads = cf_par_threads(threads);
	f.explicit_ = f.info->explicit_;
	f.mu = st.mu;
	f.err = err;
	f.errlen = sizeof err;
	cf_blas_single();

	float *F = cf_fmat(nother, f.kp), *fb = cf_xcalloc((size_t)nother + 1, sizeof *fb);
	float *X = cf_fmat(m, f.kp), *xb = cf_xcalloc((size_t)m + 1, sizeof *xb);
	double *loss = cf_xmalloc(((size_t)m + 1) * sizeof *loss);
	int fixed_ep = items ? epoch - 1 : epoch;
	pathf(path, sizeof path, dir, "%s-%d.fac", other, fixed_ep);
	fac_read(path, other, fixed_ep, 0, nother, f.k, f.kp, F, fb, NULL);
	pathf(path, sizeof path, dir, "%s-%d.%d.fac", side, epoch - 1, shard);
	fac_read(path, side, epoch - 1, lo, hi, f.k, f.kp, X, xb, NULL);
	pathf(path, sizeof path, dir, "%s-%d.rows", side, shard);
	rows_read(path, side, shard, lo, hi, nother, &c);
	double l = cf_fit_half_rows(&f, &c, m, F, fb, nother, X, xb, !f.explicit_,
	                            items ? "item" : "user", loss);
	if (isnan(l) && err[0])
		cf_die("%s shard %d, epoch %d: %s (counted from the shard's first, %u)", side,
		       shard, epoch, err, lo);
	pathf(path, sizeof path, dir, "%s-%d.%d.fac", side, epoch, shard);
	fac_write(path, side, epoch, lo, hi, f.k, f.kp, X, xb, loss);
	free(F);
	free(fb);
	free(X);
	free(xb);
	free(loss);
	cf_csr_free(&c);
	state_free(&st);
}

void
cf_dist_merge(const char *dir, const char *side, int epoch)
{
	struct dstate st;
	char path[4096];
	int items = side_items(side);

	state_read(dir, &st);
	if (epoch < 1 || epoch > st.p.epochs)
		cf_die("%s: epoch %d: the run has epochs 1 to %d", dir, epoch, st.p.epochs);
	uint32_t n = items ? st.ni : st.nu;
	const uint32_t *lo = items ? st.ilo : st.ulo;
	int k = st.p.k, kp = (k + 7) / 8 * 8;
	float *X = cf_fmat(n, kp), *xb = cf_xcalloc((size_t)n + 1, sizeof *xb);
	double *loss = cf_xcalloc((size_t)n + 1, sizeof *loss);
	for (int s = 0; s < st.shards; s++) {
		pathf(path, sizeof path, dir, "%s-%d.%d.fac", side, epoch, s);
		fac_read(path, side, epoch, lo[s], lo[s + 1], k, kp, X + (size_t)lo[s] * kp,
		         xb + lo[s], loss + lo[s]);
	}
	if (!cf_finite_all(X, (size_t)n * kp) || !cf_finite_all(xb, n))
		cf_die("%s diverged at epoch %d (NaN or infinite %s factors): raise --reg (now %g)",
		       cf_algo_name(st.p.algo), epoch, side, st.p.reg);
	pathf(path, sizeof path, dir, "%s-%d.fac", side, epoch);
	fac_write(path, side, epoch, 0, n, k, kp, X, xb, loss);
	free(X);
	free(xb);
	free(loss);
	state_free(&st);
}

cf_model *
cf_dist_model(cf_ratings *train, const cf_mf_params *p, const char *dir)
{
	struct fit f;
	struct dstate st;
	cf_idmap *users, *items;
	char err[512], path[4096];

	if (cf_fit_prepare(&f, train, p, &users, &items, err, sizeof err) < 0)
		cf_die("%s", err);
	state_read(dir, &st);
	/* The same parameters and data as the run's start, or another run. */
	cf_schema *want = cf_schema_new("dist_state"), *got = cf_schema_new("dist_state");
	params_set(want, &f.p);
	params_set(got, &st.p);
	for (uint32_t a = 0; a < want->nattrs; a++)
		if (strcmp(want->attrs[a].val, cf_schema_get(got, want->attrs[a].key)) != 0)
			cf_die("%s/state.bin: made with %s=%s, not %s", dir, want->attrs[a].key,
			       cf_schema_get(got, want->attrs[a].key), want->attrs[a].val);
	cf_schema_free(want);
	cf_schema_free(got);
	if (st.nu != f.nu || st.ni != f.ni || st.n != f.n || memcmp(&st.mu, &f.mu, sizeof f.mu))
		cf_die("%s/state.bin: made from other ratings (%u users, %u items, %llu ratings)",
		       dir, st.nu, st.ni, (unsigned long long)st.n);
	double *loss = cf_xcalloc((size_t)f.nu + 1, sizeof *loss), total = 0;
	pathf(path, sizeof path, dir, "users-%d.fac", f.p.epochs);
	fac_read(path, "users", f.p.epochs, 0, f.nu, f.k, f.kp, f.P, f.bu, loss);
	pathf(path, sizeof path, dir, "items-%d.fac", f.p.epochs);
	fac_read(path, "items", f.p.epochs, 0, f.ni, f.k, f.kp, f.Q, f.bi, NULL);
	/* The last epoch's figure, summed in row order as cf_fit_half does. */
	for (uint32_t u = 0; u < f.nu; u++)
		total += loss[u];
	free(loss);
	state_free(&st);
	double tr = f.explicit_ ? sqrt(total / f.n) : total / f.n;
	if (!isfinite(tr) || !cf_fit_params_finite(&f, f.bu, f.bi, f.P, f.Q))
		cf_die("%s diverged (NaN or infinite factors or loss in %s)", cf_algo_name(f.p.algo),
		       dir);
	return cf_fit_model_after(&f, train, tr, users, items);
}
