/*
 * train/driver.c - the one training driver (mf.h, fit.h): parameters,
 * the data (mapped into the model's dictionaries, merged with a model's
 * ratings when fine-tuning), the parameters' start, validation, the epoch
 * loop with progress, early stopping and divergence checks, and the
 * model it makes.  The algorithms are rows of ops[]: what an epoch is
 * belongs to each algorithm's file.
 */
#include "fit.h"
#include "itemfeat.h"
#include "timefeat.h"
#include "par.h"
#include "progress.h"
#include "rng.h"
#include "util.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const cf_fit_ops *const ops[CF_NALGOS] = {
	[CF_SGD] = &cf_fit_sgd,
	[CF_ALS] = &cf_fit_als,
	[CF_IALS] = &cf_fit_ials,
	[CF_BASELINE] = &cf_fit_baseline,
	[CF_POPULAR] = &cf_fit_popular,
	[CF_FM] = &cf_fit_fm,
	[CF_EASE] = &cf_fit_ease,
	[CF_RP3B] = &cf_fit_rp3b,
};

/* ------------------------------------------------------------ parameters */

cf_mf_params
cf_mf_defaults(cf_algo algo)
{
	const cf_algo_info *d = cf_algo_get(algo);
	cf_mf_params p;

	memset(&p, 0, sizeof p);
	p.algo = algo;
	p.seed = 42;
	p.init_scale = 0.1;
	p.k = d->k;
	p.epochs = d->epochs;
	p.lr = d->lr;
	p.lr_decay = d->lr_decay;
	p.reg = d->reg;
	p.reg_bias = d->reg_bias;
	p.alpha = d->alpha;
	p.burn_in = d->burn_in;
	p.fm_groups = CF_FM_DEFAULT;
	p.beta = d->beta;
	p.keep = d->keep;
	/* als, ials: the solver; ials: Rendle et al.'s alpha0 and nu */
	const cf_lsq_defaults *l = cf_algo_lsq(algo);
	p.solver = l->solver;
	p.cg_steps = l->cg_steps;
	p.alpha0 = l->alpha0;
	p.nu = l->nu;
	cf_algo_time_defaults(algo, &p.time_window, &p.time_weight);
	return p;
}

int
cf_mf_params_of(const cf_model *m, cf_mf_params *p)
{
	const cf_hparams *h = &m->hp;

	if (h->algo < 0 || h->algo >= CF_NALGOS)
		return -1;
	*p = cf_mf_defaults((cf_algo)h->algo);
	if (p->k > 0)
		p->k = m->k;
	if (h->epochs >= 1 && h->epochs <= 1000000)
		p->epochs = h->epochs;
	p->lr = h->lr;
	p->lr_decay = h->lr_decay;
	p->reg = h->reg;
	p->reg_bias = h->reg_bias;
	p->alpha = h->alpha;
	p->init_scale = h->init_scale;
	p->alpha0 = h->alpha0;
	p->nu = h->nu;
	p->seed = h->seed;
	if (h->algo == CF_FM) {
		/* the model's k is fm_k x samples: training wants one sample's */
		if (h->fm_k >= 1 && h->fm_k <= 65536)
			p->k = h->fm_k;
		p->burn_in = h->burn_in >= 0 && h->burn_in <= 1000000 ? h->burn_in : p->burn_in;
		const char *g = cf_schema_get(m->attrs, "fm_groups");
		if (g && cf_fm_groups_parse(g, &p->fm_groups) < 0)
			p->fm_groups = CF_FM_DEFAULT;
	}
	p->beta = h->beta;
	p->keep = h->keep;
	p->max_items = h->max_items;
	return 0;
}

void
cf_fit_fail(struct fit *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (f->err && f->errlen)
		vsnprintf(f->err, f->errlen, fmt, ap);
	va_end(ap);
}

void
cf_fit_attr_num(cf_schema *s, const char *key, double v)
{
	char b[40];

	snprintf(b, sizeof b, "%.17g", v);
	cf_schema_set(s, key, b);
}

void
cf_fit_attr_weights(cf_schema *s, const cf_mf_params *p, int with_bias)
{
	const cf_algo_info *d = cf_algo_get(p->algo);

	cf_schema_set(s, "reg_weight", cf_regw_name(d->reg_weight));
	if (with_bias)
		cf_schema_set(s, "reg_bias_weight", cf_regw_name(d->reg_bias_weight));
}

static void
attr_int(cf_schema *s, const char *key, long long v)
{
	char b[32];

	snprintf(b, sizeof b, "%lld", v);
	cf_schema_set(s, key, b);
}

