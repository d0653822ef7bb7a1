/*
 * algo.h - what each algorithm's models are, below both training and
 * scoring: its name, how its models score, how its penalties scale with
 * a row's ratings, its default hyper-parameters; and the typed
 * hyper-parameters of a model, parsed once from its attributes when the
 * model is read (model.c) and used everywhere else (scoring, fold-in,
 * explanations, fine-tuning), never re-parsed from strings.
 *
 * Adding an algorithm: a row in algo.c's table and a file in train/
 * (train/fit.h says how).
 */
#ifndef CF_ALGO_H
#define CF_ALGO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum cf_algo {
	CF_SGD,
	CF_ALS,
	CF_IALS,
	CF_BASELINE,
	CF_POPULAR,
	CF_FM,                  /* Bayesian factorization machine (train/fm.c) */
	CF_EASE,                /* item-neighbour models (CF_FORM_ITEMNN): */
	CF_RP3B,
	CF_NALGOS,
} cf_algo;

/* How a model scores (user, item). */
typedef enum cf_form {
	CF_FORM_BIASED,         /* mu + bu + bi + p.q: a predicted rating */
	CF_FORM_DOT,            /* p.q: a ranking score (ials) */
	CF_FORM_POP,            /* bi: the item's popularity */
	/*
	 * bi + sum over the user's history items j of w(j, i): item-neighbour
	 * weights (ease, rp3b), a sparse item x item table in the model; the
	 * history is the model's seen table, or a new person's given items.
	 */
	CF_FORM_ITEMNN,
	/* sum over parts p of w_p z_p(u, i), each part's scores z-scored per
	 * user (blend.h): a model of algo "blend", made by the blend program,
	 * not by training (so no row of the algorithms' table) */
	CF_FORM_BLEND,
} cf_form;

/*
 * How a penalty scales with the n ratings of the row being solved:
 * reg x 1, reg x sqrt(n), reg x n.  One rule (cf_reg_weight) for
 * training, fold-in, explanations and fine-tuning alike.
 */
typedef enum cf_regw {
	CF_REGW_NONE,
	CF_REGW_SQRT,
	CF_REGW_COUNT,
} cf_regw;

double cf_reg_weight(cf_regw w, size_t n);
/* "none", "sqrt", "count" <-> the enum; -1 if unknown. */
int cf_regw_parse(const char *s);
const char *cf_regw_name(cf_regw w);

/*
 * How als and ials solve each row's least squares: exactly (Cholesky of
 * the Gram matrix) or by a few warm-started conjugate-gradient steps.
 */
typedef enum cf_solver {
	CF_SOLVER_EXACT,
	CF_SOLVER_CG,
} cf_solver;

/* "exact", "cg" <-> the enum; -1 if unknown. */
int cf_solver_parse(const char *s);
const char *cf_solver_name(cf_solver s);

/* One algorithm: what its models mean and its defaults. */
typedef struct cf_algo_info {
	const char *name;
	cf_form form;
	int ranking;            /* a top-N model (NDCG@10), else ratings (RMSE) */
	int explicit_;          /* fits ratings (mu and biases), else preferences */
	cf_regw reg_weight, reg_bias_weight;
	/* defaults (README's table) */
	int k, epochs;
	double lr, lr_decay, reg, reg_bias, alpha;
	int burn_in;            /* fm: sweeps before the first kept sample */
	/* item-neighbour models: popularity penalty (rp3b), weights kept per item */
	double beta;
	int keep;
} cf_algo_info;

/*
 * The least-squares defaults of als and ials (a table of their own, so
 * that other algorithms' rows need not spell them out): the solver and
 * its CG steps; ials' weight of unrated pairs alpha0 and the exponent nu
 * of its frequency-scaled penalty (solve.h).  Zero for other algorithms.
 */
typedef struct cf_lsq_defaults {
	cf_solver solver;
	int cg_steps;
	double alpha0, nu;
} cf_lsq_defaults;

const cf_lsq_defaults *cf_algo_lsq(cf_algo a);
/* ease's co-rating time kernel: its window in seconds (0: off) and weight. */
void cf_algo_time_defaults(cf_algo a, double *window, double *weight);

/* The row of a (valid) algorithm. */
const cf_algo_info *cf_algo_get(cf_algo a);
/* "sgd" -> CF_SGD ...; -1 if unknown. */
int cf_algo_parse(const char *name);
const char *cf_algo_name(cf_algo a);
/* --algo's argument, or a usage error naming the algorithms (exit 2). */
cf_algo cf_algo_arg(const char *arg, void (*usage)(FILE *));
/* "als, sgd, ials, baseline, popular": every name, for messages. */
const char *cf_algo_list(void);

/*
 * A model's hyper-parameters, typed.  algo is -1 for a model of an
 * algorithm this build does not know (it scores as CF_FORM_BIASED).
 * Values a model does not carry are its algorithm's defaults.
 */
typedef struct cf_hparams {
	int algo;
	cf_form form;
	int k, epochs, epochs_run, best_epoch, patience;
	double lr, lr_decay, reg, reg_bias, alpha, init_scale;
	double alpha0, nu;      /* ials (solve.h); a model without them: 1, 0 */
	uint64_t seed;
	cf_regw reg_weight, reg_bias_weight;
	int warm_start;
	int burn_in, fm_k;      /* fm: burn-in sweeps, k of one sample (k = fm_k x samples) */
	double beta;            /* rp3b */
	int keep, max_items;    /* item-neighbour models */
} cf_hparams;

#endif
