/*
 * model.h - a trained model: everything needed to recommend and serve
 * without the training data, and its form as a frame stream.
 *
 * The model is the biased factorization
 *     r(u, i) ~ mu + bu[u] + bi[i] + P[u] . Q[i]
 * (baseline: k = 0; popular: k = 0 and the score is the item's popularity,
 * stored in bi), the id dictionaries, and each user's seen items (CSR,
 * sorted by item within a user), so recommendations exclude them and the
 * server can show a user's history.
 *
 * Stream layout (docs/frame-format.md, section "Model streams"):
 *   model        0 rows; attributes: algo, k, mu, n_users, n_items,
 *                rating_min/max, every hyper-parameter, train figures
 *   user_factors columns bias f32, factors f32[k]; one block (contiguous)
 *   item_factors the same for items
 *   users, items the id dictionaries (row i = index i)
 *   seen         user u32, item u32, rating f32, timestamp i64, sorted
 *                by (user, item)
 *   item_features optional (fm with genres or years: itemfeat.h)
 *   time_features optional (fm with the time or userday group: timefeat.h)
 *   neighbors    item-neighbour models only (ease, rp3b): item u32,
 *                neighbor u32, weight f32, sorted by (item, neighbor):
 *                w(item -> neighbor), what having item in a history adds
 *                to neighbor's score
 * A blend (algo "blend", blend.h) is the model table (n_parts, weights)
 * followed by each part's whole stream; the parts share one set of users
 * and items (the same ids in the same order), and the blend's users,
 * items and seen table are its first part's.
 * A model read from an mmapped file points into the map: loading copies
 * nothing but the dictionaries' hash tables.
 */
#ifndef CF_MODEL_H
#define CF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "algo.h"
#include "frame.h"
#include "idmap.h"
#include "ratings.h"

typedef struct cf_model {
	cf_schema *attrs;       /* the `model` table's attributes (algo, k, ...) */
	char algo[16];
	cf_hparams hp;          /* the attributes, typed (cf_model_parse_hparams) */
	uint32_t nusers, nitems;
	int k;
	double mu;
	int has_scale;
	double rating_min, rating_max;

	float *bu, *bi;         /* nusers, nitems */
	float *P, *Q;           /* nusers * k, nitems * k, row-major */
	cf_idmap *users, *items;

	/* Seen items: user u's are seen_item[seen_ptr[u] .. seen_ptr[u+1]). */
	uint64_t *seen_ptr;     /* nusers + 1 */
	uint32_t *seen_item;
	float *seen_rating;
	int64_t *seen_ts;       /* NULL if the training data had no timestamps */
	uint64_t nseen;

	/* fm: new items' metadata features (itemfeat.h), the optional
	 * 'item_features' table after 'seen'; NULL for every other model. */
	struct cf_itemfeat *itemfeat;
	/* fm with time groups: its time features (timefeat.h), the optional
	 * 'time_features' table after 'seen' (and item_features); else NULL. */
	struct cf_timefeat *timefeat;

	/* Storage: arrays either owned (trained here) or inside tables read
	 * from a stream (possibly pointing into its mmapped file). */
	int owned;
	/* Item-neighbour weights (CF_FORM_ITEMNN; else nn_ptr NULL):
	 * w(j -> nn_item[t]) = nn_w[t] for t in nn_ptr[j] .. nn_ptr[j+1),
	 * sorted by nn_item within j. */
	uint64_t *nn_ptr;       /* nitems + 1 */
	uint32_t *nn_item;
	float *nn_w;
	uint64_t nnn;

	/* A blend: its parts (whole models) and weights; NULL otherwise. */
	struct cf_model **parts;
	double *blend_w;
	int nparts;

	cf_table tabs[4];       /* user_factors, item_factors, seen, neighbors */
	cf_reader *src;         /* kept open while tabs point into its map */
} cf_model;

/* A zeroed model with room for nusers x nitems at rank k (arrays owned). */
cf_model *cf_model_new(uint32_t nusers, uint32_t nitems, int k, const char *algo);
void cf_model_free(cf_model *m);

/* Fills the seen-items CSR from a ratings set (sorted by user, item). */
void cf_model_set_seen(cf_model *m, const cf_ratings *rs);
/* Takes ownership of the dictionaries (rs's are copied). */
void cf_model_set_dicts(cf_model *m, const cf_idmap *users, const cf_idmap *items);

/*
 * Sets m->hp from m->algo and m->attrs (the one place attributes are
 * parsed); values absent or unreadable are the algorithm's defaults.
 * cf_model_read calls it; training calls it on the model it makes.
 */
void cf_model_parse_hparams(cf_model *m);

/*
 * A blend of np parts (taken over: freed with the blend, or by this call
 * on failure) with weights w: NULL with a message if they do not share
 * their users and items, or a part is itself a blend.
 */
cf_model *cf_model_blend(cf_model **parts, const double *w, int np, char *err, size_t errlen);

/* Writes the model stream. Returns 0, or -1 if w does not die on errors. */
int cf_model_write(cf_writer *w, const cf_model *m);
/*
 * Reads a model stream; dies (or, with the reader set not to die, returns
 * NULL with the message in err) on anything malformed: a missing table,
 * a factor table of the wrong shape, an index out of range.
 */
cf_model *cf_model_read(cf_reader *r, char *err, size_t errlen);

/* The model's prediction, unclipped; u and i must be in range. */
static inline float
cf_model_predict(const cf_model *m, uint32_t u, uint32_t i)
{
	const float *p = m->P + (size_t)u * m->k, *q = m->Q + (size_t)i * m->k;
	float s = (float)m->mu + m->bu[u] + m->bi[i];

	for (int f = 0; f < m->k; f++)
		s += p[f] * q[f];
	return s;
}

/* Clips x to the model's rating scale (if it has one). */
static inline float
cf_model_clip(const cf_model *m, float x)
{
	if (!m->has_scale)
		return x;
	return x < m->rating_min ? (float)m->rating_min :
	       x > m->rating_max ? (float)m->rating_max : x;
}

/*
 * The one rule of an item-neighbour score: adds, for every history item
 * hist[0..n), its weights to the neighbours within [j0, j0 + nj) into
 * c[0..nj) (c[t] is item j0 + t), in history order.  ptr/idx/w are the
 * model's nn arrays (or training's, in the same shape).
 */
void cf_nn_add(const uint64_t *ptr, const uint32_t *idx, const float *w,
               const uint32_t *hist, size_t n, uint32_t j0, uint32_t nj, float *c);
/* w(j -> i), 0 if i is not among j's neighbours. */
float cf_nn_weight(const cf_model *m, uint32_t j, uint32_t i);

/* 1 if user u has seen item i (binary search of the sorted CSR row). */
int cf_model_seen(const cf_model *m, uint32_t u, uint32_t i);

#endif