static int
check_params(struct fit *f)
{
	const cf_mf_params *p = &f->p;
	struct {
		const char *name;
		double v;
	} h[] = {{"lr", p->lr}, {"lr-decay", p->lr_decay}, {"reg", p->reg},
	         {"reg-bias", p->reg_bias}, {"alpha", p->alpha}, {"init-scale", p->init_scale},
	         {"beta", p->beta}};

	if ((unsigned)p->algo >= CF_NALGOS)
		return cf_fit_fail(f, "unknown algorithm %d", (int)p->algo), -1;
	for (size_t a = 0; a < sizeof h / sizeof h[0]; a++)
		if (!(h[a].v >= 0) || isinf(h[a].v))
			return cf_fit_fail(f, "--%s must be a finite number >= 0, not %g", h[a].name,
			                   h[a].v), -1;
	if (f->info->k > 0 && p->k <= 0)
		return cf_fit_fail(f, "-k must be at least 1 for %s, not %d", f->info->name, p->k), -1;
	if (p->k < 0 || p->k > 65536)
		return cf_fit_fail(f, "-k must be between 0 and 65536, not %d", p->k), -1;
	if (p->epochs <= 0)
		return cf_fit_fail(f, "--epochs must be at least 1, not %d", p->epochs), -1;
	if (p->algo == CF_SGD && p->lr <= 0)
		return cf_fit_fail(f, "--lr must be > 0 for sgd"), -1;
	/* als, ials: the solver; ials: the weights of solve.h stay >= 0 */
	if (p->solver != CF_SOLVER_EXACT && p->solver != CF_SOLVER_CG)
		return cf_fit_fail(f, "unknown solver %d", (int)p->solver), -1;
	if (p->solver == CF_SOLVER_CG && (p->cg_steps < 1 || p->cg_steps > 1000))
		return cf_fit_fail(f, "--cg-steps must be between 1 and 1000, not %d",
		                   p->cg_steps), -1;
	if (!(p->alpha0 >= 0 && p->alpha0 <= 1))
		return cf_fit_fail(f, "--alpha0 must be between 0 and 1, not %g", p->alpha0), -1;
	if (!isfinite(p->nu) || fabs(p->nu) > 10)
		return cf_fit_fail(f, "--nu must be between -10 and 10, not %g", p->nu), -1;
	if (p->patience < 0)
		return cf_fit_fail(f, "--patience must be >= 0, not %d", p->patience), -1;
	if (p->threads < 0)
		return cf_fit_fail(f, "--threads must be >= 0, not %d", p->threads), -1;
	if (p->burn_in < 0)
		return cf_fit_fail(f, "--burn-in must be >= 0, not %d", p->burn_in), -1;
	/* fm's prediction is the mean over its samples: no best epoch to keep. */
	if (p->algo == CF_FM && p->patience > 0)
		return cf_fit_fail(f, "--patience does not apply to fm (it averages its samples)"),
		       -1;
	if (f->info->form == CF_FORM_ITEMNN && (p->keep < 1 || p->max_items < 0))
		return cf_fit_fail(f, "--keep must be >= 1 and --max-items >= 0, not %d and %d",
		                   p->keep, p->max_items), -1;
	if (!(p->time_window >= 0 && p->time_window < 1e12 && p->time_weight >= 0 &&
	      p->time_weight < 1e6))
		return cf_fit_fail(f, "--time-window must be 0 to 1e12 seconds and --time-weight "
		                   "0 to 1e6, not %g and %g", p->time_window, p->time_weight), -1;
	return 0;
}

int
cf_mf_params_check(const cf_mf_params *p, char *err, size_t errlen)
{
	struct fit F;

	memset(&F, 0, sizeof F);
	F.p = *p;
	F.err = err;
	F.errlen = errlen;
	if (err && errlen)
		err[0] = 0;
	if ((unsigned)p->algo >= CF_NALGOS) {
		cf_fit_fail(&F, "unknown algorithm %d", (int)p->algo);
		return -1;
	}
	F.info = cf_algo_get(p->algo);
	if (F.info->k == 0)
		F.p.k = 0;
	return check_params(&F);
}

