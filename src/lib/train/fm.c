/*
 * train/fm.c - a Bayesian factorization machine (Rendle's libFM MCMC):
 *     y = w0 + sum_j w_j x_j + sum_{j<j'} <v_j, v_j'> x_j x_j'
 * trained by Gibbs sampling, Normal-Gamma hyperpriors per feature group
 * (so no learning rate and no hand-set penalty: the precisions are drawn
 * from the data), the prediction the mean over the samples after burn-in.
 *
 * Features come in groups, each on one side of a rating:
 *   user side   the user (one-hot); the items the user rated, each
 *               1/sqrt|N(u)| (SVD++'s implicit feedback); its profile,
 *               each column's value or bin from --users (ufeat.h), each
 *               1/sqrt(its features)
 *   item side   the item (one-hot); the users who rated it, each
 *               1/sqrt|R(i)| ("flipped" implicit feedback); its genres,
 *               each 1/sqrt|G(i)|, and its release year in 5-year bins
 *               (from --items, meta.h)
 *   context     the rating's own (from its timestamp, timefeat.h): its
 *               day's time bin (one-hot), its (user, day) (one-hot)
 * all taken from the training ratings only (the groups are built in
 * fmfeat.c; fm-int.h holds the state both files share).  Because every
 * feature belongs to the user, the item or the rating's context, a
 * sample's prediction is exactly
 *     w0 + cu + ci + cc + <pu, pi> + <pu + pi, pc>,
 * pu = sum of the user side's x v, cu = its linear terms plus the
 * pairwise terms inside the user side (likewise for the item), which is
 * the model's biased form; the mean over S samples is the same form with
 * pu's of the S samples laid end to end, each scaled by 1/sqrt(S): the
 * model is exact (k x S stored factors) and every program scores it.
 * The context's terms are kept per feature (the model's time_features,
 * timefeat.h) for the scores of pairs with a timestamp.
 *
 * The sampler draws one coordinate at a time, as libFM does, factor f
 * after factor f, side after side.  With the other side fixed, a user's
 * ratings enter a draw through four sums per user (relation blocks):
 *     Q1 = sum_i pI_f(i),  Q2 = sum_i pI_f(i)^2,
 *     E1 = sum_i e_ui,     E2 = sum_i e_ui pI_f(i)
 * (e the residuals), computed once per factor and updated in O(1) per
 * (feature, user) after each draw, so a feature active for many users
 * (an implicit item) costs its incidence, not its users' ratings: a sweep
 * is O(k x (nnz + incidences)) = O(k x nnz).  With context groups the
 * "other side" of a user's rating is the item's and the context's sum
 * (pI_f(i) + pC_f(rating)), of an item's the user's and the context's,
 * and the context side is a third side whose entities are the ratings
 * (one each, the other side pU_f(u) + pI_f(i)): drawn after the items,
 * in the same way, still O(k x nnz) a sweep.
 *
 * Threads and determinism: the one-hot groups' draws of one factor are
 * conditionally independent (each touches its own entity's ratings), so
 * they run in parallel, each from a generator seeded by (seed, sweep,
 * factor, entity); the other groups are drawn in order from one
 * generator per (sweep, group, factor).  Every sum is per entity, added
 * in index order: the same seed gives the same model at any thread count.
 */
#include "fm-int.h"
#include "itemfeat.h"
#include "timefeat.h"
#include "par.h"
#include "rng.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Hyperpriors (libFM's): Gamma(alpha0/2, beta0/2) on precisions, a
 * N(mu0, 1/(gamma0 lambda)) on means. */
#define A0 1.0
#define B0 1.0
#define G0 1.0

/* Above this many stored floats the exact model is refused (fewer samples or k). */
#define MAX_STORED ((size_t)1 << 28)
/* The widest model a stream may hold (model.c refuses k > 4096 at load). */
#define MAX_K 4096

/*
 * Entities per parallel chunk: about CHUNK_RATINGS ratings' worth.  A
 * parallel loop starts its threads anew and a sweep runs some 30 of them
 * per side, so a side too small to give each thread that much work runs
 * on the calling thread (ml-latest-small's do; 25M ratings' do not).
 */
#define CHUNK_RATINGS 131072

static size_t
grain_of(const struct fit *f, uint32_t n)
{
	size_t g = (size_t)((double)n * CHUNK_RATINGS / (double)(f->n ? f->n : 1));

	return g < 64 ? 64 : g;
}

static inline double
xval(const struct group *g, uint32_t e)
{
	return g->xs ? g->xs[e] : 1.0;
}

/* Gamma(shape a >= 1, rate b) (Marsaglia and Tsang 2000). */
static double
rng_gamma(cf_rng *r, double a, double b)
{
	double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);

	for (;;) {
		double x = cf_rng_normal(r), v = 1 + c * x;
		if (v <= 0)
			continue;
		v = v * v * v;
		double u = cf_rng_uniform(r);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v / b;
	}
}

/* A normal draw given precision and (precision x mean). */
static inline double
draw(cf_rng *r, double prec, double num)
{
	return num / prec + cf_rng_normal(r) / sqrt(prec);
}


/* Marks the features that touch a rated entity (the others stay 0). */
static void
mark_active(struct group *g, const struct side *sd)
{
	for (uint32_t j = 0; j < g->nf; j++) {
		int a = 0;
		if (g->onehot)
			a = sd->c->ptr[j + 1] > sd->c->ptr[j];
		else
			for (uint64_t t = g->fptr[j]; t < g->fptr[j + 1] && !a; t++)
				a = sd->c->ptr[g->fidx[t] + 1] > sd->c->ptr[g->fidx[t]];
		g->act[j] = (unsigned char)a;
		g->nact += (uint32_t)a;
	}
}

