/*
 * train/sgd.c - biased MF by parallel SGD, blocked as in DSGD (Gemulla et
 * al. 2011) and FPSGD: users and items are randomly permuted and cut into
 * a fixed B x B grid of blocks; each epoch is B sub-epochs, and a
 * sub-epoch runs B blocks that share no user row and no item column (a
 * random stratum: block row r with column colperm[(r + d) mod B]) in
 * parallel, so no two threads ever write the same factors and the model
 * is the same bits whatever the thread count.  Inside a block ratings are
 * sorted by user for cache locality.  lr_t = lr / (1 + lr_decay t).
 *
 * After the last epoch every user is solved exactly against the final
 * items (the ALS user step with sgd's own penalties, reg x n and
 * reg_bias): the stored users are then the least-squares solution of
 * their history, as fold-in computes it, so explanations add up (score.h)
 * and a fold-in of a known user's history gives back its factors.
 * Fine-tuning runs the same exact solves over the touched rows.
 */
#include "fit.h"
#include "par.h"
#include "rng.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Blocks per side of the grid: fixed (results must not depend on the
 * thread count), and B >= threads for every thread to have a block. */
#define SGD_GRID 16

struct sgd {
	struct fit *f;
	int B;
	/* Ratings grouped by block, by user inside (permuted indices). */
	uint32_t *ru, *ri;
	float *rr;
	/* Item block of each rating in byu's order: with the users' blocks
	 * (ub), where each rating went, to give byu back after training. */
	unsigned char *ibb;
	uint16_t *ub;           /* user -> block row */
	uint64_t *bptr;         /* B*B + 1 */
	double *bsse;           /* per block, this epoch */
	float lr;
	/*
	 * The parameters in permuted order (user u is row pu[u]), so that a
	 * block's users and items are contiguous ranges: no two threads share
	 * a cache line of biases, and a block's rows stay together in memory.
	 */
	uint32_t *pu, *pi;
	float *P, *Q, *bu, *bi;
	float *rbu, *rbi;       /* per-step bias penalties, permuted */
	/* the schedule: each sub-epoch a set of B blocks sharing no row and no
	 * column, drawn from rng */
	int *colperm, *order, *blocks;
	cf_rng rng;
};

/* Ratings ahead whose factor rows the SGD loop prefetches. */
#define SGD_AHEAD 12

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define CF_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CF_CLONES
#endif

/*
 * The SGD pass over ratings (ru, ri, rr)[0..n): for each, the error e of the
 * prediction, then
 *   bu += lr (e - reg_bias bu),  bi += lr (e - reg_bias bi),
 *   p  += lr (e q - reg p),      q  += lr (e p - reg q)
 * (p and q both from before the step).  kp is a multiple of 8.
 * Returns the sum of e^2.
 */
CF_CLONES static double
sgd_run(const uint32_t *ru, const uint32_t *ri, const float *rr, size_t n,
        float *restrict P, float *restrict Q, float *restrict bu, float *restrict bi,
        int kp, float mu, float lr, float reg, const float *rbu, const float *rbi)
{
	double sse = 0;
	const float shrink = 1 - lr * reg;

	for (size_t t = 0; t < n; t++) {
		uint32_t u = ru[t], i = ri[t];
		float *restrict p = P + (size_t)u * kp, *restrict q = Q + (size_t)i * kp;
		/* Item rows are random accesses: fetch a few ratings ahead. */
		if (t + SGD_AHEAD < n) {
			const char *nq = (const char *)(Q + (size_t)ri[t + SGD_AHEAD] * kp);
			const char *np = (const char *)(P + (size_t)ru[t + SGD_AHEAD] * kp);
			for (int c = 0; c < kp * 4; c += 64) {
				__builtin_prefetch(nq + c, 1);
				__builtin_prefetch(np + c, 1);
			}
			__builtin_prefetch(bi + ri[t + SGD_AHEAD], 1);
			__builtin_prefetch(rbi + ri[t + SGD_AHEAD], 0);
		}
		float dot = cf_dotkp(p, q, kp);
		float e = rr[t] - (mu + bu[u] + bi[i] + dot);
		sse += (double)e * e;
		bu[u] = (1 - lr * rbu[u]) * bu[u] + lr * e;
		bi[i] = (1 - lr * rbi[i]) * bi[i] + lr * e;
		float g = lr * e;
		for (int c = 0; c < kp; c += 8) {
			cf_v8f a, b, na, nb;
			memcpy(&a, p + c, sizeof a);
			memcpy(&b, q + c, sizeof b);
			na = shrink * a + g * b;
			nb = shrink * b + g * a;
			memcpy(p + c, &na, sizeof na);
			memcpy(q + c, &nb, sizeof nb);
		}
	}
	return sse;
}