/* Checks the parameters and sets up f for n ratings; -1 (f->err set) if refused. */
static int
fit_init(struct fit *f, const cf_mf_params *p, size_t n, const cf_model *init, char *err,
         size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->p = *p;
	f->err = err;
	f->errlen = errlen;
	if (err && errlen)
		err[0] = 0;
	cf_blas_single();
	if ((unsigned)p->algo >= CF_NALGOS) {
		cf_fit_fail(f, "unknown algorithm %d", (int)p->algo);
		return -1;
	}
	f->info = cf_algo_get(p->algo);
	f->ops = ops[p->algo];
	if (f->info->k == 0)
		f->p.k = 0;
	if (check_params(f) < 0)
		return -1;
	if (n == 0) {
		cf_fit_fail(f, "no ratings to train on");
		return -1;
	}
	f->k = f->p.k;
	f->kp = (f->k + 7) / 8 * 8;
	f->threads = cf_par_threads(p->threads);
	f->explicit_ = f->info->explicit_;
	if (init) {
		if (init->hp.algo != (int)p->algo) {
			cf_fit_fail(f, "the --init model is a '%s' model: fine-tuning keeps its "
			            "algorithm, not %s", init->algo, f->info->name);
			return -1;
		}
		/* fm: a sampler keeps no parameters; it trains anew on init's
		 * ratings with the new ones merged in (fit_data), nothing fixed. */
		if (p->algo == CF_FM)
			return 0;
		if (f->info->form == CF_FORM_ITEMNN) {
			/* Closed-form weights have no per-user parameters to refit: a new
			 * person is scored from their history as it is (--fold-in). */
			cf_fit_fail(f, "a '%s' model is not fine-tuned: fit it anew on all the "
			            "ratings (new users need no refit: mf-score --fold-in)",
			            init->algo);
			return -1;
		}
		if (init->k != f->k) {
			cf_fit_fail(f, "the --init model has k=%d, training asks for k=%d", init->k,
			            f->k);
			return -1;
		}
		f->finetune = 1;
	}
	return 0;
}

/* ------------------------------------------------------------ the data */

/*
 * Fine-tuning: the rows become init's seen ratings of pairs the new rows
 * do not rate again, then the new rows (all in the model's indices), and
 * ufix/ifix mark the users and items the new rows do not touch.
 */
static void
merge_init(struct fit *f, struct rows *rw, const cf_model *init)
{
	size_t n = rw->n, cap = n + init->nseen, w = 0;
	int has_ts = rw->t.w && init->seen_ts;
	uint32_t *mark = cf_xmalloc(((size_t)f->ni + 1) * sizeof *mark);
	uint64_t *ptr = cf_xcalloc((size_t)f->nu + 2, sizeof *ptr);
	uint32_t *byu = cf_xmalloc((n ? n : 1) * sizeof *byu);
	struct rows m = {0, cf_xmalloc((cap + 1) * 4), cf_xmalloc((cap + 1) * 4),
	                 cf_xmalloc((cap + 1) * 4), {0, 0, NULL}};
	int64_t *ts = has_ts ? cf_xmalloc((cap + 1) * 8) : NULL;

	f->ufix = cf_xmalloc((size_t)f->nu + 1);
	f->ifix = cf_xmalloc((size_t)f->ni + 1);
	memset(f->ufix, 1, (size_t)f->nu + 1);
	memset(f->ifix, 1, (size_t)f->ni + 1);
	/* The new rows grouped by user (a counting sort in row order). */
	for (size_t j = 0; j < n; j++) {
		ptr[rw->u[j] + 2]++;
		f->ufix[rw->u[j]] = f->ifix[rw->i[j]] = 0;
	}
	for (uint32_t u = 0; u < f->nu; u++)
		ptr[u + 2] += ptr[u + 1];
	for (size_t j = 0; j < n; j++)
		byu[ptr[rw->u[j] + 1]++] = (uint32_t)j;
	memset(mark, 0xff, ((size_t)f->ni + 1) * sizeof *mark);
	for (uint32_t u = 0; u < init->nusers; u++) {
		for (uint64_t t = ptr[u]; t < ptr[u + 1]; t++)
			mark[rw->i[byu[t]]] = u;
		for (uint64_t t = init->seen_ptr[u]; t < init->seen_ptr[u + 1]; t++) {
			if (mark[init->seen_item[t]] == u)
				continue;       /* rated again: the new rating replaces it */
			m.u[w] = u;
			m.i[w] = init->seen_item[t];
			m.r[w] = init->seen_rating[t];
			if (has_ts)
				ts[w] = init->seen_ts[t];
			w++;
		}
	}
	for (size_t j = 0; j < n; j++, w++) {
		m.u[w] = rw->u[j];
		m.i[w] = rw->i[j];
		m.r[w] = rw->r[j];
		if (has_ts)
			ts[w] = cf_ts_at(&rw->t, j);
	}
	m.n = w;
	m.t = cf_ts_pack(ts, w, 1);
	if (!has_ts)
		free(ts);
	cf_rows_free(rw);
	*rw = m;
	free(mark);
	free(ptr);
	free(byu);
}