/* ------------------------------------------------------------ the sums */

struct job {
	struct fm *s;
	struct fit *f;
	int side, fac;
	uint64_t sweep;
};

/* b, p, d and the constant of each entity of a side, from the parameters. */
static void
sums_range(void *arg, size_t lo, size_t hi, int tid)
{
	struct job *j = arg;
	struct fm *s = j->s;
	struct side *sd = &s->s[j->side];
	int k = s->k;

	(void)tid;
	for (size_t e = lo; e < hi; e++) {
		double b = 0, *p = sd->p + e * k, *d = sd->d + e * k;
		memset(p, 0, k * sizeof *p);
		memset(d, 0, k * sizeof *d);
		for (int gi = 0; gi < s->ng; gi++) {
			const struct group *g = &s->g[gi];
			if (g->side != j->side)
				continue;
			double x = xval(g, (uint32_t)e);
			uint64_t a = g->onehot ? e : g->eptr[e], z = g->onehot ? e + 1 : g->eptr[e + 1];
			for (uint64_t t = a; t < z; t++) {
				uint32_t fj = g->onehot ? (uint32_t)e : g->eidx[t];
				const double *v = g->V + (size_t)fj * k;
				b += x * g->w[fj];
				for (int c = 0; c < k; c++) {
					p[c] += x * v[c];
					d[c] += x * x * v[c] * v[c];
				}
			}
		}
		double q = 0;
		for (int c = 0; c < k; c++)
			q += p[c] * p[c] - d[c];
		sd->b[e] = b;
		sd->cst[e] = b + 0.5 * q;
	}
}

static void
side_sums(struct fm *s, struct fit *f, int side)
{
	struct job j = {s, f, side, 0, 0};

	cf_par_for(f->threads, s->s[side].n, grain_of(f, s->s[side].n), sums_range, &j);
}

/* No context: a pair without a rating of training (validation). */
#define NOCTX UINT64_MAX

/*
 * A sample's prediction without the scale's clipping (u, i may be
 * unknown); t: the training rating's byu position for its context terms,
 * or NOCTX (none active).
 */
static double
pred3(const struct fm *s, uint32_t u, uint32_t i, uint64_t t)
{
	const struct side *U = &s->s[SU], *I = &s->s[SI], *C = &s->s[SC];
	double y = s->w0;
	int k = s->k;

	if (u != UINT32_MAX)
		y += U->cst[u];
	if (i != UINT32_MAX)
		y += I->cst[i];
	if (u != UINT32_MAX && i != UINT32_MAX)
		for (int c = 0; c < k; c++)
			y += U->p[(size_t)u * k + c] * I->p[(size_t)i * k + c];
	if (s->ctx && t != NOCTX) {
		y += C->cst[t];
		for (int c = 0; c < k; c++)
			y += C->p[t * k + c] * (U->p[(size_t)u * k + c] + I->p[(size_t)i * k + c]);
	}
	return y;
}

static double
pred(const struct fm *s, uint32_t u, uint32_t i)
{
	return pred3(s, u, i, NOCTX);
}

/*
 * A sample's prediction of validation pair v at its own time: its day's
 * bin and its (user, day) if training has it (fm-int.h's arrays), each
 * w + <v, pu + pi>, and the pair of the two; as timefeat.h scores it.
 */
static double
pred_valid(const struct fm *s, const struct fit *f, size_t v)
{
	uint32_t u = f->vu[v], i = f->vi[v];
	double y = pred(s, u, i);
	int k = s->k;

	if (!s->ctx || !f->vts)
		return y;
	int64_t day = cf_day_of(f->vts[v]);
	const double *va[2] = {NULL, NULL};
	for (int a = 0; a < 2; a++) {
		const struct group *g = &s->g[a ? s->gud : s->gtime];
		size_t j = SIZE_MAX;
		if (!a && s->gtime >= 0)
			j = cf_day_bin(s->bday, s->nbins, day);
		else if (a && s->gud >= 0 && u != UINT32_MAX)
			j = cf_userday_find(s->uduser, s->udday, 0, s->nud, u, day);
		if (j == SIZE_MAX)
			continue;
		va[a] = g->V + j * k;
		y += g->w[j];
		for (int c = 0; c < k; c++)
			y += va[a][c] * ((u != UINT32_MAX ? s->s[SU].p[(size_t)u * k + c] : 0) +
			                 (i != UINT32_MAX ? s->s[SI].p[(size_t)i * k + c] : 0));
	}
	for (int c = 0; va[0] && va[1] && c < k; c++)
		y += va[0][c] * va[1][c];
	return y;
}

/* Factor fc of the other sides' sum for rating t of side's order. */
static inline double
other_p(const struct fm *s, int side, uint64_t t, int fc)
{
	const struct side *U = &s->s[SU], *I = &s->s[SI], *C = &s->s[SC];
	int k = s->k;

	switch (side) {
	case SU:
		return I->p[(size_t)U->c->idx[t] * k + fc] + (s->ctx ? C->p[t * k + fc] : 0);
	case SI:
		return U->p[(size_t)I->c->idx[t] * k + fc] +
		       (s->ctx ? C->p[s->i2u[t] * k + fc] : 0);
	default:
		return U->p[(size_t)s->ru[t] * k + fc] + I->p[(size_t)U->c->idx[t] * k + fc];
	}
}

