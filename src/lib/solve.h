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
	float *Z;               /* gathered rows (stride zstride(k)) */
	float *y;               /* their targets / weights */
	float *t;               /* two values per gathered row */
	float *A;               /* (k+1)^2: the system */
	float *b, *b0;          /* k+1: the solution, the right-hand side */
	float *v;               /* 6 vectors of k+1 (CG's; the bias column's sums) */
	float *T, *ty;          /* CG's tile: a whole row's gathered factors
	                         * (stride zstride(k)), their targets */
	size_t cap;             /* rows the tile holds (grown on demand) */
	float *cv;              /* CG's pass: its vector and sums, zstride(k) each */
} cf_lsq;

void cf_lsq_init(cf_lsq *s, int k);
void cf_lsq_free(cf_lsq *s);

/*
 * The fixed side a row is solved against: factors F (rows of stride
 * ldf, k columns used) and, explicit, its biases fb and mu; implicit
 * (G != NULL): G = F^T F over all its rows (k x k; the exact solve
 * reads its upper triangle, CG the whole matrix), the confidence slope
 * alpha and the weight alpha0 of unrated pairs.
 */
typedef struct cf_lsq_side {
	int k;
	const float *F;
	size_t ldf;
	const float *fb;
	double mu;
	const float *G;
	double alpha, alpha0;
	const uint16_t *Fh;     /* CG only, if set: F in half precision (cf_lsq_f16) */
} cf_lsq_side;

/*
 * One least-squares solve against the side sd from n entries idx[]/val[].
 *
 * explicit (G == NULL): unknowns x = [p; b] (k + 1), features [F_j; 1],
 *   targets y_j = val_j - mu - fb[j]; minimizes
 *   sum (y_j - x.z_j)^2 + regf |p|^2 + regb b^2.
 * implicit: unknowns p (k); minimizes
 *   sum over rated j of c_j (1 - p.F_j)^2 + alpha0 sum over unrated j of
 *   (p.F_j)^2 + regf |p|^2, with c_j = 1 + alpha val_j:
 *   (alpha0 G + sum (c_j - alpha0) F_j F_j^T + regf I) p = sum c_j F_j.
 *   alpha0 = 1 is Hu, Koren, Volinsky (2008); a small alpha0 with
 *   alpha = 0 is Rendle et al. (2021).  0 <= alpha0 <= 1 keeps every
 *   weight c_j - alpha0 >= 0.
 * regf and regb are the penalties as they apply to this row
 * (cf_lsq_penalty).  Writes p (k floats) and *b (explicit), and *loss if
 * not NULL: the data term of the objective at the solution (sum of
 * squared errors; for iALS the weighted sum over all columns), from the
 * normal equations:  loss = y.y - 2 x.(Z^T y) + x^T (Z^T Z) x.
 *
 * The Gram matrix is built by ssyrk on the k factor columns alone (the
 * bias column's sums are added on the side: k = 64 runs the BLAS kernel
 * at full width, k + 1 = 65 at about half), over gathered blocks of up
 * to 1024 rows.  Returns the LAPACK info (0: ok).
 */
int cf_lsq_solve(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t n,
                 double regf, double regb, cf_lsq *s, float *p, float *b, double *loss);

/*
 * The same system solved approximately by `steps` conjugate-gradient
 * steps started from p (and *b) as they are (warm start: the last
 * iteration's factors).  Each step costs ~4k flops per entry (one pass
 * over the gathered rows: each row's dot product and its share of the
 * sum, from L1) instead of the k^2 of the Gram matrix.  The row's factor
 * vectors are gathered once into a per-thread tile (grown to the longest
 * row), from sd->Fh when set, and every pass reads the tile, not the
 * scattered rows of F.  G must be full (both triangles).  *loss as
 * cf_lsq_solve's, at the new p.  Returns 0.
 */
int cf_lsq_cg(const cf_lsq_side *sd, const uint32_t *idx, const float *val, size_t n,
              double regf, double regb, int steps, cf_lsq *s, float *p, float *b,
              double *loss);

/*
 * CG's copy of a fixed side: n rows of F (stride ldf, k used) rounded to
 * IEEE half precision (11 significant bits, relative error <= 2^-11),
 * rows of k rounded up to 8.  The gathers, most of a CG iteration's
 * time on large data (scattered rows of the other side, latency-bound),
 * read half the bytes.  NULL if some factor is 65520 or more in
 * magnitude (half's range: the caller gathers F itself).  Free with free().
 */
uint16_t *cf_lsq_f16(const float *F, size_t ldf, size_t n, int k);

/* The conversions, round to nearest even, the bits of the F16C
 * instructions; cf_f32_to_f16 returns -1 (h untouched) out of range. */
float cf_f16_to_f32(uint16_t h);
int cf_f32_to_f16(float f, uint16_t *h);

/*
 * A row's factor penalty: reg x cf_reg_weight(w, n), times
 * (n + alpha0 x nother)^nu when nu != 0 (Rendle et al.'s
 * frequency-scaled regularization; nother: the other side's rows).
 * Training, fine-tuning and fold-in all take it from here.
 */
double cf_lsq_penalty(cf_regw w, double reg, double nu, double alpha0, size_t n,
                      size_t nother);

/*
 * Solves for one user's bias and factors against the model's fixed item
 * factors (the ALS user step), from n ratings of items[] with values r[]:
 * fold-in of a new user.  Writes k factors to p and the bias to *b.  The
 * penalties are reg and reg_bias, weighted as the model's training
 * weighted them (m->hp.reg_weight, reg_bias_weight, nu).  For an ials
 * model the implicit solve is used (m->hp.alpha, alpha0; no bias); a
 * baseline model (k = 0) solves the bias alone; a popular model has
 * nothing to solve.  Returns 0, or -1 if the system is singular.
 */
int cf_solve_user(const cf_model *m, const uint32_t *items, const float *r, size_t n,
                  double reg, double reg_bias, float *p, float *b);

#endif