/*
 * The model's dictionaries (train's, or init's ids then train's new
 * ones), the rows mapped into them (merged with init's when fine-tuning),
 * mu, then byu and byi.  -1 (f->err set) on a bad rating.
 */
static int
fit_data(struct fit *f, const cf_ratings *train, struct rows *rw, const cf_model *init,
         cf_idmap **users, cf_idmap **items)
{
	double s = 0;

	if (!cf_finite_all(rw->r, rw->n)) {
		cf_fit_fail(f, "a rating is NaN or infinite");
		cf_rows_free(rw);
		return -1;
	}
	if (init) {
		*users = cf_idmap_union(init->users, train->users);
		*items = cf_idmap_union(init->items, train->items);
		uint32_t *um = cf_idmap_map(train->users, *users);
		uint32_t *im = cf_idmap_map(train->items, *items);
		for (size_t j = 0; j < rw->n; j++) {
			rw->u[j] = um[rw->u[j]];
			rw->i[j] = im[rw->i[j]];
		}
		free(um);
		free(im);
	} else {
		/* The rows are in train's indices already. */
		*users = cf_idmap_copy(train->users);
		*items = cf_idmap_copy(train->items);
	}
	f->nu = cf_idmap_count(*users);
	f->ni = cf_idmap_count(*items);
	if (init)
		merge_init(f, rw, init);
	f->n = rw->n;
	f->has_scale = train->has_scale;
	f->lo = (float)train->rating_min;
	f->hi = (float)train->rating_max;
	for (size_t j = 0; j < f->n; j++)
		s += rw->r[j];
	f->mu = f->explicit_ ? s / f->n : 0;
	if (init && f->explicit_)
		f->mu = init->mu;
	cf_fit_build(f, rw);
	return 0;
}

static void
init_factors(float *X, uint32_t n, int k, int kp, double sd, uint64_t seed, uint64_t stream,
             const unsigned char *keep)
{
	cf_rng rng;

	cf_rng_seed(&rng, seed, stream);
	for (uint32_t a = 0; a < n; a++)
		for (int c = 0; c < k; c++) {
			float v = (float)(sd * cf_rng_normal(&rng));
			if (!(keep && keep[a]))
				X[(size_t)a * kp + c] = v;
		}
}

/* The parameters' start: init's where it has them, random factors elsewhere. */
static void
fit_params(struct fit *f, const cf_model *init)
{
	f->bu = cf_xcalloc((size_t)f->nu + 1, sizeof *f->bu);
	f->bi = cf_xcalloc((size_t)f->ni + 1, sizeof *f->bi);
	f->P = cf_fmat(f->nu, f->kp);
	f->Q = cf_fmat(f->ni, f->kp);
	if (f->p.algo == CF_FM)
		init = NULL;    /* fm draws its own start (train/fm.c) */
	unsigned char *ukeep = init ? cf_xcalloc((size_t)f->nu + 1, 1) : NULL;
	unsigned char *ikeep = init ? cf_xcalloc((size_t)f->ni + 1, 1) : NULL;
	for (uint32_t u = 0; init && u < init->nusers; u++) {
		ukeep[u] = 1;
		f->bu[u] = init->bu[u];
		if (f->k > 0)
			memcpy(f->P + (size_t)u * f->kp, init->P + (size_t)u * init->k,
			       (size_t)f->k * sizeof(float));
	}
	for (uint32_t i = 0; init && i < init->nitems; i++) {
		ikeep[i] = 1;
		f->bi[i] = init->bi[i];
		if (f->k > 0)
			memcpy(f->Q + (size_t)i * f->kp, init->Q + (size_t)i * init->k,
			       (size_t)f->k * sizeof(float));
	}
	if (f->k > 0) {
		double sd = f->p.init_scale / sqrt((double)f->k);
		init_factors(f->P, f->nu, f->k, f->kp, sd, f->p.seed, 1, ukeep);
		init_factors(f->Q, f->ni, f->k, f->kp, sd, f->p.seed, 2, ikeep);
		/* Ids with no ratings (a split's full dictionaries) get no
		 * factors: they are predicted by biases alone. */
		for (uint32_t u = 0; u < f->nu; u++)
			if (f->byu.ptr[u] == f->byu.ptr[u + 1] && !(ukeep && ukeep[u]))
				memset(f->P + (size_t)u * f->kp, 0, (size_t)f->kp * sizeof(float));
		for (uint32_t i = 0; i < f->ni; i++)
			if (f->byi.ptr[i] == f->byi.ptr[i + 1] && !(ikeep && ikeep[i]))
				memset(f->Q + (size_t)i * f->kp, 0, (size_t)f->kp * sizeof(float));
	}
	free(ukeep);
	free(ikeep);
}

