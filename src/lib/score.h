/*
 * score.h - scoring with a trained model: single (user, item) pairs, a
 * user's every item, every user's top N fused into blocked matrix
 * products, item-item cosine neighbours, fold-in of new users and
 * "because you rated" explanations.  mf-score and the server share these
 * code paths, so both score and rank the same way.
 *
 * The score depends on the model's algo attribute:
 *   ials                       p.q            (no biases, mu = 0)
 *   popular                    bi             (the item's popularity)
 *   blend                      sum over its parts p of w_p z_p, z_p part
 *                              p's scores of the user standardized over
 *                              the user's unseen items (blend.h); a pair
 *                              costs a whole row of every part
 *   ease, rp3b                 bi + sum over the user's seen items j of
 *                              w(j, i)  (item-neighbour weights; bi is 0,
 *                              or -FLT_MAX outside ease's --max-items)
 *   anything else (sgd, als, baseline)  mu + bu + bi + p.q   (k = 0: no p.q)
 * Only the last kind predicts ratings; cf_scorer.ratings says so, and only
 * then are pair predictions clipped to the rating scale.  Ranking scores
 * are never clipped (clipping would tie the best items).
 *
 * Ranking order, everywhere: higher score first; equal scores by raw item
 * id in byte order (memcmp; a prefix first), so results do not depend on
 * how a model numbered its items, and match topk(1).  Scores that are NaN
 * or -inf never enter a ranking: -inf is how excluded items are marked.
 *
 * Ranking scores come from one code path: the biases, plus the product of
 * the user factors by the item factors (sgemm over a block of users, sgemv
 * for a single user), in single precision.  A block's scores are the same
 * bits whatever the number of threads; a user scored alone (sgemv) may
 * differ from the same user in a block in the last bit.
 */
#ifndef CF_SCORE_H
#define CF_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define CF_NOID UINT32_MAX      /* an unknown user or item */

typedef enum cf_score_kind {
	CF_SCORE_BIASED,        /* mu + bu + bi + p.q */
	CF_SCORE_DOT,           /* p.q (ials) */
	CF_SCORE_POP,           /* bi (popular) */
	CF_SCORE_ITEMNN,        /* bi + sum over the history j of w(j, i) (ease, rp3b) */
	CF_SCORE_BLEND,         /* sum of w_p x part p's scores z-scored per user (blend.h) */
} cf_score_kind;

typedef struct cf_hit {
	float score;
	uint32_t item;
} cf_hit;

/*
 * What scoring a model needs beyond the model: its kind, the item order
 * for ties, the item factor norms (cosine), the regularization of
 * fold-in and explanations.  Read-only once made (except the lazily built
 * Gram matrix of cf_explain_new), so threads may share it.
 */
typedef struct cf_scorer {
	const cf_model *m;
	cf_score_kind kind;
	int ratings;            /* scores are predicted ratings (kind BIASED) */
	uint32_t *idrank;       /* item -> rank of its raw id in byte order */
	float *qnorm;           /* |Q[i]|, nitems (NULL when k = 0) */
	double reg, reg_bias, alpha;    /* from the model's (m->hp; weighted as it says) */
	double *gram;           /* Q^T Q (k x k), built on first need (ials) */
	uint32_t block_users;   /* users per block of the all-users paths */
	uint32_t tile_items;    /* items per sgemm tile within a block */
	/*
	 * The users the all-users paths score: [user_lo, user_hi), all of them
	 * unless cf_scorer_shard() narrowed it.
	 */
	uint32_t user_lo, user_hi;
	struct cf_scorer **parts;       /* a blend's parts' scorers, else NULL */
} cf_scorer;

/* Also sets OpenBLAS to one thread: scoring parallelizes over users itself. */
cf_scorer *cf_scorer_new(const cf_model *m);
void cf_scorer_free(cf_scorer *s);

/*
 * Narrows the all-users paths to shard `index` of `count` (0 <= index <
 * count): a contiguous range of whole blocks of block_users users, so a
 * shard scores each of its users in the same block, with the same
 * products, as the unsharded run does, and the shards' outputs laid end
 * to end are the unsharded output.  Shards may be empty (more shards than
 * blocks).
 */
void cf_scorer_shard(cf_scorer *s, uint32_t index, uint32_t count);

/* 1 if hit a ranks before hit b (score, then raw item id). */
int cf_hit_before(const cf_scorer *s, cf_hit a, cf_hit b);

/*
 * The score of (u, i), either of which may be CF_NOID: an unknown user
 * falls back to mu + bi, an unknown item to mu + bu, both to mu (ials: 0;
 * popular: bi, or 0).  Clipped to the rating scale when s->ratings.
 */
float cf_score_pair(const cf_scorer *s, uint32_t u, uint32_t i);

/* User u's score for every item: out[0 .. nitems). */
void cf_score_user(const cf_scorer *s, uint32_t u, float *out);
/* The same for a user given by factors p (k values) and bias b (fold-in). */
void cf_score_vec(const cf_scorer *s, const float *p, float b, float *out);

/* Marks items[0..n) excluded in a score row (sets them to -inf). */
void cf_score_exclude(float *scores, const uint32_t *items, size_t n);

/*
 * The best n of scores[0 .. nitems) (a bounded heap), best first, into
 * out; returns how many (fewer than n when fewer items qualify).
 */