/* Residuals of a side's ratings from scratch; per-entity squared sums in part. */
static void
resid_range(void *arg, size_t lo, size_t hi, int tid)
{
	struct job *j = arg;
	struct fm *s = j->s;
	struct side *sd = &s->s[j->side];

	(void)tid;
	for (size_t e = lo; e < hi; e++) {
		double q = 0;
		for (uint64_t t = sd->c->ptr[e]; t < sd->c->ptr[e + 1]; t++) {
			uint32_t o = sd->c->idx[t];
			double y = j->side == SU ? pred3(s, (uint32_t)e, o, t) :
			           j->side == SI ? pred3(s, o, (uint32_t)e, s->ctx ? s->i2u[t] : NOCTX) :
			           pred3(s, s->ru[t], o, t);
			sd->e[t] = sd->c->val[t] - y;
			q += sd->e[t] * sd->e[t];
		}
		s->part[e] = q;
	}
}

static double
residuals(struct fm *s, struct fit *f, int side)
{
	struct job j = {s, f, side, 0, 0};
	double q = 0;

	cf_par_for(f->threads, s->s[side].n, grain_of(f, s->s[side].n), resid_range, &j);
	for (uint32_t e = 0; e < s->s[side].n; e++)
		q += s->part[e];
	return q;
}

/* Factor fc's relation-block sums of entity e (fc < 0: for the biases). */
static void
cache_one(struct fm *s, int side, size_t e, int fc)
{
	struct side *sd = &s->s[side];
	int k = s->k;
	double q1 = 0, q2 = 0, e1 = 0, e2 = 0;

	for (uint64_t t = sd->c->ptr[e]; t < sd->c->ptr[e + 1]; t++) {
		double r = sd->e[t], q = fc >= 0 ? other_p(s, side, t, fc) : 0;
		e1 += r;
		e2 += r * q;
		q1 += q;
		q2 += q * q;
	}
	struct slot *w = &sd->w[e];
	w->E1 = e1;
	w->E2 = e2;
	w->Q1 = q1;
	w->Q2 = q2;
	w->n = (double)(sd->c->ptr[e + 1] - sd->c->ptr[e]);
	w->p = sd->pold[e] = fc >= 0 ? sd->p[e * k + fc] : sd->b[e];
	w->d = sd->dold[e] = fc >= 0 ? sd->d[e * k + fc] : 0;
}

/* Entity e's sums and residuals after factor fc's draws (fc < 0: the biases'). */
static void
update_one(struct fm *s, int side, size_t e, int fc)
{
	struct side *sd = &s->s[side];
	int k = s->k;
	double p = sd->w[e].p, d = sd->w[e].d;

	if (fc < 0) {
		double db = p - sd->pold[e];
		sd->b[e] = p;
		for (uint64_t t = sd->c->ptr[e]; db != 0 && t < sd->c->ptr[e + 1]; t++)
			sd->e[t] -= db;
		return;
	}
	sd->p[e * k + fc] = p;
	sd->d[e * k + fc] = d;
	double dp = p - sd->pold[e];
	double dq = 0.5 * ((p * p - d) - (sd->pold[e] * sd->pold[e] - sd->dold[e]));
	if (dp == 0 && dq == 0)
		return;
	for (uint64_t t = sd->c->ptr[e]; t < sd->c->ptr[e + 1]; t++)
		sd->e[t] -= dp * other_p(s, side, t, fc) + dq;
}

static void
cache_range(void *arg, size_t lo, size_t hi, int tid)
{
	struct job *j = arg;

	(void)tid;
	for (size_t e = lo; e < hi; e++)
		cache_one(j->s, j->side, e, j->fac);
}

/* ------------------------------------------------------------ the draws */

/*
 * One coordinate's draw: feature fj of group g, its bias (fc < 0) or
 * factor fc, against the side's relation-block sums; then the sums of
 * the entities it touches are brought up to date.
 */
static void
draw_one(struct fm *s, struct group *g, uint32_t fj, int fc, cf_rng *r)
{
	struct side *sd = &s->s[g->side];
	uint64_t a = g->onehot ? fj : g->fptr[fj], z = g->onehot ? (uint64_t)fj + 1 : g->fptr[fj + 1];
	double H = 0, R = 0;
	double *th = fc < 0 ? &g->w[fj] : &g->V[(size_t)fj * s->k + fc];
	double old = *th, mean = fc < 0 ? g->mw : g->mv[fc], lam = fc < 0 ? g->lw : g->lv[fc];

	for (uint64_t t = a; t < z; t++) {
		uint32_t e = g->onehot ? fj : g->fidx[t];
		const struct slot *w = &sd->w[e];
		double x = xval(g, e);
		if (fc < 0) {
			H += x * x * w->n;
			R += x * w->E1;
		} else {
			double c = w->p - x * old;
			H += x * x * (w->n * c * c + 2 * c * w->Q1 + w->Q2);
			R += x * (c * w->E1 + w->E2);
		}
	}
	/* y - (the rest) = e + theta h: the residuals hold theta's old value. */
	double prec = s->alpha * H + lam;
	double nv = draw(r, prec, s->alpha * (R + H * old) + lam * mean), dl = nv - old;
	*th = nv;
	for (uint64_t t = a; t < z; t++) {
		uint32_t e = g->onehot ? fj : g->fidx[t];
		struct slot *w = &sd->w[e];
		double x = xval(g, e);
		if (fc < 0) {
			w->E1 -= x * w->n * dl;
			w->p += x * dl;
		} else {
			double c = w->p - x * old;
			w->E1 -= x * dl * (w->n * c + w->Q1);
			w->E2 -= x * dl * (c * w->Q1 + w->Q2);
			w->p += x * dl;
			w->d += x * x * (nv * nv - old * old);
		}
	}
}