/* Validation rows, mapped by raw id; for top-N models, by user too. */
static void
fit_valid(struct fit *f, const cf_ratings *valid, const cf_idmap *users,
          const cf_idmap *items)
{
	uint32_t *um = cf_idmap_map(valid->users, users), *im = cf_idmap_map(valid->items, items);

	f->vn = valid->n;
	f->vu = cf_xmalloc(f->vn * sizeof *f->vu);
	f->vi = cf_xmalloc(f->vn * sizeof *f->vi);
	f->vr = cf_xmalloc(f->vn * sizeof *f->vr);
	for (size_t j = 0; j < f->vn; j++) {
		f->vu[j] = um[valid->user[j]];
		f->vi[j] = im[valid->item[j]];
		f->vr[j] = valid->rating[j];
	}
	/* fm's time features score a validation pair at its own time */
	if (valid->has_ts)
		f->vts = memcpy(cf_xmalloc((f->vn + 1) * sizeof *f->vts), valid->ts,
		                f->vn * sizeof *f->vts);
	free(um);
	free(im);
	if (f->explicit_)
		return;
	/* Top-N: each known user's held-out known items. */
	size_t nk = 0;
	uint32_t *ku = cf_xmalloc(f->vn * sizeof *ku), *ki = cf_xmalloc(f->vn * sizeof *ki);
	for (size_t j = 0; j < f->vn; j++)
		if (f->vu[j] != UINT32_MAX && f->vi[j] != UINT32_MAX) {
			ku[nk] = f->vu[j];
			ki[nk++] = f->vi[j];
		}
	cf_csr_build(&f->vbyu, f->nu, nk, ku, ki, f->vr);
	free(ku);
	free(ki);
}

static void
fit_free(struct fit *f)
{
	if (f->ops && f->ops->release)
		f->ops->release(f);
	cf_csr_free(&f->byu);
	cf_csr_free(&f->byi);
	cf_csr_free(&f->vbyu);
	cf_csr_free(&f->nn);
	free(f->ts.a);
	free(f->bu);
	free(f->bi);
	free(f->P);
	free(f->Q);
	cf_itemfeat_free(f->itemfeat);
	cf_timefeat_free(f->timefeat);
	free(f->ufix);
	free(f->ifix);
	free(f->vu);
	free(f->vi);
	free(f->vr);
	free(f->vts);
}

/* ------------------------------------------------------------ the loop */

struct snap {
	float *bu, *bi, *P, *Q;
};

static void
snap_take(struct snap *s, const struct fit *f)
{
	size_t pb = (size_t)f->nu * f->kp * sizeof(float), qb = (size_t)f->ni * f->kp * sizeof(float);

	if (!s->bu) {
		s->bu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
		s->bi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
		s->P = cf_xmalloc(pb + 1);
		s->Q = cf_xmalloc(qb + 1);
	}
	memcpy(s->bu, f->bu, f->nu * sizeof(float));
	memcpy(s->bi, f->bi, f->ni * sizeof(float));
	memcpy(s->P, f->P, pb);
	memcpy(s->Q, f->Q, qb);
}

static void
snap_restore(const struct snap *s, struct fit *f)
{
	memcpy(f->bu, s->bu, f->nu * sizeof(float));
	memcpy(f->bi, s->bi, f->ni * sizeof(float));
	memcpy(f->P, s->P, (size_t)f->nu * f->kp * sizeof(float));
	memcpy(f->Q, s->Q, (size_t)f->ni * f->kp * sizeof(float));
}

static void
snap_free(struct snap *s)
{
	free(s->bu);
	free(s->bi);
	free(s->P);
	free(s->Q);
	memset(s, 0, sizeof *s);
}

/* What the loop reports. */
struct run {
	int epochs_run, best_ep;
	double last_train, last_v, vrecall;
};

static double
valid_figure(const struct fit *f, double *recall)
{
	if (f->ops->valid)
		return f->ops->valid(f);
	return f->explicit_ ? cf_fit_rmse(f, f->vu, f->vi, f->vr, f->vn) : cf_fit_topn(f, recall);
}