static void
sgd_block(struct sgd *s, int blk)
{
	struct fit *f = s->f;

	uint64_t a = s->bptr[blk];

	s->bsse[blk] = sgd_run(s->ru + a, s->ri + a, s->rr + a, s->bptr[blk + 1] - a, s->P,
	                       s->Q, s->bu, s->bi, f->kp, (float)f->mu, s->lr, (float)f->p.reg,
	                       s->rbu, s->rbi);
}

static void
sgd_setup(struct sgd *s, struct fit *f)
{
	uint32_t *pu = cf_xmalloc(((size_t)f->nu + 1) * sizeof *pu);
	uint32_t *pi = cf_xmalloc(((size_t)f->ni + 1) * sizeof *pi);
	cf_rng rng;
	int B;

	memset(s, 0, sizeof *s);
	s->pu = pu;
	s->pi = pi;
	s->f = f;
	/* The grid is fixed, so the model does not depend on the thread
	 * count: B blocks a sub-epoch run in parallel. */
	B = SGD_GRID;
	s->B = B;
	cf_rng_seed(&rng, f->p.seed, 3);
	for (uint32_t a = 0; a < f->nu; a++)
		pu[a] = a;
	for (uint32_t a = 0; a < f->ni; a++)
		pi[a] = a;
	for (uint32_t a = f->nu; a > 1; a--) {
		uint32_t b = (uint32_t)cf_rng_below(&rng, a), t = pu[a - 1];
		pu[a - 1] = pu[b], pu[b] = t;
	}
	for (uint32_t a = f->ni; a > 1; a--) {
		uint32_t b = (uint32_t)cf_rng_below(&rng, a), t = pi[a - 1];
		pi[a - 1] = pi[b], pi[b] = t;
	}
	/*
	 * Block of each rating, then a stable counting sort by block of the
	 * rows taken in user order (byu), so each block is sorted by user.
	 * One array at a time, each of byu's freed once copied: the ratings
	 * are held once, as blocks, while SGD runs.
	 */
	s->bptr = cf_xcalloc((size_t)B * B + 1, sizeof *s->bptr);
	s->bsse = cf_xcalloc((size_t)B * B, sizeof *s->bsse);
	s->ub = cf_xmalloc(((size_t)f->nu + 1) * sizeof *s->ub);
	uint16_t *ib = cf_xmalloc(((size_t)f->ni + 1) * sizeof *ib);
	for (uint32_t a = 0; a < f->nu; a++)
		s->ub[a] = (uint16_t)((uint64_t)pu[a] * B / f->nu);
	for (uint32_t a = 0; a < f->ni; a++)
		ib[a] = (uint16_t)((uint64_t)pi[a] * B / f->ni);
	s->ibb = cf_xmalloc(f->n ? f->n : 1);
	for (uint32_t u = 0; u < f->nu; u++)
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) {
			s->ibb[t] = (unsigned char)ib[f->byu.idx[t]];
			s->bptr[s->ub[u] * B + s->ibb[t] + 1]++;
		}
	for (int b = 0; b < B * B; b++)
		s->bptr[b + 1] += s->bptr[b];
	free(ib);
	uint64_t *pos = cf_xmalloc(((size_t)B * B + 1) * sizeof *pos);
	size_t nb = (f->n ? f->n : 1) * sizeof(uint32_t);
	/* d = the block position of byu's entry t, for each t in order. */
