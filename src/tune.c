/*
 * tune - hyper-parameter search for mf-fit on a training frame, with
 * honest validation: a validation split (or k folds) cut from the
 * training frame, never the test set.  Configurations are drawn from the
 * algorithm's search space (search.h) and pruned by successive halving;
 * every trial is its own mf-fit + mf-score + metrics process, run by GNU
 * parallel (-j locally, --sshlogin/--slf for other hosts), with a joblog
 * per rung so an interrupted search resumes (--resume) without rerunning
 * finished trials.
 *
 * Files in the output directory: fit-F.bin and valid-F.bin (the cuts),
 * trial.sh (one trial), jobs-R.tsv and joblog-R.txt (rung R), res/ (one
 * result file a trial and rung), leaderboard.csv, best.flags, and
 * progress.png (gnuplot, if installed).
 */
#include "algo.h"
#include "progress.h"
#include "rng.h"
#include "search.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct opts {
	cf_algo algo;
	int trials, eta, min_epochs, max_epochs, folds, jobs, resume, quiet, topk;
	double valid_ratio;
	unsigned long long seed;
	const char *dir, *metric, *sshlogin, *slf, *input;
	cf_space space;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: tune [-a ALGO] [-n TRIALS] [--space SPEC] [--metric M] [--valid-ratio R |\n"
	    "            --folds K] [--eta E] [--min-epochs N] [--max-epochs N] [-s SEED]\n"
	    "            [-j N] [--sshlogin HOSTS | --slf FILE] [--resume] [-o DIR] [-q] [FILE]\n"
	    "Searches mf-fit's hyper-parameters for ALGO on the training ratings of stdin\n"
	    "(or FILE) and writes the best flags to DIR/best.flags.  The test set is never\n"
	    "read: each configuration is scored on a validation split cut from the\n"
	    "training frame (--valid-ratio, default 0.2, split's --ratio with the seed),\n"
	    "or by k-fold cross-validation of it (--folds K).\n"
	    "\n"
	    "  -a, --algo A         als (default), sgd, ials, baseline\n"
	    "  -n, --trials N       configurations drawn (default 50)\n"
	    "      --space SPEC     change the search space: name=lo:hi:scale (scale lin,\n"
	    "                       log, int, logint, log2), name=value to fix one,\n"
	    "                       name=off to drop one; comma-separated\n"
	    "      --metric M       rmse (default for als, sgd, baseline), mae, ndcg\n"
	    "                       (default for ials) or recall, at --k (default 10)\n"
	    "      --k K            the ranking metrics' list length (default 10)\n"
	    "      --eta E          successive halving's factor (default 3; for sgd 1: none,\n"
	    "                       every trial at the full epochs, plain random search)\n"
	    "      --min-epochs N   the first rung's epochs at least (default 2)\n"
	    "      --max-epochs N   the last rung's (default: the algorithm's epochs)\n"
	    "  -s, --seed N         seed of the cut and of the sampler (default 42)\n"
	    "  -j, --jobs N         trials at once (default: the cores; mf-fit then gets\n"
	    "                       cores / N threads)\n"
	    "      --sshlogin HOSTS, --slf FILE\n"
	    "                       GNU parallel's: run trials on these hosts (':' is this\n"
	    "                       one; PARALLEL_SSH sets the ssh command); mf-fit,\n"
	    "                       mf-score, metrics, trial.sh and the cuts are sent once\n"
	    "                       (--basefile) into ~/.cinefilter-tune, results come back\n"
	    "                       (--return); the hosts must run this machine's binaries\n"
	    "      --resume         go on with the search in DIR: finished trials (its\n"
	    "                       joblogs) are not run again\n"
	    "  -o, --output DIR     the search's directory (default tune-ALGO)\n"
	    "  -q, --quiet          no progress on stderr\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Trial 0 is the algorithm's defaults.  The sampler is random search pruned\n"
	    "by successive halving (Jamieson and\n"
	    "Talwalkar 2016; Hyperband's inner loop): TRIALS configurations run at\n"
	    "the first rung's epochs, the best 1/E of them go on at E times as many,\n"
	    "up to the algorithm's full epochs.  Random search because the few\n"
	    "parameters that matter differ by algorithm and data (Bergstra and Bengio\n"
	    "2012); halving because most configurations are visibly bad after a few\n"
	    "epochs (not for sgd: its learning-rate schedule makes early epochs\n"
	    "misleading, so it searches at full epochs).  Rungs run one after\n"
	    "another, so a seed gives the same search\n"
	    "and leaderboard at any -j (ASHA's asynchronous promotion would not).\n"
	    "A trial that fails is recorded as failed, never scored; GNU parallel\n"
	    "stops the search when half of a rung's trials fail (--halt).\n"
	    "\n"
	    "Default spaces (each algorithm's defaults inside them):\n"
	    "  sgd       k=4:256:log2 lr=0.003:0.1:log lr_decay=0:0.1:lin\n"
	    "            reg=0.003:0.5:log reg_bias=0.1:30:log\n"
	    "  als       k=4:256:log2 reg=0.01:10:log reg_bias=0.1:30:log\n"
	    "  ials      k=4:256:log2 reg=0.5:300:log alpha=0.05:20:log\n"
	    "  baseline  reg_bias=0.1:100:log\n"
	    "  ease      reg=20:3000:log\n"
	    "  rp3b      alpha=0.1:2:log beta=0:1:lin\n"
	    "\n"
	    "Output: an aligned table of the best configurations on stdout; in DIR\n"
	    "leaderboard.csv (every trial and rung: trial, rung, epochs, the\n"
	    "parameters, the objective or 'failed'), best.flags (mf-fit's flags, one\n"
	    "line), progress.png (objective per trial and the best so far).  Progress\n"
	    "on stderr: trials done of the rung's, the best so far, elapsed and ETA.\n"
	    "Exit status 0, 1 on failure (no trial succeeded, a program failed), 2 on\n"
	    "a usage error.\n");
}