static void
progress_header(const struct fit *f)
{
	const char *metric = f->explicit_ ? "rmse" : "loss";
	const char *vmetric = f->explicit_ ? "valid_rmse" : "valid_ndcg10";

	if (!f->p.quiet && !cf_progress_tty())   /* a terminal: the status line instead */
		fprintf(stderr, "%6s %12s %12s%s %8s\n", "epoch",
		        f->explicit_ ? "train_rmse" : "train_loss", f->vn ? vmetric : "",
		        f->vn && !f->explicit_ ? "  valid_recall10" : "", "seconds");
	if (f->p.log)
		fprintf(f->p.log, "epoch,train_%s%s%s,seconds\n", metric, f->vn ? "," : "",
		        f->vn ? vmetric : "");
}

/* The sweeps a run makes: fm's burn-in ones, then one per kept sample. */
static int
sweeps_total(const struct fit *f)
{
	return f->p.epochs + (f->p.algo == CF_FM ? f->p.burn_in : 0);
}

/*
 * On a terminal, before epoch ep: "epoch 3/15  4.9 s/epoch  ETA 59 s
 * valid 0.8712", the figures of the epochs done (elapsed seconds in all),
 * the last one's validation figure (else its training figure).
 */
static void
progress_status(const struct fit *f, int ep, double elapsed, double tr, double v)
{
	char fig[64] = "";
	int total = sweeps_total(f);

	if (f->p.quiet || !cf_progress_tty())
		return;
	if (ep == 1) {
		cf_progress(1, "epoch 1/%d  %s k=%d", total, f->info->name, f->k);
		return;
	}
	double per = elapsed / (ep - 1);
	if (f->vn)
		snprintf(fig, sizeof fig, "  valid %s %.4f", f->explicit_ ? "rmse" : "ndcg@10", v);
	else
		snprintf(fig, sizeof fig, "  train %s %.4f", f->explicit_ ? "rmse" : "loss", tr);
	cf_progress(1, "epoch %d/%d  %.3g s/epoch  ETA %.0f s%s", ep, total, per,
	            per * (total - ep + 1), fig);
}

static void
progress_row(const struct fit *f, int ep, double tr, double v, double vrecall, double secs)
{
	if (!f->p.quiet && !cf_progress_tty()) {
		fprintf(stderr, "%6d %12.6f", ep, tr);
		if (f->vn)
			fprintf(stderr, " %12.6f", v);
		if (f->vn && !f->explicit_)
			fprintf(stderr, " %16.6f", vrecall);
		fprintf(stderr, " %8.2f\n", secs);
	}
	if (f->p.log) {
		fprintf(f->p.log, "%d,%.6f", ep, tr);
		if (f->vn)
			fprintf(f->p.log, ",%.6f", v);
		fprintf(f->p.log, ",%.3f\n", secs);
	}
}

/*
 * The epochs: each the algorithm's epoch (or, fine-tuning, its refit
 * sweep), the divergence check, validation, early stopping with the best
 * epoch's parameters restored.  -1 (f->err set) on failure.
 */
static int
fit_loop(struct fit *f, struct run *r)
{
	const cf_fit_ops *op = f->ops;
	double (*step)(struct fit *, int) = f->finetune && op->refit ? op->refit : op->epoch;
	struct snap best = {0};
	double best_v = NAN;
	int ep, since = 0, rc = -1;

	r->best_ep = 0;
	r->last_train = r->last_v = r->vrecall = NAN;
	if (!f->finetune && op->setup && op->setup(f) < 0)
		return -1;
	progress_header(f);     /* after setup: what it refuses comes alone */
	int total = sweeps_total(f);
	double start = cf_now();
	for (ep = 1; ep <= total; ep++) {
		progress_status(f, ep, cf_now() - start, r->last_train, r->last_v);
		double t0 = cf_now(), tr = step(f, ep);
		int live = !f->finetune && op->finite;
		/* A sweep's own figure covers the touched rows: report them all. */
		if (f->finetune && f->explicit_ && isfinite(tr))
			tr = cf_fit_train_rmse(f);
		if (isnan(tr) && f->err && f->err[0])
			goto out;
		if (!isfinite(tr) || !(live ? op->finite(f)
		                             : cf_fit_params_finite(f, f->bu, f->bi, f->P, f->Q))) {
			cf_fit_fail(f, "%s diverged at epoch %d (NaN or infinite factors): lower --lr "
			            "(now %g) or raise --reg (now %g)", f->info->name, ep, f->p.lr,
			            f->p.reg);
			goto out;
		}
		r->last_train = tr;
		/* The algorithm's own copy of the parameters back when needed. */
		if (live && op->sync && (f->vn || ep == total))
			op->sync(f);
		double v = f->vn ? valid_figure(f, &r->vrecall) : NAN;
		r->last_v = v;
		progress_row(f, ep, tr, v, r->vrecall, cf_now() - t0);
		if (f->vn) {
			if (isnan(best_v) || (f->explicit_ ? v < best_v : v > best_v)) {
				best_v = v;
				r->best_ep = ep;
				since = 0;
				if (f->p.patience > 0)
					snap_take(&best, f);
			} else if (f->p.patience > 0 && ++since >= f->p.patience) {
				break;
			}
		}
		if (op->one_pass)
			break;
	}
	r->epochs_run = ep > total ? total : ep;
	if (op->one_pass)
		r->epochs_run = 1;
	if (f->vn && f->p.patience > 0 && r->best_ep != r->epochs_run && best.bu) {
		snap_restore(&best, f);
		r->last_v = best_v;
	}
	if (!f->vn || f->p.patience == 0)
		r->best_ep = r->epochs_run;
	rc = 0;
out:
	snap_free(&best);
	return rc;
}

