/*
 * mf-step - one step of a distributed ALS/iALS run (src/lib/dist.h):
 * solves one shard of one side's rows at one epoch, or merges a side's
 * shards.  mf-fit --dist-init starts the run, mf-fit --dist-model makes
 * its model; make train-dist (pipelines/dist.mk) fans the shards out
 * with GNU parallel.
 */
#include "dist.h"
#include "util.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: mf-step solve [-t N] [-C DIR] SIDE EPOCH SHARD\n"
	    "       mf-step merge [-C DIR] SIDE EPOCH\n"
	    "One step of the distributed als/ials run in DIR (default .), which\n"
	    "mf-fit --dist-init started (make train-dist runs them all: docs/scaling.md).\n"
	    "SIDE is items or users; EPOCH counts from 1; SHARD from 0.\n"
	    "\n"
	    "  solve  solves SHARD's rows of SIDE at EPOCH with the one-machine fit's own\n"
	    "         row solve: reads state.bin, SIDE-SHARD.rows, the other side's\n"
	    "         fixed factors (items: users-(EPOCH-1).fac; users: items-EPOCH.fac)\n"
	    "         and the shard's last factors SIDE-(EPOCH-1).SHARD.fac; writes\n"
	    "         SIDE-EPOCH.SHARD.fac\n"
	    "  merge  the shards' SIDE-EPOCH.S.fac into SIDE-EPOCH.fac, refusing NaN or\n"
	    "         infinite factors (a diverging run)\n"
	    "\n"
	    "  -t, --threads N      threads (default 0: all cores; the result is the\n"
	    "                       same at any thread count)\n"
	    "  -C, --dir DIR        the run's directory (default .)\n"
	    "  -h, --help           this help;  -V, --version  the version\n"
	    "\n"
	    "Files are written atomically.  Exit status 0 on success, 1 on a bad or\n"
	    "missing file (one line naming it), 2 on a usage error.\n");
}

static int
int_arg(const char *what, const char *v, long long lo, long long hi)
{
	long long x;

	if (cf_parse_i64(v, &x) != 0 || x < lo || x > hi)
		cf_usage_error(usage, "%s: '%s' is not an integer from %lld to %lld", what, v, lo, hi);
	return (int)x;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"threads", 1, 0, 't'}, {"dir", 1, 0, 'C'}, CF_STD_LONGOPTS, {0, 0, 0, 0},
	};
	const char *dir = ".";
	int c, threads = 0;

	cf_setprog(argv[0]);
	while ((c = getopt_long(argc, argv, "+t:C:hV", lo, NULL)) != -1) {
		switch (c) {
		case 't': threads = int_arg("--threads", optarg, 0, 1024); break;
		case 'C': dir = optarg; break;
		case 'h': usage(stdout); cf_close_stdout(); exit(CF_EXIT_OK);
		case 'V': cf_version();
		default: cf_usage_hint();      /* getopt said what was wrong */
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		cf_usage_error(usage, "a step: solve or merge");
	int solve = strcmp(argv[0], "solve") == 0;
	if (!solve && strcmp(argv[0], "merge") != 0)
		cf_usage_error(usage, "'%s' is not a step: solve or merge", argv[0]);
	if (argc != (solve ? 4 : 3))
		cf_usage_error(usage, solve ? "solve takes SIDE EPOCH SHARD" : "merge takes SIDE EPOCH");
	if (strcmp(argv[1], "items") != 0 && strcmp(argv[1], "users") != 0)
		cf_usage_error(usage, "SIDE: '%s' is not items or users", argv[1]);
	int epoch = int_arg("EPOCH", argv[2], 1, 1000000);
	if (solve)
		cf_dist_solve(dir, argv[1], epoch, int_arg("SHARD", argv[3], 0, 4095), threads);
	else
		cf_dist_merge(dir, argv[1], epoch);
	cf_close_stdout();
	return CF_EXIT_OK;
}
