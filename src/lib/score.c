/*
 * score.c - scoring with a trained model (see score.h).
 *
 * The all-users paths work on blocks of users.  A block is scored one
 * tile of items at a time (sgemm of the block's user factors by the
 * tile's item factors, then the biases), and each row of the tile goes
 * through a bounded heap whose root is the worst hit kept: after the
 * first few tiles almost every score falls below the root, so the scan is
 * a compare per score, done a chunk at a time so the compiler can
 * vectorize it.  Tiles stay in cache; only users x n hits are kept.
 *
 * Threads take blocks from a counter; the calling thread hands finished
 * blocks to the caller in order from a ring of result slots, so output
 * streams and never depends on scheduling.
 */
#include "score.h"
#include "blend.h"
#include "par.h"
#include "solve.h"
#include "util.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * A block of 512 users by a tile of 512 items is 1 MB of scores: it stays
 * in L2 between the sgemm that writes it and the scan that reads it, and
 * each packed item tile serves 512 users.  (MovieLens-25M shape, k = 64:
 * 256 x 2048 and 512 x 4096 tiles ran 10-20% slower.)
 */
#define TILE_ITEMS 512
#define BLOCK_USERS 512
#define CHUNK 64

/*
 * Vectors of 4 floats (GCC/clang vector extensions: SSE2 on x86-64 without
 * -march, plain code elsewhere) for the two passes over every score.
 */
typedef float vf4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));

/* ------------------------------------------------------------- the scorer */

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

struct idkey {
	const char *p;
	size_t len;
	uint32_t idx;
};

