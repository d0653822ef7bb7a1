/*
 * solve.h - the least-squares step of one row (a user or an item) against
 * fixed factors of the other side: the ALS and iALS half-steps of
 * training, fine-tuning, the fold-in of a new user and the sgd model's
 * final user step all solve with this one function, so they agree to the
 * bit.  Below both training and scoring.
 */
#ifndef CF_SOLVE_H
#define CF_SOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Per-thread scratch for rank k. */
typedef struct cf_lsq {
	float *Z;               /* gathered rows */
	float *y;               /* their targets / weights */
	float *A, *A0;          /* (k+1)^2: the system, and Z^T Z kept for the loss */
	float *b, *b0;          /* k+1 */
} cf_lsq;

void cf_lsq_init(cf_lsq *s, int k);
void cf_lsq_free(cf_lsq *s);

/*
 * One least-squares solve against fixed factors F (rows of stride ldf,
 * k columns used) from n entries idx[]/val[].
 *
 * explicit (G == NULL): unknowns x = [p; b] (k + 1), features [F_j; 1],
 *   targets y_j = val_j - mu - fb[j]; minimizes
 *   sum (y_j - x.z_j)^2 + regf |p|^2 + regb b^2.
 * implicit (G = F^T F, upper triangle, k x k): unknowns p (k); minimizes
 *   sum over all j of c_j (pref_j - p.F_j)^2 + regf |p|^2 with
 *   c_j = 1 + alpha val_j and pref 1 for the n entries, c = 1 and pref 0
 *   for the others:  (G + sum alpha val_j F_j F_j^T + regf I) p
 *   = sum (1 + alpha val_j) F_j  (Hu, Koren, Volinsky 2008).
 * regf and regb are the penalties as they apply to this row (the weight
 * cf_reg_weight gives already applied).  Writes p (k floats) and *b
 * (explicit), and *loss if not NULL: the data term of the objective at the
 * solution (sum of squared errors; for iALS the weighted sum over all
 * columns), from the normal equations:
 *   loss = y.y - 2 x.(Z^T y) + x^T (Z^T Z) x  (iALS: sum c - 2 x.b + x^T A0 x).
 * Returns the LAPACK info (0: ok).
 */
int cf_lsq_solve(int k, const float *F, size_t ldf, const float *fb, double mu,
                 const uint32_t *idx, const float *val, size_t n, double regf, double regb,
                 const float *G, double alpha, cf_lsq *s, float *p, float *b, double *loss);

/*
 * Solves for one user's bias and factors against the model's fixed item
 * factors (the ALS user step), from n ratings of items[] with values r[]:
 * fold-in of a new user.  Writes k factors to p and the bias to *b.  The
 * penalties are reg and reg_bias, weighted as the model's training
 * weighted them (m->hp.reg_weight, reg_bias_weight).  For an ials model
 * the implicit solve is used (confidence 1 + alpha * r, no bias); a
 * baseline model (k = 0) solves the bias alone; a popular model has
 * nothing to solve.  Returns 0, or -1 if the system is singular.
 */
int cf_solve_user(const cf_model *m, const uint32_t *items, const float *r, size_t n,
                  double reg, double reg_bias, float *p, float *b);

#endif