size_t cf_score_topn(const cf_scorer *s, const float *scores, size_t n, cf_hit *out);

/*
 * Every user's top n, users in blocks of s->block_users scored by sgemm
 * tiles and bounded heaps, so nothing of size users x items is ever held.
 * Items the user has seen are excluded unless include_seen.  `threads`
 * workers (0 or 1: the calling thread alone) take blocks; emit() is called
 * on the calling thread for each block in user order, with hits[r * n ..]
 * and cnt[r] the results of user u0 + r (n as passed to emit: at most the
 * number of items); a non-zero return stops early and
 * is returned.  The results do not depend on the thread count.
 */
typedef int (*cf_topn_emit)(void *arg, uint32_t u0, uint32_t u1, size_t n,
                            const cf_hit *hits, const uint32_t *cnt);
int cf_score_all_topn(const cf_scorer *s, size_t n, int include_seen, int threads,
                      cf_topn_emit emit, void *arg);

/*
 * Every user's every score, in blocks of `block` users: emit() gets the
 * (u1 - u0) x nitems row-major scores, seen items set to -inf unless
 * include_seen.  Threads and stopping as above.
 */
typedef int (*cf_rows_emit)(void *arg, uint32_t u0, uint32_t u1, const float *scores);
int cf_score_all_rows(const cf_scorer *s, uint32_t block, int include_seen, int threads,
                      cf_rows_emit emit, void *arg);

/*
 * The n items nearest to item by cosine of their factor vectors, best
 * first (item itself left out; a zero vector has cosine 0 with anything).
 * Returns how many; 0 for a model without factors.
 */
size_t cf_score_similar(const cf_scorer *s, uint32_t item, size_t n, cf_hit *out);

/*
 * Fold-in: a new user's factors p (k values) and bias *b from n ratings
 * r[] of items[], solved against the fixed item factors (the ALS user
 * step, cf_solve_user, with the model's reg and reg_bias).  0, or -1
 * if the system is singular.
 */
int cf_score_foldin(const cf_scorer *s, const uint32_t *items, const float *r, size_t n,
                    float *p, float *b);

/*
 * A new person's scores from their given history (items[], ratings r[],
 * n of them) into out[0 .. nitems): fold-in then cf_score_vec for factor
 * models (p: k floats of scratch, *b the bias found; -1 if the system is
 * singular), the history times the weights for item-neighbour models
 * (exact: what the model's own users get from their seen items).
 * mf-score --fold-in and the server's POST /recommendations use it.
 */
int cf_score_given(const cf_scorer *s, const uint32_t *items, const float *r, size_t n,
                   float *p, float *b, float *out);

/*
 * Explanations: how much each of a user's history items contributes to
 * the factor part of a score, in the ALS kernel view (Hu, Koren and
 * Volinsky 2008, section 5).  The ALS user step solves
 *     p_u = W_u sum_j e_j q_j,   W_u = (sum_j w_j q_j q_j^T + lambda I)^-1
 * over the history j, so p_u.q_i = sum_j e_j q_i^T W_u q_j exactly, and
 *     contribution(j -> i) = e_j q_i^T W_u q_j.
 * Explicit models: e_j = r_uj - (mu + bu + bj), w_j = 1, lambda = reg
 * times the weight training gave a row of n ratings (m->hp.reg_weight:
 * als sqrt(n), sgd n; cf_reg_weight).
 * ials: e_j = 1 + alpha r_uj, and W_u = (Q^T Q + sum_j alpha r_uj q_j
 * q_j^T + reg I)^-1 over all items.  The contributions sum to p_u.q_i
 * when p_u is this solution: an als or ials model (users are solved last
 * in every epoch), an sgd model (it ends with that exact user step), a
 * fold-in.  A fine-tuned model's untouched users were solved against the
 * items as they were, so theirs are close, not exact.
 * Item-neighbour models (ease, rp3b): contribution(j -> i) = w(j, i),
 * exact: they sum to the score minus bi[i].
 * A blend of ials and item-neighbour parts: sum_p (w_p / sd_p) times part
 * p's contribution, sd_p the user's standard deviation of part p's
 * scores (blend.h): they sum to the score plus sum_p w_p mean_p / sd_p, a
 * constant of the user (what standardizing subtracted).
 */
typedef struct cf_explainer cf_explainer;
typedef struct cf_because {
	uint32_t item;          /* the history item */
	float contribution;
} cf_because;
/*
 * From a history of n items[] rated r[] and the user's bias bu (ignored
 * for ials).  NULL if the model has no factors or the system is singular.
 * Not thread-safe on first use with an ials model (builds s->gram).
 */
/* 1 if the scorer's model has explanations (cf_explain_new not NULL). */
int cf_score_explains(const cf_scorer *s);
cf_explainer *cf_explain_new(cf_scorer *s, const uint32_t *items, const float *r,
                             size_t n, float bu);
/* Every contribution to item's score, in history order: out[0 .. n). */
void cf_explain_all(cf_explainer *e, uint32_t item, double *out);
/* The top contributions (largest first) to item's score; returns how many. */
size_t cf_explain_top(cf_explainer *e, uint32_t item, size_t top, cf_because *out);
void cf_explain_free(cf_explainer *e);

#endif
