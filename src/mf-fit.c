/*
 * mf-fit - trains a recommender model from a ratings frame.
 *
 * Reads a `ratings` table (raw ids from csv2bin or encoded from
 * encode-ids/split) on stdin or from FILE, resolves duplicate
 * (user, item) pairs (the latest by timestamp wins, else the last row),
 * trains with the chosen algorithm (src/lib/train/) and writes the model
 * stream (src/lib/model.h) on stdout or, atomically, to -o FILE.
 */
#include "dist.h"
#include "dups.h"
#include "meta.h"
#include "frame.h"
#include "mf.h"
#include "model.h"
#include "progress.h"
#include "ratings.h"
#include "ufeat.h"
#include "util.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct opts {
	cf_algo algo;
	const char *input, *output, *valid, *init, *log, *items, *groups, *users, *ucols;
	const char *dist_init, *dist_model;     /* distributed ALS: pipelines/dist.mk */
	long long shards;       /* --dist-init's; 0: not given */
	int quiet;
	/* flags given on the command line (override the algorithm's defaults) */
	int set_algo, set_k, set_epochs, set_lr, set_decay, set_reg, set_regb, set_alpha, set_scale;
	int set_seed, set_threads, set_patience, set_burn;
	/* als, ials: --solver, --cg-steps; ials: --alpha0, --nu */
	int set_solver, set_cg, set_alpha0, set_nu;
	long long k, epochs, seed, threads, patience, burn, cg_steps;
	double lr, decay, reg, regb, alpha, scale, alpha0, nu;
	cf_solver solver;
	/* item-neighbour models (ease, rp3b) */
	int set_beta, set_keep, set_max_items, set_twin, set_twt;
	double beta, twin, twt;
	long long keep, max_items;
};

