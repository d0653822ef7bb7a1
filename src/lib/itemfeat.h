/*
 * itemfeat.h - what fm keeps for items not in a model's dictionaries
 * (cold start of a brand-new movie): the item side's metadata features
 * (genres, 5-year bins of the year), each with its bias and factors
 * averaged over the samples, and the averaged pairwise products of their
 * factors, stored as the model stream's optional `item_features` table
 * (docs/frame-format.md).
 *
 * A sample s predicts an item with features j (values x_j) as
 *     w0 + cu + sum_j x_j w_j + sum_{j<l} x_j x_l <v_j, v_l> + <pu, sum_j x_j v_j>
 * (fm.c), so the mean over S samples is exactly
 *     mu + bu + sum_j x_j bias_j + sum_{j<l} x_j x_l pair_jl + P[u] . sum_j x_j V_j
 * with bias_j the mean of w_j, pair_jl the mean of <v_j, v_l> and V_j the
 * S samples' v_j end to end, each / sqrt(S) (P's layout): what the model
 * predicts for an item in its dictionaries with no ratings and the same
 * metadata, plus, where the table has it, the "raters" feature below.
 *
 * Features are named by one rule (cf_itemfeat_item()): "genre:NAME" for
 * each genre of the '|'-separated list, x = 1/sqrt(the list's genres),
 * "year:Y" (Y = year - year % 5) with x = 1 for a year > 0, and "raters"
 * with x = 1 for every new item: a model with the raters group keeps the
 * block a rated item carries (its raters' terms) averaged over the
 * training ratings, because a new item will have raters and the other
 * terms were fitted beside theirs.  A genre or year the table lacks (no
 * training item had it) adds nothing, as a feature without ratings adds
 * nothing in training.
 */
#ifndef CF_ITEMFEAT_H
#define CF_ITEMFEAT_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "idmap.h"

/* At most this many features are kept (the pair table is n x n). */
#define CF_ITEMFEAT_MAX 2048

typedef struct cf_itemfeat {
	uint32_t n;
	int k;                  /* the model's k */
	cf_idmap *ids;          /* "genre:Drama", "year:1995" -> feature */
	float *bias;            /* n */
	float *V;               /* n x k */
	float *pair;            /* n x n (symmetric; the diagonal: mean |v_j|^2) */
} cf_itemfeat;

/* n features at rank k, zeroed; name them with cf_idmap_intern in order. */
cf_itemfeat *cf_itemfeat_new(uint32_t n, int k);
void cf_itemfeat_free(cf_itemfeat *f);

/* The table (after the model's others). 0, or -1 if w does not die. */
int cf_itemfeat_write(cf_writer *w, const cf_itemfeat *f);
/*
 * Reads the rest of an `item_features` table whose header s has just
 * been read, for a model of rank k: NULL with msg set if malformed (the
 * wrong columns, a repeated name, a number that is not finite).
 */
cf_itemfeat *cf_itemfeat_read(cf_reader *r, const cf_schema *s, int k, char *msg, size_t len);

/*
 * An item's bias (the linear and pairwise terms) and factors q (k
 * floats) from its genres list and year; returns how many of its
 * features the table knows (0: the item is all fallback, q zero).
 */
uint32_t cf_itemfeat_item(const cf_itemfeat *f, const char *genres, size_t glen, int year,
                          double *bias, float *q);

#endif