/* ------------------------------------------------------------ options */

static long long
whole(const char *flag, const char *v, long long lo, long long hi)
{
	long long x;

	if (cf_parse_i64(v, &x) < 0 || x < lo || x > hi)
		cf_usage_error(usage, "%s '%s': expected a whole number from %lld to %lld", flag, v,
		               lo, hi);
	return x;
}

static void
parse(int argc, char **argv, struct opts *o)
{
	enum { O_SPACE = 256, O_METRIC, O_VR, O_FOLDS, O_ETA, O_MINE, O_MAXE, O_SSH, O_SLF,
	       O_RESUME, O_K };
	static const struct option lo[] = {
		{"algo", 1, 0, 'a'}, {"trials", 1, 0, 'n'}, {"space", 1, 0, O_SPACE},
		{"metric", 1, 0, O_METRIC}, {"valid-ratio", 1, 0, O_VR}, {"folds", 1, 0, O_FOLDS},
		{"eta", 1, 0, O_ETA}, {"min-epochs", 1, 0, O_MINE}, {"max-epochs", 1, 0, O_MAXE},
		{"seed", 1, 0, 's'}, {"jobs", 1, 0, 'j'}, {"sshlogin", 1, 0, O_SSH},
		{"slf", 1, 0, O_SLF}, {"resume", 0, 0, O_RESUME}, {"output", 1, 0, 'o'},
		{"k", 1, 0, O_K}, {"quiet", 0, 0, 'q'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	const char *spec = NULL;
	char err[256];
	int c;

	o->algo = CF_ALS;
	o->trials = 50;
	o->eta = 0;
	o->valid_ratio = 0.2;
	o->seed = 42;
	o->topk = 10;
	o->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((c = getopt_long(argc, argv, "a:n:s:j:o:qhV", lo, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->algo = cf_algo_arg(optarg, usage);
			break;
		case 'n': o->trials = (int)whole("--trials", optarg, 1, 100000); break;
		case O_SPACE: spec = optarg; break;
		case O_METRIC: o->metric = optarg; break;
		case O_VR:
			if (cf_parse_double(optarg, &o->valid_ratio) < 0 || !(o->valid_ratio > 0) ||
			    !(o->valid_ratio < 1))
				cf_usage_error(usage, "--valid-ratio '%s': expected 0 < R < 1", optarg);
			break;
		case O_FOLDS: o->folds = (int)whole("--folds", optarg, 2, 100); break;
		case O_ETA: o->eta = (int)whole("--eta", optarg, 1, 100); break;
		case O_MINE: o->min_epochs = (int)whole("--min-epochs", optarg, 1, 1000000); break;
		case O_MAXE: o->max_epochs = (int)whole("--max-epochs", optarg, 1, 1000000); break;
		case O_K: o->topk = (int)whole("--k", optarg, 1, 10000); break;
		case 's': o->seed = (unsigned long long)whole("--seed", optarg, 0, INT64_MAX); break;
		case 'j': o->jobs = (int)whole("--jobs", optarg, 1, 4096); break;
		case O_SSH: o->sshlogin = optarg; break;
		case O_SLF: o->slf = optarg; break;
		case O_RESUME: o->resume = 1; break;
		case 'o': o->dir = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	o->input = cf_one_operand(argc, argv, usage);
	if (o->algo == CF_POPULAR)
		cf_usage_error(usage, "popular has no hyper-parameters to tune");
	/* fm draws its penalties; its k and samples are compared by make cv
	 * (with the genres tune's trials cannot pass), README's fm figures. */
	if (o->algo == CF_FM)
		cf_usage_error(usage, "fm learns its regularization by sampling: compare -k and "
		               "--samples with make cv ALGO=fm");
	cf_space_default(o->algo, &o->space);
	if (spec && cf_space_parse(&o->space, spec, err, sizeof err) < 0)
		cf_usage_error(usage, "--space: %s", err);
	const cf_algo_info *d = cf_algo_get(o->algo);
	if (!o->metric)
		o->metric = d->ranking ? "ndcg" : "rmse";
	int rating = strcmp(o->metric, "rmse") == 0 || strcmp(o->metric, "mae") == 0;
	if (!rating && strcmp(o->metric, "ndcg") != 0 && strcmp(o->metric, "recall") != 0)
		cf_usage_error(usage, "--metric '%s': rmse, mae, ndcg or recall", o->metric);
	if (rating && d->ranking)
		cf_usage_error(usage, "--metric %s: %s models rank, their scores are not ratings",
		               o->metric, d->name);
	if (!o->max_epochs)
		o->max_epochs = d->epochs;
	/* sgd's early epochs say little of where its learning-rate schedule
	 * ends (halving kept fast, overfitting configurations on MovieLens):
	 * plain random search; the ALS family converges steadily: halving. */
	if (!o->eta)
		o->eta = o->algo == CF_SGD ? 1 : 3;
	if (!o->min_epochs)
		o->min_epochs = 2;
	if (o->min_epochs > o->max_epochs)
		o->min_epochs = o->max_epochs;
	if (o->sshlogin && o->slf)
		cf_usage_error(usage, "give --sshlogin or --slf, not both");
}

/* ------------------------------------------------------------ the directory */

static char bindir[4096];

/* The directory of this program: its companions (split, mf-fit, ...) are there. */
static void
find_bindir(void)
{
	ssize_t n = readlink("/proc/self/exe", bindir, sizeof bindir - 1);

	if (n <= 0)
		cf_die("cannot find my own path (/proc/self/exe):");
	bindir[n] = 0;
	char *slash = strrchr(bindir, '/');
	if (slash)
		*slash = 0;
}

/* Runs a shell command line; dies with its status if it fails. */
static void
run(const char *what, const char *cmd)
{
	int st = system(cmd);

	if (st == -1)
		cf_die("%s: cannot run the shell:", what);
	if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGINT || WTERMSIG(st) == SIGTERM))
		exit(CF_EXIT_FAIL);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		cf_die("%s failed (exit status %d)", what, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Single-quoted for sh. */
static void
shq(char *out, size_t len, const char *s)
{
	size_t at = 0;

	out[at++] = '\'';
	for (; *s && at + 5 < len; s++) {
		if (*s == '\'') {
			memcpy(out + at, "'\\''", 4);
			at += 4;
		} else {
			out[at++] = *s;
		}
	}
	out[at++] = '\'';
	out[at] = 0;
}

/* The cuts: fit-F.bin / valid-F.bin for each fold (one for a validation split). */
static void
make_cuts(const struct opts *o)
{
	char cmd[16384], in[4200], b[4200];
	int n = o->folds ? o->folds : 1;

	shq(b, sizeof b, bindir);
	if (o->input) {
		shq(in, sizeof in, o->input);
		snprintf(cmd, sizeof cmd, "cat %s > input.bin", in);
	} else {
		snprintf(cmd, sizeof cmd, "cat > input.bin");
	}
	run("reading the training frame", cmd);
	if (mkdir("cuts", 0777) != 0 && errno != EEXIST)
		cf_die("cuts:");
	for (int f = 0; f < n; f++) {
		if (o->folds)
			snprintf(cmd, sizeof cmd, "%s/split --folds %d --fold %d --seed %llu "
			         "--test cuts/valid-%d.bin < input.bin > cuts/fit-%d.bin", b, o->folds, f,
			         o->seed, f, f);
		else
			snprintf(cmd, sizeof cmd, "%s/split --ratio %.17g --seed %llu --test "
			         "cuts/valid-%d.bin < input.bin > cuts/fit-%d.bin", b, o->valid_ratio, o->seed,
			         f, f);
		run("split", cmd);
	}
	unlink("input.bin");
}

/*
 * trial.sh ID RUNG 'FLAGS': every fold's fit and score, the mean into
 * res/ID-RUNG.txt; a failure exits non-zero and writes nothing.
 */
static void
write_trial_script(const struct opts *o, int threads, int remote)
{
	FILE *fp = fopen("trial.sh.tmp", "w");
	int rating = strcmp(o->metric, "rmse") == 0 || strcmp(o->metric, "mae") == 0;
	char b[4200];

	if (!fp)
		cf_die("trial.sh:");
	shq(b, sizeof b, remote ? "./bin" : bindir);
	fprintf(fp, "#!/bin/sh\n# Written by tune: one trial.  trial.sh ID RUNG 'FLAGS'\n"
	        "set -eu\nid=$1 rung=$2 flags=$3\nb=%s\nvals=\nmkdir -p res\n", b);
	fprintf(fp, "for f in $(seq 0 %d); do\n"
	        "\tm=m-$id-$rung-$f.bin\n"
	        "\t# shellcheck disable=SC2086\n"
	        "\t\"$b/mf-fit\" -q --algo %s --threads %d $flags -o \"$m\" < cuts/fit-$f.bin\n",
	        (o->folds ? o->folds : 1) - 1, cf_algo_name(o->algo), threads);
	if (rating)
		fprintf(fp, "\tv=$(\"$b/mf-score\" --pairs cuts/valid-$f.bin < \"$m\" 2>/dev/null | "
		        "\"$b/metrics\" --metric %s)\n", o->metric);
	else
		fprintf(fp, "\tv=$(\"$b/mf-score\" --all --top %d --threads 1 < \"$m\" | "
		        "\"$b/metrics\" --truth cuts/valid-$f.bin --train cuts/fit-$f.bin --k %d --metric %s)\n",
		        o->topk, o->topk, o->metric);
	fprintf(fp, "\trm -f \"$m\"\n\tvals=\"$vals $v\"\ndone\n"
	        "echo $vals | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; "
	        "printf \"%%.9g\\n\", s / NF }' > res/$id-$rung.txt.tmp\n"
	        "mv res/$id-$rung.txt.tmp res/$id-$rung.txt\n");
	if (fclose(fp) != 0 || rename("trial.sh.tmp", "trial.sh") != 0)
		cf_die("trial.sh: write error:");
}

/* For other hosts: the programs a trial runs, in bin/ here, sent with the cuts. */
static void
copy_programs(void)
{
	static const char *const progs[] = {"mf-fit", "mf-score", "metrics"};
	char cmd[9000], b[4200];

	shq(b, sizeof b, bindir);
	for (size_t j = 0; j < sizeof progs / sizeof *progs; j++) {
		snprintf(cmd, sizeof cmd, "mkdir -p bin && cp %s/%s bin/%s.tmp && mv bin/%s.tmp "
		         "bin/%s", b, progs[j], progs[j], progs[j], progs[j]);
		run("copying the programs for other hosts", cmd);
	}
}

/* The remote work directories go: parallel's --cleanup keeps basefile dirs. */
static void
remote_cleanup(const struct opts *o)
{
	char cmd[9000], h[4200];

	shq(h, sizeof h, o->sshlogin ? o->sshlogin : o->slf);
	snprintf(cmd, sizeof cmd, "parallel --will-cite --nonall %s %s rm -rf .cinefilter-tune",
	         o->sshlogin ? "--sshlogin" : "--slf", h);
	if (system(cmd) != 0 && !o->quiet)
		cf_warn("could not remove ~/.cinefilter-tune on every host");
}

/* ------------------------------------------------------------ rungs */

struct search {
	const struct opts *o;
	cf_halving plan;
	double *x;              /* trials x space.n */
	double *obj;            /* trials x rungs: NAN failed or not run */
	unsigned char *ran;     /* trials x rungs */
	double t0, rung_t0;
	int remote;
};

static double
result(int id, int rung)
{
	char path[64], line[128];
	double v;
	FILE *fp;

	snprintf(path, sizeof path, "res/%d-%d.txt", id, rung);
	if (!(fp = fopen(path, "r")))
		return NAN;
	int ok = fgets(line, sizeof line, fp) != NULL;
	fclose(fp);
	line[strcspn(line, "\n")] = 0;
	return ok && cf_parse_double(line, &v) == 0 && isfinite(v) ? v : NAN;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
minimize(const struct opts *o)
{
	return strcmp(o->metric, "rmse") == 0 || strcmp(o->metric, "mae") == 0;
}

/* Jobs finished at a rung (failed ones too): the lines of its joblog. */
static int
jobs_done(int rung)
{
	char path[64];
	int n = 0, ch;
	FILE *fp;

	snprintf(path, sizeof path, "joblog-%d.txt", rung);
	if (!(fp = fopen(path, "r")))
		return 0;
	while ((ch = getc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n > 0 ? n - 1 : 0;       /* the header */
}

/* One progress line: done of n at this rung, the best so far, times. */
static void
progress(struct search *S, int rung, const uint32_t *ids, int n, int final)
{
	int done = jobs_done(rung), best = -1;
	double bv = NAN;
	char line[256];
	size_t len;

	if (S->o->quiet)
		return;
	for (int j = 0; j < n; j++) {
		double v = result((int)ids[j], rung);
		if (!isnan(v) && (isnan(bv) || (minimize(S->o) ? v < bv : v > bv)))
			bv = v, best = (int)ids[j];
	}
	done = done > n ? n : done;
	double el = now_s() - S->t0, rel = now_s() - S->rung_t0;
	len = (size_t)snprintf(line, sizeof line, "tune: rung %d/%d (%d epochs): %d/%d trials done",
	                       rung + 1, S->plan.rungs, S->plan.epochs[rung], done, n);
	if (best >= 0 && len < sizeof line)
		len += (size_t)snprintf(line + len, sizeof line - len, ", best %s %.4f (trial %d)",
		                        S->o->metric, bv, best);
	if (len < sizeof line)
		len += (size_t)snprintf(line + len, sizeof line - len, ", %.0f s elapsed", el);
	if (done > 0 && done < n && len < sizeof line)
		snprintf(line + len, sizeof line - len, ", ETA %.0f s", rel / done * (n - done));
	/* On a terminal the line is rewritten in place, and stays when the rung ends. */
	if (cf_progress_tty() && !final) {
		cf_progress(1, "%s", line);
		return;
	}
	cf_progress_clear();
	fprintf(stderr, "%s\n", line);
}

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

/* Runs a rung's jobs with GNU parallel, showing progress while it runs. */
static void
run_rung(struct search *S, int rung, const uint32_t *ids, int n)
{
	const struct opts *o = S->o;
	char path[64], flags[1024];
	FILE *fp;

	snprintf(path, sizeof path, "jobs-%d.tsv", rung);
	if (!(fp = fopen(path, "w")))
		cf_die("%s:", path);
	for (int j = 0; j < n; j++) {
		cf_space_flags(&o->space, S->x + (size_t)ids[j] * o->space.n, flags, sizeof flags);
		fprintf(fp, "%u\t%d\t%s%s--epochs %d\n", ids[j], rung, flags, flags[0] ? " " : "",
		        S->plan.epochs[rung]);
	}
	if (fclose(fp) != 0)
		cf_die("%s: write error:", path);
	if (!o->resume) {
		snprintf(path, sizeof path, "joblog-%d.txt", rung);
		unlink(path);
	}

	char jobs[32], joblog[64];
	const char *argv[40];
	int a = 0;
	snprintf(jobs, sizeof jobs, "%d", o->jobs);
	snprintf(joblog, sizeof joblog, "joblog-%d.txt", rung);
	argv[a++] = "parallel";
	argv[a++] = "--will-cite";
	argv[a++] = "--colsep";
	argv[a++] = "\t";
	argv[a++] = "-j";
	argv[a++] = jobs;
	argv[a++] = "--joblog";
	argv[a++] = joblog;
	/* Finished trials are skipped; failed and interrupted ones run again. */
	argv[a++] = "--resume-failed";
	/* Stop a rung once more than half its trials failed: a count, not a
	 * share of the jobs done so far, so whether it stops does not depend
	 * on the order jobs finish in. */
	char halt[64];
	snprintf(halt, sizeof halt, "soon,fail=%d", n / 2 + 1);
	argv[a++] = "--halt";
	argv[a++] = halt;
	if (o->sshlogin || o->slf) {
		argv[a++] = o->sshlogin ? "--sshlogin" : "--slf";
		argv[a++] = o->sshlogin ? o->sshlogin : o->slf;
		argv[a++] = "--workdir";
		argv[a++] = ".cinefilter-tune";
		argv[a++] = "--basefile";
		argv[a++] = "trial.sh";
		argv[a++] = "--basefile";
		argv[a++] = "bin";
		argv[a++] = "--basefile";
		argv[a++] = "cuts";
		argv[a++] = "--return";
		argv[a++] = "res/{1}-{2}.txt";
		argv[a++] = "--cleanup";
	}
	argv[a++] = "sh";
	argv[a++] = S->remote ? "trial.sh" : "./trial.sh";
	argv[a++] = "{1}";
	argv[a++] = "{2}";
	argv[a++] = "{3}";
	argv[a++] = "::::";
	char jobsfile[64];
	snprintf(jobsfile, sizeof jobsfile, "jobs-%d.tsv", rung);
	argv[a++] = jobsfile;
	argv[a] = NULL;

	S->rung_t0 = now_s();
	pid_t pid = fork();
	if (pid < 0)
		cf_die("cannot fork:");
	if (pid == 0) {
		execvp("parallel", (char *const *)argv);
		fprintf(stderr, "%s: cannot run GNU parallel: %s\n", cf_progname, strerror(errno));
		_exit(127);
	}
	int st, last = -1, killed = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (stop_signal && !killed) {
			kill(pid, SIGTERM);     /* parallel stops its jobs and logs them */
			killed = 1;
		}
		if (w < 0 && errno != EINTR)
			cf_die("waiting for GNU parallel:");
		int d = jobs_done(rung);
		if (d != last)
			progress(S, rung, ids, n, 0);
		last = d;
		usleep(200000);
	}
	progress(S, rung, ids, n, 1);
	if (stop_signal)
		cf_die("interrupted (signal %d): --resume -o %s goes on where this stopped",
		       (int)stop_signal, o->dir);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		exit(CF_EXIT_FAIL);
	if (WIFSIGNALED(st))
		cf_die("GNU parallel was killed by signal %d", WTERMSIG(st));
	/* parallel's status counts failed jobs: those are recorded, not fatal,
	 * unless --halt stopped the rung (more than half failed). */
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && jobs_done(rung) < n)
		cf_die("rung %d stopped: more than half of its trials failed (see %s and "
		       "run DIR/trial.sh by hand)", rung + 1, joblog);
	for (int j = 0; j < n; j++) {
		S->ran[(size_t)ids[j] * CF_RUNGS_MAX + rung] = 1;
		S->obj[(size_t)ids[j] * CF_RUNGS_MAX + rung] = result((int)ids[j], rung);
	}
}

/* ------------------------------------------------------------ results */

struct row {
	int id, rung;
	double v;
};

static const struct opts *sort_opts;

static int
by_row(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->rung != y->rung)
		return y->rung - x->rung;
	if (isnan(x->v) != isnan(y->v))
		return isnan(x->v) ? 1 : -1;
	if (!isnan(x->v) && x->v != y->v)
		return (minimize(sort_opts) ? x->v < y->v : x->v > y->v) ? -1 : 1;
	return x->id - y->id;
}

/* leaderboard.csv, the table on stdout, best.flags; returns the best trial. */
static int
report(struct search *S)
{
	const struct opts *o = S->o;
	const cf_space *sp = &o->space;
	struct row *r = cf_xmalloc((size_t)o->trials * CF_RUNGS_MAX * sizeof *r);
	size_t n = 0;
	char flags[1024];

	for (int t = 0; t < o->trials; t++)
		for (int g = 0; g < S->plan.rungs; g++)
			if (S->ran[(size_t)t * CF_RUNGS_MAX + g]) {
				r[n].id = t;
				r[n].rung = g;
				r[n++].v = S->obj[(size_t)t * CF_RUNGS_MAX + g];
			}
	sort_opts = o;
	qsort(r, n, sizeof *r, by_row);
	cf_outfile *lb = cf_outfile_open("leaderboard.csv");
	fprintf(lb->fp, "trial,rung,epochs");
	for (int i = 0; i < sp->n; i++)
		fprintf(lb->fp, ",%s", sp->p[i].name);
	fprintf(lb->fp, ",%s\n", o->metric);
	for (size_t j = 0; j < n; j++) {
		fprintf(lb->fp, "%d,%d,%d", r[j].id, r[j].rung + 1, S->plan.epochs[r[j].rung]);
		for (int i = 0; i < sp->n; i++)
			fprintf(lb->fp, ",%.6g", S->x[(size_t)r[j].id * sp->n + i]);
		if (isnan(r[j].v))
			fprintf(lb->fp, ",failed\n");
		else
			fprintf(lb->fp, ",%.6f\n", r[j].v);
	}
	cf_outfile_commit(lb);

	int best = n && !isnan(r[0].v) ? r[0].id : -1;
	printf("%-6s %-5s %-6s", "trial", "rung", "epochs");
	for (int i = 0; i < sp->n; i++)
		printf(" %10s", sp->p[i].name);
	printf(" %10s\n", o->metric);
	for (size_t j = 0; j < n && j < 10; j++) {
		printf("%-6d %-5d %-6d", r[j].id, r[j].rung + 1, S->plan.epochs[r[j].rung]);
		for (int i = 0; i < sp->n; i++)
			printf(" %10.4g", S->x[(size_t)r[j].id * sp->n + i]);
		if (isnan(r[j].v))
			printf(" %10s\n", "failed");
		else
			printf(" %10.4f\n", r[j].v);
	}
	if (best >= 0) {
		cf_space_flags(sp, S->x + (size_t)best * sp->n, flags, sizeof flags);
		cf_outfile *bf = cf_outfile_open("best.flags");
		fprintf(bf->fp, "--algo %s %s%s--epochs %d\n", cf_algo_name(o->algo), flags,
		        flags[0] ? " " : "", S->plan.epochs[r[0].rung]);
		cf_outfile_commit(bf);
	}
	free(r);
	return best;
}

/* progress.png: every trial's objective in the order run, and the best so far. */
static void
plot(const struct search *S)
{
	const struct opts *o = S->o;
	FILE *fp = fopen("progress.dat", "w");
	double best = NAN;
	int j = 0;

	if (!fp)
		return;
	fprintf(fp, "# job rung objective best-so-far\n");
	for (int g = 0; g < S->plan.rungs; g++)
		for (int t = 0; t < o->trials; t++) {
			if (!S->ran[(size_t)t * CF_RUNGS_MAX + g])
				continue;
			double v = S->obj[(size_t)t * CF_RUNGS_MAX + g];
			if (!isnan(v) && (isnan(best) || (minimize(o) ? v < best : v > best)))
				best = v;
			fprintf(fp, "%d %d %.6f %.6f\n", ++j, g + 1, v, best);
		}
	fclose(fp);
	if (system("command -v gnuplot > /dev/null 2>&1") != 0)
		return;
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "gnuplot -e \"set terminal png size 900,500; set output "
	         "'progress.png.tmp'; set xlabel 'trial, rung by rung'; set ylabel '%s'; "
	         "set datafile missing 'nan'; set key top right; plot 'progress.dat' using 1:3:2 "
	         "with points pt 7 lc variable title 'trial (colour: rung)', '' using 1:4 with "
	         "steps lw 2 lc rgb 'black' title 'best so far'\" "
	         "2>/dev/null && mv progress.png.tmp progress.png", o->metric);
	if (system(cmd) != 0 && !o->quiet)
		cf_warn("gnuplot failed: no progress.png");
}

/* ------------------------------------------------------------ main */

int
main(int argc, char **argv)
{
	struct opts o;
	struct search S;
	char dirbuf[64];

	cf_setprog(argv[0]);
	memset(&o, 0, sizeof o);
	parse(argc, argv, &o);
	if (o.quiet)
		cf_progress_quiet();
	find_bindir();
	if (o.input && o.input[0] != '/') {
		static char abs[8192];
		char cwd[4096];
		if (!getcwd(cwd, sizeof cwd))
			cf_die("cannot get the current directory:");
		snprintf(abs, sizeof abs, "%s/%s", cwd, o.input);
		o.input = abs;
	}
	if (!o.dir) {
		snprintf(dirbuf, sizeof dirbuf, "tune-%s", cf_algo_name(o.algo));
		o.dir = dirbuf;
	}
	if (mkdir(o.dir, 0777) != 0 && errno != EEXIST)
		cf_die("%s:", o.dir);
	if (chdir(o.dir) != 0)
		cf_die("%s:", o.dir);
	if (!o.resume && exists("res"))
		cf_die("%s holds a search already: --resume to go on with it, or another -o",
		       o.dir);
	if (!(o.resume && exists("cuts/fit-0.bin")))
		make_cuts(&o);
	memset(&S, 0, sizeof S);
	S.o = &o;
	S.remote = o.sshlogin || o.slf;
	int threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / o.jobs;
	write_trial_script(&o, threads < 1 ? 1 : threads, S.remote);
	if (S.remote)
		copy_programs();
	if (mkdir("res", 0777) != 0 && errno != EEXIST)
		cf_die("%s/res:", o.dir);
	cf_halving_plan(o.trials, o.eta, o.min_epochs, o.max_epochs, &S.plan);
	/* Every configuration is drawn up front, in trial order: trial t is the
	 * same for a seed whatever ran before. */
	cf_rng rng;
	cf_rng_seed(&rng, o.seed, 0x7475);
	S.x = cf_xmalloc(((size_t)o.trials * o.space.n + 1) * sizeof *S.x);
	for (int t = 0; t < o.trials; t++)
		cf_space_sample(&o.space, &rng, S.x + (size_t)t * o.space.n);
	/* Trial 0 is the algorithm's defaults (where the space holds them), so
	 * the search never ends worse than them on its own objective. */
	cf_space_defaults(&o.space, o.algo, S.x);
	S.obj = cf_xmalloc((size_t)o.trials * CF_RUNGS_MAX * sizeof *S.obj);
	S.ran = cf_xcalloc((size_t)o.trials * CF_RUNGS_MAX, 1);
	S.t0 = now_s();
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (!o.quiet)
		cf_warn("%s: %d configurations, %d rung%s (epochs %d..%d, eta %d), %s on %s, "
		        "%d at a time, in %s", cf_algo_name(o.algo), o.trials, S.plan.rungs,
		        S.plan.rungs > 1 ? "s" : "", S.plan.epochs[0],
		        S.plan.epochs[S.plan.rungs - 1], o.eta, o.metric,
		        o.folds ? "k folds of the training frame" : "a validation split of it",
		        o.jobs, o.dir);

	uint32_t *ids = cf_xmalloc(((size_t)o.trials + 1) * sizeof *ids);
	double *v = cf_xmalloc(((size_t)o.trials + 1) * sizeof *v);
	int n = o.trials;
	for (int t = 0; t < n; t++)
		ids[t] = (uint32_t)t;
	for (int g = 0; g < S.plan.rungs; g++) {
		if (g > 0) {
			for (int j = 0; j < n; j++)
				v[j] = S.obj[(size_t)ids[j] * CF_RUNGS_MAX + g - 1];
			n = (int)cf_halving_select(v, ids, (size_t)n, (size_t)S.plan.n[g],
			                           minimize(&o), ids);
			if (n == 0)
				break;
		}
		run_rung(&S, g, ids, n);
	}
	int best = report(&S);
	if (S.remote)
		remote_cleanup(&o);
	plot(&S);
	if (best < 0)
		cf_die("no trial succeeded (see %s/joblog-*.txt)", o.dir);
	if (!o.quiet)
		cf_warn("best: trial %d; its flags are in %s/best.flags", best, o.dir);
	free(ids);
	free(v);
	free(S.x);
	free(S.obj);
	free(S.ran);
	cf_close_stdout();
	return CF_EXIT_OK;
}