/* The stream of a one-hot draw: (sweep, side, factor, entity). */
static uint64_t
stream_of(uint64_t sweep, int side, int fc, uint32_t e)
{
	uint64_t x = sweep * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)side << 62) ^
	             ((uint64_t)(fc + 1) << 40) ^ e;

	return cf_splitmix64(&x);
}

/* The side's one-hot group: the first of its groups (setup's order), or NULL. */
static struct group *
onehot_of(struct fm *s, int side)
{
	for (int gi = 0; gi < s->ng; gi++)
		if (s->g[gi].side == side)
			return s->g[gi].onehot ? &s->g[gi] : NULL;
	return NULL;
}

static void
draw_onehot(struct fm *s, struct group *g, size_t e, int fc, uint64_t sweep, uint64_t seed)
{
	cf_rng r;

	if (!g->act[e])
		return;
	cf_rng_seed(&r, seed, stream_of(sweep, g->side, fc, (uint32_t)e));
	draw_one(s, g, (uint32_t)e, fc, &r);
}

/*
 * The side's groups but the one-hot one, for the biases (fc < 0) or
 * factor fc, in order, each from its own generator.
 */
static void
draw_rest(struct fm *s, struct fit *f, int side, int fc, uint64_t sweep)
{
	for (int gi = 0; gi < s->ng; gi++) {
		struct group *g = &s->g[gi];
		if (g->side != side || g->onehot)
			continue;
		cf_rng r;
		cf_rng_seed(&r, f->p.seed, stream_of(sweep, side, fc, 0xffffff00u + (uint32_t)gi));
		for (uint32_t fj = 0; fj < g->nf; fj++)
			if (g->act[fj])
				draw_one(s, g, fj, fc, &r);
	}
}

#define NONE (-2)

struct step {
	struct fm *s;
	struct group *oh;
	int side, prev, next;
	uint64_t sweep, seed;
};

/*
 * One parallel pass over a side's entities between two coordinates:
 * each entity's residuals after coordinate prev, its sums for coordinate
 * next and its one-hot draw of next (an entity's own feature touches
 * only its ratings, so these run in parallel; one pass, not three, keeps
 * the threads' meeting points few).
 */
static void
step_range(void *arg, size_t lo, size_t hi, int tid)
{
	struct step *j = arg;

	(void)tid;
	for (size_t e = lo; e < hi; e++) {
		if (j->prev != NONE)
			update_one(j->s, j->side, e, j->prev);
		if (j->next == NONE)
			continue;
		cache_one(j->s, j->side, e, j->next);
		if (j->oh)
			draw_onehot(j->s, j->oh, e, j->next, j->sweep, j->seed);
	}
}

/* A side's half-sweep: its biases, then each factor, the other side fixed. */
static void
half(struct fm *s, struct fit *f, int side, uint64_t sweep)
{
	struct step j = {s, onehot_of(s, side), side, NONE, -1, sweep, f->p.seed};

	for (int fc = -1; fc <= s->k; fc++) {
		j.next = fc < s->k ? fc : NONE;
		cf_par_for(f->threads, s->s[side].n, grain_of(f, s->s[side].n), step_range, &j);
		if (fc < s->k)
			draw_rest(s, f, side, fc, sweep);
		j.prev = fc;
	}
}

/* Hyperparameters of a group (lambda given the old mean, then the mean). */
static void
draw_hyper(cf_rng *r, const double *x, size_t stride, const unsigned char *act, uint32_t nf,
           uint32_t m, double *mu, double *lam)
{
	double sx = 0, ss = 0;

	for (uint32_t j = 0; j < nf; j++)
		if (act[j]) {
			double v = x[(size_t)j * stride];
			sx += v;
			ss += (v - *mu) * (v - *mu);
		}
	*lam = rng_gamma(r, (A0 + m + 1) / 2, (B0 + ss + G0 * *mu * *mu) / 2);
	*mu = draw(r, (m + G0) * *lam, sx * *lam);
}

static void
draw_hypers(struct fm *s, struct fit *f, uint64_t sweep)
{
	cf_rng r;

	cf_rng_seed(&r, f->p.seed, stream_of(sweep, 0, -1, 0xfffffff0u));
	for (int gi = 0; gi < s->ng; gi++) {
		struct group *g = &s->g[gi];
		if (!g->nact)
			continue;
		draw_hyper(&r, g->w, 1, g->act, g->nf, g->nact, &g->mw, &g->lw);
		for (int c = 0; c < s->k; c++)
			draw_hyper(&r, g->V + c, s->k, g->act, g->nf, g->nact, &g->mv[c], &g->lv[c]);
	}
}

/* ------------------------------------------------------------ the sweep */


/*
 * Adds this sample's time features to the sums kept for the model
 * (timefeat.h): a bin's bias and vector; a user-day's, its bias with the
 * product of its vector and its day's bin's (both active together).
 */