/* ------------------------------------------------------------ the model */

static void
model_attrs(cf_model *m, const struct fit *f, const struct run *r, double final_rmse,
            double final_recall)
{
	const cf_mf_params *p = &f->p;
	cf_schema *a = m->attrs;

	attr_int(a, "epochs", p->epochs);
	attr_int(a, "epochs_run", r->epochs_run);
	attr_int(a, "best_epoch", r->best_ep);
	if (f->ops->attrs)
		f->ops->attrs(a, p);
	if (f->k > 0)
		cf_fit_attr_num(a, "init_scale", p->init_scale);
	char b[32];
	snprintf(b, sizeof b, "%llu", (unsigned long long)p->seed);
	cf_schema_set(a, "seed", b);
	if (p->patience > 0)
		attr_int(a, "patience", p->patience);
	attr_int(a, "n_ratings", (long long)f->n);
	if (f->explicit_)
		cf_fit_attr_num(a, "train_rmse", final_rmse);
	else if (p->algo == CF_IALS)
		cf_fit_attr_num(a, "train_loss", r->last_train);
	if (f->vn) {
		attr_int(a, "n_valid", (long long)f->vn);
		cf_fit_attr_num(a, f->explicit_ ? "valid_rmse" : "valid_ndcg10", r->last_v);
		if (!f->explicit_)
			cf_fit_attr_num(a, "valid_recall10", final_recall);
	}
	if (f->finetune)
		cf_schema_set(a, "warm_start", "1");
}

/*
 * The figures that need the training ratings (byu in input order), then
 * the model; byu's arrays become its seen table, the rest goes first so
 * that the peak stays that of training.  Takes the dictionaries.
 */
static cf_model *
fit_model(struct fit *f, struct run *r, const cf_ratings *train, cf_idmap *users,
          cf_idmap *items)
{
	int changed = !f->finetune && f->ops->finish ? f->ops->finish(f) : 0;
	double final_rmse = f->explicit_ ? cf_fit_train_rmse(f) : NAN, final_recall = r->vrecall;

	if (changed && f->vn)
		r->last_v = valid_figure(f, &final_recall);
	else if (f->vn && !f->explicit_ && (r->best_ep != r->epochs_run || f->p.patience == 0))
		cf_fit_topn(f, &final_recall);
	free(f->byi.idx);
	free(f->byi.val);
	f->byi.idx = NULL;
	f->byi.val = NULL;

	cf_model *m = cf_model_new(f->nu, f->ni, f->k, f->info->name);
	m->mu = f->mu;
	m->has_scale = f->has_scale;
	m->rating_min = train->rating_min;
	m->rating_max = train->rating_max;
	memcpy(m->bu, f->bu, f->nu * sizeof(float));
	memcpy(m->bi, f->bi, f->ni * sizeof(float));
	for (uint32_t u = 0; u < f->nu && f->k > 0; u++)
		memcpy(m->P + (size_t)u * f->k, f->P + (size_t)u * f->kp, f->k * sizeof(float));
	for (uint32_t i = 0; i < f->ni && f->k > 0; i++)
		memcpy(m->Q + (size_t)i * f->k, f->Q + (size_t)i * f->kp, f->k * sizeof(float));
	free(f->P);
	free(f->Q);
	f->P = f->Q = NULL;
	m->users = users;
	m->items = items;
	if (f->nn.ptr) {        /* item-neighbour weights: the model takes them */
		m->nn_ptr = f->nn.ptr;
		m->nn_item = f->nn.idx;
		m->nn_w = f->nn.val;
		m->nnn = f->nn.ptr[f->ni];
		memset(&f->nn, 0, sizeof f->nn);
	}
	m->itemfeat = f->itemfeat;      /* fm's, for new items (itemfeat.h) */
	f->itemfeat = NULL;
	m->timefeat = f->timefeat;      /* fm's, for pairs with a timestamp (timefeat.h) */
	f->timefeat = NULL;
	cf_fit_build_seen(m, f);
	model_attrs(m, f, r, final_rmse, final_recall);
	cf_model_parse_hparams(m);
	return m;
}

