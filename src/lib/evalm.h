/*
 * evalm.h - evaluation metrics: rating-prediction error (RMSE, MAE) and
 * top-k ranking quality (precision, recall, NDCG, MAP, hit rate, MRR and
 * catalogue coverage).  Used by metrics; shared with the server.
 *
 * Ranking definitions, for one user with the list L (truncated to its
 * first k entries, in rank order) and the relevant held-out items R:
 *   hits         |L ∩ R|, each relevant item counted once even if listed twice
 *   precision@k  hits / k (a list shorter than k counts its missing entries as misses)
 *   recall@k     hits / |R|
 *   NDCG@k       DCG / IDCG, binary gains: DCG = sum over hits at rank r of
 *                1 / log2(r + 1); IDCG = sum_{r = 1}^{min(k, |R|)} 1 / log2(r + 1)
 *   AP@k         (1 / min(k, |R|)) * sum over hits at rank r of hits(<= r) / r
 *   hit@k        1 if hits > 0, else 0
 *   RR           1 / rank of the first hit in L, 0 if none
 * The reported figures are the means over users with |R| > 0 (MAP is the
 * mean AP, MRR the mean RR, hit rate the mean hit); a user with relevant
 * items and no list scores 0 on all of them.
 * Coverage = distinct items in any user's top-k / catalogue size.
 */
#ifndef CF_EVALM_H
#define CF_EVALM_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "idmap.h"
#include "ratings.h"

/* ---- rating prediction ---- */

typedef struct cf_errm {
	uint64_t n;
	double se, ae;          /* sums of squared and absolute errors */
} cf_errm;

void cf_errm_add(cf_errm *e, double pred, double truth);
double cf_errm_rmse(const cf_errm *e);  /* NaN when n == 0 */
double cf_errm_mae(const cf_errm *e);
/*
 * Adds every row of the current table of r (s, just read: a `scores` table
 * with `score` and `rating` columns, f32 or f64).  Dies with one line if a
 * column is missing or of the wrong type.
 */
void cf_errm_read(cf_reader *r, const cf_schema *s, cf_errm *e);

/* ---- ranking: one user ---- */

typedef struct cf_rank1 {
	uint32_t hits;
	double precision, recall, ndcg, ap, hit, rr;
} cf_rank1;

/*
 * The metrics of one list: hit[j] != 0 when the entry at rank j + 1 is a
 * relevant item not listed before; m entries (those past k are ignored),
 * nrel > 0 relevant items.
 */
void cf_rank_user(const unsigned char *hit, size_t m, uint32_t k, size_t nrel,
                  cf_rank1 *out);

/* ---- ranking: recommendation lists ---- */

/* Recommendation rows with raw ids (a `topk` or `scores` table in memory). */
typedef struct cf_recs {
	cf_idmap *users, *items;        /* by first appearance */
	size_t n, cap;
	uint32_t *user, *item;
	float *score;
	uint32_t *rank;
	int has_rank;                   /* lists are ordered by rank, else by score */
} cf_recs;

void cf_recs_init(cf_recs *rc, int has_rank);
void cf_recs_add(cf_recs *rc, const char *user, size_t ulen, const char *item,
                 size_t ilen, float score, uint32_t rank);
void cf_recs_free(cf_recs *rc);
/*
 * Reads the rest of the current table of r (s, just read): user and item
 * str, and rank u32 (a `topk` table: lists ordered by rank) or, without a
 * rank column, score f32 or f64 (lists ordered by score, highest first).
 * Ties keep the input order.  Dies with one line on a missing or mistyped
 * column.  *rc is initialised here.
 */
void cf_recs_read(cf_reader *r, const cf_schema *s, cf_recs *rc);
/*
 * The same for a further table of the stream, its rows appended to rc
 * (users' lists may continue across tables); it must be ordered as the
 * first was (a rank column or none), else dies naming its byte offset.
 */
void cf_recs_add_table(cf_reader *r, const cf_schema *s, cf_recs *rc);

typedef struct cf_rank_opts {
	uint32_t k;                     /* >= 1 */
	int has_threshold;              /* relevant: rating >= threshold; else any held-out item */
	double threshold;
	const cf_ratings *train;        /* or NULL: its items join the catalogue */
	uint64_t catalogue;             /* > 0: the catalogue size, given; at least the items recommended */
} cf_rank_opts;

typedef struct cf_rank_result {
	uint32_t k;
	uint64_t users;                 /* truth users with >= 1 relevant item: the means' denominator */
	uint64_t users_no_list;         /* of those, users without a list (scored 0) */
	uint64_t lists;                 /* users with a list in the input */
	uint64_t lists_unmatched;       /* lists of users not among `users` (ignored but for coverage) */
	double precision, recall, ndcg, map, hit_rate, mrr, coverage;
	uint64_t recommended;           /* distinct items in the top-k lists */
	uint64_t catalogue;
	const char *catalogue_from;     /* "given", "truth+train+recommended", "truth+recommended" */
} cf_rank_result;

/*
 * Evaluates the lists of rc against the held-out ratings truth.  Returns 0;
 * -2 if a catalogue size was given (o->catalogue) and the lists recommend
 * more distinct items than that (out->recommended says how many: a
 * coverage over 1 is no coverage); else -1 if no truth user has a
 * relevant item (nothing to average over).
 */
int cf_eval_ranking(const cf_recs *rc, const cf_ratings *truth,
                    const cf_rank_opts *o, cf_rank_result *out);

/*
 * One step of a top-n list kept by insertion over a row of scores s[],
 * best first, ties by lower index (the candidates come in index order):
 * i enters top[0 .. *nt) if the list is not full or it beats the last.
 * Training's validation NDCG (train/eval.c) and blend's weight search.
 */
static inline void
cf_top_insert(const float *s, uint32_t i, uint32_t *top, int *nt, int n)
{
	if (*nt == n && !(s[i] > s[top[n - 1]]))
		return;
	int p = *nt < n ? (*nt)++ : n - 1;
	while (p > 0 && s[i] > s[top[p - 1]]) {
		top[p] = top[p - 1];
		p--;
	}
	top[p] = i;
}

#endif