static int
cmp_idkey(const void *a, const void *b)
{
	const struct idkey *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

cf_scorer *
cf_scorer_new(const cf_model *m)
{
	cf_scorer *s = cf_xcalloc(1, sizeof *s);
	uint32_t ni = m->nitems;

	s->m = m;
	s->kind = m->hp.form == CF_FORM_DOT ? CF_SCORE_DOT :
	          m->hp.form == CF_FORM_POP ? CF_SCORE_POP :
	          m->hp.form == CF_FORM_ITEMNN && m->nn_ptr ? CF_SCORE_ITEMNN : CF_SCORE_BIASED;
	s->ratings = s->kind == CF_SCORE_BIASED;
	s->reg = m->hp.reg;
	s->reg_bias = m->hp.reg_bias;
	s->alpha = m->hp.alpha;
	s->block_users = BLOCK_USERS;
	s->tile_items = TILE_ITEMS;
	s->user_lo = 0;
	s->user_hi = m->nusers;
	if (m->parts) {
		/* A blend standardizes each user's whole row: one tile spans every
		 * item, and blocks are small to bound it (64 x items floats). */
		s->kind = CF_SCORE_BLEND;
		s->ratings = 0;
		s->block_users = 64;
		s->tile_items = ni ? ni : 1;
		s->parts = cf_xmalloc((size_t)m->nparts * sizeof *s->parts);
		for (int p = 0; p < m->nparts; p++)
			s->parts[p] = cf_scorer_new(m->parts[p]);
	}

	/* Ties go by raw id: rank the items' ids once. */
	s->idrank = cf_xmalloc((size_t)ni * sizeof *s->idrank);
	if (m->items && cf_idmap_count(m->items) == ni) {
		struct idkey *k = cf_xmalloc((size_t)ni * sizeof *k);
		for (uint32_t i = 0; i < ni; i++) {
			k[i].p = cf_idmap_id(m->items, i, &k[i].len);
			k[i].idx = i;
		}
		qsort(k, ni, sizeof *k, cmp_idkey);
		for (uint32_t r = 0; r < ni; r++)
			s->idrank[k[r].idx] = r;
		free(k);
	} else {
		for (uint32_t i = 0; i < ni; i++)
			s->idrank[i] = i;
	}
	if (m->k > 0) {
		s->qnorm = cf_xmalloc((size_t)ni * sizeof *s->qnorm);
		for (uint32_t i = 0; i < ni; i++) {
			const float *q = m->Q + (size_t)i * m->k;
			double t = 0;
			for (int f = 0; f < m->k; f++)
				t += (double)q[f] * q[f];
			s->qnorm[i] = (float)sqrt(t);
		}
	}
	openblas_set_num_threads(1);
	return s;
}

void
cf_scorer_free(cf_scorer *s)
{
	if (!s)
		return;
	for (int p = 0; s->parts && p < s->m->nparts; p++)
		cf_scorer_free(s->parts[p]);
	free(s->parts);
	free(s->idrank);
	free(s->qnorm);
	free(s->gram);
	free(s);
}

/* ------------------------------------------------------------------ pairs */

float
cf_score_pair(const cf_scorer *s, uint32_t u, uint32_t i)
{
	const cf_model *m = s->m;
	float x;

	switch (s->kind) {
	case CF_SCORE_POP:
		return i == CF_NOID ? 0 : m->bi[i];
	case CF_SCORE_BLEND: {
		if (u == CF_NOID || i == CF_NOID)
			return 0;
		float *row = cf_xmalloc(((size_t)m->nitems + 1) * sizeof *row);
		cf_score_user(s, u, row);
		x = row[i];
		free(row);
		return x;
	}
	case CF_SCORE_ITEMNN:
		if (i == CF_NOID)
			return 0;
		x = m->bi[i];
		if (u != CF_NOID)
			cf_nn_add(m->nn_ptr, m->nn_item, m->nn_w, m->seen_item + m->seen_ptr[u],
			          m->seen_ptr[u + 1] - m->seen_ptr[u], i, 1, &x);
		return x;
	case CF_SCORE_DOT:
		if (u == CF_NOID || i == CF_NOID || m->k == 0)
			return 0;
		x = 0;
		for (int f = 0; f < m->k; f++)
			x += m->P[(size_t)u * m->k + f] * m->Q[(size_t)i * m->k + f];
		return x;
	case CF_SCORE_BIASED:
	default:
		if (u != CF_NOID && i != CF_NOID)
			x = m->k > 0 ? cf_model_predict(m, u, i) : (float)m->mu + m->bu[u] + m->bi[i];
		else if (u != CF_NOID)
			x = (float)m->mu + m->bu[u];
		else if (i != CF_NOID)
			x = (float)m->mu + m->bi[i];
		else
			x = (float)m->mu;
		return cf_model_clip(m, x);
	}
}

/* ------------------------------------------------------------ score tiles */

/*
 * An item-neighbour model's tile: row r is bi plus user u0 + r's seen
 * items times the weights (cf_nn_add, the rule score_given shares).
 */
static void
nn_tile(const cf_scorer *s, uint32_t u0, uint32_t nu, uint32_t j0, uint32_t nj, float *C,
        size_t ldc)
{
	const cf_model *m = s->m;

	for (uint32_t r = 0; r < nu; r++) {
		uint64_t a = m->seen_ptr[u0 + r], b = m->seen_ptr[u0 + r + 1];
		float *c = C + r * ldc;
		memcpy(c, m->bi + j0, (size_t)nj * sizeof *c);
		cf_nn_add(m->nn_ptr, m->nn_item, m->nn_w, m->seen_item + a, b - a, j0, nj, c);
	}
}

/*
 * A blend's rows for users u0 .. u0 + nu (tiles span every item): each
 * part's row of the user, z-scored over the items the user has not seen,
 * mixed by the weights (blend.h: the one rule, shared with score_given).
 */
static void
blend_tile(const cf_scorer *s, uint32_t u0, uint32_t nu, float *C, size_t ldc)
{
	const cf_model *m = s->m;
	int np = m->nparts;
	size_t ni = m->nitems;
	float *buf = cf_xmalloc(((size_t)2 * np * ni + 1) * sizeof *buf);
	unsigned char *skip = cf_xcalloc(ni + 1, 1);
	float *rows[CF_BLEND_MAX_PARTS], *z[CF_BLEND_MAX_PARTS];

	for (int p = 0; p < np; p++) {
		rows[p] = buf + (size_t)2 * p * ni;
		z[p] = rows[p] + ni;
	}
	for (uint32_t r = 0; r < nu; r++) {
		uint32_t u = u0 + r;
		for (uint64_t t = m->seen_ptr[u]; t < m->seen_ptr[u + 1]; t++)
			skip[m->seen_item[t]] = 1;
		for (int p = 0; p < np; p++) {
			cf_score_user(s->parts[p], u, rows[p]);
			cf_blend_z(rows[p], (uint32_t)ni, skip, z[p]);
		}
		cf_blend_mix((const float *const *)z, (const float *const *)rows, m->blend_w, np,
		             (uint32_t)ni, C + r * ldc);
		for (uint64_t t = m->seen_ptr[u]; t < m->seen_ptr[u + 1]; t++)
			skip[m->seen_item[t]] = 0;
	}
	free(skip);
	free(buf);
}

/*
 * Scores nu users (factor rows P, nu x k; their biases bu, NULL for none;
 * item-neighbour models: the model's users u0 ..) against items
 * [j0, j0 + nj): C[r * ldc + j].  The one place a ranking score is computed.
 */
static void
tile(const cf_scorer *s, uint32_t u0, const float *P, const float *bu, uint32_t nu,
     uint32_t j0, uint32_t nj, float *C, size_t ldc)
{
	const cf_model *m = s->m;
	int k = m->k, dot = k > 0 && s->kind != CF_SCORE_POP;

	if (s->kind == CF_SCORE_ITEMNN) {
		nn_tile(s, u0, nu, j0, nj, C, ldc);
		return;
	}
	if (s->kind == CF_SCORE_BLEND) {        /* j0 = 0, nj = nitems (cf_scorer_new) */
		blend_tile(s, u0, nu, C, ldc);
		return;
	}
	/*
	 * The biases go in first and the product is added to them (beta = 1):
	 * one pass over the tile instead of OpenBLAS clearing it for beta = 0
	 * and another adding the biases.
	 */
	if (s->kind == CF_SCORE_DOT) {
		for (uint32_t r = 0; r < nu; r++)
			memset(C + r * ldc, 0, (size_t)nj * sizeof *C);
	} else {
		const float *bi = m->bi + j0;
		for (uint32_t r = 0; r < nu; r++) {
			float base = s->kind == CF_SCORE_POP ? 0.0f :
			             (float)m->mu + (bu ? bu[r] : 0.0f);
			float *c = C + r * ldc;
			vf4 b4 = {base, base, base, base}, x;
			uint32_t j = 0;
			for (; j + 4 <= nj; j += 4) {
				memcpy(&x, bi + j, sizeof x);
				x += b4;
				memcpy(c + j, &x, sizeof x);
			}
			for (; j < nj; j++)
				c[j] = bi[j] + base;
		}
	}
	/* One user: sgemv reads Q where it lies; sgemm would first pack all of it. */
	if (dot && nu == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nj, k, 1.0f, m->Q + (size_t)j0 * k,
		            k, P, 1, 1.0f, C, 1);
	else if (dot)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)nj, k,
		            1.0f, P, k, m->Q + (size_t)j0 * k, k, 1.0f, C, (int)ldc);
}