/* Trains from the rows (train's indices; consumed); train gives the rest. */
static cf_model *
fit_run(struct fit *f, const cf_ratings *train, struct rows *rw, const cf_ratings *valid,
        const cf_model *init)
{
	cf_idmap *users = NULL, *items = NULL;
	cf_model *m = NULL;
	struct run r;

	if (fit_data(f, train, rw, init, &users, &items) < 0)
		goto out;
	f->items = items;
	f->users = users;
	fit_params(f, init);
	if (valid && valid->n > 0)
		fit_valid(f, valid, users, items);
	if (fit_loop(f, &r) < 0)
		goto out;
	m = fit_model(f, &r, train, users, items);
	users = items = NULL;
out:
	fit_free(f);
	cf_idmap_free(users);
	cf_idmap_free(items);
	return m;
}

cf_model *
cf_mf_train(const cf_ratings *train, const cf_ratings *valid, const cf_mf_params *p,
            const cf_model *init, char *err, size_t errlen)
{
	struct fit F;
	struct rows rw;
	size_t n = train->n;

	if (fit_init(&F, p, n, init, err, errlen) < 0)
		return NULL;
	rw.n = n;
	rw.u = memcpy(cf_xmalloc(n * sizeof *rw.u), train->user, n * sizeof *rw.u);
	rw.i = memcpy(cf_xmalloc(n * sizeof *rw.i), train->item, n * sizeof *rw.i);
	rw.r = memcpy(cf_xmalloc(n * sizeof *rw.r), train->rating, n * sizeof *rw.r);
	rw.t = cf_ts_pack(train->has_ts ? train->ts : NULL, n, 0);
	return fit_run(&F, train, &rw, valid, init);
}

/* train's arrays as the rows to fit (taken), and f set up; -1 (err set) if refused. */
static int
take_rows(struct fit *f, cf_ratings *train, const cf_mf_params *p, const cf_model *init,
          char *err, size_t errlen, struct rows *rw)
{
	rw->n = train->n;
	rw->u = train->user;
	rw->i = train->item;
	rw->r = train->rating;
	rw->t.w = 0;
	rw->t.a = NULL;
	train->user = train->item = NULL;
	train->rating = NULL;
	if (fit_init(f, p, rw->n, init, err, errlen) < 0) {
		free(train->ts);
		train->ts = NULL;
		cf_rows_free(rw);
		return -1;
	}
	rw->t = cf_ts_pack(train->has_ts ? train->ts : NULL, rw->n, 1);
	if (!train->has_ts)
		free(train->ts);
	train->ts = NULL;
	/* The arrays may have room to spare (grown while reading). */
	rw->u = cf_xrealloc(rw->u, rw->n * sizeof *rw->u);
	rw->i = cf_xrealloc(rw->i, rw->n * sizeof *rw->i);
	rw->r = cf_xrealloc(rw->r, rw->n * sizeof *rw->r);
	return 0;
}

cf_model *
cf_mf_train_take(cf_ratings *train, const cf_ratings *valid, const cf_mf_params *p,
                 const cf_model *init, char *err, size_t errlen)
{
	struct fit F;
	struct rows rw;

	if (take_rows(&F, train, p, init, err, errlen, &rw) < 0)
		return NULL;
	return fit_run(&F, train, &rw, valid, init);
}

/* ------------------------------------------------------------ step by step */

int
cf_fit_prepare(struct fit *f, cf_ratings *train, const cf_mf_params *p, cf_idmap **users,
               cf_idmap **items, char *err, size_t errlen)
{
	struct rows rw;

	*users = *items = NULL;
	if (take_rows(f, train, p, NULL, err, errlen, &rw) < 0)
		return -1;
	if (fit_data(f, train, &rw, NULL, users, items) < 0) {
		fit_free(f);
		return -1;
	}
	fit_params(f, NULL);
	return 0;
}

cf_model *
cf_fit_model_after(struct fit *f, const cf_ratings *train, double last_train,
                   cf_idmap *users, cf_idmap *items)
{
	/* What fit_loop reports after p.epochs epochs without validation. */
	struct run r = {f->p.epochs, f->p.epochs, last_train, NAN, NAN};
	cf_model *m = fit_model(f, &r, train, users, items);

	fit_free(f);
	return m;
}

void
cf_fit_release(struct fit *f)
{
	fit_free(f);
}