#define SGD_WALK(body) do { \
		memcpy(pos, s->bptr, ((size_t)B * B + 1) * sizeof *pos); \
		for (uint32_t u = 0; u < f->nu; u++) { \
			uint64_t *bp = pos + (size_t)s->ub[u] * B; \
			for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) { \
				uint64_t d = bp[s->ibb[t]]++; \
				body; \
			} \
		} \
	} while (0)
	s->rr = cf_xmalloc(nb);
	SGD_WALK(s->rr[d] = f->byu.val[t]);
	free(f->byu.val);
	f->byu.val = NULL;
	s->ri = cf_xmalloc(nb);
	SGD_WALK(s->ri[d] = pi[f->byu.idx[t]]);
	free(f->byu.idx);
	f->byu.idx = NULL;
	s->ru = cf_xmalloc(nb);
	SGD_WALK(s->ru[d] = pu[u]);
	free(pos);
	/*
	 * Per-step penalties: reg on factors at every rating (reg * n in all,
	 * the usual SGD objective), and reg_bias / n on a bias seen n times:
	 * reg_bias in all, as in the baseline.  The fixed bias penalty was worth
	 * ~0.006 RMSE on MovieLens over a per-rating one.
	 */
	if (f->vn) {
		s->P = cf_fmat(f->nu, f->kp);
		s->Q = cf_fmat(f->ni, f->kp);
	}
	s->bu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
	s->bi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
	s->rbu = cf_xmalloc(((size_t)f->nu + 1) * sizeof(float));
	s->rbi = cf_xmalloc(((size_t)f->ni + 1) * sizeof(float));
	for (uint32_t a = 0; a < f->nu; a++) {
		double n = (double)(f->byu.ptr[a + 1] - f->byu.ptr[a]);
		s->rbu[pu[a]] = (float)(f->p.reg_bias / (n < 1 ? 1 : n));
	}
	for (uint32_t a = 0; a < f->ni; a++) {
		double n = (double)(f->byi.ptr[a + 1] - f->byi.ptr[a]);
		s->rbi[pi[a]] = (float)(f->p.reg_bias / (n < 1 ? 1 : n));
	}
	s->colperm = cf_xmalloc((size_t)B * sizeof *s->colperm);
	s->order = cf_xmalloc((size_t)B * sizeof *s->order);
	s->blocks = cf_xmalloc((size_t)B * sizeof *s->blocks);
	cf_rng_seed(&s->rng, f->p.seed, 4);
}

/* After training: byu's items and ratings back from the blocks, which are freed. */
static void
sgd_unbuild(struct sgd *s)
{
	struct fit *f = s->f;
	int B = s->B;
	uint32_t *upi = cf_xmalloc(((size_t)f->ni + 1) * sizeof *upi);
	uint64_t *pos = cf_xmalloc(((size_t)B * B + 1) * sizeof *pos);
	size_t nb = (f->n ? f->n : 1) * sizeof(uint32_t);

	for (uint32_t a = 0; a < f->ni; a++)
		upi[s->pi[a]] = a;
	free(s->ru);
	s->ru = NULL;
	f->byu.idx = cf_xmalloc(nb);
	SGD_WALK(f->byu.idx[t] = upi[s->ri[d]]);
	free(s->ri);
	s->ri = NULL;
	f->byu.val = cf_xmalloc(nb);
	SGD_WALK(f->byu.val[t] = s->rr[d]);
	free(s->rr);
	s->rr = NULL;
	free(s->ibb);
	s->ibb = NULL;
	free(pos);
	free(upi);
}
#undef SGD_WALK

static void
sgd_free(struct sgd *s)
{
	free(s->ru);
	free(s->ri);
	free(s->rr);
	free(s->ibb);
	free(s->ub);
	free(s->bptr);
	free(s->bsse);
	free(s->pu);
	free(s->pi);
	free(s->P);
	free(s->Q);
	free(s->bu);
	free(s->bi);
	free(s->rbu);
	free(s->rbi);
	free(s->colperm);
	free(s->order);
	free(s->blocks);
}

/* Moves row a of X (rows of kp floats) to row d[a], in place (cycles). */
static void
permute_rows(float *X, uint32_t n, int kp, const uint32_t *d)
{
	unsigned char *done = cf_xcalloc((size_t)n + 1, 1);
	size_t rb = (size_t)kp * sizeof(float);
	float *carry = cf_xmalloc(rb + 1), *tmp = cf_xmalloc(rb + 1);

	for (uint32_t s = 0; s < n; s++) {
		if (done[s])
			continue;
		uint32_t cur = s, to;
		memcpy(carry, X + (size_t)s * kp, rb);
		do {
			to = d[cur];
			done[cur] = 1;
			memcpy(tmp, X + (size_t)to * kp, rb);
			memcpy(X + (size_t)to * kp, carry, rb);
			float *t = carry;
			carry = tmp;
			tmp = t;
			cur = to;
		} while (to != s);
	}
	free(done);
	free(carry);
	free(tmp);
}

/*
 * The parameters between the model's order and the permuted one.  Without
 * validation only the end wants them back: the factor matrices then move
 * (permuted in place and handed over) instead of being copied, so only
 * one copy of them is ever held.
 */