/* Sets user u's seen items within [j0, j0 + nj) to -inf in row c. */
static void
mask_seen(const cf_model *m, uint32_t u, uint32_t j0, uint32_t nj, float *c)
{
	uint64_t lo = m->seen_ptr[u], hi = m->seen_ptr[u + 1];

	while (lo < hi) {               /* first seen item >= j0 */
		uint64_t mid = lo + (hi - lo) / 2;
		if (m->seen_item[mid] < j0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint64_t e = m->seen_ptr[u + 1]; lo < e && m->seen_item[lo] < j0 + nj; lo++)
		c[m->seen_item[lo] - j0] = -INFINITY;
}

void
cf_score_vec(const cf_scorer *s, const float *p, float b, float *out)
{
	tile(s, CF_NOID, p, &b, 1, 0, s->m->nitems, out, s->m->nitems);
}

/* A blend's new person: each part's fold-in, z-scored over the items not given. */
static int
blend_given(const cf_scorer *s, const uint32_t *items, const float *r, size_t n, float *out)
{
	const cf_model *m = s->m;
	int np = m->nparts, rc = 0;
	size_t ni = m->nitems, kmax = 1;
	float *rows[CF_BLEND_MAX_PARTS], *z[CF_BLEND_MAX_PARTS], b;

	for (int p = 0; p < np; p++)
		kmax = (size_t)m->parts[p]->k > kmax ? (size_t)m->parts[p]->k : kmax;
	float *buf = cf_xmalloc(((size_t)2 * np * ni + kmax + 1) * sizeof *buf);
	float *pv = buf + (size_t)2 * np * ni;
	unsigned char *skip = cf_xcalloc(ni + 1, 1);
	for (size_t j = 0; j < n; j++)
		skip[items[j]] = 1;
	for (int p = 0; p < np && rc == 0; p++) {
		rows[p] = buf + (size_t)2 * p * ni;
		z[p] = rows[p] + ni;
		rc = cf_score_given(s->parts[p], items, r, n, pv, &b, rows[p]);
		cf_blend_z(rows[p], (uint32_t)ni, skip, z[p]);
	}
	if (rc == 0)
		cf_blend_mix((const float *const *)z, (const float *const *)rows, m->blend_w, np,
		             (uint32_t)ni, out);
	free(skip);
	free(buf);
	return rc;
}

int
cf_score_given(const cf_scorer *s, const uint32_t *items, const float *r, size_t n,
               float *p, float *b, float *out)
{
	const cf_model *m = s->m;

	*b = 0;
	if (s->kind == CF_SCORE_ITEMNN) {
		/*
		 * Exact: the weights do not depend on who the user is.  The
		 * history in item order, each item once (X is binary), as the
		 * model's own users' seen items are: a training user given as a
		 * new person gets the same bits.
		 */
		uint32_t *h = cf_xmalloc((n ? n : 1) * sizeof *h);
		size_t nh = 0;
		memcpy(h, items, n * sizeof *h);
		qsort(h, n, sizeof *h, cmp_u32);
		for (size_t j = 0; j < n; j++)
			if (nh == 0 || h[nh - 1] != h[j])
				h[nh++] = h[j];
		memcpy(out, m->bi, (size_t)m->nitems * sizeof *out);
		cf_nn_add(m->nn_ptr, m->nn_item, m->nn_w, h, nh, 0, m->nitems, out);
		free(h);
		return 0;
	}
	if (s->kind == CF_SCORE_BLEND)
		return blend_given(s, items, r, n, out);
	memset(p, 0, (m->k ? (size_t)m->k : 1) * sizeof *p);
	if (n > 0 && cf_score_foldin(s, items, r, n, p, b) < 0)
		return -1;
	cf_score_vec(s, p, *b, out);
	return 0;
}

void
cf_score_user(const cf_scorer *s, uint32_t u, float *out)
{
	const cf_model *m = s->m;

	tile(s, u, m->k > 0 ? m->P + (size_t)u * m->k : NULL, m->bu + u, 1, 0, m->nitems, out,
	     m->nitems);
}

void
cf_score_exclude(float *scores, const uint32_t *items, size_t n)
{
	for (size_t j = 0; j < n; j++)
		scores[items[j]] = -INFINITY;
}

/* ----------------------------------------------------------------- heaps */

typedef struct heap {
	cf_hit *h;              /* h[0] is the worst hit kept */
	uint32_t cnt, n;
} heap;

int
cf_hit_before(const cf_scorer *s, cf_hit a, cf_hit b)
{
	return a.score > b.score ||
	       (a.score == b.score && s->idrank[a.item] < s->idrank[b.item]);
}

static void
sift_down(const cf_scorer *s, cf_hit *h, uint32_t cnt, uint32_t i)
{
	cf_hit x = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= cnt)
			break;
		/* the worse child: it must become the parent */
		if (c + 1 < cnt && cf_hit_before(s, h[c], h[c + 1]))
			c++;
		if (!cf_hit_before(s, x, h[c]))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static void
offer(const cf_scorer *s, heap *hp, float score, uint32_t item)
{
	cf_hit x = {score, item};

	if (hp->cnt < hp->n) {
		uint32_t i = hp->cnt++;
		while (i > 0) {
			uint32_t p = (i - 1) / 2;
			if (!cf_hit_before(s, hp->h[p], x))
				break;
			hp->h[i] = hp->h[p];
			i = p;
		}
		hp->h[i] = x;
	} else if (cf_hit_before(s, x, hp->h[0])) {
		hp->h[0] = x;
		sift_down(s, hp->h, hp->cnt, 0);
	}
}

/* The score a new hit must reach to be looked at. */
static float
threshold(const heap *hp)
{
	return hp->cnt < hp->n ? -FLT_MAX : hp->h[0].score;
}

/*
 * Offers scores c[0 .. nj) of items j0 .. to the heap.  Almost every score
 * is below the threshold once the heap is full, so chunks are first tested
 * whole with vector compares.
 */
static int
chunk_any_ge(const float *c, float thr)
{
	vf4 t = {thr, thr, thr, thr}, x;
	vi4 any = {0, 0, 0, 0};

	for (int j = 0; j < CHUNK; j += 4) {
		memcpy(&x, c + j, sizeof x);
		any |= x >= t;
	}
	return (any[0] | any[1] | any[2] | any[3]) != 0;
}

static void
scan(const cf_scorer *s, heap *hp, const float *c, uint32_t j0, uint32_t nj)
{
	float thr = threshold(hp);

	if (hp->n == 0)
		return;
	for (uint32_t a = 0; a < nj; a += CHUNK) {
		uint32_t e = nj - a < CHUNK ? nj - a : CHUNK;
		if (e == CHUNK && !chunk_any_ge(c + a, thr))
			continue;
		for (uint32_t j = 0; j < e; j++) {
			if (c[a + j] >= thr) {
				offer(s, hp, c[a + j], j0 + a + j);
				thr = threshold(hp);
			}
		}
	}
}

/* Sorts a heap's hits best first (heapsort: the worst goes to the end). */
static void
heap_sort(const cf_scorer *s, heap *hp)
{
	for (uint32_t e = hp->cnt; e > 1; e--) {
		cf_hit t = hp->h[0];
		hp->h[0] = hp->h[e - 1];
		hp->h[e - 1] = t;
		sift_down(s, hp->h, e - 1, 0);
	}
}

size_t
cf_score_topn(const cf_scorer *s, const float *scores, size_t n, cf_hit *out)
{
	heap hp = {out, 0, (uint32_t)(n < s->m->nitems ? n : s->m->nitems)};

	scan(s, &hp, scores, 0, s->m->nitems);
	heap_sort(s, &hp);
	return hp.cnt;
}

/* ------------------------------------------------- every user's top n */

void
cf_scorer_shard(cf_scorer *s, uint32_t index, uint32_t count)
{
	uint64_t B = s->block_users ? s->block_users : BLOCK_USERS;
	uint64_t nb = ((uint64_t)s->m->nusers + B - 1) / B;
	uint64_t b0 = nb * index / count, b1 = nb * (index + 1) / count;

	s->user_lo = (uint32_t)(b0 * B < s->m->nusers ? b0 * B : s->m->nusers);
	s->user_hi = (uint32_t)(b1 * B < s->m->nusers ? b1 * B : s->m->nusers);
}

/* Block b of an all-users path: its first user and its count. */
static uint32_t
block_first(const cf_scorer *s, uint32_t B, size_t b)
{
	return s->user_lo + (uint32_t)(b * B);
}

static uint32_t
block_count(const cf_scorer *s, uint32_t B, uint32_t u0)
{
	return s->user_hi - u0 < B ? s->user_hi - u0 : B;
}

static size_t
block_total(const cf_scorer *s, uint32_t B)
{
	return ((size_t)(s->user_hi - s->user_lo) + B - 1) / B;
}

typedef struct topn_job {
	const cf_scorer *s;
	size_t n;
	int include_seen;
	uint32_t B, T;
	float **tilebuf;        /* per thread: B x T */
	cf_hit **hits;          /* per slot: B x n */
	uint32_t **cnt;         /* per slot: B */
	cf_topn_emit emit;
	void *arg;
} topn_job;

static void
topn_work(void *ctx, size_t b, int slot, int tid)
{
	topn_job *J = ctx;
	const cf_scorer *s = J->s;
	const cf_model *m = s->m;
	uint32_t u0 = block_first(s, J->B, b);
	uint32_t nu = block_count(s, J->B, u0);
	uint32_t keep = (uint32_t)(J->n < m->nitems ? J->n : m->nitems);
	float *C = J->tilebuf[tid];
	cf_hit *hits = J->hits[slot];
	heap hp;

	for (uint32_t r = 0; r < nu; r++)
		J->cnt[slot][r] = 0;
	for (uint32_t j0 = 0; j0 < m->nitems; j0 += J->T) {
		uint32_t nj = m->nitems - j0 < J->T ? m->nitems - j0 : J->T;
		tile(s, u0, m->k > 0 ? m->P + (size_t)u0 * m->k : NULL, m->bu + u0, nu, j0, nj,
		     C, nj);
		for (uint32_t r = 0; r < nu; r++) {
			float *c = C + (size_t)r * nj;
			if (!J->include_seen)
				mask_seen(m, u0 + r, j0, nj, c);
			hp.h = hits + (size_t)r * J->n;
			hp.cnt = J->cnt[slot][r];
			hp.n = keep;
			scan(s, &hp, c, j0, nj);
			J->cnt[slot][r] = hp.cnt;
		}
	}
	for (uint32_t r = 0; r < nu; r++) {
		hp.h = hits + (size_t)r * J->n;
		hp.cnt = J->cnt[slot][r];
		hp.n = keep;
		heap_sort(s, &hp);
	}
}

static int
topn_emit(void *ctx, size_t b, int slot)
{
	topn_job *J = ctx;
	uint32_t u0 = block_first(J->s, J->B, b);
	uint32_t nu = block_count(J->s, J->B, u0);

	return J->emit(J->arg, u0, u0 + nu, J->n, J->hits[slot], J->cnt[slot]);
}

static int
nthreads(int threads, size_t nblocks)
{
	if (threads < 1)
		threads = 1;
	if ((size_t)threads > nblocks)
		threads = nblocks ? (int)nblocks : 1;
	return threads;
}

int
cf_score_all_topn(const cf_scorer *s, size_t n, int include_seen, int threads,
                  cf_topn_emit emit, void *arg)
{
	const cf_model *m = s->m;
	topn_job J = {.s = s, .n = n ? n : 1, .include_seen = include_seen,
	              .B = s->block_users ? s->block_users : BLOCK_USERS,
	              .T = s->tile_items ? s->tile_items : TILE_ITEMS, .emit = emit,
	              .arg = arg};
	size_t nblocks = block_total(s, J.B);
	int rc;

	if (n == 0 || m->nitems == 0)
		J.n = 0;
	else if (J.n > m->nitems)
		J.n = m->nitems;        /* the stride of hits[] as emit() sees it */
	threads = nthreads(threads, nblocks);
	int ring = threads > 1 ? 2 * threads : 1;
	if (J.T > m->nitems)
		J.T = m->nitems ? m->nitems : 1;
	J.tilebuf = cf_xcalloc((size_t)threads, sizeof *J.tilebuf);
	J.hits = cf_xcalloc((size_t)ring, sizeof *J.hits);
	J.cnt = cf_xcalloc((size_t)ring, sizeof *J.cnt);
	for (int t = 0; t < threads; t++)
		J.tilebuf[t] = cf_xmalloc((size_t)J.B * J.T * sizeof **J.tilebuf);
	for (int r = 0; r < ring; r++) {
		J.hits[r] = cf_xmalloc((size_t)J.B * (J.n ? J.n : 1) * sizeof **J.hits);
		J.cnt[r] = cf_xcalloc(J.B, sizeof **J.cnt);
	}
	openblas_set_num_threads(1);
	rc = cf_par_ordered(nblocks, threads, ring, topn_work, topn_emit, &J);
	for (int t = 0; t < threads; t++)
		free(J.tilebuf[t]);
	for (int r = 0; r < ring; r++) {
		free(J.hits[r]);
		free(J.cnt[r]);
	}
	free(J.tilebuf);
	free(J.hits);
	free(J.cnt);
	return rc;
}

/* ------------------------------------------------- every user's every item */

typedef struct rows_job {
	const cf_scorer *s;
	int include_seen;
	uint32_t B;
	float **buf;            /* per slot: B x nitems */
	cf_rows_emit emit;
	void *arg;
} rows_job;

static void
rows_work(void *ctx, size_t b, int slot, int tid)
{
	rows_job *J = ctx;
	const cf_model *m = J->s->m;
	uint32_t u0 = block_first(J->s, J->B, b);
	uint32_t nu = block_count(J->s, J->B, u0);
	float *C = J->buf[slot];

	(void)tid;
	if (m->nitems == 0)
		return;
	tile(J->s, u0, m->k > 0 ? m->P + (size_t)u0 * m->k : NULL, m->bu + u0, nu, 0, m->nitems,
	     C, m->nitems);
	if (!J->include_seen)
		for (uint32_t r = 0; r < nu; r++)
			mask_seen(m, u0 + r, 0, m->nitems, C + (size_t)r * m->nitems);
}

static int
rows_emit(void *ctx, size_t b, int slot)
{
	rows_job *J = ctx;
	uint32_t u0 = block_first(J->s, J->B, b);
	uint32_t nu = block_count(J->s, J->B, u0);

	return J->emit(J->arg, u0, u0 + nu, J->buf[slot]);
}

int
cf_score_all_rows(const cf_scorer *s, uint32_t block, int include_seen, int threads,
                  cf_rows_emit emit, void *arg)
{
	const cf_model *m = s->m;
	rows_job J = {.s = s, .include_seen = include_seen, .B = block ? block : 16,
	              .emit = emit, .arg = arg};
	size_t nblocks = block_total(s, J.B);
	int rc;

	threads = nthreads(threads, nblocks);
	int ring = threads > 1 ? 2 * threads : 1;
	J.buf = cf_xcalloc((size_t)ring, sizeof *J.buf);
	for (int r = 0; r < ring; r++)
		J.buf[r] = cf_xmalloc((size_t)J.B * m->nitems * sizeof **J.buf);
	openblas_set_num_threads(1);
	rc = cf_par_ordered(nblocks, threads, ring, rows_work, rows_emit, &J);
	for (int r = 0; r < ring; r++)
		free(J.buf[r]);
	free(J.buf);
	return rc;
}

/* ---------------------------------------------------------------- similar */

/* An item-neighbour model's nearest items: the item's largest weights. */
static size_t
nn_similar(const cf_scorer *s, uint32_t item, size_t n, cf_hit *out)
{
	const cf_model *m = s->m;
	uint64_t a = m->nn_ptr[item], b = m->nn_ptr[item + 1];
	heap hp = {out, 0, (uint32_t)(n < b - a ? n : b - a)};

	for (uint64_t t = a; t < b; t++)
		if (m->nn_item[t] != item)      /* a crafted model may list it */
			offer(s, &hp, m->nn_w[t], m->nn_item[t]);
	heap_sort(s, &hp);
	return hp.cnt;
}

size_t
cf_score_similar(const cf_scorer *s, uint32_t item, size_t n, cf_hit *out)
{
	const cf_model *m = s->m;
	uint32_t ni = m->nitems;

	if (s->kind == CF_SCORE_ITEMNN)
		return nn_similar(s, item, n, out);
	if (m->k == 0 || ni < 2)
		return 0;
	float *c = cf_xmalloc((size_t)ni * sizeof *c);
	float qi = s->qnorm[item];

	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)ni, m->k, 1.0f, m->Q, m->k,
	            m->Q + (size_t)item * m->k, 1, 0.0f, c, 1);
	for (uint32_t j = 0; j < ni; j++) {
		float d = qi * s->qnorm[j];
		c[j] = d > 0 ? c[j] / d : 0.0f;
	}
	c[item] = -INFINITY;
	heap hp = {out, 0, (uint32_t)(n < ni - 1 ? n : ni - 1)};
	scan(s, &hp, c, 0, ni);
	heap_sort(s, &hp);
	free(c);
	return hp.cnt;
}