static void
usage(FILE *fp)
{
	cf_mf_params s = cf_mf_defaults(CF_SGD), a = cf_mf_defaults(CF_ALS);
	cf_mf_params i = cf_mf_defaults(CF_IALS), b = cf_mf_defaults(CF_BASELINE);
	cf_mf_params f = cf_mf_defaults(CF_FM);
	cf_mf_params e = cf_mf_defaults(CF_EASE), r = cf_mf_defaults(CF_RP3B);

	fprintf(fp,
	    "usage: mf-fit [--algo A] [-k K] [--epochs N] [--lr X] [--lr-decay X] [--reg X]\n"
	    "              [--reg-bias X] [--alpha X] [--alpha0 X] [--nu X] [--init-scale X]\n"
	    "              [--solver exact|cg] [--cg-steps N] [--seed N] [--threads N]\n"
	    "              [--valid FRAME] [--patience N] [--init MODEL] [--log FILE] [-q]\n"
	    "              [--samples N] [--burn-in N] [--groups LIST] [--items FRAME]\n"
	    "              [--beta X] [--keep M] [--max-items N]\n"
	    "              [--users FRAME [--user-columns LIST]] [-o MODEL] [FILE] > MODEL\n"
	    "       mf-fit [training flags] --dist-init DIR [--shards N] [FILE]\n"
	    "       mf-fit [training flags] --dist-model DIR [-o MODEL] [FILE] > MODEL\n"
	    "Trains a model on the 'ratings' table of stdin (or FILE; raw ids from csv2bin\n"
	    "or encoded ones from encode-ids/split) and writes the model stream on stdout.\n"
	    "Duplicate (user, item) pairs are resolved first: the latest by timestamp\n"
	    "wins, else the last row; their number is reported on stderr.  The input\n"
	    "(and --valid's FRAME) is one ratings stream: a ratings table (encoded:\n"
	    "followed by its users and items tables) and nothing more; another table\n"
	    "or bytes after it are an error naming their byte offset.  --init's MODEL\n"
	    "ends after its 'seen' table, and its numbers must be finite.\n"
	    "\n"
	    "  -a, --algo A         the algorithm (default als):\n"
	    "       als       biased MF  r ~ mu + bu + bi + p.q  by alternating least\n"
	    "                 squares; factor penalty reg * sqrt(n) (n: the row's\n"
	    "                 ratings), bias penalty reg-bias.\n"
	    "                 defaults: -k %d --epochs %d --reg %g --reg-bias %g\n"
	    "                 --solver %s --cg-steps %d\n"
	    "       sgd       the same model by parallel SGD (DSGD strata of a 16 x 16\n"
	    "                 grid of blocks); lr_t = lr / (1 + lr-decay * t); penalties\n"
	    "                 per rating (reg * n on a row of n); ends with one exact\n"
	    "                 least-squares solve of every user against the items.\n"
	    "                 defaults: -k %d --epochs %d --lr %g --lr-decay %g --reg %g\n"
	    "                 --reg-bias %g\n"
	    "       ials      implicit ALS for top-N: preference 1 with confidence\n"
	    "                 1 + alpha * rating for rated items, 0 with weight alpha0 for\n"
	    "                 the others; factor penalty reg * (n + alpha0 * m)^nu (n:\n"
	    "                 the row's ratings, m: the other side's rows).  alpha0 1,\n"
	    "                 nu 0: Hu, Koren, Volinsky (2008); a small alpha0, alpha 0\n"
	    "                 and nu 1: Rendle et al. (2021).  No biases.\n"
	    "                 defaults: -k %d --epochs %d --reg %g --alpha %g --alpha0 %g\n"
	    "                 --nu %g --init-scale %g --solver %s --cg-steps %d\n"
	    "       baseline  mu + user and item biases, penalty reg-bias (k = 0).\n"
	    "                 defaults: --epochs %d --reg-bias %g\n"
	    "       popular   item popularity (ratings per item) as the score (k = 0)\n"
	    "       fm        Bayesian factorization machine by Gibbs sampling (libFM's\n"
	    "                 MCMC; Normal-Gamma hyperpriors per feature group, so no\n"
	    "                 lr or reg to set); the prediction is the mean over the\n"
	    "                 --samples kept after --burn-in sweeps, stored exactly as\n"
	    "                 mu + bu + bi + p.q with k x samples (<= 4096) factors.\n"
	    "                 Feature groups (--groups): user, item (one-hot),\n"
	    "                 implicit (the user's rated items, 1/sqrt n), raters (the\n"
	    "                 item's users, 1/sqrt n), genres, year (from --items);\n"
	    "                 time (the rating's day in one of 30 bins of equal counts\n"
	    "                 over training's span) and userday (the rating's (user,\n"
	    "                 day), timeSVD++'s b_u,t), from the timestamps (UTC days),\n"
	    "                 named to be used: kept in the model's time_features, they\n"
	    "                 score mf-score --pairs rows (and --valid) at their own\n"
	    "                 time; a (user, day) training lacks adds no userday term;\n"
	    "                 a mode without a timestamp (--user, --all, serve) gets\n"
	    "                 no time term.  userday stores a k x samples vector per\n"
	    "                 (user, day) of training and keeps a context row per\n"
	    "                 rating while sampling (about 100 + 16 k bytes each).\n"
	    "                 --reg and --reg-bias only say how mf-score --fold-in\n"
	    "                 solves a new user.  --init retrains anew on the model's\n"
	    "                 ratings with the new ones merged in; no --patience.\n"
	    "                 defaults: -k %d --samples %d --burn-in %d\n"
	    "                 --init-scale %g (the factors' start sd, not / sqrt k)\n"
	    "       ease      EASE (Steck 2019) for top-N: item x item weights\n"
	    "                 B = I - P diag(1/P_jj), P = (X'X + reg I)^-1 over the binary\n"
	    "                 ratings X, by Cholesky (LAPACK, single precision); a user's\n"
	    "                 score of i is the sum of B[j][i] over their items j.  Memory:\n"
	    "                 4 x items^2 bytes (10000 items: 0.4 GB, 20000: 1.6 GB) plus\n"
	    "                 8 x items x keep; more than %d rated items are refused\n"
	    "                 unless --max-items N keeps the N most popular (the others\n"
	    "                 are ranked last).  defaults: --reg %g --keep %d\n"
	    "       rp3b      RP3beta for top-N: the walk user -> item -> user -> item,\n"
	    "                 each step's probability raised to alpha, divided by the\n"
	    "                 target's popularity^beta; time: the sum over users of their\n"
	    "                 ratings squared; memory: a row of items per thread.\n"
	    "                 defaults: --alpha %g --beta %g --keep %d\n"
	    "                 Both keep the --keep largest weights per item, need no\n"
	    "                 epochs and are never fine-tuned (--init): a new person is\n"
	    "                 scored exactly from their history (mf-score --fold-in).\n"
	    "                 Every algorithm gives byte-identical models for a seed at\n"
	    "                 any thread count.\n"
	    "  -k, --factors K      rank (1 to 4096 for als, sgd, ials)\n"
	    "  -e, --epochs N       SGD epochs / ALS iterations (>= 1)\n"
	    "      --lr X           SGD initial learning rate\n"
	    "      --lr-decay X     SGD learning-rate decay\n"
	    "  -r, --reg X          L2 penalty on factors\n"
	    "      --reg-bias X     L2 penalty on biases\n"
	    "      --alpha X        iALS confidence slope\n"
	    "      --alpha0 X       iALS weight of unrated pairs, 0 to 1\n"
	    "      --nu X           iALS penalty exponent (frequency-scaled regularization)\n"
	    "      --solver S       als, ials: exact (Cholesky of each row's Gram matrix,\n"
	    "                       k^2 flops per rating) or cg (--cg-steps conjugate-\n"
	    "                       gradient steps per row, warm-started from the last\n"
	    "                       iteration's factors, ~4k flops per rating and step,\n"
	    "                       the other side's factors read in half precision).\n"
	    "                       Fine-tuning (--init) always solves exactly\n"
	    "      --cg-steps N     CG steps per row and half-step (1 to 1000)\n"
	    "      --beta X         rp3b: popularity penalty exponent\n"
	    "      --keep M         ease, rp3b: weights kept per item (the largest |w|)\n"
	    "      --max-items N    ease: fit the N most popular items only (0: all, up to\n"
	    "                       the limit above)\n"
	    "      --time-window T  ease: the co-rating time kernel's window in seconds: a\n"
	    "                       user who rated i and j adds 1 + W exp(-|t_i - t_j| / T)\n"
	    "                       to X'X[i][j] instead of 1 (0: off; needs timestamps)\n"
	    "      --time-weight W  ease: the kernel's weight (0: off)\n"
	    "                       (defaults: --time-window %g --time-weight %g)\n"
	    "      --init-scale X   factors start as N(0, (X / sqrt(k))^2) (default %g)\n"
	    "  -s, --seed N         seed (default %llu)\n"
	    "  -t, --threads N      threads (default 0: all cores)\n"
	    "      --valid FRAME    validation ratings, ids matched to training by raw id:\n"
	    "                       RMSE after every epoch (als, sgd, baseline; unknown\n"
	    "                       users/items predicted by biases and mu), or NDCG@10 and\n"
	    "                       recall@10 over items not rated in training (ials,\n"
	    "                       popular).  The final summary line gives the last (or\n"
	    "                       best, with --patience) value: a test-set figure when\n"
	    "                       FRAME is the test set.\n"
	    "      --patience N     with --valid: stop after N epochs without improvement\n"
	    "                       and keep the best epoch's model (default 0: never stop)\n"
	    "      --init MODEL     fine-tune MODEL with the input's ratings: it trains on\n"
	    "                       MODEL's ratings with the new ones added (a new rating\n"
	    "                       of a known pair replaces the old), re-fitting only the\n"
	    "                       users and items the new ratings touch, each against its\n"
	    "                       whole history, for --epochs sweeps (exact least squares;\n"
	    "                       sgd: its own steps, then the exact user step); every\n"
	    "                       other user and item keeps its parameters\n"
	    "                       bit for bit.  The algorithm, -k and hyper-parameters are\n"
	    "                       MODEL's unless given (-k and --algo must match)\n"
	    "      --samples N      fm: kept samples (an alias of --epochs)\n"
	    "      --burn-in N      fm: sweeps before the first kept sample (default %d)\n"
	    "      --groups LIST    fm: comma-separated feature groups (default\n"
	    "                       user,item,implicit,raters,genres,year,profile;\n"
	    "                       genres and year only with --items, profile only\n"
	    "                       with --users; time and userday, which need the\n"
	    "                       ratings' timestamps, only when named)\n"
	    "      --items FRAME    fm: movies.csv or csv2bin's 'movies' frame of it: each\n"
	    "                       item's genres and year (items it lacks have none)\n"
	    "      --users FRAME    fm: a frame (csv2bin of e.g. users.csv) with a user column\n"
	    "                       (userId, user or id) listing every training user: its\n"
	    "                       other columns are the user's profile group, a str\n"
	    "                       column's value, an integer column's value (at most %d\n"
	    "                       distinct) or decile, a float column's decile, each a\n"
	    "                       feature (\"\" and NaN: none)\n"
	    "      --user-columns LIST  fm: the --users columns to use (default all)\n"
	    "  -l, --log FILE       per-epoch rows as CSV (epoch,train_*,valid_*,seconds)\n"
	    "  -q, --quiet          no progress or summary on stderr\n"
	    "  -o, --output FILE    write the model to FILE (atomically) instead of stdout\n"
	    "      --dist-init DIR  als, ials: no training: the start of a distributed run\n"
	    "                       in DIR (which exists): the state, each of --shards N\n"
	    "                       (default 2) shards' ratings and the start factors;\n"
	    "                       mf-step then solves the shards, anywhere (make\n"
	    "                       train-dist, pipelines/dist.mk, docs/scaling.md)\n"
	    "      --dist-model DIR the model of DIR's run after --epochs, given the same\n"
	    "                       ratings and training flags as --dist-init: byte for\n"
	    "                       byte the model mf-fit trains on one machine.  Neither\n"
	    "                       takes --valid, --patience or --init\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Progress on stderr: one row per epoch (epoch, train RMSE or iALS loss per\n"
	    "rating, validation figure, seconds), then a summary line; on a terminal,\n"
	    "one line rewritten in place instead (epoch 3/15  4.9 s/epoch  ETA 59 s\n"
	    "valid rmse 0.8712), and how far reading and writing files are.  Exit status 0 on\n"
	    "success, 1 on bad input or a failed run (wrong table, no ratings, a diverging\n"
	    "run, -k or --algo not --init's), 2 on a usage error, found before any input\n"
	    "is read (an unknown flag; a value that is no number or out of range: k = 0,\n"
	    "negative or NaN values).\n",
	    a.k, a.epochs, a.reg, a.reg_bias, cf_solver_name(a.solver), a.cg_steps, s.k, s.epochs,
	    s.lr, s.lr_decay, s.reg, s.reg_bias, i.k, i.epochs, i.reg, i.alpha, i.alpha0, i.nu,
	    i.init_scale, cf_solver_name(i.solver), i.cg_steps, b.epochs, b.reg_bias, f.k, f.epochs,
	    f.burn_in, f.init_scale, CF_EASE_MAX_ITEMS, e.reg, e.keep, r.alpha, r.beta, r.keep,
	    e.time_window, e.time_weight, s.init_scale, (unsigned long long)s.seed, f.burn_in, CF_UFEAT_MAX_LEVELS);
}