static void
sgd_sync(struct sgd *s, int to_fit)
{
	struct fit *f = s->f;
	size_t rb = (size_t)f->kp * sizeof(float);

	if (!f->vn) {
		if (to_fit) {
			uint32_t *inv = cf_xmalloc(((size_t)(f->nu > f->ni ? f->nu : f->ni) + 1) *
			                           sizeof *inv);
			for (uint32_t a = 0; a < f->nu; a++)
				inv[s->pu[a]] = a;
			permute_rows(s->P, f->nu, f->kp, inv);
			for (uint32_t a = 0; a < f->ni; a++)
				inv[s->pi[a]] = a;
			permute_rows(s->Q, f->ni, f->kp, inv);
			free(inv);
			free(f->P);
			free(f->Q);
			f->P = s->P;
			f->Q = s->Q;
			s->P = s->Q = NULL;
		} else {
			permute_rows(f->P, f->nu, f->kp, s->pu);
			permute_rows(f->Q, f->ni, f->kp, s->pi);
			free(s->P);
			free(s->Q);
			s->P = f->P;
			s->Q = f->Q;
			f->P = f->Q = NULL;
		}
		for (uint32_t a = 0; a < f->nu; a++)
			if (to_fit)
				f->bu[a] = s->bu[s->pu[a]];
			else
				s->bu[s->pu[a]] = f->bu[a];
		for (uint32_t a = 0; a < f->ni; a++)
			if (to_fit)
				f->bi[a] = s->bi[s->pi[a]];
			else
				s->bi[s->pi[a]] = f->bi[a];
		return;
	}
	for (uint32_t a = 0; a < f->nu; a++) {
		float *x = f->P + (size_t)a * f->kp, *y = s->P + (size_t)s->pu[a] * f->kp;
		if (to_fit) {
			memcpy(x, y, rb);
			f->bu[a] = s->bu[s->pu[a]];
		} else {
			memcpy(y, x, rb);
			s->bu[s->pu[a]] = f->bu[a];
		}
	}
	for (uint32_t a = 0; a < f->ni; a++) {
		float *x = f->Q + (size_t)a * f->kp, *y = s->Q + (size_t)s->pi[a] * f->kp;
		if (to_fit) {
			memcpy(x, y, rb);
			f->bi[a] = s->bi[s->pi[a]];
		} else {
			memcpy(y, x, rb);
			s->bi[s->pi[a]] = f->bi[a];
		}
	}
}

struct sub_job {
	struct sgd *s;
};

static void
sub_range(void *a, size_t lo, size_t hi, int tid)
{
	struct sgd *s = ((struct sub_job *)a)->s;

	(void)tid;
	for (size_t r = lo; r < hi; r++)
		sgd_block(s, s->blocks[r]);
}

static void
shuffle(int *a, int n, cf_rng *rng)
{
	for (int j = 0; j < n; j++)
		a[j] = j;
	for (int j = n; j > 1; j--) {
		int b = (int)cf_rng_below(rng, (uint64_t)j), t = a[j - 1];
		a[j - 1] = a[b];
		a[b] = t;
	}
}

/* One epoch; returns the mean squared error seen during the pass. */
static double
sgd_epoch(struct sgd *s, int epoch)
{
	struct fit *f = s->f;
	int B = s->B;
	struct sub_job job = {s};
	double sse = 0;

	s->lr = (float)(f->p.lr / (1 + f->p.lr_decay * epoch));
	shuffle(s->colperm, B, &s->rng);
	shuffle(s->order, B, &s->rng);
	for (int t = 0; t < B; t++) {
		int d = s->order[t];
		for (int r = 0; r < B; r++)
			s->blocks[r] = r * B + s->colperm[(r + d) % B];
		cf_par_for(f->threads < B ? f->threads : B, (size_t)B, 1, sub_range, &job);
	}
	for (int b = 0; b < B * B; b++)
		sse += s->bsse[b];
	return f->n ? sse / f->n : 0;
}

/* ------------------------------------------------------------ the ops */

static int
sgd_ops_setup(struct fit *f)
{
	struct sgd *s = cf_xmalloc(sizeof *s);

	sgd_setup(s, f);
	sgd_sync(s, 0);
	f->state = s;
	return 0;
}

static double
sgd_ops_epoch(struct fit *f, int ep)
{
	return sqrt(sgd_epoch(f->state, ep - 1));
}

static int
sgd_finite(const struct fit *f)
{
	const struct sgd *s = f->state;

	return cf_fit_params_finite(f, s->bu, s->bi, s->P, s->Q);
}