/* ---------------------------------------------------------------- fold-in */

int
cf_score_foldin(const cf_scorer *s, const uint32_t *items, const float *r, size_t n,
                float *p, float *b)
{
	*b = 0;
	return cf_solve_user(s->m, items, r, n, s->reg, s->reg_bias, p, b);
}

/* ------------------------------------------------------------ explanations */

struct cf_explainer {
	const cf_scorer *s;
	int k;
	size_t n;
	uint32_t *items;
	double *L;              /* Cholesky factor of W_u^-1, k x k, lower */
	double *e;              /* e_j, n */
	double *v;              /* scratch: k */
	double *all;            /* scratch: n */
	/* a blend: its parts' explainers, w_p / sd_p, a scratch row of n */
	struct cf_explainer *parts[CF_BLEND_MAX_PARTS];
	double scale[CF_BLEND_MAX_PARTS];
	double *tmp;
};

/* In-place Cholesky of the k x k matrix A (lower); -1 if not positive definite. */
static int
cholesky(double *A, int k)
{
	for (int j = 0; j < k; j++) {
		double d = A[j * k + j];
		for (int t = 0; t < j; t++)
			d -= A[j * k + t] * A[j * k + t];
		if (!(d > 0))
			return -1;
		d = sqrt(d);
		A[j * k + j] = d;
		for (int i = j + 1; i < k; i++) {
			double x = A[i * k + j];
			for (int t = 0; t < j; t++)
				x -= A[i * k + t] * A[j * k + t];
			A[i * k + j] = x / d;
		}
	}
	return 0;
}

