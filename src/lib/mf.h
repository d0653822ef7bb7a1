/*
 * mf.h - training: the numerical core behind mf-fit (and the server's
 * /train), in LIBMF's shape: a default-parameters function, a parameter
 * struct passed by value, a train call that returns a model.
 *
 * Algorithms (all fit the model of model.h):
 *   sgd       biased MF by stochastic gradient descent, multi-threaded
 *   als       the same model by alternating least squares (Cholesky per
 *             user/item via LAPACK), separate L2 for factors and biases
 *   ials      implicit-feedback ALS (Hu, Koren, Volinsky 2008), confidence
 *             1 + alpha * r, with the shared Gram matrix trick
 *   baseline  mu + regularized user and item biases (k = 0)
 *   popular   item popularity (k = 0; the score is in bi)
 *
 * Threads: one setting for the whole program (params.threads); OpenBLAS
 * is kept single-threaded inside our own parallel loops.
 */
#ifndef CF_MF_H
#define CF_MF_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "ratings.h"

typedef enum cf_algo {
	CF_SGD,
	CF_ALS,
	CF_IALS,
	CF_BASELINE,
	CF_POPULAR,
} cf_algo;

typedef struct cf_mf_params {
	cf_algo algo;
	int k;                  /* factors (rank) */
	int epochs;             /* SGD epochs / ALS iterations */
	double lr;              /* SGD initial learning rate */
	double lr_decay;        /* SGD: lr_t = lr / (1 + decay * t) */
	double reg;             /* L2 weight on factors */
	double reg_bias;        /* L2 weight on biases */
	double alpha;           /* iALS confidence slope */
	double init_scale;      /* factors start as N(0, init_scale^2 / k)... */
	uint64_t seed;
	int threads;            /* 0: all cores */
	int patience;           /* early stopping: epochs without improvement */
	int quiet;              /* no per-epoch progress on stderr */
	FILE *log;              /* per-epoch rows as CSV, or NULL */
} cf_mf_params;

/* Defaults for an algorithm (the values README documents). */
cf_mf_params cf_mf_defaults(cf_algo algo);
/* "sgd" -> CF_SGD ...; -1 if unknown. */
int cf_algo_parse(const char *name);
const char *cf_algo_name(cf_algo a);

/*
 * Trains on `train` (encoded, deduplicated) and returns the model (owned
 * by the caller).  `valid` (may be NULL; indexed by the same dictionaries)
 * is scored after every epoch for progress and early stopping.  `init`
 * (may be NULL) warm-starts: its factors for users and items it knows
 * (matched by raw id), fresh ones for the rest.  On divergence (NaN/Inf),
 * bad parameters or other failure, returns NULL with a one-line reason in
 * err.
 */
cf_model *cf_mf_train(const cf_ratings *train, const cf_ratings *valid,
                      const cf_mf_params *p, const cf_model *init,
                      char *err, size_t errlen);

/*
 * The same, consuming train's rating arrays to bound the peak memory
 * (mf-fit): they are turned into the training structures and then the
 * model's seen table rather than copied.  Whatever the outcome,
 * train->user, item, rating and ts are freed and set to NULL; n, the
 * dictionaries and the attributes stay (cf_ratings_free() frees them).
 */
cf_model *cf_mf_train_take(cf_ratings *train, const cf_ratings *valid,
                           const cf_mf_params *p, const cf_model *init,
                           char *err, size_t errlen);

/*
 * Solves for one user's bias and factors against the model's fixed item
 * factors (the ALS user step), from n ratings of items[] with values r[]:
 * fold-in of a new user, and ALS itself.  Writes k factors to p and the
 * bias to *b.  reg / reg_bias as in training.  For an ials model the
 * implicit solve is used (confidence 1 + alpha * r, alpha from the model's
 * attributes, no bias).  Returns 0, or -1 if the system is singular.
 */
int cf_mf_solve_user(const cf_model *m, const uint32_t *items, const float *r,
                     size_t n, double reg, double reg_bias, float *p, float *b);

#endif