static void
time_sample(struct fm *s, int c0, float sc)
{
	int k = s->k;
	const struct group *gt = s->gtime >= 0 ? &s->g[s->gtime] : NULL;
	const struct group *gd = s->gud >= 0 ? &s->g[s->gud] : NULL;

	for (uint32_t b = 0; gt && b < s->nbins; b++) {
		s->tw[b] += gt->w[b];
		for (int c = 0; c < k; c++)
			s->tV[(size_t)b * s->kpS + c0 + c] = (float)gt->V[(size_t)b * k + c] * sc;
	}
	for (uint32_t d = 0; gd && d < s->nud; d++) {
		const double *v = gd->V + (size_t)d * k;
		double w = gd->w[d];
		for (int c = 0; gt && c < k; c++)
			w += v[c] * gt->V[(size_t)s->udbin[d] * k + c];
		s->tw[s->nbins + d] += w;
		for (int c = 0; c < k; c++)
			s->tV[((size_t)s->nbins + d) * s->kpS + c0 + c] = (float)v[c] * sc;
	}
}

/* Adds this sample to the stored model and the validation sums. */
static void
take_sample(struct fm *s, struct fit *f)
{
	int k = s->k, c0 = s->taken * k;
	float sc = (float)(1 / sqrt((double)s->S));

	for (int side = 0; side < 2; side++) {
		struct side *sd = &s->s[side];
		float *M = side == SU ? s->P : s->Q;
		double *b = side == SU ? s->bu : s->bi;
		for (uint32_t e = 0; e < sd->n; e++) {
			b[e] += sd->cst[e];
			for (int c = 0; c < k; c++)
				M[(size_t)e * s->kpS + c0 + c] = (float)sd->p[(size_t)e * k + c] * sc;
		}
	}
	s->mu += s->w0;
	cf_fm_meta_sample(s, c0, sc);
	time_sample(s, c0, sc);
	s->taken++;
	for (size_t v = 0; v < f->vn; v++)
		s->vsum[v] += pred_valid(s, f, v);
}

static double
clip(const struct fit *f, double y)
{
	return f->has_scale ? (y < f->lo ? f->lo : y > f->hi ? f->hi : y) : y;
}

static double
fm_epoch(struct fit *f, int ep)
{
	struct fm *s = f->state;
	uint64_t sweep = (uint64_t)ep;
	cf_rng r;

	cf_rng_seed(&r, f->p.seed, stream_of(sweep, 1, -1, 0xfffffff1u));
	/* Later sweeps find both sides' sums as the last one left them. */
	if (ep == 1) {
		side_sums(s, f, SU);
		side_sums(s, f, SI);
		if (s->ctx)
			side_sums(s, f, SC);
	}
	double sse = residuals(s, f, SU);
	s->alpha = rng_gamma(&r, (A0 + (double)f->n) / 2, (B0 + sse) / 2);
	draw_hypers(s, f, sweep);
	/* w0: flat prior; the residuals then shift by its change. */
	double se = 0;
	for (size_t t = 0; t < f->n; t++)
		se += s->s[SU].e[t];
	double nw0 = draw(&r, s->alpha * (double)f->n, s->alpha * (se + (double)f->n * s->w0));
	for (size_t t = 0; t < f->n; t++)
		s->s[SU].e[t] -= nw0 - s->w0;
	s->w0 = nw0;
	half(s, f, SU, sweep);
	side_sums(s, f, SU);
	residuals(s, f, SI);
	half(s, f, SI, sweep);
	side_sums(s, f, SI);
	double tr;
	if (s->ctx) {
		residuals(s, f, SC);
		half(s, f, SC, sweep);
		side_sums(s, f, SC);
		tr = residuals(s, f, SC);
	} else {
		tr = residuals(s, f, SI);
	}
	int after = ep > f->p.burn_in;
	if (after)
		take_sample(s, f);
	if (f->vn) {
		double q = 0;
		for (size_t v = 0; v < f->vn; v++) {
			double y = after ? s->vsum[v] / s->taken : pred_valid(s, f, v);
			double d = f->vr[v] - clip(f, y);
			q += d * d;
		}
		s->vrmse = sqrt(q / f->vn);
	}
	return sqrt(tr / f->n);
}

static double
fm_valid(const struct fit *f)
{
	return ((const struct fm *)f->state)->vrmse;
}