/* Solves L L^T x = x in place. */
static void
chol_solve(const double *L, int k, double *x)
{
	for (int i = 0; i < k; i++) {
		double t = x[i];
		for (int j = 0; j < i; j++)
			t -= L[i * k + j] * x[j];
		x[i] = t / L[i * k + i];
	}
	for (int i = k - 1; i >= 0; i--) {
		double t = x[i];
		for (int j = i + 1; j < k; j++)
			t -= L[j * k + i] * x[j];
		x[i] = t / L[i * k + i];
	}
}

/* Item-neighbour models: a history item's contribution is its weight. */
static cf_explainer *
nn_explain_new(const cf_scorer *s, const uint32_t *items, size_t n)
{
	cf_explainer *e = cf_xcalloc(1, sizeof *e);

	e->s = s;
	e->n = n;
	e->items = cf_xmalloc((n ? n : 1) * sizeof *e->items);
	memcpy(e->items, items, n * sizeof *items);
	e->all = cf_xmalloc((n ? n : 1) * sizeof *e->all);
	return e;
}

int
cf_score_explains(const cf_scorer *s)
{
	if (s->kind == CF_SCORE_BLEND) {
		for (int p = 0; p < s->m->nparts; p++)
			if (s->parts[p]->kind != CF_SCORE_DOT && s->parts[p]->kind != CF_SCORE_ITEMNN)
				return 0;
		return 1;
	}
	return s->kind == CF_SCORE_ITEMNN || (s->m->k > 0 && s->kind != CF_SCORE_POP);
}

