/*
 * blend.h - blends of several models' ranking scores: the one rule that
 * makes a blend's score (each part's scores z-scored per user over the
 * user's candidate items, then weighted and summed), and the search for
 * the weights on validation users (NDCG@10 over a grid of the simplex).
 *
 * A blend is a model kind (model.h: algo "blend", its parts' streams
 * embedded in its own), scored by score.c through cf_blend_z and
 * cf_blend_mix, so mf-score, topk, metrics, make and serve take it like
 * any model; the program `blend` fits the weights and writes one.
 */
#ifndef CF_BLEND_H
#define CF_BLEND_H

#include <stddef.h>
#include <stdint.h>

#define CF_BLEND_MAX_PARTS 4

/*
 * z[i] = (row[i] - mean) / sd over the candidates: every i with skip[i]
 * zero (skip NULL: all) whose row[i] is above -FLT_MAX (items a model does
 * not rank: ease's outside --max-items) and finite.  Non-candidates get
 * z = 0 (the caller masks them); sd 0 gives z = 0.  Sums in double, in
 * index order.
 */
void cf_blend_z(const float *row, uint32_t n, const unsigned char *skip, float *z);
/* The mean and (population) standard deviation cf_blend_z uses. */
void cf_blend_stats(const float *row, uint32_t n, const unsigned char *skip, double *mean,
                    double *sd);

/*
 * out[i] = sum over parts p of w[p] z[p][i], in part order; an item that
 * some part does not rank (its row at -FLT_MAX: rows[p], may be NULL)
 * gets -FLT_MAX.
 */
void cf_blend_mix(const float *const *z, const float *const *rows, const double *w, int np,
                  uint32_t n, float *out);

/*
 * The weight search: every point of the grid {w >= 0, sum w = 1, w a
 * multiple of step} is scored by the mean NDCG@10 over the users given;
 * best() returns the best (ties: the first in the grid's order, which
 * starts from the first part alone).
 */
typedef struct cf_blend_fit cf_blend_fit;
/* NULL if np is out of 2 .. CF_BLEND_MAX_PARTS or 1/step not a whole number <= 100. */
cf_blend_fit *cf_blend_fit_new(int np, double step);
/* One user: z rows of each part (n items), the relevant items, the skipped ones. */
void cf_blend_fit_user(cf_blend_fit *f, const float *const *z, uint32_t n,
                       const uint32_t *rel, size_t nrel, const unsigned char *skip);
/* The best weights into w[np]; returns their mean NDCG@10 (0 with no users). */
double cf_blend_fit_best(const cf_blend_fit *f, double *w, size_t *users);
/* The mean NDCG@10 of part p alone (the grid's corner). */
double cf_blend_fit_corner(const cf_blend_fit *f, int p);
/* 1 if step is 1/N for a whole N from 1 to 100. */
int cf_blend_step_ok(double step);
void cf_blend_fit_free(cf_blend_fit *f);

struct cf_model;
struct cf_ratings;
/*
 * The search on models: np models sharing users and items (trained
 * without the validation ratings), every validation user they know with
 * held-out items they know (matched by raw id), relevant = every held-out
 * rating; candidates the items the user has not rated in part 0's
 * training.  The best weights into w, each part's own NDCG@10 into
 * alone; returns the best's NDCG@10, *users the users it averages over.
 * step: cf_blend_step_ok (checked by the caller).
 */
double cf_blend_fit_models(struct cf_model *const *fit, int np, const struct cf_ratings *valid,
                           double step, double *w, double *alone, size_t *users);

#endif
