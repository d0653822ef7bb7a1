/*
 * search.h - hyper-parameter search, the part that is arithmetic: each
 * algorithm's search space (ranges, log or linear, integer or real), a
 * user's overrides of it, seeded sampling, and the plan and selection of
 * successive halving.  tune(1) runs the trials (GNU parallel); this module
 * decides what they are.
 *
 * Successive halving (Jamieson and Talwalkar 2016, the inner loop of
 * Hyperband): n configurations drawn at random run at a small epoch
 * budget; the best 1/eta go on at eta times the budget, and so on up to
 * the algorithm's full epoch count.  It is run synchronously, rung by
 * rung, so the search is the same for a seed whatever the parallelism
 * (ASHA promotes as results arrive, which depends on timing).
 */
#ifndef CF_SEARCH_H
#define CF_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "algo.h"
#include "rng.h"

typedef enum cf_pscale {
	CF_PS_LIN,              /* real, uniform on [lo, hi] */
	CF_PS_LOG,              /* real, log-uniform on [lo, hi] (lo > 0) */
	CF_PS_INT,              /* integer, uniform on [lo, hi] */
	CF_PS_LOGINT,           /* integer, log-uniform on [lo, hi], rounded */
	CF_PS_LOG2,             /* a power of two in [lo, hi] */
} cf_pscale;

#define CF_SPACE_MAX 16

typedef struct cf_param {
	char name[24];          /* mf-fit's flag without dashes, '_' for '-' */
	double lo, hi;
	cf_pscale scale;
} cf_param;

typedef struct cf_space {
	cf_param p[CF_SPACE_MAX];
	int n;
} cf_space;

/* The documented space of an algorithm; its n is 0 if it has nothing to tune. */
void cf_space_default(cf_algo a, cf_space *s);
/*
 * Adds or replaces parameters from "name=lo:hi:scale,..." (scale: lin,
 * log, int, logint, log2; a name mf-fit takes: k, lr, lr_decay, reg,
 * reg_bias, alpha, init_scale, alpha0, nu, beta), or removes one with "name=off", or fixes
 * one with "name=value".  0, or -1 with a message.
 */
int cf_space_parse(cf_space *s, const char *spec, char *err, size_t errlen);
/* "k=16:256:log2" for parameter i, for --help and the leaderboard header. */
void cf_param_describe(const cf_param *p, char *buf, size_t len);
/* x[i] for every parameter, drawn from r. */
void cf_space_sample(const cf_space *s, cf_rng *r, double *x);
/* The algorithm's default of each parameter, clamped into its range, into x. */
void cf_space_defaults(const cf_space *s, cf_algo a, double *x);
/* mf-fit's flags for x: "-k 64 --reg 0.1 ..." (%.6g reals). */
void cf_space_flags(const cf_space *s, const double *x, char *buf, size_t len);

/* ---- successive halving ---- */

#define CF_RUNGS_MAX 8

typedef struct cf_halving {
	int rungs;
	int epochs[CF_RUNGS_MAX];       /* budget of each rung */
	int n[CF_RUNGS_MAX];            /* configurations run at each rung */
} cf_halving;

/*
 * The rungs for `trials` configurations, reduction factor eta, from
 * min_epochs up to max_epochs: budgets max / eta^(R - r), at least
 * min_epochs, R as large as that allows (at most CF_RUNGS_MAX - 1);
 * n[r] = ceil(trials / eta^r).  One rung at max_epochs, every trial in
 * it (plain random search), when eta < 2 or min_epochs > max_epochs / 2.
 */
void cf_halving_plan(int trials, int eta, int min_epochs, int max_epochs, cf_halving *h);

/*
 * The `keep` best of n results (obj[j] of trial ids[j]; NAN: failed, never
 * kept), lower first when minimize, ties by lower id; their ids into out.
 * Returns how many (fewer if fewer succeeded).
 */
size_t cf_halving_select(const double *obj, const uint32_t *ids, size_t n, size_t keep,
                         int minimize, uint32_t *out);

#endif