/*
 * A blend's history: each part's explainer, and the user's w_p / sd_p from
 * the part's scores of the history as a new person's (exact for ease and
 * rp3b; for ials the user step training ended with).
 */
static cf_explainer *
blend_explain_new(cf_scorer *s, const uint32_t *items, const float *r, size_t n)
{
	const cf_model *m = s->m;
	size_t ni = m->nitems, kmax = 1;
	float b;

	if (!cf_score_explains(s))
		return NULL;
	cf_explainer *e = cf_xcalloc(1, sizeof *e);
	e->s = s;
	e->n = n;
	e->items = cf_xmalloc((n ? n : 1) * sizeof *e->items);
	memcpy(e->items, items, n * sizeof *items);
	e->all = cf_xmalloc((n ? n : 1) * sizeof *e->all);
	e->tmp = cf_xmalloc((n ? n : 1) * sizeof *e->tmp);
	for (int p = 0; p < m->nparts; p++)
		kmax = (size_t)m->parts[p]->k > kmax ? (size_t)m->parts[p]->k : kmax;
	float *row = cf_xmalloc((ni + kmax + 1) * sizeof *row), *pv = row + ni;
	unsigned char *skip = cf_xcalloc(ni + 1, 1);
	for (size_t j = 0; j < n; j++)
		skip[items[j]] = 1;
	for (int p = 0; p < m->nparts && e; p++) {
		double mean, sd;
		e->parts[p] = cf_explain_new(s->parts[p], items, r, n, 0);
		if (!e->parts[p] || cf_score_given(s->parts[p], items, r, n, pv, &b, row) < 0) {
			cf_explain_free(e);
			e = NULL;
			break;
		}
		cf_blend_stats(row, (uint32_t)ni, skip, &mean, &sd);
		e->scale[p] = sd > 0 ? m->blend_w[p] / sd : 0;
	}
	free(skip);
	free(row);
	return e;
}