static void
sgd_ops_sync(struct fit *f)
{
	sgd_sync(f->state, 1);
}

static void
sgd_release(struct fit *f)
{
	if (f->state) {
		sgd_free(f->state);
		free(f->state);
		f->state = NULL;
	}
}

/* Every user (not in ufix) solved exactly against the fixed items. */
static double
users_exact(struct fit *f)
{
	return cf_fit_half(f, &f->byu, f->nu, f->Q, f->bi, f->ni, f->P, f->bu, f->ufix, 0,
	                   f->info->reg_weight, f->info->reg_bias_weight, "user");
}

static int
sgd_finish(struct fit *f)
{
	sgd_unbuild(f->state);
	sgd_release(f);
	users_exact(f);
	return 1;
}

/*
 * Fine-tuning: sgd's own steps over the ratings of the touched users and
 * items (one thread, in an order drawn from the seed, the learning rate
 * where training left it), moving only the touched rows, then the exact
 * step of the touched users, as training ends.  The re-fit stays the
 * algorithm's own solution rather than another objective's optimum.
 */
static double
sgd_refit(struct fit *f, int ep)
{
	const float reg = (float)f->p.reg;
	size_t n = 0, *ord = cf_xmalloc((f->n ? f->n : 1) * sizeof *ord);
	uint32_t *row = cf_xmalloc(((size_t)f->n + 1) * sizeof *row);
	int kp = f->kp;
	cf_rng rng;
	double l;

	for (uint32_t u = 0; u < f->nu; u++)
		for (uint64_t t = f->byu.ptr[u]; t < f->byu.ptr[u + 1]; t++) {
			row[t] = u;
			if (!f->ufix[u] || !f->ifix[f->byu.idx[t]])
				ord[n++] = t;
		}
	cf_rng_seed(&rng, f->p.seed, 5 + (uint64_t)ep);
	for (size_t j = n; j > 1; j--) {
		size_t b = (size_t)cf_rng_below(&rng, j), t = ord[j - 1];
		ord[j - 1] = ord[b];
		ord[b] = t;
	}
	float lr = (float)(f->p.lr / (1 + f->p.lr_decay * (f->p.epochs + ep - 1)));
	for (size_t j = 0; j < n; j++) {
		size_t t = ord[j];
		uint32_t u = row[t], i = f->byu.idx[t];
		float *p = f->P + (size_t)u * kp, *q = f->Q + (size_t)i * kp;
		float e = f->byu.val[t] - ((float)f->mu + f->bu[u] + f->bi[i] + cf_dotkp(p, q, kp));
		double nu = (double)(f->byu.ptr[u + 1] - f->byu.ptr[u]);
		double ni = (double)(f->byi.ptr[i + 1] - f->byi.ptr[i]);
		for (int c = 0; c < kp; c++) {
			float pc = p[c], qc = q[c];
			if (!f->ufix[u])
				p[c] = (1 - lr * reg) * pc + lr * e * qc;
			if (!f->ifix[i])
				q[c] = (1 - lr * reg) * qc + lr * e * pc;
		}
		if (!f->ufix[u])
			f->bu[u] = (1 - lr * (float)(f->p.reg_bias / nu)) * f->bu[u] + lr * e;
		if (!f->ifix[i])
			f->bi[i] = (1 - lr * (float)(f->p.reg_bias / ni)) * f->bi[i] + lr * e;
	}
	free(ord);
	free(row);
	l = users_exact(f);
	/* The driver reports the RMSE over every rating for a refit sweep. */
	return isnan(l) ? NAN : sqrt(l / f->n);
}

static void
sgd_attrs(cf_schema *a, const cf_mf_params *p)
{
	cf_fit_attr_num(a, "lr", p->lr);
	cf_fit_attr_num(a, "lr_decay", p->lr_decay);
	cf_fit_attr_num(a, "reg", p->reg);
	cf_fit_attr_num(a, "reg_bias", p->reg_bias);
	cf_fit_attr_weights(a, p, 1);
}

const cf_fit_ops cf_fit_sgd = {
	.algo = CF_SGD,
	.setup = sgd_ops_setup,
	.epoch = sgd_ops_epoch,
	.refit = sgd_refit,
	.finite = sgd_finite,
	.sync = sgd_ops_sync,
	.finish = sgd_finish,
	.release = sgd_release,
	.attrs = sgd_attrs,
};
