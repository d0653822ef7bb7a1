/*
 * blend - a blend model from several models, its weights fitted on
 * validation ratings cut from the training data (src/lib/blend.h).
 *
 * The weights are searched with the --fit models (the same algorithms
 * trained on the training data less the validation split) and written
 * with the MODELs (trained on all of it), so the validation ratings never
 * judge a model that saw them.  The blend is one model stream: mf-score,
 * topk, metrics, make and serve take it as any model.
 */
#include "blend.h"
#include "frame.h"
#include "model.h"
#include "ratings.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	const char *valid, *output;
	char *fit, *weights;
	double step;
	int quiet;
	char **models;
	int nmodels;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: blend (--valid FRAME [--fit M1,M2,...] [--step X] | --weights W1,W2,...)\n"
	    "             [-q] [-o BLEND] MODEL1 MODEL2 [MODEL3 [MODEL4]] > BLEND\n"
	    "Writes a blend of 2 to %d models (sharing their users and items: trained on\n"
	    "the same ratings): its score of (user, item) is sum_p w_p z_p, z_p model p's\n"
	    "score standardized over the items the user has not rated (mean 0, sd 1;\n"
	    "items a model does not rank, e.g. ease's outside --max-items, are not\n"
	    "candidates).  mf-score (every mode but --similar; --explain for blends of\n"
	    "ials, ease and rp3b), topk, metrics, make and serve (incl. POST\n"
	    "/recommendations) take it like any model; a pair's score costs a whole\n"
	    "row of every part.\n"
	    "\n"
	    "  --valid FRAME     fit the weights on these held-out ratings: every weight\n"
	    "                    vector w >= 0, sum 1, on a grid of --step, is scored by\n"
	    "                    the mean NDCG@10 of the validation users (every held-out\n"
	    "                    rating relevant, candidates the items not rated in\n"
	    "                    training), the best kept (ties: the first, part 1 alone\n"
	    "                    first).  FRAME must be cut from the training data, never\n"
	    "                    the test set\n"
	    "  --fit M1,M2,...   the models to fit the weights with, one per MODEL, in\n"
	    "                    order: the same algorithms trained without FRAME's\n"
	    "                    ratings (default: the MODELs themselves, which must then\n"
	    "                    not have seen FRAME)\n"
	    "  --step X          the grid's step (default 0.05; 1/X a whole number <= 100)\n"
	    "  --weights W,...   the weights as given, no fitting\n"
	    "  -q, --quiet       no report on stderr\n"
	    "  -o, --output FILE write the blend to FILE (atomically) instead of stdout\n"
	    "  -h, --help        this help;  -V, --version  the version\n"
	    "\n"
	    "Reports on stderr the weights and their validation NDCG@10 beside each\n"
	    "model's alone.  Exit 0, 1 on bad input (models that do not share users\n"
	    "and items, a blend as a part, a bad frame), 2 on a usage error.\n",
	    CF_BLEND_MAX_PARTS);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"valid", 1, 0, 'v'}, {"fit", 1, 0, 'f'}, {"step", 1, 0, 's'},
		{"weights", 1, 0, 'w'}, {"quiet", 0, 0, 'q'}, {"output", 1, 0, 'o'},
		CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	o->step = 0.05;
	while ((c = getopt_long(argc, argv, "qo:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'v': o->valid = optarg; break;
		case 'f': o->fit = optarg; break;
		case 's':
			if (cf_parse_double(optarg, &o->step) != 0)
				cf_usage_error(usage, "--step: '%s' is not a number", optarg);
			break;
		case 'w': o->weights = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'o': o->output = optarg; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->models = argv + optind;
	o->nmodels = argc - optind;
	if (o->nmodels < 2 || o->nmodels > CF_BLEND_MAX_PARTS)
		cf_usage_error(usage, "give 2 to %d models, not %d", CF_BLEND_MAX_PARTS, o->nmodels);
	if (!o->valid == !o->weights)
		cf_usage_error(usage, "give --valid (to fit the weights) or --weights, not %s",
		               o->valid ? "both" : "neither");
	if (o->fit && !o->valid)
		cf_usage_error(usage, "--fit needs --valid");
	if (o->valid && !cf_blend_step_ok(o->step))
		cf_usage_error(usage, "--step must be 1/N for a whole N from 1 to 100, not %g",
		               o->step);
}

/* Splits a comma list into exactly n fields (in place). */
static void
split_list(char *s, const char *flag, int n, char **out)
{
	int k = 0;

	for (char *t = strtok(s, ","); t; t = strtok(NULL, ","))
		if (k < n)
			out[k++] = t;
		else
			k++;
	if (k != n)
		cf_usage_error(usage, "%s: %d values for %d models", flag, k, n);
}

static cf_model *
read_model(const char *path)
{
	return cf_model_read(cf_reader_open_path(path), NULL, 0);       /* dies on a bad one */
}

/* The weights from the validation ratings (fit models read, used, freed). */
static void
fit_weights(const struct opts *o, double *w)
{
	char *fit[CF_BLEND_MAX_PARTS];
	cf_model *fm[CF_BLEND_MAX_PARTS];
	cf_ratings valid;
	size_t users;
	int np = o->nmodels;
	double one[CF_BLEND_MAX_PARTS];

	if (o->fit)
		split_list(o->fit, "--fit", np, fit);
	for (int p = 0; p < np; p++)
		fm[p] = read_model(o->fit ? fit[p] : o->models[p]);
	cf_reader *r = cf_reader_open_path(o->valid);
	cf_ratings_read_input(r, &valid);
	cf_reader_close(r);
	/* cf_model_blend checks the parts agree; the fit models are checked the same way. */
	char err[400];
	cf_model *probe = cf_model_blend(fm, (double[CF_BLEND_MAX_PARTS]){0}, np, err, sizeof err);
	if (!probe)
		cf_die("--fit: %s", err);
	double best = cf_blend_fit_models(probe->parts, np, &valid, o->step, w, one, &users);
	if (users == 0)
		cf_die("%s: no validation user is known to the models with a held-out item they "
		       "know", o->valid);
	if (!o->quiet) {
		char line[256] = "";
		for (int p = 0; p < np; p++)
			snprintf(line + strlen(line), sizeof line - strlen(line), ", %s alone %.4f",
			         probe->parts[p]->algo, one[p]);
		cf_warn("weights fitted on %zu validation users: validation NDCG@10 %.4f%s", users,
		        best, line);
	}
	cf_model_free(probe);
	cf_ratings_free(&valid);
}

int
main(int argc, char **argv)
{
	struct opts o = {0};
	double w[CF_BLEND_MAX_PARTS];
	cf_model *parts[CF_BLEND_MAX_PARTS];
	char err[400];

	cf_setprog(argv[0]);
	parse(argc, argv, &o);
	if (o.weights) {
		char *f[CF_BLEND_MAX_PARTS];
		split_list(o.weights, "--weights", o.nmodels, f);
		for (int p = 0; p < o.nmodels; p++)
			if (cf_parse_double(f[p], &w[p]) != 0)
				cf_usage_error(usage, "--weights: '%s' is not a number", f[p]);
	} else {
		fit_weights(&o, w);
	}
	for (int p = 0; p < o.nmodels; p++)
		parts[p] = read_model(o.models[p]);
	cf_model *m = cf_model_blend(parts, w, o.nmodels, err, sizeof err);
	if (!m)
		cf_die("%s", err);
	if (!o.quiet) {
		char line[256] = "";
		for (int p = 0; p < o.nmodels; p++)
			snprintf(line + strlen(line), sizeof line - strlen(line), "%s%s %.4g",
			         p ? ", " : "", m->parts[p]->algo, w[p]);
		cf_warn("blend: %s", line);
	}
	cf_outfile *out = o.output ? cf_outfile_open(o.output) : NULL;
	cf_writer *wr = cf_writer_new(out ? out->fp : stdout, o.output ? o.output : "stdout");
	cf_model_write(wr, m);
	cf_writer_finish(wr);
	if (out)
		cf_outfile_commit(out);
	cf_model_free(m);
	cf_close_stdout();
	return CF_EXIT_OK;
}