cf_explainer *
cf_explain_new(cf_scorer *s, const uint32_t *items, const float *r, size_t n, float bu)
{
	const cf_model *m = s->m;
	int k = m->k;

	if (s->kind == CF_SCORE_ITEMNN)
		return nn_explain_new(s, items, n);
	if (s->kind == CF_SCORE_BLEND)
		return blend_explain_new(s, items, r, n);
	if (k == 0 || s->kind == CF_SCORE_POP)
		return NULL;
	cf_explainer *e = cf_xcalloc(1, sizeof *e);
	double *A = e->L = cf_xcalloc((size_t)k * k, sizeof *A);

	e->s = s;
	e->k = k;
	e->n = n;
	e->items = cf_xmalloc((n ? n : 1) * sizeof *e->items);
	memcpy(e->items, items, n * sizeof *items);
	e->e = cf_xmalloc((n ? n : 1) * sizeof *e->e);
	e->v = cf_xmalloc((size_t)k * sizeof *e->v);
	e->all = cf_xmalloc((n ? n : 1) * sizeof *e->all);
	if (s->kind == CF_SCORE_DOT) {
		if (!s->gram) {
			double *G = cf_xcalloc((size_t)k * k, sizeof *G);
			for (uint32_t i = 0; i < m->nitems; i++) {
				const float *q = m->Q + (size_t)i * k;
				for (int a = 0; a < k; a++)
					for (int b = 0; b <= a; b++)
						G[a * k + b] += (double)q[a] * q[b];
			}
			s->gram = G;
		}
		memcpy(A, s->gram, (size_t)k * k * sizeof *A);
	}
	for (size_t j = 0; j < n; j++) {
		const float *q = m->Q + (size_t)items[j] * k;
		double w = 1;
		if (s->kind == CF_SCORE_DOT) {
			e->e[j] = 1 + s->alpha * r[j];
			w = s->alpha * r[j];
		} else {
			e->e[j] = (double)r[j] - (m->mu + m->bi[items[j]] + bu);
		}
		for (int a = 0; a < k; a++)
			for (int b = 0; b <= a; b++)
				A[a * k + b] += w * q[a] * q[b];
	}
	/* The penalty as training applied it to a row of n ratings. */
	double lambda = s->reg * cf_reg_weight(m->hp.reg_weight, n);
	for (int a = 0; a < k; a++)
		A[a * k + a] += lambda;
	if (cholesky(A, k) < 0) {
		cf_explain_free(e);
		return NULL;
	}
	return e;
}