static int
fm_finite(const struct fit *f)
{
	const struct fm *s = f->state;

	if (!isfinite(s->w0) || !isfinite(s->alpha))
		return 0;
	for (int gi = 0; gi < s->ng; gi++) {
		const struct group *g = &s->g[gi];
		double q = 0;
		for (uint32_t j = 0; j < g->nf; j++)
			q += g->w[j] * 0.0;
		for (size_t t = 0; t < (size_t)g->nf * s->k; t++)
			q += g->V[t] * 0.0;
		if (q != 0 || isnan(q))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------ setup */

static void
side_alloc(struct side *sd, uint32_t n, const struct csr *c, size_t nnz, int k)
{
	sd->n = n;
	sd->c = c;
	sd->e = cf_xmalloc((nnz + 1) * sizeof *sd->e);
	sd->b = cf_xcalloc((size_t)n + 1, sizeof(double));
	sd->cst = cf_xcalloc((size_t)n + 1, sizeof(double));
	sd->p = cf_xcalloc((size_t)n * k + 1, sizeof(double));
	sd->d = cf_xcalloc((size_t)n * k + 1, sizeof(double));
	sd->w = cf_xcalloc((size_t)n + 1, sizeof *sd->w);
	sd->pold = cf_xcalloc((size_t)n + 1, sizeof(double));
	sd->dold = cf_xcalloc((size_t)n + 1, sizeof(double));
}

static void
side_free(struct side *sd)
{
	free(sd->e);
	free(sd->b);
	free(sd->cst);
	free(sd->p);
	free(sd->d);
	free(sd->w);
	free(sd->pold);
	free(sd->dold);
}

static void
fm_release(struct fit *f)
{
	struct fm *s = f->state;

	if (!s)
		return;
	for (int gi = 0; gi < s->ng; gi++)
		cf_fm_group_free(&s->g[gi]);
	side_free(&s->s[SU]);
	side_free(&s->s[SI]);
	side_free(&s->s[SC]);
	free(s->ru);
	free(s->i2u);
	free(s->cptr);
	free(s->bday);
	free(s->uduser);
	free(s->udbin);
	free(s->udday);
	free(s->tw);
	free(s->tV);
	free(s->P);
	free(s->Q);
	free(s->bu);
	free(s->bi);
	free(s->vsum);
	free(s->part);
	cf_idmap_free(s->gnames);
	free(s->fw);
	free(s->rv);
	free(s->fG);
	free(s->fV);
	free(s);
	f->state = NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * The context side: its entities are the ratings in byu order (one
 * rating each, idx the item); ru and i2u take a rating of byu or byi to
 * its user and byu position.  An item's byi ratings are in input order,
 * as a user's byu ones are, so the m-th rating of item i by user u in
 * either order is the same rating: within each item, both lists sorted
 * by (user, position) pair up.
 */
static void
context_setup(struct fm *s, struct fit *f)
{
	size_t n = f->n;
	uint64_t *cnt = cf_xcalloc((size_t)f->ni + 1, sizeof *cnt);
	uint64_t *byu_of = cf_xmalloc((n + 1) * sizeof *byu_of), *key = NULL;
	size_t cap = 0;

	s->ru = cf_xmalloc((n + 1) * sizeof *s->ru);
	s->i2u = cf_xmalloc((n + 1) * sizeof *s->i2u);
	s->cptr = cf_xmalloc((n + 1) * sizeof *s->cptr);
	for (uint32_t u = 0; u < f->nu; u++)
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++)
			s->ru[t] = u;
	/* byu positions per item in (user, position) order: users ascend */
	for (size_t t = 0; t < n; t++) {
		uint32_t i = f->byu.idx[t];
		byu_of[f->byi.ptr[i] + cnt[i]++] = t;
	}
	for (uint32_t i = 0; i < f->ni; i++) {
		uint64_t a = f->byi.ptr[i], z = f->byi.ptr[i + 1];
		cf_grow((void **)&key, &cap, z - a + 1, sizeof *key);
		/* (user, byi position) packed: users < 2^32, positions < 2^32 */
		for (uint64_t t = a; t < z; t++)
			key[t - a] = (uint64_t)f->byi.idx[t] << 32 | (t - a);
		qsort(key, z - a, sizeof *key, cmp_u64);
		for (uint64_t m = 0; m < z - a; m++)
			s->i2u[a + (key[m] & 0xffffffffu)] = byu_of[a + m];
	}
	for (size_t t = 0; t <= n; t++)
		s->cptr[t] = t;
	s->cc.ptr = s->cptr;
	s->cc.idx = f->byu.idx;
	s->cc.val = f->byu.val;
	side_alloc(&s->s[SC], (uint32_t)n, &s->cc, n, s->k);
	free(cnt);
	free(byu_of);
	free(key);
}

static int
fm_setup(struct fit *f)
{
	unsigned gm = f->p.fm_groups;
	int k = f->k, S = f->p.epochs;
	size_t kS = (size_t)k * S, kpS = (kS + 7) / 8 * 8;

	if (kS > MAX_K || ((size_t)f->nu + f->ni) * kpS > MAX_STORED) {
		cf_fit_fail(f, "fm stores k x samples = %zu factors per user and item (%zu floats "
		            "in all; at most %d and %zu): too many; lower -k or --samples", kS,
		            ((size_t)f->nu + f->ni) * kpS, MAX_K, MAX_STORED);
		return -1;
	}
	if ((gm & (CF_FM_GENRES | CF_FM_YEAR)) && !f->p.items_meta &&
	    (f->p.fm_groups_set & (CF_FM_GENRES | CF_FM_YEAR))) {
		cf_fit_fail(f, "fm: the genres and year groups need --items");
		return -1;
	}
	if ((gm & CF_FM_PROFILE) && !f->p.users_feat && (f->p.fm_groups_set & CF_FM_PROFILE)) {
		cf_fit_fail(f, "fm: the profile group needs --users");
		return -1;
	}
	if ((gm & (CF_FM_TIME | CF_FM_USERDAY)) && !f->ts.w) {
		if (f->p.fm_groups_set & (CF_FM_TIME | CF_FM_USERDAY)) {
			cf_fit_fail(f, "fm: the time and userday groups need the ratings' timestamps "
			            "(these have none)");
			return -1;
		}
		/* retraining a model with them on ratings without: the model says so */
		gm &= ~(unsigned)(CF_FM_TIME | CF_FM_USERDAY);
		f->p.fm_groups = gm;
	}
	struct fm *s = cf_xcalloc(1, sizeof *s);
	f->state = s;
	s->k = k;
	s->S = S;
	s->kpS = (int)kpS;
	side_alloc(&s->s[SU], f->nu, &f->byu, f->n, k);
	side_alloc(&s->s[SI], f->ni, &f->byi, f->n, k);
	s->ctx = !!(gm & (CF_FM_TIME | CF_FM_USERDAY));
	size_t np = f->nu > f->ni ? f->nu : f->ni;
	s->part = cf_xcalloc((s->ctx && f->n > np ? f->n : np) + 1, sizeof *s->part);
	s->ggen = s->gyear = s->gtime = s->gud = s->grat = -1;
	if (s->ctx)
		context_setup(s, f);
	if (gm & CF_FM_USER) {
		cf_fm_group_alloc(&s->g[s->ng], "user", SU, f->nu, k);
		s->g[s->ng++].onehot = 1;
	}
	if (gm & CF_FM_IMPLICIT) {
		struct group *g = &s->g[s->ng++];
		cf_fm_group_alloc(g, "implicit", SU, f->ni, k);
		g->fptr = f->byi.ptr;
		g->fidx = f->byi.idx;
		g->eptr = f->byu.ptr;
		g->eidx = f->byu.idx;
		g->xs = cf_fm_inv_sqrt_counts(&f->byu, f->nu);
	}
	if (gm & CF_FM_ITEM) {
		cf_fm_group_alloc(&s->g[s->ng], "item", SI, f->ni, k);
		s->g[s->ng++].onehot = 1;
	}
	if (gm & CF_FM_RATERS) {
		s->grat = s->ng;
		struct group *g = &s->g[s->ng++];
		cf_fm_group_alloc(g, "raters", SI, f->nu, k);
		g->fptr = f->byu.ptr;
		g->fidx = f->byu.idx;
		g->eptr = f->byi.ptr;
		g->eidx = f->byi.idx;
		g->xs = cf_fm_inv_sqrt_counts(&f->byi, f->ni);
	}
	if (f->p.items_meta && (gm & (CF_FM_GENRES | CF_FM_YEAR)))
		cf_fm_meta_groups(s, f, f->p.items_meta, !!(gm & CF_FM_GENRES), !!(gm & CF_FM_YEAR));
	if (f->p.users_feat && (gm & CF_FM_PROFILE) && cf_fm_profile_group(s, f, f->p.users_feat) < 0)
		return -1;      /* fm_release frees what is built */
	if (s->ctx) {
		cf_fm_time_groups(s, f, !!(gm & CF_FM_TIME), !!(gm & CF_FM_USERDAY));
		size_t nt = (size_t)s->nbins + s->nud;
		if (((size_t)f->nu + f->ni + nt) * kpS > MAX_STORED) {
			cf_fit_fail(f, "fm stores k x samples = %zu factors per user, item, time bin and "
			            "user-day (%zu floats in all; at most %zu): too many; lower -k or "
			            "--samples, or drop the userday group", kS,
			            ((size_t)f->nu + f->ni + nt) * kpS, MAX_STORED);
			return -1;
		}
		s->tw = cf_xcalloc(nt + 1, sizeof *s->tw);
		s->tV = cf_xcalloc(nt * kpS + 1, sizeof *s->tV);
	}
	for (int gi = 0; gi < s->ng; gi++) {
		struct group *g = &s->g[gi];
		mark_active(g, &s->s[g->side]);
		/* Factors start as N(0, init_scale^2), libFM's init_stdev. */
		cf_rng r;
		cf_rng_seed(&r, f->p.seed, 100 + (uint64_t)gi);
		for (uint32_t j = 0; j < g->nf; j++)
			for (int c = 0; c < k; c++) {
				double v = f->p.init_scale * cf_rng_normal(&r);
				g->V[(size_t)j * k + c] = g->act[j] ? v : 0;
			}
	}
	s->w0 = f->mu;
	s->alpha = 1;
	s->P = cf_fmat(f->nu, (int)kpS);
	s->Q = cf_fmat(f->ni, (int)kpS);
	s->bu = cf_xcalloc((size_t)f->nu + 1, sizeof *s->bu);
	s->bi = cf_xcalloc((size_t)f->ni + 1, sizeof *s->bi);
	s->vsum = cf_xcalloc(f->vn + 1, sizeof *s->vsum);
	uint32_t fn = (s->ggen >= 0 ? s->g[s->ggen].nf : 0) + (s->gyear >= 0 ? s->g[s->gyear].nf : 0);
	if (fn && s->grat >= 0)
		fn++;                   /* "raters": what a new item's raters bring */
	if (fn <= CF_ITEMFEAT_MAX) {    /* more: new items fall back to biases */
		s->fn = fn;
		s->fw = cf_xcalloc((size_t)fn + 1, sizeof *s->fw);
		s->fG = cf_xcalloc((size_t)fn * fn + 1, sizeof *s->fG);
		s->fV = cf_xcalloc((size_t)fn * kpS + 1, sizeof *s->fV);
		s->rv = cf_xcalloc(2 * (size_t)k + 1, sizeof *s->rv);
	}
	return 0;
}

/*
 * The probe of mf.h: one more pass of draws over the coordinate's side
 * (so that the sums it leaves are the incrementally updated ones), the
 * state, then ndraws draws of the one coordinate from it.
 */
static void
probe(struct fm *s, struct fit *f, cf_fm_probe *pr)
{
	struct group *g = NULL;
	int k = s->k;

	for (int gi = 0; gi < s->ng; gi++)
		if (!strcmp(s->g[gi].name, pr->group))
			g = &s->g[gi];
	if (!g || pr->feature >= g->nf || pr->coord < -1 || pr->coord >= k || pr->ndraws < 1)
		return;
	struct side *sd = &s->s[g->side];
	struct job j = {s, f, g->side, pr->coord, 0};
	residuals(s, f, g->side);
	cf_par_for(f->threads, sd->n, 256, cache_range, &j);
	struct group *oh = onehot_of(s, g->side);
	for (uint32_t e = 0; oh && e < sd->n; e++)
		draw_onehot(s, oh, e, pr->coord, (uint64_t)1 << 40, f->p.seed);
	draw_rest(s, f, g->side, pr->coord, (uint64_t)1 << 40);
	pr->ngroups = s->ng;
	pr->w0 = s->w0;
	pr->alpha = s->alpha;
	for (int gi = 0; gi < s->ng; gi++) {
		struct group *h = &s->g[gi];
		pr->names[gi] = h->name;
		pr->nf[gi] = h->nf;
		pr->w[gi] = memcpy(cf_xmalloc((h->nf + 1) * sizeof(double)), h->w,
		                   h->nf * sizeof(double));
		pr->V[gi] = memcpy(cf_xmalloc(((size_t)h->nf * k + 1) * sizeof(double)), h->V,
		                   (size_t)h->nf * k * sizeof(double));
	}
	struct slot *keep = memcpy(cf_xmalloc(((size_t)sd->n + 1) * sizeof *keep), sd->w,
	                           sd->n * sizeof *keep);
	double *th = pr->coord < 0 ? &g->w[pr->feature] : &g->V[(size_t)pr->feature * k + pr->coord];
	double old = *th;
	pr->prior_mean = pr->coord < 0 ? g->mw : g->mv[pr->coord];
	pr->prior_prec = pr->coord < 0 ? g->lw : g->lv[pr->coord];
	pr->draws = cf_xmalloc((size_t)pr->ndraws * sizeof *pr->draws);
	cf_rng r;
	cf_rng_seed(&r, f->p.seed, 0xfeed);
	for (int d = 0; d < pr->ndraws; d++) {
		draw_one(s, g, pr->feature, pr->coord, &r);
		pr->draws[d] = *th;
		*th = old;
		memcpy(sd->w, keep, sd->n * sizeof *keep);
	}
	free(keep);
}

void
cf_fm_probe_free(cf_fm_probe *p)
{
	free(p->draws);
	for (int g = 0; g < p->ngroups; g++) {
		free(p->w[g]);
		free(p->V[g]);
	}
	p->draws = NULL;
	p->ngroups = 0;
}

/* The time features' sums as the model's time_features (f->timefeat). */
static void
time_finish(struct fm *s, struct fit *f, float rescale)
{
	int K = s->taken * s->k;
	cf_timefeat *t = cf_timefeat_new(s->nbins, s->nud, K);

	for (size_t r = 0; r < (size_t)s->nbins + s->nud; r++) {
		int bin = r < s->nbins;
		t->day[r] = bin ? s->bday[r] : s->udday[r - s->nbins];
		t->user[r] = bin ? CF_TIMEFEAT_BIN : s->uduser[r - s->nbins];
		t->bias[r] = (float)(s->tw[r] / s->taken);
		for (int c = 0; c < K; c++)
			t->V[r * K + c] = s->tV[r * s->kpS + c] * rescale;
	}
	cf_timefeat_free(f->timefeat);
	f->timefeat = t;
}

/*
 * The model: the mean over the samples, mu + bu + bi + P.Q with the S
 * samples' vectors end to end (k x S factors, exact).
 */
static int
fm_finish(struct fit *f)
{
	struct fm *s = f->state;
	double S = s->taken;

	if (f->p.fm_probe)
		probe(s, f, f->p.fm_probe);     /* no such coordinate: draws stay NULL */
	if (s->taken == 0)
		return 0;
	/* Fewer samples than planned (never, without early stopping): rescale. */
	float sc = 1;
	if (s->taken < s->S) {
		sc = (float)sqrt((double)s->S / s->taken);
		for (size_t t = 0; t < (size_t)f->nu * s->kpS; t++)
			s->P[t] *= sc;
		for (size_t t = 0; t < (size_t)f->ni * s->kpS; t++)
			s->Q[t] *= sc;
	}
	free(f->P);
	free(f->Q);
	f->P = s->P;
	f->Q = s->Q;
	s->P = s->Q = NULL;
	if (s->fn)
		cf_fm_meta_finish(s, f, sc);
	if (s->ctx)
		time_finish(s, f, sc);
	f->k = s->taken * s->k;
	f->kp = s->kpS;
	f->mu = s->mu / S;
	for (uint32_t u = 0; u < f->nu; u++)
		f->bu[u] = (float)(s->bu[u] / S);
	for (uint32_t i = 0; i < f->ni; i++)
		f->bi[i] = (float)(s->bi[i] / S);
	return 1;
}

static void
fm_attrs(cf_schema *a, const cf_mf_params *p)
{
	char b[160];

	snprintf(b, sizeof b, "%d", p->burn_in);
	cf_schema_set(a, "burn_in", b);
	snprintf(b, sizeof b, "%d", p->k);
	cf_schema_set(a, "fm_k", b);
	cf_fm_groups_format(p->fm_groups, p->items_meta != NULL, p->users_feat != NULL, b,
	                    sizeof b);
	cf_schema_set(a, "fm_groups", b);
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "reg_bias", p->reg_bias);
	cf_fit_attr_weights(a, p, 1);
}

const cf_fit_ops cf_fit_fm = {
	.algo = CF_FM,
	.need_byi = 1,
	.setup = fm_setup,
	.epoch = fm_epoch,
	.valid = fm_valid,
	.finite = fm_finite,
	.finish = fm_finish,
	.release = fm_release,
	.attrs = fm_attrs,
};