static double
num(const char *flag, const char *v)
{
	double x;
	char *end;

	if (cf_parse_double(v, &x) == 0)
		return x;
	/* "nan", "inf": numbers, but bad values, refused later with exit 1. */
	x = strtod(v, &end);
	if (*v && !*end && (isnan(x) || isinf(x)))
		return x;
	cf_usage_error(usage, "%s: '%s' is not a number", flag, v);
}

static long long
integer(const char *flag, const char *v)
{
	long long x;

	if (cf_parse_i64(v, &x) != 0)
		cf_usage_error(usage, "%s: '%s' is not an integer", flag, v);
	return x;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_LR = 256, O_DECAY, O_REGB, O_ALPHA, O_SCALE, O_VALID, O_PAT, O_INIT, O_BURN,
	       O_GROUPS, O_ITEMS, O_BETA, O_KEEP, O_MAXI, O_TWIN, O_TWT, O_ALPHA0, O_NU, O_SOLVER, O_CG, O_USERS,
	       O_UCOLS, O_DINIT, O_DMODEL, O_SHARDS };
	static const struct option lo[] = {
		{"algo", 1, 0, 'a'}, {"factors", 1, 0, 'k'}, {"epochs", 1, 0, 'e'},
		{"lr", 1, 0, O_LR}, {"lr-decay", 1, 0, O_DECAY}, {"reg", 1, 0, 'r'},
		{"reg-bias", 1, 0, O_REGB}, {"alpha", 1, 0, O_ALPHA},
		{"init-scale", 1, 0, O_SCALE}, {"seed", 1, 0, 's'}, {"threads", 1, 0, 't'},
		{"valid", 1, 0, O_VALID}, {"patience", 1, 0, O_PAT}, {"init", 1, 0, O_INIT},
		{"samples", 1, 0, 'e'}, {"burn-in", 1, 0, O_BURN}, {"groups", 1, 0, O_GROUPS},
		{"items", 1, 0, O_ITEMS}, {"users", 1, 0, O_USERS}, {"user-columns", 1, 0, O_UCOLS},
		{"log", 1, 0, 'l'}, {"quiet", 0, 0, 'q'}, {"output", 1, 0, 'o'},
		{"beta", 1, 0, O_BETA}, {"keep", 1, 0, O_KEEP}, {"max-items", 1, 0, O_MAXI},
		{"time-window", 1, 0, O_TWIN}, {"time-weight", 1, 0, O_TWT},
		{"alpha0", 1, 0, O_ALPHA0}, {"nu", 1, 0, O_NU}, {"solver", 1, 0, O_SOLVER},
		{"cg-steps", 1, 0, O_CG}, {"dist-init", 1, 0, O_DINIT},
		{"dist-model", 1, 0, O_DMODEL}, {"shards", 1, 0, O_SHARDS},
		CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	int c;

	o->algo = CF_ALS;
	while ((c = getopt_long(argc, argv, "a:k:e:r:s:t:l:qo:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->algo = cf_algo_arg(optarg, usage);
			o->set_algo = 1;
			break;
		case 'k': o->k = integer("-k", optarg); o->set_k = 1; break;
		case 'e': o->epochs = integer("--epochs", optarg); o->set_epochs = 1; break;
		case O_LR: o->lr = num("--lr", optarg); o->set_lr = 1; break;
		case O_DECAY: o->decay = num("--lr-decay", optarg); o->set_decay = 1; break;
		case 'r': o->reg = num("--reg", optarg); o->set_reg = 1; break;
		case O_REGB: o->regb = num("--reg-bias", optarg); o->set_regb = 1; break;
		case O_ALPHA: o->alpha = num("--alpha", optarg); o->set_alpha = 1; break;
		case O_SCALE: o->scale = num("--init-scale", optarg); o->set_scale = 1; break;
		case O_ALPHA0: o->alpha0 = num("--alpha0", optarg); o->set_alpha0 = 1; break;
		case O_NU: o->nu = num("--nu", optarg); o->set_nu = 1; break;
		case O_CG: o->cg_steps = integer("--cg-steps", optarg); o->set_cg = 1; break;
		case O_SOLVER: {
			int sv = cf_solver_parse(optarg);
			if (sv < 0)
				cf_usage_error(usage, "--solver: '%s' is not exact or cg", optarg);
			o->solver = (cf_solver)sv;
			o->set_solver = 1;
			break;
		}
		case 's': o->seed = integer("--seed", optarg); o->set_seed = 1; break;
		case 't': o->threads = integer("--threads", optarg); o->set_threads = 1; break;
		case O_PAT: o->patience = integer("--patience", optarg); o->set_patience = 1; break;
		case O_BURN: o->burn = integer("--burn-in", optarg); o->set_burn = 1; break;
		case O_GROUPS: o->groups = optarg; break;
		case O_ITEMS: o->items = optarg; break;
		case O_USERS: o->users = optarg; break;
		case O_UCOLS: o->ucols = optarg; break;
		case O_VALID: o->valid = optarg; break;
		case O_DINIT: o->dist_init = optarg; break;
		case O_DMODEL: o->dist_model = optarg; break;
		case O_SHARDS: o->shards = integer("--shards", optarg); break;
		case O_INIT: o->init = optarg; break;
		case O_BETA: o->beta = num("--beta", optarg); o->set_beta = 1; break;
		case O_KEEP: o->keep = integer("--keep", optarg); o->set_keep = 1; break;
		case O_MAXI: o->max_items = integer("--max-items", optarg); o->set_max_items = 1; break;
		case O_TWIN: o->twin = num("--time-window", optarg); o->set_twin = 1; break;
		case O_TWT: o->twt = num("--time-weight", optarg); o->set_twt = 1; break;
		case 'l': o->log = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'o': o->output = optarg; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->input = cf_one_operand(argc, argv, usage);
	if (o->dist_init && o->dist_model)
		cf_usage_error(usage, "give --dist-init or --dist-model, not both");
	if ((o->dist_init || o->dist_model) && (o->valid || o->init || o->set_patience))
		cf_usage_error(usage, "--dist-init and --dist-model take no --valid, --init or "
		               "--patience");
	if (o->shards && !o->dist_init)
		cf_usage_error(usage, "--shards is for --dist-init");
}

/* Range checks the library cannot make on an int (bad values: usage errors). */
static int
clamp_int(const char *flag, long long v, long long lo, long long hi)
{
	if (v < lo || v > hi)
		cf_usage_error(usage, "%s must be between %lld and %lld, not %lld", flag, lo, hi, v);
	return (int)v;
}

static void
read_ratings(const char *path, cf_ratings *rs)
{
	cf_reader *r = path ? cf_reader_open_path(path) : cf_reader_open(0, "stdin");

	cf_ratings_read_input(r, rs);
	cf_reader_close(r);
}

int
main(int argc, char **argv)
{
	struct opts o;
	cf_ratings train, valid;
	cf_model *init = NULL, *m;
	cf_outfile *logf = NULL, *out = NULL;
	char err[512];

	cf_setprog(argv[0]);
	memset(&o, 0, sizeof o);
	parse(argc, argv, &o);
	if (o.quiet)
		cf_progress_quiet();    /* reading and writing say nothing either */

	cf_mf_params p = cf_mf_defaults(o.algo);
	if (o.init) {
		/* Fine-tuning starts from the model's own algorithm and settings. */
		cf_reader *ir = cf_reader_open_path(o.init);
		init = cf_model_read(ir, NULL, 0);      /* dies on a bad model */
		if (cf_mf_params_of(init, &p) < 0)
			cf_die("%s: a '%s' model cannot be fine-tuned", o.init, init->algo);
		if (o.set_algo && o.algo != p.algo)
			cf_die("--init: %s is a %s model; fine-tuning keeps its algorithm, not %s",
			       o.init, init->algo, cf_algo_name(o.algo));
	}
	if (o.set_k)
		p.k = clamp_int("-k", o.k, 0, 4096);
	if (o.set_epochs)
		p.epochs = clamp_int("--epochs", o.epochs, 1, 1000000);
	if (o.set_lr)
		p.lr = o.lr;
	if (o.set_decay)
		p.lr_decay = o.decay;
	if (o.set_reg)
		p.reg = o.reg;
	if (o.set_regb)
		p.reg_bias = o.regb;
	if (o.set_alpha)
		p.alpha = o.alpha;
	if (o.set_scale)
		p.init_scale = o.scale;
	if (o.set_beta)
		p.beta = o.beta;
	if (o.set_keep)
		p.keep = clamp_int("--keep", o.keep, 1, 1000000);
	if (o.set_max_items)
		p.max_items = clamp_int("--max-items", o.max_items, 0, 100000);
	if (o.set_twin)
		p.time_window = o.twin;
	if (o.set_twt)
		p.time_weight = o.twt;
	/* The solver is als's and ials's, alpha0 and nu ials's alone. */
	if ((o.set_solver || o.set_cg) && p.algo != CF_ALS && p.algo != CF_IALS)
		cf_usage_error(usage, "--solver and --cg-steps are for als and ials, not %s", cf_algo_name(p.algo));
	if ((o.set_alpha0 || o.set_nu) && p.algo != CF_IALS)
		cf_usage_error(usage, "--alpha0 and --nu are for ials, not %s", cf_algo_name(p.algo));
	if (o.set_solver)
		p.solver = o.solver;
	if (o.set_cg)
		p.cg_steps = clamp_int("--cg-steps", o.cg_steps, 1, 1000);
	if (o.set_alpha0)
		p.alpha0 = o.alpha0;
	if (o.set_nu)
		p.nu = o.nu;
	if (o.set_seed) {
		if (o.seed < 0)
			cf_usage_error(usage, "--seed must be >= 0, not %lld", o.seed);
		p.seed = (uint64_t)o.seed;
	}
	if (o.set_threads)
		p.threads = clamp_int("--threads", o.threads, 0, 1024);
	if (o.set_patience)
		p.patience = clamp_int("--patience", o.patience, 0, 1000000);
	if (o.patience && !o.valid)
		cf_usage_error(usage, "--patience needs --valid");
	if (o.set_burn)
		p.burn_in = clamp_int("--burn-in", o.burn, 0, 1000000);
	if (o.groups) {
		if (cf_fm_groups_parse(o.groups, &p.fm_groups) < 0)
			cf_usage_error(usage, "--groups: '%s' is not a list of user, item, implicit, "
			               "raters, genres, year, profile, time, userday", o.groups);
		p.fm_groups_set = p.fm_groups;
	}
	if ((o.groups || o.set_burn || o.items || o.users) && p.algo != CF_FM)
		cf_usage_error(usage, "--groups, --burn-in, --items and --users apply to --algo fm only");
	if (o.ucols && !o.users)
		cf_usage_error(usage, "--user-columns needs --users");
	cf_meta *meta = NULL;
	if (o.items) {
		meta = cf_meta_new();
		cf_meta_load_movies(meta, o.items);     /* dies naming the file and line */
		p.items_meta = meta;
	}
	cf_ufeat *uf = NULL;
	if (o.users) {
		if (!(uf = cf_ufeat_load(o.users, o.ucols, err, sizeof err)))
			cf_die("%s", err);
		p.users_feat = uf;
	}
	p.quiet = o.quiet;
	/* Bad values are refused now, not after reading (and training on) the input. */
	if (cf_mf_params_check(&p, err, sizeof err) < 0) {
		if (o.init)
			cf_die("%s (with --init %s's settings)", err, o.init);
		cf_usage_error(usage, "%s", err);
	}
	if (!o.output)
		cf_stdout_frames();

	read_ratings(o.input, &train);
	if (train.n == 0)
		cf_die("%s: the 'ratings' table is empty: nothing to train on",
		       o.input ? o.input : "stdin");
	size_t dups = cf_dups_resolve(&train, CF_DUPS_LATEST);   /* in place, in order */
	if (dups && !o.quiet)
		cf_warn("%zu duplicate (user, item) ratings dropped (kept the latest)", dups);
	int have_valid = 0;
	if (o.valid) {
		read_ratings(o.valid, &valid);
		have_valid = 1;
	}
	if (o.log) {
		logf = cf_outfile_open(o.log);
		p.log = logf->fp;
	}
	if (o.dist_init) {
		int shards = clamp_int("--shards", o.shards ? o.shards : 2, 1, 4096);
		cf_dist_init(&train, &p, shards, o.dist_init);
		cf_ratings_free(&train);
		cf_close_stdout();
		return CF_EXIT_OK;
	}
	/* Training takes over the rating arrays: they are not held twice. */
	if (o.dist_model)
		m = cf_dist_model(&train, &p, o.dist_model);
	else
		m = cf_mf_train_take(&train, have_valid ? &valid : NULL, &p, init, err, sizeof err);
	if (!m)
		cf_die("%s", err);

	if (!o.quiet) {
		const char *tr = cf_schema_get(m->attrs, "train_rmse");
		const char *vr = cf_schema_get(m->attrs, "valid_rmse");
		const char *vn = cf_schema_get(m->attrs, "valid_ndcg10");
		const char *vc = cf_schema_get(m->attrs, "valid_recall10");
		const char *er = cf_schema_get(m->attrs, "epochs_run");
		const char *be = cf_schema_get(m->attrs, "best_epoch");
		char extra[256] = "";
		if (tr)
			snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			         ", train RMSE %.4f", atof(tr));
		if (vr)
			snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			         ", valid RMSE %.4f", atof(vr));
		if (vn)
			snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			         ", valid NDCG@10 %.4f, recall@10 %.4f", atof(vn), vc ? atof(vc) : 0);
		cf_warn("done: %s k=%d, %zu ratings, %u users, %u items, %s epochs, best epoch %s%s",
		        m->algo, m->k, train.n, m->nusers, m->nitems, er ? er : "?", be ? be : "?",
		        extra);
	}

	FILE *fp = stdout;
	if (o.output) {
		out = cf_outfile_open(o.output);
		fp = out->fp;
	}
	cf_writer *w = cf_writer_new(fp, o.output ? o.output : "stdout");
	cf_model_write(w, m);
	cf_writer_finish(w);
	if (out)
		cf_outfile_commit(out);
	if (logf)
		cf_outfile_commit(logf);
	cf_model_free(m);
	cf_model_free(init);
	cf_meta_free(meta);
	cf_ufeat_free(uf);
	cf_ratings_free(&train);
	if (have_valid)
		cf_ratings_free(&valid);
	cf_close_stdout();
	return CF_EXIT_OK;
}