void
cf_explain_all(cf_explainer *e, uint32_t item, double *out)
{
	const cf_model *m = e->s->m;
	int k = e->k;

	if (e->s->kind == CF_SCORE_ITEMNN) {
		for (size_t j = 0; j < e->n; j++)
			out[j] = cf_nn_weight(m, e->items[j], item);
		return;
	}
	if (e->s->kind == CF_SCORE_BLEND) {     /* sum_p w_p / sd_p x part p's */
		for (size_t j = 0; j < e->n; j++)
			out[j] = 0;
		for (int p = 0; p < m->nparts; p++) {
			cf_explain_all(e->parts[p], item, e->tmp);
			for (size_t j = 0; j < e->n; j++)
				out[j] += e->scale[p] * e->tmp[j];
		}
		return;
	}
	const float *qi = m->Q + (size_t)item * k;

	for (int f = 0; f < k; f++)
		e->v[f] = qi[f];
	chol_solve(e->L, k, e->v);      /* v = W_u q_i */
	for (size_t j = 0; j < e->n; j++) {
		const float *q = m->Q + (size_t)e->items[j] * k;
		double t = 0;
		for (int f = 0; f < k; f++)
			t += e->v[f] * q[f];
		out[j] = e->e[j] * t;
	}
}

size_t
cf_explain_top(cf_explainer *e, uint32_t item, size_t top, cf_because *out)
{
	size_t cnt = 0;

	cf_explain_all(e, item, e->all);
	/* Insertion into a short sorted list: top is small (3). */
	for (size_t j = 0; j < e->n; j++) {
		cf_hit x = {(float)e->all[j], e->items[j]};
		size_t pos = cnt;
		while (pos > 0) {
			cf_hit y = {out[pos - 1].contribution, out[pos - 1].item};
			if (!cf_hit_before(e->s, x, y))
				break;
			pos--;
		}
		if (pos >= top)
			continue;
		size_t last = cnt < top ? cnt : top - 1;
		memmove(out + pos + 1, out + pos, (last - pos) * sizeof *out);
		out[pos].item = x.item;
		out[pos].contribution = x.score;
		if (cnt < top)
			cnt++;
	}
	return cnt;
}

void
cf_explain_free(cf_explainer *e)
{
	if (!e)
		return;
	for (int p = 0; p < CF_BLEND_MAX_PARTS; p++)
		cf_explain_free(e->parts[p]);
	free(e->tmp);
	free(e->items);
	free(e->L);
	free(e->e);
	free(e->v);
	free(e->all);
	free(e);
}
