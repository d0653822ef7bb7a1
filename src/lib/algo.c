/*
 * algo.c - the algorithms' table (algo.h) and the regularization weight.
 */
#include "algo.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/*
 * Defaults chosen by cross-validation on other seeds than the reported
 * split (README's table).  A penalty's weight: als scales its factor
 * penalty by sqrt(n) (between plain L2 and ALS-WR's n, better than either
 * on MovieLens); sgd's per-rating penalties add up to reg x n; biases keep
 * one penalty whatever n (sgd's per-step reg_bias / n adds up to it).
 */
static const cf_algo_info algos[CF_NALGOS] = {
	[CF_SGD] = {"sgd", CF_FORM_BIASED, 0, 1, CF_REGW_COUNT, CF_REGW_NONE,
	            64, 60, 0.02, 0.02, 0.1, 3, 0, 0, 0, 0},
	[CF_ALS] = {"als", CF_FORM_BIASED, 0, 1, CF_REGW_SQRT, CF_REGW_NONE,
	            64, 15, 0, 0, 1.2, 2, 0, 0, 0, 0},
	[CF_IALS] = {"ials", CF_FORM_DOT, 1, 0, CF_REGW_NONE, CF_REGW_NONE,
	             128, 10, 0, 0, 20, 0, 0.4, 0, 0, 0},
	[CF_BASELINE] = {"baseline", CF_FORM_BIASED, 0, 1, CF_REGW_NONE, CF_REGW_NONE,
	                 0, 10, 0, 0, 0, 3, 0, 0, 0, 0},
	[CF_POPULAR] = {"popular", CF_FORM_POP, 1, 0, CF_REGW_NONE, CF_REGW_NONE,
	                0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
	/* fm: epochs are the kept samples; reg and reg_bias are not trained
	 * with (the sampler draws its precisions) but say how mf-score folds
	 * a new user into the k x samples effective factors. */
	[CF_FM] = {"fm", CF_FORM_BIASED, 0, 1, CF_REGW_NONE, CF_REGW_NONE,
	           8, 100, 0, 0, 1, 3, 0, 20, 0, 0},
	/*
	 * ease: reg is EASE's lambda; rp3b: alpha the walk's exponent.  Chosen
	 * on the validation split cut from the seed-42 train set (README):
	 * ease lambda 700 with its time kernel (below; 200-300 without it),
	 * --keep 1000 0.002 below
	 * all weights at a ninth of the model; rp3b the best of a 3 x 6 x 3 grid.
	 */
	[CF_EASE] = {"ease", CF_FORM_ITEMNN, 1, 0, CF_REGW_NONE, CF_REGW_NONE,
	             0, 1, 0, 0, 700, 0, 0, 0, 0, 1000},
	[CF_RP3B] = {"rp3b", CF_FORM_ITEMNN, 1, 0, CF_REGW_NONE, CF_REGW_NONE,
	             0, 1, 0, 0, 0, 0, 0.5, 0, 0.5, 100},
};

/*
 * als and ials solve by 3 warm-started CG steps, at half the exact
 * solve's cost (README: Performance): als' test RMSE is the exact one's
 * to 1e-5 on ml-latest-small (seeds 1-3) and to 0.0002 on the 22.5M
 * bench after 4 iterations; ials' NDCG@10 on seeds 1-3 0.3704 against
 * 0.3703.  ials stays Hu-Koren-Volinsky's (alpha0 1, nu 0): Rendle et
 * al.'s form, cross-validated on the same seeds (bench/ials-cv.sh), peaks
 * at 0.3691 (alpha0 0.3, alpha 0, nu 0.75, reg 0.05).
 */
static const cf_lsq_defaults lsq[CF_NALGOS] = {
	[CF_ALS] = {CF_SOLVER_CG, 3, 1, 0},
	[CF_IALS] = {CF_SOLVER_CG, 3, 1, 0},
};

/*
 * ease's co-rating time kernel (train/ease.c): a 10-minute window, weight
 * 4, with lambda 700; chosen on the seeds 1-3 80/20 splits (NDCG@10 0.3944
 * against 0.3694 without the kernel at its best lambda, 300; README).
 */
void
cf_algo_time_defaults(cf_algo a, double *window, double *weight)
{
	*window = a == CF_EASE ? 600 : 0;
	*weight = a == CF_EASE ? 4 : 0;
}

const cf_lsq_defaults *
cf_algo_lsq(cf_algo a)
{
	return &lsq[(unsigned)a < CF_NALGOS ? a : CF_ALS];
}

const cf_algo_info *
cf_algo_get(cf_algo a)
{
	return (unsigned)a < CF_NALGOS ? &algos[a] : &algos[CF_ALS];
}

int
cf_algo_parse(const char *name)
{
	for (int a = 0; a < CF_NALGOS; a++)
		if (strcmp(name, algos[a].name) == 0)
			return a;
	return -1;
}

cf_algo
cf_algo_arg(const char *arg, void (*usage)(FILE *))
{
	int a = cf_algo_parse(arg);

	if (a < 0)
		cf_usage_error(usage, "--algo: unknown algorithm '%s' (%s)", arg, cf_algo_list());
	return (cf_algo)a;
}

const char *
cf_algo_name(cf_algo a)
{
	return (unsigned)a < CF_NALGOS ? algos[a].name : "?";
}

const char *
cf_algo_list(void)
{
	static char list[256];

	if (!list[0])
		for (int a = 0; a < CF_NALGOS; a++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof list - l, "%s%s", a ? ", " : "", algos[a].name);
		}
	return list;
}

static const char *const solver_names[] = {"exact", "cg"};

int
cf_solver_parse(const char *s)
{
	for (int a = 0; a < 2; a++)
		if (strcmp(s, solver_names[a]) == 0)
			return a;
	return -1;
}

const char *
cf_solver_name(cf_solver s)
{
	return (unsigned)s < 2 ? solver_names[s] : "exact";
}

double
cf_reg_weight(cf_regw w, size_t n)
{
	switch (w) {
	case CF_REGW_SQRT:
		return sqrt((double)n);
	case CF_REGW_COUNT:
		return (double)n;
	default:
		return 1;
	}
}

static const char *const regw_names[] = {"none", "sqrt", "count"};

int
cf_regw_parse(const char *s)
{
	for (int w = 0; w < 3; w++)
		if (strcmp(s, regw_names[w]) == 0)
			return w;
	return -1;
}

const char *
cf_regw_name(cf_regw w)
{
	return (unsigned)w < 3 ? regw_names[w] : "none";
}
