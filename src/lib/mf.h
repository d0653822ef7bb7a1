/*
 * mf.h - training: the numerical core behind mf-fit (and the server's
 * /train), in LIBMF's shape: a default-parameters function, a parameter
 * struct passed by value, a train call that returns a model.
 *
 * The code: src/lib/train/ (train/fit.h says how it is laid out).
 *
 * Algorithms (all fit the model of model.h; algo.h has their table):
 *   sgd       biased MF by stochastic gradient descent, multi-threaded
 *   als       the same model by alternating least squares (Cholesky per
 *             user/item via LAPACK), separate L2 for factors and biases
 *   ials      implicit-feedback ALS (Hu, Koren, Volinsky 2008), confidence
 *             1 + alpha * r, with the shared Gram matrix trick
 *   baseline  mu + regularized user and item biases (k = 0)
 *   popular   item popularity (k = 0; the score is in bi)
 *   ease      EASE (Steck 2019): item-item weights in closed form by a
 *             Cholesky inverse of X'X + reg I (LAPACK), top `keep` per item
 *   rp3b      RP3beta: the 3-step walk user -> item -> user -> item, its
 *             probabilities raised to alpha, over pop(i)^beta, top `keep`
 *
 * Threads: one setting for the whole program (params.threads); OpenBLAS
 * is kept single-threaded inside our own parallel loops.
 */
#ifndef CF_MF_H
#define CF_MF_H

#include <stdint.h>
#include <stdio.h>

#include "algo.h"
#include "model.h"
#include "ratings.h"

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
	/* item-neighbour models (ease, rp3b) */
	double beta;            /* rp3b: popularity penalty pop(i)^-beta */
	int keep;               /* weights kept per item (the largest) */
	int max_items;          /* ease: the catalogue (most popular); 0: all, up to a limit */
	double time_window;     /* ease: seconds of the co-rating time kernel; 0: off */
	double time_weight;     /* ease: the kernel's weight beside the plain counts */
	double alpha0;          /* iALS weight of unrated pairs (1: Hu et al.) */
	double nu;              /* iALS penalty x (n + alpha0 x others)^nu */
	cf_solver solver;       /* als, ials: exact or conjugate gradient */
	int cg_steps;           /* CG steps per row and half-step */
	uint64_t seed;
	int threads;            /* 0: all cores */
	int patience;           /* early stopping: epochs without improvement */
	int quiet;              /* no per-epoch progress on stderr */
	FILE *log;              /* per-epoch rows as CSV, or NULL */
	/* fm (train/fm.c): epochs are the kept samples, after burn_in sweeps */
	int burn_in;
	unsigned fm_groups;     /* CF_FM_* feature groups */
	unsigned fm_groups_set; /* the groups asked for explicitly (not defaults) */
	const struct cf_meta *items_meta;       /* --items: genres and years, or NULL */
	const struct cf_ufeat *users_feat;      /* --users: user side features, or NULL */
	struct cf_fm_probe *fm_probe;           /* tests only (below), else NULL */
} cf_mf_params;

/*
 * For the tests of the sampler (tests/unit/test_fm.c): after the last
 * sweep, fm hands out its state and draws one coordinate (group's
 * feature, factor coord or -1 for its bias) ndraws times from its
 * conditional, each from that same state.  The arrays are malloc'd here
 * (cf_fm_probe_free).  Groups appear in the order user, implicit, item,
 * raters, genres, year, profile, time, userday (those trained); genres are numbered
 * in order of first appearance over the items, years as (year / 5 - the lowest),
 * time bins in order, user-days by (user, day).
 */
typedef struct cf_fm_probe {
	const char *group;
	uint32_t feature;
	int coord, ndraws;
	/* out */
	double *draws, w0, alpha, prior_mean, prior_prec;
	int ngroups;
	const char *names[9];
	uint32_t nf[9];
	double *w[9], *V[9];    /* nf, nf x k */
} cf_fm_probe;
void cf_fm_probe_free(cf_fm_probe *p);

/* fm's feature groups (each switchable: mf-fit --groups). */
enum {
	CF_FM_USER = 1, CF_FM_ITEM = 2, CF_FM_IMPLICIT = 4, CF_FM_RATERS = 8,
	CF_FM_GENRES = 16, CF_FM_YEAR = 32, CF_FM_PROFILE = 64, CF_FM_TIME = 128,
	CF_FM_USERDAY = 256, CF_FM_ALL = 511,
	/* the default: every group but the time ones (asked for by name) */
	CF_FM_DEFAULT = CF_FM_ALL & ~(CF_FM_TIME | CF_FM_USERDAY),
};
/* "user,item,implicit,raters,genres,year" (any subset) -> mask; -1 if bad. */
int cf_fm_groups_parse(const char *s, unsigned *mask);
/* The mask as that list (genres and year only with_meta, profile only
 * with_users). */
void cf_fm_groups_format(unsigned mask, int with_meta, int with_users, char *b, size_t len);
/* ease: the largest catalogue fitted without --max-items (X'X: 1.6 GB). */
#define CF_EASE_MAX_ITEMS 20000

/* Defaults for an algorithm (the values README documents: algo.c). */
cf_mf_params cf_mf_defaults(cf_algo algo);
/*
 * A model's own algorithm and hyper-parameters as training parameters:
 * what fine-tuning it (init) starts from.  -1 if the model's algorithm
 * is not one this build trains.
 */
int cf_mf_params_of(const cf_model *m, cf_mf_params *p);

/*
 * The checks training makes of p (ranges, finite values, what the
 * algorithm needs), made alone: 0, or -1 with a one-line reason in err
 * ("--reg must be a finite number >= 0, not -1").  For mf-fit, to refuse
 * a bad flag value as a usage error before any input is read.
 */
int cf_mf_params_check(const cf_mf_params *p, char *err, size_t errlen);

/*
 * Trains on `train` (encoded, deduplicated) and returns the model (owned
 * by the caller).  `valid` (may be NULL; indexed by the same dictionaries)
 * is scored after every epoch for progress and early stopping.
 *
 * `init` (may be NULL) fine-tunes that model instead: the training data
 * is its seen ratings with train's added (a new rating of a known pair
 * replaces the old one); the users and items that train rates are
 * re-fitted, each against its whole history, for p->epochs sweeps; every
 * other user and item keeps its parameters bit for bit, and mu stays.
 * Ids are matched by raw id; init's keep their indices, new ones follow.
 * p->algo and p->k must be init's.  On divergence (NaN/Inf),
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

#endif
