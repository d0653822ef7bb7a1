/*
 * gemm.c - the floor for `mf-score --all --top N`: times the bare
 * single-precision matrix products of scoring every user against every
 * item, P (users x k) times Q^T (k x items), done as mf-score does them
 * (blocks of users, one item tile at a time, one OpenBLAS thread per
 * worker, workers over user blocks) but with nothing done to the scores.
 * Random factors; nothing of size users x items is held.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L $(pkg-config --cflags openblas) \
 *      -pthread -o build/bench-gemm bench/gemm.c $(pkg-config --libs openblas)
 *   build/bench-gemm [-u USERS] [-i ITEMS] [-k K] [-b BLOCK] [-T TILE] [-t THREADS]
 *
 * Defaults: MovieLens-25M's shape (162541 x 59047), k = 64, blocks of 256
 * users, tiles of 2048 items, 1 thread.  Prints seconds and GFLOP/s.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long users = 162541, items = 59047, k = 64, block = 256, tilew = 2048;
static int threads = 1;
static float *P, *Q;
static long next_block;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile float sink;

static void *
worker(void *arg)
{
	float *C = malloc((size_t)block * tilew * sizeof *C);

	(void)arg;
	if (!C) {
		fprintf(stderr, "bench-gemm: out of memory\n");
		exit(1);
	}
	for (;;) {
		pthread_mutex_lock(&mu);
		long b = next_block++;
		pthread_mutex_unlock(&mu);
		long u0 = b * block;
		if (u0 >= users)
			break;
		long nu = users - u0 < block ? users - u0 : block;
		for (long j0 = 0; j0 < items; j0 += tilew) {
			long nj = items - j0 < tilew ? items - j0 : tilew;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nu, (int)nj,
			            (int)k, 1.0f, P + u0 * k, (int)k, Q + j0 * k, (int)k, 0.0f, C,
			            (int)nj);
			sink = C[0];
		}
	}
	free(C);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	pthread_t th[256];
	int c;

	while ((c = getopt(argc, argv, "u:i:k:b:T:t:")) != -1) {
		switch (c) {
		case 'u': users = atol(optarg); break;
		case 'i': items = atol(optarg); break;
		case 'k': k = atol(optarg); break;
		case 'b': block = atol(optarg); break;
		case 'T': tilew = atol(optarg); break;
		case 't': threads = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench-gemm [-u USERS] [-i ITEMS] [-k K] [-b BLOCK] "
			        "[-T TILE] [-t THREADS]\n");
			return 2;
		}
	}
	if (users < 1 || items < 1 || k < 1 || block < 1 || tilew < 1 || threads < 1 ||
	    threads > 256) {
		fprintf(stderr, "bench-gemm: bad sizes\n");
		return 2;
	}
	if (tilew > items)
		tilew = items;
	P = malloc((size_t)users * k * sizeof *P);
	Q = malloc((size_t)items * k * sizeof *Q);
	if (!P || !Q) {
		fprintf(stderr, "bench-gemm: out of memory\n");
		return 1;
	}
	srand(1);
	for (long x = 0; x < users * k; x++)
		P[x] = (float)rand() / RAND_MAX - 0.5f;
	for (long x = 0; x < items * k; x++)
		Q[x] = (float)rand() / RAND_MAX - 0.5f;
	openblas_set_num_threads(1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int t = 0; t < threads; t++)
		pthread_create(&th[t], NULL, worker, NULL);
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
	printf("sgemm %ld users x %ld items x k=%ld, blocks of %ld, tiles of %ld, "
	       "%d threads: %.3f s, %.1f GFLOP/s\n", users, items, k, block, tilew, threads,
	       s, 2.0 * users * items * k / s * 1e-9);
	free(P);
	free(Q);
	return 0;
}
